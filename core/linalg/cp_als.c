/* CP/PARAFAC by alternating least squares, factor-match scores and
 * unfolding spectra (kpf/cp.h). */
#include "kpf/cp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/blas.h"
#include "kpf/linalg.h"
#include "kpf/rng.h"

void kpf_cp_opts_default(kpf_cp_opts *o)
{
    o->max_iter = 1000;
    o->tol = 1e-12;
    o->restarts = 5;
    o->seed = 0;
}

void kpf_cp_free(kpf_cp *cp)
{
    if (!cp)
        return;
    free(cp->A);
    free(cp->B);
    free(cp->C);
    free(cp->lambda);
    memset(cp, 0, sizeof *cp);
}

/* ---- workspace ------------------------------------------------------------ */

typedef struct als_ws {
    size_t I, J, K, R;
    double *A, *B, *C;     /* current factors                  */
    double *T1;            /* (I·J)×R: X ×_3 C                 */
    double *KR;            /* (I·J)×R: Khatri–Rao of A and B   */
    double *Mx;            /* max(I,J,K)×R MTTKRP              */
    double *V, *Vp;        /* R×R normal matrix, pseudo-inverse */
    double *GA, *GB, *GC;  /* Gram matrices                    */
    gsl_eigen_symmv_workspace *ew;
    gsl_matrix *evec;
    gsl_vector *eval;
} als_ws;

static void ws_free(als_ws *w)
{
    free(w->A);
    free(w->B);
    free(w->C);
    free(w->T1);
    free(w->KR);
    free(w->Mx);
    free(w->V);
    free(w->Vp);
    free(w->GA);
    free(w->GB);
    free(w->GC);
    if (w->ew)
        gsl_eigen_symmv_free(w->ew);
    if (w->evec)
        gsl_matrix_free(w->evec);
    if (w->eval)
        gsl_vector_free(w->eval);
}

static int ws_alloc(als_ws *w, size_t I, size_t J, size_t K, size_t R, kpf_error *err)
{
    memset(w, 0, sizeof *w);
    w->I = I, w->J = J, w->K = K, w->R = R;
    size_t mx = I > J ? I : J;
    mx = mx > K ? mx : K;
    w->A = malloc(I * R * sizeof(double));
    w->B = malloc(J * R * sizeof(double));
    w->C = malloc(K * R * sizeof(double));
    w->T1 = malloc(I * J * R * sizeof(double));
    w->KR = malloc(I * J * R * sizeof(double));
    w->Mx = malloc(mx * R * sizeof(double));
    w->V = malloc(R * R * sizeof(double));
    w->Vp = malloc(R * R * sizeof(double));
    w->GA = malloc(R * R * sizeof(double));
    w->GB = malloc(R * R * sizeof(double));
    w->GC = malloc(R * R * sizeof(double));
    w->ew = gsl_eigen_symmv_alloc(R);
    w->evec = gsl_matrix_alloc(R, R);
    w->eval = gsl_vector_alloc(R);
    if (!w->A || !w->B || !w->C || !w->T1 || !w->KR || !w->Mx || !w->V || !w->Vp || !w->GA ||
        !w->GB || !w->GC || !w->ew || !w->evec || !w->eval) {
        ws_free(w);
        return kpf_error_set(err, KPF_ENOMEM, "cp_als: out of memory (I=%zu J=%zu K=%zu R=%zu)",
                             I, J, K, R);
    }
    return KPF_OK;
}

/* G = FᵀF (R×R) for F rows×R. */
static void gram(size_t rows, size_t R, const double *F, double *G)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)R, (int)R, (int)rows, 1.0, F,
                (int)R, F, (int)R, 0.0, G, (int)R);
}

/* Vp = V⁺ (symmetric PSD V) with eigenvalues below 1e-12·λ_max dropped. */
static void pinv_sym(als_ws *w)
{
    size_t R = w->R;
    gsl_matrix_view Vv = gsl_matrix_view_array(w->V, R, R);
    gsl_eigen_symmv(&Vv.matrix, w->eval, w->evec, w->ew); /* destroys V */
    double lmax = 0;
    for (size_t i = 0; i < R; i++)
        lmax = fmax(lmax, fabs(gsl_vector_get(w->eval, i)));
    memset(w->Vp, 0, R * R * sizeof(double));
    for (size_t e = 0; e < R; e++) {
        double l = gsl_vector_get(w->eval, e);
        if (!(l > 1e-12 * lmax))
            continue;
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < R; j++)
                w->Vp[i * R + j] +=
                    gsl_matrix_get(w->evec, i, e) * gsl_matrix_get(w->evec, j, e) / l;
    }
}

