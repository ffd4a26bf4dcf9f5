/* Weight-change analyses: SVD helpers, weight tensors, ΔW truncation,
 * functional rank, shuffle test, projections, Pellegrino's Theorem 1 and
 * Schuessler's linear theory (kpf/delta_w.h). */
#include "kpf/delta_w.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_permutation.h>
#include <gsl/gsl_permute_vector.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/blas.h"
#include "kpf/gradient.h"
#include "kpf/rng.h"
#include "kpf/stepper.h"

/* ---- linear algebra ------------------------------------------------------- */

int kpf_matrix_svd(size_t rows, size_t cols, const double *A, double *s, double *U, double *V,
                   kpf_error *err)
{
    if (!A || !s || rows == 0 || cols == 0)
        return kpf_error_set(err, KPF_EINVAL, "svd: empty matrix");
    int tr = rows < cols; /* GSL needs M ≥ N: decompose Aᵀ = V S Uᵀ */
    size_t M = tr ? cols : rows, N = tr ? rows : cols;
    gsl_matrix *a = gsl_matrix_alloc(M, N), *q = gsl_matrix_alloc(N, N);
    gsl_vector *sv = gsl_vector_alloc(N);
    if (!a || !q || !sv) {
        if (a) gsl_matrix_free(a);
        if (q) gsl_matrix_free(q);
        if (sv) gsl_vector_free(sv);
        return kpf_error_set(err, KPF_ENOMEM, "svd: out of memory (%zu×%zu)", rows, cols);
    }
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double v = A[i * cols + j];
            if (!isfinite(v)) {
                gsl_matrix_free(a);
                gsl_matrix_free(q);
                gsl_vector_free(sv);
                return kpf_error_set(err, KPF_ENUMERIC, "svd: entry (%zu,%zu) is %g", i, j, v);
            }
            if (tr)
                gsl_matrix_set(a, j, i, v);
            else
                gsl_matrix_set(a, i, j, v);
        }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int st = gsl_linalg_SV_decomp_jacobi(a, q, sv);
    gsl_set_error_handler(old);
    int rc = KPF_OK;
    if (st)
        rc = kpf_error_set(err, KPF_ENUMERIC, "svd: GSL Jacobi SVD failed (%s)",
                           gsl_strerror(st));
    else {
        /* a = left vectors of the decomposed matrix (M×N), q = right (N×N). */
        for (size_t i = 0; i < N; i++)
            s[i] = gsl_vector_get(sv, i);
        gsl_matrix *Lm = tr ? q : a, *Rm = tr ? a : q; /* U of A: rows×N, V of A: cols×N */
        if (U)
            for (size_t i = 0; i < rows; i++)
                for (size_t r = 0; r < N; r++)
                    U[i * N + r] = gsl_matrix_get(Lm, i, r);
        if (V)
            for (size_t j = 0; j < cols; j++)
                for (size_t r = 0; r < N; r++)
                    V[j * N + r] = gsl_matrix_get(Rm, j, r);
    }
    gsl_matrix_free(a);
    gsl_matrix_free(q);
    gsl_vector_free(sv);
    return rc;
}

size_t kpf_numerical_rank(const double *s, size_t k, double rel_tol)
{
    if (k == 0 || !(s[0] > 0))
        return 0;
    size_t r = 0;
    for (size_t i = 0; i < k; i++)
        if (s[i] > rel_tol * s[0])
            r++;
    return r;
}

/* ---- weight tensors --------------------------------------------------------- */

static const kpf_param_block *square_block(const kpf_model *m, const char *block,
                                           kpf_error *err)
{
    const kpf_param_block *b = kpf_model_block(m, block ? block : "W");
    if (!b) {
        kpf_error_set(err, KPF_EINVAL, "model '%s' has no parameter block '%s'",
                      m->desc->name, block ? block : "W");
        return NULL;
    }
    if (b->rows != m->n || b->cols != m->n) {
        kpf_error_set(err, KPF_EINVAL,
                      "block '%s' of model '%s' is %zu×%zu, not the recurrent n×n = %zu×%zu",
                      b->name, m->desc->name, b->rows, b->cols, m->n, m->n);
        return NULL;
    }
    return b;
}

