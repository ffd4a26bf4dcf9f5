/* kpf/eigs.h — a few eigenvalues of a non-symmetric operator, matrix-free:
 * ARPACK's implicitly restarted Arnoldi iteration (dnaupd/dneupd) by reverse
 * communication, for operators such as the Jacobian J_z of a model at a
 * fixed point (kpf/fixed_points.h) where the dense path is too large.
 *
 * The iteration runs on Euclidean coordinates (the operator's matrix; a
 * space's uniform weight does not change eigenvalues).  Eigenvectors are
 * returned with Euclidean norm 1 as real and imaginary parts; a complex
 * conjugate pair appears as two entries (a ± ib, x ± iy).  Same seed, same
 * result.  ARPACK keeps internal SAVE state: one solve at a time per
 * process.  Nothing here prints. */
#ifndef KPF_EIGS_H
#define KPF_EIGS_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"
#include "kpf/operator.h"
#include "kpf/spectral.h"

KPF_BEGIN_DECLS

typedef enum kpf_eigs_which {
    KPF_EIGS_LARGEST_MAGNITUDE = 0, /* the k largest |λ| (discrete-time stability) */
    KPF_EIGS_LARGEST_REAL = 1       /* the k largest Re λ (continuous-time)       */
} kpf_eigs_which;

/* The k wanted eigenvalues of A (in == out space, one process; 1 ≤ k ≤
 * dim − 2), in descending order of |λ| or Re λ (ties: the positive
 * imaginary part first): re, im (k each); vre, vim (k vectors of A's size
 * each, or both NULL).  o: tol, max_iter, ncv (0: min(dim, max(2k+1, 20))),
 * seed; o->which is ignored; NULL: defaults.  KPF_ENUMERIC when ARPACK does
 * not converge (the message says how many did). */
int kpf_eigs(kpf_op *A, size_t k, kpf_eigs_which which, const kpf_eig_opts *o, double *re,
             double *im, double *vre, double *vim, kpf_eig_info *info, kpf_error *err);

KPF_END_DECLS
#endif
