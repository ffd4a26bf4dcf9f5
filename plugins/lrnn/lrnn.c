/* lrnn — the linear RNN of Proca et al. (ICML 2025; seeds/001, notes/
 * seed-lrnn.md):
 *
 *     h_{t+1} = W_h h_t + W_x x_t,  h_1 = 0,   ŷ = W_y h   (no biases)
 *
 * a discrete map whose output map is the plugin's own bias-free readout.
 *
 * YAML keys under `model:`
 *   parameterisation [full]   full | modes
 *   n            hidden size.  full: default max(n_in, n_out); modes: the
 *                number of modes d, default and at most min(n_in, n_out)
 *   alignment    [unaligned]  full only: unaligned | aligned
 *   sigma        [0.1]   unaligned: every W ~ N(0, sigma²/fan_in), fan_in =
 *                        the number of columns (n_in for W_x, n for W_h, W_y)
 *   mode_init    [0.1]   initial value of every mode a, b, c (aligned, modes);
 *   a0, b0, c0           override it per kind
 *   mode_noise   [1e-3]  aligned and modes: every initial mode value gets
 *                        + mode_noise·N(0, 1) from the seeded stream (a, then
 *                        b, then c, mode by mode), so that the model seed
 *                        matters; 0 gives exactly equal modes
 *   b0_phase     [0]     eigen basis: b = b0·e^{i·b0_phase} in every pair
 *   basis        [svd]   svd | eigen (full aligned only; eigen needs
 *                        n = n_in = n_out even: pairs of complex modes)
 *   basis_seed   [0]     the task's basis_seed: U_y, V_x (and R, Q) are
 *                        kpf_lrnn_orthogonal(basis_seed, U | V | R, ·)
 *
 * full: θ = W_x (n×n_in), W_h (n×n), W_y (n_out×n), drawn in that order.
 *   aligned (svd, eqs. 191–193 with R_x = R_y = R as the notes require):
 *   W_x = R W̄_x V_xᵀ, W_h = R W̄_h Rᵀ, W_y = U_y W̄_y Rᵀ, diagonal W̄ with
 *   a0, c0 on the first min(n_in, n_out, n) modes and b0 on all n.
 *   aligned (eigen, eqs. 194–196 in real form): W = Q W̄ Qᵀ with 2×2
 *   rotation-scaling blocks W̄_p = r [[cos φ, −sin φ], [sin φ, cos φ]].
 * modes: θ = a, b, c (d each); in mode coordinates the state is R ᵀh:
 *   f = b ⊙ z + a ⊙ (V_dᵀ x),  ŷ = U_d (c ⊙ z)  — the aligned network
 *   whose learning decouples into eqs. 5–7.
 *
 * The same settings can come from code: a kpf_lrnn_config passed as the
 * feature "kpf.lrnn.config/1" (lrnn_config.h) replaces the YAML keys.
 *
 * Extensions: "kpf.lrnn.net/1" (lrnn_net_iface.h: W_x, W_h, W_y of a θ in
 * either parameterisation) and "kpf.activation/1" (linear φ; block "W_h"
 * for full, none for modes, whose W_h = diag(b) is not a block).
 *
 * No tape (the model is linear).  Scratch: modes d doubles per row. */
#include "kpf/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/activation.h"
#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/model.h"
#include "lrnn_basis.h"
#include "lrnn_config.h"
#include "lrnn_net_iface.h"

enum { P_FULL = KPF_LRNN_FULL, P_MODES = KPF_LRNN_MODES };
enum { I_UNALIGNED = KPF_LRNN_UNALIGNED, I_ALIGNED = KPF_LRNN_ALIGNED };
enum { B_SVD = KPF_LRNN_SVD, B_EIGEN = KPF_LRNN_EIGEN };

typedef struct lrnn {
    int param;
    size_t n, n_in, n_out;
    size_t n_theta;
    kpf_param_block blocks[3];
    double *theta0;
    double *Vd; /* modes: n_in×d, columns of V_x */
    double *Ud; /* modes: n_out×d, columns of U_y */
    kpf_lrnn_net_iface net;       /* "kpf.lrnn.net/1"    */
    kpf_activation_info act_info; /* "kpf.activation/1"  */
} lrnn;

