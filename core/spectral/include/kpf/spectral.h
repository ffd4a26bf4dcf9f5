/* kpf/spectral.h — spectra of matrix-free operators, and the scalar measures
 * built on them (effective rank, Rayleigh quotient, alignment, trace).
 *
 * Inner products.  Every kpf_space carries one uniform weight w, ⟨u,v⟩ =
 * w Σ u·v.  An operator that is self-adjoint in that weighted product on one
 * space is also symmetric in Euclidean coordinates (the weights cancel), so
 * the eigensolvers iterate on raw coordinates and only the returned vectors
 * are rescaled: every eigen/singular vector has weighted norm ‖v‖_w = 1,
 * i.e. Euclidean norm 1/√w.  Singular values are those of A as a map between
 * the two weighted spaces (A* is the weighted adjoint, apply_adjoint), so
 * σ² are the eigenvalues of A*A, and u = Av/σ, v = A*u/σ.
 *
 * Vectors.  vecs/U/V are arrays of k vectors, vector i at vecs + i·size,
 * each laid out like the operator's space ([B,T,n] step-major).  Values come
 * in descending order (by value, or by |value| for KPF_EIG_LARGEST_MAGNITUDE).
 * The sign of each vector is fixed so that its entry of largest magnitude is
 * positive (for singular pairs: the right vector's), so matrix-free and dense
 * results, and repeated runs, are directly comparable.
 *
 * Matrix-free solvers use ARPACK (dsaupd/dseupd, implicitly restarted
 * Lanczos) with a start vector drawn from `seed`: the same seed gives the
 * same vectors bit for bit.  ARPACK keeps internal SAVE state, so at most
 * one matrix-free solve may run at a time in a process (not thread-safe).
 * The dense path forms the operator with kpf_op_to_dense and uses GSL; it is
 * for small operators and checks.  Nothing here prints. */
#ifndef KPF_SPECTRAL_H
#define KPF_SPECTRAL_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"
#include "kpf/linalg.h"   /* kpf_explained_variance, kpf_effrank */
#include "kpf/operator.h"

KPF_BEGIN_DECLS

typedef enum kpf_eig_which {
    KPF_EIG_LARGEST_ALGEBRAIC = 0, /* the k largest λ            */
    KPF_EIG_LARGEST_MAGNITUDE = 1  /* the k largest |λ|          */
} kpf_eig_which;

typedef struct kpf_eig_opts {
    kpf_eig_which which;
    double tol;       /* relative accuracy of Ritz values; 0: machine precision */
    int max_iter;     /* restarts allowed; 0: 1000                             */
    size_t ncv;       /* Lanczos basis size; 0: min(dim, max(2k+1, 20))        */
    uint64_t seed;    /* start vector                                          */
} kpf_eig_opts;

/* Filled when non-NULL: ARPACK restarts, operator applications, converged count. */
typedef struct kpf_eig_info {
    int iterations;
    size_t n_apply;
    size_t n_converged;
} kpf_eig_info;

/* Default options: largest algebraic, tol 0, max_iter 1000, ncv auto, seed 0. */
kpf_eig_opts kpf_eig_opts_default(void);

/* ---- matrix-free (ARPACK) ------------------------------------------------ */

/* Top-k eigenpairs of a self-adjoint A (in and out spaces equal; 1 ≤ k <
 * dim).  vals: k values; vecs: k vectors or NULL.  o may be NULL (defaults).
 * KPF_ENUMERIC when ARPACK does not converge (the message says how many did). */
int kpf_eigsh(kpf_op *A, size_t k, const kpf_eig_opts *o, double *vals, double *vecs,
              kpf_eig_info *info, kpf_error *err);

