/* The experiment's side of the snapshot analyses: which analyses a config
 * asks for (from the registry the experiment was given), analysis.h5, the
 * training hook that reaches the host at every iteration, and the figures.
 * What each analysis computes lives in core/analysis (kpf/analysis.h). */
#include <stdio.h>
#include <unistd.h>

#include "experiment_internal.h"

/* After the model and the task exist.  The registry gets the built-in
 * analyses here if its maker did not add them (idempotent), so every
 * registry handed to kpf_experiment_load can run every shipped config. */
int kpf_internal_load_analyses(kpf_experiment *ex, const kpf_node *root, kpf_error *err)
{
    const kpf_node *section = NULL;
    int rc = kpf_cfg_map(root, "analysis", KPF_CFG_OPTIONAL, &section, err);
    if (rc || !section)
        return rc;
    if ((rc = kpf_analysis_register_builtins(ex->reg, err)))
        return rc;
    return kpf_analyses_load(ex->reg, section, ex->model, ex->task,
                             ex->train_node ? ex->topts.iterations : 0, ex->seed, &ex->an, err);
}

/* Run the host at `iter` (final: the model training stopped with); the
 * pretraining comparison keeps its block at every snapshot taken. */
static int analyse(kpf_experiment *ex, size_t iter, int final, kpf_error *err)
{
    size_t before = kpf_analyses_count(ex->an);
    double t0 = kpf_internal_now();
    int rc = final ? kpf_analyses_final(ex->an, iter, err) : kpf_analyses_at(ex->an, iter, err);
    kpf_internal_phase_move(ex, "analysis", kpf_internal_now() - t0);
    if (!rc && kpf_analyses_count(ex->an) > before)
        rc = kpf_internal_pretrain_snapshot(ex, err);
    return rc;
}

/* A scheduled snapshot at `iter` (the replay of a resumed run's). */
int kpf_internal_analyse(kpf_experiment *ex, size_t iter, kpf_error *err)
{
    return analyse(ex, iter, 0, err);
}

/* First call after a resume: the snapshots before `bound` were taken by
 * the interrupted process; replay them from their θ records (or, in a
 * folder without records, skip them). */
static int catch_up(kpf_experiment *ex, size_t bound, kpf_error *err)
{
    ex->resuming = 0;
    if (ex->replay)
        return kpf_internal_replay_snapshots(ex, bound, err);
    kpf_analyses_skip_before(ex->an, bound);
    return KPF_OK;
}

/* Called by the training loop after every iteration (and at 0). */
int kpf_internal_analysis_hook(void *ctx, kpf_model *m, size_t iter, kpf_error *err)
{
    kpf_experiment *ex = ctx;
    if (!ex->an)
        return KPF_OK;
    int rc = ex->resuming ? catch_up(ex, iter, err) : KPF_OK;
    size_t before = kpf_analyses_count(ex->an);
    if (!rc)
        rc = analyse(ex, iter, 0, err);
    /* θ of every snapshot is kept before training goes on, for a resume */
    if (!rc && ex->train_node && kpf_analyses_count(ex->an) > before)
        rc = kpf_internal_record_snapshot(ex, iter, err);
    return rc;
}

/* Converged early: analyse the model it stopped with. */
int kpf_internal_analysis_final(kpf_experiment *ex, size_t iter, kpf_error *err)
{
    if (!ex->an)
        return KPF_OK;
    int rc = ex->resuming ? catch_up(ex, iter + 1, err) : KPF_OK;
    return rc ? rc : analyse(ex, iter, 1, err);
}

int kpf_internal_open_analysis(kpf_experiment *ex, const char *dir, int resume, kpf_error *err)
{
    if (!ex->an)
        return KPF_OK;
    char path[4200];
    snprintf(path, sizeof path, "%s/analysis.h5", dir);
    /* a resumed run replays its snapshots into a new file (the old one may
     * be torn: the process was killed while writing it) */
    int rc = ex->replay ? kpf_h5_create_trunc(path, &ex->an_h5, err)
             : resume && access(path, F_OK) == 0 ? kpf_h5_open_rw(path, &ex->an_h5, err)
                                                 : kpf_h5_create(path, &ex->an_h5, err);
    ex->resuming = resume;
    return rc ? rc : kpf_analyses_begin(ex->an, ex->an_h5, err);
}

/* A missing plotter costs the pictures, not the run: noted in the summary. */
void kpf_internal_plot_analyses(kpf_experiment *ex, const char *dir)
{
    kpf_error perr;
    kpf_error_clear(&perr);
    if (kpf_analyses_plot(ex->an, dir, &perr) && !ex->plot_error[0])
        snprintf(ex->plot_error, sizeof ex->plot_error, "%s", perr.msg);
}
