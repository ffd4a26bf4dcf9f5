/* The ltr plugin's typed interfaces (ltr_factors.h): "kpf.ltr.factors/1"
 * gives the factors a dense recomputation from θ gives, "kpf.ltr.spec/1"
 * creates the model its YAML keys create, bit for bit, and
 * "kpf.activation/1" names its φ. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "ltr_factors.h"

static kpf_registry *reg;
static const kpf_plugin *ltr;
static kpf_error err;

static void load(void)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "ltr", &ltr, &err), KPF_OK, "%s", err.msg);
}

static void unload(void) { kpf_registry_free(reg); }

TestSuite(ltr_plugin, .init = load, .fini = unload);

static kpf_model *from_yaml(const char *yaml, size_t n_in, size_t n_out, size_t K,
                            uint64_t seed)
{
    kpf_config *cfg = NULL;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "test.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_create(ltr, kpf_config_root(cfg), n_in, n_out, K, seed, &m, &err),
                 KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
    return m;
}

static int from_spec(const kpf_ltr_spec *s, size_t n_in, size_t n_out, uint64_t seed,
                     kpf_model **m)
{
    const kpf_model_feature f = {KPF_LTR_SPEC_FEATURE, s};
    const kpf_model_feature *const features[] = {&f, NULL};
    return kpf_model_create_typed(ltr, NULL, features, n_in, n_out, s->K, seed, m, &err);
}

/* θ ← θ + N(0, 0.3²) so that b ≠ a and nothing sits at its initial value. */
static void perturb(kpf_model *m, uint64_t seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    for (size_t i = 0; i < m->m; i++)
        m->theta[i] += gsl_ran_gaussian(r, 0.3);
    gsl_rng_free(r);
    cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK, "%s", err.msg);
}

/* L = chol(s² (1 + (i−j)²/(2 l²))⁻¹ + σ² δ_ij), lower, by GSL. */
static void kernel_chol(size_t K, double l, double s, double sig, double *L)
{
    gsl_matrix *A = gsl_matrix_alloc(K, K);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++) {
            double d = (double)i - (double)j;
            gsl_matrix_set(A, i, j, s * s / (1.0 + d * d / (2 * l * l)) + (i == j) * sig * sig);
        }
    cr_assert_eq(gsl_linalg_cholesky_decomp1(A), 0);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++)
            L[i * K + j] = j <= i ? gsl_matrix_get(A, i, j) : 0.0;
    gsl_matrix_free(A);
}

static void expect_factors(kpf_model *m, size_t n, size_t R, size_t K, const double *L)
{
    const kpf_ltr_factors *f = kpf_model_extension(m, KPF_LTR_FACTORS_INTERFACE);
    cr_assert_not_null(f);
    cr_assert_eq(f->n, n);
    cr_assert_eq(f->rank, R);
    cr_assert_eq(f->K, K);
    const kpf_param_block *ba = kpf_model_block(m, "a"), *bb = kpf_model_block(m, "b");
    const kpf_param_block *bc = kpf_model_block(m, L ? "cbar" : "c");
    cr_assert(ba && bb && bc);
    for (size_t r = 0; r < R; r++) {
        const double *ah = m->theta + ba->offset + r * n, *bh = m->theta + bb->offset + r * n;
        double na = 0, nb = 0;
        for (size_t i = 0; i < n; i++)
            na += ah[i] * ah[i], nb += bh[i] * bh[i];
        for (size_t i = 0; i < n; i++) {
            cr_expect_float_eq(f->a[r * n + i], ah[i] / sqrt(na), 1e-14, "a[%zu][%zu]", r, i);
            cr_expect_float_eq(f->b[r * n + i], bh[i] / sqrt(nb), 1e-14, "b[%zu][%zu]", r, i);
        }
        for (size_t k = 0; k < K; k++) { /* c_r = L c̄_r */
            const double *cb = m->theta + bc->offset + r * K;
            double c = 0;
            for (size_t j = 0; j < K; j++)
                c += (L ? L[k * K + j] : (double)(j == k)) * cb[j];
            cr_expect_float_eq(f->C[r * K + k], c, 1e-13, "C[%zu][%zu]", r, k);
        }
    }
}

Test(ltr_plugin, factors_equal_a_dense_recomputation_from_theta)
{
    const size_t n = 5, R = 2, K = 6;
    kpf_model *m = from_yaml("{n: 5, rank: 2, trials: 6, kernel_length: 2.0, kernel_scale: 1.3, "
                             "kernel_jitter: 0.2, c_init_mean: 0.3}",
                             2, 3, K, 7);
    perturb(m, 11);
    double L[36];
    kernel_chol(K, 2.0, 1.3, 0.2, L);
    expect_factors(m, n, R, K, L);
    /* the table follows θ: another change, the same agreement */
    perturb(m, 12);
    expect_factors(m, n, R, K, L);
    kpf_model_free(m);
    m = from_yaml("{n: 5, rank: 2, trials: 6, trial_factors: free}", 0, 1, K, 8);
    perturb(m, 13);
    expect_factors(m, n, R, K, NULL);
    kpf_model_free(m);
}

