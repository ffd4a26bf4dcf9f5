/* rnn — the vanilla RNN, in two forms, two descriptors of this one file:
 *
 *   "rnn"        (this file) the continuous-time z-form of KPFlow eq. 8,
 *                    dz/dt = f(z, x; θ) = −z + W σ(z) + W_in x  (+ b);
 *                with the core's Euler step and dt = 1 (the default) the
 *                discrete map is z' = W σ(z) + W_in x + b.
 *   "rnn_torch"  (rnn_torch.c) PyTorch's nn.RNN, the discrete map
 *                    h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
 *                in the hidden state h = σ(z), with PyTorch's parameter
 *                names, the form of KPFlow's Fig. 2-3 code.
 *
 * Why two descriptors and not a `form:` key: whether a model is a discrete
 * map or a vector field the core steps is a property of the descriptor
 * (KPF_MODEL_DISCRETE / KPF_MODEL_CONTINUOUS, read before create), and the
 * two forms have different θ blocks, tapes and PyTorch tables.  The two
 * forms' trajectories agree (h = σ(z)), but their operators P and K act on
 * different states (z or h), so their spectra differ: KPFlow's are h's.
 *
 * YAML keys under `model:` (plugin: rnn)
 *   n            [64]    hidden size, 1 … 100000
 *   g            [1.0]   gain: W_ij ~ N(0, g²/n)  (= init.gain)
 *   init         {dist: gaussian | uniform_pytorch, gain: g}  [gaussian]
 *                (rnn_init.h).  uniform_pytorch draws W_in, W, then b (as
 *                b_ih + b_hh) from U(−1/√n, 1/√n) in PyTorch's order and
 *                multiplies W by the gain; paper-g is Gaussian g/√3.
 *   activation   [tanh]  tanh | relu | linear | softplus (kpf/activation.h)
 *   input_scale  [1.0]   gaussian only: W_in_ij ~ N(0, input_scale²/n_in).
 *                        Chosen so that the input drive W_in x of one unit
 *                        has variance input_scale²·E[x²] whatever n_in is
 *                        (fan-in scaling, the same convention as W's g²/n).
 *   bias         [false] add a learned bias b, initialised to 0 (gaussian)
 *
 * θ blocks, in order: W (n×n), W_in (n×n_in), b (n, only with bias).  With
 * gaussian, W is drawn first, then W_in, each in row-major order, from
 * args->rng.
 *
 * Tape: 2n doubles per row, [σ(z) | σ'(z)].  The J ops read it when
 * rows->tape is given and compute σ, σ' on the fly otherwise.  Scratch:
 * n doubles per row (an R×n matrix operand of the GEMMs).
 *
 * tanh goes through kpf_vtanh (vectorised, a few ulp from libm's).  The
 * element-wise loops over rows are split between OpenMP threads when large;
 * each entry is computed alike whatever the split, so results do not depend
 * on the thread count.
 *
 * A NULL rows->x is read as a zero input.  Outputs may alias the inputs
 * z, v or w of the same call.
 *
 * Extension "kpf.activation/1" (kpf/activation.h): φ = σ, block "W"
 * (∂f_i/∂W_ij = σ(z_j)). */
#include "kpf/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/activation.h"
#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/model.h"
#include "kpf/param_safetensors.h"
#include "kpf/vmath.h"
#include "rnn_forms.h"
#include "rnn_init.h"

typedef struct rnn {
    size_t n, n_in;
    int act;
    int bias;
    double g, input_scale;
    size_t n_theta;
    size_t n_blocks;
    kpf_param_block blocks[3];
    double *theta0;
    kpf_activation_info act_info; /* the "kpf.activation/1" table */
} rnn;

/* ---- checks shared by the ops --------------------------------------- */

