/* The training loop (see kpf/train.h for the contract). */
#include "kpf/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpf/checkpoint.h"
#include "kpf/gradient.h"
#include "kpf/rng.h"
#include "train_internal.h"

void kpf_train_opts_default(kpf_train_opts *o)
{
    *o = (kpf_train_opts){.iterations = 1000, .batch = 64, .eval_trials = 64,
                          .eval_every = 50, .optimizer = KPF_OPTIM_ADAM, .lr = 1e-3};
}

void kpf_train_history_free(kpf_train_history *h)
{
    if (!h)
        return;
    free(h->loss);
    free(h->grad_norm);
    free(h->eval_iter);
    free(h->eval_loss);
    memset(h, 0, sizeof *h);
}

/* Everything one run allocates; freed in one place. */
typedef struct run {
    kpf_model *m;
    kpf_task *task;
    const kpf_train_opts *o;
    kpf_optim *optim;
    gsl_rng *data, *batch_rng, *eval_rng;
    kpf_task_batch *batch, *dataset, *eval;
    kpf_grad_ws *ws, *eval_ws;
    double *grad;
    kpf_train_history *hist;
    /* data parallelism (train_parallel.c): this rank's trials of the batch
     * and of the evaluation set, and the reduction buffer; NULL alone */
    const kpf_comm *comm;
    kpf_task_batch *part, *eval_part;
    size_t lo, eval_lo;
    double *red;
} run;

static void run_free(run *r)
{
    kpf_optim_free(r->optim);
    if (r->data) gsl_rng_free(r->data);
    if (r->batch_rng) gsl_rng_free(r->batch_rng);
    if (r->eval_rng) gsl_rng_free(r->eval_rng);
    kpf_task_batch_free(r->batch);
    kpf_task_batch_free(r->dataset);
    kpf_task_batch_free(r->eval);
    kpf_grad_ws_free(r->ws);
    kpf_grad_ws_free(r->eval_ws);
    free(r->grad);
    kpf_task_batch_free(r->part);
    kpf_task_batch_free(r->eval_part);
    free(r->red);
}

/* This rank's block of B trials: [*lo, *lo + *n), and a batch to hold it.
 * Alone, the whole batch is used directly (part stays NULL). */
static int share(run *r, size_t B, const char *what, size_t *lo, size_t *n,
                 kpf_task_batch **part, kpf_error *err)
{
    size_t hi;
    *lo = 0;
    *n = B;
    if (!r->comm)
        return KPF_OK;
    int N = kpf_comm_size(r->comm);
    if (B < (size_t)N)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s = %zu trials cannot be split over %d ranks: every rank needs at "
                             "least one (use more trials or fewer ranks)",
                             what, B, N);
    kpf_comm_share(r->comm, kpf_comm_rank(r->comm), B, lo, &hi);
    *n = hi - *lo;
    return kpf_task_batch_alloc(r->task, *n, part, err);
}

static int set_trainable(run *r, kpf_error *err)
{
    const kpf_train_opts *o = r->o;
    if (!o->n_train_blocks)
        return KPF_OK;
    kpf_optim_set_trainable(r->optim, 0, r->m->m, 0);
    for (size_t i = 0; i < o->n_train_blocks; i++) {
        const kpf_param_block *b = kpf_model_block(r->m, o->train_blocks[i]);
        if (!b) {
            char names[512] = "";
            for (size_t j = 0; j < r->m->n_blocks; j++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         j ? ", " : "", r->m->blocks[j].name);
            return kpf_error_set(err, KPF_ECONFIG,
                                 "no parameter block '%s' to train (this model has: %s)",
                                 o->train_blocks[i], names);
        }
        kpf_optim_set_trainable(r->optim, b->offset, b->rows * b->cols, 1);
    }
    return KPF_OK;
}

/* The evaluation set: drawn once, noise off where the task allows it. */
static int make_eval(run *r, kpf_error *err)
{
    size_t n;
    int rc = kpf_task_batch_alloc(r->task, r->o->eval_trials, &r->eval, err);
    if (!rc)
        rc = share(r, r->o->eval_trials, "eval_trials", &r->eval_lo, &n, &r->eval_part, err);
    if (rc)
        return rc;
    kpf_task_set_noise_scale(r->task, 0.0);
    rc = kpf_task_generate(r->task, r->eval_rng, r->eval, err);
    kpf_task_set_noise_scale(r->task, 1.0);
    if (!rc && r->eval_part)
        kpf_internal_batch_slice(r->eval, r->eval_lo, r->eval_part);
    return rc ? rc : kpf_grad_ws_alloc(r->m, n, r->task->T, &r->eval_ws, err);
}