/* F (rows×R) = Mx V⁺ with V = G1 ∗ G2. */
static void solve_factor(als_ws *w, size_t rows, const double *G1, const double *G2,
                         double *F)
{
    size_t R = w->R;
    for (size_t i = 0; i < R * R; i++)
        w->V[i] = G1[i] * G2[i];
    pinv_sym(w);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)R, (int)R, 1.0,
                w->Mx, (int)R, w->Vp, (int)R, 0.0, F, (int)R);
}

/* Scale the columns of F to unit norm (zero columns stay zero). */
static void normalise_cols(size_t rows, size_t R, double *F, double *norms)
{
    for (size_t r = 0; r < R; r++) {
        double s = cblas_dnrm2((int)rows, F + r, (int)R);
        if (norms)
            norms[r] = s;
        if (s > 0)
            cblas_dscal((int)rows, 1.0 / s, F + r, (int)R);
    }
}

/* One ALS sweep; returns the squared residual ‖X − X̂‖². */
static double als_sweep(als_ws *w, const double *X, double xx)
{
    const size_t I = w->I, J = w->J, K = w->K, R = w->R;
    /* T1 = X_(IJ×K) C */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(I * J), (int)R, (int)K, 1.0,
                X, (int)K, w->C, (int)R, 0.0, w->T1, (int)R);
    gram(K, R, w->C, w->GC);
    /* A: Mx[i,r] = Σ_j T1[(i,j),r] B[j,r] */
    gram(J, R, w->B, w->GB);
    for (size_t i = 0; i < I; i++)
        for (size_t r = 0; r < R; r++) {
            double s = 0;
            for (size_t j = 0; j < J; j++)
                s += w->T1[(i * J + j) * R + r] * w->B[j * R + r];
            w->Mx[i * R + r] = s;
        }
    solve_factor(w, I, w->GB, w->GC, w->A);
    normalise_cols(I, R, w->A, NULL);
    gram(I, R, w->A, w->GA);
    /* B: Mx[j,r] = Σ_i T1[(i,j),r] A[i,r] */
    memset(w->Mx, 0, J * R * sizeof(double));
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < J; j++)
            for (size_t r = 0; r < R; r++)
                w->Mx[j * R + r] += w->T1[(i * J + j) * R + r] * w->A[i * R + r];
    solve_factor(w, J, w->GA, w->GC, w->B);
    normalise_cols(J, R, w->B, NULL);
    gram(J, R, w->B, w->GB);
    /* C: Mx = X_(IJ×K)ᵀ (A ⊙ B) */
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < J; j++)
            for (size_t r = 0; r < R; r++)
                w->KR[(i * J + j) * R + r] = w->A[i * R + r] * w->B[j * R + r];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)R, (int)(I * J), 1.0, X,
                (int)K, w->KR, (int)R, 0.0, w->Mx, (int)R);
    solve_factor(w, K, w->GA, w->GB, w->C);
    gram(K, R, w->C, w->GC);
    /* ‖X̂‖² = 1ᵀ(GA∗GB∗GC)1, ⟨X, X̂⟩ = Σ Mx ∗ C */
    double hh = 0, xh = 0;
    for (size_t i = 0; i < R * R; i++)
        hh += w->GA[i] * w->GB[i] * w->GC[i];
    for (size_t i = 0; i < K * R; i++)
        xh += w->Mx[i] * w->C[i];
    double res = xx - 2 * xh + hh;
    return res > 0 ? res : 0;
}

/* Leading left singular vectors of an unfolding into F (rows×R); columns
 * beyond the unfolding's rank stay as they are (random). */
static int hosvd_init(const double *X, size_t I, size_t J, size_t K, int mode, size_t R,
                      double *F, kpf_error *err)
{
    size_t dims[3] = {I, J, K};
    size_t rows = dims[mode], cols = I * J * K / rows;
    double *M = malloc(rows * cols * sizeof(double));
    double *s = malloc((rows < cols ? rows : cols) * sizeof(double));
    size_t k = rows < cols ? rows : cols;
    double *U = malloc(rows * k * sizeof(double));
    if (!M || !s || !U) {
        free(M);
        free(s);
        free(U);
        return kpf_error_set(err, KPF_ENOMEM, "cp_als: out of memory for the HOSVD start");
    }
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < J; j++)
            for (size_t q = 0; q < K; q++) {
                double v = X[(i * J + j) * K + q];
                if (mode == 0)
                    M[i * cols + j * K + q] = v;
                else if (mode == 1)
                    M[j * cols + i * K + q] = v;
                else
                    M[q * cols + i * J + j] = v;
            }
    int rc = kpf_matrix_svd(rows, cols, M, s, U, NULL, err);
    if (!rc)
        for (size_t r = 0; r < R && r < k; r++)
            if (s[r] > 0)
                for (size_t i = 0; i < rows; i++)
                    F[i * R + r] = U[i * k + r];
    free(M);
    free(s);
    free(U);
    return rc;
}

