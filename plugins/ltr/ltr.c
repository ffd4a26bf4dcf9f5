/* ltr — the low-tensor-rank RNN of Pellegrino, Cayco-Gajic & Chadwick
 * (NeurIPS 2023; seeds/002_low_tensor_rank.txt, notes/seed-ltr.md §1):
 *
 *     τ dx/dt = W^{(k)} φ(x) − x + B u,   W^{(k)} = Σ_r c_r^{(k)} a_r b_rᵀ
 *
 * on trial k = the row's trial index.  θ holds unnormalised â_r, b̂_r; the
 * model uses a_r = â_r/‖â_r‖, b_r = b̂_r/‖b̂_r‖ (A.1: "‖a_r‖ = ‖b_r‖ = 1, so
 * the magnitude of a component is captured by c_r").  Trial factors are
 * either free (block c, R×K) or smooth, c_r = L c̄_r (block cbar), with L =
 * chol(A + σ²I) and A the rational-quadratic kernel s²(1 + Δk²/(2l²))⁻¹ over
 * trial indices (Alg. 1 and the reference code's form; notes §1.2).  The
 * initial state is x₀ = Σ_r q_r a_r (Alg. 1) and the readout M φ(x) (A.1.1,
 * M ∈ R^{n_out×n}).  Every J op is exact through the normalisation
 * (∂â = (I − a aᵀ) ∂a / ‖â‖) and the smoothing (∂c̄_r = Lᵀ ∂c_r).
 *
 * YAML keys under `model:`
 *   n              [64]      units
 *   rank           [3]       R
 *   trials         [n_trials given by the host]  K; a row whose trial index
 *                            is ≥ K is an error
 *   tau            [1.0]     time constant
 *   activation     [tanh]    tanh | relu | linear | softplus (kpf/activation.h)
 *   trial_factors  [smooth]  smooth | free
 *   kernel_length  [15]      l (in trials; Table 1 simulated data)
 *   kernel_scale   [1.0]     s
 *   kernel_jitter  [0.1]     σ
 *   c_init_std     [1.0]     c̄ (or c) ~ N(0, c_init_std²)
 *   c_init_mean    [0.0]     initial c = c_init_mean + L c̄ (smooth: c̄ is
 *                            shifted by L⁻¹(c_init_mean·1)) or c_init_mean
 *                            + c (free): an initial value, not a parameter
 *   q_init_std     [1.0]     q ~ N(0, q_init_std²)
 *   input_scale    [1.0]     B_ij ~ N(0, input_scale²/n_in)
 *   readout_scale  [1.0]     M_ij ~ N(0, readout_scale²/n)
 *
 * Initialisation (A.1): â_r ~ N(0, I/n), b̂_r = â_r, then c̄, q, B, M, in
 * that order, from args->rng.
 *
 * θ blocks, in order: a (R×n), b (R×n), cbar or c (R×K), B (n×n_in; absent
 * when n_in = 0), q (R×1), M (n_out×n).  n_out is the host's.
 *
 * The same settings can come from code: a kpf_ltr_spec passed as the
 * feature "kpf.ltr.spec/1" (ltr_factors.h) replaces the YAML keys, and its
 * dt becomes the layout's dt_default.
 *
 * Tape: [φ(x) | φ'(x)], 2n per row.  Scratch: 2n + 2R per row, and
 * 2Rn + RK + n fixed.  A NULL rows->x is read as zero input.
 *
 * Extensions: "kpf.ltr.factors/1" (ltr_factors.h: a, b, C at the current
 * θ) and "kpf.activation/1" (φ; W^{(k)} is not a θ block, so block = NULL). */
#include "kpf/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "ltr_factors.h"
#include "kpf/model.h"

static const char *const tf_names[] = {"smooth", "free", NULL};

enum { BLK_A = 0, BLK_B, BLK_C, BLK_IN, BLK_Q, BLK_M, BLK_N };

typedef struct ltr {
    size_t n, rk, K, n_in, n_out;
    int act, smooth;
    double tau, dt_default;
    size_t n_theta;
    size_t off[BLK_N];
    size_t n_blocks;
    kpf_param_block blocks[BLK_N];
    double *theta0;
    double *L;      /* K×K, smooth only                  */
    /* derived from θ in prepare */
    double *A, *Bf; /* unit a_r, b_r: rk×n each          */
    double *na, *nb;/* ‖â_r‖, ‖b̂_r‖                       */
    double *C;      /* c_r^{(k)}: rk×K                   */
    int prepared;
    kpf_ltr_factors factors;      /* "kpf.ltr.factors/1": views of A, Bf, C */
    kpf_activation_info act_info; /* "kpf.activation/1"                      */
} ltr;

