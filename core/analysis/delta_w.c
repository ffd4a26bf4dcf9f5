/* Weight-change analyses: weight tensors, ΔW truncation, functional rank,
 * shuffle test and projections (kpf/delta_w.h). */
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
#include "kpf/linalg.h"
#include "kpf/gradient.h"
#include "kpf/rng.h"

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