int kpf_weight_snapshot(const kpf_model *m, const double *theta, const char *block,
                        double *W, kpf_error *err)
{
    const kpf_param_block *b = square_block(m, block, err);
    if (!b)
        return err ? err->code : KPF_EINVAL;
    memcpy(W, (theta ? theta : m->theta) + b->offset, m->n * m->n * sizeof(double));
    return KPF_OK;
}

void kpf_weight_tensor(size_t n, size_t K, const double *snaps, int subtract_first,
                       double *W)
{
    for (size_t i = 0; i < n * n; i++)
        for (size_t k = 0; k < K; k++)
            W[i * K + k] = snaps[k * n * n + i] - (subtract_first ? snaps[i] : 0.0);
}

/* ---- ΔW truncation, functional rank, shuffle --------------------------------- */

/* Evaluate the loss with the block set to Wb; θ is restored by the caller. */
static int loss_with(kpf_model *m, const kpf_param_block *b, const double *Wb,
                     const kpf_task_batch *bt, kpf_grad_ws *ws, double *loss, kpf_error *err)
{
    memcpy(m->theta + b->offset, Wb, m->n * m->n * sizeof(double));
    int rc = kpf_model_theta_changed(m, err);
    return rc ? rc : kpf_loss_eval(m, bt, ws, loss, err);
}

int kpf_dw_truncation_losses(kpf_model *m, const char *block, const double *W0,
                             const double *W, const kpf_task_batch *bt, size_t R_max,
                             double *loss, double *sv, kpf_error *err)
{
    const kpf_param_block *b = square_block(m, block, err);
    if (!b)
        return err ? err->code : KPF_EINVAL;
    const size_t n = m->n;
    if (R_max > n)
        R_max = n;
    double *dW = malloc(n * n * sizeof(double)), *s = malloc(n * sizeof(double));
    double *U = malloc(n * n * sizeof(double)), *V = malloc(n * n * sizeof(double));
    double *Wr = malloc(n * n * sizeof(double)), *save = malloc(n * n * sizeof(double));
    kpf_grad_ws *ws = NULL;
    int rc = KPF_OK;
    if (!dW || !s || !U || !V || !Wr || !save)
        rc = kpf_error_set(err, KPF_ENOMEM, "ΔW truncation: out of memory");
    if (!rc)
        rc = kpf_grad_ws_alloc(m, bt->B, bt->T, &ws, err);
    if (!rc) {
        memcpy(save, m->theta + b->offset, n * n * sizeof(double));
        for (size_t i = 0; i < n * n; i++)
            dW[i] = W[i] - W0[i];
        rc = kpf_matrix_svd(n, n, dW, s, U, V, err);
    }
    if (!rc && sv)
        memcpy(sv, s, n * sizeof(double));
    memcpy(Wr, W0, n * n * sizeof(double));
    for (size_t R = 0; !rc && R <= R_max; R++) {
        if (R > 0) /* Wr += s_R u_R v_Rᵀ */
            cblas_dger(CblasRowMajor, (int)n, (int)n, s[R - 1], U + (R - 1), (int)n,
                       V + (R - 1), (int)n, Wr, (int)n);
        rc = loss_with(m, b, Wr, bt, ws, &loss[R], err);
    }
    if (save) {
        memcpy(m->theta + b->offset, save, n * n * sizeof(double));
        int rc2 = kpf_model_theta_changed(m, rc ? NULL : err);
        rc = rc ? rc : rc2;
    }
    kpf_grad_ws_free(ws);
    free(dW), free(s), free(U), free(V), free(Wr), free(save);
    return rc;
}

long kpf_dw_functional_rank(const double *loss, size_t R_max, double L0, double frac)
{
    for (size_t R = 0; R <= R_max; R++)
        if (loss[R] < frac * L0)
            return (long)R;
    return -1;
}