static void lrnn_destroy(void *self)
{
    lrnn *m = self;
    if (!m)
        return;
    free(m->theta0);
    free(m->Vd);
    free(m->Ud);
    free(m);
}

/* First d columns of an n×n orthogonal matrix as an n×d block. */
static void take_cols(const double *Q, size_t n, size_t d, double *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < d; a++)
            out[i * d + a] = Q[i * n + a];
}

/* Initial mode values: v[i] = v0 + noise·N(0, 1), i < k. */
static void draw_modes(gsl_rng *rng, double v0, double noise, size_t k, double *v)
{
    for (size_t i = 0; i < k; i++)
        v[i] = v0 + (noise > 0 ? gsl_ran_gaussian(rng, noise) : 0.0);
}

static int init_full(lrnn *m, const kpf_lrnn_config *c, gsl_rng *rng, kpf_error *err)
{
    const size_t n = m->n, ni = m->n_in, no = m->n_out;
    double *Wx = m->theta0, *Wh = Wx + n * ni, *Wy = Wh + n * n;
    if (c->alignment == I_UNALIGNED) {
        for (size_t i = 0; i < n * ni; i++)
            Wx[i] = gsl_ran_gaussian(rng, c->sigma / sqrt((double)ni));
        for (size_t i = 0; i < n * n; i++)
            Wh[i] = gsl_ran_gaussian(rng, c->sigma / sqrt((double)n));
        for (size_t i = 0; i < no * n; i++)
            Wy[i] = gsl_ran_gaussian(rng, c->sigma / sqrt((double)n));
        return KPF_OK;
    }
    int rc = KPF_OK;
    size_t d = ni < no ? ni : no;
    if (n < d)
        d = n;
    size_t k = c->basis == B_EIGEN ? n / 2 : d;
    size_t kb = c->basis == B_EIGEN ? n / 2 : n;
    double *av = malloc(3 * n * sizeof *av), *bv = av ? av + n : NULL, *cv = av ? av + 2 * n : NULL;
    if (!av)
        return kpf_error_set(err, KPF_ENOMEM, "lrnn: out of memory");
    draw_modes(rng, c->a0, c->mode_noise, k, av);
    draw_modes(rng, c->b0, c->mode_noise, kb, bv);
    draw_modes(rng, c->c0, c->mode_noise, k, cv);
    if (c->basis == B_EIGEN) {
        double *Q = malloc(n * n * sizeof *Q);
        if (!Q) {
            free(av);
            return kpf_error_set(err, KPF_ENOMEM, "lrnn: out of memory");
        }
        rc = kpf_lrnn_orthogonal(c->basis_seed, KPF_LRNN_V, n, Q, err);
        double *W[3] = {Wx, Wh, Wy};
        const double *val[3] = {av, bv, cv};
        for (int w = 0; w < 3 && !rc; w++) {
            double ph = w == 1 ? c->b0_phase : 0.0;
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                    double s = 0;
                    for (size_t p = 0; p < n / 2; p++) {
                        double r = val[w][p];
                        double bl[2][2] = {{r * cos(ph), -r * sin(ph)}, {r * sin(ph), r * cos(ph)}};
                        for (int x = 0; x < 2; x++)
                            for (int q = 0; q < 2; q++)
                                s += Q[i * n + 2 * p + x] * bl[x][q] * Q[j * n + 2 * p + q];
                    }
                    W[w][i * n + j] = s;
                }
        }
        free(Q);
        free(av);
        return rc;
    }
    double *U = malloc(no * no * sizeof *U), *V = malloc(ni * ni * sizeof *V),
           *R = malloc(n * n * sizeof *R);
    if (!U || !V || !R)
        rc = kpf_error_set(err, KPF_ENOMEM, "lrnn: out of memory");
    if (!rc) rc = kpf_lrnn_orthogonal(c->basis_seed, KPF_LRNN_U, no, U, err);
    if (!rc) rc = kpf_lrnn_orthogonal(c->basis_seed, KPF_LRNN_V, ni, V, err);
    if (!rc) rc = kpf_lrnn_orthogonal(c->basis_seed, KPF_LRNN_R, n, R, err);
    if (!rc) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < ni; j++) {
                double s = 0;
                for (size_t a = 0; a < d; a++)
                    s += R[i * n + a] * av[a] * V[j * ni + a];
                Wx[i * ni + j] = s;
            }
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t a = 0; a < n; a++)
                    s += R[i * n + a] * bv[a] * R[j * n + a];
                Wh[i * n + j] = s;
            }
        }
        for (size_t o = 0; o < no; o++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t a = 0; a < d; a++)
                    s += U[o * no + a] * cv[a] * R[j * n + a];
                Wy[o * n + j] = s;
            }
    }
    free(U);
    free(V);
    free(R);
    free(av);
    return rc;
}

