/* gru — the gated recurrent unit as PyTorch's nn.GRUCell, a discrete map:
 *
 *     r  = σ(W_ir x + b_ir + W_hr h + b_hr)
 *     u  = σ(W_iz x + b_iz + W_hz h + b_hz)
 *     c  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
 *     h' = (1 − u) ⊙ c + u ⊙ h
 *
 * (PyTorch calls u "z" and c "n"; here z is the state, as everywhere in kpf.)
 *
 * θ blocks, in order, with PyTorch's names and layouts, so that a GRUCell's
 * state dict loads unchanged (model.init.from):
 *   weight_ih  3n×n_in  rows [W_ir; W_iz; W_in]
 *   weight_hh  3n×n     rows [W_hr; W_hz; W_hn]
 *   bias_ih    3n       [b_ir; b_iz; b_in]      (only with bias)
 *   bias_hh    3n       [b_hr; b_hz; b_hn]      (only with bias)
 * Initialisation as PyTorch: every entry U(−1/√n, 1/√n), drawn from
 * args->rng in block order (row-major); then weight_hh is multiplied by g
 * (KPFlow App. E.1 sweeps g on the recurrent weights).
 *
 * YAML keys under `model:`
 *   n     [64]    hidden size, 1 … 100000
 *   g     [1.0]   scale of the initial weight_hh
 *   bias  [true]  learned biases bias_ih, bias_hh
 *
 * Tape: 4n doubles per row, [r | u | c | W_hn h + b_hn] — the gates of the
 * forward pass, which every J op reads instead of recomputing them.  When a
 * J op is called without a tape it computes one for half the rows at a time
 * in its scratch.  Scratch: 4n doubles per row plus 4n.
 *
 * The gate nonlinearities go through kpf/vmath.h (vectorised, a few ulp from
 * libm's).  Element-wise loops over rows are split between OpenMP threads
 * when large; each entry is computed alike whatever the split, so results
 * do not depend on the thread count (the bias-gradient sums stay serial).
 *
 * A NULL rows->x is read as a zero input.  Outputs may alias the inputs
 * z, v or w of the same call. */
#include "kpf/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/model.h"
#include "kpf/param_safetensors.h"
#include "kpf/vmath.h"

typedef struct gru {
    size_t n, n_in;
    int bias;
    double g;
    size_t n_theta, n_blocks;
    size_t o_wih, o_whh, o_bih, o_bhh; /* block offsets */
    kpf_param_block blocks[4];
    double *theta0;
} gru;

/* ---- create / destroy / params --------------------------------------- */

static void gru_destroy(void *self)
{
    gru *m = self;
    if (!m)
        return;
    free(m->theta0);
    free(m);
}

static int gru_create(const kpf_model_args *args, void **self, kpf_error *err)
{
    if (!args || !self)
        return kpf_error_set(err, KPF_EINVAL, "gru: create called with NULL arguments");
    if (args->struct_size < offsetof(kpf_model_args, rng) + sizeof(args->rng))
        return kpf_error_set(err, KPF_EABI, "gru: kpf_model_args too small (%u bytes)",
                             (unsigned)args->struct_size);
    *self = NULL;
    if (args->n_in < 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "gru: the task gives n_in = 0; gru needs at least one input");
    if (!args->rng)
        return kpf_error_set(err, KPF_EINVAL, "gru: no random generator given");

    const kpf_node *node = args->node;
    size_t n;
    double g;
    int bias, rc;
    if ((rc = kpf_cfg_size(node, "n", KPF_CFG_OPTIONAL, 64, 1, 100000, &n, err)))
        return rc;
    if ((rc = kpf_cfg_double(node, "g", KPF_CFG_OPTIONAL, 1.0, 0.0, 1e6, &g, err)))
        return rc;
    if ((rc = kpf_cfg_bool(node, "bias", KPF_CFG_OPTIONAL, 1, &bias, err)))
        return rc;

    const size_t n_in = args->n_in;
    gru *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "gru: out of memory");
    m->n = n;
    m->n_in = n_in;
    m->bias = bias;
    m->g = g;
    size_t off = 0;
    m->o_wih = off;
    m->blocks[0] = (kpf_param_block){"weight_ih", off, 3 * n, n_in};
    off += 3 * n * n_in;
    m->o_whh = off;
    m->blocks[1] = (kpf_param_block){"weight_hh", off, 3 * n, n};
    off += 3 * n * n;
    m->n_blocks = 2;
    if (bias) {
        m->o_bih = off;
        m->blocks[2] = (kpf_param_block){"bias_ih", off, 3 * n, 1};
        off += 3 * n;
        m->o_bhh = off;
        m->blocks[3] = (kpf_param_block){"bias_hh", off, 3 * n, 1};
        off += 3 * n;
        m->n_blocks = 4;
    }
    m->n_theta = off;
    m->theta0 = malloc(off * sizeof *m->theta0);
    if (!m->theta0) {
        free(m);
        return kpf_error_set(err, KPF_ENOMEM, "gru: out of memory for θ (%zu values)", off);
    }
    const double k = 1.0 / sqrt((double)n);
    for (size_t i = 0; i < off; i++)
        m->theta0[i] = k * (2.0 * gsl_rng_uniform(args->rng) - 1.0);
    for (size_t i = 0; i < 3 * n * n; i++)
        m->theta0[m->o_whh + i] *= g;
    *self = m;
    return KPF_OK;
}

