/* The experiment's snapshot analyses: the training hook, analysis.h5,
 * plots and the summary entries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment_internal.h"
#include "kpf/delta_w.h"
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

/* Singular values of the last snapshot minus the first, normalised by the
 * largest (sv: n values). */
static int main_update_spectrum(const kpf_experiment *ex, double *sv, kpf_error *err)
{
    size_t K = 0, n = ex->model->n;
    const double *w = kpf_analysis_weights(ex->an, &K);
    double *D = malloc(n * n * sizeof *D);
    if (!D)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n * n; i++)
        D[i] = w[(K - 1) * n * n + i] - w[i];
    int rc = kpf_matrix_svd(n, n, D, sv, NULL, NULL, err);
    free(D);
    return rc;
}

static void write_weight_rows(FILE *fp, const kpf_experiment *ex, const double *ve, size_t R,
                              const double *sv)
{
    size_t n = ex->model->n, show = n < 20 ? n : 20;
    const double *pre = ex->pre.sv;
    fprintf(fp, "# rank  CP variance explained of W - W_first (snapshots)\n");
    for (size_t r = 0; r < R; r++)
        fprintf(fp, "%zu %.10g\n", r + 1, ve[r]);
    fprintf(fp, "\n\n# i  s_i/s_1 of W_last - W_first  s_i/s_1 of the pretraining update\n");
    for (size_t i = 0; i < show; i++)
        fprintf(fp, "%zu %.10g %.10g\n", i + 1, sv[0] > 0 ? sv[i] / sv[0] : NAN,
                pre && pre[0] > 0 ? pre[i] / pre[0] : NAN);
}

/* weight_tensor.{dat,gp,png}: CP variance explained against rank, and the
 * normalised spectra of the weight updates (Pellegrino Fig. 5c). */
static int plot_weight_tensor(kpf_experiment *ex, const char *dir, kpf_error *err)
{
    size_t R = 0;
    const double *ve = kpf_analysis_cp_ve(ex->an, &R);
    if (!ve)
        return KPF_OK;
    double *sv = malloc(ex->model->n * sizeof *sv);
    if (!sv)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = main_update_spectrum(ex, sv, err);
    FILE *fp = rc ? NULL : kpf_plot_open(dir, "weight_tensor.dat", err);
    if (fp) {
        write_weight_rows(fp, ex, ve, R, sv);
        rc = fclose(fp) ? kpf_error_set(err, KPF_EIO, "%s/weight_tensor.dat: write failed", dir)
                        : KPF_OK;
    } else if (!rc) {
        rc = KPF_EIO;
    }
    free(sv);
    if (!rc)
        rc = kpf_plot_script(
            dir, "weight_tensor", "1100,450", err,
            "set multiplot layout 1,2\nset grid\nset key bottom right\n"
            "set title 'CP of the weight tensor W - W_first'\nset xlabel 'rank'\n"
            "set ylabel 'variance explained'\nset yrange [0:1.05]\nset xtics 1\n"
            "plot 'weight_tensor.dat' index 0 using 1:2 with linespoints lw 2 pt 7 notitle\n"
            "set title 'singular values of the weight updates'\nset xlabel 'i'\n"
            "set ylabel 's_i / s_1'\nset logscale y\nset autoscale y\nset xtics auto\n"
            "set key top right\n"
            "plot 'weight_tensor.dat' index 1 using 1:2 with linespoints pt 7 "
            "title 'W_last - W_first', '' index 1 using 1:3 with linespoints pt 5 "
            "title 'pretraining W* - W0'\nunset multiplot\n");
    return rc;
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
    kpf_error_clear(&perr);
    note_plot(ex, plot_weight_tensor(ex, dir, &perr), &perr);
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
        if (!isnan(st->thm1_excess)) {
            kpf_json_key(j, "theorem1_max_excess");
            kpf_json_double(j, st->thm1_excess);
            kpf_json_key(j, "theorem1_factor_error");
            kpf_json_double(j, st->thm1_factor_err);
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
    size_t R = 0;
    const double *ve = kpf_analysis_cp_ve(ex->an, &R);
    if (ve) {
        kpf_json_key(j, "cp_variance_explained");
        kpf_json_array_begin(j);
        for (size_t r = 0; r < R; r++)
            kpf_json_double(j, ve[r]);
        kpf_json_array_end(j);
    }
}