/* "kpf.lrnn.net/1": the three matrices of the network θ describes. */
static int lrnn_weights(const void *self, const double *theta, double *Wx, double *Wh,
                        double *Wy, kpf_error *err)
{
    const lrnn *m = self;
    if (!m || !theta || !Wx || !Wh || !Wy)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: weights: NULL argument");
    const size_t n = m->n, ni = m->n_in, no = m->n_out;
    if (m->param == P_FULL) {
        memcpy(Wx, theta, n * ni * sizeof *Wx);
        memcpy(Wh, theta + n * ni, n * n * sizeof *Wh);
        memcpy(Wy, theta + n * ni + n * n, no * n * sizeof *Wy);
        return KPF_OK;
    }
    const double *a = theta, *b = theta + n, *c = theta + 2 * n;
    memset(Wh, 0, n * n * sizeof *Wh);
    for (size_t i = 0; i < n; i++) {
        Wh[i * n + i] = b[i];
        for (size_t j = 0; j < ni; j++)
            Wx[i * ni + j] = a[i] * m->Vd[j * n + i];
        for (size_t o = 0; o < no; o++)
            Wy[o * n + i] = m->Ud[o * n + i] * c[i];
    }
    return KPF_OK;
}

static int lrnn_create(const kpf_model_args *args, void **self, kpf_error *err)
{
    if (!args || !self)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: create called with NULL arguments");
    if (args->struct_size < offsetof(kpf_model_args, rng) + sizeof(args->rng))
        return kpf_error_set(err, KPF_EABI, "lrnn: kpf_model_args too small (%u bytes)",
                             (unsigned)args->struct_size);
    *self = NULL;
    if (args->n_in < 1 || args->n_out < 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "lrnn: needs n_in ≥ 1 and n_out ≥ 1 (got %zu, %zu)",
                             args->n_in, args->n_out);
    if (!args->rng)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: no random generator given");
    const kpf_lrnn_config *typed = kpf_model_args_feature(args, KPF_LRNN_CONFIG_FEATURE);
    kpf_lrnn_config c;
    int rc = typed ? kpf_lrnn_config_check(typed, args->n_in, args->n_out, NULL, err)
                   : kpf_lrnn_config_read(args->node, args->n_in, args->n_out, &c, err);
    if (rc)
        return rc;
    if (typed)
        c = *typed;
    const int param = c.parameterisation;
    const size_t n = c.n;
    lrnn *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "lrnn: out of memory");
    m->param = param;
    m->n = n;
    m->n_in = args->n_in;
    m->n_out = args->n_out;
    const size_t ni = m->n_in, no = m->n_out;
    if (param == P_FULL) {
        m->blocks[0] = (kpf_param_block){"W_x", 0, n, ni};
        m->blocks[1] = (kpf_param_block){"W_h", n * ni, n, n};
        m->blocks[2] = (kpf_param_block){"W_y", n * ni + n * n, no, n};
        m->n_theta = n * ni + n * n + no * n;
    } else {
        m->blocks[0] = (kpf_param_block){"a", 0, n, 1};
        m->blocks[1] = (kpf_param_block){"b", n, n, 1};
        m->blocks[2] = (kpf_param_block){"c", 2 * n, n, 1};
        m->n_theta = 3 * n;
    }
    m->theta0 = calloc(m->n_theta, sizeof *m->theta0);
    if (!m->theta0) {
        lrnn_destroy(m);
        return kpf_error_set(err, KPF_ENOMEM, "lrnn: out of memory for θ");
    }
    if (param == P_FULL) {
        rc = init_full(m, &c, args->rng, err);
    } else {
        double *U = malloc(no * no * sizeof *U), *V = malloc(ni * ni * sizeof *V);
        m->Ud = malloc(no * n * sizeof *m->Ud);
        m->Vd = malloc(ni * n * sizeof *m->Vd);
        if (!U || !V || !m->Ud || !m->Vd)
            rc = kpf_error_set(err, KPF_ENOMEM, "lrnn: out of memory");
        if (!rc) rc = kpf_lrnn_orthogonal(c.basis_seed, KPF_LRNN_U, no, U, err);
        if (!rc) rc = kpf_lrnn_orthogonal(c.basis_seed, KPF_LRNN_V, ni, V, err);
        if (!rc) {
            take_cols(U, no, n, m->Ud);
            take_cols(V, ni, n, m->Vd);
            draw_modes(args->rng, c.a0, c.mode_noise, n, m->theta0);
            draw_modes(args->rng, c.b0, c.mode_noise, n, m->theta0 + n);
            draw_modes(args->rng, c.c0, c.mode_noise, n, m->theta0 + 2 * n);
        }
        free(U);
        free(V);
    }
    if (rc) {
        lrnn_destroy(m);
        return rc;
    }
    m->net = (kpf_lrnn_net_iface){ni, n, no, param, c.basis_seed, lrnn_weights};
    m->act_info = (kpf_activation_info){KPF_ACTIVATION_LINEAR, param == P_FULL ? "W_h" : NULL};
    *self = m;
    return KPF_OK;
}

