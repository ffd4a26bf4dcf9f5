/* The lrnn plugin's typed interfaces: "kpf.lrnn.net/1" gives the network
 * the study used to rebuild from θ and the basis seed (bit for bit), the
 * "kpf.lrnn.config/1" feature creates the model its YAML keys create (bit
 * for bit), and "kpf.activation/1" says linear. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/activation.h"
#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "lrnn_basis.h"
#include "lrnn_config.h"
#include "lrnn_net_iface.h"

static kpf_registry *reg;
static const kpf_plugin *lrnn;
static kpf_error err;

static void load(void)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "lrnn", &lrnn, &err), KPF_OK, "%s", err.msg);
}

static void unload(void) { kpf_registry_free(reg); }

TestSuite(lrnn_plugin, .init = load, .fini = unload);

static kpf_model *from_yaml(const char *yaml, size_t n_in, size_t n_out, uint64_t seed)
{
    kpf_config *cfg = NULL;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "test.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_create(lrnn, kpf_config_root(cfg), n_in, n_out, 8, seed, &m, &err),
                 KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
    return m;
}

static int from_config(const kpf_lrnn_config *c, size_t n_in, size_t n_out, uint64_t seed,
                       kpf_model **m)
{
    const kpf_model_feature f = {KPF_LRNN_CONFIG_FEATURE, c};
    const kpf_model_feature *const features[] = {&f, NULL};
    return kpf_model_create_typed(lrnn, NULL, features, n_in, n_out, 8, seed, m, &err);
}

/* What studies/lrnn/lrnn_net.c computed from θ before the interface
 * existed: blocks copied (full), or a, b, c expanded in the bases of
 * basis_seed (modes).  Arrays calloc'd: Wx n×ni, Wh n×n, Wy no×n. */
static void net_before(const kpf_model *m, uint64_t basis_seed, double *Wx, double *Wh,
                       double *Wy)
{
    const size_t n = m->n, ni = m->n_in, no = m->n_out;
    const kpf_param_block *bx = kpf_model_block(m, "W_x");
    if (bx) {
        memcpy(Wx, m->theta + bx->offset, n * ni * sizeof(double));
        memcpy(Wh, m->theta + kpf_model_block(m, "W_h")->offset, n * n * sizeof(double));
        memcpy(Wy, m->theta + kpf_model_block(m, "W_y")->offset, no * n * sizeof(double));
        return;
    }
    double *U = malloc(no * no * sizeof *U), *V = malloc(ni * ni * sizeof *V);
    cr_assert_eq(kpf_lrnn_orthogonal(basis_seed, KPF_LRNN_U, no, U, &err), KPF_OK);
    cr_assert_eq(kpf_lrnn_orthogonal(basis_seed, KPF_LRNN_V, ni, V, &err), KPF_OK);
    const double *a = m->theta + kpf_model_block(m, "a")->offset;
    const double *b = m->theta + kpf_model_block(m, "b")->offset;
    const double *c = m->theta + kpf_model_block(m, "c")->offset;
    for (size_t i = 0; i < n; i++) {
        Wh[i * n + i] = b[i];
        for (size_t j = 0; j < ni; j++)
            Wx[i * ni + j] = a[i] * V[j * ni + i];
        for (size_t o = 0; o < no; o++)
            Wy[o * n + i] = U[o * no + i] * c[i];
    }
    free(U);
    free(V);
}

