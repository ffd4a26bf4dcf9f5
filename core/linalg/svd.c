/* Dense SVD and numerical rank (kpf/linalg.h). */
#include "kpf/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "gsl_quiet.h"

/* ---- linear algebra ------------------------------------------------------- */

/* A (rows×cols) into the M×N GSL matrix a, transposed when tr; a
 * non-finite entry is an error naming it. */
static int fill(size_t rows, size_t cols, const double *A, int tr, gsl_matrix *a, kpf_error *err)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double v = A[i * cols + j];
            if (!isfinite(v))
                return kpf_error_set(err, KPF_ENUMERIC, "svd: entry (%zu,%zu) is %g", i, j, v);
            if (tr)
                gsl_matrix_set(a, j, i, v);
            else
                gsl_matrix_set(a, i, j, v);
        }
    return KPF_OK;
}

int kpf_matrix_svd(size_t rows, size_t cols, const double *A, double *s, double *U, double *V,
                   kpf_error *err)
{
    if (!A || !s || rows == 0 || cols == 0)
        return kpf_error_set(err, KPF_EINVAL, "svd: empty matrix");
    int tr = rows < cols; /* GSL needs M ≥ N: decompose Aᵀ = V S Uᵀ */
    size_t M = tr ? cols : rows, N = tr ? rows : cols;
    gsl_matrix *a = gsl_matrix_alloc(M, N), *q = gsl_matrix_alloc(N, N);
    gsl_vector *sv = gsl_vector_alloc(N), *work = gsl_vector_alloc(N);
    int rc = a && q && sv && work
                 ? fill(rows, cols, A, tr, a, err)
                 : kpf_error_set(err, KPF_ENOMEM, "svd: out of memory (%zu×%zu)", rows, cols);
    if (!rc) {
        /* Golub–Reinsch, not GSL 2.7's one-sided Jacobi: the latter
         * returned a U far from orthonormal from about 80×80 on (0.26 at
         * 256×256, with singular values off by a quarter of σ₁) and no
         * error, while U S Vᵀ still reproduced A (tests/test_svd.c here). */
        gsl_error_handler_t *old = kpf_internal_gsl_quiet();
        int st = gsl_linalg_SV_decomp(a, q, sv, work);
        kpf_internal_gsl_restore(old);
        if (st)
            rc = kpf_error_set(err, KPF_ENUMERIC, "svd: GSL SVD failed (%s)", gsl_strerror(st));
    }
    if (!rc) {
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
    /* GSL's free functions take NULL */
    gsl_matrix_free(a);
    gsl_matrix_free(q);
    gsl_vector_free(sv);
    gsl_vector_free(work);
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

