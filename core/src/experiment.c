/* An experiment from YAML: validate everything, build task and model,
 * train when asked, simulate, and write summary.json, train.h5, loss.png
 * and trajectory.h5. */
#include "kpf/experiment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpf/h5io.h"
#include "kpf/instance.h"
#include "kpf/json.h"
#include "kpf/plot.h"
#include "kpf/train.h"
#include "kpf/rng.h"
#include "kpf/stepper.h"
#include "kpf/task.h"
#include "kpf/trajectory.h"
#include "kpf/version.h"

struct kpf_experiment {
    const kpf_config *cfg;
    uint64_t seed;
    size_t trials;
    int write_trajectory;
    kpf_task *task;
    kpf_model *model;
    const kpf_node *train_node; /* NULL: no training */
    kpf_train_opts topts;
    kpf_train_history hist;
    char plot_error[KPF_ERROR_MSG_MAX];
};

/* Every block named in train.blocks must exist in this model. */
static int check_train_blocks(const kpf_experiment *ex, kpf_error *err)
{
    const kpf_node *list = kpf_node_get(ex->train_node, "blocks");
    for (size_t i = 0; i < ex->topts.n_train_blocks; i++)
        if (!kpf_model_block(ex->model, ex->topts.train_blocks[i]))
            return kpf_node_error(kpf_node_at(list, i), err,
                                  "no parameter block '%s' in plugin '%s'",
                                  ex->topts.train_blocks[i], ex->model->desc->name);
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
    const kpf_node *root = kpf_config_root(cfg), *tnode = NULL, *sim = NULL, *outn = NULL;
    int rc = kpf_cfg_u64(root, "seed", KPF_CFG_OPTIONAL, 0, &ex->seed, err);
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
        rc = kpf_task_create(tnode, &ex->task, err);
    if (!rc)
        rc = load_model(ex, root, reg, err);
    if (!rc && ex->train_node)
        rc = check_train_blocks(ex, err);
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
    kpf_train_history_free(&ex->hist);
    free(ex);
}

/* What one simulation produced, for the summary. */
typedef struct sim_stats {
    double mse;       /* mean of (y − y*)² over masked steps, trials, outputs */
    double state_rms; /* RMS of z over all trials, steps and units */
} sim_stats;

static int readout_all(kpf_model *m, const kpf_traj *tr, double *y, kpf_error *err)
{
    size_t R = tr->B * tr->T;
    int rc = kpf_model_reserve(m, R, err);
    if (rc)
        return rc;
    kpf_rows rows = {.R = R, .z = tr->z, .x = tr->x, .trial = tr->row_trial, .t = tr->t};
    return kpf_readout(m, &rows, y, err);
}

static sim_stats stats_of(const kpf_traj *tr, const kpf_task_batch *bt, const double *y)
{
    sim_stats s = {0, 0};
    size_t R = tr->B * tr->T, p = bt->n_out;
    double wsum = 0;
    for (size_t r = 0; r < R; r++) {
        for (size_t j = 0; j < p; j++) {
            double d = y[r * p + j] - bt->y[r * p + j];
            s.mse += bt->mask[r] * d * d;
        }
        wsum += bt->mask[r] * (double)p;
    }
    s.mse = wsum > 0 ? s.mse / wsum : 0;
    for (size_t i = 0; i < R * tr->n; i++)
        s.state_rms += tr->z[i] * tr->z[i];
    s.state_rms = sqrt(s.state_rms / (double)(R * tr->n));
    return s;
}