static void expect_net(const char *yaml, size_t ni, size_t no, uint64_t basis_seed)
{
    kpf_model *m = from_yaml(yaml, ni, no, 3);
    for (size_t i = 0; i < m->m; i++) /* off the initial values */
        m->theta[i] += 0.01 * (double)(i % 7) - 0.02;
    const kpf_lrnn_net_iface *x = kpf_model_extension(m, KPF_LRNN_NET_INTERFACE);
    cr_assert_not_null(x, "%s", yaml);
    cr_assert_eq(x->n_in, ni);
    cr_assert_eq(x->n_out, no);
    cr_assert_eq(x->n, m->n);
    cr_expect_eq(x->basis_seed, basis_seed, "%s", yaml);
    cr_expect_eq(x->parameterisation,
                 kpf_model_block(m, "a") ? KPF_LRNN_MODES : KPF_LRNN_FULL, "%s", yaml);
    const size_t n = m->n;
    double *w = calloc(2 * (n * ni + n * n + no * n), sizeof *w);
    double *Wx = w, *Wh = Wx + n * ni, *Wy = Wh + n * n;
    double *Ox = Wy + no * n, *Oh = Ox + n * ni, *Oy = Oh + n * n;
    for (size_t i = 0; i < n * n; i++)
        Wh[i] = 99.0; /* the interface must write every entry */
    cr_assert_eq(x->weights(m->self, m->theta, Wx, Wh, Wy, &err), KPF_OK, "%s", err.msg);
    net_before(m, basis_seed, Ox, Oh, Oy);
    cr_expect_eq(memcmp(Wx, Ox, n * ni * sizeof *w), 0, "W_x: %s", yaml);
    cr_expect_eq(memcmp(Wh, Oh, n * n * sizeof *w), 0, "W_h: %s", yaml);
    cr_expect_eq(memcmp(Wy, Oy, no * n * sizeof *w), 0, "W_y: %s", yaml);
    cr_expect_eq(x->weights(m->self, NULL, Wx, Wh, Wy, &err), KPF_EINVAL);
    free(w);
    kpf_model_free(m);
}

Test(lrnn_plugin, net_interface_reproduces_the_net_used_before)
{
    expect_net("{n: 4, sigma: 0.7}", 3, 2, 0);
    expect_net("{alignment: aligned, n: 4, a0: 0.3, b0: 0.6, c0: -0.2, basis_seed: 9}", 3, 2, 9);
    expect_net("{alignment: aligned, basis: eigen, n: 4, b0_phase: 0.2, basis_seed: 5}", 4, 4,
               5);
    expect_net("{parameterisation: modes, mode_init: 0.3, basis_seed: 9}", 3, 2, 9);
    expect_net("{parameterisation: modes, n: 1, basis_seed: 4}", 2, 5, 4);
}

static void expect_typed_equals_yaml(const kpf_lrnn_config *c, size_t ni, size_t no)
{
    static const char *const param[] = {"full", "modes"}, *const al[] = {"unaligned", "aligned"},
                             *const basis[] = {"svd", "eigen"};
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "{parameterisation: %s, n: %zu, alignment: %s, basis: %s, sigma: %.17g, "
             "a0: %.17g, b0: %.17g, c0: %.17g, b0_phase: %.17g, mode_noise: %.17g, "
             "basis_seed: %llu}",
             param[c->parameterisation], c->n, al[c->alignment], basis[c->basis], c->sigma,
             c->a0, c->b0, c->c0, c->b0_phase, c->mode_noise,
             (unsigned long long)c->basis_seed);
    kpf_model *y = from_yaml(yaml, ni, no, 21), *t = NULL;
    cr_assert_eq(from_config(c, ni, no, 21, &t), KPF_OK, "%s", err.msg);
    cr_assert_eq(t->m, y->m, "%s", yaml);
    cr_expect_eq(memcmp(t->theta, y->theta, y->m * sizeof(double)), 0, "θ differs: %s", yaml);
    kpf_model_free(y);
    kpf_model_free(t);
}

