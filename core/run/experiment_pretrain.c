/* The optional pretraining stage (`pretrain:`): train the model on a first
 * task, then hand it to the main training, so the snapshot analyses follow
 * learning through a change of task (Pellegrino et al. 2023 §5 and Supp. C:
 * W₀ → W* on the first task, then W* → W^{(k)} on the second).  The main
 * run's ΔW and CP analyses are taken against its first snapshot, i.e. W*;
 * this file adds the pretraining update W* − W₀ (its singular values) and
 * how much of the later updates lies outside its top singular subspaces. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment_internal.h"
#include "kpf/delta_w.h"
#include "kpf/plot.h"

/* The stage draws its minibatches from streams of its own, so pretraining
 * on the main task does not replay the main run's batches. */
#define PRETRAIN_SEED_SALT 0x7072657472616e31ull /* "pretran1" */

static int load_task(kpf_experiment *ex, pretrain_stage *p, kpf_error *err)
{
    const kpf_node *tnode = NULL;
    int rc = kpf_cfg_map(p->node, "task", KPF_CFG_OPTIONAL, &tnode, err);
    if (rc || !tnode)
        return rc;
    if ((rc = kpf_registry_task_create(ex->reg, tnode, &p->task, err)))
        return rc;
    if (p->task->n_in != ex->task->n_in || p->task->n_out != ex->task->n_out)
        return kpf_node_error(tnode, err,
                              "this task has %zu inputs and %zu outputs but the main task has "
                              "%zu and %zu; both train the same model, so they must agree",
                              p->task->n_in, p->task->n_out, ex->task->n_in, ex->task->n_out);
    return KPF_OK;
}

static int load_train(kpf_experiment *ex, pretrain_stage *p, kpf_error *err)
{
    const kpf_node *tn = NULL;
    int rc = kpf_cfg_map(p->node, "train", KPF_CFG_REQUIRED, &tn, err);
    if (!rc)
        rc = kpf_train_opts_from_config(tn, &p->topts, err);
    if (!rc)
        rc = kpf_internal_check_train_blocks(ex->model, tn, &p->topts, err);
    return rc;
}

/* The block the run's weight analyses look at, which the comparison
 * follows unless told otherwise: analysis.delta_w's, else analysis.cp's
 * (both default to W); NULL when neither runs.  Both analyses have read
 * and checked these keys already. */
static const char *weights_block(const kpf_node *root)
{
    const kpf_node *an = kpf_node_get(root, "analysis");
    const char *const owners[] = {"delta_w", "cp"};
    for (size_t i = 0; i < 2; i++) {
        const kpf_node *a = kpf_node_get(an, owners[i]);
        const char *block = NULL;
        if (a && !kpf_cfg_string(a, "block", KPF_CFG_OPTIONAL, "W", &block, NULL))
            return block;
    }
    return NULL;
}

/* After the model, the main task and the analyses are loaded. */
int kpf_internal_pretrain_load(kpf_experiment *ex, const kpf_node *root, kpf_error *err)
{
    pretrain_stage *p = &ex->pre;
    p->residual = NAN;
    int rc = kpf_cfg_map(root, "pretrain", KPF_CFG_OPTIONAL, &p->node, err);
    if (rc || !p->node)
        return rc;
    if (!(rc = load_task(ex, p, err)))
        rc = load_train(ex, p, err);
    if (!rc)
        rc = kpf_cfg_string(p->node, "block", KPF_CFG_OPTIONAL, weights_block(root), &p->block,
                            err);
    const kpf_node *at = kpf_node_get(p->node, "block") ? kpf_node_get(p->node, "block") : p->node;
    if (!rc && p->block)
        rc = kpf_analysis_square_block(ex->model, at, p->block, "the weight comparison", err);
    size_t n = ex->model->n;
    if (!rc)
        rc = kpf_cfg_size(p->node, "subspace", KPF_CFG_OPTIONAL, n < 3 ? n : 3, 1, n,
                          &p->subspace, err);
    return rc;
}

