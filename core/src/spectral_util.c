/* Small helpers of the spectral tools: ordering and sign conventions of
 * returned vectors, the seeded generator, and QR orthonormalisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "kpf/rng.h"
#include "spectral_internal.h"

/* Stream id of the spectral tools ("spec"), apart from the training streams
 * so that changing an analysis never perturbs a run's data or weights. */
#define KPF_SPEC_STREAM 0x73706563u

kpf_eig_opts kpf_eig_opts_default(void)
{
    return (kpf_eig_opts){.which = KPF_EIG_LARGEST_ALGEBRAIC, .tol = 0.0, .max_iter = 1000,
                          .ncv = 0, .seed = 0};
}

static double key(double v, int by_magnitude) { return by_magnitude ? fabs(v) : v; }

static void swap_rows(double *vecs, size_t n, size_t i, size_t j)
{
    double *a = vecs + i * n, *b = vecs + j * n;
    for (size_t l = 0; l < n; l++) {
        double t = a[l];
        a[l] = b[l];
        b[l] = t;
    }
}

void kpf_spec_sort_desc(double *vals, double *vecs, size_t k, size_t n, int by_magnitude)
{
    /* Selection sort: k is small, and it moves each vector at most once. */
    for (size_t i = 0; i < k; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < k; j++)
            if (key(vals[j], by_magnitude) > key(vals[best], by_magnitude))
                best = j;
        if (best == i)
            continue;
        double t = vals[i];
        vals[i] = vals[best];
        vals[best] = t;
        if (vecs)
            swap_rows(vecs, n, i, best);
    }
}

double kpf_spec_fix_sign(double *v, size_t n)
{
    size_t imax = 0;
    for (size_t i = 1; i < n; i++)
        if (fabs(v[i]) > fabs(v[imax]))
            imax = i;
    if (n == 0 || v[imax] >= 0.0)
        return 1.0;
    kpf_spec_scale(v, n, -1.0);
    return -1.0;
}

void kpf_spec_scale(double *x, size_t n, double a)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= a;
}

int kpf_spec_rng(uint64_t seed, gsl_rng **r, kpf_error *err)
{
    return kpf_rng_alloc(seed, KPF_SPEC_STREAM, r, err);
}

int kpf_spec_orthonormal_rows(double *X, size_t p, size_t d, kpf_error *err)
{
    if (p == 0)
        return KPF_OK;
    if (p > d)
        return kpf_error_set(err, KPF_EINVAL, "cannot orthonormalise %zu vectors of length %zu",
                             p, d);
    /* malloc + views rather than gsl_matrix_alloc: GSL's allocation failure
     * goes through its error handler, which aborts by default. */
    double *buf = malloc((2 * d * p + 2 * p * p) * sizeof(double));
    if (!buf)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a %zu×%zu QR workspace", d, p);
    gsl_matrix_view M = gsl_matrix_view_array(buf, d, p);
    gsl_matrix_view Q = gsl_matrix_view_array(buf + d * p, d, p);
    gsl_matrix_view T = gsl_matrix_view_array(buf + 2 * d * p, p, p);
    gsl_matrix_view R = gsl_matrix_view_array(buf + 2 * d * p + p * p, p, p);
    for (size_t j = 0; j < p; j++)
        for (size_t i = 0; i < d; i++)
            gsl_matrix_set(&M.matrix, i, j, X[j * d + i]);
    int rc = KPF_OK;
    if (gsl_linalg_QR_decomp_r(&M.matrix, &T.matrix) ||
        gsl_linalg_QR_unpack_r(&M.matrix, &T.matrix, &Q.matrix, &R.matrix))
        rc = kpf_error_set(err, KPF_ENUMERIC, "QR of %zu probe vectors failed", p);
    for (size_t j = 0; !rc && j < p; j++)
        for (size_t i = 0; i < d; i++)
            X[j * d + i] = gsl_matrix_get(&Q.matrix, i, j);
    free(buf);
    return rc;
}
