/* hh — a network of Hodgkin–Huxley neurons (KPFlow App. E.4), continuous
 * time in ms.  State per neuron [V, m, n, h]; z = [V | m | n | h] (4N
 * values, each block N neurons).  For neuron i:
 *
 *   C dV/dt = −g_Na m³h (V − E_Na) − g_K n⁴ (V − E_K) − g_L (V − E_L)
 *             + (W σ(V))_i + (W_in x)_i + I_app
 *   dk/dt   = α_k(V)(1 − k) − β_k(V) k,          k = m, n, h
 *   σ(V)    = sigmoid((V − V_t)/K_p)
 *
 * with the classic squid-axon rates (hh_rates.h).  KPFlow's eq. 78 prints
 * the three conductance terms with + signs (and no C); the physics needs
 * the minus signs above, which is what this plugin integrates.  (Eq. 85's
 * D_V f_k likewise should read α'_k(1 − k) − β'_k k.)
 *
 * θ blocks, in order: W (N×N), W_in (N×n_in), W_out (n_out×N), b_out
 * (n_out).  The readout is the plugin's own, y = W_out s + b_out with
 * s = σ(V) or s = V (`readout.from`); the gating variables are never
 * observed.  W ~ N(0, g²/N), W_in ~ N(0, input_scale²/n_in), W_out ~
 * N(0, init_std²), drawn in that order from args->rng; b_out = 0.
 *
 * The initial state (init_state op) is the resting state: V = V0 and each
 * gate at its steady state α_k/(α_k + β_k) at V0, the same for every trial
 * and independent of θ.
 *
 * Observed components (the `observed` op): V, the first N entries of z.
 * PCA and the summary's dimensions look at the voltages; the gates m, n, h
 * are internal state that the operators and training still see in full.
 *
 * YAML keys under `model:` (the per-neuron ones take a number or a list of
 * N numbers):
 *   n            [20]       neurons N, 1 … 100000
 *   g            [10.0]     W_ij ~ N(0, g²/N), µA/cm²
 *   input_scale  [10.0]     W_in_ij ~ N(0, input_scale²/n_in), µA/cm²
 *   C [1.0] µF/cm², g_Na [120], g_K [36], g_L [0.3] mS/cm²,
 *   E_Na [50], E_K [−77], E_L [−54.387] mV, I_app [0] µA/cm²,
 *   V_t [−35], K_p [10] mV (the surrogate σ), V0 [−65] mV     per neuron
 *   readout.from      [sigma]  sigma | v
 *   readout.init_std  [1/√N]   std of W_out
 * Default dt 0.01 ms; use `step: rk4`.
 *
 * Jacobian (eqs. 83–89, block arrowhead): D_V f_V = −diag(G/C) +
 * diag(1/C) W diag(σ'(V)) is the only dense block; D_k f_V, D_V f_k and
 * D_k f_k are diagonal, D_k f_l = 0 for gates k ≠ l.  J_θ touches f_V only:
 * D_W f_V = σ(V)ᵀ/C, D_{W_in} f_V = xᵀ/C (eqs. 97–100).
 *
 * Tape: 16N doubles per row, 16 blocks of N: σ(V), σ'(V), the diagonal
 * −G/C of D_V f_V, D_m f_V, D_n f_V, D_h f_V, D_V f_{m,n,h}, D_{m,n,h} f_{m,n,h},
 * and f without its synaptic term ((I_app − I_ion)/C and f_{m,n,h}), so the
 * rates are evaluated once per row: f and the J ops read them from the tape
 * when given one and compute them row by row otherwise.  Scratch: 2N
 * doubles per row and 16N more. */
#include "kpf/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/model.h"

#include "hh_rates.h"

enum { RO_SIGMA = 0, RO_V = 1 };
static const char *const ro_names[] = {"sigma", "v", NULL};

