/* Test plugins with known fixed points, for the fixed-point finder
 * (kpf/fixed_points.h):
 *
 *   fp_linmap     discrete map z' = A z + B x + c (blocks A n×n, B n×n_in,
 *                 c n; θ₀ = 0, set by the test): one fixed point
 *                 z* = (I − A)⁻¹ (B x* + c) with J_F = A.
 *                 Keys: n [3].
 *   fp_pitchfork  the 2-unit vector field
 *                     dz₁/dt = offset + μ z₁ + square·z₁² − cube·z₁³
 *                     dz₂/dt = −z₂
 *                 μ is the one parameter (block "mu").  offset = square = 0,
 *                 cube = 1: a pitchfork — μ < 0 only the stable origin; μ > 0
 *                 the origin a saddle (eigenvalues μ, −1) between the stable
 *                 points (±√μ, 0) (eigenvalues −2μ, −1).  cube = μ = 0,
 *                 square = 1, offset = c > 0: no fixed point, a slow point at
 *                 the origin with q = c²/2 (a saddle-node ghost).
 *                 Keys: mu [1], offset [0], square [0], cube [1]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"
#include "kpf/model.h"

/* ---- fp_linmap -------------------------------------------------------------- */

typedef struct linmap {
    size_t n, n_in, m;
    double *theta0;
    kpf_param_block blk[3];
} linmap;

static int lm_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    size_t n;
    int rc = kpf_cfg_size(a->node, "n", 0, 3, 1, 1000, &n, err);
    if (rc)
        return rc;
    linmap *m = calloc(1, sizeof *m);
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
    m->blk[2] = (kpf_param_block){"c", n * n + n * a->n_in, n, 1};
    *self = m;
    return KPF_OK;
}

static void lm_destroy(void *self)
{
    linmap *m = self;
    free(m->theta0);
    free(m);
}

static int lm_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    linmap *m = self;
    memset(l, 0, sizeof *l);
    l->n = m->n;
    l->n_in = m->n_in;
    l->n_theta = m->m;
    l->n_blocks = 3;
    l->blocks = m->blk;
    l->theta0 = m->theta0;
    return KPF_OK;
}

/* out = V Aᵀ (+ X Bᵀ + c when affine) for R rows, from parameters th. */
static void lm_apply(const linmap *m, const double *th, size_t R, const double *V,
                     const double *X, int affine, double *out)
{
    int n = (int)m->n, ni = (int)m->n_in;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, n, n, 1.0, V, n, th, n, 0.0,
                out, n);
    if (!affine)
        return;
    if (X && ni)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, n, ni, 1.0, X, ni,
                    th + m->n * m->n, ni, 1.0, out, n);
    const double *c = th + m->n * m->n + m->n * m->n_in;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < m->n; i++)
            out[r * m->n + i] += c[i];
}

static int lm_f(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    lm_apply(s, th, r->R, r->z, r->x, 1, out);
    return KPF_OK;
}

static int lm_jz(void *s, const double *th, const kpf_rows *r, const double *v, double *out,
                 kpf_error *e)
{
    lm_apply(s, th, r->R, v, NULL, 0, out);
    return KPF_OK;
}

static int lm_jzT(void *s, const double *th, const kpf_rows *r, const double *w, double *out,
                  kpf_error *e)
{
    int n = (int)((const linmap *)s)->n;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r->R, n, n, 1.0, w, n, th, n,
                0.0, out, n);
    return KPF_OK;
}

static int lm_jth(void *s, const double *th, const kpf_rows *r, const double *d, double *out,
                  kpf_error *e)
{
    lm_apply(s, d, r->R, r->z, r->x, 1, out); /* F is linear in (A, B, c) */
    return KPF_OK;
}

static int lm_jthT(void *s, const double *th, const kpf_rows *r, const double *w, double *g,
                   kpf_error *e)
{
    const linmap *m = s;
    int n = (int)m->n, ni = (int)m->n_in, R = (int)r->R;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, R, 1.0, w, n, r->z, n, 1.0, g, n);
    if (ni && r->x)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, ni, R, 1.0, w, n, r->x, ni, 1.0,
                    g + m->n * m->n, ni);
    double *gc = g + m->n * m->n + m->n * m->n_in;
    for (size_t i = 0; i < r->R; i++)
        for (size_t j = 0; j < m->n; j++)
            gc[j] += w[i * m->n + j];
    return KPF_OK;
}