/* ---- scratch layout ------------------------------------------------------ */

static size_t work_fixed(const ltr *s) { return 2 * s->rk * s->n + s->rk * s->K + s->n; }
static size_t work_per_row(const ltr *s) { return 2 * s->n + 2 * s->rk; }

typedef struct scratch {
    double *dA, *dB; /* rk×n             */
    double *dC;      /* rk×K             */
    double *vec;     /* n                */
    double *H;       /* R×n              */
    double *T;       /* R×n              */
    double *G;       /* R×rk             */
    double *P;       /* R×rk             */
} scratch;

static scratch carve(const ltr *s, const kpf_rows *rows)
{
    scratch w;
    double *p = rows->work;
    size_t R = rows->R;
    w.dA = p;
    p += s->rk * s->n;
    w.dB = p;
    p += s->rk * s->n;
    w.dC = p;
    p += s->rk * s->K;
    w.vec = p;
    p += s->n;
    w.H = p;
    p += R * s->n;
    w.T = p;
    p += R * s->n;
    w.G = p;
    p += R * s->rk;
    w.P = p;
    return w;
}

static int check_rows(const ltr *s, const kpf_rows *rows, int need_z, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows is NULL");
    if (!s->prepared)
        return kpf_error_set(err, KPF_EINVAL, "ltr: prepare was not called after θ changed");
    if (rows->R == 0)
        return KPF_OK;
    if (need_z && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows->z is NULL");
    if (!rows->work)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows->work is NULL");
    if (!rows->trial)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows->trial is NULL (W depends on the trial)");
    for (size_t r = 0; r < rows->R; r++)
        if (rows->trial[r] >= s->K)
            return kpf_error_set(err, KPF_EINVAL,
                                 "ltr: row %zu has trial index %zu but the model has %zu trials "
                                 "(set model.trials)",
                                 r, rows->trial[r], s->K);
    return KPF_OK;
}

/* φ(Z) as an R×n operand with leading dimension *ld: the tape or scratch. */
static const double *phi_block(const ltr *s, const kpf_rows *rows, double *buf, size_t *ld)
{
    if (rows->tape) {
        *ld = 2 * s->n;
        return rows->tape;
    }
    for (size_t i = 0; i < rows->R * s->n; i++)
        buf[i] = kpf_activation_phi(s->act, rows->z[i]);
    *ld = s->n;
    return buf;
}

static inline double dphi_at(const ltr *s, const kpf_rows *rows, size_t r, size_t i)
{
    if (rows->tape)
        return rows->tape[r * 2 * s->n + s->n + i];
    return kpf_activation_dphi(s->act, rows->z[r * s->n + i]);
}

/* P[r,j] *= c_j^{(k_r)} */
static void scale_by_c(const ltr *s, const kpf_rows *rows, double *P)
{
    for (size_t r = 0; r < rows->R; r++) {
        size_t k = rows->trial[r];
        for (size_t j = 0; j < s->rk; j++)
            P[r * s->rk + j] *= s->C[j * s->K + k];
    }
}

/* Directions of the unit factors from a direction of the raw ones:
 * d(â/‖â‖) = (I − a aᵀ) dâ / ‖â‖, row by row (rk rows of n). */
static void unit_tangent(size_t rk, size_t n, const double *U, const double *norms,
                         const double *d, double *out)
{
    for (size_t r = 0; r < rk; r++) {
        const double *u = U + r * n, *dr = d + r * n;
        double p = cblas_ddot((int)n, u, 1, dr, 1);
        for (size_t i = 0; i < n; i++)
            out[r * n + i] = (dr[i] - p * u[i]) / norms[r];
    }
}

/* g_raw += (I − a aᵀ) g_unit / ‖â‖ (unit_tangent's map is symmetric, so it
 * is its own transpose).  gu is overwritten (projected in place). */
static void unit_cotangent_add(size_t rk, size_t n, const double *U, const double *norms,
                               double *gu, double *graw)
{
    unit_tangent(rk, n, U, norms, gu, gu);
    for (size_t i = 0; i < rk * n; i++)
        graw[i] += gu[i];
}

/* ---- create / destroy / params / prepare ------------------------------- */

static void ltr_destroy(void *self)
{
    ltr *s = self;
    if (!s)
        return;
    free(s->theta0);
    free(s->L);
    free(s->A);
    free(s->Bf);
    free(s->na);
    free(s->nb);
    free(s->C);
    free(s);
}

/* The `model:` keys as a spec (K defaults to the host's trial count, dt to
 * 0.1 τ).  Ranges are checked here, located at the key. */
static int spec_from_yaml(const kpf_model_args *args, kpf_ltr_spec *s, kpf_error *err)
{
    const kpf_node *node = args->node;
    int tf = 0, rc;
    if ((rc = kpf_cfg_size(node, "n", KPF_CFG_OPTIONAL, 64, 1, 100000, &s->n, err)) ||
        (rc = kpf_cfg_size(node, "rank", KPF_CFG_OPTIONAL, 3, 1, 10000, &s->rank, err)) ||
        (rc = kpf_cfg_size(node, "trials", KPF_CFG_OPTIONAL,
                           args->n_trials ? args->n_trials : 1, 1, 1000000, &s->K, err)) ||
        (rc = kpf_cfg_double(node, "tau", KPF_CFG_OPTIONAL, 1.0, 1e-12, 1e12, &s->tau, err)) ||
        (rc = kpf_activation_parse(node, "activation", KPF_ACTIVATION_TANH, &s->act, err)) ||
        (rc = kpf_cfg_choice(node, "trial_factors", KPF_CFG_OPTIONAL, tf_names, 0, &tf,
                             err)) ||
        (rc = kpf_cfg_double(node, "kernel_length", KPF_CFG_OPTIONAL, 15.0, 1e-12, 1e12,
                             &s->length, err)) ||
        (rc = kpf_cfg_double(node, "kernel_scale", KPF_CFG_OPTIONAL, 1.0, 0.0, 1e12, &s->scale,
                             err)) ||
        (rc = kpf_cfg_double(node, "kernel_jitter", KPF_CFG_OPTIONAL, 0.1, 0.0, 1e12,
                             &s->jitter, err)) ||
        (rc = kpf_cfg_double(node, "c_init_std", KPF_CFG_OPTIONAL, 1.0, 0.0, 1e12, &s->c_init,
                             err)) ||
        (rc = kpf_cfg_double(node, "c_init_mean", KPF_CFG_OPTIONAL, 0.0, -1e12, 1e12,
                             &s->c_mean, err)) ||
        (rc = kpf_cfg_double(node, "q_init_std", KPF_CFG_OPTIONAL, 1.0, 0.0, 1e12, &s->q_init,
                             err)) ||
        (rc = kpf_cfg_double(node, "input_scale", KPF_CFG_OPTIONAL, 1.0, 0.0, 1e12,
                             &s->input_scale, err)) ||
        (rc = kpf_cfg_double(node, "readout_scale", KPF_CFG_OPTIONAL, 1.0, 0.0, 1e12,
                             &s->readout_scale, err)))
        return rc;
    s->smooth = tf == 0;
    s->dt = 0.1 * s->tau;
    return KPF_OK;
}

/* A typed spec gets the ranges the YAML keys have. */
static int spec_check(const kpf_ltr_spec *s, kpf_error *err)
{
    const char *bad = NULL;
    if (s->n < 1 || s->n > 100000)
        bad = "n (1 … 100000)";
    else if (s->rank < 1 || s->rank > 10000)
        bad = "rank (1 … 10000)";
    else if (s->K < 1 || s->K > 1000000)
        bad = "K (1 … 1000000)";
    else if (!(s->tau >= 1e-12 && s->tau <= 1e12))
        bad = "tau (1e-12 … 1e12)";
    else if (!(s->dt >= 1e-12 && s->dt <= 1e6))
        bad = "dt (1e-12 … 1e6)";
    else if (!kpf_activation_name(s->act))
        bad = "act (an enum kpf_activation)";
    else if (!(s->length >= 1e-12 && s->length <= 1e12))
        bad = "length (1e-12 … 1e12)";
    else if (!(s->scale >= 0 && s->scale <= 1e12) || !(s->jitter >= 0 && s->jitter <= 1e12))
        bad = "scale or jitter (0 … 1e12)";
    else if (!(s->c_init >= 0 && s->c_init <= 1e12) || !(s->q_init >= 0 && s->q_init <= 1e12))
        bad = "c_init or q_init (0 … 1e12)";
    else if (!(s->c_mean >= -1e12 && s->c_mean <= 1e12))
        bad = "c_mean (−1e12 … 1e12)";
    else if (!(s->input_scale >= 0 && s->input_scale <= 1e12) ||
             !(s->readout_scale >= 0 && s->readout_scale <= 1e12))
        bad = "input_scale or readout_scale (0 … 1e12)";
    if (bad)
        return kpf_error_set(err, KPF_EINVAL, "ltr: %s: %s is out of range",
                             KPF_LTR_SPEC_FEATURE, bad);
    return KPF_OK;
}

/* Blocks, buffers and the initial θ of the network the spec describes. */
static int ltr_build(const kpf_ltr_spec *sp, const kpf_model_args *args, ltr **out,
                     kpf_error *err)
{
    const size_t n = sp->n, rk = sp->rank, K = sp->K;
    int rc;
    ltr *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "ltr: out of memory");
    s->n = n;
    s->rk = rk;
    s->K = K;
    s->n_in = args->n_in;
    s->n_out = args->n_out;
    s->act = sp->act;
    s->smooth = sp->smooth != 0;
    s->tau = sp->tau;
    s->dt_default = sp->dt;

    static const char *const names[BLK_N] = {"a", "b", NULL, "B", "q", "M"};
    size_t rows_[BLK_N] = {rk, rk, rk, n, rk, s->n_out};
    size_t cols_[BLK_N] = {n, n, K, s->n_in, 1, n};
    size_t off = 0;
    for (int b = 0; b < BLK_N; b++) {
        s->off[b] = off;
        if (b == BLK_IN && s->n_in == 0)
            continue;
        const char *nm = b == BLK_C ? (s->smooth ? "cbar" : "c") : names[b];
        s->blocks[s->n_blocks++] = (kpf_param_block){nm, off, rows_[b], cols_[b]};
        off += rows_[b] * cols_[b];
    }
    s->n_theta = off;
    s->theta0 = calloc(off, sizeof(double));
    s->A = malloc(rk * n * sizeof(double));
    s->Bf = malloc(rk * n * sizeof(double));
    s->na = malloc(rk * sizeof(double));
    s->nb = malloc(rk * sizeof(double));
    s->C = malloc(rk * K * sizeof(double));
    s->L = s->smooth ? malloc(K * K * sizeof(double)) : NULL;
    if (!s->theta0 || !s->A || !s->Bf || !s->na || !s->nb || !s->C || (s->smooth && !s->L)) {
        ltr_destroy(s);
        return kpf_error_set(err, KPF_ENOMEM, "ltr: out of memory for θ (%zu values)", off);
    }
    s->factors = (kpf_ltr_factors){n, rk, K, s->A, s->Bf, s->C};
    s->act_info = (kpf_activation_info){s->act, NULL};
    if (s->smooth && (rc = kpf_ltr_kernel_chol(K, sp->length, sp->scale, sp->jitter, s->L, err))) {
        ltr_destroy(s);
        return rc;
    }
    double *th = s->theta0;
    const double sa = 1.0 / sqrt((double)n);
    for (size_t i = 0; i < rk * n; i++)
        th[s->off[BLK_A] + i] = gsl_ran_gaussian(args->rng, sa);
    memcpy(th + s->off[BLK_B], th + s->off[BLK_A], rk * n * sizeof(double));
    for (size_t i = 0; i < rk * K; i++)
        th[s->off[BLK_C] + i] = gsl_ran_gaussian(args->rng, sp->c_init);
    if (sp->c_mean != 0.0) { /* shift: c = c_mean + (L) c̄ */
        double *sh = s->C; /* scratch until prepare */
        for (size_t k = 0; k < K; k++)
            sh[k] = sp->c_mean;
        if (s->smooth)
            cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)K, s->L,
                        (int)K, sh, 1);
        for (size_t r = 0; r < rk; r++)
            for (size_t k = 0; k < K; k++)
                th[s->off[BLK_C] + r * K + k] += sh[k];
    }
    if (s->n_in)
        for (size_t i = 0; i < n * s->n_in; i++)
            th[s->off[BLK_IN] + i] =
                gsl_ran_gaussian(args->rng, sp->input_scale / sqrt((double)s->n_in));
    for (size_t i = 0; i < rk; i++)
        th[s->off[BLK_Q] + i] = gsl_ran_gaussian(args->rng, sp->q_init);
    for (size_t i = 0; i < s->n_out * n; i++)
        th[s->off[BLK_M] + i] = gsl_ran_gaussian(args->rng, sp->readout_scale * sa);
    *out = s;
    return KPF_OK;
}

