/* The ltr plugin's factor parameterisation (ltr_factors.h), shared with the
 * ltr study (studies/ltr). */
#include "ltr_factors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "kpf/blas.h"

int kpf_ltr_kernel_chol(size_t K, double length, double scale, double jitter, double *L,
                        kpf_error *err)
{
    if (K == 0 || !(length > 0) || !isfinite(scale) || !isfinite(jitter))
        return kpf_error_set(err, KPF_EINVAL,
                             "ltr kernel: need K ≥ 1, length > 0, finite scale and jitter "
                             "(K = %zu, length = %g)",
                             K, length);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++) {
            double d = (double)i - (double)j;
            L[i * K + j] = scale * scale / (1.0 + d * d / (2.0 * length * length)) +
                           (i == j ? jitter * jitter : 0.0);
        }
    gsl_matrix_view A = gsl_matrix_view_array(L, K, K);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int st = gsl_linalg_cholesky_decomp1(&A.matrix);
    gsl_set_error_handler(old);
    if (st)
        return kpf_error_set(err, KPF_ENUMERIC,
                             "ltr kernel: A + jitter²I is not positive definite (K = %zu, "
                             "length = %g, scale = %g, jitter = %g); raise the jitter",
                             K, length, scale, jitter);
    for (size_t i = 0; i < K; i++) /* keep the lower triangle only */
        for (size_t j = i + 1; j < K; j++)
            L[i * K + j] = 0.0;
    return KPF_OK;
}

int kpf_ltr_normalise(size_t rk, size_t n, const double *in, double *out, double *norms,
                      kpf_error *err)
{
    for (size_t r = 0; r < rk; r++) {
        double s = cblas_dnrm2((int)n, in + r * n, 1);
        if (!(s > 0) || !isfinite(s))
            return kpf_error_set(err, KPF_ENUMERIC,
                                 "ltr: factor %zu has norm %g and cannot be normalised", r, s);
        norms[r] = s;
        for (size_t i = 0; i < n; i++)
            out[r * n + i] = in[r * n + i] / s;
    }
    return KPF_OK;
}

void kpf_ltr_trial_factors(size_t rk, size_t K, const double *L, const double *cbar,
                           double *C)
{
    if (!L) {
        memcpy(C, cbar, rk * K * sizeof(double));
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rk, (int)K, (int)K, 1.0, cbar,
                (int)K, L, (int)K, 0.0, C, (int)K);
}

void kpf_ltr_weight(size_t n, size_t rk, size_t K, const double *a, const double *b,
                    const double *C, size_t k, double *W)
{
    memset(W, 0, n * n * sizeof(double));
    for (size_t r = 0; r < rk; r++)
        cblas_dger(CblasRowMajor, (int)n, (int)n, C[r * K + k], a + r * n, 1, b + r * n, 1, W,
                   (int)n);
}
