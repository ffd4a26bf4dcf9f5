/* Hutch++ trace estimation (Meyer, Musco, Musco & Woodruff, SOSA 2021):
 * the top of the spectrum is captured exactly by a sketch Q = qr(A S), and
 * Hutchinson's estimator only sees the deflated rest (I − QQᵀ) A (I − QQᵀ),
 * so the variance falls from O(‖A‖_F²/m) to O(tr(A)²/m²) for PSD A. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "kpf/blas.h"
#include "spectral_internal.h"

static void rademacher(gsl_rng *r, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_rng_uniform_int(r, 2) ? 1.0 : -1.0;
}

/* Y = A applied to each of the p rows of X. */
static int apply_rows(kpf_op *A, const double *X, double *Y, size_t p, size_t d,
                      kpf_error *err)
{
    for (size_t i = 0; i < p; i++) {
        int rc = kpf_op_apply(A, X + i * d, Y + i * d, err);
        if (rc)
            return rc;
    }
    return KPF_OK;
}

/* Σ_i ⟨x_i, A x_i⟩ over the p rows of X (Euclidean: the trace of a map is
 * the trace of its matrix, whatever the space's weight). */
static int quad_sum(kpf_op *A, const double *X, size_t p, size_t d, double *y, double *sum,
                    kpf_error *err)
{
    *sum = 0.0;
    for (size_t i = 0; i < p; i++) {
        int rc = kpf_op_apply(A, X + i * d, y, err);
        if (rc)
            return rc;
        *sum += cblas_ddot((int)d, X + i * d, 1, y, 1);
    }
    return KPF_OK;
}

/* G ← (I − QQᵀ) G for the s rows of G and the s orthonormal rows of Q. */
static void deflate(const double *Q, double *G, size_t s, size_t d)
{
    for (size_t i = 0; i < s; i++)
        for (size_t j = 0; j < s; j++) {
            double c = cblas_ddot((int)d, Q + j * d, 1, G + i * d, 1);
            cblas_daxpy((int)d, -c, Q + j * d, 1, G + i * d, 1);
        }
}

static int estimate(kpf_op *A, size_t s, size_t d, gsl_rng *r, double *buf, double *trace,
                    kpf_error *err)
{
    double *S = buf, *Q = buf + s * d, *y = buf + 2 * s * d;
    rademacher(r, S, s * d);
    int rc = apply_rows(A, S, Q, s, d, err);
    if (!rc)
        rc = kpf_spec_orthonormal_rows(Q, s, d, err);
    double top = 0.0, rest = 0.0;
    if (!rc)
        rc = quad_sum(A, Q, s, d, y, &top, err);
    if (rc || s == d) { /* Q spans everything: tr(QᵀAQ) is the trace */
        *trace = top;
        return rc;
    }
    rademacher(r, S, s * d); /* the Hutchinson probes G reuse S's storage */
    deflate(Q, S, s, d);
    if (!(rc = quad_sum(A, S, s, d, y, &rest, err)))
        *trace = top + rest / (double)s;
    return rc;
}

int kpf_hutchpp(kpf_op *A, size_t n_apply, uint64_t seed, double *trace, kpf_error *err)
{
    if (!A || !trace)
        return kpf_error_set(err, KPF_EINVAL, "kpf_hutchpp: NULL argument");
    if (!kpf_space_equal(&A->in, &A->out))
        return kpf_error_set(err, KPF_EINVAL, "kpf_hutchpp: '%s' maps between different spaces",
                             A->type->name);
    if (kpf_comm_size(A->in.comm) > 1)
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "kpf_hutchpp: its QR sketch needs the whole space in one process, "
                             "and '%s' is split over ranks",
                             A->type->name);
    if (n_apply < 3)
        return kpf_error_set(err, KPF_EINVAL, "kpf_hutchpp: needs at least 3 applications, got "
                                              "%zu",
                             n_apply);
    size_t d = kpf_space_size(&A->in), s = n_apply / 3;
    if (s > d)
        s = d;
    gsl_rng *r = NULL;
    double *buf = malloc((2 * s * d + d) * sizeof(double));
    int rc = buf ? kpf_spec_rng(seed, &r, err)
                 : kpf_error_set(err, KPF_ENOMEM, "kpf_hutchpp: out of memory (%zu probes of "
                                                  "%zu)",
                                 s, d);
    if (!rc)
        rc = estimate(A, s, d, r, buf, trace, err);
    if (r)
        gsl_rng_free(r);
    free(buf);
    return rc;
}