static int ltr_create(const kpf_model_args *args, void **self, kpf_error *err)
{
    if (!args || !self)
        return kpf_error_set(err, KPF_EINVAL, "ltr: create called with NULL arguments");
    if (args->struct_size < offsetof(kpf_model_args, rng) + sizeof(args->rng))
        return kpf_error_set(err, KPF_EABI, "ltr: kpf_model_args too small (%u bytes)",
                             (unsigned)args->struct_size);
    *self = NULL;
    if (!args->rng)
        return kpf_error_set(err, KPF_EINVAL, "ltr: no random generator given");
    if (args->n_out < 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "ltr: the readout M φ(x) needs n_out ≥ 1 (the task gives 0)");
    const kpf_ltr_spec *typed = kpf_model_args_feature(args, KPF_LTR_SPEC_FEATURE);
    kpf_ltr_spec spec;
    int rc = typed ? spec_check(typed, err) : spec_from_yaml(args, &spec, err);
    if (rc)
        return rc;
    ltr *s = NULL;
    if ((rc = ltr_build(typed ? typed : &spec, args, &s, err)))
        return rc;
    *self = s;
    return KPF_OK;
}

static int ltr_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    ltr *s = self;
    if (!s || !L)
        return kpf_error_set(err, KPF_EINVAL, "ltr: params called with NULL arguments");
    memset(L, 0, sizeof *L);
    L->n = s->n;
    L->n_in = s->n_in;
    L->n_out = s->n_out;
    L->n_theta = s->n_theta;
    L->n_blocks = s->n_blocks;
    L->blocks = s->blocks;
    L->theta0 = s->theta0;
    L->tape_width = 2 * s->n;
    L->work_fixed = work_fixed(s);
    L->work_per_row = work_per_row(s);
    L->dt_default = s->dt_default;
    return KPF_OK;
}

