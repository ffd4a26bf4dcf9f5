/* Consensus spectra (KPFlow App. B.3): spectra of an operator reduced along
 * some of the axes {trial, time, unit}.  Two readings exist and both are
 * offered: the SVD of the averaged operator ⟨A⟩ (the paper's text), and the
 * eigenvalues of the averaged Gram ⟨AA*⟩ (the paper's eq. 42 and the
 * reference code's svd(keep_dims)). */
#include <math.h>

#include "spectral_internal.h"

int kpf_consensus_svds(kpf_op *A, unsigned axes, size_t k, const kpf_eig_opts *o, double *s,
                       double *U, double *V, kpf_error *err)
{
    kpf_op *avg = NULL;
    int rc = kpf_op_average(A, axes, &avg, err);
    if (!rc)
        rc = kpf_svds(avg, k, o, s, U, V, NULL, err);
    if (avg)
        kpf_op_free(avg);
    return rc;
}

int kpf_consensus_gram(kpf_op *A, unsigned axes, size_t k, const kpf_eig_opts *o, double *s,
                       double *U, kpf_error *err)
{
    kpf_op *gram = NULL, *avg = NULL;
    int rc = kpf_op_gram(A, &gram, err);
    if (!rc)
        rc = kpf_op_average(gram, axes, &avg, err);
    kpf_eig_opts opt = o ? *o : kpf_eig_opts_default();
    opt.which = KPF_EIG_LARGEST_ALGEBRAIC; /* ⟨AA*⟩ is positive semi-definite */
    if (!rc)
        rc = kpf_eigsh(avg, k, &opt, s, U, NULL, err);
    for (size_t i = 0; !rc && i < k; i++)
        s[i] = s[i] > 0.0 ? sqrt(s[i]) : 0.0;
    if (avg) /* composites first, then their parts */
        kpf_op_free(avg);
    if (gram)
        kpf_op_free(gram);
    return rc;
}
