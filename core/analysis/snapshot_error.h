/* The training error at a snapshot, for analyses that need Err (private to
 * libkpf's analysis layer). */
#ifndef KPF_SNAPSHOT_ERROR_H
#define KPF_SNAPSHOT_ERROR_H

#include "kpf/instance.h"
#include "kpf/task.h"
#include "kpf/trajectory.h"

/* Err = ∂ℓ/∂z in 𝕋 on tr (simulated on bt at m's θ): the masked MSE's
 * Euclidean gradient dL/dz (what kpf_loss_grad calls ws->err) divided by
 * 𝕋's weight dt/B, so that one GD step moves the states by −η P K P* Err
 * (kpf/kpflow.h).  y, dy: caller's buffers of T·B·n_out; errv: T·B·n;
 * loss (may be NULL) receives L. */
int kpf_internal_snapshot_error(kpf_model *m, const kpf_traj *tr, const kpf_task_batch *bt,
                                double *y, double *dy, double *errv, double *loss,
                                kpf_error *err);

#endif