/* Per-neuron constants, in the order of the key table. */
enum { K_C, K_GNA, K_GK, K_GL, K_ENA, K_EK, K_EL, K_IAPP, K_VT, K_KP, K_V0, K_COUNT };
static const struct {
    const char *key;
    double dflt, lo;
} konst[K_COUNT] = {
    {"C", 1.0, 0.0},           {"g_Na", 120.0, 0.0},      {"g_K", 36.0, 0.0},
    {"g_L", 0.3, 0.0},         {"E_Na", 50.0, -HUGE_VAL}, {"E_K", -77.0, -HUGE_VAL},
    {"E_L", -54.387, -HUGE_VAL}, {"I_app", 0.0, -HUGE_VAL}, {"V_t", -35.0, -HUGE_VAL},
    {"K_p", 10.0, 0.0},        {"V0", -65.0, -HUGE_VAL},
};

/* Tape blocks (each N wide): σ, σ', the Jacobian's diagonals, and f without
 * its synaptic term (so that f at a taped row needs no rate evaluation). */
enum {
    T_S, T_DS, T_VV, T_VM, T_VN, T_VH, T_MV, T_NV, T_HV, T_MM, T_NN, T_HH,
    T_FV, T_FM, T_FN, T_FH, T_COUNT
};

typedef struct hh {
    size_t N, n_in, n_out;
    int ro;
    double *k[K_COUNT]; /* per-neuron constants, N each (one allocation) */
    double *invC;
    size_t o_W, o_Win, o_Wout, o_bout, n_theta;
    kpf_param_block blocks[4];
    double *theta0;
    double *z0;  /* 4N resting state */
    size_t *obs; /* 0 … N−1: the observed components, V */
} hh;

/* ---- per-neuron quantities --------------------------------------------- */

static inline double sigm(double a)
{
    return 1.0 / (1.0 + exp(-a));
}

/* σ(V) and σ'(V) of neuron i. */
static inline void surrogate(const hh *s, size_t i, double V, double *sg, double *dsg)
{
    double kp = s->k[K_KP][i];
    double y = sigm((V - s->k[K_VT][i]) / kp);
    *sg = y;
    *dsg = y * (1.0 - y) / kp;
}

/* The tape values of neuron i at state (V, m, n, h). */
static void local(const hh *s, size_t i, double V, double m, double n, double h,
                  double t[T_COUNT])
{
    hh_rate rm, rn, rh;
    hh_rates(V, &rm, &rn, &rh);
    const double ic = s->invC[i], gna = s->k[K_GNA][i], gk = s->k[K_GK][i];
    const double m2 = m * m, n3 = n * n * n;
    surrogate(s, i, V, &t[T_S], &t[T_DS]);
    double I_ion = gna * m2 * m * h * (V - s->k[K_ENA][i]) + gk * n3 * n * (V - s->k[K_EK][i]) +
                   s->k[K_GL][i] * (V - s->k[K_EL][i]);
    t[T_FV] = (-I_ion + s->k[K_IAPP][i]) * ic;
    t[T_FM] = rm.a * (1.0 - m) - rm.b * m;
    t[T_FN] = rn.a * (1.0 - n) - rn.b * n;
    t[T_FH] = rh.a * (1.0 - h) - rh.b * h;
    t[T_VV] = -(gna * m2 * m * h + gk * n3 * n + s->k[K_GL][i]) * ic;
    t[T_VM] = -3.0 * gna * m2 * h * (V - s->k[K_ENA][i]) * ic;
    t[T_VN] = -4.0 * gk * n3 * (V - s->k[K_EK][i]) * ic;
    t[T_VH] = -gna * m2 * m * (V - s->k[K_ENA][i]) * ic;
    t[T_MV] = rm.da * (1.0 - m) - rm.db * m;
    t[T_NV] = rn.da * (1.0 - n) - rn.db * n;
    t[T_HV] = rh.da * (1.0 - h) - rh.db * h;
    t[T_MM] = -(rm.a + rm.b);
    t[T_NN] = -(rn.a + rn.b);
    t[T_HH] = -(rh.a + rh.b);
}

/* The tape row r (T_COUNT blocks of N): the caller's tape, or computed from
 * z into buf (T_COUNT·N doubles: the fixed part of the scratch). */
