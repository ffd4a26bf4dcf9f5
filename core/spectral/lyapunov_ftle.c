/* Finite-time Lyapunov exponents over a window, per trial and as a
 * consensus over trials (KPFlow App. B.3): both from the fundamental
 * matrix Φ of the window, kept as Q·(R_N⋯R_1)·e^{scale} so that products
 * of many steps neither overflow nor lose their orthogonal part. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"
#include "lyapunov_internal.h"

typedef struct fund {
    double *P;     /* [B][n][n] upper-triangular R products, rescaled */
    double *scale; /* [B] log of the factor taken out of P            */
    double *work;  /* 2n² + 2n + 6: the QR's, then n² + the SVD's work  */
} fund;

static void fund_free(fund *f)
{
    free(f->P);
    free(f->scale);
    free(f->work);
}

static int fund_alloc(fund *f, size_t B, size_t n, kpf_error *err)
{
    f->P = malloc(B * n * n * sizeof(double));
    f->scale = calloc(B, sizeof(double));
    f->work = malloc((2 * n * n + 2 * n + 6) * sizeof(double));
    if (f->P && f->scale && f->work)
        return KPF_OK;
    fund_free(f);
    return kpf_error_set(err, KPF_ENOMEM, "cannot allocate %zu fundamental matrices of %zu²",
                         B, n);
}

/* P ← R P, then P /= max|P| with the log of the factor kept in *scale. */
static void absorb(double *P, const double *R, size_t n, double *scale)
{
    cblas_dtrmm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, (int)n,
                (int)n, 1.0, R, (int)n, P, (int)n);
    double mx = 0.0;
    for (size_t i = 0; i < n * n; i++)
        mx = fmax(mx, fabs(P[i]));
    if (mx > 0.0) {
        for (size_t i = 0; i < n * n; i++)
            P[i] /= mx;
        *scale += log(mx);
    }
}

static int check_window(const kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1,
                        kpf_error *err)
{
    if (!m || !tr)
        return kpf_error_set(err, KPF_EINVAL, "ftle: NULL model or trajectory");
    if (tr->n != m->n || tr->n_stages != m->stepper->n_stages)
        return kpf_error_set(err, KPF_EINVAL, "ftle: trajectory was simulated with another "
                                              "model or stepper");
    if (k0 >= k1 || k1 > tr->T)
        return kpf_error_set(err, KPF_EINVAL, "ftle: window [%zu, %zu) not inside [0, %zu)", k0,
                             k1, tr->T);
    return KPF_OK;
}

/* Φ_b over [k0, k1) for every trial: the identity pushed through the
 * tangent, with a QR every t_ons steps and at the window's end. */
static int fundamental(kpf_lyap_ws *w, size_t k0, size_t k1, size_t t_ons, fund *f,
                       kpf_error *err)
{
    size_t n = w->n;
    double *logd = f->work, *R = f->work + n;
    memset(f->P, 0, w->B * n * n * sizeof(double));
    for (size_t b = 0; b < w->B; b++)
        for (size_t i = 0; i < n; i++)
            f->P[(b * n + i) * n + i] = 1.0;
    int rc = kpf_lyap_ws_init(w, 1, 0, err);
    for (size_t step = k0; !rc && step < k1; step++) {
        rc = kpf_lyap_ws_step(w, step, err);
        if (rc || ((step - k0 + 1) % t_ons && step + 1 < k1))
            continue;
        for (size_t b = 0; !rc && b < w->B; b++)
            if (!(rc = kpf_lyap_ws_qr(w, b, logd, R, err)))
                absorb(f->P + b * n * n, R, n, &f->scale[b]);
    }
    return rc;
}

/* Shared set-up: workspace for n vectors per trial and Φ over the window. */
static int window_phi(kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1, size_t t_ons,
                      kpf_lyap_ws *w, fund *f, kpf_error *err)
{
    int rc = check_window(m, tr, k0, k1, err);
    if (!rc)
        rc = fund_alloc(f, tr->B, tr->n, err);
    if (!rc && (rc = kpf_lyap_ws_alloc(w, m, tr, tr->n, err)))
        fund_free(f);
    if (!rc && (rc = fundamental(w, k0, k1, t_ons ? t_ons : 1, f, err))) {
        kpf_lyap_ws_free(w);
        fund_free(f);
    }
    return rc;
}

int kpf_lyapunov_ftle(kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1, size_t t_ons,
                      double *ftle, kpf_error *err)
{
    kpf_lyap_ws w;
    fund f = {0};
    int rc = window_phi(m, tr, k0, k1, t_ons, &w, &f, err);
    if (rc)
        return rc;
    size_t n = tr->n;
    double time = tr->dt * (double)(k1 - k0), *A = f.work, *work = A + n * n;
    for (size_t b = 0; !rc && b < tr->B; b++) {
        /* σ(Φ_b) = σ(P_b) = σ(P_bᵀ); Pᵀ is column-graded, Jacobi's good case,
         * and P_b's row-major storage is Pᵀ's column-major one. */
        memcpy(A, f.P + b * n * n, n * n * sizeof(double));
        rc = kpf_lyap_svals(A, n, n, ftle + b * n, work, err);
        for (size_t i = 0; !rc && i < n; i++)
            ftle[b * n + i] = (log(ftle[b * n + i]) + f.scale[b]) / time;
    }
    kpf_lyap_ws_free(&w);
    fund_free(&f);
    return rc;
}

/* W (B·n × n, column-major, i.e. Wᵀ row-major): rows b·n … b·n+n−1 are
 * F_bᵀ = P_bᵀ Y_b e^{scale_b − top}, where Y_b's rows are the final
 * orthonormal vectors (Φ_b = Y_bᵀ P_b e^{scale_b}), so that
 * WᵀW = Σ_b Φ_b Φ_bᵀ e^{−2 top}.  Block b of Wᵀ is F_b = Y_bᵀ P_b e^{…}. */
static void wide_rows(const kpf_lyap_ws *w, const fund *f, double top, double *W)
{
    size_t n = w->n, B = w->B;
    for (size_t b = 0; b < B; b++)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)n,
                    exp(f->scale[b] - top), w->y + b * n * n, (int)n, f->P + b * n * n, (int)n,
                    0.0, W + b * n, (int)(B * n));
}

int kpf_lyapunov_consensus(kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1,
                           size_t t_ons, double *lambda, kpf_error *err)
{
    kpf_lyap_ws w;
    fund f = {0};
    int rc = window_phi(m, tr, k0, k1, t_ons, &w, &f, err);
    if (rc)
        return rc;
    size_t n = tr->n, B = tr->B;
    double top = -INFINITY, time = tr->dt * (double)(k1 - k0);
    for (size_t b = 0; b < B; b++)
        top = fmax(top, f.scale[b]);
    double *W = malloc((B * n * n + KPF_LYAP_SVALS_WORK(B * n, n)) * sizeof(double));
    rc = W ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "consensus: out of memory");
    if (!rc) {
        wide_rows(&w, &f, top, W);
        rc = kpf_lyap_svals(W, B * n, n, lambda, W + B * n * n, err);
    }
    /* μ_i(E_b[ΦΦᵀ]) = σ_i(W)² e^{2 top} / B;  λ_i = log(μ_i) / (2t). */
    for (size_t i = 0; !rc && i < n; i++)
        lambda[i] = (log(lambda[i]) - 0.5 * log((double)B) + top) / time;
    free(W);
    kpf_lyap_ws_free(&w);
    fund_free(&f);
    return rc;
}
