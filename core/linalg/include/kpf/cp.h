/* kpf/cp.h — CP/PARAFAC decomposition of 3-tensors by alternating least
 * squares, and the measures Pellegrino et al. (2023) use on weight tensors
 * W [n × n × K] (notes/seed-ltr.md §6): variance explained per rank, a
 * factor-match score, and the singular values of each unfolding.
 *
 * Tensors are row-major [I][J][K]: element (i,j,k) at (i·J + j)·K + k.
 * Factors are row-major I×R, J×R, K×R (column r is component r).
 *
 *   X ≈ Σ_r λ_r a_r ∘ b_r ∘ c_r,  ‖a_r‖ = ‖b_r‖ = ‖c_r‖ = 1, λ_r ≥ 0,
 *
 * components sorted by λ descending; signs fixed so that the entry of
 * largest magnitude of a_r and of b_r is positive (c_r takes the sign).
 *
 * ALS: each factor in turn solves its linear least-squares problem
 * A = X_(1) (C ⊙ B) (CᵀC ∗ BᵀB)⁺ (the R×R normal matrix is inverted by a
 * symmetric eigendecomposition with a relative cutoff of 1e-12, so rank-
 * deficient problems give the minimum-norm solution).  Restart 0 starts
 * from the leading left singular vectors of the unfoldings (HOSVD; random
 * columns fill ranks beyond a mode's size), the others from N(0,1) factors
 * drawn from `seed`; the restart with the lowest error is kept.  Iterations
 * stop when the relative error changes by less than tol.
 *
 * Variance explained VE = 1 − ‖X − X̂‖²_F / ‖X‖²_F (uncentred, whole
 * tensor; the paper leaves the definition open, notes §6.12). */
#ifndef KPF_CP_H
#define KPF_CP_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

typedef struct kpf_cp_opts {
    size_t max_iter;  /* per restart                [1000]  */
    double tol;       /* change of relative error   [1e-12] */
    size_t restarts;  /* ≥ 1                        [5]     */
    uint64_t seed;    /*                            [0]     */
} kpf_cp_opts;

void kpf_cp_opts_default(kpf_cp_opts *o);

typedef struct kpf_cp {
    size_t I, J, K, R;
    double *A, *B, *C; /* unit columns                 */
    double *lambda;    /* R weights, descending, ≥ 0   */
    double rel_err;    /* ‖X − X̂‖ / ‖X‖                 */
    double ve;         /* 1 − rel_err²                  */
    size_t iters;      /* iterations of the kept restart */
    size_t restart;    /* which restart was kept         */
} kpf_cp;

/* Decompose X at rank R.  out is filled (free with kpf_cp_free). */
int kpf_cp_als(const double *X, size_t I, size_t J, size_t K, size_t R,
               const kpf_cp_opts *o, kpf_cp *out, kpf_error *err);
void kpf_cp_free(kpf_cp *cp);

/* X̂ [I][J][K] of a decomposition. */
void kpf_cp_reconstruct(const kpf_cp *cp, double *Xhat);

/* ve[R−1] = VE of the best rank-R fit, R = 1 … R_max (fits are not nested:
 * each rank is fitted afresh). */
int kpf_cp_ve_sweep(const double *X, size_t I, size_t J, size_t K, size_t R_max,
                    const kpf_cp_opts *o, double *ve, kpf_error *err);

/* Factor-match score of two decompositions of the same shape and rank:
 * the mean over matched components of (1 − |λ−λ'|/max(λ,λ')) · |a·a'| ·
 * |b·b'| · |c·c'| (the λ term only when use_lambda), maximised over the
 * pairing of components (exhaustive for R ≤ 8, greedy beyond).  1 means the
 * same components up to sign, scale and permutation.  perm (may be NULL)
 * receives, for each component of a, its partner in b. */
int kpf_cp_match_score(const kpf_cp *a, const kpf_cp *b, int use_lambda, double *score,
                       size_t *perm, kpf_error *err);

/* Singular values of the mode-`mode` unfolding (0: I × JK, 1: J × IK,
 * 2: K × IJ), descending; s has min(rows, cols) entries. */
int kpf_tensor_unfold_sv(const double *X, size_t I, size_t J, size_t K, int mode, double *s,
                         kpf_error *err);

KPF_END_DECLS
#endif