static const double *tape_row(const hh *s, const kpf_rows *rows, size_t r, double *buf)
{
    const size_t N = s->N;
    if (rows->tape)
        return rows->tape + r * T_COUNT * N;
    const double *z = rows->z + r * 4 * N;
    for (size_t i = 0; i < N; i++) {
        double loc[T_COUNT];
        local(s, i, z[i], z[N + i], z[2 * N + i], z[3 * N + i], loc);
        for (int b = 0; b < T_COUNT; b++)
            buf[(size_t)b * N + i] = loc[b];
    }
    return buf;
}

/* ---- keys ------------------------------------------------------------------ */

/* A per-neuron constant: absent → dflt; a number; or a list of N numbers. */
static int per_neuron(const kpf_node *node, const char *key, double dflt, double lo,
                      size_t N, double *out, kpf_error *err)
{
    const kpf_node *v = kpf_node_get(node, key);
    if (v && kpf_node_kind(v) == KPF_NODE_SEQ) {
        if (kpf_node_len(v) != N)
            return kpf_node_error(v, err, "expected a number or a list of n = %zu numbers "
                                          "(one per neuron), got a list of %zu",
                                  N, kpf_node_len(v));
        for (size_t i = 0; i < N; i++) {
            const kpf_node *it = kpf_node_at(v, i);
            const char *txt = kpf_node_scalar(it);
            char *end = NULL;
            double x = txt && *txt ? strtod(txt, &end) : NAN;
            if (!txt || !*txt || *end || !isfinite(x))
                return kpf_node_error(it, err, "expected a finite number");
            if (x < lo)
                return kpf_node_error(it, err, "%s is out of range (expected a number >= %g)",
                                      txt, lo);
            out[i] = x;
        }
        return KPF_OK;
    }
    double x;
    int rc = kpf_cfg_double(node, key, KPF_CFG_OPTIONAL, dflt, lo, HUGE_VAL, &x, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < N; i++)
        out[i] = x;
    return KPF_OK;
}

/* ---- create / destroy / params --------------------------------------- */

static void hh_destroy(void *self)
{
    hh *s = self;
    if (!s)
        return;
    free(s->k[0]);
    free(s->theta0);
    free(s->obs);
    free(s);
}

