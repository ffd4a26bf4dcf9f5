/* kpf/checkpoint.h — the complete state of a training run in one HDF5 file.
 *
 * Datasets: /iteration, /theta (m), /optim/{t,mom,vel}, /rng/data,
 * /rng/batch (raw GSL generator state), /history/{loss,grad_norm,
 * eval_iter,eval_loss,converged_at}.  Saving writes PATH.tmp and renames
 * it over PATH, so a kill never leaves a torn checkpoint. */
#ifndef KPF_CHECKPOINT_H
#define KPF_CHECKPOINT_H

#include "kpf/export.h"

#include <gsl/gsl_rng.h>

#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/optim.h"
#include "kpf/train.h"

KPF_BEGIN_DECLS

typedef struct kpf_checkpoint {
    size_t iteration;          /* iterations completed */
    kpf_model *model;
    kpf_optim *optim;
    gsl_rng *data, *batch;
    kpf_train_history *history;
} kpf_checkpoint;

int kpf_checkpoint_save(const char *path, const kpf_checkpoint *c, kpf_error *err);
/* Restores into the (already allocated, same-sized) objects of c. */
int kpf_checkpoint_load(const char *path, kpf_checkpoint *c, kpf_error *err);

KPF_END_DECLS
#endif
