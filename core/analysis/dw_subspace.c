/* How much of a set of weight changes lies outside the column/row spaces of
 * another change (kpf/delta_w.h: kpf_dw_subspace_residual). */
#include <math.h>
#include <stdlib.h>

#include "kpf/blas.h"
#include "kpf/delta_w.h"

/* ‖UᵀDV‖² without forming U Uᵀ D V Vᵀ: with orthonormal U and V the
 * projection's norm equals that of the k×k core.  `tmp` holds k×n. */
static double core_norm2(size_t n, size_t k, const double *D, const double *U, const double *V,
                         double *tmp, double *core)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, (int)n, 1.0, U, (int)k,
                D, (int)n, 0.0, tmp, (int)n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)k, (int)n, 1.0, tmp,
                (int)n, V, (int)k, 0.0, core, (int)k);
    double s = 0.0;
    for (size_t i = 0; i < k * k; i++)
        s += core[i] * core[i];
    return s;
}

double kpf_dw_subspace_residual(size_t n, size_t K, const double *D, size_t k, const double *U,
                                const double *V)
{
    double *tmp = malloc((k * n + k * k + 1) * sizeof(double));
    if (!tmp)
        return NAN;
    double total = 0.0, kept = 0.0;
    for (size_t s = 0; s < K; s++) {
        const double *Dk = D + s * n * n;
        total += cblas_ddot((int)(n * n), Dk, 1, Dk, 1);
        kept += core_norm2(n, k, Dk, U, V, tmp, tmp + k * n);
    }
    free(tmp);
    return total > 0.0 ? 1.0 - kept / total : NAN;
}
