/* kpf/delta_w.h — analyses of recurrent weight changes over learning, for
 * any model with a square recurrent parameter block (rnn: "W"):
 *
 *   - weight tensors W [n × n × K] stacked from snapshots, optionally minus
 *     the first (W − W₀ ⊗ 1; Pellegrino et al. 2023, notes/seed-ltr.md §6),
 *     to be decomposed with kpf/cp.h;
 *   - the spectrum of ΔW = W − W₀, rank-R truncation losses of W₀ + ΔW^{(R)},
 *     the functional rank, the shuffled-W₀ loss, and projections of ΔW's
 *     singular vectors onto W₀-propagated readout and input vectors
 *     (Schuessler et al. 2020, eqs. 4, 11–13; notes/seed-schuessler.md §5).
 * Pellegrino's Theorem 1 check lives with its study (studies/pellegrino).
 *
 * Matrices are row-major.  W_ij is the weight from unit j to unit i. */
#ifndef KPF_DELTA_W_H
#define KPF_DELTA_W_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/linalg.h"
#include "kpf/plugin.h"
#include "kpf/task.h"

KPF_BEGIN_DECLS

/* ---- weight tensors ------------------------------------------------------ */

/* Copy the square block `block` (e.g. "W") of θ (m->m values; NULL: the
 * model's current θ) into W (n×n). */
int kpf_weight_snapshot(const kpf_model *m, const double *theta, const char *block,
                        double *W, kpf_error *err);

/* W [n][n][K] from K snapshots (snaps: K matrices n×n, one after the
 * other), each minus snapshot 0 when subtract_first. */
void kpf_weight_tensor(size_t n, size_t K, const double *snaps, int subtract_first,
                       double *W);

/* Unexplained variance of the snapshots D_k (K matrices n×n one after the
 * other) after projecting each onto the column space of U and the row space
 * of V (n×k each, orthonormal columns, row-major): 1 − Σ_k ‖Uᵀ D_k V‖²_F /
 * Σ_k ‖D_k‖²_F (Pellegrino et al. Supp. C: the retraining updates
 * W − W*⊗1 against the top singular vectors of the pretraining update
 * W* − W₀; ≈ 0.2 there).  NaN when every D_k is zero. */
double kpf_dw_subspace_residual(size_t n, size_t K, const double *D, size_t k, const double *U,
                                const double *V);

/* ---- ΔW ------------------------------------------------------------------ */

/* loss[R] (R = 0 … R_max) = kpf_loss_eval of the model with `block` set to
 * W₀ + ΔW^{(R)}, ΔW^{(R)} the rank-R truncated SVD of W − W₀ (Schuessler
 * eq. 4; every other parameter as in the model).  The model's θ is restored
 * before returning.  sv (may be NULL) receives the n singular values of ΔW. */
int kpf_dw_truncation_losses(kpf_model *m, const char *block, const double *W0,
                             const double *W, const kpf_task_batch *bt, size_t R_max,
                             double *loss, double *sv, kpf_error *err);

/* Functional rank: the smallest R with loss[R] < frac·L0 (frac 0.05 in the
 * paper; L0 the initial loss of the g = 0 network on that task, notes §5.3–4).
 * −1 when no R ≤ R_max qualifies. */
long kpf_dw_functional_rank(const double *loss, size_t R_max, double L0, double frac);

/* Loss with `block` = shuffle(W₀) + ΔW, shuffle a uniform permutation of all
 * n² entries of W₀ drawn from seed (Schuessler Fig. 2c); the mean over
 * n_shuffles permutations.  θ is restored. */
int kpf_dw_shuffle_loss(kpf_model *m, const char *block, const double *W0, const double *W,
                        const kpf_task_batch *bt, uint64_t seed, size_t n_shuffles,
                        double *loss, kpf_error *err);

/* Directions ΔW = W − W₀ grows along (Schuessler eqs. 11–13): with
 * P = (I − W₀)⁻¹ (powers = 0) or P = Σ_{j≤powers} W₀^j (powers ≥ 1),
 * left space  span{Pᵀ w_o} (w_o the rows of wout, n_out×n),
 * right space span{P m_i}  (m_i the columns of win, n×n_in).
 * proj_u[i] = ‖Π_left u_i‖², proj_v[i] = ‖Π_right v_i‖² for the top k
 * singular pairs (u_i, v_i) of ΔW (1 = the vector lies in the space). */
int kpf_dw_projections(size_t n, const double *W0, const double *dW, size_t n_out,
                       const double *wout, size_t n_in, const double *win, size_t powers,
                       size_t k, double *proj_u, double *proj_v, kpf_error *err);

KPF_END_DECLS
#endif