Test(lrnn_plugin, typed_config_equals_yaml_bit_for_bit)
{
    kpf_lrnn_config c;
    kpf_lrnn_config_default(KPF_LRNN_FULL, 3, 2, &c);
    c.sigma = 0.1 + 0.2;
    expect_typed_equals_yaml(&c, 3, 2); /* unaligned */
    c.alignment = KPF_LRNN_ALIGNED;
    c.n = 4;
    c.a0 = 1.0 / 3.0, c.b0 = 0.6, c.c0 = -0.2, c.mode_noise = 0.01, c.basis_seed = 9;
    expect_typed_equals_yaml(&c, 3, 2); /* aligned, svd */
    c.basis = KPF_LRNN_EIGEN;
    c.b0_phase = 0.25;
    expect_typed_equals_yaml(&c, 4, 4); /* aligned, eigen */
    kpf_lrnn_config_default(KPF_LRNN_MODES, 3, 2, &c);
    c.a0 = c.b0 = c.c0 = 0.1;
    c.mode_noise = 0;
    expect_typed_equals_yaml(&c, 3, 2); /* modes */
    /* the default struct is the plugin's default, too */
    kpf_lrnn_config_default(KPF_LRNN_FULL, 3, 5, &c);
    kpf_model *y = from_yaml("{}", 3, 5, 2), *t = NULL;
    cr_assert_eq(from_config(&c, 3, 5, 2, &t), KPF_OK, "%s", err.msg);
    cr_assert_eq(t->m, y->m);
    cr_expect_eq(memcmp(t->theta, y->theta, y->m * sizeof(double)), 0);
    kpf_model_free(y);
    kpf_model_free(t);
}

Test(lrnn_plugin, bad_typed_config_is_refused_by_field)
{
    kpf_lrnn_config c;
    kpf_model *m = NULL;
    kpf_lrnn_config_default(KPF_LRNN_MODES, 3, 2, &c);
    c.alignment = KPF_LRNN_UNALIGNED;
    cr_expect_eq(from_config(&c, 3, 2, 1, &m), KPF_EINVAL);
    cr_expect(strstr(err.msg, KPF_LRNN_CONFIG_FEATURE) && strstr(err.msg, "alignment"), "%s",
              err.msg);
    kpf_lrnn_config_default(KPF_LRNN_MODES, 3, 2, &c);
    c.n = 3; /* more modes than min(n_in, n_out) */
    cr_expect_eq(from_config(&c, 3, 2, 1, &m), KPF_EINVAL);
    cr_expect(strstr(err.msg, "n:"), "%s", err.msg);
    kpf_lrnn_config_default(KPF_LRNN_FULL, 3, 3, &c);
    c.alignment = KPF_LRNN_ALIGNED;
    c.basis = KPF_LRNN_EIGEN; /* n = 3 is odd */
    cr_expect_eq(from_config(&c, 3, 3, 1, &m), KPF_EINVAL);
    cr_expect(strstr(err.msg, "basis"), "%s", err.msg);
    cr_expect_null(m);
    /* the same mistakes in YAML stay located */
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string("{parameterisation: modes,\n alignment: unaligned}",
                                        "test.yaml", &cfg, &err),
                 KPF_OK);
    cr_expect_eq(kpf_model_create(lrnn, kpf_config_root(cfg), 3, 2, 1, 1, &m, &err),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "test.yaml:2:"), "%s", err.msg);
    kpf_config_free(cfg);
}

Test(lrnn_plugin, activation_extension_is_linear)
{
    kpf_model *m = from_yaml("{n: 3}", 2, 2, 1);
    const kpf_activation_info *a = kpf_model_extension(m, KPF_ACTIVATION_INTERFACE);
    cr_assert_not_null(a);
    cr_expect_eq(a->activation, KPF_ACTIVATION_LINEAR);
    cr_expect_str_eq(a->block, "W_h");
    kpf_model_free(m);
    m = from_yaml("{parameterisation: modes}", 2, 2, 1);
    a = kpf_model_extension(m, KPF_ACTIVATION_INTERFACE);
    cr_assert_not_null(a);
    cr_expect_null(a->block, "W_h = diag(b) is not a block");
    cr_expect_null(kpf_model_extension(m, "kpf.ltr.factors/1"));
    kpf_model_free(m);
}
