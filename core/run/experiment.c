/* An experiment from YAML: validate everything, build task and model,
 * train when asked, simulate, and write summary.json, train.h5, loss.png
 * and trajectory.h5. */
#include "kpf/experiment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment_internal.h"
#include "kpf/blas.h"
#include "kpf/plot.h"
#include "kpf/rng.h"

/* Every block named in a train map's `blocks` must exist in this model. */
int kpf_internal_check_train_blocks(const kpf_model *m, const kpf_node *train_node,
                                    const kpf_train_opts *o, kpf_error *err)
{
    const kpf_node *list = kpf_node_get(train_node, "blocks");
    for (size_t i = 0; i < o->n_train_blocks; i++)
        if (!kpf_model_block(m, o->train_blocks[i]))
            return kpf_node_error(kpf_node_at(list, i), err,
                                  "no parameter block '%s' in plugin '%s'", o->train_blocks[i],
                                  m->desc->name);
    return KPF_OK;
}

static int load_model(kpf_experiment *ex, const kpf_node *root, kpf_registry *reg,
                      kpf_error *err)
{
    const kpf_node *mnode = NULL;
    const char *plugin_name = NULL;
    int rc = kpf_cfg_map(root, "model", KPF_CFG_REQUIRED, &mnode, err);
    if (rc || (rc = kpf_cfg_string(mnode, "plugin", KPF_CFG_REQUIRED, NULL, &plugin_name, err)))
        return rc;
    const kpf_plugin *pl = NULL;
    kpf_error lerr;
    kpf_error_clear(&lerr);
    if (kpf_registry_resolve(reg, plugin_name, &pl, &lerr))
        return kpf_node_error(kpf_node_get(mnode, "plugin"), err, "%s", lerr.msg);
    return kpf_model_create(pl, mnode, ex->task->n_in, ex->task->n_out, ex->trials, ex->seed,
                            &ex->model, err);
}

int kpf_experiment_load(const kpf_config *cfg, kpf_registry *reg, kpf_experiment **out,
                        kpf_error *err)
{
    kpf_experiment *ex = calloc(1, sizeof *ex);
    if (!ex)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    ex->cfg = cfg;
    ex->reg = reg;
    const kpf_node *root = kpf_config_root(cfg), *tnode = NULL, *sim = NULL, *outn = NULL;
    int rc = kpf_cfg_u64(root, "seed", KPF_CFG_OPTIONAL, 0, &ex->seed, err);
    if (!rc)
        rc = kpf_cfg_size(root, "threads", KPF_CFG_OPTIONAL, 0, 0, 4096, &ex->threads, err);
    if (!rc)
        rc = kpf_cfg_map(root, "simulate", KPF_CFG_OPTIONAL, &sim, err);
    if (!rc)
        rc = kpf_cfg_size(sim, "trials", KPF_CFG_OPTIONAL, 32, 1, 1000000, &ex->trials, err);
    if (!rc)
        rc = kpf_cfg_map(root, "output", KPF_CFG_OPTIONAL, &outn, err);
    if (!rc)
        rc = kpf_cfg_bool(outn, "trajectory", KPF_CFG_OPTIONAL, 1, &ex->write_trajectory, err);
    if (!rc)
        rc = kpf_cfg_map(root, "train", KPF_CFG_OPTIONAL, &ex->train_node, err);
    if (!rc && ex->train_node)
        rc = kpf_train_opts_from_config(ex->train_node, &ex->topts, err);
    if (!rc)
        rc = kpf_cfg_map(root, "task", KPF_CFG_REQUIRED, &tnode, err);
    if (!rc)
        rc = kpf_registry_task_create(reg, tnode, &ex->task, err);
    if (!rc)
        rc = load_model(ex, root, reg, err);
    if (!rc && ex->train_node)
        rc = kpf_internal_check_train_blocks(ex->model, ex->train_node, &ex->topts, err);
    /* A sweep section belongs to the sweep runner, which reads it from its
     * own copy of the config; each point's experiment just carries it. */
    if (!rc && kpf_node_get(root, "sweep"))
        kpf_node_mark_used(kpf_node_get(root, "sweep"));
    if (!rc)
        rc = kpf_internal_load_analyses(ex, root, err);
    if (!rc)
        rc = kpf_internal_pretrain_load(ex, root, err);
    if (!rc)
        rc = kpf_internal_parallel_load(ex, root, err);
    if (!rc)
        rc = kpf_config_check_unused(cfg, err);
    if (rc) {
        kpf_experiment_free(ex);
        return rc;
    }
    *out = ex;
    return KPF_OK;
}