static const kpf_model_desc linmap_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "fp_linmap",
    .summary = "test: the affine map z' = A z + B x + c",
    .flags = KPF_MODEL_DISCRETE,
    .create = lm_create, .destroy = lm_destroy, .params = lm_params,
    .f = lm_f, .jz = lm_jz, .jzT = lm_jzT, .jth = lm_jth, .jthT = lm_jthT,
};

/* ---- fp_pitchfork ----------------------------------------------------------- */

typedef struct pitchfork {
    double mu0, offset, square, cube;
    size_t n_in; /* inputs are ignored */
    kpf_param_block blk[1];
} pitchfork;

static int pf_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    pitchfork *p = calloc(1, sizeof *p);
    if (!p)
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    int rc = kpf_cfg_double(a->node, "mu", 0, 1.0, -100, 100, &p->mu0, err);
    if (!rc) rc = kpf_cfg_double(a->node, "offset", 0, 0.0, -100, 100, &p->offset, err);
    if (!rc) rc = kpf_cfg_double(a->node, "square", 0, 0.0, -100, 100, &p->square, err);
    if (!rc) rc = kpf_cfg_double(a->node, "cube", 0, 1.0, -100, 100, &p->cube, err);
    if (rc) {
        free(p);
        return rc;
    }
    p->blk[0] = (kpf_param_block){"mu", 0, 1, 1};
    p->n_in = a->n_in;
    *self = p;
    return KPF_OK;
}

static void pf_destroy(void *self) { free(self); }

static int pf_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    pitchfork *p = self;
    memset(l, 0, sizeof *l);
    l->n = 2;
    l->n_in = p->n_in;
    l->n_theta = 1;
    l->n_blocks = 1;
    l->blocks = p->blk;
    l->theta0 = &p->mu0;
    l->dt_default = 0.1;
    return KPF_OK;
}

static int pf_f(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    const pitchfork *p = s;
    for (size_t i = 0; i < r->R; i++) {
        double z1 = r->z[2 * i];
        out[2 * i] = p->offset + th[0] * z1 + p->square * z1 * z1 - p->cube * z1 * z1 * z1;
        out[2 * i + 1] = -r->z[2 * i + 1];
    }
    return KPF_OK;
}

/* ∂f₁/∂z₁ at row i. */
static double pf_d1(const pitchfork *p, const double *th, double z1)
{
    return th[0] + 2.0 * p->square * z1 - 3.0 * p->cube * z1 * z1;
}

static int pf_jz(void *s, const double *th, const kpf_rows *r, const double *v, double *out,
                 kpf_error *e)
{
    for (size_t i = 0; i < r->R; i++) {
        out[2 * i] = pf_d1(s, th, r->z[2 * i]) * v[2 * i];
        out[2 * i + 1] = -v[2 * i + 1];
    }
    return KPF_OK;
}

static int pf_jth(void *s, const double *th, const kpf_rows *r, const double *d, double *out,
                  kpf_error *e)
{
    for (size_t i = 0; i < r->R; i++) {
        out[2 * i] = r->z[2 * i] * d[0];
        out[2 * i + 1] = 0.0;
    }
    return KPF_OK;
}

static int pf_jthT(void *s, const double *th, const kpf_rows *r, const double *w, double *g,
                   kpf_error *e)
{
    for (size_t i = 0; i < r->R; i++)
        g[0] += r->z[2 * i] * w[2 * i];
    return KPF_OK;
}

static const kpf_model_desc pitchfork_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "fp_pitchfork",
    .summary = "test: dz1/dt = offset + mu z1 + square z1^2 - cube z1^3, dz2/dt = -z2",
    .flags = KPF_MODEL_CONTINUOUS,
    .create = pf_create, .destroy = pf_destroy, .params = pf_params,
    .f = pf_f, .jz = pf_jz, .jzT = pf_jz, /* J_z is diagonal, so symmetric */
    .jth = pf_jth, .jthT = pf_jthT,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    return i == 0 ? &linmap_desc : i == 1 ? &pitchfork_desc : NULL;
}
