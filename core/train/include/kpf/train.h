/* kpf/train.h — the training loop: minibatches, adjoint gradients, an
 * optimiser, evaluation, convergence, checkpoints and resume.
 *
 * Data.  dataset = 0: every minibatch is a fresh draw from the task (data
 * stream).  dataset = N: N trials are drawn once and each minibatch picks B
 * of them uniformly with replacement (batch stream).  The evaluation set is
 * drawn once from its own stream with the task's noise switched off when
 * the task allows it (kpf_task_set_noise_scale).
 *
 * Convergence.  The evaluation loss is measured at iteration 0 and every
 * eval_every iterations; the first evaluation with loss < threshold records
 * the convergence iteration and stops the run (threshold 0: never).
 *
 * Checkpoints.  Every checkpoint_every iterations the full state (θ,
 * optimiser moments, iteration, RNG states, loss history) is written to
 * `checkpoint_path` through a temporary file and rename(2), so a kill at
 * any moment leaves the previous checkpoint intact.  kpf_train with
 * resume = 1 continues from it and produces bitwise the same θ as an
 * uninterrupted run (same thread count).  A non-finite loss or gradient
 * stops the run with KPF_ENUMERIC naming the iteration; the last checkpoint
 * is kept.
 *
 * Data parallelism.  With comm set to a communicator of N > 1 ranks (every
 * rank calling kpf_train alike), each rank draws every minibatch and the
 * evaluation set whole from the same streams, keeps its block of trials
 * (kpf_comm_share), and computes that block's loss and gradient; one sum of
 * m + 3 values per step gives every rank the batch's loss and gradient, so
 * every rank takes the same step and θ is identical on all of them.
 * Results equal the one-process run up to rounding (≤ 1e-12 relative), and
 * bitwise from run to run with KPF_REDUCE_ORDERED on comm.  Only rank 0
 * writes checkpoints; every rank reads them to resume.  batch and
 * eval_trials must be at least N.  Per rank: the trajectories and adjoints
 * of B/N trials, θ-sized vectors, and the whole batch's inputs, targets
 * and masks (B·T·(n_in + n_out + 2) values). */
#ifndef KPF_TRAIN_H
#define KPF_TRAIN_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/comm.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/optim.h"
#include "kpf/progress.h"
#include "kpf/task.h"

KPF_BEGIN_DECLS

typedef struct kpf_train_opts {
    size_t iterations;
    size_t batch;
    size_t dataset;
    size_t eval_trials;
    size_t eval_every;
    size_t window;            /* truncated BPTT window, 0 = full        */
    size_t checkpoint_every;  /* 0 = only at the end                    */
    double loss_threshold;
    int optimizer;            /* KPF_OPTIM_SGD / KPF_OPTIM_ADAM         */
    double lr, clip;
    size_t n_train_blocks;    /* 0 = all blocks train                   */
    const char *const *train_blocks;
    uint64_t seed;
    const char *checkpoint_path; /* NULL: no checkpoints                */
    int resume;
    const kpf_comm *comm;     /* data-parallel ranks; NULL: one process */
    /* iteration and evaluation events (kpf/progress.h); NULL: none */
    const kpf_progress *progress;
} kpf_train_opts;

void kpf_train_opts_default(kpf_train_opts *o);

/* History: one entry per iteration (train loss, gradient norm) and one per
 * evaluation. */
typedef struct kpf_train_history {
    size_t n_iter, cap_iter;
    double *loss, *grad_norm;
    size_t n_eval, cap_eval;
    double *eval_iter, *eval_loss;
    long converged_at;        /* −1: not converged */
    size_t iterations_done;
} kpf_train_history;

void kpf_train_history_free(kpf_train_history *h);

/* A hook called at the start and after every iteration with the iteration
 * number (snapshots, analyses).  Return non-zero to stop with that status. */
typedef int (*kpf_train_hook)(void *ctx, kpf_model *m, size_t iter, kpf_error *err);

int kpf_train(kpf_model *m, kpf_task *task, const kpf_train_opts *opts,
              kpf_train_hook hook, void *hook_ctx, kpf_train_history *hist,
              kpf_error *err);

KPF_END_DECLS
#endif

/* ---- from YAML ----------------------------------------------------------- */
#ifndef KPF_TRAIN_CONFIG_DECLARED
#define KPF_TRAIN_CONFIG_DECLARED
#include "kpf/config.h"
KPF_BEGIN_DECLS
/* Fill o from a `train:` map (defaults: kpf_train_opts_default).  Keys:
 * iterations, batch, dataset, eval_trials, eval_every, tbptt,
 * checkpoint_every, loss_threshold, optimizer (adam | sgd), lr, clip,
 * blocks (a list of block names; absent = all).  o->train_blocks is
 * allocated here (strings belong to the config): free it with
 * kpf_train_opts_clear. */
int kpf_train_opts_from_config(const kpf_node *node, kpf_train_opts *o, kpf_error *err);
void kpf_train_opts_clear(kpf_train_opts *o);
KPF_END_DECLS
#endif
