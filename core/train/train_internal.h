/* Private to train.c and checkpoint.c. */
#ifndef KPF_TRAIN_INTERNAL_H
#define KPF_TRAIN_INTERNAL_H

#include "kpf/comm.h"
#include "kpf/train.h"

/* Grow a history to hold n_iter iteration and n_eval evaluation entries. */
int kpf_internal_history_reserve(kpf_train_history *h, size_t n_iter, size_t n_eval);

/* ---- data parallelism (train_parallel.c) ---- */
/* part (part->B trials) ← trials lo … lo + part->B − 1 of full. */
void kpf_internal_batch_slice(const kpf_task_batch *full, size_t lo, kpf_task_batch *part);
/* Σ mask over a batch: the scored entries its loss divides by (× n_out). */
double kpf_internal_mask_count(const kpf_task_batch *b);
/* Turn this rank's (loss, grad) over its `count` scored entries into the
 * whole batch's on every rank (grad NULL: the loss only).  rc is this
 * rank's status so far: the sum is entered whatever it is (the other ranks
 * wait in it), and a failure anywhere fails every rank.  buf: m + 3
 * values. */
int kpf_internal_reduce_loss(const kpf_comm *comm, int rc, double count, double *loss,
                             double *grad, size_t m, double *buf, kpf_error *err);

#endif