static int ltr_prepare(void *self, const double *theta, kpf_error *err)
{
    ltr *s = self;
    s->prepared = 0;
    int rc = kpf_ltr_normalise(s->rk, s->n, theta + s->off[BLK_A], s->A, s->na, err);
    if (!rc)
        rc = kpf_ltr_normalise(s->rk, s->n, theta + s->off[BLK_B], s->Bf, s->nb, err);
    if (rc)
        return rc;
    kpf_ltr_trial_factors(s->rk, s->K, s->L, theta + s->off[BLK_C], s->C);
    s->prepared = 1;
    return KPF_OK;
}

/* ---- ops ----------------------------------------------------------------- */

static int ltr_tape(void *self, const double *theta, const kpf_rows *rows, double *out,
                    kpf_error *err)
{
    (void)theta;
    ltr *s = self;
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows is NULL");
    if (rows->R && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows->z is NULL");
    const size_t n = s->n;
    for (size_t r = 0; r < rows->R; r++)
        for (size_t i = 0; i < n; i++) {
            double x = rows->z[r * n + i];
            out[r * 2 * n + i] = kpf_activation_phi(s->act, x);
            out[r * 2 * n + n + i] = kpf_activation_dphi(s->act, x);
        }
    return KPF_OK;
}

/* out += X Binᵀ (X may be NULL) */
static void add_input(const ltr *s, const double *Bin, const kpf_rows *rows, double *out)
{
    if (s->n_in && rows->x)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows->R, (int)s->n,
                    (int)s->n_in, 1.0, rows->x, (int)s->n_in, Bin, (int)s->n_in, 1.0, out,
                    (int)s->n);
}