static int setup(run *r, kpf_error *err)
{
    const kpf_train_opts *o = r->o;
    uint64_t s = o->seed;
    size_t n_part = o->batch;
    r->comm = kpf_comm_size(o->comm) > 1 ? o->comm : NULL;
    int rc = kpf_optim_alloc(o->optimizer, r->m->m, o->lr, &r->optim, err);
    if (!rc) {
        r->optim->clip = o->clip;
        rc = set_trainable(r, err);
    }
    if (!rc) rc = kpf_rng_alloc(s, KPF_RNG_DATA, &r->data, err);
    if (!rc) rc = kpf_rng_alloc(s, KPF_RNG_BATCH, &r->batch_rng, err);
    if (!rc) rc = kpf_rng_alloc(s, KPF_RNG_EVAL, &r->eval_rng, err);
    if (!rc) rc = kpf_task_batch_alloc(r->task, o->batch, &r->batch, err);
    if (!rc) rc = share(r, o->batch, "batch", &r->lo, &n_part, &r->part, err);
    if (!rc && r->comm && !(r->red = malloc((r->m->m + 3) * sizeof(double))))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (!rc && o->dataset) {
        rc = kpf_task_batch_alloc(r->task, o->dataset, &r->dataset, err);
        if (!rc)
            rc = kpf_task_generate(r->task, r->data, r->dataset, err);
    }
    if (!rc) rc = make_eval(r, err);
    if (!rc) rc = kpf_grad_ws_alloc(r->m, n_part, r->task->T, &r->ws, err);
    if (!rc && !(r->grad = malloc(r->m->m * sizeof(double) + 1)))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    return rc;
}

/* Row b of `dst` ← row `src_b` of `src` (every step-major array). */
static void copy_trial(kpf_task_batch *dst, size_t b, const kpf_task_batch *src, size_t sb)
{
    size_t ni = dst->n_in, no = dst->n_out;
    for (size_t t = 0; t < dst->T; t++) {
        size_t d = t * dst->B + b, s = t * src->B + sb;
        memcpy(dst->x + d * ni, src->x + s * ni, ni * sizeof(double));
        memcpy(dst->y + d * no, src->y + s * no, no * sizeof(double));
        dst->mask[d] = src->mask[s];
        dst->period[d] = src->period[s];
    }
    dst->cond[b] = src->cond[sb];
    dst->trial[b] = src->trial[sb];
}

/* The whole minibatch (every rank draws it alike), then this rank's trials. */
static int next_batch(run *r, kpf_error *err)
{
    int rc = KPF_OK;
    if (!r->dataset)
        rc = kpf_task_generate(r->task, r->data, r->batch, err);
    for (size_t b = 0; r->dataset && b < r->batch->B; b++)
        copy_trial(r->batch, b, r->dataset,
                   (size_t)gsl_rng_uniform_int(r->batch_rng, (unsigned long)r->dataset->B));
    if (!rc && r->part)
        kpf_internal_batch_slice(r->batch, r->lo, r->part);
    return rc;
}

/* The loss (and gradient, when grad is non-NULL) of this rank's trials,
 * made the whole batch's over every rank.  rc: a failure before this (the
 * ranks' sum is still entered, as the other ranks wait in it). */
static int loss_of(run *r, int rc, const kpf_task_batch *b, kpf_grad_ws *ws, double *L,
                   double *grad, kpf_error *err)
{
    if (!rc)
        rc = grad ? kpf_loss_grad(r->m, b, r->o->window, ws, L, grad, err)
                  : kpf_loss_eval(r->m, b, ws, L, err);
    if (!r->comm)
        return rc;
    double count = rc ? 0.0 : kpf_internal_mask_count(b);
    return kpf_internal_reduce_loss(r->comm, rc, count, L, grad, r->m->m, r->red, err);
}

static int evaluate(run *r, size_t iter, kpf_error *err)
{
    double L;
    int rc = loss_of(r, KPF_OK, r->eval_part ? r->eval_part : r->eval, r->eval_ws, &L, NULL, err);
    if (rc)
        return kpf_error_prefix(err, rc, "evaluation at iteration %zu: ", iter);
    kpf_train_history *h = r->hist;
    if (kpf_internal_history_reserve(h, h->n_iter, h->n_eval + 1))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    h->eval_iter[h->n_eval] = (double)iter;
    h->eval_loss[h->n_eval++] = L;
    kpf_progress_send(r->o->progress, (kpf_progress_event){.kind = KPF_PROGRESS_EVAL,
                                                           .iteration = iter,
                                                           .total = r->o->iterations,
                                                           .loss = L});
    if (!isfinite(L))
        return kpf_error_set(err, KPF_ENUMERIC, "evaluation loss is not finite at iteration %zu",
                             iter);
    if (r->o->loss_threshold > 0 && L < r->o->loss_threshold && h->converged_at < 0)
        h->converged_at = (long)iter;
    return KPF_OK;
}

