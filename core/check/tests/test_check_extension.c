/* The extension-data items of kpf_check_plugin (check_extension.c) catch a
 * table that does not describe its model: a plugin whose f = −z + W z is
 * honest with {linear, "W"} and is caught claiming tanh, a missing block or
 * a table for an unknown name. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/activation.h"
#include "kpf/blas.h"
#include "kpf/check.h"
#include "kpf/plugin.h"

#define N 3

typedef struct lin { size_t n_in; double theta0[N * N]; kpf_param_block blk[1]; } lin;

/* What each descriptor's extension op answers. */
static const kpf_activation_info honest = {KPF_ACTIVATION_LINEAR, "W"};
static const kpf_activation_info wrong_phi = {KPF_ACTIVATION_TANH, "W"};
static const kpf_activation_info wrong_block = {KPF_ACTIVATION_LINEAR, "V"};

static int lin_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    lin *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    m->n_in = a->n_in;
    for (size_t i = 0; i < N * N; i++) /* a fixed, stable W */
        m->theta0[i] = 0.1 * (double)((i * 7) % 5) - 0.2;
    m->blk[0] = (kpf_param_block){"W", 0, N, N};
    *self = m;
    return KPF_OK;
}
static void lin_destroy(void *self) { free(self); }
static int lin_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    (void)err;
    lin *m = self;
    memset(l, 0, sizeof *l);
    l->n = N;
    l->n_in = m->n_in;
    l->n_theta = N * N;
    l->n_blocks = 1;
    l->blocks = m->blk;
    l->theta0 = m->theta0;
    l->dt_default = 0.1;
    return KPF_OK;
}
/* out = −V + V Wᵀ (f at V = Z, J_z at V = v); transpose: −W + W W_. */
static void lin_map(const double *th, size_t R, const double *v, double *out, int trans)
{
    for (size_t i = 0; i < R * N; i++)
        out[i] = -v[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, trans ? CblasNoTrans : CblasTrans, (int)R, N, N,
                1.0, v, N, th, N, 1.0, out, N);
}
static int lin_f(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    (void)s, (void)e;
    lin_map(th, r->R, r->z, out, 0);
    return KPF_OK;
}
static int lin_jz(void *s, const double *th, const kpf_rows *r, const double *v, double *out,
                  kpf_error *e)
{
    (void)s, (void)e;
    lin_map(th, r->R, v, out, 0);
    return KPF_OK;
}
static int lin_jzT(void *s, const double *th, const kpf_rows *r, const double *w, double *out,
                   kpf_error *e)
{
    (void)s, (void)e;
    lin_map(th, r->R, w, out, 1);
    return KPF_OK;
}
static int lin_jth(void *s, const double *th, const kpf_rows *r, const double *d, double *out,
                   kpf_error *e)
{
    (void)s, (void)th, (void)e;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r->R, N, N, 1.0, r->z, N, d, N,
                0.0, out, N);
    return KPF_OK;
}
static int lin_jthT(void *s, const double *th, const kpf_rows *r, const double *w, double *g,
                    kpf_error *e)
{
    (void)s, (void)th, (void)e;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, (int)r->R, 1.0, w, N, r->z, N,
                1.0, g, N);
    return KPF_OK;
}
static const void *ext_honest(void *self, const char *name)
{
    (void)self;
    return strcmp(name, KPF_ACTIVATION_INTERFACE) ? NULL : &honest;
}
static const void *ext_wrong_phi(void *self, const char *name)
{
    (void)self;
    return strcmp(name, KPF_ACTIVATION_INTERFACE) ? NULL : &wrong_phi;
}
static const void *ext_wrong_block(void *self, const char *name)
{
    (void)self;
    return strcmp(name, KPF_ACTIVATION_INTERFACE) ? NULL : &wrong_block;
}
static const void *ext_answers_all(void *self, const char *name)
{
    (void)self, (void)name;
    return &honest;
}

#define LIN_DESC(NAME, EXT)                                                               \
    {                                                                                     \
        .abi_version = KPF_ABI_VERSION, .struct_size = sizeof(kpf_model_desc),            \
        .name = NAME, .summary = "check_extension test model",                            \
        .flags = KPF_MODEL_CONTINUOUS, .create = lin_create, .destroy = lin_destroy,      \
        .params = lin_params, .f = lin_f, .jz = lin_jz, .jzT = lin_jzT, .jth = lin_jth,   \
        .jthT = lin_jthT, .extension = EXT,                                               \
    }

static const kpf_model_desc descs[] = {
    LIN_DESC("lin_honest", ext_honest), LIN_DESC("lin_wrong_phi", ext_wrong_phi),
    LIN_DESC("lin_wrong_block", ext_wrong_block), LIN_DESC("lin_answers_all", ext_answers_all),
};

static const void *enumerate(uint32_t i)
{
    return i < sizeof descs / sizeof descs[0] ? &descs[i] : NULL;
}

/* Check the plugin called `name`; *failed receives the names of the failed
 * extension items, joined. */
static void run(const char *name, size_t *n_ext, char *failed, size_t cap)
{
    kpf_registry *reg = NULL;
    kpf_error err = {0};
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
    cr_assert_eq(kpf_registry_add_descriptors(reg, KPF_KIND_MODEL, enumerate, "test", &err),
                 KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, name, &p, &err), KPF_OK, "%s", err.msg);
    kpf_check_report rep;
    cr_assert_eq(kpf_check_plugin(p, NULL, &rep, &err), KPF_OK, "%s", err.msg);
    *n_ext = 0;
    failed[0] = '\0';
    for (size_t i = 0; i < rep.n_items; i++) {
        const kpf_check_item *it = &rep.items[i];
        if (strncmp(it->name, "extension:", 10))
            continue;
        ++*n_ext;
        if (!it->pass)
            snprintf(failed + strlen(failed), cap - strlen(failed), "[%s] %s | ", it->name,
                     it->detail);
        else
            cr_expect_str_empty(it->detail);
    }
    /* everything else about these models is right */
    cr_expect_eq(rep.n_failed, (size_t)(failed[0] ? 1 : 0), "%s", failed);
    kpf_check_report_free(&rep);
    kpf_registry_free(reg);
}

Test(check_extension, honest_table_passes)
{
    size_t n;
    char failed[2048];
    run("lin_honest", &n, failed, sizeof failed);
    cr_expect_eq(n, 4, "unknown name, activation, block, phi probe");
    cr_expect_str_empty(failed);
}

Test(check_extension, wrong_phi_fails_the_probe)
{
    size_t n;
    char failed[2048];
    run("lin_wrong_phi", &n, failed, sizeof failed);
    cr_expect(strstr(failed, "c*tanh(z_j)") && strstr(failed, "does not match f"), "%s", failed);
}

Test(check_extension, missing_block_fails)
{
    size_t n;
    char failed[2048];
    run("lin_wrong_block", &n, failed, sizeof failed);
    cr_expect(strstr(failed, "block 'V' is not a block of the model"), "%s", failed);
    cr_expect_eq(n, 3, "no probe without a block");
}

Test(check_extension, table_for_an_unknown_name_fails)
{
    size_t n;
    char failed[2048];
    run("lin_answers_all", &n, failed, sizeof failed);
    cr_expect(strstr(failed, "unknown interface name gives NULL"), "%s", failed);
}