/* out = (H Bᵀ ⊙ c) A − Y over the R rows (H with row stride ld, G R×rk
 * scratch): the recurrent term of f (H = φ(Z), Y = Z) and of J_z·v
 * (H = φ'(Z) ⊙ V, Y = V). */
static void recurrent_minus(const ltr *s, const kpf_rows *rows, const double *H, size_t ld,
                            const double *Y, double *G, double *out)
{
    const size_t n = s->n, rk = s->rk, R = rows->R;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)rk, (int)n, 1.0, H,
                (int)ld, s->Bf, (int)n, 0.0, G, (int)rk);
    scale_by_c(s, rows, G);
    for (size_t i = 0; i < R * n; i++)
        out[i] = -Y[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)rk, 1.0, G,
                (int)rk, s->A, (int)n, 1.0, out, (int)n);
}

/* out = ((φ(Z) Bᵀ ⊙ c) A − Z + X Binᵀ) / τ */
static int ltr_f(void *self, const double *theta, const kpf_rows *rows, double *out,
                 kpf_error *err)
{
    ltr *s = self;
    int rc = check_rows(s, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = s->n, R = rows->R;
    scratch w = carve(s, rows);
    size_t ld;
    const double *H = phi_block(s, rows, w.H, &ld);
    recurrent_minus(s, rows, H, ld, rows->z, w.G, out);
    add_input(s, theta + s->off[BLK_IN], rows, out);
    cblas_dscal((int)(R * n), 1.0 / s->tau, out, 1);
    return KPF_OK;
}

/* out = (((φ'⊙V) Bᵀ ⊙ c) A − V) / τ */
static int ltr_jz(void *self, const double *theta, const kpf_rows *rows, const double *v,
                  double *out, kpf_error *err)
{
    (void)theta;
    ltr *s = self;
    int rc = check_rows(s, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = s->n, R = rows->R;
    scratch w = carve(s, rows);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            w.T[r * n + i] = dphi_at(s, rows, r, i) * v[r * n + i];
    recurrent_minus(s, rows, w.T, n, v, w.G, out);
    cblas_dscal((int)(R * n), 1.0 / s->tau, out, 1);
    return KPF_OK;
}

/* out = (φ' ⊙ ((W Aᵀ ⊙ c) B) − W) / τ */
static int ltr_jzT(void *self, const double *theta, const kpf_rows *rows, const double *wv,
                   double *out, kpf_error *err)
{
    (void)theta;
    ltr *s = self;
    int rc = check_rows(s, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = s->n, rk = s->rk, R = rows->R;
    scratch w = carve(s, rows);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)rk, (int)n, 1.0, wv,
                (int)n, s->A, (int)n, 0.0, w.P, (int)rk);
    scale_by_c(s, rows, w.P);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)rk, 1.0, w.P,
                (int)rk, s->Bf, (int)n, 0.0, w.T, (int)n);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++) {
            size_t k = r * n + i;
            out[k] = (dphi_at(s, rows, r, i) * w.T[k] - wv[k]) / s->tau;
        }
    return KPF_OK;
}

