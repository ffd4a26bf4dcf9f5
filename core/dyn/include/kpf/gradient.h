/* kpf/gradient.h — loss and its exact gradient by the discrete adjoint.
 *
 * One call simulates B trials of a task batch, reads out y, forms the
 * masked MSE (loss.h) and its gradient with respect to the full θ:
 *
 *   dy   = dL/dy                        (output error)
 *   Err  = g_zᵀ dy                      (readout adjoint: ∇_z ℓ per row)
 *   λ    = P* Err                       (propagate.h: backward sweep)
 *   ∇θ L = Σ J_{F,θ}ᵀ λ  + J_{z₀,θ}ᵀ λ_{−1}  + g_θᵀ dy
 *
 * with an optional truncation window (chunked truncated BPTT).  It is the
 * gradient of the loss the simulation actually computed, through whichever
 * stepper the model uses. */
#ifndef KPF_GRADIENT_H
#define KPF_GRADIENT_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/task.h"
#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

/* Buffers for one batch size; allocate once, reuse every iteration. */
typedef struct kpf_grad_ws {
    kpf_traj *tr;   /* the simulated batch (valid after a call) */
    double *y;      /* [T][B][n_out] outputs                    */
    double *dy;     /* [T][B][n_out] dL/dy                      */
    double *err;    /* [T][B][n]     Err = ∇_z ℓ                */
    double *lambda; /* [T][B][n]     P* Err                     */
    double *lambda0;/* [B][n]                                   */
} kpf_grad_ws;

int kpf_grad_ws_alloc(const kpf_model *m, size_t B, size_t T, kpf_grad_ws **out,
                      kpf_error *err);
void kpf_grad_ws_free(kpf_grad_ws *ws);

/* Loss only (simulate + readout); fills ws->tr and ws->y. */
int kpf_loss_eval(kpf_model *m, const kpf_task_batch *batch, kpf_grad_ws *ws,
                  double *loss, kpf_error *err);

/* Loss and gradient (grad: m values, overwritten).  window = 0: full BPTT. */
int kpf_loss_grad(kpf_model *m, const kpf_task_batch *batch, size_t window,
                  kpf_grad_ws *ws, double *loss, double *grad, kpf_error *err);

KPF_END_DECLS
#endif
