/* Eigenvalues of a weight matrix and their outliers (kpf/weight_spectrum.h). */
#include "kpf/weight_spectrum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>

#include "gsl_quiet.h"

static int before(double ar, double ai, double br, double bi)
{
    double ma = hypot(ar, ai), mb = hypot(br, bi);
    if (ma != mb)
        return ma > mb;
    if (ar != br)
        return ar > br;
    return ai > bi;
}

int kpf_weight_eigenvalues(size_t n, const double *W, double *re, double *im, kpf_error *err)
{
    gsl_matrix *M = gsl_matrix_alloc(n, n);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    int rc = M && ev && w ? KPF_OK
                          : kpf_error_set(err, KPF_ENOMEM, "eigenvalues of W: out of memory");
    if (!rc) {
        memcpy(M->data, W, n * n * sizeof(double));
        gsl_error_handler_t *quiet = kpf_internal_gsl_quiet();
        int st = gsl_eigen_nonsymm(M, ev, w);
        kpf_internal_gsl_restore(quiet);
        if (st)
            rc = kpf_error_set(err, KPF_ENUMERIC, "eigenvalues of W: GSL failed (%s)",
                               gsl_strerror(st));
    }
    for (size_t i = 0; !rc && i < n; i++) {
        re[i] = GSL_REAL(gsl_vector_complex_get(ev, i));
        im[i] = GSL_IMAG(gsl_vector_complex_get(ev, i));
        for (size_t j = i; j > 0 && before(re[j], im[j], re[j - 1], im[j - 1]); j--) {
            double t = re[j]; re[j] = re[j - 1]; re[j - 1] = t;
            t = im[j]; im[j] = im[j - 1]; im[j - 1] = t;
        }
    }
    if (M) gsl_matrix_free(M);
    if (ev) gsl_vector_complex_free(ev);
    if (w) gsl_eigen_nonsymm_free(w);
    return rc;
}

size_t kpf_weight_outliers(size_t n, const double *re, const double *im, double r,
                           double margin)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += hypot(re[i], im[i]) > r * (1.0 + margin);
    return c;
}