int kpf_dw_shuffle_loss(kpf_model *m, const char *block, const double *W0, const double *W,
                        const kpf_task_batch *bt, uint64_t seed, size_t n_shuffles,
                        double *loss, kpf_error *err)
{
    const kpf_param_block *b = square_block(m, block, err);
    if (!b)
        return err ? err->code : KPF_EINVAL;
    if (n_shuffles == 0)
        n_shuffles = 1;
    const size_t n = m->n, nn = n * n;
    double *Ws = malloc(nn * sizeof(double)), *perm = malloc(nn * sizeof(double));
    double *save = malloc(nn * sizeof(double));
    kpf_grad_ws *ws = NULL;
    gsl_rng *rng = NULL;
    int rc = KPF_OK;
    if (!Ws || !perm || !save)
        rc = kpf_error_set(err, KPF_ENOMEM, "shuffle test: out of memory");
    if (!rc)
        rc = kpf_rng_alloc(seed, KPF_RNG_DATA, &rng, err);
    if (!rc)
        rc = kpf_grad_ws_alloc(m, bt->B, bt->T, &ws, err);
    if (!rc)
        memcpy(save, m->theta + b->offset, nn * sizeof(double));
    double sum = 0;
    for (size_t t = 0; !rc && t < n_shuffles; t++) {
        memcpy(perm, W0, nn * sizeof(double));
        gsl_ran_shuffle(rng, perm, nn, sizeof(double));
        for (size_t i = 0; i < nn; i++)
            Ws[i] = perm[i] + (W[i] - W0[i]);
        double l;
        rc = loss_with(m, b, Ws, bt, ws, &l, err);
        sum += l;
    }
    if (!rc)
        *loss = sum / (double)n_shuffles;
    if (save && ws) {
        memcpy(m->theta + b->offset, save, nn * sizeof(double));
        int rc2 = kpf_model_theta_changed(m, rc ? NULL : err);
        rc = rc ? rc : rc2;
    }
    kpf_grad_ws_free(ws);
    if (rng)
        gsl_rng_free(rng);
    free(Ws), free(perm), free(save);
    return rc;
}

/* ---- projections ---------------------------------------------------------- */

/* Orthonormalise the c columns of Q (n×c row-major, leading dim c) in place
 * by modified Gram–Schmidt applied twice; columns that vanish (relative
 * 1e-10) are zeroed.  Returns nothing: zero columns project to nothing. */
static void orthonormalise(size_t n, size_t c, double *Q)
{
    for (size_t j = 0; j < c; j++) {
        double n0 = cblas_dnrm2((int)n, Q + j, (int)c);
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < j; i++) {
                double d = 0;
                for (size_t r = 0; r < n; r++)
                    d += Q[r * c + i] * Q[r * c + j];
                for (size_t r = 0; r < n; r++)
                    Q[r * c + j] -= d * Q[r * c + i];
            }
        double nj = cblas_dnrm2((int)n, Q + j, (int)c);
        double sc = (n0 > 0 && nj > 1e-10 * n0) ? 1.0 / nj : 0.0;
        cblas_dscal((int)n, sc, Q + j, (int)c);
    }
}

/* ‖Q Qᵀ x‖² for orthonormal (or zero) columns Q (n×c). */
static double proj2(size_t n, size_t c, const double *Q, const double *x, size_t incx)
{
    double s = 0;
    for (size_t j = 0; j < c; j++) {
        double d = 0;
        for (size_t r = 0; r < n; r++)
            d += Q[r * c + j] * x[r * incx];
        s += d * d;
    }
    return s;
}