/* Directions of the unit factors and of c from a θ direction. */
static void theta_dirs(const ltr *s, const double *dth, scratch *w)
{
    unit_tangent(s->rk, s->n, s->A, s->na, dth + s->off[BLK_A], w->dA);
    unit_tangent(s->rk, s->n, s->Bf, s->nb, dth + s->off[BLK_B], w->dB);
    kpf_ltr_trial_factors(s->rk, s->K, s->L, dth + s->off[BLK_C], w->dC);
}

/* out = ( ((H dBᵀ)⊙c + (H Bᵀ)⊙dc) A + ((H Bᵀ)⊙c) dA + X dBinᵀ ) / τ */
static int ltr_jth(void *self, const double *theta, const kpf_rows *rows, const double *dth,
                   double *out, kpf_error *err)
{
    (void)theta;
    ltr *s = self;
    int rc = check_rows(s, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    if (!dth)
        return kpf_error_set(err, KPF_EINVAL, "ltr: jth: dθ is NULL");
    const size_t n = s->n, rk = s->rk, R = rows->R, K = s->K;
    scratch w = carve(s, rows);
    theta_dirs(s, dth, &w);
    size_t ld;
    const double *H = phi_block(s, rows, w.H, &ld);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)rk, (int)n, 1.0, H,
                (int)ld, s->Bf, (int)n, 0.0, w.G, (int)rk);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)rk, (int)n, 1.0, H,
                (int)ld, w.dB, (int)n, 0.0, w.P, (int)rk);
    for (size_t r = 0; r < R; r++) {
        size_t k = rows->trial[r];
        for (size_t j = 0; j < rk; j++) {
            double g = w.G[r * rk + j], c = s->C[j * K + k], dc = w.dC[j * K + k];
            w.P[r * rk + j] = w.P[r * rk + j] * c + g * dc;
            w.G[r * rk + j] = g * c;
        }
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)rk, 1.0, w.P,
                (int)rk, s->A, (int)n, 0.0, out, (int)n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)rk, 1.0, w.G,
                (int)rk, w.dA, (int)n, 1.0, out, (int)n);
    add_input(s, dth + s->off[BLK_IN], rows, out);
    cblas_dscal((int)(R * n), 1.0 / s->tau, out, 1);
    return KPF_OK;
}

/* g += J_θᵀ W summed over rows:
 *   unit a:  (G⊙c)ᵀ W        unit b:  (P⊙c)ᵀ H,   P = W Aᵀ
 *   c_j^{(k)}: Σ_{rows of trial k} P_j G_j        Bin: Wᵀ X
 * then back through the normalisation and the smoothing, all over τ. */
