/* kpf/linalg.h — dense linear algebra helpers the analyses share: the thin
 * SVD of a small matrix, its numerical rank, and a Haar-distributed
 * orthogonal matrix.  Matrices are row-major. */
#ifndef KPF_LINALG_H
#define KPF_LINALG_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

/* Thin SVD A = U diag(s) Vᵀ of A (rows×cols) by GSL's one-sided Jacobi
 * (accurate small singular values).  k = min(rows, cols): s (k values,
 * descending), U (rows×k) and V (cols×k) row-major, either may be NULL. */
int kpf_matrix_svd(size_t rows, size_t cols, const double *A, double *s, double *U, double *V,
                   kpf_error *err);

/* Number of s_i > rel_tol · s_0 (s descending). */
size_t kpf_numerical_rank(const double *s, size_t k, double rel_tol);

/* Q (n×n, row-major) uniform on the orthogonal group O(n), drawn from rng:
 * the QR factor of an n×n standard Gaussian matrix, columns multiplied by the
 * signs of R's diagonal. */
int kpf_haar_orthogonal(gsl_rng *rng, size_t n, double *Q, kpf_error *err);

/* ---- spectra -------------------------------------------------------------- */

/* Cumulative explained variance of singular values sv[0..k) (descending):
 * cum[i] = Σ_{j≤i} sv_j² / total, with total = Σ_j sv_j² when total_var ≤ 0,
 * else total_var (e.g. a Hutch++ trace of A*A, so that a truncated spectrum
 * is not over-normalised). */
int kpf_explained_variance(const double *sv, size_t k, double total_var, double *cum,
                           kpf_error *err);

/* Effective rank at threshold `thresh` ∈ (0, 1] (0: 0.95), the reference
 * code's Operator.effrank: the number of components r at which the
 * piecewise-linear cumulative curve c(0) = 0, c(i) = cum[i−1] reaches thresh,
 *     r = i + (thresh − c(i)) / (c(i+1) − c(i)),  c(i) < thresh ≤ c(i+1).
 * E.g. σ² = [1,1,1,1,0,…] at 0.95 gives 3.8.  KPF_EINVAL when the given
 * components explain less than thresh of total_var. */
int kpf_effrank(const double *sv, size_t k, double total_var, double thresh, double *rank,
                kpf_error *err);

/* The same two with each component weighed by σ^power (power ∈ (0, 16])
 * instead of σ²; total_var is then Σ σ^power over the whole spectrum (≤ 0:
 * over the k given).  power = 2 is the calls above, bit for bit; power = 4
 * is the paper-era KPFlow analysis ("95 % of Σσ⁴": it passed eigenvalues
 * λ = σ² where singular values were expected). */
int kpf_explained_variance_pow(const double *sv, size_t k, double total_var, double power,
                               double *cum, kpf_error *err);
int kpf_effrank_pow(const double *sv, size_t k, double total_var, double thresh, double power,
                    double *rank, kpf_error *err);

KPF_END_DECLS
#endif
