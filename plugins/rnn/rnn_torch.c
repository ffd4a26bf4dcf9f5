/* rnn_torch — PyTorch's nn.RNN (tanh, one layer) as a discrete map, the
 * cell of KPFlow's Fig. 2-3 code (rnn.c says why this is a second
 * descriptor of the rnn plugin rather than a key):
 *
 *     h' = tanh(a),   a = W_ih x + b_ih + W_hh h + b_hh
 *
 * The state is h, so P and K act on hidden states as in KPFlow's analysis
 * (the z-form "rnn" has the same trajectories, h = tanh(z), but operators
 * on z).
 *
 * θ blocks, in order, with PyTorch's names and layouts, so that an
 * nn.RNNCell's state dict (or nn.RNN's, under "…_l0"; kpf.torch.names/1)
 * loads unchanged from .safetensors (model.init.from):
 *   weight_ih  n×n_in,  weight_hh  n×n,  bias_ih  n,  bias_hh  n (with bias)
 *
 * YAML keys under `model:` (plugin: rnn_torch)
 *   n      [64]    hidden size, 1 … 100000
 *   bias   [true]  learned biases bias_ih, bias_hh (nn.RNN's default)
 *   g      [1.0]   the gain on weight_hh (= init.gain; KPFlow's init_level)
 *   init   {dist: uniform_pytorch | gaussian, gain: g}  [uniform_pytorch]
 *          uniform_pytorch: every entry U(−1/√n, 1/√n) in PyTorch's order
 *          (weight_ih, weight_hh, bias_ih, bias_hh, row-major), then
 *          weight_hh × gain: paper-g is Gaussian g/√3 (rnn_init.h).
 *          gaussian: weight_hh ~ N(0, g²/n), weight_ih ~ N(0, 1/n_in),
 *          biases 0 (kpf's rnn convention on this cell).
 *
 * Tape: 2n doubles per row, [tanh(a) | 1 − tanh²(a)].  Scratch: 2n doubles
 * per row (a, and a GEMM product when there is no tape).  A NULL rows->x is
 * a zero input.  Outputs may alias z, v or w of the same call: every GEMM
 * writes into scratch first. */
#include "kpf/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/model.h"
#include "kpf/param_safetensors.h"
#include "kpf/vmath.h"
#include "rnn_forms.h"
#include "rnn_init.h"

enum { B_WIH = 0, B_WHH = 1, B_BIH = 2, B_BHH = 3 };

typedef struct rnn_torch {
    size_t n, n_in;
    int bias;
    size_t n_theta, n_blocks;
    kpf_param_block blocks[4];
    double *theta0;
} rnn_torch;

/* ---- create / destroy / params --------------------------------------- */

static void rt_destroy(void *self)
{
    rnn_torch *m = self;
    if (!m)
        return;
    free(m->theta0);
    free(m);
}

static void draw_theta(rnn_torch *m, const rnn_init *init, gsl_rng *rng)
{
    const size_t n = m->n, n_in = m->n_in;
    double *Wih = m->theta0 + m->blocks[B_WIH].offset;
    double *Whh = m->theta0 + m->blocks[B_WHH].offset;
    if (init->dist == RNN_INIT_GAUSSIAN) {
        rnn_fill_gaussian(rng, init->gain / sqrt((double)n), n * n, Whh);
        rnn_fill_gaussian(rng, 1.0 / sqrt((double)n_in), n * n_in, Wih);
        return; /* biases stay 0 (calloc) */
    }
    const double a = 1.0 / sqrt((double)n);
    rnn_fill_uniform(rng, a, n * n_in, Wih);
    rnn_fill_uniform(rng, a, n * n, Whh);
    if (m->bias) {
        rnn_fill_uniform(rng, a, n, m->theta0 + m->blocks[B_BIH].offset);
        rnn_fill_uniform(rng, a, n, m->theta0 + m->blocks[B_BHH].offset);
    }
    for (size_t i = 0; i < n * n; i++)
        Whh[i] *= init->gain;
}