static int ltr_jthT(void *self, const double *theta, const kpf_rows *rows, const double *wv,
                    double *g, kpf_error *err)
{
    (void)theta;
    ltr *s = self;
    int rc = check_rows(s, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    if (!g)
        return kpf_error_set(err, KPF_EINVAL, "ltr: jthT: g is NULL");
    const size_t n = s->n, rk = s->rk, R = rows->R, K = s->K;
    const double it = 1.0 / s->tau;
    scratch w = carve(s, rows);
    size_t ld;
    const double *H = phi_block(s, rows, w.H, &ld);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)rk, (int)n, 1.0, H,
                (int)ld, s->Bf, (int)n, 0.0, w.G, (int)rk);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)rk, (int)n, 1.0, wv,
                (int)n, s->A, (int)n, 0.0, w.P, (int)rk);
    memset(w.dC, 0, rk * K * sizeof(double));
    for (size_t r = 0; r < R; r++) {
        size_t k = rows->trial[r];
        for (size_t j = 0; j < rk; j++) {
            double gg = w.G[r * rk + j], p = w.P[r * rk + j], c = s->C[j * K + k];
            w.dC[j * K + k] += p * gg;
            w.G[r * rk + j] = gg * c;
            w.P[r * rk + j] = p * c;
        }
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rk, (int)n, (int)R, it, w.G,
                (int)rk, wv, (int)n, 0.0, w.dA, (int)n);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rk, (int)n, (int)R, it, w.P,
                (int)rk, H, (int)ld, 0.0, w.dB, (int)n);
    unit_cotangent_add(rk, n, s->A, s->na, w.dA, g + s->off[BLK_A]);
    unit_cotangent_add(rk, n, s->Bf, s->nb, w.dB, g + s->off[BLK_B]);
    double *gc = g + s->off[BLK_C];
    if (s->smooth) /* ∂c̄ (rk×K) += ∂C L */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rk, (int)K, (int)K, it,
                    w.dC, (int)K, s->L, (int)K, 1.0, gc, (int)K);
    else
        cblas_daxpy((int)(rk * K), it, w.dC, 1, gc, 1);
    if (s->n_in && rows->x)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)s->n_in, (int)R, it,
                    wv, (int)n, rows->x, (int)s->n_in, 1.0, g + s->off[BLK_IN], (int)s->n_in);
    return KPF_OK;
}

/* ---- readout y = M φ(x) -------------------------------------------------- */

static int ro_check(const ltr *s, const kpf_rows *rows, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows is NULL");
    if (!s->prepared)
        return kpf_error_set(err, KPF_EINVAL, "ltr: prepare was not called after θ changed");
    if (rows->R && (!rows->z || !rows->work))
        return kpf_error_set(err, KPF_EINVAL, "ltr: readout needs rows->z and rows->work");
    return KPF_OK;
}

static int ltr_readout(void *self, const double *theta, const kpf_rows *rows, double *out,
                       kpf_error *err)
{
    ltr *s = self;
    int rc = ro_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    scratch w = carve(s, rows);
    size_t ld;
    const double *H = phi_block(s, rows, w.H, &ld);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows->R, (int)s->n_out,
                (int)s->n, 1.0, H, (int)ld, theta + s->off[BLK_M], (int)s->n, 0.0, out,
                (int)s->n_out);
    return KPF_OK;
}

static int ltr_readout_jz(void *self, const double *theta, const kpf_rows *rows,
                          const double *v, double *out, kpf_error *err)
{
    ltr *s = self;
    int rc = ro_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    scratch w = carve(s, rows);
    const size_t n = s->n, R = rows->R;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            w.T[r * n + i] = dphi_at(s, rows, r, i) * v[r * n + i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)s->n_out, (int)n, 1.0,
                w.T, (int)n, theta + s->off[BLK_M], (int)n, 0.0, out, (int)s->n_out);
    return KPF_OK;
}

static int ltr_readout_jzT(void *self, const double *theta, const kpf_rows *rows,
                           const double *wv, double *out, kpf_error *err)
{
    ltr *s = self;
    int rc = ro_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = s->n, R = rows->R;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)s->n_out, 1.0,
                wv, (int)s->n_out, theta + s->off[BLK_M], (int)n, 0.0, out, (int)n);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            out[r * n + i] *= dphi_at(s, rows, r, i);
    return KPF_OK;
}

static int ltr_readout_jth(void *self, const double *theta, const kpf_rows *rows,
                           const double *dth, double *out, kpf_error *err)
{
    (void)theta;
    ltr *s = self;
    int rc = ro_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    scratch w = carve(s, rows);
    size_t ld;
    const double *H = phi_block(s, rows, w.H, &ld);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows->R, (int)s->n_out,
                (int)s->n, 1.0, H, (int)ld, dth + s->off[BLK_M], (int)s->n, 0.0, out,
                (int)s->n_out);
    return KPF_OK;
}

static int ltr_readout_jthT(void *self, const double *theta, const kpf_rows *rows,
                            const double *wv, double *g, kpf_error *err)
{
    (void)theta;
    ltr *s = self;
    int rc = ro_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    scratch w = carve(s, rows);
    size_t ld;
    const double *H = phi_block(s, rows, w.H, &ld);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)s->n_out, (int)s->n,
                (int)rows->R, 1.0, wv, (int)s->n_out, H, (int)ld, 1.0, g + s->off[BLK_M],
                (int)s->n);
    return KPF_OK;
}

/* ---- initial state x₀ = Σ_r q_r a_r --------------------------------------- */

