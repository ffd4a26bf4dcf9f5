/* How an operator lines up with a direction (Rayleigh quotient, KPFlow
 * eq. 75) or with another operator (cosine of the Hilbert–Schmidt inner
 * product, the reference code's op_alignment). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/blas.h"
#include "spectral_internal.h"

int kpf_rayleigh(kpf_op *A, const double *q, double *r, kpf_error *err)
{
    if (!A || !q || !r)
        return kpf_error_set(err, KPF_EINVAL, "kpf_rayleigh: NULL argument");
    if (!kpf_space_equal(&A->in, &A->out))
        return kpf_error_set(err, KPF_EINVAL, "kpf_rayleigh: '%s' maps between different spaces",
                             A->type->name);
    double qq = kpf_space_dot(&A->in, q, q);
    if (!(qq > 0.0))
        return kpf_error_set(err, KPF_EINVAL, "kpf_rayleigh: q is zero");
    double *Aq = malloc(kpf_space_size(&A->out) * sizeof(double));
    if (!Aq)
        return kpf_error_set(err, KPF_ENOMEM, "kpf_rayleigh: out of memory");
    int rc = kpf_op_apply(A, q, Aq, err);
    if (!rc)
        *r = kpf_space_dot(&A->in, Aq, q) / qq;
    free(Aq);
    return rc;
}

/* n_probe Gaussian vectors made orthonormal: unbiased for tr(A*B) up to the
 * common factor d/p, which cancels in the cosine. */
static int draw_probes(double *S, size_t p, size_t d, uint64_t seed, kpf_error *err)
{
    gsl_rng *r = NULL;
    int rc = kpf_spec_rng(seed, &r, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < p * d; i++)
        S[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    return kpf_spec_orthonormal_rows(S, p, d, err);
}

/* Accumulate ⟨As, Bs⟩, ‖As‖², ‖Bs‖² over the probes (Euclidean: uniform
 * weights cancel in the cosine). */
static int accumulate(kpf_op *A, kpf_op *B, const double *S, size_t p, size_t d, double *buf,
                      double sums[3], kpf_error *err)
{
    size_t dout = kpf_space_size(&A->out);
    double *s = buf, *a = buf + d, *b = buf + d + dout;
    for (size_t i = 0; i < p; i++) {
        if (S) {
            memcpy(s, S + i * d, d * sizeof(double));
        } else { /* exact: the i-th basis vector */
            memset(s, 0, d * sizeof(double));
            s[i] = 1.0;
        }
        int rc = kpf_op_apply(A, s, a, err);
        if (!rc)
            rc = kpf_op_apply(B, s, b, err);
        if (rc)
            return rc;
        sums[0] += cblas_ddot((int)dout, a, 1, b, 1);
        sums[1] += cblas_ddot((int)dout, a, 1, a, 1);
        sums[2] += cblas_ddot((int)dout, b, 1, b, 1);
    }
    return KPF_OK;
}

int kpf_op_alignment(kpf_op *A, kpf_op *B, size_t n_probe, uint64_t seed, double *cos,
                     kpf_error *err)
{
    if (!A || !B || !cos || n_probe == 0)
        return kpf_error_set(err, KPF_EINVAL, "kpf_op_alignment: NULL argument or no probes");
    if (!kpf_space_equal(&A->in, &B->in) || !kpf_space_equal(&A->out, &B->out))
        return kpf_error_set(err, KPF_EINVAL, "kpf_op_alignment: '%s' and '%s' act on "
                                              "different spaces",
                             A->type->name, B->type->name);
    if (kpf_comm_size(A->in.comm) > 1)
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "kpf_op_alignment: its orthonormal probes need the whole space in "
                             "one process, and '%s' is split over ranks",
                             A->type->name);
    size_t d = kpf_space_size(&A->in), dout = kpf_space_size(&A->out);
    int exact = n_probe >= d;
    size_t p = exact ? d : n_probe;
    double *S = exact ? NULL : malloc(p * d * sizeof(double));
    double *buf = malloc((d + 2 * dout) * sizeof(double));
    double sums[3] = {0, 0, 0};
    int rc = (!exact && !S) || !buf
                 ? kpf_error_set(err, KPF_ENOMEM, "kpf_op_alignment: out of memory")
                 : KPF_OK;
    if (!rc && !exact)
        rc = draw_probes(S, p, d, seed, err);
    if (!rc)
        rc = accumulate(A, B, S, p, d, buf, sums, err);
    if (!rc && !(sums[1] > 0.0 && sums[2] > 0.0))
        rc = kpf_error_set(err, KPF_EINVAL, "kpf_op_alignment: an operator vanishes on every "
                                            "probe");
    if (!rc)
        *cos = sums[0] / sqrt(sums[1] * sums[2]);
    free(S);
    free(buf);
    return rc;
}