static int hh_create(const kpf_model_args *args, void **self, kpf_error *err)
{
    if (!args || !self)
        return kpf_error_set(err, KPF_EINVAL, "hh: create called with NULL arguments");
    if (args->struct_size < offsetof(kpf_model_args, rng) + sizeof(args->rng))
        return kpf_error_set(err, KPF_EABI, "hh: kpf_model_args too small (%u bytes)",
                             (unsigned)args->struct_size);
    *self = NULL;
    if (args->n_in < 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "hh: the task gives n_in = 0; hh needs at least one input");
    if (args->n_out < 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "hh: the task gives n_out = 0; hh's readout needs at least one "
                             "output");
    if (!args->rng)
        return kpf_error_set(err, KPF_EINVAL, "hh: no random generator given");

    const kpf_node *node = args->node;
    size_t N;
    double g, input_scale, init_std;
    int ro, rc;
    const kpf_node *ron = NULL;
    if ((rc = kpf_cfg_size(node, "n", KPF_CFG_OPTIONAL, 20, 1, 100000, &N, err)))
        return rc;
    if ((rc = kpf_cfg_double(node, "g", KPF_CFG_OPTIONAL, 10.0, 0.0, 1e6, &g, err)))
        return rc;
    if ((rc = kpf_cfg_double(node, "input_scale", KPF_CFG_OPTIONAL, 10.0, 0.0, 1e6,
                             &input_scale, err)))
        return rc;
    if ((rc = kpf_cfg_map(node, "readout", KPF_CFG_OPTIONAL, &ron, err)))
        return rc;
    if ((rc = kpf_cfg_choice(ron, "from", KPF_CFG_OPTIONAL, ro_names, RO_SIGMA, &ro, err)))
        return rc;
    if ((rc = kpf_cfg_double(ron, "init_std", KPF_CFG_OPTIONAL, 1.0 / sqrt((double)N), 0.0,
                             1e6, &init_std, err)))
        return rc;

    hh *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "hh: out of memory");
    s->N = N;
    s->n_in = args->n_in;
    s->n_out = args->n_out;
    s->ro = ro;
    /* constants (K_COUNT·N), 1/C (N), resting state (4N) in one block */
    double *buf = calloc((K_COUNT + 5) * N, sizeof *buf);
    if (!buf) {
        free(s);
        return kpf_error_set(err, KPF_ENOMEM, "hh: out of memory");
    }
    for (int k = 0; k < K_COUNT; k++)
        s->k[k] = buf + (size_t)k * N;
    s->invC = buf + K_COUNT * N;
    s->z0 = buf + (K_COUNT + 1) * N;
    for (int k = 0; k < K_COUNT; k++) {
        if ((rc = per_neuron(node, konst[k].key, konst[k].dflt, konst[k].lo, N, s->k[k], err))) {
            hh_destroy(s);
            return rc;
        }
    }
    for (size_t i = 0; i < N; i++) {
        const char *bad = s->k[K_C][i] <= 0 ? "C" : s->k[K_KP][i] <= 0 ? "K_p" : NULL;
        if (bad) {
            hh_destroy(s);
            return kpf_node_error(kpf_node_get(node, bad), err, "must be > 0 (neuron %zu)", i);
        }
        s->invC[i] = 1.0 / s->k[K_C][i];
        double V0 = s->k[K_V0][i];
        hh_rate rm, rn, rh;
        hh_rates(V0, &rm, &rn, &rh);
        s->z0[i] = V0;
        s->z0[N + i] = rm.a / (rm.a + rm.b);
        s->z0[2 * N + i] = rn.a / (rn.a + rn.b);
        s->z0[3 * N + i] = rh.a / (rh.a + rh.b);
    }

    const size_t n_in = s->n_in, n_out = s->n_out;
    size_t off = 0;
    s->o_W = off;
    s->blocks[0] = (kpf_param_block){"W", off, N, N};
    off += N * N;
    s->o_Win = off;
    s->blocks[1] = (kpf_param_block){"W_in", off, N, n_in};
    off += N * n_in;
    s->o_Wout = off;
    s->blocks[2] = (kpf_param_block){"W_out", off, n_out, N};
    off += n_out * N;
    s->o_bout = off;
    s->blocks[3] = (kpf_param_block){"b_out", off, n_out, 1};
    off += n_out;
    s->n_theta = off;
    s->theta0 = calloc(off, sizeof *s->theta0);
    s->obs = malloc(N * sizeof *s->obs);
    if (!s->theta0 || !s->obs) {
        hh_destroy(s);
        return kpf_error_set(err, KPF_ENOMEM, "hh: out of memory for θ (%zu values)", off);
    }
    for (size_t i = 0; i < N; i++)
        s->obs[i] = i;
    const double sw = g / sqrt((double)N), sin_ = input_scale / sqrt((double)n_in);
    for (size_t i = 0; i < N * N; i++)
        s->theta0[s->o_W + i] = gsl_ran_gaussian(args->rng, sw);
    for (size_t i = 0; i < N * n_in; i++)
        s->theta0[s->o_Win + i] = gsl_ran_gaussian(args->rng, sin_);
    for (size_t i = 0; i < n_out * N; i++)
        s->theta0[s->o_Wout + i] = gsl_ran_gaussian(args->rng, init_std);
    *self = s;
    return KPF_OK;
}

static int hh_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    hh *s = self;
    if (!s || !L)
        return kpf_error_set(err, KPF_EINVAL, "hh: params called with NULL arguments");
    memset(L, 0, sizeof *L);
    L->n = 4 * s->N;
    L->n_in = s->n_in;
    L->n_out = s->n_out;
    L->n_theta = s->n_theta;
    L->n_blocks = 4;
    L->blocks = s->blocks;
    L->theta0 = s->theta0;
    L->tape_width = T_COUNT * s->N;
    L->work_fixed = T_COUNT * s->N; /* one tape row, for ops called without a tape */
    L->work_per_row = 2 * s->N;
    L->dt_default = 0.01;
    return KPF_OK;
}

/* ---- checks shared by the ops --------------------------------------- */