static int lrnn_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    lrnn *m = self;
    if (!m || !L)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: params called with NULL arguments");
    memset(L, 0, sizeof *L);
    L->n = m->n;
    L->n_in = m->n_in;
    L->n_out = m->n_out;
    L->n_theta = m->n_theta;
    L->n_blocks = 3;
    L->blocks = m->blocks;
    L->theta0 = m->theta0;
    L->work_per_row = m->param == P_MODES ? m->n : 0;
    L->dt_default = 1.0;
    return KPF_OK;
}

/* ---- shared helpers -------------------------------------------------------- */

static int check(const lrnn *m, const kpf_rows *rows, int need_z, kpf_error *err)
{
    if (!rows)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: rows is NULL");
    if (need_z && rows->R > 0 && !rows->z)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: rows->z is NULL");
    if (m->param == P_MODES && rows->R > 0 && !rows->work)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: rows->work is NULL (needs %zu doubles "
                                              "per row)", m->n);
    return KPF_OK;
}

#define GEMM(ta, tb, M, N, K, A, lda, B_, ldb, beta, C, ldc)                                 \
    cblas_dgemm(CblasRowMajor, ta, tb, (int)(M), (int)(N), (int)(K), 1.0, A, (int)(lda), B_, \
                (int)(ldb), beta, C, (int)(ldc))

/* modes: work ← X V_d (R×d); zero when x is NULL. */
static const double *xv(const lrnn *m, const kpf_rows *rows)
{
    double *W = rows->work;
    if (rows->x)
        GEMM(CblasNoTrans, CblasNoTrans, rows->R, m->n, m->n_in, rows->x, m->n_in, m->Vd,
             m->n, 0.0, W, m->n);
    else
        memset(W, 0, rows->R * m->n * sizeof *W);
    return W;
}

/* ---- the map ----------------------------------------------------------- */