static int check_rows(const rnn *m, const kpf_rows *rows, int need_work, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "rnn: rows is NULL");
    if (rows->R > 0 && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "rnn: rows->z is NULL");
    if (need_work && rows->R > 0 && !rows->work)
        return kpf_error_set(err, KPF_EINVAL,
                             "rnn: rows->work is NULL (needs %zu doubles per row)", m->n);
    return KPF_OK;
}

/* σ(Z) as an R×n operand: the tape's first half (leading dimension 2n) when
 * present, else computed into work (leading dimension n). */
static const double *sigma_block(const rnn *m, const kpf_rows *rows, size_t *ld)
{
    const size_t n = m->n, R = rows->R;
    if (rows->tape) {
        *ld = 2 * n;
        return rows->tape;
    }
    double *s = rows->work;
    if (m->act == KPF_ACTIVATION_TANH)
        kpf_vtanh(R * n, rows->z, s);
    else
        for (size_t i = 0; i < R * n; i++)
            s[i] = kpf_activation_phi(m->act, rows->z[i]);
    *ld = n;
    return s;
}

/* σ'(z) of entry (r, i) without a tape. */
static inline double dsig_untaped(const rnn *m, const kpf_rows *rows, size_t r, size_t i)
{
    return kpf_activation_dphi(m->act, rows->z[r * m->n + i]);
}

/* ---- create / destroy / params --------------------------------------- */

static void rnn_destroy(void *self)
{
    rnn *m = self;
    if (!m)
        return;
    free(m->theta0);
    free(m);
}

/* The initial θ.  gaussian: W ~ N(0, g²/n), then W_in ~ N(0, s²/n_in), b = 0.
 * uniform_pytorch: PyTorch's order weight_ih, weight_hh, bias_ih, bias_hh,
 * each U(−1/√n, 1/√n); b = b_ih + b_hh; then W × gain. */
static void draw_theta(rnn *m, const rnn_init *init, gsl_rng *rng)
{
    const size_t n = m->n, n_in = m->n_in;
    double *W = m->theta0, *Win = m->theta0 + n * n;
    if (init->dist == RNN_INIT_GAUSSIAN) {
        rnn_fill_gaussian(rng, m->g / sqrt((double)n), n * n, W);
        rnn_fill_gaussian(rng, m->input_scale / sqrt((double)n_in), n * n_in, Win);
        return; /* b stays 0 (calloc) */
    }
    const double a = 1.0 / sqrt((double)n);
    rnn_fill_uniform(rng, a, n * n_in, Win);
    rnn_fill_uniform(rng, a, n * n, W);
    for (size_t i = 0; i < n * n; i++)
        W[i] *= m->g;
    if (m->bias) {
        double *b = m->theta0 + m->blocks[2].offset;
        for (int twice = 0; twice < 2; twice++)
            for (size_t i = 0; i < n; i++)
                b[i] += gsl_ran_flat(rng, -a, a);
    }
}