static int check_rows(const hh *s, const kpf_rows *rows, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "hh: rows is NULL");
    if (rows->R > 0 && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "hh: rows->z is NULL");
    if (rows->R > 0 && !rows->work)
        return kpf_error_set(err, KPF_EINVAL,
                             "hh: rows->work is NULL (needs %zu + %zu doubles per row)",
                             (size_t)T_COUNT * s->N, 2 * s->N);
    return KPF_OK;
}

/* σ(V) of the R rows as an R×N operand: the tape's first block (leading
 * dimension 12N) or computed into buf (leading dimension N). */
static const double *sigma_block(const hh *s, const kpf_rows *rows, double *buf, size_t *ld)
{
    const size_t N = s->N;
    if (rows->tape) {
        *ld = T_COUNT * N;
        return rows->tape + T_S * N;
    }
    for (size_t r = 0; r < rows->R; r++)
        for (size_t i = 0; i < N; i++) {
            double d;
            surrogate(s, i, rows->z[r * 4 * N + i], &buf[r * N + i], &d);
        }
    *ld = N;
    return buf;
}

/* U (R×N) = S Wᵀ + X W_inᵀ for S of leading dimension ldS; X may be NULL. */
static void synaptic(const hh *s, const double *W, const double *Win, size_t R,
                     const double *S, size_t ldS, const double *X, double *U)
{
    const size_t N = s->N;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)N, (int)N, 1.0, S,
                (int)ldS, W, (int)N, 0.0, U, (int)N);
    if (X)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)N, (int)s->n_in,
                    1.0, X, (int)s->n_in, Win, (int)s->n_in, 1.0, U, (int)N);
}

/* ---- the vector field ------------------------------------------------------ */

static int hh_f(void *self, const double *theta, const kpf_rows *rows, double *out,
                kpf_error *err)
{
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc)
        return rc;
    const size_t N = s->N, R = rows->R;
    if (R == 0)
        return KPF_OK;
    double *S = rows->work, *U = rows->work + R * N;
    size_t ld;
    const double *Sb = sigma_block(s, rows, S, &ld);
    synaptic(s, theta + s->o_W, theta + s->o_Win, R, Sb, ld, rows->x, U);
    double *rowbuf = U + R * N;
    for (size_t r = 0; r < R; r++) {
        const double *t = tape_row(s, rows, r, rowbuf);
        const double *fv = t + T_FV * N, *u = U + r * N, *ic = s->invC;
        double *o = out + r * 4 * N;
        for (size_t i = 0; i < N; i++)
            o[i] = fv[i] + u[i] * ic[i];
        memcpy(o + N, t + T_FM * N, 3 * N * sizeof *o); /* T_FM, T_FN, T_FH */
    }
    return KPF_OK;
}

static int hh_tape(void *self, const double *theta, const kpf_rows *rows, double *out,
                   kpf_error *err)
{
    (void)theta;
    hh *s = self;
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "hh: rows is NULL");
    if (rows->R > 0 && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "hh: rows->z is NULL");
    const size_t N = s->N;
    for (size_t r = 0; r < rows->R; r++) {
        const double *z = rows->z + r * 4 * N;
        double *t = out + r * T_COUNT * N;
        for (size_t i = 0; i < N; i++) {
            double loc[T_COUNT];
            local(s, i, z[i], z[N + i], z[2 * N + i], z[3 * N + i], loc);
            for (int b = 0; b < T_COUNT; b++)
                t[(size_t)b * N + i] = loc[b];
        }
    }
    return KPF_OK;
}

/* ---- J_z ------------------------------------------------------------------- */

/* out_V = −(G/C) v_V + D_m f_V v_m + D_n f_V v_n + D_h f_V v_h + (W (σ' ⊙ v_V))/C
 * out_k = D_V f_k v_V + D_k f_k v_k */
