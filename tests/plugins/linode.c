/* Test plugin: the linear ODE dz/dt = A z + B x with a learned initial state
 * z₀ = q (the same for every trial).  Exact solutions (matrix exponentials)
 * make it the reference for stepper accuracy tests, and its init_state op
 * exercises the core's handling of learned initial states.
 * Keys: n [3], decay [0.5] (A = N(0, scale²/n) − decay·I), scale [1.0]. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"

#include "kpf/model.h"

typedef struct linode {
    size_t n, n_in, m;
    double *theta0;
    kpf_param_block blk[3];
} linode;

static int lin_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    size_t n;
    double decay, scale;
    int rc = kpf_cfg_size(a->node, "n", 0, 3, 1, 1000, &n, err);
    if (!rc) rc = kpf_cfg_double(a->node, "decay", 0, 0.5, -100, 100, &decay, err);
    if (!rc) rc = kpf_cfg_double(a->node, "scale", 0, 1.0, 0, 100, &scale, err);
    if (rc)
        return rc;
    linode *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    m->n = n;
    m->n_in = a->n_in;
    m->m = n * n + n * a->n_in + n;
    m->theta0 = calloc(m->m, sizeof(double));
    if (!m->theta0) {
        free(m);
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    }
    m->blk[0] = (kpf_param_block){"A", 0, n, n};
    m->blk[1] = (kpf_param_block){"B", n * n, n, a->n_in};
    m->blk[2] = (kpf_param_block){"q", n * n + n * a->n_in, n, 1};
    for (size_t i = 0; i < m->m; i++)
        m->theta0[i] = gsl_ran_gaussian(a->rng, 1.0);
    for (size_t i = 0; i < n * n; i++)
        m->theta0[i] *= scale / sqrt((double)n);
    for (size_t i = 0; i < n; i++)
        m->theta0[i * n + i] -= decay;
    *self = m;
    return KPF_OK;
}

static void lin_destroy(void *self)
{
    linode *m = self;
    free(m->theta0);
    free(m);
}

static int lin_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    linode *m = self;
    memset(l, 0, sizeof *l);
    l->n = m->n;
    l->n_in = m->n_in;
    l->n_theta = m->m;
    l->n_blocks = 3;
    l->blocks = m->blk;
    l->theta0 = m->theta0;
    l->dt_default = 0.1;
    return KPF_OK;
}

/* out = V Aᵀ (+ X Bᵀ when X is given). */
static void apply(const linode *m, const double *th, size_t R, const double *V,
                  const double *X, double *out)
{
    int n = (int)m->n, ni = (int)m->n_in;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, n, n, 1.0, V, n, th, n, 0.0,
                out, n);
    if (X && ni)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, n, ni, 1.0, X, ni,
                    th + m->n * m->n, ni, 1.0, out, n);
}

static int lin_f(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    apply(s, th, r->R, r->z, r->x, out);
    return KPF_OK;
}

static int lin_jz(void *s, const double *th, const kpf_rows *r, const double *v,
                  double *out, kpf_error *e)
{
    apply(s, th, r->R, v, NULL, out);
    return KPF_OK;
}

static int lin_jzT(void *s, const double *th, const kpf_rows *r, const double *w,
                   double *out, kpf_error *e)
{
    const linode *m = s;
    int n = (int)m->n;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r->R, n, n, 1.0, w, n, th, n,
                0.0, out, n);
    return KPF_OK;
}

static int lin_jth(void *s, const double *th, const kpf_rows *r, const double *d,
                   double *out, kpf_error *e)
{
    apply(s, d, r->R, r->z, r->x, out); /* f is linear in (A, B) */
    return KPF_OK;
}

static int lin_jthT(void *s, const double *th, const kpf_rows *r, const double *w,
                    double *g, kpf_error *e)
{
    const linode *m = s;
    int n = (int)m->n, ni = (int)m->n_in, R = (int)r->R;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, R, 1.0, w, n, r->z, n, 1.0, g,
                n);
    if (ni)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, ni, R, 1.0, w, n, r->x, ni,
                    1.0, g + m->n * m->n, ni);
    return KPF_OK;
}

static size_t q_off(const linode *m) { return m->n * m->n + m->n * m->n_in; }

static int lin_z0(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    const linode *m = s;
    for (size_t i = 0; i < r->R; i++)
        memcpy(out + i * m->n, th + q_off(m), m->n * sizeof(double));
    return KPF_OK;
}

static int lin_z0_jth(void *s, const double *th, const kpf_rows *r, const double *d,
                      double *out, kpf_error *e)
{
    return lin_z0(s, d, r, out, e);
}

static int lin_z0_jthT(void *s, const double *th, const kpf_rows *r, const double *w,
                       double *g, kpf_error *e)
{
    const linode *m = s;
    for (size_t i = 0; i < r->R; i++)
        for (size_t j = 0; j < m->n; j++)
            g[q_off(m) + j] += w[i * m->n + j];
    return KPF_OK;
}

static const kpf_model_desc desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "linode",
    .summary = "test: linear ODE dz/dt = A z + B x with learned z0",
    .flags = KPF_MODEL_CONTINUOUS,
    .create = lin_create, .destroy = lin_destroy, .params = lin_params,
    .f = lin_f, .jz = lin_jz, .jzT = lin_jzT, .jth = lin_jth, .jthT = lin_jthT,
    .init_state = lin_z0, .init_state_jth = lin_z0_jth, .init_state_jthT = lin_z0_jthT,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    return i == 0 ? &desc : NULL;
}
