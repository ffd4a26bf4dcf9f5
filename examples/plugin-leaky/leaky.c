/* leaky.c — an out-of-tree kpf model plugin: a leaky linear network.
 *
 *     dz/dt = f(z, x; θ) = −z/τ + A z + B x,      θ = (A, B)
 *
 * A is n×n, B is n×n_in, both row-major blocks of θ.  τ is a fixed
 * hyperparameter, not part of θ.  Being linear, every Jacobian is exact and
 * cheap, and there is nothing to cache: no tape, no workspace.
 *
 * YAML (model: {plugin: leaky, ...}):
 *   n:     state size                     [8]
 *   tau:   leak time constant, > 0        [1.0]
 *   scale: A ~ N(0, scale²/n)             [0.5]      (B ~ N(0, 1/n_in))
 *
 * Build:  make            (uses pkg-config --cflags --libs kpf)
 * Check:  kpf check-plugin ./leaky.so
 *
 * docs/writing-a-plugin.md walks through this file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

/* CBLAS prototypes (GSL's declarations), implementation from OpenBLAS:
 * kpf.pc links -lopenblas, never GSL's reference -lgslcblas. */
#include <kpf/blas.h>
#include <kpf/model.h>

typedef struct leaky {
    size_t n, n_in;
    double tau;
    kpf_param_block blocks[2]; /* A, B */
    double *theta0;            /* n·n + n·n_in initial values */
} leaky;

/* ---- create / destroy / params ---------------------------------------------- */

static int leaky_create(const kpf_model_args *args, void **out, kpf_error *err)
{
    size_t n;
    double tau, scale;
    int rc;
    /* args->node may be NULL (no model: keys at all): the getters then give
     * the defaults.  They report wrong values at their file:line:col. */
    if ((rc = kpf_cfg_size(args->node, "n", KPF_CFG_OPTIONAL, 8, 1, 1u << 20, &n, err)))
        return rc;
    if ((rc = kpf_cfg_double(args->node, "tau", KPF_CFG_OPTIONAL, 1.0, 0.0, HUGE_VAL,
                             &tau, err)))
        return rc;
    if (tau <= 0.0)
        return kpf_node_error(kpf_node_get(args->node, "tau"), err,
                              "must be > 0 (got %g)", tau);
    if ((rc = kpf_cfg_double(args->node, "scale", KPF_CFG_OPTIONAL, 0.5, 0.0, HUGE_VAL,
                             &scale, err)))
        return rc;

    leaky *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "leaky: out of memory");
    s->n = n;
    s->n_in = args->n_in;
    s->tau = tau;
    s->blocks[0] = (kpf_param_block){"A", 0, n, n};
    s->blocks[1] = (kpf_param_block){"B", n * n, n, args->n_in};
    size_t m = n * n + n * args->n_in;
    s->theta0 = malloc((m ? m : 1) * sizeof *s->theta0);
    if (!s->theta0) {
        free(s);
        return kpf_error_set(err, KPF_ENOMEM, "leaky: out of memory");
    }
    /* Draw θ₀ from args->rng only, so that a seeded create is deterministic. */
    double *A = s->theta0, *B = s->theta0 + n * n;
    for (size_t i = 0; i < n * n; i++)
        A[i] = gsl_ran_gaussian(args->rng, scale / sqrt((double)n));
    for (size_t i = 0; i < n * args->n_in; i++)
        B[i] = gsl_ran_gaussian(args->rng, 1.0 / sqrt((double)args->n_in));
    *out = s;
    return KPF_OK;
}

static void leaky_destroy(void *self)
{
    leaky *s = self;
    if (!s)
        return;
    free(s->theta0);
    free(s);
}

static int leaky_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    const leaky *s = self;
    memset(L, 0, sizeof *L);
    L->n = s->n;
    L->n_in = s->n_in;
    L->n_theta = s->n * s->n + s->n * s->n_in;
    L->n_blocks = 2;
    L->blocks = s->blocks;
    L->theta0 = s->theta0;
    L->tape_width = 0;  /* nothing to cache: the model is linear */
    L->work_fixed = 0;  /* and needs no scratch */
    L->work_per_row = 0;
    L->dt_default = 0.1 * s->tau;
    return KPF_OK;
}