void kpf_internal_pretrain_free(pretrain_stage *p)
{
    kpf_task_free(p->task);
    kpf_train_opts_clear(&p->topts);
    kpf_train_history_free(&p->hist);
    free(p->w0);
    free(p->sv);
    free(p->U);
    free(p->V);
    free(p->snaps);
}

/* W* − W₀: its singular values and top singular vectors, kept for the
 * comparison with the main run and written to pretrain.h5 (h). */
static int pretrain_update(kpf_experiment *ex, kpf_h5 *h, kpf_error *err)
{
    pretrain_stage *p = &ex->pre;
    size_t n = ex->model->n, k = p->subspace;
    double *D = malloc(n * n * sizeof *D), *Uf = malloc(n * n * sizeof *Uf);
    double *Vf = malloc(n * n * sizeof *Vf);
    p->sv = malloc(n * sizeof *p->sv);
    p->U = malloc(n * k * sizeof *p->U);
    p->V = malloc(n * k * sizeof *p->V);
    int rc = D && Uf && Vf && p->sv && p->U && p->V
                 ? kpf_weight_snapshot(ex->model, NULL, p->block, D, err)
                 : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n * n; i++)
        D[i] -= p->w0[i];
    if (!rc)
        rc = kpf_matrix_svd(n, n, D, p->sv, Uf, Vf, err);
    for (size_t i = 0; !rc && i < n; i++)
        for (size_t j = 0; j < k; j++) {
            p->U[i * k + j] = Uf[i * n + j];
            p->V[i * k + j] = Vf[i * n + j];
        }
    size_t dn = n, dk[2] = {n, k};
    if (!rc) rc = kpf_h5_write(h, "/delta_w/singular_values", 1, &dn, p->sv, err);
    if (!rc) rc = kpf_h5_write(h, "/delta_w/U", 2, dk, p->U, err);
    if (!rc) rc = kpf_h5_write(h, "/delta_w/V", 2, dk, p->V, err);
    free(D);
    free(Uf);
    free(Vf);
    return rc;
}

static void plot_stage_loss(kpf_experiment *ex, const char *dir)
{
    char stem[4200], png[4300];
    snprintf(stem, sizeof stem, "%s/pretrain_loss", dir);
    snprintf(png, sizeof png, "%s.png", stem);
    kpf_error perr;
    kpf_error_clear(&perr);
    if (access(png, F_OK) != 0 && kpf_plot_loss(stem, &ex->pre.hist, &perr) && !ex->plot_error[0])
        snprintf(ex->plot_error, sizeof ex->plot_error, "%s", perr.msg);
}

/* A whole dataset of doubles into a new array (*n its length). */
static int read_all(kpf_h5 *h, const char *path, double **out, size_t *n, kpf_error *err)
{
    int rc = kpf_h5_count(h, path, n, err);
    if (!rc && !(*out = malloc(*n * sizeof **out + 1)))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    return rc ? rc : kpf_h5_read(h, path, *n, *out, err);
}

/* What the stage left in pretrain.h5, for a resumed run that does not train
 * it again: its history when `history` (the evaluation that met the loss
 * threshold is found again as training found it), and W* − W₀ when the
 * file has it. */