static int hh_jz(void *self, const double *theta, const kpf_rows *rows, const double *v,
                 double *out, kpf_error *err)
{
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc)
        return rc;
    const size_t N = s->N, R = rows->R;
    if (R == 0)
        return KPF_OK;
    double *A = rows->work, *U = rows->work + R * N, *rowbuf = U + R * N;
    if (rows->tape) {
        for (size_t r = 0; r < R; r++) {
            const double *ds = rows->tape + r * T_COUNT * N + T_DS * N;
            for (size_t i = 0; i < N; i++)
                A[r * N + i] = ds[i] * v[r * 4 * N + i];
        }
    } else {
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < N; i++) {
                double sg, dsg;
                surrogate(s, i, rows->z[r * 4 * N + i], &sg, &dsg);
                A[r * N + i] = dsg * v[r * 4 * N + i];
            }
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)N, (int)N, 1.0, A,
                (int)N, theta + s->o_W, (int)N, 0.0, U, (int)N);
    for (size_t r = 0; r < R; r++) {
        const double *t = tape_row(s, rows, r, rowbuf);
        const double *vV = v + r * 4 * N, *vm = vV + N, *vn = vm + N, *vh = vn + N;
        const double *u = U + r * N, *ic = s->invC;
        double *oV = out + r * 4 * N, *om = oV + N, *on = om + N, *oh = on + N;
        for (size_t i = 0; i < N; i++) {
            double a = vV[i], bm = vm[i], bn = vn[i], bh = vh[i];
            oV[i] = t[T_VV * N + i] * a + t[T_VM * N + i] * bm + t[T_VN * N + i] * bn +
                    t[T_VH * N + i] * bh + u[i] * ic[i];
            om[i] = t[T_MV * N + i] * a + t[T_MM * N + i] * bm;
            on[i] = t[T_NV * N + i] * a + t[T_NN * N + i] * bn;
            oh[i] = t[T_HV * N + i] * a + t[T_HH * N + i] * bh;
        }
    }
    return KPF_OK;
}

/* out_V = −(G/C) w_V + σ' ⊙ (Wᵀ (w_V/C)) + Σ_k D_V f_k w_k
 * out_k = D_k f_V w_V + D_k f_k w_k */
static int hh_jzT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                  double *out, kpf_error *err)
{
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc)
        return rc;
    const size_t N = s->N, R = rows->R;
    if (R == 0)
        return KPF_OK;
    double *A = rows->work, *U = rows->work + R * N;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < N; i++)
            A[r * N + i] = w[r * 4 * N + i] * s->invC[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)N, (int)N, 1.0, A,
                (int)N, theta + s->o_W, (int)N, 0.0, U, (int)N);
    double *rowbuf = U + R * N;
    for (size_t r = 0; r < R; r++) {
        const double *t = tape_row(s, rows, r, rowbuf);
        const double *wV = w + r * 4 * N, *wm = wV + N, *wn = wm + N, *wh = wn + N;
        const double *u = U + r * N;
        double *oV = out + r * 4 * N, *om = oV + N, *on = om + N, *oh = on + N;
        for (size_t i = 0; i < N; i++) {
            double a = wV[i], bm = wm[i], bn = wn[i], bh = wh[i];
            oV[i] = t[T_VV * N + i] * a + t[T_DS * N + i] * u[i] + t[T_MV * N + i] * bm +
                    t[T_NV * N + i] * bn + t[T_HV * N + i] * bh;
            om[i] = t[T_VM * N + i] * a + t[T_MM * N + i] * bm;
            on[i] = t[T_VN * N + i] * a + t[T_NN * N + i] * bn;
            oh[i] = t[T_VH * N + i] * a + t[T_HH * N + i] * bh;
        }
    }
    return KPF_OK;
}

/* ---- J_θ (W and W_in act on f_V only; W_out, b_out not at all) ------------- */

static int hh_jth(void *self, const double *theta, const kpf_rows *rows, const double *dth,
                  double *out, kpf_error *err)
{
    (void)theta;
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc)
        return rc;
    if (!dth)
        return kpf_error_set(err, KPF_EINVAL, "hh: jth: dθ is NULL");
    const size_t N = s->N, R = rows->R;
    if (R == 0)
        return KPF_OK;
    double *S = rows->work, *U = rows->work + R * N;
    size_t ld;
    const double *Sb = sigma_block(s, rows, S, &ld);
    synaptic(s, dth + s->o_W, dth + s->o_Win, R, Sb, ld, rows->x, U);
    for (size_t r = 0; r < R; r++) {
        double *o = out + r * 4 * N;
        for (size_t i = 0; i < N; i++)
            o[i] = U[r * N + i] * s->invC[i];
        memset(o + N, 0, 3 * N * sizeof *o);
    }
    return KPF_OK;
}