void kpf_experiment_free(kpf_experiment *ex)
{
    if (!ex)
        return;
    kpf_model_free(ex->model);
    kpf_task_free(ex->task);
    kpf_train_opts_clear(&ex->topts);
    kpf_analyses_free(ex->an);
    kpf_h5_close(ex->an_h5, NULL);
    kpf_train_history_free(&ex->hist);
    kpf_internal_pretrain_free(&ex->pre);
    free(ex);
}

static int run_training(kpf_experiment *ex, const char *dir, int resume, kpf_error *err)
{
    char ckpt[4096], stem[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
    ex->topts.seed = ex->seed;
    ex->topts.checkpoint_path = ckpt;
    /* killed before the first checkpoint (or during pretraining): the main
     * training starts over */
    ex->topts.resume = resume && access(ckpt, F_OK) == 0;
    int rc = kpf_train(ex->model, ex->task, &ex->topts, kpf_internal_analysis_hook, ex, &ex->hist, err);
    ex->topts.checkpoint_path = NULL;
    if (!rc) /* converged early: analyse the model it stopped with */
        rc = kpf_internal_analysis_final(ex, ex->hist.iterations_done, err);
    snprintf(stem, sizeof stem, "%s/train.h5", dir);
    /* named only when whole: one left by an interrupted process is kept */
    if (!rc && !(resume && access(stem, F_OK) == 0))
        rc = kpf_internal_write_train(ex, &ex->hist, stem, err);
    snprintf(stem, sizeof stem, "%s/loss", dir);
    kpf_error perr;
    kpf_error_clear(&perr);
    /* A missing plotter costs the picture, not the run: noted in the summary. */
    if (!rc && kpf_plot_loss(stem, &ex->hist, &perr))
        snprintf(ex->plot_error, sizeof ex->plot_error, "%s", perr.msg);
    return rc;
}

int kpf_experiment_run(kpf_experiment *ex, const char *out_dir, int resume, kpf_error *err)
{
    kpf_task_batch *bt = NULL;
    kpf_traj *tr = NULL;
    gsl_rng *data = NULL;
    double *y = NULL;
    int rc = KPF_OK;
    char done_path[4200];
    snprintf(done_path, sizeof done_path, "%s/summary.json", out_dir);
    if (ex->threads)
        kpf_blas_set_threads((int)ex->threads);
    if (resume && access(done_path, F_OK) == 0)
        return kpf_error_set(err, KPF_EINVAL, "%s: this run already finished; nothing to resume",
                             out_dir);
    if (!ex->train_node && resume)
        return kpf_error_set(err, KPF_EINVAL, "nothing to resume: the config has no train section");
    if ((rc = kpf_internal_resume_prepare(ex, out_dir, resume, err)))
        return rc;
    /* the analysis file opens after pretraining, so a kill during the
     * stage leaves no half-written file behind */
    if (ex->pre.node) {
        kpf_internal_phase(ex, "pretrain", ex->pre.topts.iterations);
        rc = kpf_internal_pretrain_run(ex, out_dir, resume, err);
    }
    if (!rc)
        rc = kpf_internal_open_analysis(ex, out_dir, resume, err);
    if (!rc && ex->train_node) {
        kpf_internal_phase(ex, "train", ex->topts.iterations);
        rc = run_training(ex, out_dir, resume, err);
    } else if (!rc) {
        kpf_internal_phase(ex, "analysis", 0);
        rc = kpf_internal_analysis_hook(ex, ex->model, 0, err);
    }
    if (!rc && ex->an) {
        kpf_internal_phase(ex, "analysis", 0);
        rc = kpf_analyses_finish(ex->an, err);
    }
    if (!rc && ex->pre.node)
        kpf_internal_pretrain_compare(ex);
    if (!rc && ex->an) {
        kpf_internal_phase(ex, "plots", 0);
        kpf_internal_plot_analyses(ex, out_dir);
    }
    if (!rc)
        kpf_internal_phase(ex, "simulate", 0);
    if (!rc)
        rc = kpf_task_batch_alloc(ex->task, ex->trials, &bt, err);
    if (!rc) rc = kpf_rng_alloc(ex->seed, KPF_RNG_DATA, &data, err);
    if (!rc) rc = kpf_task_generate(ex->task, data, bt, err);
    if (!rc) rc = kpf_traj_alloc(ex->model, ex->trials, ex->task->T, &tr, err);
    if (!rc) {
        memcpy(tr->x, bt->x, bt->B * bt->T * bt->n_in * sizeof(double));
        memcpy(tr->trial, bt->trial, bt->B * sizeof(size_t));
        rc = kpf_simulate(ex->model, tr, err);
    }
    if (!rc && !(y = malloc(tr->B * tr->T * ex->model->n_out * sizeof(double) + 1)))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (!rc) rc = kpf_internal_readout_all(ex->model, tr, y, err);
    if (!rc)
        ex->final = kpf_internal_stats_of(tr, bt, y);
    char traj_path[4200];
    snprintf(traj_path, sizeof traj_path, "%s/trajectory.h5", out_dir);
    if (!rc && ex->write_trajectory && !(resume && access(traj_path, F_OK) == 0))
        rc = kpf_internal_write_trajectory(ex, out_dir, tr, bt, y, err);
    /* summary.json last: its presence says the run finished */
    if (!rc)
        rc = kpf_internal_write_summary(ex, out_dir, tr, ex->final, err);
    if (!rc)
        kpf_internal_resume_done(ex);
    kpf_internal_phase(ex, NULL, 0);
    free(y);
    kpf_traj_free(tr);
    gsl_rng_free(data);
    kpf_task_batch_free(bt);
    return rc;
}

/* Scalars for sweep tables, NaN where not computed: the run's, every
 * analysis's (kpf_analyses_scalars), the pretraining stage's. */
size_t kpf_experiment_scalars(const kpf_experiment *ex, const char **names, double *v,
                              size_t cap)
{
    const kpf_train_history *h = &ex->hist, *ph = &ex->pre.hist;
    const struct {
        const char *name;
        double value;
    } run[] = {
        {"eval_loss_initial", h->n_eval ? h->eval_loss[0] : NAN},
        {"eval_loss_final", h->n_eval ? h->eval_loss[h->n_eval - 1] : NAN},
        {"converged_at", h->converged_at >= 0 ? (double)h->converged_at : NAN},
        {"iterations", (double)h->iterations_done},
        {"readout_mse", ex->final.mse},
    }, pre[] = {
        {"pretrain_eval_loss_final", ph->n_eval ? ph->eval_loss[ph->n_eval - 1] : NAN},
        {"pretrain_updates_outside_subspace", ex->pre.residual},
    };
    size_t n = 0, n_run = sizeof run / sizeof run[0], n_pre = sizeof pre / sizeof pre[0];
    for (size_t i = 0; i < n_run; i++, n++)
        if (n < cap)
            names[n] = run[i].name, v[n] = run[i].value;
    if (ex->an)
        n += kpf_analyses_scalars(ex->an, n < cap ? names + n : NULL, n < cap ? v + n : NULL,
                                  n < cap ? cap - n : 0);
    for (size_t i = 0; i < n_pre; i++, n++)
        if (n < cap)
            names[n] = pre[i].name, v[n] = pre[i].value;
    return n;
}