int kpf_dw_projections(size_t n, const double *W0, const double *dW, size_t n_out,
                       const double *wout, size_t n_in, const double *win, size_t powers,
                       size_t k, double *proj_u, double *proj_v, kpf_error *err)
{
    if (k > n)
        k = n;
    size_t reps = powers ? powers + 1 : 1;
    size_t cl = n_out * reps, cr = n_in * reps;
    double *QL = calloc(n * (cl ? cl : 1), sizeof(double));
    double *QR = calloc(n * (cr ? cr : 1), sizeof(double));
    double *s = malloc(n * sizeof(double)), *U = malloc(n * n * sizeof(double)),
           *V = malloc(n * n * sizeof(double)), *tmp = malloc(n * sizeof(double));
    gsl_matrix *lu = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int rc = KPF_OK;
    if (!QL || !QR || !s || !U || !V || !tmp || !lu || !p)
        rc = kpf_error_set(err, KPF_ENOMEM, "ΔW projections: out of memory");
    if (!rc && powers == 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                gsl_matrix_set(lu, i, j, (i == j) - W0[i * n + j]);
        int sg;
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        if (gsl_linalg_LU_decomp(lu, p, &sg) || fabs(gsl_linalg_LU_det(lu, sg)) == 0)
            rc = kpf_error_set(err, KPF_ENUMERIC, "ΔW projections: I − W₀ is singular");
        gsl_set_error_handler(old);
    }
    /* Columns: left  (I−W₀)⁻ᵀ w_o or (W₀ᵀ)^j w_o;  right (I−W₀)⁻¹ m_i or W₀^j m_i. */
    for (int side = 0; !rc && side < 2; side++) {
        size_t nv = side ? n_in : n_out, c = side ? cr : cl;
        double *Q = side ? QR : QL;
        for (size_t v = 0; v < nv; v++) {
            for (size_t r = 0; r < n; r++)
                tmp[r] = side ? win[r * n_in + v] : wout[v * n + r];
            if (powers == 0) {
                gsl_vector_view x = gsl_vector_view_array(tmp, n);
                if (side)
                    gsl_linalg_LU_svx(lu, p, &x.vector);
                else { /* (I−W₀)ᵀ y = w: PA = LU ⇒ Aᵀ = UᵀLᵀP */
                    gsl_matrix_const_view LU = gsl_matrix_const_view_array(lu->data, n, n);
                    cblas_dtrsv(CblasRowMajor, CblasUpper, CblasTrans, CblasNonUnit, (int)n,
                                LU.matrix.data, (int)lu->tda, tmp, 1);
                    cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasUnit, (int)n,
                                LU.matrix.data, (int)lu->tda, tmp, 1);
                    gsl_permute_vector_inverse(p, &x.vector);
                }
                for (size_t r = 0; r < n; r++)
                    Q[r * c + v] = tmp[r];
            } else
                for (size_t j = 0; j < reps; j++) {
                    for (size_t r = 0; r < n; r++)
                        Q[r * c + v * reps + j] = tmp[r];
                    double *nx = s; /* scratch: next power */
                    cblas_dgemv(CblasRowMajor, side ? CblasNoTrans : CblasTrans, (int)n, (int)n,
                                1.0, W0, (int)n, tmp, 1, 0.0, nx, 1);
                    memcpy(tmp, nx, n * sizeof(double));
                }
        }
        orthonormalise(n, c, Q);
    }
    if (!rc)
        rc = kpf_matrix_svd(n, n, dW, s, U, V, err);
    for (size_t i = 0; !rc && i < k; i++) {
        proj_u[i] = cl ? proj2(n, cl, QL, U + i, n) : 0.0;
        proj_v[i] = cr ? proj2(n, cr, QR, V + i, n) : 0.0;
    }
    free(QL), free(QR), free(s), free(U), free(V), free(tmp);
    if (lu) gsl_matrix_free(lu);
    if (p) gsl_permutation_free(p);
    return rc;
}

/* ---- Theorem 1 ---------------------------------------------------------------- */

static double act_phi(int act, double x)
{
    switch (act) {
    case KPF_ACT_TANH: return tanh(x);
    case KPF_ACT_RELU: return x > 0 ? x : 0;
    case KPF_ACT_SOFTPLUS: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    default: return x;
    }
}

void kpf_thm1_free(kpf_thm1 *t)
{
    if (!t)
        return;
    free(t->grad);
    free(t->s_grad);
    free(t->s_adj);
    free(t->s_phi);
    free(t->bound);
    memset(t, 0, sizeof *t);
}

