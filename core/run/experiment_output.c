/* Experiment outputs: summary.json, trajectory.h5, train.h5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment_internal.h"
#include "kpf/atomic_file.h"
#include "kpf/json.h"
#include "kpf/param_io.h"
#include "kpf/stepper.h"
#include "kpf/version.h"

int kpf_internal_readout_all(kpf_model *m, const kpf_traj *tr, double *y, kpf_error *err)
{
    size_t R = tr->B * tr->T;
    int rc = kpf_model_reserve(m, R, err);
    if (rc)
        return rc;
    kpf_rows rows = {.R = R, .z = tr->z, .x = tr->x, .trial = tr->row_trial, .t = tr->t};
    return kpf_readout(m, &rows, y, err);
}

sim_stats kpf_internal_stats_of(const kpf_traj *tr, const kpf_task_batch *bt, const double *y)
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
    size_t n_obs; /* the components analyses look at (kpf_model_observed) */
    kpf_model_observed(m, &n_obs, NULL);
    kpf_json_key(j, "n_observed");
    kpf_json_uint(j, n_obs ? n_obs : m->n);
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
    kpf_json_object_end(j);
}

int kpf_internal_write_summary(const kpf_experiment *ex, const char *dir, const kpf_traj *tr,
                         sim_stats st, kpf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    /* The run's completion marker: written last, whole or not at all, and
     * never over an earlier summary (kpf/atomic_file.h). */
    kpf_atomic_file *af = NULL;
    FILE *fp = NULL;
    int rc = kpf_atomic_open(path, &af, &fp, err);
    if (rc)
        return rc;
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
    if (ex->pre.node)
        kpf_internal_summary_pretrain(&j, ex);
    if (ex->an)
        kpf_analyses_summary(ex->an, &j);
    if (ex->plot_error[0]) {
        kpf_json_key(&j, "plot_error");
        kpf_json_string(&j, ex->plot_error);
    }
    kpf_json_key(&j, "readout_mse");
    kpf_json_double(&j, st.mse);
    kpf_json_key(&j, "state_rms");
    kpf_json_double(&j, st.state_rms);
    kpf_internal_summary_timing(&j, ex);
    kpf_json_end(&j);
    return kpf_atomic_commit(af, 0, err);
}

int kpf_internal_write_trajectory(const kpf_experiment *ex, const char *dir, const kpf_traj *tr,
                            const kpf_task_batch *bt, const double *y, kpf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/trajectory.h5", dir);
    kpf_h5 *h = NULL;
    int rc = kpf_internal_h5_output_begin(path, &h, err);
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
    if (!rc)
        rc = kpf_params_write(h, m, NULL, "/theta", 0, err);
    if (!rc) rc = kpf_h5_attr_double(h, "/", "dt", m->dt, err);
    if (!rc) rc = kpf_h5_attr_string(h, "/", "plugin", m->desc->name, err);
    free(period);
    return kpf_internal_h5_output_end(h, rc, path, err);
}

/* An output file is written as PATH.partial and named PATH only once it is
 * whole (kpf/atomic_file.h): a run killed or failing while writing it
 * leaves no valid-looking PATH, and a resumed run finds PATH complete or
 * absent. */
int kpf_internal_h5_output_begin(const char *path, kpf_h5 **h, kpf_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s%s", path, KPF_PARTIAL_SUFFIX);
    return kpf_h5_create_trunc(tmp, h, err);
}

int kpf_internal_h5_output_end(kpf_h5 *h, int rc, const char *path, kpf_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s%s", path, KPF_PARTIAL_SUFFIX);
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    if (!rc && !rc2)
        return kpf_atomic_publish(tmp, path, 0, err);
    unlink(tmp);
    return rc ? rc : rc2;
}

/* train.h5 (or pretrain.h5): loss history and the final θ by block. */
int kpf_internal_write_train(const kpf_experiment *ex, const kpf_train_history *hi,
                             const char *path, kpf_error *err)
{
    kpf_h5 *h = NULL;
    int rc = kpf_internal_h5_output_begin(path, &h, err);
    if (!rc)
        rc = kpf_internal_write_train_h5(h, ex, hi, err);
    return h ? kpf_internal_h5_output_end(h, rc, path, err) : rc;
}

/* The datasets of train.h5 into h. */
int kpf_internal_write_train_h5(kpf_h5 *h, const kpf_experiment *ex,
                                const kpf_train_history *hi, kpf_error *err)
{
    int rc = KPF_OK;
    size_t ni = hi->n_iter, ne = hi->n_eval;
    if (!rc && ni) rc = kpf_h5_write(h, "/train/loss", 1, &ni, hi->loss, err);
    if (!rc && ni) rc = kpf_h5_write(h, "/train/grad_norm", 1, &ni, hi->grad_norm, err);
    if (!rc && ne) rc = kpf_h5_write(h, "/eval/iteration", 1, &ne, hi->eval_iter, err);
    if (!rc && ne) rc = kpf_h5_write(h, "/eval/loss", 1, &ne, hi->eval_loss, err);
    const kpf_model *m = ex->model;
    if (!rc)
        rc = kpf_params_write(h, m, NULL, "/theta", 0, err);
    return rc;
}