static int gru_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    gru *m = self;
    if (!m || !L)
        return kpf_error_set(err, KPF_EINVAL, "gru: params called with NULL arguments");
    memset(L, 0, sizeof *L);
    L->n = m->n;
    L->n_in = m->n_in;
    L->n_theta = m->n_theta;
    L->n_blocks = m->n_blocks;
    L->blocks = m->blocks;
    L->theta0 = m->theta0;
    L->tape_width = 4 * m->n;
    L->work_fixed = 4 * m->n;
    L->work_per_row = 4 * m->n;
    L->dt_default = 1.0;
    return KPF_OK;
}

/* ---- the forward pass: gates into a tape ------------------------------ */

/* One tape row t = [a_r | a_z | a_n | W_hn h] (pre-activations without
 * biases) → [r | u | c | W_hn h + b_hn], in three vectorised passes. */
static void gate_row(size_t n, const double *bih, const double *bhh, double *t)
{
    if (bih)
        for (size_t i = 0; i < n; i++) {
            t[i] += bih[i] + bhh[i];
            t[n + i] += bih[n + i] + bhh[n + i];
            t[2 * n + i] += bih[2 * n + i];
            t[3 * n + i] += bhh[2 * n + i];
        }
    kpf_vsigmoid(2 * n, t, t); /* r and u, side by side */
    for (size_t i = 0; i < n; i++)
        t[2 * n + i] += t[i] * t[3 * n + i];
    kpf_vtanh(n, t + 2 * n, t + 2 * n);
}

/* The gates' linear part, bias-free, for weights (wih, whh) — θ's in the
 * gates, a tangent's in J_θ·v: T (R×4n, leading dimension 4n) =
 * [X W_irᵀ + H W_hrᵀ | X W_izᵀ + H W_hzᵀ | X W_inᵀ | H W_hnᵀ]. */
static void preacts(const gru *m, size_t R, const double *Z, const double *X,
                    const double *wih, const double *whh, double *T)
{
    const size_t n = m->n, n_in = m->n_in, ld = 4 * n;
    if (X) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)(3 * n), (int)n_in,
                    1.0, X, (int)n_in, wih, (int)n_in, 0.0, T, (int)ld);
    } else {
        for (size_t r = 0; r < R; r++)
            memset(T + r * ld, 0, 3 * n * sizeof *T);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)(2 * n), (int)n, 1.0, Z,
                (int)n, whh, (int)n, 1.0, T, (int)ld);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n, 1.0, Z,
                (int)n, whh + 2 * n * n, (int)n, 0.0, T + 3 * n, (int)ld);
}

/* T (R×4n, leading dimension 4n) = [r | u | c | W_hn h + b_hn] at rows Z, X. */
static void gates(const gru *m, const double *theta, size_t R, const double *Z,
                  const double *X, double *T)
{
    const size_t n = m->n, ld = 4 * n;
    const double *Wih = theta + m->o_wih, *Whh = theta + m->o_whh;
    const double *bih = m->bias ? theta + m->o_bih : NULL;
    const double *bhh = m->bias ? theta + m->o_bhh : NULL;
    preacts(m, R, Z, X, Wih, Whh, T);
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++)
        gate_row(n, bih, bhh, T + r * ld);
}