int kpf_thm1_check(kpf_model *m, const kpf_task_batch *bt, const char *block, int act,
                   kpf_thm1 *out, kpf_error *err)
{
    memset(out, 0, sizeof *out);
    const kpf_param_block *b = square_block(m, block, err);
    if (!b)
        return err ? err->code : KPF_EINVAL;
    double h;
    if (m->stepper == &kpf_stepper_euler)
        h = m->dt;
    else if (m->stepper == &kpf_stepper_discrete)
        h = 1.0;
    else
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "Theorem 1 check: ∇_W L = h Σ λ φ(z)ᵀ holds for the Euler step "
                             "or a discrete map, not for step '%s'",
                             m->stepper->name);
    const size_t n = m->n, B = bt->B, T = bt->T, rows = B * T;
    out->n = n;
    out->grad = malloc(n * n * sizeof(double));
    out->s_grad = calloc(n, sizeof(double));
    out->s_adj = calloc(n, sizeof(double));
    out->s_phi = calloc(n, sizeof(double));
    out->bound = calloc(n, sizeof(double));
    double *g = malloc(m->m * sizeof(double));
    double *Am = malloc(rows * n * sizeof(double)), *Ph = malloc(rows * n * sizeof(double));
    double *G2 = malloc(n * n * sizeof(double));
    kpf_grad_ws *ws = NULL;
    int rc = KPF_OK;
    if (!out->grad || !out->s_grad || !out->s_adj || !out->s_phi || !out->bound || !g || !Am ||
        !Ph || !G2)
        rc = kpf_error_set(err, KPF_ENOMEM, "Theorem 1 check: out of memory");
    if (!rc)
        rc = kpf_grad_ws_alloc(m, B, T, &ws, err);
    if (!rc)
        rc = kpf_loss_grad(m, bt, 0, ws, &out->loss, g, err);
    if (!rc) {
        memcpy(out->grad, g + b->offset, n * n * sizeof(double));
        const double sh = sqrt(h);
        for (size_t k = 0; k < T; k++) {
            const double *zb = kpf_traj_state_before(ws->tr, k);
            for (size_t i = 0; i < B * n; i++) {
                Am[k * B * n + i] = sh * ws->lambda[k * B * n + i];
                Ph[k * B * n + i] = sh * act_phi(act, zb[i]);
            }
        }
        /* A Φᵀ with A = Amᵀ (n × rows): G2 = Amᵀ Ph */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)rows, 1.0, Am,
                    (int)n, Ph, (int)n, 0.0, G2, (int)n);
        double d2 = 0, g2 = 0;
        for (size_t i = 0; i < n * n; i++) {
            d2 += (G2[i] - out->grad[i]) * (G2[i] - out->grad[i]);
            g2 += out->grad[i] * out->grad[i];
        }
        out->factor_err = g2 > 0 ? sqrt(d2 / g2) : sqrt(d2);
        rc = kpf_matrix_svd(n, n, out->grad, out->s_grad, NULL, NULL, err);
    }
    if (!rc)
        rc = kpf_matrix_svd(rows, n, Am, out->s_adj, NULL, NULL, err);
    if (!rc)
        rc = kpf_matrix_svd(rows, n, Ph, out->s_phi, NULL, NULL, err);
    if (!rc) {
        /* s_adj, s_phi beyond min(rows, n) stay 0 */
        double ex = -INFINITY, s1 = out->s_grad[0];
        for (size_t r = 0; r < n; r++) {
            out->bound[r] = fmin(out->s_phi[0] * out->s_adj[r], out->s_adj[0] * out->s_phi[r]);
            double e = s1 > 0 ? (out->s_grad[r] - out->bound[r]) / s1 : 0.0;
            if (e > ex)
                ex = e;
        }
        out->max_excess = ex;
    }
    kpf_grad_ws_free(ws);
    free(g), free(Am), free(Ph), free(G2);
    if (rc)
        kpf_thm1_free(out);
    return rc;
}