/* full: out = Z W_hᵀ + X W_xᵀ;  modes: out = b ⊙ z + a ⊙ (V_dᵀ x) */
static int map_eval(const lrnn *m, const double *th, const kpf_rows *rows, const double *Z,
                    double *out)
{
    const size_t n = m->n, R = rows->R;
    if (m->param == P_FULL) {
        const double *Wx = th, *Wh = th + n * m->n_in;
        if (Z)
            GEMM(CblasNoTrans, CblasTrans, R, n, n, Z, n, Wh, n, 0.0, out, n);
        else
            memset(out, 0, R * n * sizeof *out);
        if (rows->x)
            GEMM(CblasNoTrans, CblasTrans, R, n, m->n_in, rows->x, m->n_in, Wx, m->n_in, 1.0,
                 out, n);
        return KPF_OK;
    }
    const double *a = th, *b = th + n;
    const double *XV = xv(m, rows);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++) {
            size_t k = r * n + i;
            out[k] = (Z ? b[i] * Z[k] : 0.0) + a[i] * XV[k];
        }
    return KPF_OK;
}

static int lrnn_f(void *self, const double *theta, const kpf_rows *rows, double *out,
                  kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    return map_eval(m, theta, rows, rows->z, out);
}

/* J_z v: full V W_hᵀ, modes b ⊙ v;  J_zᵀ w: full W W_h, modes b ⊙ w. */
static int lrnn_jz_any(lrnn *m, const double *theta, const kpf_rows *rows, const double *v,
                       double *out, int transpose, kpf_error *err)
{
    int rc = check(m, rows, 0, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = m->n, R = rows->R;
    if (m->param == P_FULL) {
        const double *Wh = theta + n * m->n_in;
        GEMM(CblasNoTrans, transpose ? CblasNoTrans : CblasTrans, R, n, n, v, n, Wh, n, 0.0,
             out, n);
    } else {
        const double *b = theta + n;
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++)
                out[r * n + i] = b[i] * v[r * n + i];
    }
    return KPF_OK;
}

static int lrnn_jz(void *self, const double *theta, const kpf_rows *rows, const double *v,
                   double *out, kpf_error *err)
{
    return lrnn_jz_any(self, theta, rows, v, out, 0, err);
}

static int lrnn_jzT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                    double *out, kpf_error *err)
{
    return lrnn_jz_any(self, theta, rows, w, out, 1, err);
}

/* J_θ dθ: f is linear in θ, so it is f evaluated at dθ. */
static int lrnn_jth(void *self, const double *theta, const kpf_rows *rows, const double *dth,
                    double *out, kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    if (!dth)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: jth: dθ is NULL");
    return map_eval(m, dth, rows, rows->z, out);
}

/* full: g_Wx += Wᵀ X, g_Wh += Wᵀ Z;  modes: g_a += Σ_r w ⊙ V_dᵀx, g_b += Σ_r w ⊙ z */
static int lrnn_jthT(void *self, const double *theta, const kpf_rows *rows, const double *w,
                     double *g, kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    if (!g)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: jthT: g is NULL");
    const size_t n = m->n, R = rows->R, ni = m->n_in;
    if (m->param == P_FULL) {
        if (rows->x)
            GEMM(CblasTrans, CblasNoTrans, n, ni, R, w, n, rows->x, ni, 1.0, g, ni);
        GEMM(CblasTrans, CblasNoTrans, n, n, R, w, n, rows->z, n, 1.0, g + n * ni, n);
        return KPF_OK;
    }
    const double *XV = xv(m, rows);
    double *ga = g, *gb = g + n;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++) {
            size_t k = r * n + i;
            ga[i] += w[k] * XV[k];
            gb[i] += w[k] * rows->z[k];
        }
    return KPF_OK;
}

/* ---- the readout ŷ = W_y z  (modes: U_d (c ⊙ z)) ------------------------- */

static const double *wy_of(const lrnn *m, const double *th)
{
    return th + m->n * m->n_in + m->n * m->n;
}

/* out (R×n_out) = (C ⊙ V) U_dᵀ with C = c (modes) or V W_yᵀ (full). */
static void ro_apply(const lrnn *m, const double *th, const kpf_rows *rows, const double *V,
                     double *out)
{
    const size_t n = m->n, R = rows->R, no = m->n_out;
    if (m->param == P_FULL) {
        GEMM(CblasNoTrans, CblasTrans, R, no, n, V, n, wy_of(m, th), n, 0.0, out, no);
        return;
    }
    const double *c = th + 2 * n;
    double *W = rows->work;
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            W[r * n + i] = c[i] * V[r * n + i];
    GEMM(CblasNoTrans, CblasTrans, R, no, n, W, n, m->Ud, n, 0.0, out, no);
}

