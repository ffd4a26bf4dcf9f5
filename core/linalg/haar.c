/* A Haar-distributed orthogonal matrix (kpf/linalg.h): QR of a Gaussian
 * matrix with the signs of R's diagonal moved into Q (Mezzadri 2007), so the
 * draw is uniform on O(n) and not biased by the QR convention. */
#include "kpf/linalg.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

int kpf_haar_orthogonal(gsl_rng *rng, size_t n, double *Q, kpf_error *err)
{
    if (n == 0)
        return KPF_OK;
    if (!Q || !rng)
        return kpf_error_set(err, KPF_EINVAL, "kpf_haar_orthogonal: Q or rng is NULL");
    int rc = KPF_OK;
    gsl_matrix *A = gsl_matrix_alloc(n, n), *Qm = gsl_matrix_alloc(n, n),
               *Rm = gsl_matrix_alloc(n, n);
    gsl_vector *tau = gsl_vector_alloc(n);
    if (!A || !Qm || !Rm || !tau) {
        rc = kpf_error_set(err, KPF_ENOMEM, "kpf_haar_orthogonal: out of memory (n = %zu)", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(A, i, j, gsl_ran_gaussian(rng, 1.0));
    gsl_linalg_QR_decomp(A, tau);
    gsl_linalg_QR_unpack(A, tau, Qm, Rm);
    for (size_t j = 0; j < n; j++) {
        double sg = gsl_matrix_get(Rm, j, j) < 0 ? -1.0 : 1.0;
        for (size_t i = 0; i < n; i++)
            Q[i * n + j] = sg * gsl_matrix_get(Qm, i, j);
    }
done:
    gsl_matrix_free(A);
    gsl_matrix_free(Qm);
    gsl_matrix_free(Rm);
    gsl_vector_free(tau);
    return rc;
}