/* ---- Schuessler's linear theory ------------------------------------------- */

void kpf_lin_opts_default(kpf_lin_opts *o)
{
    o->N = 400;
    o->g = 0.0;
    o->zhat = 0.5;
    o->eta0 = 0.015;
    o->max_epochs = 2000;
    o->frac = 0.05;
    o->seed = 0;
}

/* Inverse of (I − W) into Binv (n×n) by LU. */
static int inv_I_minus(size_t n, const double *W, double *Binv, kpf_error *err)
{
    gsl_matrix *a = gsl_matrix_alloc(n, n), *inv = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int rc = KPF_OK, sg;
    if (!a || !inv || !p)
        rc = kpf_error_set(err, KPF_ENOMEM, "linear theory: out of memory");
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                gsl_matrix_set(a, i, j, (i == j) - W[i * n + j]);
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        if (gsl_linalg_LU_decomp(a, p, &sg) || gsl_linalg_LU_invert(a, p, inv))
            rc = kpf_error_set(err, KPF_ENUMERIC, "linear theory: I − W is singular");
        gsl_set_error_handler(old);
    }
    if (!rc)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                Binv[i * n + j] = gsl_matrix_get(inv, i, j);
    if (a) gsl_matrix_free(a);
    if (inv) gsl_matrix_free(inv);
    if (p) gsl_permutation_free(p);
    return rc;
}

static void unit_gauss(gsl_rng *rng, size_t n, double *v)
{
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_gaussian(rng, 1.0);
    cblas_dscal((int)n, 1.0 / cblas_dnrm2((int)n, v, 1), v, 1);
}

static double cosabs(size_t n, const double *a, size_t inca, const double *b)
{
    double d = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += a[i * inca] * b[i];
        na += a[i * inca] * a[i * inca];
        nb += b[i] * b[i];
    }
    return (na > 0 && nb > 0) ? fabs(d) / sqrt(na * nb) : 0.0;
}