static int lrnn_readout(void *self, const double *theta, const kpf_rows *rows, double *out,
                        kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    ro_apply(m, theta, rows, rows->z, out);
    return KPF_OK;
}

static int lrnn_readout_jz(void *self, const double *theta, const kpf_rows *rows,
                           const double *v, double *out, kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 0, err);
    if (rc || rows->R == 0)
        return rc;
    ro_apply(m, theta, rows, v, out);
    return KPF_OK;
}

static int lrnn_readout_jzT(void *self, const double *theta, const kpf_rows *rows,
                            const double *w, double *out, kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 0, err);
    if (rc || rows->R == 0)
        return rc;
    const size_t n = m->n, R = rows->R, no = m->n_out;
    if (m->param == P_FULL) {
        GEMM(CblasNoTrans, CblasNoTrans, R, n, no, w, no, wy_of(m, theta), n, 0.0, out, n);
        return KPF_OK;
    }
    const double *c = theta + 2 * n;
    GEMM(CblasNoTrans, CblasNoTrans, R, n, no, w, no, m->Ud, n, 0.0, out, n);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            out[r * n + i] *= c[i];
    return KPF_OK;
}

static int lrnn_readout_jth(void *self, const double *theta, const kpf_rows *rows,
                            const double *dth, double *out, kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    if (!dth)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: readout_jth: dθ is NULL");
    ro_apply(m, dth, rows, rows->z, out); /* linear in W_y (or c) */
    return KPF_OK;
}

static int lrnn_readout_jthT(void *self, const double *theta, const kpf_rows *rows,
                             const double *w, double *g, kpf_error *err)
{
    lrnn *m = self;
    int rc = check(m, rows, 1, err);
    if (rc || rows->R == 0)
        return rc;
    if (!g)
        return kpf_error_set(err, KPF_EINVAL, "lrnn: readout_jthT: g is NULL");
    const size_t n = m->n, R = rows->R, no = m->n_out;
    if (m->param == P_FULL) { /* g_Wy += Wᵀ Z */
        GEMM(CblasTrans, CblasNoTrans, no, n, R, w, no, rows->z, n, 1.0,
             g + n * m->n_in + n * n, n);
        return KPF_OK;
    }
    double *WU = rows->work, *gc = g + 2 * n; /* g_c += Σ_r (U_dᵀ w) ⊙ z */
    GEMM(CblasNoTrans, CblasNoTrans, R, n, no, w, no, m->Ud, n, 0.0, WU, n);
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++)
            gc[i] += WU[r * n + i] * rows->z[r * n + i];
    return KPF_OK;
}

/* ---- extension data ---------------------------------------------------- */

static const void *lrnn_extension(void *self, const char *name)
{
    lrnn *m = self;
    if (!m || !name)
        return NULL;
    if (strcmp(name, KPF_LRNN_NET_INTERFACE) == 0)
        return &m->net;
    if (strcmp(name, KPF_ACTIVATION_INTERFACE) == 0)
        return &m->act_info;
    return NULL;
}

/* ---- descriptor -------------------------------------------------------- */

static const kpf_model_desc lrnn_desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "lrnn",
    .summary = "linear RNN h' = W_h h + W_x x, y = W_y h, no bias (Proca et al.); "
               "full or aligned-mode (a, b, c) parameterisation",
    .flags = KPF_MODEL_DISCRETE,
    .create = lrnn_create,
    .destroy = lrnn_destroy,
    .params = lrnn_params,
    .f = lrnn_f,
    .jz = lrnn_jz,
    .jzT = lrnn_jzT,
    .jth = lrnn_jth,
    .jthT = lrnn_jthT,
    .readout = lrnn_readout,
    .readout_jz = lrnn_readout_jz,
    .readout_jzT = lrnn_readout_jzT,
    .readout_jth = lrnn_readout_jth,
    .readout_jthT = lrnn_readout_jthT,
    .extension = lrnn_extension,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    return index == 0 ? &lrnn_desc : NULL;
}