static int rt_create(const kpf_model_args *args, void **self, kpf_error *err)
{
    if (!args || !self)
        return kpf_error_set(err, KPF_EINVAL, "rnn_torch: create called with NULL arguments");
    if (args->struct_size < offsetof(kpf_model_args, rng) + sizeof(args->rng))
        return kpf_error_set(err, KPF_EABI, "rnn_torch: kpf_model_args too small (%u bytes)",
                             (unsigned)args->struct_size);
    *self = NULL;
    if (args->n_in < 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "rnn_torch: the task gives n_in = 0; rnn_torch needs at least one "
                             "input");
    if (!args->rng)
        return kpf_error_set(err, KPF_EINVAL, "rnn_torch: no random generator given");

    const kpf_node *node = args->node;
    size_t n;
    int bias, rc;
    rnn_init init;
    if ((rc = kpf_cfg_size(node, "n", KPF_CFG_OPTIONAL, 64, 1, 100000, &n, err)))
        return rc;
    if ((rc = kpf_cfg_bool(node, "bias", KPF_CFG_OPTIONAL, 1, &bias, err)))
        return rc;
    if ((rc = rnn_init_read(node, "rnn_torch", RNN_INIT_UNIFORM_PYTORCH, &init, err)))
        return rc;

    const size_t n_in = args->n_in;
    rnn_torch *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "rnn_torch: out of memory");
    m->n = n;
    m->n_in = n_in;
    m->bias = bias;
    size_t off = 0;
    m->blocks[B_WIH] = (kpf_param_block){"weight_ih", off, n, n_in};
    off += n * n_in;
    m->blocks[B_WHH] = (kpf_param_block){"weight_hh", off, n, n};
    off += n * n;
    m->n_blocks = 2;
    if (bias) {
        m->blocks[B_BIH] = (kpf_param_block){"bias_ih", off, n, 1};
        off += n;
        m->blocks[B_BHH] = (kpf_param_block){"bias_hh", off, n, 1};
        off += n;
        m->n_blocks = 4;
    }
    m->n_theta = off;
    m->theta0 = calloc(off, sizeof *m->theta0);
    if (!m->theta0) {
        free(m);
        return kpf_error_set(err, KPF_ENOMEM, "rnn_torch: out of memory for θ (%zu values)",
                             off);
    }
    draw_theta(m, &init, args->rng);
    *self = m;
    return KPF_OK;
}

static int rt_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    rnn_torch *m = self;
    if (!m || !L)
        return kpf_error_set(err, KPF_EINVAL, "rnn_torch: params called with NULL arguments");
    memset(L, 0, sizeof *L);
    L->n = m->n;
    L->n_in = m->n_in;
    L->n_theta = m->n_theta;
    L->n_blocks = m->n_blocks;
    L->blocks = m->blocks;
    L->theta0 = m->theta0;
    L->tape_width = 2 * m->n;
    L->work_per_row = 2 * m->n;
    return KPF_OK;
}

/* ---- shared pieces ------------------------------------------------------ */

static int check_rows(const kpf_rows *rows, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "rnn_torch: rows is NULL");
    if (rows->R > 0 && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "rnn_torch: rows->z is NULL");
    if (rows->R > 0 && !rows->work)
        return kpf_error_set(err, KPF_EINVAL,
                             "rnn_torch: rows->work is NULL (needs 2n doubles per row)");
    return KPF_OK;
}

/* out (R×n, ld n) = X Aᵀ + H Bᵀ (+ b1 + b2): the same affine map for the
 * pre-activation (A = W_ih, B = W_hh, biases) and for J_θ (their tangents). */
static void affine(const rnn_torch *m, const double *th, const kpf_rows *rows, double *out)
{
    const size_t n = m->n, R = rows->R, n_in = m->n_in;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n, 1.0, rows->z,
                (int)n, th + m->blocks[B_WHH].offset, (int)n, 0.0, out, (int)n);
    if (rows->x)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n_in, 1.0,
                    rows->x, (int)n_in, th + m->blocks[B_WIH].offset, (int)n_in, 1.0, out,
                    (int)n);
    if (!m->bias)
        return;
    const double *b1 = th + m->blocks[B_BIH].offset, *b2 = th + m->blocks[B_BHH].offset;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            out[r * n + i] += b1[i] + b2[i];
}

/* tanh'(a) = 1 − tanh²(a) as an R×n operand with its leading dimension:
 * the tape's second half, or computed into d (R×n) from θ. */
static const double *dtanh_block(const rnn_torch *m, const double *theta, const kpf_rows *rows,
                                 double *d, size_t *ld)
{
    const size_t n = m->n, R = rows->R;
    if (rows->tape) {
        *ld = 2 * n;
        return rows->tape + n;
    }
    affine(m, theta, rows, d);
    kpf_vtanh(R * n, d, d);
    for (size_t i = 0; i < R * n; i++)
        d[i] = 1.0 - d[i] * d[i];
    *ld = n;
    return d;
}

/* ---- ops ---------------------------------------------------------------- */