int kpf_dw_linear_theory(const kpf_lin_opts *o, kpf_lin_result *res, kpf_error *err)
{
    memset(res, 0, sizeof *res);
    const size_t n = o->N;
    if (n < 2 || !(o->g >= 0 && o->g < 1) || !(o->eta0 > 0))
        return kpf_error_set(err, KPF_EINVAL,
                             "linear theory: need N ≥ 2, 0 ≤ g < 1 and eta0 > 0 (N = %zu, g = %g)",
                             n, o->g);
    const size_t nn = n * n;
    double *W0 = malloc(nn * sizeof(double)), *W = malloc(nn * sizeof(double));
    double *Bi = malloc(nn * sizeof(double)), *B0 = malloc(nn * sizeof(double));
    double *m = malloc(n * sizeof(double)), *w = malloc(n * sizeof(double));
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    double *Bu = malloc(n * sizeof(double)), *vB = malloc(n * sizeof(double));
    double *s = malloc(n * sizeof(double)), *U = malloc(nn * sizeof(double)),
           *V = malloc(nn * sizeof(double));
    gsl_rng *rng = NULL;
    int rc = KPF_OK;
    if (!W0 || !W || !Bi || !B0 || !m || !w || !x || !y || !Bu || !vB || !s || !U || !V)
        rc = kpf_error_set(err, KPF_ENOMEM, "linear theory: out of memory (N = %zu)", n);
    if (!rc)
        rc = kpf_rng_alloc(o->seed, KPF_RNG_INIT, &rng, err);
    if (!rc) {
        for (size_t i = 0; i < nn; i++)
            W0[i] = gsl_ran_gaussian(rng, o->g / sqrt((double)n));
        unit_gauss(rng, n, m);
        unit_gauss(rng, n, w);
        memcpy(W, W0, nn * sizeof(double));
        rc = inv_I_minus(n, W0, Bi, err);
    }
    if (!rc)
        memcpy(B0, Bi, nn * sizeof(double));
    const double eta = o->eta0 * (1 - o->g * o->g) * (1 - o->g * o->g);
    res->eta = eta;
    res->tau_star = NAN;
    double gsum = 0;
    size_t ep = 0;
    for (; !rc; ep++) {
        /* x = (I−W)⁻¹ m, y = (I−W)⁻ᵀ w, z = wᵀx */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, Bi, (int)n, m, 1, 0.0, x,
                    1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, Bi, (int)n, w, 1, 0.0, y, 1);
        double z = cblas_ddot((int)n, w, 1, x, 1), e = o->zhat - z, L = 0.5 * e * e;
        if (!isfinite(L)) {
            rc = kpf_error_set(err, KPF_ENUMERIC, "linear theory: loss diverged at epoch %zu",
                               ep);
            break;
        }
        if (ep == 0)
            res->L0 = L;
        res->z = z;
        res->loss = L;
        if (isnan(res->tau_star) && L < o->frac * res->L0)
            res->tau_star = eta * (double)ep;
        if (!isnan(res->tau_star) || ep >= o->max_epochs)
            break;
        /* W += η e y xᵀ;  Sherman–Morrison for (I − W − u vᵀ)⁻¹, u = η e y, v = x */
        double a = eta * e;
        gsum += fabs(e) * cblas_dnrm2((int)n, y, 1) * cblas_dnrm2((int)n, x, 1);
        cblas_dger(CblasRowMajor, (int)n, (int)n, a, y, 1, x, 1, W, (int)n);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, a, Bi, (int)n, y, 1, 0.0, Bu, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, Bi, (int)n, x, 1, 0.0, vB, 1);
        double den = 1.0 - cblas_ddot((int)n, x, 1, Bu, 1);
        if (!(fabs(den) > 1e-14)) {
            rc = kpf_error_set(err, KPF_ENUMERIC, "linear theory: I − W became singular");
            break;
        }
        cblas_dger(CblasRowMajor, (int)n, (int)n, 1.0 / den, Bu, 1, vB, 1, Bi, (int)n);
    }
    res->epochs = ep;
    res->grad_norm = ep ? gsum / (double)ep : 0.0;
    if (!rc) {
        for (size_t i = 0; i < nn; i++)
            U[i] = W[i] - W0[i];
        res->dw_norm = cblas_dnrm2((int)nn, U, 1);
        double *dW = U;
        double *dWc = malloc(nn * sizeof(double));
        if (!dWc)
            rc = kpf_error_set(err, KPF_ENOMEM, "linear theory: out of memory");
        else {
            memcpy(dWc, dW, nn * sizeof(double));
            rc = kpf_matrix_svd(n, n, dWc, s, U, V, err);
            if (!rc) {
                for (int i = 0; i < 3; i++)
                    res->s[i] = s[i];
                /* overlaps with (I−W₀)⁻ᵀ w and (I−W₀)⁻¹ m */
                cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, B0, (int)n, w, 1,
                            0.0, y, 1);
                cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, B0, (int)n, m, 1,
                            0.0, x, 1);
                res->proj_u = cosabs(n, U, n, y);
                res->proj_v = cosabs(n, V, n, x);
                /* shuffle test: shuffle(W₀) + ΔW */
                double *Ws = B0; /* reuse */
                memcpy(Ws, W0, nn * sizeof(double));
                gsl_ran_shuffle(rng, Ws, nn, sizeof(double));
                for (size_t i = 0; i < nn; i++)
                    Ws[i] += dWc[i];
                rc = inv_I_minus(n, Ws, Bi, err);
                if (!rc) {
                    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, Bi, (int)n, m,
                                1, 0.0, x, 1);
                    double e = o->zhat - cblas_ddot((int)n, w, 1, x, 1);
                    res->shuffle_loss = 0.5 * e * e;
                }
            }
            free(dWc);
        }
    }
    if (rng)
        gsl_rng_free(rng);
    free(W0), free(W), free(Bi), free(B0), free(m), free(w), free(x), free(y), free(Bu),
        free(vB), free(s), free(U), free(V);
    return rc;
}
