/* The training loop (see kpf/train.h for the contract). */
#include "kpf/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int rc = kpf_task_batch_alloc(r->task, r->o->eval_trials, &r->eval, err);
    if (rc)
        return rc;
    kpf_task_set_noise_scale(r->task, 0.0);
    rc = kpf_task_generate(r->task, r->eval_rng, r->eval, err);
    kpf_task_set_noise_scale(r->task, 1.0);
    return rc ? rc : kpf_grad_ws_alloc(r->m, r->o->eval_trials, r->task->T, &r->eval_ws, err);
}

static int setup(run *r, kpf_error *err)
{
    const kpf_train_opts *o = r->o;
    uint64_t s = o->seed;
    int rc = kpf_optim_alloc(o->optimizer, r->m->m, o->lr, &r->optim, err);
    if (!rc) {
        r->optim->clip = o->clip;
        rc = set_trainable(r, err);
    }
    if (!rc) rc = kpf_rng_alloc(s, KPF_RNG_DATA, &r->data, err);
    if (!rc) rc = kpf_rng_alloc(s, KPF_RNG_BATCH, &r->batch_rng, err);
    if (!rc) rc = kpf_rng_alloc(s, KPF_RNG_EVAL, &r->eval_rng, err);
    if (!rc) rc = kpf_task_batch_alloc(r->task, o->batch, &r->batch, err);
    if (!rc && o->dataset) {
        rc = kpf_task_batch_alloc(r->task, o->dataset, &r->dataset, err);
        if (!rc)
            rc = kpf_task_generate(r->task, r->data, r->dataset, err);
    }
    if (!rc) rc = make_eval(r, err);
    if (!rc) rc = kpf_grad_ws_alloc(r->m, o->batch, r->task->T, &r->ws, err);
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

static int next_batch(run *r, kpf_error *err)
{
    if (!r->dataset)
        return kpf_task_generate(r->task, r->data, r->batch, err);
    for (size_t b = 0; b < r->batch->B; b++)
        copy_trial(r->batch, b, r->dataset,
                   (size_t)gsl_rng_uniform_int(r->batch_rng, (unsigned long)r->dataset->B));
    return KPF_OK;
}

static int evaluate(run *r, size_t iter, kpf_error *err)
{
    double L;
    int rc = kpf_loss_eval(r->m, r->eval, r->eval_ws, &L, err);
    if (rc)
        return kpf_error_prefix(err, rc, "evaluation at iteration %zu: ", iter);
    kpf_train_history *h = r->hist;
    if (kpf_internal_history_reserve(h, h->n_iter, h->n_eval + 1))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    h->eval_iter[h->n_eval] = (double)iter;
    h->eval_loss[h->n_eval++] = L;
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
    if (!rc)
        rc = kpf_loss_grad(r->m, r->batch, r->o->window, r->ws, &L, r->grad, err);
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
    return KPF_OK;
}

static int save(run *r, size_t iter, kpf_error *err)
{
    if (!r->o->checkpoint_path)
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
            if (o->checkpoint_path)
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