static int rt_f(void *self, const double *theta, const kpf_rows *rows, double *out,
                kpf_error *err)
{
    rnn_torch *m = self;
    int rc = check_rows(rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = m->n, R = rows->R;
    if (rows->tape) {
        for (size_t r = 0; r < R; r++)
            memcpy(out + r * n, rows->tape + r * 2 * n, n * sizeof *out);
        return KPF_OK;
    }
    affine(m, theta, rows, rows->work); /* reads z before out is written */
    kpf_vtanh(R * n, rows->work, out);
    return KPF_OK;
}

static int rt_tape(void *self, const double *theta, const kpf_rows *rows, double *out,
                   kpf_error *err)
{
    rnn_torch *m = self;
    int rc = check_rows(rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = m->n, R = rows->R;
    double *A = rows->work;
    affine(m, theta, rows, A);
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        double *s = out + r * 2 * n, *ds = s + n;
        kpf_vtanh(n, A + r * n, s);
        for (size_t i = 0; i < n; i++)
            ds[i] = 1.0 - s[i] * s[i];
    }
    return KPF_OK;
}

/* out = d ⊙ (V W_hhᵀ) */
static int rt_jz(void *self, const double *theta, const kpf_rows *rows, const double *v,
                 double *out, kpf_error *err)
{
    rnn_torch *m = self;
    int rc = check_rows(rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = m->n, R = rows->R;
    double *T = rows->work, *d = rows->work + R * n;
    size_t ld;
    const double *D = dtanh_block(m, theta, rows, d, &ld);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n, 1.0, v, (int)n,
                theta + m->blocks[B_WHH].offset, (int)n, 0.0, T, (int)n);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            out[r * n + i] = D[r * ld + i] * T[r * n + i];
    return KPF_OK;
}

/* out = (d ⊙ W) W_hh   (row r: J_hᵀ w = W_hhᵀ (tanh'(a) ⊙ w)) */
static int rt_jzT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                  double *out, kpf_error *err)
{
    rnn_torch *m = self;
    int rc = check_rows(rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = m->n, R = rows->R;
    double *T = rows->work, *d = rows->work + R * n;
    size_t ld;
    const double *D = dtanh_block(m, theta, rows, d, &ld);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            T[r * n + i] = D[r * ld + i] * w[r * n + i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)n, 1.0, T,
                (int)n, theta + m->blocks[B_WHH].offset, (int)n, 0.0, out, (int)n);
    return KPF_OK;
}

/* out = d ⊙ (X dW_ihᵀ + H dW_hhᵀ + db_ih + db_hh) */
static int rt_jth(void *self, const double *theta, const kpf_rows *rows, const double *dth,
                  double *out, kpf_error *err)
{
    rnn_torch *m = self;
    int rc = check_rows(rows, err);
    if (rc || rows->R == 0)
        return rc;
    if (!dth)
        return kpf_error_set(err, KPF_EINVAL, "rnn_torch: jth: dθ is NULL");
    const size_t n = m->n, R = rows->R;
    double *T = rows->work, *d = rows->work + R * n;
    size_t ld;
    const double *D = dtanh_block(m, theta, rows, d, &ld);
    affine(m, dth, rows, T);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            out[r * n + i] = D[r * ld + i] * T[r * n + i];
    return KPF_OK;
}

/* u = d ⊙ w;  g_ih += uᵀ X,  g_hh += uᵀ H,  g_bih += Σ_r u_r,  g_bhh += Σ_r u_r */
static int rt_jthT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                   double *g, kpf_error *err)
{
    rnn_torch *m = self;
    int rc = check_rows(rows, err);
    if (rc || rows->R == 0)
        return rc;
    if (!g)
        return kpf_error_set(err, KPF_EINVAL, "rnn_torch: jthT: g is NULL");
    const size_t n = m->n, R = rows->R, n_in = m->n_in;
    double *U = rows->work, *d = rows->work + R * n;
    size_t ld;
    const double *D = dtanh_block(m, theta, rows, d, &ld);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            U[r * n + i] = D[r * ld + i] * w[r * n + i];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)R, 1.0, U, (int)n,
                rows->z, (int)n, 1.0, g + m->blocks[B_WHH].offset, (int)n);
    if (rows->x)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n_in, (int)R, 1.0, U,
                    (int)n, rows->x, (int)n_in, 1.0, g + m->blocks[B_WIH].offset, (int)n_in);
    if (!m->bias)
        return KPF_OK;
    double *g1 = g + m->blocks[B_BIH].offset, *g2 = g + m->blocks[B_BHH].offset;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++) {
            g1[i] += U[r * n + i];
            g2[i] += U[r * n + i];
        }
    return KPF_OK;
}

/* ---- extension data ------------------------------------------------------ */

/* The blocks are PyTorch's own names; the loader also tries "…_l0" (nn.RNN). */
static const kpf_torch_name rt_torch_names[] = {{"weight_ih", "weight_ih", NULL},
                                                {"weight_hh", "weight_hh", NULL},
                                                {"bias_ih", "bias_ih", NULL},
                                                {"bias_hh", "bias_hh", NULL}};
static const kpf_torch_names rt_torch = {"nn.RNNCell", 4, rt_torch_names, NULL, 0.0};

static const void *rt_extension(void *self, const char *name)
{
    (void)self;
    return name && strcmp(name, KPF_TORCH_NAMES_INTERFACE) == 0 ? &rt_torch : NULL;
}

const kpf_model_desc kpf_rnn_torch_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "rnn_torch",
    .summary = "PyTorch nn.RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh), discrete (KPFlow Fig. "
               "2-3 code)",
    .flags = KPF_MODEL_DISCRETE,
    .create = rt_create,
    .destroy = rt_destroy,
    .params = rt_params,
    .f = rt_f,
    .jz = rt_jz,
    .jzT = rt_jzT,
    .jth = rt_jth,
    .jthT = rt_jthT,
    .prepare = NULL,
    .tape = rt_tape,
    .extension = rt_extension,
};