static kpf_ltr_spec some_spec(void)
{
    kpf_ltr_spec s = {.n = 5, .rank = 2, .K = 4, .tau = 0.7, .dt = 0.1 * 0.7 / 3.0,
                      .act = KPF_ACTIVATION_SOFTPLUS, .smooth = 1, .length = 2.5,
                      .scale = 1.3, .jitter = 0.2, .q_init = 0.9, .c_init = 1.1,
                      .c_mean = 0.3, .input_scale = 0.8, .readout_scale = 1.2};
    return s;
}

static void spec_yaml(const kpf_ltr_spec *s, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "{n: %zu, rank: %zu, trials: %zu, tau: %.17g, dt: %.17g, step: euler, "
             "activation: %s, trial_factors: %s, kernel_length: %.17g, kernel_scale: %.17g, "
             "kernel_jitter: %.17g, q_init_std: %.17g, c_init_std: %.17g, "
             "c_init_mean: %.17g, input_scale: %.17g, readout_scale: %.17g}",
             s->n, s->rank, s->K, s->tau, s->dt, kpf_activation_name(s->act),
             s->smooth ? "smooth" : "free", s->length, s->scale, s->jitter, s->q_init,
             s->c_init, s->c_mean, s->input_scale, s->readout_scale);
}

Test(ltr_plugin, typed_spec_equals_yaml_bit_for_bit)
{
    for (int smooth = 0; smooth < 2; smooth++) {
        kpf_ltr_spec s = some_spec();
        s.smooth = smooth;
        char yaml[1024];
        spec_yaml(&s, yaml, sizeof yaml);
        kpf_model *y = from_yaml(yaml, 2, 3, s.K, 5), *t = NULL;
        cr_assert_eq(from_spec(&s, 2, 3, 5, &t), KPF_OK, "%s", err.msg);
        cr_assert_eq(t->m, y->m);
        cr_expect_eq(memcmp(t->theta, y->theta, y->m * sizeof(double)), 0, "θ differs");
        cr_expect_eq(t->dt, s.dt);
        cr_expect_eq(y->dt, s.dt);
        cr_expect_eq(t->stepper, y->stepper);
        cr_expect_eq(t->n_blocks, y->n_blocks);
        /* and the model runs alike: f at random rows, bit for bit */
        const size_t R = 3, n = s.n;
        double z[15], x[6], tt[3] = {0, 0.5, 1}, fy[15], ft[15];
        size_t trial[3] = {0, 3, 1};
        for (size_t i = 0; i < R * n; i++)
            z[i] = sin(1.0 + (double)i);
        for (size_t i = 0; i < R * 2; i++)
            x[i] = cos((double)i);
        kpf_rows rows = {R, z, x, trial, tt, NULL, NULL};
        cr_assert_eq(kpf_model_reserve(y, R, &err), KPF_OK);
        cr_assert_eq(kpf_model_reserve(t, R, &err), KPF_OK);
        cr_assert_eq(kpf_model_f(y, &rows, fy, &err), KPF_OK, "%s", err.msg);
        cr_assert_eq(kpf_model_f(t, &rows, ft, &err), KPF_OK, "%s", err.msg);
        cr_expect_eq(memcmp(fy, ft, sizeof fy), 0, "f differs");
        kpf_model_free(y);
        kpf_model_free(t);
    }
}

Test(ltr_plugin, bad_typed_spec_is_refused_by_name)
{
    kpf_ltr_spec s = some_spec();
    s.rank = 0;
    kpf_model *m = NULL;
    cr_expect_eq(from_spec(&s, 2, 3, 1, &m), KPF_EINVAL);
    cr_expect(strstr(err.msg, KPF_LTR_SPEC_FEATURE) && strstr(err.msg, "rank"), "%s", err.msg);
    s = some_spec();
    s.act = 17;
    cr_expect_eq(from_spec(&s, 2, 3, 1, &m), KPF_EINVAL);
    cr_expect(strstr(err.msg, "act"), "%s", err.msg);
    cr_expect_null(m);
}

Test(ltr_plugin, activation_extension_names_phi_without_a_block)
{
    static const char *const names[] = {"tanh", "relu", "linear", "softplus"};
    for (int k = 0; k < KPF_ACTIVATION_COUNT; k++) {
        char yaml[64];
        snprintf(yaml, sizeof yaml, "{n: 4, rank: 1, activation: %s}", names[k]);
        kpf_model *m = from_yaml(yaml, 0, 1, 2, 1);
        const kpf_activation_info *a = kpf_model_extension(m, KPF_ACTIVATION_INTERFACE);
        cr_assert_not_null(a);
        cr_expect_eq(a->activation, k, "%s", names[k]);
        cr_expect_null(a->block, "W(k) is not a block of θ");
        cr_expect_null(kpf_model_extension(m, "kpf.lrnn.net/1"));
        kpf_model_free(m);
    }
}
