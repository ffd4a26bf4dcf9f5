/* kpf/optim.h — optimisers over the flat θ: SGD and Adam, with global
 * gradient-norm clipping and a per-entry trainable mask (so "train W only"
 * is a mask over named blocks).
 *
 *   clip:  if ‖g‖ > c then g ← g·c/‖g‖   (the norm over trainable entries,
 *          as torch.nn.utils.clip_grad_norm_)
 *   sgd:   θ ← θ − lr·g
 *   adam:  m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
 *          θ ← θ − lr·m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
 *          (PyTorch's Adam without weight decay). */
#ifndef KPF_OPTIM_H
#define KPF_OPTIM_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

enum kpf_optim_kind { KPF_OPTIM_SGD = 0, KPF_OPTIM_ADAM = 1 };

typedef struct kpf_optim {
    int kind;
    size_t m;
    double lr, beta1, beta2, eps;
    double clip;             /* 0: no clipping              */
    unsigned char *trainable;/* m flags, owned              */
    double *mom, *vel;       /* Adam moments (m each)       */
    uint64_t t;              /* steps taken                 */
    double last_norm;        /* gradient norm before clipping, last step */
} kpf_optim;

int kpf_optim_alloc(int kind, size_t m, double lr, kpf_optim **out, kpf_error *err);
void kpf_optim_free(kpf_optim *o);
/* Freeze / unfreeze entries [offset, offset+len). */
void kpf_optim_set_trainable(kpf_optim *o, size_t offset, size_t len, int trainable);
/* One update of theta from grad (grad is modified: masked and clipped). */
int kpf_optim_step(kpf_optim *o, double *theta, double *grad, kpf_error *err);

KPF_END_DECLS
#endif