/* g_W += Σ_r (w_V/C) σ(V)ᵀ,  g_Win += Σ_r (w_V/C) xᵀ */
static int hh_jthT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                   double *g, kpf_error *err)
{
    (void)theta;
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc)
        return rc;
    if (!g)
        return kpf_error_set(err, KPF_EINVAL, "hh: jthT: g is NULL");
    const size_t N = s->N, R = rows->R, n_in = s->n_in;
    if (R == 0)
        return KPF_OK;
    double *A = rows->work, *S = rows->work + R * N;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < N; i++)
            A[r * N + i] = w[r * 4 * N + i] * s->invC[i];
    size_t ld;
    const double *Sb = sigma_block(s, rows, S, &ld);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)N, (int)R, 1.0, A,
                (int)N, Sb, (int)ld, 1.0, g + s->o_W, (int)N);
    if (rows->x)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)n_in, (int)R, 1.0, A,
                    (int)N, rows->x, (int)n_in, 1.0, g + s->o_Win, (int)n_in);
    return KPF_OK;
}

/* ---- readout y = W_out s + b_out, s = σ(V) or V ----------------------------- */

/* s (R×N) as an operand: V straight from z (leading dimension 4N) or σ(V)
 * into buf (leading dimension N). */
static const double *readout_s(const hh *s, const kpf_rows *rows, double *buf, size_t *ld)
{
    if (s->ro == RO_V) {
        *ld = 4 * s->N;
        return rows->z;
    }
    kpf_rows r = *rows;
    r.tape = NULL; /* σ from z: the readout may come without a tape */
    return sigma_block(s, &r, buf, ld);
}

/* out (R×n_out) = S Mᵀ (+ b) */
static void ro_affine(const hh *s, size_t R, const double *S, size_t ld, const double *M,
                      const double *b, double *out)
{
    const size_t N = s->N, p = s->n_out;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)p, (int)N, 1.0, S,
                (int)ld, M, (int)N, 0.0, out, (int)p);
    if (b)
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < p; j++)
                out[r * p + j] += b[j];
}

static int hh_readout(void *self, const double *theta, const kpf_rows *rows, double *out,
                      kpf_error *err)
{
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    size_t ld;
    const double *S = readout_s(s, rows, rows->work, &ld);
    ro_affine(s, rows->R, S, ld, theta + s->o_Wout, theta + s->o_bout, out);
    return KPF_OK;
}

/* out = W_out (σ' ⊙ v_V)  (or W_out v_V) */
static int hh_readout_jz(void *self, const double *theta, const kpf_rows *rows,
                         const double *v, double *out, kpf_error *err)
{
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t N = s->N, R = rows->R;
    if (s->ro == RO_V) {
        ro_affine(s, R, v, 4 * N, theta + s->o_Wout, NULL, out);
        return KPF_OK;
    }
    double *A = rows->work;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < N; i++) {
            double sg, dsg;
            surrogate(s, i, rows->z[r * 4 * N + i], &sg, &dsg);
            A[r * N + i] = dsg * v[r * 4 * N + i];
        }
    ro_affine(s, R, A, N, theta + s->o_Wout, NULL, out);
    return KPF_OK;
}

/* out_V = σ' ⊙ (W_outᵀ w)  (or W_outᵀ w), out_{m,n,h} = 0 */
static int hh_readout_jzT(void *self, const double *theta, const kpf_rows *rows,
                          const double *w, double *out, kpf_error *err)
{
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t N = s->N, R = rows->R, p = s->n_out;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)N, (int)p, 1.0, w,
                (int)p, theta + s->o_Wout, (int)N, 0.0, out, (int)(4 * N));
    for (size_t r = 0; r < R; r++) {
        double *o = out + r * 4 * N;
        if (s->ro == RO_SIGMA)
            for (size_t i = 0; i < N; i++) {
                double sg, dsg;
                surrogate(s, i, rows->z[r * 4 * N + i], &sg, &dsg);
                o[i] *= dsg;
            }
        memset(o + N, 0, 3 * N * sizeof *o);
    }
    return KPF_OK;
}