/* Normalise, fix signs, sort by λ: into out. */
static int finish(als_ws *w, kpf_cp *out, kpf_error *err)
{
    const size_t I = w->I, J = w->J, K = w->K, R = w->R;
    double *na = malloc(3 * R * sizeof(double));
    size_t *ord = malloc(R * sizeof(size_t));
    out->A = malloc(I * R * sizeof(double));
    out->B = malloc(J * R * sizeof(double));
    out->C = malloc(K * R * sizeof(double));
    out->lambda = malloc(R * sizeof(double));
    if (!na || !ord || !out->A || !out->B || !out->C || !out->lambda) {
        free(na);
        free(ord);
        return kpf_error_set(err, KPF_ENOMEM, "cp_als: out of memory");
    }
    normalise_cols(I, R, w->A, na);
    normalise_cols(J, R, w->B, na + R);
    normalise_cols(K, R, w->C, na + 2 * R);
    double *lam = na; /* reuse: λ_r = ‖a‖‖b‖‖c‖ */
    for (size_t r = 0; r < R; r++) {
        lam[r] = na[r] * na[R + r] * na[2 * R + r];
        double *F[2] = {w->A, w->B};
        size_t rows[2] = {I, J};
        for (int f = 0; f < 2; f++) {
            size_t imax = 0;
            for (size_t i = 1; i < rows[f]; i++)
                if (fabs(F[f][i * R + r]) > fabs(F[f][imax * R + r]))
                    imax = i;
            if (F[f][imax * R + r] < 0) {
                cblas_dscal((int)rows[f], -1.0, F[f] + r, (int)R);
                cblas_dscal((int)K, -1.0, w->C + r, (int)R);
            }
        }
    }
    for (size_t r = 0; r < R; r++)
        ord[r] = r;
    for (size_t a = 1; a < R; a++) /* insertion sort, descending λ */
        for (size_t b = a; b > 0 && lam[ord[b]] > lam[ord[b - 1]]; b--) {
            size_t t = ord[b];
            ord[b] = ord[b - 1];
            ord[b - 1] = t;
        }
    for (size_t r = 0; r < R; r++) {
        size_t o = ord[r];
        out->lambda[r] = lam[o];
        for (size_t i = 0; i < I; i++)
            out->A[i * R + r] = w->A[i * R + o];
        for (size_t j = 0; j < J; j++)
            out->B[j * R + r] = w->B[j * R + o];
        for (size_t k = 0; k < K; k++)
            out->C[k * R + r] = w->C[k * R + o];
    }
    free(na);
    free(ord);
    return KPF_OK;
}