static int rnn_create(const kpf_model_args *args, void **self, kpf_error *err)
{
    if (!args || !self)
        return kpf_error_set(err, KPF_EINVAL, "rnn: create called with NULL arguments");
    if (args->struct_size < offsetof(kpf_model_args, rng) + sizeof(args->rng))
        return kpf_error_set(err, KPF_EABI, "rnn: kpf_model_args too small (%u bytes)",
                             (unsigned)args->struct_size);
    *self = NULL;
    if (args->n_in < 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "rnn: the task gives n_in = 0; rnn needs at least one input");
    if (!args->rng)
        return kpf_error_set(err, KPF_EINVAL, "rnn: no random generator given");

    const kpf_node *node = args->node;
    size_t n;
    double g, input_scale;
    int act, bias;
    int rc;
    rnn_init init;
    if ((rc = kpf_cfg_size(node, "n", KPF_CFG_OPTIONAL, 64, 1, 100000, &n, err)))
        return rc;
    if ((rc = rnn_init_read(node, "rnn", RNN_INIT_GAUSSIAN, &init, err)))
        return rc;
    g = init.gain;
    if ((rc = kpf_activation_parse(node, "activation", KPF_ACTIVATION_TANH, &act, err)))
        return rc;
    if ((rc = kpf_cfg_double(node, "input_scale", KPF_CFG_OPTIONAL, 1.0, 0.0, HUGE_VAL,
                             &input_scale, err)))
        return rc;
    if ((rc = kpf_cfg_bool(node, "bias", KPF_CFG_OPTIONAL, 0, &bias, err)))
        return rc;
    if (!isfinite(g) || !isfinite(input_scale))
        return kpf_error_set(err, KPF_ECONFIG, "rnn: g and input_scale must be finite");
    const kpf_node *is = kpf_node_get(node, "input_scale");
    if (is && init.dist == RNN_INIT_UNIFORM_PYTORCH)
        return kpf_node_error(is, err,
                              "rnn: input_scale is the gaussian init's; uniform_pytorch draws "
                              "W_in from U(-1/sqrt(n), 1/sqrt(n)) as PyTorch does");

    const size_t n_in = args->n_in;
    rnn *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "rnn: out of memory");
    m->n = n;
    m->n_in = n_in;
    m->act = act;
    m->act_info = (kpf_activation_info){act, "W"};
    m->bias = bias;
    m->g = g;
    m->input_scale = input_scale;

    size_t off = 0;
    m->blocks[0] = (kpf_param_block){"W", off, n, n};
    off += n * n;
    m->blocks[1] = (kpf_param_block){"W_in", off, n, n_in};
    off += n * n_in;
    m->n_blocks = 2;
    if (bias) {
        m->blocks[2] = (kpf_param_block){"b", off, n, 1};
        off += n;
        m->n_blocks = 3;
    }
    m->n_theta = off;
    m->theta0 = calloc(off, sizeof *m->theta0);
    if (!m->theta0) {
        free(m);
        return kpf_error_set(err, KPF_ENOMEM, "rnn: out of memory for θ (%zu values)", off);
    }
    draw_theta(m, &init, args->rng);
    *self = m;
    return KPF_OK;
}

static int rnn_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    rnn *m = self;
    if (!m || !L)
        return kpf_error_set(err, KPF_EINVAL, "rnn: params called with NULL arguments");
    memset(L, 0, sizeof *L);
    L->n = m->n;
    L->n_in = m->n_in;
    L->n_out = 0;
    L->n_theta = m->n_theta;
    L->n_blocks = m->n_blocks;
    L->blocks = m->blocks;
    L->theta0 = m->theta0;
    L->tape_width = 2 * m->n;
    L->work_fixed = 0;
    L->work_per_row = m->n;
    L->dt_default = 1.0;
    return KPF_OK;
}

/* ---- ops --------------------------------------------------------------- */

/* out += X W_inᵀ (+ b), X may be NULL (zero input). */
static void add_input_and_bias(const rnn *m, const double *Win, const double *b,
                               const kpf_rows *rows, double *out)
{
    const size_t n = m->n, R = rows->R;
    if (rows->x)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)m->n_in,
                    1.0, rows->x, (int)m->n_in, Win, (int)m->n_in, 1.0, out, (int)n);
    if (m->bias && b)
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++)
                out[r * n + i] += b[i];
}

/* out = −Z + σ(Z) Wᵀ + X W_inᵀ (+ b) */
static int rnn_f(void *self, const double *theta, const kpf_rows *rows, double *out,
                 kpf_error *err)
{
    rnn *m = self;
    int rc = check_rows(m, rows, rows && !rows->tape, err);
    if (rc)
        return rc;
    const size_t n = m->n, R = rows->R;
    if (R == 0)
        return KPF_OK;
    size_t ld;
    const double *S = sigma_block(m, rows, &ld); /* reads z before out is written */
    for (size_t i = 0; i < R * n; i++)
        out[i] = -rows->z[i];
    const double *W = theta + m->blocks[0].offset;
    const double *Win = theta + m->blocks[1].offset;
    const double *b = m->bias ? theta + m->blocks[2].offset : NULL;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n, 1.0, S,
                (int)ld, W, (int)n, 1.0, out, (int)n);
    add_input_and_bias(m, Win, b, rows, out);
    return KPF_OK;
}