static int one_iteration(run *r, size_t it, kpf_error *err)
{
    double L;
    int rc = next_batch(r, err);
    rc = loss_of(r, rc, r->part ? r->part : r->batch, r->ws, &L, r->grad, err);
    if (!rc && !isfinite(L))
        rc = kpf_error_set(err, KPF_ENUMERIC, "training loss is not finite");
    if (!rc)
        rc = kpf_optim_step(r->optim, r->m->theta, r->grad, err);
    if (!rc)
        rc = kpf_model_theta_changed(r->m, err);
    kpf_train_history *h = r->hist;
    if (!rc && kpf_internal_history_reserve(h, h->n_iter + 1, h->n_eval))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (rc)
        return rc;
    h->loss[h->n_iter] = L;
    h->grad_norm[h->n_iter++] = r->optim->last_norm;
    h->iterations_done = it + 1;
    kpf_progress_send(r->o->progress, (kpf_progress_event){.kind = KPF_PROGRESS_ITERATION,
                                                           .iteration = it + 1,
                                                           .total = r->o->iterations,
                                                           .loss = L});
    return KPF_OK;
}

/* Rank 0 writes; the others hold the same state. */
static int save(run *r, size_t iter, kpf_error *err)
{
    if (!r->o->checkpoint_path || kpf_comm_rank(r->comm) != 0)
        return KPF_OK;
    kpf_checkpoint c = {iter, r->m, r->optim, r->data, r->batch_rng, r->hist};
    return kpf_checkpoint_save(r->o->checkpoint_path, &c, err);
}

static int start(run *r, size_t *iter0, kpf_train_hook hook, void *ctx, kpf_error *err)
{
    if (r->o->resume) {
        kpf_checkpoint c = {0, r->m, r->optim, r->data, r->batch_rng, r->hist};
        int rc = kpf_checkpoint_load(r->o->checkpoint_path, &c, err);
        *iter0 = c.iteration;
        return rc;
    }
    *iter0 = 0;
    r->hist->converged_at = -1;
    int rc = evaluate(r, 0, err);
    if (!rc && hook)
        rc = hook(ctx, r->m, 0, err);
    return rc;
}

static int loop(run *r, kpf_train_hook hook, void *ctx, kpf_error *err)
{
    size_t it0;
    int rc = start(r, &it0, hook, ctx, err);
    const kpf_train_opts *o = r->o;
    for (size_t it = it0; !rc && it < o->iterations && r->hist->converged_at < 0; it++) {
        if ((rc = one_iteration(r, it, err))) {
            kpf_error_prefix(err, rc, "iteration %zu: ", it + 1);
            /* name the checkpoint only when one was written */
            if (o->checkpoint_path && access(o->checkpoint_path, F_OK) == 0)
                kpf_error_prefix(err, rc, "(last checkpoint kept in %s) ", o->checkpoint_path);
            return rc;
        }
        if ((it + 1) % o->eval_every == 0 || it + 1 == o->iterations)
            rc = evaluate(r, it + 1, err);
        if (!rc && hook)
            rc = hook(ctx, r->m, it + 1, err);
        if (!rc && o->checkpoint_every && (it + 1) % o->checkpoint_every == 0)
            rc = save(r, it + 1, err);
    }
    return rc ? rc : save(r, r->hist->iterations_done, err);
}

int kpf_train(kpf_model *m, kpf_task *task, const kpf_train_opts *opts, kpf_train_hook hook,
              void *hook_ctx, kpf_train_history *hist, kpf_error *err)
{
    if (!opts->batch || !opts->eval_trials || !opts->eval_every)
        return kpf_error_set(err, KPF_EINVAL, "batch, eval_trials and eval_every must be >= 1");
    if (opts->resume && !opts->checkpoint_path)
        return kpf_error_set(err, KPF_EINVAL, "resume needs a checkpoint path");
    run r = {.m = m, .task = task, .o = opts, .hist = hist};
    int rc = setup(&r, err);
    if (!rc)
        rc = loop(&r, hook, hook_ctx, err);
    run_free(&r);
    return rc;
}