int kpf_cp_als(const double *X, size_t I, size_t J, size_t K, size_t R,
               const kpf_cp_opts *o, kpf_cp *out, kpf_error *err)
{
    kpf_cp_opts def;
    if (!o) {
        kpf_cp_opts_default(&def);
        o = &def;
    }
    if (!X || !out || I == 0 || J == 0 || K == 0 || R == 0 || o->restarts == 0)
        return kpf_error_set(err, KPF_EINVAL,
                             "cp_als: need a tensor, sizes ≥ 1, rank ≥ 1 and restarts ≥ 1");
    memset(out, 0, sizeof *out);
    double xx = cblas_ddot((int)(I * J * K), X, 1, X, 1);
    if (!isfinite(xx))
        return kpf_error_set(err, KPF_ENUMERIC, "cp_als: the tensor has non-finite entries");
    als_ws w;
    int rc = ws_alloc(&w, I, J, K, R, err);
    if (rc)
        return rc;
    double *bA = malloc(I * R * sizeof(double)), *bB = malloc(J * R * sizeof(double)),
           *bC = malloc(K * R * sizeof(double));
    gsl_rng *rng = NULL;
    if (!bA || !bB || !bC)
        rc = kpf_error_set(err, KPF_ENOMEM, "cp_als: out of memory");
    if (!rc)
        rc = kpf_rng_alloc(o->seed, KPF_RNG_INIT, &rng, err);
    double best_res = INFINITY;
    size_t best_it = 0, best_restart = 0;
    for (size_t rs = 0; !rc && rs < o->restarts; rs++) {
        for (size_t i = 0; i < I * R; i++)
            w.A[i] = gsl_ran_gaussian(rng, 1.0);
        for (size_t i = 0; i < J * R; i++)
            w.B[i] = gsl_ran_gaussian(rng, 1.0);
        for (size_t i = 0; i < K * R; i++)
            w.C[i] = gsl_ran_gaussian(rng, 1.0);
        if (rs == 0 && xx > 0) {
            rc = hosvd_init(X, I, J, K, 1, R, w.B, err);
            if (!rc)
                rc = hosvd_init(X, I, J, K, 2, R, w.C, err);
            if (rc)
                break;
        }
        double prev = INFINITY, res = xx;
        size_t it;
        for (it = 1; it <= o->max_iter; it++) {
            res = als_sweep(&w, X, xx);
            double rel = xx > 0 ? sqrt(res / xx) : 0;
            if (!isfinite(rel)) {
                res = INFINITY;
                break;
            }
            if (fabs(prev - rel) < o->tol)
                break;
            prev = rel;
        }
        if (res < best_res) {
            best_res = res;
            best_it = it > o->max_iter ? o->max_iter : it;
            best_restart = rs;
            memcpy(bA, w.A, I * R * sizeof(double));
            memcpy(bB, w.B, J * R * sizeof(double));
            memcpy(bC, w.C, K * R * sizeof(double));
        }
    }
    if (!rc && !isfinite(best_res))
        rc = kpf_error_set(err, KPF_ENUMERIC, "cp_als: every restart diverged");
    if (!rc) {
        memcpy(w.A, bA, I * R * sizeof(double));
        memcpy(w.B, bB, J * R * sizeof(double));
        memcpy(w.C, bC, K * R * sizeof(double));
        out->I = I, out->J = J, out->K = K, out->R = R;
        rc = finish(&w, out, err);
    }
    if (!rc) {
        /* Exact residual of the kept factors (the sweep's is from the
         * algebraic identity, which loses digits near a perfect fit). */
        double *Xh = malloc(I * J * K * sizeof(double));
        if (!Xh)
            rc = kpf_error_set(err, KPF_ENOMEM, "cp_als: out of memory");
        else {
            kpf_cp_reconstruct(out, Xh);
            double r2 = 0;
            for (size_t i = 0; i < I * J * K; i++)
                r2 += (X[i] - Xh[i]) * (X[i] - Xh[i]);
            free(Xh);
            out->rel_err = xx > 0 ? sqrt(r2 / xx) : 0;
            out->ve = 1 - (xx > 0 ? r2 / xx : 0);
            out->iters = best_it;
            out->restart = best_restart;
        }
    }
    if (rc)
        kpf_cp_free(out);
    free(bA);
    free(bB);
    free(bC);
    gsl_rng_free(rng);
    ws_free(&w);
    return rc;
}

void kpf_cp_reconstruct(const kpf_cp *cp, double *Xh)
{
    const size_t I = cp->I, J = cp->J, K = cp->K, R = cp->R;
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < J; j++)
            for (size_t k = 0; k < K; k++) {
                double s = 0;
                for (size_t r = 0; r < R; r++)
                    s += cp->lambda[r] * cp->A[i * R + r] * cp->B[j * R + r] *
                         cp->C[k * R + r];
                Xh[(i * J + j) * K + k] = s;
            }
}

int kpf_cp_ve_sweep(const double *X, size_t I, size_t J, size_t K, size_t R_max,
                    const kpf_cp_opts *o, double *ve, kpf_error *err)
{
    for (size_t R = 1; R <= R_max; R++) {
        kpf_cp cp;
        int rc = kpf_cp_als(X, I, J, K, R, o, &cp, err);
        if (rc)
            return rc;
        ve[R - 1] = cp.ve;
        kpf_cp_free(&cp);
    }
    return KPF_OK;
}

/* ---- factor-match score ------------------------------------------------- */

static double col_dot(size_t rows, size_t R, const double *F, size_t r, const double *G,
                      size_t s)
{
    double d = 0;
    for (size_t i = 0; i < rows; i++)
        d += F[i * R + r] * G[i * R + s];
    return d;
}

