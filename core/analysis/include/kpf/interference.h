/* kpf/interference.h — KPFlow's multi-task decomposition (§3.2, eq. 11;
 * App. E.2, eq. 75) on trial groups X_1 … X_S (a mixture's sub-tasks).
 *
 * With the trials split into groups, P and P* are block-diagonal (trials
 * never interact in the dynamics) and K has blocks K_ij = S_i K S_jᵀ (S_i
 * restricts a trajectory to the trials of group i), so one GD step moves
 * group i's states by
 *
 *     δz_i = −η Σ_j δz_ij,   δz_ij = P_i K_ij P_j* Err_j,
 *
 * δz_ij being the correction to sub-task i driven by sub-task j's error.
 *
 *   interference matrix   M_ij = ⟨δz_ii, δz_ij⟩ / (‖δz_ii‖ ‖δz_ij‖)
 *   Rayleigh alignment    R_ij = R(K_ij, a_j) = ⟨K_ij a_j, a_j⟩ / ⟨a_j, a_j⟩,
 *                         a_j = P_j* Err_j  (eq. 75; for i ≠ j the trials of
 *                         the two groups are paired in order, so it needs
 *                         |X_i| = |X_j| and is NaN otherwise)
 *   task alignment        A_ij = ⟨z_i, z_j⟩ / (‖z_i‖ ‖z_j‖) over all steps and
 *                         units of matched-stimulus trials (Fig. 4B)
 *   filtered value        f_F(X) = Σ_ij F_ij X_ij / Σ_ij F_ij  for a 0/1 mask F
 *                         (Fig. 4C–E)
 *
 * Matrix-free: column j of the decomposition is P K Π_j P* Err (Π_j keeps
 * group j's trials), K restricted to the columns of group j with
 * kpf_op_restrict_trials; its block i is δz_ij because P is block-diagonal.
 * So S applications of K and P give all S² terms, and nothing of size
 * (B·T·n)² is formed.  S×S matrices are row-major. */
#ifndef KPF_INTERFERENCE_H
#define KPF_INTERFERENCE_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

/* The decomposition at one θ.  tr: simulated at m's θ (a trajectory of this
 * process alone); errv: Err = ∂ℓ/∂z on tr ([T][B][n], any positive scale:
 * every output is a ratio except dz_norm, which scales with it); group[b] ∈
 * 0 … S−1 for each of tr->B trials, every group non-empty.  Outputs (S×S,
 * any may be NULL): M, R (see above), dz_norm[i·S + j] = ‖δz_ij‖ in 𝕋's
 * norm.  M_ij is NaN when δz_ii or δz_ij vanishes. */
int kpf_interference(kpf_model *m, const kpf_traj *tr, const double *errv, size_t S,
                     const int *group, double *M, double *R, double *dz_norm, kpf_error *err);

/* A (S×S) from states z ([T][B][n], B = S·R) of matched trials laid out
 * as kpf_task_generate_matched makes them (trial g·R + r: sub-task g,
 * stimulus r).  A_ij is NaN when group i's or j's states vanish. */
void kpf_task_alignment(size_t S, size_t B, size_t T, size_t n, const double *z, double *A);

/* f_F(X) for S×S F and X; NaN when F has no 1 or a selected entry is NaN. */
double kpf_filter_mean(size_t S, const double *F, const double *X);

KPF_END_DECLS
#endif