/* ---- the J ops on a block with its tape ------------------------------- */

enum { OP_JZ, OP_JZT, OP_JTH, OP_JTHT };

/* out = J_z v:  A = V W_hhᵀ, then
 * out = (h − c) u(1−u) A_z + (1−u)(1−c²) (r(1−r) A_r hn + r A_n) + u v. */
static void jz_core(const gru *m, const double *theta, size_t R, const double *Z,
                    const double *T, const double *v, double *out, double *A)
{
    const size_t n = m->n, ld = 4 * n;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)(3 * n), (int)n, 1.0, v,
                (int)n, theta + m->o_whh, (int)n, 0.0, A, (int)(3 * n));
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *t = T + r * ld, *a = A + r * 3 * n, *h = Z + r * n;
        for (size_t i = 0; i < n; i++) {
            double rr = t[i], u = t[n + i], c = t[2 * n + i], hn = t[3 * n + i];
            double dan = rr * (1.0 - rr) * a[i] * hn + rr * a[2 * n + i];
            size_t k = r * n + i;
            out[k] = (h[i] - c) * u * (1.0 - u) * a[n + i] + (1.0 - u) * (1.0 - c * c) * dan +
                     u * v[k];
        }
    }
}

/* Backward through one step for cotangent w: gr, gz, gn are the gradients
 * of the pre-activations a_r, a_z, a_n. */
static inline void back(const double *t, size_t n, size_t i, double h, double w, double *gr,
                        double *gz, double *gn)
{
    double rr = t[i], u = t[n + i], c = t[2 * n + i], hn = t[3 * n + i];
    *gz = w * (h - c) * u * (1.0 - u);
    *gn = w * (1.0 - u) * (1.0 - c * c);
    *gr = *gn * hn * rr * (1.0 - rr);
}

/* out = J_zᵀ w = u ⊙ w + G W_hh,  G = [g_r | g_z | g_n ⊙ r] (R×3n). */
static void jzT_core(const gru *m, const double *theta, size_t R, const double *Z,
                     const double *T, const double *w, double *out, double *G)
{
    const size_t n = m->n, ld = 4 * n;
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *t = T + r * ld;
        double *gg = G + r * 3 * n;
        for (size_t i = 0; i < n; i++) {
            size_t k = r * n + i;
            double gr, gz, gn;
            back(t, n, i, Z[k], w[k], &gr, &gz, &gn);
            gg[i] = gr;
            gg[n + i] = gz;
            gg[2 * n + i] = gn * t[i];
        }
    }
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            out[r * n + i] = T[r * ld + n + i] * w[r * n + i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)(3 * n), 1.0,
                G, (int)(3 * n), theta + m->o_whh, (int)n, 1.0, out, (int)n);
}

/* out = J_θ dθ.  A (R×4n) = [X dW_i{r,z,n}ᵀ + H dW_h{r,z}ᵀ on the first 2n | … | H dW_hnᵀ]. */
static void jth_core(const gru *m, size_t R, const double *Z, const double *X,
                     const double *T, const double *dth, double *out, double *A)
{
    const size_t n = m->n, ld = 4 * n;
    const double *dWih = dth + m->o_wih, *dWhh = dth + m->o_whh;
    const double *dbih = m->bias ? dth + m->o_bih : NULL;
    const double *dbhh = m->bias ? dth + m->o_bhh : NULL;
    preacts(m, R, Z, X, dWih, dWhh, A);
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *t = T + r * ld, *a = A + r * ld, *h = Z + r * n;
        for (size_t i = 0; i < n; i++) {
            double ar = a[i], az = a[n + i], ain = a[2 * n + i], ahn = a[3 * n + i];
            if (dbih) {
                ar += dbih[i] + dbhh[i];
                az += dbih[n + i] + dbhh[n + i];
                ain += dbih[2 * n + i];
                ahn += dbhh[2 * n + i];
            }
            double rr = t[i], u = t[n + i], c = t[2 * n + i], hn = t[3 * n + i];
            double dan = ain + rr * (1.0 - rr) * ar * hn + rr * ahn;
            out[r * n + i] = (h[i] - c) * u * (1.0 - u) * az + (1.0 - u) * (1.0 - c * c) * dan;
        }
    }
}