typedef struct perm_search {
    size_t R;
    const double *S; /* R×R pair scores */
    size_t *cur, *best;
    int *used;
    double best_sum;
} perm_search;

static void perm_rec(perm_search *p, size_t r, double sum)
{
    if (r == p->R) {
        if (sum > p->best_sum) {
            p->best_sum = sum;
            memcpy(p->best, p->cur, p->R * sizeof(size_t));
        }
        return;
    }
    for (size_t s = 0; s < p->R; s++)
        if (!p->used[s]) {
            p->used[s] = 1;
            p->cur[r] = s;
            perm_rec(p, r + 1, sum + p->S[r * p->R + s]);
            p->used[s] = 0;
        }
}

int kpf_cp_match_score(const kpf_cp *a, const kpf_cp *b, int use_lambda, double *score,
                       size_t *perm, kpf_error *err)
{
    if (!a || !b || !score || a->I != b->I || a->J != b->J || a->K != b->K || a->R != b->R ||
        a->R == 0)
        return kpf_error_set(err, KPF_EINVAL,
                             "cp match score: the decompositions differ in shape or rank");
    const size_t R = a->R;
    double *S = malloc(R * R * sizeof(double));
    size_t *cur = malloc(R * sizeof(size_t)), *best = malloc(R * sizeof(size_t));
    int *used = calloc(R, sizeof(int));
    if (!S || !cur || !best || !used) {
        free(S);
        free(cur);
        free(best);
        free(used);
        return kpf_error_set(err, KPF_ENOMEM, "cp match score: out of memory");
    }
    for (size_t r = 0; r < R; r++)
        for (size_t s = 0; s < R; s++) {
            double v = fabs(col_dot(a->I, R, a->A, r, b->A, s)) *
                       fabs(col_dot(a->J, R, a->B, r, b->B, s)) *
                       fabs(col_dot(a->K, R, a->C, r, b->C, s));
            if (use_lambda) {
                double la = a->lambda[r], lb = b->lambda[s], m = fmax(la, lb);
                v *= m > 0 ? 1 - fabs(la - lb) / m : 1;
            }
            S[r * R + s] = v;
        }
    if (R <= 8) {
        perm_search p = {R, S, cur, best, used, -1.0};
        perm_rec(&p, 0, 0.0);
    } else { /* greedy: repeatedly take the best remaining pair */
        int *ua = calloc(R, sizeof(int));
        if (!ua) {
            free(S), free(cur), free(best), free(used);
            return kpf_error_set(err, KPF_ENOMEM, "cp match score: out of memory");
        }
        for (size_t t = 0; t < R; t++) {
            double bv = -1;
            size_t br = 0, bs = 0;
            for (size_t r = 0; r < R; r++)
                for (size_t s = 0; s < R; s++)
                    if (!ua[r] && !used[s] && S[r * R + s] > bv)
                        bv = S[r * R + s], br = r, bs = s;
            ua[br] = 1;
            used[bs] = 1;
            best[br] = bs;
        }
        free(ua);
    }
    double sum = 0;
    for (size_t r = 0; r < R; r++)
        sum += S[r * R + best[r]];
    *score = sum / (double)R;
    if (perm)
        memcpy(perm, best, R * sizeof(size_t));
    free(S);
    free(cur);
    free(best);
    free(used);
    return KPF_OK;
}

/* ---- unfoldings ------------------------------------------------------------ */

int kpf_tensor_unfold_sv(const double *X, size_t I, size_t J, size_t K, int mode, double *s,
                         kpf_error *err)
{
    if (mode < 0 || mode > 2)
        return kpf_error_set(err, KPF_EINVAL, "unfolding mode must be 0, 1 or 2 (got %d)", mode);
    size_t dims[3] = {I, J, K};
    size_t rows = dims[mode], cols = I * J * K / rows;
    double *M = malloc(rows * cols * sizeof(double));
    if (!M)
        return kpf_error_set(err, KPF_ENOMEM, "unfolding: out of memory");
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < J; j++)
            for (size_t q = 0; q < K; q++) {
                double v = X[(i * J + j) * K + q];
                if (mode == 0)
                    M[i * cols + j * K + q] = v;
                else if (mode == 1)
                    M[j * cols + i * K + q] = v;
                else
                    M[q * cols + i * J + j] = v;
            }
    int rc = kpf_matrix_svd(rows, cols, M, s, NULL, NULL, err);
    free(M);
    return rc;
}