static void summary_model(kpf_json *j, const kpf_model *m)
{
    kpf_json_key(j, "model");
    kpf_json_object_begin(j);
    kpf_json_key(j, "plugin");
    kpf_json_string(j, m->desc->name);
    kpf_json_key(j, "plugin_path");
    kpf_json_string(j, m->plugin->path);
    kpf_json_key(j, "n");
    kpf_json_uint(j, m->n);
    kpf_json_key(j, "n_in");
    kpf_json_uint(j, m->n_in);
    kpf_json_key(j, "n_out");
    kpf_json_uint(j, m->n_out);
    kpf_json_key(j, "n_params");
    kpf_json_uint(j, m->m);
    kpf_json_key(j, "stepper");
    kpf_json_string(j, m->stepper->name);
    kpf_json_key(j, "dt");
    kpf_json_double(j, m->dt);
    kpf_json_key(j, "blocks");
    kpf_json_object_begin(j);
    for (size_t i = 0; i < m->n_blocks; i++) {
        kpf_json_key(j, m->blocks[i].name);
        kpf_json_array_begin(j);
        kpf_json_uint(j, m->blocks[i].rows);
        kpf_json_uint(j, m->blocks[i].cols);
        kpf_json_array_end(j);
    }
    kpf_json_object_end(j);
    kpf_json_object_end(j);
}

static void summary_train(kpf_json *j, const kpf_experiment *ex)
{
    const kpf_train_history *h = &ex->hist;
    kpf_json_key(j, "train");
    kpf_json_object_begin(j);
    kpf_json_key(j, "iterations");
    kpf_json_uint(j, h->iterations_done);
    kpf_json_key(j, "converged_at");
    if (h->converged_at >= 0)
        kpf_json_uint(j, (unsigned long long)h->converged_at);
    else
        kpf_json_double(j, NAN); /* null: did not converge */
    kpf_json_key(j, "loss_threshold");
    kpf_json_double(j, ex->topts.loss_threshold);
    kpf_json_key(j, "eval_loss_initial");
    kpf_json_double(j, h->n_eval ? h->eval_loss[0] : NAN);
    kpf_json_key(j, "eval_loss_final");
    kpf_json_double(j, h->n_eval ? h->eval_loss[h->n_eval - 1] : NAN);
    kpf_json_key(j, "train_loss_final");
    kpf_json_double(j, h->n_iter ? h->loss[h->n_iter - 1] : NAN);
    if (ex->plot_error[0]) {
        kpf_json_key(j, "plot_error");
        kpf_json_string(j, ex->plot_error);
    }
    kpf_json_object_end(j);
}

static int write_summary(const kpf_experiment *ex, const char *dir, const kpf_traj *tr,
                         sim_stats st, kpf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    FILE *fp = fopen(path, "wx"); /* x: never replace an earlier summary */
    if (!fp)
        return kpf_error_set(err, KPF_EIO, "%s: cannot create (it may already exist)", path);
    kpf_json j;
    kpf_json_begin(&j, fp);
    kpf_json_key(&j, "kpf_version");
    kpf_json_string(&j, KPF_VERSION_STRING);
    kpf_json_key(&j, "config");
    kpf_json_string(&j, kpf_config_source(ex->cfg));
    kpf_json_key(&j, "seed");
    kpf_json_uint(&j, ex->seed);
    kpf_json_key(&j, "task");
    kpf_json_string(&j, ex->task->type->name);
    summary_model(&j, ex->model);
    kpf_json_key(&j, "trials");
    kpf_json_uint(&j, tr->B);
    kpf_json_key(&j, "steps");
    kpf_json_uint(&j, tr->T);
    if (ex->train_node)
        summary_train(&j, ex);
    kpf_json_key(&j, "readout_mse");
    kpf_json_double(&j, st.mse);
    kpf_json_key(&j, "state_rms");
    kpf_json_double(&j, st.state_rms);
    kpf_json_end(&j);
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s: write failed", path);
    return KPF_OK;
}

