/* kpf/kpflow.h — the KPFlow operators along one simulated trajectory.
 *
 * Spaces (see operator.h for the inner products):
 *   𝕋   = {B, T, n, dt/B}      trajectories; element (b, k, i) is attached
 *                               to z_{k+1} (trajectory.h), dt = tr->dt.
 *   Z₀  = {B, 1, n, 1/B}       initial-state perturbations δz₀ (mean over
 *                               trials, like 𝕋 without the time integral).
 *   Y   = {B, T, n_out, dt/B}  outputs.
 *
 * Discrete convention (propagate.h): step k maps z_k to z_{k+1}, and a
 * forcing q_k is added to what step k produces, so for an Euler step of size
 * h a perturbation δf of the vector field is q = h·δf.
 *
 *   P     (Pq)_k = J_F(k)(Pq)_{k−1} + q_k, (Pq)_{−1} = 0.   P* is its exact
 *         adjoint in 𝕋 (the backward adjoint sweep).
 *   P_dir re-simulates the nonlinear model with q_k added after step k and
 *         subtracts the stored trajectory: only approximately linear (it
 *         agrees with P to O(‖q‖²)).  Its "adjoint" is the linear P*.
 *   P⁻¹   (P⁻¹q)_k = q_k − J_F(k) q_{k−1};  exact inverse of P.
 *   U     Z₀ → 𝕋, (Uδz₀)_k = J_F(k)…J_F(0) δz₀ (the fundamental operator);
 *         U* = dt · (backward sweep's cotangent of z₀).
 *   K     q ↦ J_{F,θ} g,  g = (dt/B) Σ_{rows} J_{F,θ}ᵀ q: one all-rows
 *         J_θᵀ pass and one all-rows J_θ pass.  Self-adjoint PSD in 𝕋.
 *   K_j   the same with g kept only on parameter block j; Σ_j K_j = K
 *         over the blocks of θ (Thm 1; readout blocks give zero).
 *   K₀    on Z₀: a ↦ J_{z₀,θ} g₀, g₀ = (1/B) Σ_b J_{z₀,θ}(b)ᵀ a_b.
 *   W     𝕋 → Y, the readout Jacobian (kpf_readout_jz, so plugin readouts
 *         are honoured); W* = its transpose (the weights agree).
 *
 * With these weights one GD step θ ← θ − η∇θL on L(z) with ∂L/∂z in 𝕋
 * equal to Err (i.e. Euclidean gradient (dt/B)·Err) moves the hidden state
 * by δz = −η (P K P* + U K₀ U*) Err + O(η²)  (Prop. 1 plus the initial-state
 * term), exactly as the hidden NTK below, provided the initial-state
 * parameters and the dynamics parameters are disjoint (no cross terms).
 *
 * Ownership.  Every constructor BORROWS m and tr: both must outlive the op,
 * and tr must have been simulated with m's current θ (the J ops read θ from
 * m and the linearisation point from tr).  Constructors reserve model
 * scratch for B·T rows and allocate their own buffers, so applying never
 * allocates.  An op's scratch makes it non-reentrant: one apply at a time.
 * Composite constructors (P K P*, Θ …) own their parts. */
#ifndef KPF_KPFLOW_H
#define KPF_KPFLOW_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/operator.h"
#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

/* The hidden NTK stores B·T·n × m_model doubles; it refuses above this. */
#define KPF_HIDDEN_NTK_MAX_ENTRIES ((size_t)1 << 22)

kpf_space kpf_traj_space(const kpf_traj *tr);                      /* 𝕋  */
kpf_space kpf_init_space(const kpf_traj *tr);                      /* Z₀ */
kpf_space kpf_output_space(const kpf_model *m, const kpf_traj *tr); /* Y  */

/* ---- propagation (propagator.c) ---------------------------------------- */
int kpf_op_propagator(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_propagator_adjoint(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                              kpf_error *err);
int kpf_op_propagator_direct(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                             kpf_error *err);
int kpf_op_propagator_inverse(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                              kpf_error *err);
int kpf_op_fundamental(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_fundamental_adjoint(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                               kpf_error *err);

/* ---- parameter operators (param_op.c) ---------------------------------- */
int kpf_op_param(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
/* K_j for the θ block called `block` (EINVAL if m has none). */
int kpf_op_param_block(kpf_model *m, const kpf_traj *tr, const char *block, kpf_op **out,
                       kpf_error *err);
/* K₀ on Z₀ (zero when the model has no learned initial state). */
int kpf_op_param_init(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
/* U K₀ U* on 𝕋: the initial-state part of the GD flow. */
int kpf_op_init_term(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);

/* ---- products and the readout (output_ntk.c) --------------------------- */
/* W: 𝕋 → Y. */
int kpf_op_readout(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_pkp(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err); /* P K P* */
int kpf_op_pp(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);  /* P P*   */
/* Θ = W P K P* W* on Y (Cor. 1). */
int kpf_op_output_ntk(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);

/* ---- validation (hidden_ntk.c) ------------------------------------------ */
/* The full hidden-state NTK J (dt/B) Jᵀ on 𝕋, J = dz/dθ through the unrolled
 * stepper and the initial state, formed column by column in forward mode
 * (m_model tangent sweeps at construction) and stored densely: B·T·n·m_model
 * doubles.  For validating P K P* + U K₀ U* on tiny cases only; refuses
 * above KPF_HIDDEN_NTK_MAX_ENTRIES. */
int kpf_op_hidden_ntk(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);

KPF_END_DECLS
#endif
