/* The experiment's snapshot analyses: the training hook, analysis.h5,
 * plots and the summary entries. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "experiment_internal.h"
#include "kpf/plot.h"

/* Called by the training loop after every iteration (and at 0). */
int kpf_internal_analysis_hook(void *ctx, kpf_model *m, size_t iter, kpf_error *err)
{
    kpf_experiment *ex = ctx;
    if (!ex->an)
        return KPF_OK;
    if (ex->resuming) { /* first call after a resume: earlier snapshots are done */
        kpf_analysis_skip_before(ex->an, iter);
        ex->resuming = 0;
    }
    return kpf_analysis_at(ex->an, iter, err);
}

int kpf_internal_open_analysis(kpf_experiment *ex, const char *dir, int resume, kpf_error *err)
{
    if (!ex->analysis_node)
        return KPF_OK;
    char path[4200];
    snprintf(path, sizeof path, "%s/analysis.h5", dir);
    int rc = resume && access(path, F_OK) == 0 ? kpf_h5_open_rw(path, &ex->an_h5, err)
                                               : kpf_h5_create(path, &ex->an_h5, err);
    ex->resuming = resume;
    return rc ? rc
              : kpf_analysis_alloc(&ex->aopts, ex->model, ex->task, ex->seed, ex->an_h5,
                                   &ex->an, err);
}

static void note_plot(kpf_experiment *ex, int rc, const kpf_error *perr)
{
    if (rc && !ex->plot_error[0])
        snprintf(ex->plot_error, sizeof ex->plot_error, "%s", perr->msg);
}

/* Cumulative explained variance and PCA plots at the first and last snapshot. */
void kpf_internal_plot_analyses(kpf_experiment *ex, const char *dir)
{
    size_t n = kpf_analysis_count(ex->an);
    kpf_error perr;
    for (size_t pass = 0; n && pass < 2; pass++) {
        size_t i = pass ? n - 1 : 0;
        if (pass && n == 1)
            break;
        const kpf_snapshot_stats *st = kpf_analysis_stats(ex->an, i);
        char stem[4400], title[256];
        const double *series[3];
        const char *names[3] = {"K", "P", "P K P*"};
        for (int j = 0; j < 3; j++)
            series[j] = kpf_analysis_cumvar(ex->an, i, j);
        snprintf(stem, sizeof stem, "%s/cumvar_iter%zu", dir, st->iteration);
        snprintf(title, sizeof title, "consensus spectra (avg over trials, units), iteration %zu",
                 st->iteration);
        kpf_error_clear(&perr);
        note_plot(ex, kpf_plot_cumvar(stem, title, kpf_analysis_k(ex->an), series, names, 3,
                                      &perr), &perr);
        snprintf(stem, sizeof stem, "%s/pca_iter%zu", dir, st->iteration);
        snprintf(title, sizeof title, "hidden states, iteration %zu (PCA dim %.1f)",
                 st->iteration, st->pca_effdim);
        kpf_error_clear(&perr);
        note_plot(ex, kpf_plot_pca(stem, title, kpf_analysis_trials(ex->an),
                                   kpf_analysis_steps(ex->an), kpf_analysis_pcs(ex->an, i),
                                   kpf_analysis_periods(ex->an), ex->task->type->period_names,
                                   &perr), &perr);
    }
}

void kpf_internal_summary_analysis(kpf_json *j, const kpf_experiment *ex)
{
    kpf_json_key(j, "analysis");
    kpf_json_array_begin(j);
    for (size_t i = 0; i < kpf_analysis_count(ex->an); i++) {
        const kpf_snapshot_stats *st = kpf_analysis_stats(ex->an, i);
        kpf_json_object_begin(j);
        kpf_json_key(j, "iteration");
        kpf_json_uint(j, st->iteration);
        for (int k = 0; k < KPF_AN_N_OPS; k++) {
            char key[64];
            snprintf(key, sizeof key, "effrank_%s", kpf_analysis_op_names[k]);
            if (!isnan(st->effrank[k])) {
                kpf_json_key(j, key);
                kpf_json_double(j, st->effrank[k]);
            }
        }
        kpf_json_key(j, "pca_effdim");
        kpf_json_double(j, st->pca_effdim);
        if (!isnan(st->functional_rank)) {
            kpf_json_key(j, "delta_w_sv1");
            kpf_json_double(j, st->dw_sv1);
            kpf_json_key(j, "delta_w_sv2");
            kpf_json_double(j, st->dw_sv2);
            kpf_json_key(j, "functional_rank");
            kpf_json_double(j, st->functional_rank);
        }
        if (!isnan(st->lyap_max)) {
            kpf_json_key(j, "lyapunov_max");
            kpf_json_double(j, st->lyap_max);
            kpf_json_key(j, "kaplan_yorke");
            kpf_json_double(j, st->kaplan_yorke);
        }
        kpf_json_object_end(j);
    }
    kpf_json_array_end(j);
}