static int restore_stage(kpf_experiment *ex, const char *h5, int history, kpf_error *err)
{
    pretrain_stage *p = &ex->pre;
    kpf_train_history *hi = &p->hist;
    kpf_h5 *h = NULL;
    int rc = kpf_h5_open(h5, &h, err);
    size_t n = 0, n2 = 0;
    if (!rc && history) {
        kpf_train_history_free(hi);
        hi->converged_at = -1;
        if (kpf_h5_is_dataset(h, "/train/loss")) {
            rc = read_all(h, "/train/loss", &hi->loss, &n, err);
            if (!rc) rc = read_all(h, "/train/grad_norm", &hi->grad_norm, &n2, err);
            hi->n_iter = hi->cap_iter = hi->iterations_done = n < n2 ? n : n2;
        }
        if (!rc && kpf_h5_is_dataset(h, "/eval/loss")) {
            rc = read_all(h, "/eval/iteration", &hi->eval_iter, &n, err);
            if (!rc) rc = read_all(h, "/eval/loss", &hi->eval_loss, &n2, err);
            hi->n_eval = hi->cap_eval = n < n2 ? n : n2;
        }
        double thr = p->topts.loss_threshold;
        for (size_t i = 0; !rc && thr > 0 && i < hi->n_eval && hi->converged_at < 0; i++)
            if (hi->eval_loss[i] < thr)
                hi->converged_at = (long)hi->eval_iter[i];
    }
    size_t k = p->subspace, nm = ex->model->n;
    if (!rc && p->block && kpf_h5_is_dataset(h, "/delta_w/singular_values")) {
        free(p->sv);
        free(p->U);
        free(p->V);
        p->sv = p->U = p->V = NULL;
        rc = read_all(h, "/delta_w/singular_values", &p->sv, &n, err);
        if (!rc) rc = read_all(h, "/delta_w/U", &p->U, &n2, err);
        if (!rc && (n != nm || n2 != nm * k))
            rc = kpf_error_set(err, KPF_EIO, "%s: /delta_w does not match the config (%zu "
                                             "values, %zu×%zu subspace)",
                               h5, nm, nm, k);
        if (!rc) rc = read_all(h, "/delta_w/V", &p->V, &n2, err);
    }
    if (h)
        kpf_h5_close(h, NULL);
    return rc ? kpf_error_prefix(err, rc, "resuming the pretraining stage: ") : KPF_OK;
}

/* Before the main training.  A resumed run whose main training had started
 * does not train the stage again (its checkpoint holds θ) but takes its
 * results back from pretrain.h5; one killed during pretraining resumes the
 * stage from pretrain_checkpoint.h5.  W₀ is θ as the config creates it, so
 * it is known in every process that has not yet trained. */
int kpf_internal_pretrain_run(kpf_experiment *ex, const char *dir, int resume, kpf_error *err)
{
    pretrain_stage *p = &ex->pre;
    char main_ckpt[4200], ckpt[4200], h5[4200];
    snprintf(main_ckpt, sizeof main_ckpt, "%s/checkpoint.h5", dir);
    snprintf(ckpt, sizeof ckpt, "%s/pretrain_checkpoint.h5", dir);
    snprintf(h5, sizeof h5, "%s/pretrain.h5", dir);
    if (resume && access(main_ckpt, F_OK) == 0) {
        int rc = access(h5, F_OK) == 0 ? restore_stage(ex, h5, 1, err) : KPF_OK;
        if (!rc)
            plot_stage_loss(ex, dir);
        return rc;
    }
    int again = resume && access(ckpt, F_OK) == 0;
    size_t n = ex->model->n;
    int rc = KPF_OK;
    if (p->block) {
        if (!(p->w0 = malloc(n * n * sizeof *p->w0)))
            return kpf_error_set(err, KPF_ENOMEM, "out of memory");
        if ((rc = kpf_weight_snapshot(ex->model, NULL, p->block, p->w0, err)))
            return rc;
    }
    kpf_train_opts o = p->topts;
    o.seed = ex->seed ^ PRETRAIN_SEED_SALT;
    o.checkpoint_path = ckpt;
    o.resume = again;
    if ((rc = kpf_train(ex->model, p->task ? p->task : ex->task, &o, NULL, NULL, &p->hist, err)))
        return kpf_error_prefix(err, rc, "pretraining: ");
    /* pretrain.h5 is named only when whole: one that exists is kept */
    if (access(h5, F_OK) == 0) {
        rc = restore_stage(ex, h5, 0, err);
    } else {
        kpf_h5 *h = NULL;
        rc = kpf_internal_h5_output_begin(h5, &h, err);
        if (!rc)
            rc = kpf_internal_write_train_h5(h, ex, &p->hist, err);
        if (!rc && p->w0)
            rc = pretrain_update(ex, h, err);
        if (h)
            rc = kpf_internal_h5_output_end(h, rc, h5, err);
    }
    if (!rc)
        plot_stage_loss(ex, dir);
    return rc;
}

