/* Shared orthogonal bases and exact whitening for the lrnn tasks and plugin
 * (kpf/lrnn.h).  A task and a model given the same basis_seed build the
 * same U_y, V_x (and R), so an aligned network can be set up without
 * passing matrices around. */
#include "kpf/lrnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/rng.h"

int kpf_lrnn_orthogonal(uint64_t seed, int which, size_t n, double *Q, kpf_error *err)
{
    if (n == 0)
        return KPF_OK;
    if (!Q)
        return kpf_error_set(err, KPF_EINVAL, "lrnn basis: Q is NULL");
    gsl_rng *rng = NULL;
    int rc = kpf_rng_alloc(seed, 0x6c726e6e00ull + (uint64_t)which, &rng, err);
    if (rc)
        return rc;
    gsl_matrix *A = gsl_matrix_alloc(n, n), *Qm = gsl_matrix_alloc(n, n),
               *Rm = gsl_matrix_alloc(n, n);
    gsl_vector *tau = gsl_vector_alloc(n);
    if (!A || !Qm || !Rm || !tau) {
        rc = kpf_error_set(err, KPF_ENOMEM, "lrnn basis: out of memory (n = %zu)", n);
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
    gsl_rng_free(rng);
    return rc;
}

int kpf_lrnn_whiten_rows(double *X, size_t n, size_t P, kpf_error *err)
{
    if (P < n)
        return kpf_error_set(err, KPF_EINVAL,
                             "whitening %zu input directions needs at least %zu trials "
                             "(got %zu): use a batch ≥ T·n_in",
                             n, n, P);
    for (size_t i = 0; i < n; i++) {
        double *xi = X + i * P;
        double norm0 = 0;
        for (size_t p = 0; p < P; p++)
            norm0 += xi[p] * xi[p];
        norm0 = sqrt(norm0);
        for (int pass = 0; pass < 2; pass++) /* "twice is enough" */
            for (size_t j = 0; j < i; j++) {
                const double *xj = X + j * P;
                double d = 0;
                for (size_t p = 0; p < P; p++)
                    d += xi[p] * xj[p];
                for (size_t p = 0; p < P; p++)
                    xi[p] -= d * xj[p];
            }
        double nr = 0;
        for (size_t p = 0; p < P; p++)
            nr += xi[p] * xi[p];
        nr = sqrt(nr);
        if (!(nr > 1e-10 * norm0) || !(nr > 0))
            return kpf_error_set(err, KPF_ENUMERIC,
                                 "whitening: input direction %zu is (numerically) dependent "
                                 "on the others",
                                 i);
        for (size_t p = 0; p < P; p++)
            xi[p] /= nr;
    }
    return KPF_OK;
}
