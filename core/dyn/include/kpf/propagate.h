/* kpf/propagate.h — the linearised flow along a simulated trajectory.
 *
 * These sweeps are the numerical heart of P, P*, U, K's row passes and the
 * adjoint gradient; operators and training call them, nothing else steps
 * Jacobians.  All arrays are step-major [T][B][n] like trajectories, and the
 * trajectory's stored stages are the linearisation point (no recompute).
 *
 * Convention (discrete time, step k maps z_k to z_{k+1}; arrays index k
 * holds the quantity attached to z_{k+1}):
 *   tangent:  δz_{k+1} = J_F(k) δz_k + q_k,            δz_0 given (or 0)
 *   adjoint:  λ_k = w_k + J_F(k+1)ᵀ λ_{k+1},  λ_{T−1} = w_{T−1};
 *             λ_{−1} = J_F(0)ᵀ λ_0 is the cotangent of z_0.
 * So the forcing q_k is added to the state a step produces (for an Euler
 * step of size h, a perturbation δf of the vector field is q = h δf), and
 * the adjoint sweep is the exact transpose of the tangent sweep in the
 * Euclidean inner product — hence also in 𝕋's, whose weights (dt/B) are
 * uniform.  The gradient of a loss L(z_1 … z_T) with w = ∂L/∂z is
 *   ∇θ L = Σ_k J_{F,θ}(k)ᵀ λ_k + J_{z₀,θ}ᵀ λ_{−1}.
 *
 * The caller reserves scratch: kpf_model_reserve(m, B) for the state sweeps,
 * kpf_model_reserve(m, B·T) for the all-rows parameter passes. */
#ifndef KPF_PROPAGATE_H
#define KPF_PROPAGATE_H

#include "kpf/export.h"

#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

/* out[k] = δz_{k+1}.  q may be NULL (no forcing), dz0 may be NULL (0). */
int kpf_propagate_tangent(kpf_model *m, const kpf_traj *tr, const double *q,
                          const double *dz0, double *out, kpf_error *err);

/* lambda[k] = λ_k; lambda0 (B×n, may be NULL) receives λ_{−1}.  lambda
 * must not alias w. */
int kpf_propagate_adjoint(kpf_model *m, const kpf_traj *tr, const double *w,
                          double *lambda, double *lambda0, kpf_error *err);

/* Truncated (chunked) BPTT: the same sweep with the chain cut at every
 * multiple of `window` steps, λ_k = w_k + [k+1 not a chunk start] J_F(k+1)ᵀ
 * λ_{k+1}, i.e. the exact gradient of the loss with the state at each chunk
 * boundary held fixed.  lambda0 gets J_F(0)ᵀ λ_0 only when window = 0 or
 * the first chunk reaches z_0 (always: chunk 0 starts at step 0).
 * window = 0 means no truncation (kpf_propagate_adjoint). */
int kpf_propagate_adjoint_window(kpf_model *m, const kpf_traj *tr, const double *w,
                                 size_t window, double *lambda, double *lambda0,
                                 kpf_error *err);

/* out[k] = J_{F,θ}(k) · dθ for every row at once (dθ has length m). */
int kpf_propagate_jth(kpf_model *m, const kpf_traj *tr, const double *dth, double *out,
                      kpf_error *err);

/* g += Σ_k J_{F,θ}(k)ᵀ · w[k] over every row at once. */
int kpf_propagate_jthT(kpf_model *m, const kpf_traj *tr, const double *w, double *g,
                       kpf_error *err);

KPF_END_DECLS
#endif