static int write_trajectory(const kpf_experiment *ex, const char *dir, const kpf_traj *tr,
                            const kpf_task_batch *bt, const double *y, kpf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/trajectory.h5", dir);
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create(path, &h, err);
    if (rc)
        return rc;
    const kpf_model *m = ex->model;
    size_t B = tr->B, T = tr->T, dz0[2] = {B, m->n};
    int *period = malloc(B * T * sizeof(int));
    if (!period)
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t b = 0; !rc && b < B; b++)
        for (size_t t = 0; t < T; t++)
            period[b * T + t] = bt->period[t * B + b];
    size_t dp[2] = {B, T};
    if (!rc) rc = kpf_h5_write_traj(h, "/z", B, T, m->n, tr->z, err);
    if (!rc) rc = kpf_h5_write(h, "/z0", 2, dz0, tr->z0, err);
    if (!rc) rc = kpf_h5_write_traj(h, "/x", B, T, m->n_in, tr->x, err);
    if (!rc) rc = kpf_h5_write_traj(h, "/y", B, T, m->n_out, y, err);
    if (!rc) rc = kpf_h5_write_traj(h, "/y_target", B, T, bt->n_out, bt->y, err);
    if (!rc) rc = kpf_h5_write_traj(h, "/mask", B, T, 0, bt->mask, err);
    if (!rc) rc = kpf_h5_write_int(h, "/period", 2, dp, period, err);
    for (size_t i = 0; !rc && i < m->n_blocks; i++) {
        char ds[512];
        size_t d[2] = {m->blocks[i].rows, m->blocks[i].cols};
        snprintf(ds, sizeof ds, "/theta/%s", m->blocks[i].name);
        rc = kpf_h5_write(h, ds, 2, d, m->theta + m->blocks[i].offset, err);
    }
    if (!rc) rc = kpf_h5_attr_double(h, "/", "dt", m->dt, err);
    if (!rc) rc = kpf_h5_attr_string(h, "/", "plugin", m->desc->name, err);
    free(period);
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* train.h5: loss history and the final θ by block. */
static int write_train(const kpf_experiment *ex, const char *dir, kpf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/train.h5", dir);
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create(path, &h, err);
    if (rc)
        return rc;
    const kpf_train_history *hi = &ex->hist;
    size_t ni = hi->n_iter, ne = hi->n_eval;
    if (!rc && ni) rc = kpf_h5_write(h, "/train/loss", 1, &ni, hi->loss, err);
    if (!rc && ni) rc = kpf_h5_write(h, "/train/grad_norm", 1, &ni, hi->grad_norm, err);
    if (!rc && ne) rc = kpf_h5_write(h, "/eval/iteration", 1, &ne, hi->eval_iter, err);
    if (!rc && ne) rc = kpf_h5_write(h, "/eval/loss", 1, &ne, hi->eval_loss, err);
    const kpf_model *m = ex->model;
    for (size_t i = 0; !rc && i < m->n_blocks; i++) {
        char ds[512];
        size_t d[2] = {m->blocks[i].rows, m->blocks[i].cols};
        snprintf(ds, sizeof ds, "/theta/%s", m->blocks[i].name);
        rc = kpf_h5_write(h, ds, 2, d, m->theta + m->blocks[i].offset, err);
    }
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    return rc ? rc : rc2;
}

static int run_training(kpf_experiment *ex, const char *dir, int resume, kpf_error *err)
{
    char ckpt[4096], stem[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
    ex->topts.seed = ex->seed;
    ex->topts.checkpoint_path = ckpt;
    ex->topts.resume = resume;
    int rc = kpf_train(ex->model, ex->task, &ex->topts, NULL, NULL, &ex->hist, err);
    ex->topts.checkpoint_path = NULL;
    if (!rc)
        rc = write_train(ex, dir, err);
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
    if (resume && access(done_path, F_OK) == 0)
        return kpf_error_set(err, KPF_EINVAL, "%s: this run already finished; nothing to resume",
                             out_dir);
    if (ex->train_node)
        rc = run_training(ex, out_dir, resume, err);
    else if (resume)
        rc = kpf_error_set(err, KPF_EINVAL, "nothing to resume: the config has no train section");
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
    if (!rc) rc = readout_all(ex->model, tr, y, err);
    if (!rc) rc = write_summary(ex, out_dir, tr, stats_of(tr, bt, y), err);
    if (!rc && ex->write_trajectory)
        rc = write_trajectory(ex, out_dir, tr, bt, y, err);
    free(y);
    kpf_traj_free(tr);
    gsl_rng_free(data);
    kpf_task_batch_free(bt);
    return rc;
}
