/* theorem1.h — Pellegrino, Cayco-Gajic & Chadwick (2023), Theorem 1: the
 * singular values of a recurrent weight gradient are bounded by those of the
 * adjoint and of the activations.
 *
 * For an Euler step of size h (or a discrete map, h = 1) of a model whose
 * vector field contains W φ(z), the exact gradient of the loss is
 * ∇_W L = h Σ_k λ_k φ(z_k)ᵀ = A Φᵀ with A = √h [λ_k] and Φ = √h [φ(z_k)]
 * over all steps and trials, hence
 *     σ_r(∇_W L) ≤ min(σ₁(Φ) σ_r(A), σ₁(A) σ_r(Φ)).
 * kpf_thm1_check measures every term on a batch; the `theorem1:` analysis
 * (pellegrino.h) checks it at every training snapshot.  docs/delta_w.md. */
#ifndef KPF_PELLEGRINO_THEOREM1_H
#define KPF_PELLEGRINO_THEOREM1_H

#include <stddef.h>

#include "kpf/activation.h" /* φ in W φ(z): enum kpf_activation */
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/task.h"


typedef struct kpf_thm1 {
    size_t n;
    double loss;
    double *grad;      /* ∇_W L (n×n), from the adjoint gradient        */
    double *s_grad;    /* n singular values of ∇_W L                     */
    double *s_adj;     /* n singular values of A = √h [λ_k]  (0-padded)  */
    double *s_phi;     /* n singular values of Φ = √h [φ(z_k)]           */
    double *bound;     /* min(σ₁(Φ)σ_r(A), σ₁(A)σ_r(Φ))                  */
    double max_excess; /* max_r (σ_r(∇L) − bound_r) / σ₁(∇L)  (≤ 0 holds) */
    double factor_err; /* ‖∇_W L − A Φᵀ‖ / ‖∇_W L‖                       */
} kpf_thm1;

/* Simulate the batch, take the exact adjoint gradient (gradient.h) and
 * check σ_r(∇_W L) ≤ min(σ₁(φ(x)) σ_r(a_x), σ₁(a_x) σ_r(φ(x))), with a_x
 * the adjoint λ_k (propagate.h) and φ(x) the activation `act` of the state
 * before step k, over all steps and trials; factor_err confirms the
 * product form.  `block` is the square n×n matrix W.  Other steppers than
 * Euler or a discrete map: KPF_EUNSUPPORTED.  *out owns its arrays
 * (kpf_thm1_free). */
int kpf_thm1_check(kpf_model *m, const kpf_task_batch *bt, const char *block, int act,
                   kpf_thm1 *out, kpf_error *err);
void kpf_thm1_free(kpf_thm1 *t);

#endif