/* g += J_θᵀ w, summed over rows.  G (R×4n) = [g_r | g_z | g_n | g_n ⊙ r]:
 * weight_ih += G[:, 0:3n]ᵀ X, weight_hh += [G[:, 0:2n] | G[:, 3n:4n]]ᵀ H,
 * bias_ih += Σ G[:, 0:3n], bias_hh += Σ [G[:, 0:2n] | G[:, 3n:4n]]. */
static void jthT_core(const gru *m, size_t R, const double *Z, const double *X,
                      const double *T, const double *w, double *g, double *G)
{
    const size_t n = m->n, n_in = m->n_in, ld = 4 * n;
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *t = T + r * ld;
        double *gg = G + r * ld;
        for (size_t i = 0; i < n; i++) {
            size_t k = r * n + i;
            double gr, gz, gn;
            back(t, n, i, Z[k], w[k], &gr, &gz, &gn);
            gg[i] = gr;
            gg[n + i] = gz;
            gg[2 * n + i] = gn;
            gg[3 * n + i] = gn * t[i];
        }
    }
    double *gWih = g + m->o_wih, *gWhh = g + m->o_whh;
    if (X)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(3 * n), (int)n_in, (int)R,
                    1.0, G, (int)ld, X, (int)n_in, 1.0, gWih, (int)n_in);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(2 * n), (int)n, (int)R, 1.0, G,
                (int)ld, Z, (int)n, 1.0, gWhh, (int)n);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)R, 1.0, G + 3 * n,
                (int)ld, Z, (int)n, 1.0, gWhh + 2 * n * n, (int)n);
    if (m->bias) {
        double *gbih = g + m->o_bih, *gbhh = g + m->o_bhh;
        for (size_t r = 0; r < R; r++) {
            const double *gg = G + r * ld;
            for (size_t j = 0; j < 3 * n; j++)
                gbih[j] += gg[j];
            for (size_t j = 0; j < 2 * n; j++)
                gbhh[j] += gg[j];
            for (size_t i = 0; i < n; i++)
                gbhh[2 * n + i] += gg[3 * n + i];
        }
    }
}

/* ---- op entry points ---------------------------------------------------- */

static int check_rows(const gru *m, const kpf_rows *rows, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "gru: rows is NULL");
    if (rows->R > 0 && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "gru: rows->z is NULL");
    if (rows->R > 0 && !rows->work)
        return kpf_error_set(err, KPF_EINVAL,
                             "gru: rows->work is NULL (needs %zu + %zu doubles per row)",
                             4 * m->n, 4 * m->n);
    return KPF_OK;
}

/* Run J op `op` on rows [r0, r0 + R) with tape T and scratch S. */
static void run_core(const gru *m, const double *theta, int op, const kpf_rows *rows,
                     size_t r0, size_t R, const double *T, const double *in, double *out,
                     double *S)
{
    const size_t n = m->n;
    const double *Z = rows->z + r0 * n;
    const double *X = rows->x ? rows->x + r0 * m->n_in : NULL;
    switch (op) {
    case OP_JZ: jz_core(m, theta, R, Z, T, in + r0 * n, out + r0 * n, S); break;
    case OP_JZT: jzT_core(m, theta, R, Z, T, in + r0 * n, out + r0 * n, S); break;
    case OP_JTH: jth_core(m, R, Z, X, T, in, out + r0 * n, S); break;
    default: jthT_core(m, R, Z, X, T, in + r0 * n, out, S); break;
    }
}

/* With a tape: one pass over all rows.  Without: the tape of half the rows
 * at a time is computed into the first part of the scratch. */