/* ---- the vector field and its Jacobians --------------------------------------
 * Rows are row-major: Z is R×n, X is R×n_in.  Per row, f = −z/τ + A z + B x;
 * for all rows at once, F = −Z/τ + Z Aᵀ + X Bᵀ: two GEMMs with R as M. */

/* out = −V/τ + V·Mᵀ (trans = CblasTrans) or −V/τ + V·M (CblasNoTrans), M n×n. */
static void leak_plus_gemm(const leaky *s, size_t R, const double *M,
                           enum CBLAS_TRANSPOSE trans, const double *V, double *out)
{
    size_t n = s->n;
    memcpy(out, V, R * n * sizeof *out);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, trans, (int)R, (int)n, (int)n, 1.0, V,
                (int)n, M, (int)n, -1.0 / s->tau, out, (int)n);
}

static int leaky_f(void *self, const double *theta, const kpf_rows *rows, double *out,
                   kpf_error *err)
{
    const leaky *s = self;
    size_t R = rows->R, n = s->n, n_in = s->n_in;
    if (R == 0)
        return KPF_OK;
    const double *A = theta, *B = theta + n * n;
    leak_plus_gemm(s, R, A, CblasTrans, rows->z, out); /* −Z/τ + Z Aᵀ */
    if (n_in > 0)                                      /* + X Bᵀ      */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n_in,
                    1.0, rows->x, (int)n_in, B, (int)n_in, 1.0, out, (int)n);
    return KPF_OK;
}

/* J_z = −I/τ + A, the same for every row. */
static int leaky_jz(void *self, const double *theta, const kpf_rows *rows,
                    const double *v, double *out, kpf_error *err)
{
    if (rows->R)
        leak_plus_gemm(self, rows->R, theta, CblasTrans, v, out); /* −V/τ + V Aᵀ */
    return KPF_OK;
}

static int leaky_jzT(void *self, const double *theta, const kpf_rows *rows,
                     const double *w, double *out, kpf_error *err)
{
    if (rows->R)
        leak_plus_gemm(self, rows->R, theta, CblasNoTrans, w, out); /* −W/τ + W A */
    return KPF_OK;
}

/* J_θ·(dA, dB) = dA z + dB x per row:  Z dAᵀ + X dBᵀ. */
static int leaky_jth(void *self, const double *theta, const kpf_rows *rows,
                     const double *dth, double *out, kpf_error *err)
{
    const leaky *s = self;
    size_t R = rows->R, n = s->n, n_in = s->n_in;
    if (R == 0)
        return KPF_OK;
    const double *dA = dth, *dB = dth + n * n;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n, 1.0,
                rows->z, (int)n, dA, (int)n, 0.0, out, (int)n);
    if (n_in > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n_in,
                    1.0, rows->x, (int)n_in, dB, (int)n_in, 1.0, out, (int)n);
    return KPF_OK;
}

/* g += Σ_r J_θᵀ w_r:  gA += Wᵀ Z,  gB += Wᵀ X  (beta = 1: accumulate). */
static int leaky_jthT(void *self, const double *theta, const kpf_rows *rows,
                      const double *w, double *g, kpf_error *err)
{
    const leaky *s = self;
    size_t R = rows->R, n = s->n, n_in = s->n_in;
    if (R == 0)
        return KPF_OK;
    double *gA = g, *gB = g + n * n;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)R, 1.0, w,
                (int)n, rows->z, (int)n, 1.0, gA, (int)n);
    if (n_in > 0)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n_in, (int)R,
                    1.0, w, (int)n, rows->x, (int)n_in, 1.0, gB, (int)n_in);
    return KPF_OK;
}

/* ---- the descriptor ------------------------------------------------------------ */

static const kpf_model_desc leaky_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "leaky",
    .summary = "leaky linear network dz/dt = -z/tau + A z + B x (example plugin)",
    .flags = KPF_MODEL_CONTINUOUS,
    .create = leaky_create,
    .destroy = leaky_destroy,
    .params = leaky_params,
    .f = leaky_f,
    .jz = leaky_jz,
    .jzT = leaky_jzT,
    .jth = leaky_jth,
    .jthT = leaky_jthT,
    /* optional ops left NULL: no prepare, no tape, the core's linear
     * readout W_out z + b_out, and z₀ = 0. */
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    return index == 0 ? &leaky_desc : NULL;
}
