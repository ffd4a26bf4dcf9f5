/* Small helpers of the spectral tools: ordering and sign conventions of
 * returned vectors, the seeded generator, and QR orthonormalisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
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

size_t kpf_spec_thin_qr_work(size_t p, size_t d) { return d * p + p + d; }

static int thin_qr(double *X, size_t p, size_t d, double *R, double *work);

int kpf_spec_thin_qr(double *X, size_t p, size_t d, double *R, double *work)
{
    gsl_error_handler_t *h = kpf_internal_gsl_quiet();
    int rc = thin_qr(X, p, d, R, work);
    kpf_internal_gsl_restore(h);
    return rc;
}

static int thin_qr(double *X, size_t p, size_t d, double *R, double *work)
{
    /* Views on caller memory, never gsl_*_alloc: GSL reports allocation
     * failure through its error handler, which aborts by default. */
    gsl_matrix_view M = gsl_matrix_view_array(work, d, p);
    gsl_vector_view tau = gsl_vector_view_array(work + d * p, p);
    gsl_vector_view v = gsl_vector_view_array(work + d * p + p, d);
    for (size_t j = 0; j < p; j++) /* vector j is column j */
        for (size_t i = 0; i < d; i++)
            gsl_matrix_set(&M.matrix, i, j, X[j * d + i]);
    if (gsl_linalg_QR_decomp(&M.matrix, &tau.vector))
        return KPF_ENUMERIC;
    for (size_t i = 0; R && i < p; i++)
        for (size_t j = 0; j < p; j++)
            R[i * p + j] = j >= i ? gsl_matrix_get(&M.matrix, i, j) : 0.0;
    /* The thin Q: Householder reflectors applied to e_0 … e_{p−1}, O(d·p²)
     * rather than the d×d of gsl_linalg_QR_unpack. */
    for (size_t j = 0; j < p; j++) {
        gsl_vector_set_basis(&v.vector, j);
        if (gsl_linalg_QR_Qvec(&M.matrix, &tau.vector, &v.vector))
            return KPF_ENUMERIC;
        memcpy(X + j * d, v.vector.data, d * sizeof(double));
    }
    return KPF_OK;
}

int kpf_spec_orthonormal_rows(double *X, size_t p, size_t d, kpf_error *err)
{
    if (p == 0)
        return KPF_OK;
    if (p > d)
        return kpf_error_set(err, KPF_EINVAL, "cannot orthonormalise %zu vectors of length %zu",
                             p, d);
    double *work = malloc(kpf_spec_thin_qr_work(p, d) * sizeof(double));
    if (!work)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a %zu×%zu QR workspace", d, p);
    int rc = kpf_spec_thin_qr(X, p, d, NULL, work);
    free(work);
    return rc ? kpf_error_set(err, rc, "QR of %zu vectors of length %zu failed", p, d) : KPF_OK;
}