static int z0_check(const ltr *s, const kpf_rows *rows, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows is NULL");
    if (!s->prepared)
        return kpf_error_set(err, KPF_EINVAL, "ltr: prepare was not called after θ changed");
    if (rows->R && !rows->work)
        return kpf_error_set(err, KPF_EINVAL, "ltr: rows->work is NULL");
    return KPF_OK;
}

static void fill_rows(size_t R, size_t n, const double *v, double *out)
{
    for (size_t r = 0; r < R; r++)
        memcpy(out + r * n, v, n * sizeof(double));
}

static int ltr_init_state(void *self, const double *theta, const kpf_rows *rows, double *out,
                          kpf_error *err)
{
    ltr *s = self;
    int rc = z0_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    scratch w = carve(s, rows);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)s->rk, (int)s->n, 1.0, s->A, (int)s->n,
                theta + s->off[BLK_Q], 1, 0.0, w.vec, 1);
    fill_rows(rows->R, s->n, w.vec, out);
    return KPF_OK;
}

static int ltr_init_state_jth(void *self, const double *theta, const kpf_rows *rows,
                              const double *dth, double *out, kpf_error *err)
{
    ltr *s = self;
    int rc = z0_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    if (!dth)
        return kpf_error_set(err, KPF_EINVAL, "ltr: init_state_jth: dθ is NULL");
    scratch w = carve(s, rows);
    unit_tangent(s->rk, s->n, s->A, s->na, dth + s->off[BLK_A], w.dA);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)s->rk, (int)s->n, 1.0, s->A, (int)s->n,
                dth + s->off[BLK_Q], 1, 0.0, w.vec, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)s->rk, (int)s->n, 1.0, w.dA, (int)s->n,
                theta + s->off[BLK_Q], 1, 1.0, w.vec, 1);
    fill_rows(rows->R, s->n, w.vec, out);
    return KPF_OK;
}

static int ltr_init_state_jthT(void *self, const double *theta, const kpf_rows *rows,
                               const double *wv, double *g, kpf_error *err)
{
    ltr *s = self;
    int rc = z0_check(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    if (!g)
        return kpf_error_set(err, KPF_EINVAL, "ltr: init_state_jthT: g is NULL");
    const size_t n = s->n, rk = s->rk;
    scratch w = carve(s, rows);
    /* sum of the rows' cotangents: one GEMV with a ones vector would need
     * scratch of R; a plain sum is the same work. */
    memset(w.vec, 0, n * sizeof(double));
    for (size_t r = 0; r < rows->R; r++)
        cblas_daxpy((int)n, 1.0, wv + r * n, 1, w.vec, 1);
    const double *q = theta + s->off[BLK_Q];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)rk, (int)n, 1.0, s->A, (int)n, w.vec, 1,
                1.0, g + s->off[BLK_Q], 1);
    for (size_t j = 0; j < rk; j++)
        for (size_t i = 0; i < n; i++)
            w.dA[j * n + i] = q[j] * w.vec[i];
    unit_cotangent_add(rk, n, s->A, s->na, w.dA, g + s->off[BLK_A]);
    return KPF_OK;
}

/* ---- extension data ---------------------------------------------------------- */

static const void *ltr_extension(void *self, const char *name)
{
    ltr *s = self;
    if (!s || !name)
        return NULL;
    if (strcmp(name, KPF_LTR_FACTORS_INTERFACE) == 0)
        return &s->factors;
    if (strcmp(name, KPF_ACTIVATION_INTERFACE) == 0)
        return &s->act_info;
    return NULL;
}

/* ---- descriptor ------------------------------------------------------------ */

static const kpf_model_desc ltr_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "ltr",
    .summary = "low-tensor-rank RNN tau dx/dt = W(k) phi(x) - x + B u, W(k) = sum_r c_r(k) a_r "
               "b_r^T, readout M phi(x) (Pellegrino et al. 2023)",
    .flags = KPF_MODEL_CONTINUOUS,
    .create = ltr_create,
    .destroy = ltr_destroy,
    .params = ltr_params,
    .f = ltr_f,
    .jz = ltr_jz,
    .jzT = ltr_jzT,
    .jth = ltr_jth,
    .jthT = ltr_jthT,
    .prepare = ltr_prepare,
    .tape = ltr_tape,
    .readout = ltr_readout,
    .readout_jz = ltr_readout_jz,
    .readout_jzT = ltr_readout_jzT,
    .readout_jth = ltr_readout_jth,
    .readout_jthT = ltr_readout_jthT,
    .init_state = ltr_init_state,
    .init_state_jth = ltr_init_state_jth,
    .init_state_jthT = ltr_init_state_jthT,
    .extension = ltr_extension,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    return index == 0 ? &ltr_desc : NULL;
}