/* Top-k singular triplets of any A (1 ≤ k < min(dim_in, dim_out)): the
 * Lanczos runs on A*A (input side) or AA* (output side), whichever space is
 * smaller, and the other vectors come from one more application each.
 * s: k values ≥ 0; U: k output-space vectors or
 * NULL; V: k input-space vectors or NULL.  o->which is ignored.  Small σ are
 * only accurate to about √ε·σ_max (they come from σ²); a vector whose σ is 0
 * is returned as zeros. */
int kpf_svds(kpf_op *A, size_t k, const kpf_eig_opts *o, double *s, double *U, double *V,
             kpf_eig_info *info, kpf_error *err);

/* ---- dense (GSL) -------------------------------------------------------- */

/* Largest operator kpf_eigsh_dense / kpf_svd_dense will form: entries. */
#define KPF_DENSE_MAX_ENTRIES ((size_t)1 << 24)

/* As kpf_eigsh, for any k ≤ dim, through gsl_eigen_symmv on the dense matrix
 * (symmetrised as (M+Mᵀ)/2 to absorb rounding in A's application). */
int kpf_eigsh_dense(kpf_op *A, size_t k, kpf_eig_which which, double *vals, double *vecs,
                    kpf_error *err);

/* As kpf_svds, for any k ≤ min(dims), through gsl_linalg_SV_decomp. */
int kpf_svd_dense(kpf_op *A, size_t k, double *s, double *U, double *V, kpf_error *err);

/* ---- consensus spectra (KPFlow App. B.3) -------------------------------- */

/* Top-k singular triplets of the averaged operator ⟨A⟩ = kpf_op_average(A,
 * axes): the input is copied along the averaged axes, A applied, the output
 * averaged over them (the paper's AveragedOperator).  Vectors live in the
 * reduced spaces. */
int kpf_consensus_svds(kpf_op *A, unsigned axes, size_t k, const kpf_eig_opts *o, double *s,
                       double *U, double *V, kpf_error *err);

/* The reference code's consensus SVD (op_common.svd with keep_dims):
 * σ_i = √λ_i(⟨A A*⟩), the top eigenpairs of the averaged Gram operator on
 * A's reduced output space, E[W Wᵀ] in the paper's eq. (42).  This is not the
 * same spectrum as kpf_consensus_svds in general (⟨AA*⟩ ≠ ⟨A⟩⟨A⟩*).  s: k
 * values, U: k vectors of the reduced output space or NULL. */
int kpf_consensus_gram(kpf_op *A, unsigned axes, size_t k, const kpf_eig_opts *o, double *s,
                       double *U, kpf_error *err);

/* ---- scalar measures ---------------------------------------------------- */

/* R(A, q) = ⟨Aq, q⟩ / ⟨q, q⟩ in A's space (in == out); KPFlow eq. (75). */
int kpf_rayleigh(kpf_op *A, const double *q, double *r, kpf_error *err);

/* cos(A, B) = tr(A*B) / √(tr(A*A) tr(B*B)) for A, B with the same spaces,
 * estimated with n_probe seeded orthonormal probes S (the traces become
 * Σ_i ⟨A s_i, B s_i⟩ …; exact when n_probe ≥ dim_in, as all dim_in basis
 * vectors are then used).  The reference code's op_alignment. */
int kpf_op_alignment(kpf_op *A, kpf_op *B, size_t n_probe, uint64_t seed, double *cos,
                     kpf_error *err);

/* Hutch++ estimate of tr(A) for A with in == out (Meyer, Musco, Musco &
 * Woodruff 2021): with s = n_apply/3 Rademacher probes each, Q = qr(A S),
 *     tr ≈ tr(Qᵀ A Q) + (1/s) Σ_i g̃_iᵀ A g̃_i,   g̃ = (I − QQᵀ) g,
 * using n_apply applications of A in all.  The trace of a map does not
 * depend on the space's weight.  Exact when s ≥ dim. */
int kpf_hutchpp(kpf_op *A, size_t n_apply, uint64_t seed, double *trace, kpf_error *err);

KPF_END_DECLS
#endif