/* tape row: [σ(z) | σ'(z)] */
static int rnn_tape(void *self, const double *theta, const kpf_rows *rows, double *out,
                    kpf_error *err)
{
    rnn *m = self;
    int rc = check_rows(m, rows, 0, err);
    if (rc)
        return rc;
    const size_t n = m->n, R = rows->R;
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *z = rows->z + r * n;
        double *s = out + r * 2 * n, *ds = s + n;
        if (m->act == KPF_ACTIVATION_TANH) { /* one tanh per entry: σ' = 1 − σ² */
            kpf_vtanh(n, z, s);
            for (size_t i = 0; i < n; i++)
                ds[i] = 1.0 - s[i] * s[i];
        } else
            for (size_t i = 0; i < n; i++) {
                s[i] = kpf_activation_phi(m->act, z[i]);
                ds[i] = kpf_activation_dphi(m->act, z[i]);
            }
    }
    return KPF_OK;
}

/* out = −V + (σ'(Z) ⊙ V) Wᵀ */
static int rnn_jz(void *self, const double *theta, const kpf_rows *rows, const double *v,
                  double *out, kpf_error *err)
{
    rnn *m = self;
    int rc = check_rows(m, rows, 1, err);
    if (rc)
        return rc;
    const size_t n = m->n, R = rows->R;
    if (R == 0)
        return KPF_OK;
    double *T = rows->work;
    const double *tape = rows->tape;
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *vr = v + r * n;
        double *Tr = T + r * n, *outr = out + r * n;
        if (tape) /* the branch outside the entry loop, so that it vectorises */
            for (size_t i = 0; i < n; i++)
                Tr[i] = tape[r * 2 * n + n + i] * vr[i];
        else
            for (size_t i = 0; i < n; i++)
                Tr[i] = dsig_untaped(m, rows, r, i) * vr[i];
        for (size_t i = 0; i < n; i++)
            outr[i] = -vr[i];
    }
    const double *W = theta + m->blocks[0].offset;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n, 1.0, T,
                (int)n, W, (int)n, 1.0, out, (int)n);
    return KPF_OK;
}

/* out = −W_t + (W_t W) ⊙ σ'(Z)   (row r: J_zᵀ w = −w + σ'(z) ⊙ Wᵀ w) */
static int rnn_jzT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                   double *out, kpf_error *err)
{
    rnn *m = self;
    int rc = check_rows(m, rows, 1, err);
    if (rc)
        return rc;
    const size_t n = m->n, R = rows->R;
    if (R == 0)
        return KPF_OK;
    double *T = rows->work;
    const double *W = theta + m->blocks[0].offset;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)n, (int)n, 1.0, w,
                (int)n, W, (int)n, 0.0, T, (int)n);
    const double *tape = rows->tape;
#pragma omp parallel for schedule(static) if (R * n >= KPF_PAR_MIN_ENTRIES)
    for (size_t r = 0; r < R; r++) {
        const double *wr = w + r * n, *Tr = T + r * n;
        double *outr = out + r * n;
        if (tape) /* the branch outside the entry loop, so that it vectorises */
            for (size_t i = 0; i < n; i++)
                outr[i] = -wr[i] + Tr[i] * tape[r * 2 * n + n + i];
        else
            for (size_t i = 0; i < n; i++)
                outr[i] = -wr[i] + Tr[i] * dsig_untaped(m, rows, r, i);
    }
    return KPF_OK;
}