static int j_op(void *self, const double *theta, const kpf_rows *rows, int op,
                const double *in, double *out, kpf_error *err)
{
    gru *m = self;
    int rc = check_rows(m, rows, err);
    if (rc)
        return rc;
    if (!in || !out)
        return kpf_error_set(err, KPF_EINVAL, "gru: NULL input or output vector");
    const size_t R = rows->R, w4 = 4 * m->n;
    if (R == 0)
        return KPF_OK;
    if (rows->tape) {
        run_core(m, theta, op, rows, 0, R, rows->tape, in, out, rows->work);
        return KPF_OK;
    }
    const size_t chunk = (R + 1) / 2;
    double *T = rows->work, *S = rows->work + w4 * chunk;
    for (size_t r0 = 0; r0 < R; r0 += chunk) {
        size_t Rc = R - r0 < chunk ? R - r0 : chunk;
        gates(m, theta, Rc, rows->z + r0 * m->n, rows->x ? rows->x + r0 * m->n_in : NULL, T);
        run_core(m, theta, op, rows, r0, Rc, T, in, out, S);
    }
    return KPF_OK;
}

/* out = h' = (1 − u) ⊙ c + u ⊙ h.  The gates come from rows->tape when given
 * (the steppers fill it at these rows just before calling f), else they are
 * computed into the scratch. */
static int gru_f(void *self, const double *theta, const kpf_rows *rows, double *out,
                 kpf_error *err)
{
    gru *m = self;
    int rc = check_rows(m, rows, err);
    if (rc)
        return rc;
    const size_t n = m->n, R = rows->R, ld = 4 * n;
    if (R == 0)
        return KPF_OK;
    const double *T = rows->tape;
    if (!T) {
        gates(m, theta, R, rows->z, rows->x, rows->work);
        T = rows->work;
    }
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *u = T + r * ld + n, *c = T + r * ld + 2 * n, *h = rows->z + r * n;
        double *o = out + r * n;
        for (size_t i = 0; i < n; i++)
            o[i] = (1.0 - u[i]) * c[i] + u[i] * h[i];
    }
    return KPF_OK;
}

static int gru_tape(void *self, const double *theta, const kpf_rows *rows, double *out,
                    kpf_error *err)
{
    gru *m = self;
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "gru: rows is NULL");
    if (rows->R > 0 && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "gru: rows->z is NULL");
    if (rows->R > 0)
        gates(m, theta, rows->R, rows->z, rows->x, out);
    return KPF_OK;
}

static int gru_jz(void *self, const double *theta, const kpf_rows *rows, const double *v,
                  double *out, kpf_error *err)
{
    return j_op(self, theta, rows, OP_JZ, v, out, err);
}

static int gru_jzT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                   double *out, kpf_error *err)
{
    return j_op(self, theta, rows, OP_JZT, w, out, err);
}

static int gru_jth(void *self, const double *theta, const kpf_rows *rows, const double *dth,
                   double *out, kpf_error *err)
{
    return j_op(self, theta, rows, OP_JTH, dth, out, err);
}

static int gru_jthT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                    double *g, kpf_error *err)
{
    return j_op(self, theta, rows, OP_JTHT, w, g, err);
}

/* ---- extension data ---------------------------------------------------- */

/* The blocks already carry PyTorch's names (kpf/param_safetensors.h). */
static const kpf_torch_name gru_torch_names[] = {{"weight_ih", "weight_ih", NULL},
                                                 {"weight_hh", "weight_hh", NULL},
                                                 {"bias_ih", "bias_ih", NULL},
                                                 {"bias_hh", "bias_hh", NULL}};
static const kpf_torch_names gru_torch = {"nn.GRUCell", 4, gru_torch_names, NULL, 0.0};

static const void *gru_extension(void *self, const char *name)
{
    (void)self;
    return name && strcmp(name, KPF_TORCH_NAMES_INTERFACE) == 0 ? &gru_torch : NULL;
}

/* ---- descriptor -------------------------------------------------------- */

static const kpf_model_desc gru_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "gru",
    .summary = "GRU, PyTorch nn.GRUCell convention (discrete map; gates r, z, n)",
    .flags = KPF_MODEL_DISCRETE,
    .create = gru_create,
    .destroy = gru_destroy,
    .params = gru_params,
    .f = gru_f,
    .jz = gru_jz,
    .jzT = gru_jzT,
    .jth = gru_jth,
    .jthT = gru_jthT,
    .prepare = NULL,
    .tape = gru_tape,
    .extension = gru_extension,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    return index == 0 ? &gru_desc : NULL;
}