/* After each snapshot of the main run's analyses: keep the block, when
 * there is a pretraining update to compare with.  That update exists only
 * when the stage ran in this process, and then so did every main snapshot. */
int kpf_internal_pretrain_snapshot(kpf_experiment *ex, kpf_error *err)
{
    pretrain_stage *p = &ex->pre;
    size_t nn = ex->model->n * ex->model->n;
    if (!p->U)
        return KPF_OK;
    if (p->n_snaps == p->cap_snaps) {
        size_t cap = p->cap_snaps ? 2 * p->cap_snaps : 8;
        double *s = realloc(p->snaps, cap * nn * sizeof *s);
        if (!s)
            return kpf_error_set(err, KPF_ENOMEM, "out of memory");
        p->snaps = s;
        p->cap_snaps = cap;
    }
    int rc = kpf_weight_snapshot(ex->model, NULL, p->block, p->snaps + p->n_snaps * nn, err);
    p->n_snaps += rc == KPF_OK;
    return rc;
}

/* After the main run's analyses: how much of W^{(k)} − W* (against the
 * first snapshot) lies outside the top singular subspaces of W* − W₀. */
void kpf_internal_pretrain_compare(kpf_experiment *ex)
{
    pretrain_stage *p = &ex->pre;
    size_t K = p->n_snaps, n = ex->model->n;
    const double *snaps = p->snaps;
    if (!p->U || !snaps || K < 2)
        return;
    double *D = malloc(n * n * K * sizeof *D);
    if (!D)
        return;
    for (size_t s = 0; s < K; s++) /* matrices one after the other, not [n][n][K] */
        for (size_t i = 0; i < n * n; i++)
            D[s * n * n + i] = snaps[s * n * n + i] - snaps[i];
    p->residual = kpf_dw_subspace_residual(n, K, D, p->subspace, p->U, p->V);
    free(D);
}

static void summary_spectrum(kpf_json *j, const pretrain_stage *p, size_t n)
{
    size_t show = n < 10 ? n : 10;
    double total = 0.0, top = 0.0;
    for (size_t i = 0; i < n; i++) {
        total += p->sv[i] * p->sv[i];
        top += i < p->subspace ? p->sv[i] * p->sv[i] : 0.0;
    }
    kpf_json_key(j, "delta_w_singular_values");
    kpf_json_array_begin(j);
    for (size_t i = 0; i < show; i++)
        kpf_json_double(j, p->sv[i]);
    kpf_json_array_end(j);
    kpf_json_key(j, "delta_w_variance_in_subspace");
    kpf_json_double(j, total > 0.0 ? top / total : NAN);
}

void kpf_internal_summary_pretrain(kpf_json *j, const kpf_experiment *ex)
{
    const pretrain_stage *p = &ex->pre;
    const kpf_train_history *h = &p->hist;
    kpf_json_key(j, "pretrain");
    kpf_json_object_begin(j);
    kpf_json_key(j, "task");
    kpf_json_string(j, (p->task ? p->task : ex->task)->type->name);
    if (!h->iterations_done) { /* resumed after the stage: its results are in pretrain.h5 */
        kpf_json_key(j, "skipped_on_resume");
        kpf_json_bool(j, 1);
        kpf_json_object_end(j);
        return;
    }
    kpf_json_key(j, "iterations");
    kpf_json_uint(j, h->iterations_done);
    kpf_json_key(j, "eval_loss_initial");
    kpf_json_double(j, h->n_eval ? h->eval_loss[0] : NAN);
    kpf_json_key(j, "eval_loss_final");
    kpf_json_double(j, h->n_eval ? h->eval_loss[h->n_eval - 1] : NAN);
    if (p->sv) {
        kpf_json_key(j, "block");
        kpf_json_string(j, p->block);
        kpf_json_key(j, "subspace");
        kpf_json_uint(j, p->subspace);
        summary_spectrum(j, p, ex->model->n);
        kpf_json_key(j, "later_updates_outside_subspace");
        kpf_json_double(j, p->residual);
    }
    kpf_json_object_end(j);
}