/* out = s dW_outᵀ + db_out */
static int hh_readout_jth(void *self, const double *theta, const kpf_rows *rows,
                          const double *dth, double *out, kpf_error *err)
{
    (void)theta;
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    size_t ld;
    const double *S = readout_s(s, rows, rows->work, &ld);
    ro_affine(s, rows->R, S, ld, dth + s->o_Wout, dth + s->o_bout, out);
    return KPF_OK;
}

/* g_Wout += Σ_r w_r s_rᵀ, g_bout += Σ_r w_r */
static int hh_readout_jthT(void *self, const double *theta, const kpf_rows *rows,
                           const double *w, double *g, kpf_error *err)
{
    (void)theta;
    hh *s = self;
    int rc = check_rows(s, rows, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t N = s->N, R = rows->R, p = s->n_out;
    size_t ld;
    const double *S = readout_s(s, rows, rows->work, &ld);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)N, (int)R, 1.0, w,
                (int)p, S, (int)ld, 1.0, g + s->o_Wout, (int)N);
    double *gb = g + s->o_bout;
    for (size_t r = 0; r < R; r++)
        for (size_t j = 0; j < p; j++)
            gb[j] += w[r * p + j];
    return KPF_OK;
}

/* ---- the initial state: rest, independent of θ ----------------------------- */

static int hh_init_state(void *self, const double *theta, const kpf_rows *rows, double *out,
                         kpf_error *err)
{
    (void)theta;
    hh *s = self;
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "hh: rows is NULL");
    for (size_t r = 0; r < rows->R; r++)
        memcpy(out + r * 4 * s->N, s->z0, 4 * s->N * sizeof *out);
    return KPF_OK;
}

static int hh_init_state_jth(void *self, const double *theta, const kpf_rows *rows,
                             const double *dth, double *out, kpf_error *err)
{
    (void)theta;
    (void)dth;
    hh *s = self;
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "hh: rows is NULL");
    memset(out, 0, rows->R * 4 * s->N * sizeof *out);
    return KPF_OK;
}

static int hh_init_state_jthT(void *self, const double *theta, const kpf_rows *rows,
                              const double *w, double *g, kpf_error *err)
{
    (void)self;
    (void)theta;
    (void)w;
    (void)g;
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "hh: rows is NULL");
    return KPF_OK; /* z0 does not depend on θ */
}

/* The voltages V = z[0 … N−1]; the gates are not observed. */
static const size_t *hh_observed(void *self, size_t *count)
{
    const hh *s = self;
    *count = s->N;
    return s->obs;
}

/* ---- descriptor -------------------------------------------------------- */

static const kpf_model_desc hh_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "hh",
    .summary = "Hodgkin-Huxley network, state [V,m,n,h], I_syn = W s(V) + W_in x "
               "(KPFlow App. E.4)",
    .flags = KPF_MODEL_CONTINUOUS,
    .create = hh_create,
    .destroy = hh_destroy,
    .params = hh_params,
    .f = hh_f,
    .jz = hh_jz,
    .jzT = hh_jzT,
    .jth = hh_jth,
    .jthT = hh_jthT,
    .prepare = NULL,
    .tape = hh_tape,
    .readout = hh_readout,
    .readout_jz = hh_readout_jz,
    .readout_jzT = hh_readout_jzT,
    .readout_jth = hh_readout_jth,
    .readout_jthT = hh_readout_jthT,
    .init_state = hh_init_state,
    .init_state_jth = hh_init_state_jth,
    .init_state_jthT = hh_init_state_jthT,
    .observed = hh_observed,
    /* Euler at the default dt of 0.01 ms is several mV off during spikes
     * (docs/plugins.md, hh: the stepper measurement); RK4 is 1e-4 mV off a
     * rk8pd reference, so it is what a config without `step:` gets. */
    .default_stepper = "rk4",
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    return index == 0 ? &hh_desc : NULL;
}
