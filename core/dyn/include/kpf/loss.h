/* kpf/loss.h — the masked mean-squared error on model outputs.
 *
 *   L = Σ_{b,t} mask_{b,t} ‖y_{b,t} − y*_{b,t}‖² / (n_out · Σ_{b,t} mask_{b,t})
 *
 * the mean over scored entries (PyTorch's MSELoss(reduction='mean') when the
 * mask is all ones; Schuessler et al. eq. 19 with a mask).  All arrays are
 * step-major [T][B][·].  The output error dL/dy is what the readout adjoint
 * turns into Err = ∇_z ℓ. */
#ifndef KPF_LOSS_H
#define KPF_LOSS_H

#include "kpf/export.h"

#include <stddef.h>

KPF_BEGIN_DECLS

/* Returns L; dy (may be NULL) receives dL/dy ([T·B]×n_out). */
double kpf_loss_mse(size_t rows, size_t n_out, const double *y, const double *target,
                    const double *mask, double *dy);

KPF_END_DECLS
#endif