/* out = σ(Z) dWᵀ + X dW_inᵀ (+ db) */
static int rnn_jth(void *self, const double *theta, const kpf_rows *rows, const double *dth,
                   double *out, kpf_error *err)
{
    rnn *m = self;
    int rc = check_rows(m, rows, rows && !rows->tape, err);
    if (rc)
        return rc;
    if (!dth)
        return kpf_error_set(err, KPF_EINVAL, "rnn: jth: dθ is NULL");
    const size_t n = m->n, R = rows->R;
    if (R == 0)
        return KPF_OK;
    size_t ld;
    const double *S = sigma_block(m, rows, &ld);
    const double *dW = dth + m->blocks[0].offset;
    const double *dWin = dth + m->blocks[1].offset;
    const double *db = m->bias ? dth + m->blocks[2].offset : NULL;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)n, 1.0, S,
                (int)ld, dW, (int)n, 0.0, out, (int)n);
    add_input_and_bias(m, dWin, db, rows, out);
    return KPF_OK;
}

/* g_W += Σ_r w_r σ(z_r)ᵀ,  g_Win += Σ_r w_r x_rᵀ,  g_b += Σ_r w_r */
static int rnn_jthT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                    double *g, kpf_error *err)
{
    rnn *m = self;
    int rc = check_rows(m, rows, rows && !rows->tape, err);
    if (rc)
        return rc;
    if (!g)
        return kpf_error_set(err, KPF_EINVAL, "rnn: jthT: g is NULL");
    const size_t n = m->n, R = rows->R, n_in = m->n_in;
    if (R == 0)
        return KPF_OK;
    size_t ld;
    const double *S = sigma_block(m, rows, &ld);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)R, 1.0, w,
                (int)n, S, (int)ld, 1.0, g + m->blocks[0].offset, (int)n);
    if (rows->x)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n_in, (int)R, 1.0,
                    w, (int)n, rows->x, (int)n_in, 1.0, g + m->blocks[1].offset, (int)n_in);
    if (m->bias) {
        double *gb = g + m->blocks[2].offset;
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++)
                gb[i] += w[r * n + i];
    }
    return KPF_OK;
}

/* ---- extension data ---------------------------------------------------- */

/* PyTorch's names (kpf/param_safetensors.h): with an Euler step of dt = 1,
 * z' = W σ(z) + W_in x + b is nn.RNNCell's h' = σ(W_hh h + W_ih x + b_ih +
 * b_hh) in the pre-activation z (h = σ(z)); its two biases sum into b. */
static const kpf_torch_name rnn_torch_names[] = {
    {"W", "weight_hh", NULL}, {"W_in", "weight_ih", NULL}, {"b", "bias_ih", "bias_hh"}};
static const kpf_torch_names rnn_torch = {"nn.RNNCell", 3, rnn_torch_names, "euler", 1.0};

static const void *rnn_extension(void *self, const char *name)
{
    rnn *m = self;
    if (m && name && strcmp(name, KPF_ACTIVATION_INTERFACE) == 0)
        return &m->act_info;
    if (m && name && strcmp(name, KPF_TORCH_NAMES_INTERFACE) == 0)
        return &rnn_torch;
    return NULL;
}

/* ---- descriptor -------------------------------------------------------- */

static const kpf_model_desc rnn_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "rnn",
    .summary = "continuous vanilla RNN dz/dt = -z + W s(z) + W_in x (+ b) (KPFlow eq. 8)",
    .flags = KPF_MODEL_CONTINUOUS,
    .create = rnn_create,
    .destroy = rnn_destroy,
    .params = rnn_params,
    .f = rnn_f,
    .jz = rnn_jz,
    .jzT = rnn_jzT,
    .jth = rnn_jth,
    .jthT = rnn_jthT,
    .prepare = NULL,
    .tape = rnn_tape,
    .extension = rnn_extension,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    switch (index) {
    case 0: return &rnn_desc;
    case 1: return &kpf_rnn_torch_desc;
    default: return NULL;
    }
}
