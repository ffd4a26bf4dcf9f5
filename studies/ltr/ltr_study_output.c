/* Output files of the `ltr_fit:` study (ltr_study.c, docs/ltr.md):
 * rank_sweep.dat/.gp/.png, fits.h5, trial_factors.dat/.gp/.png and
 * summary.json, each created exclusively. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/h5io.h"
#include "kpf/json.h"
#include "kpf/plot.h"
#include "ltr_study_internal.h"

static int close_file(FILE *fp, const char *dir, const char *name, kpf_error *err)
{
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/%s: write failed", dir, name);
    return KPF_OK;
}

/* ---- rank_sweep.dat / .png ------------------------------------------------------ */

static void sweep_plot_body(const ltr_study *st, const ltr_sweep *sw, char *b, size_t cap)
{
    size_t n = (size_t)snprintf(
        b, cap,
        "set grid\nset logscale y\nset xtics 1\nset xrange [%zu.5:%zu.5]\n"
        "set xlabel 'rank R'\nset ylabel 'unexplained variance'\nset key top right\n"
        "set title 'ltr_fit rank sweep: plateau at R = %zu%s'\n"
        "set arrow from %zu, graph 0 to %zu, graph 1 nohead lw 3 lc rgb '#2ca02c'\n"
        "set label 'chosen R = %zu' at %zu, graph 0.94 offset 0.5,0 tc rgb '#2ca02c'\n",
        sw->R_min - 1, sw->R_max, sw->chosen, st->teacher ? " (dashed: teacher R*)" : "", sw->chosen,
        sw->chosen, sw->chosen, sw->chosen);
    if (st->teacher)
        n += (size_t)snprintf(b + n, cap - n,
                              "set arrow from %zu, graph 0 to %zu, graph 1 nohead dt 2 lw 2 "
                              "lc rgb 'black'\nset label 'teacher R* = %zu' at %zu, graph 0.88 "
                              "offset 0.5,0\n",
                              st->tspec.rank, st->tspec.rank, st->tspec.rank, st->tspec.rank);
    n += (size_t)snprintf(b + n, cap - n,
                          "plot 'rank_sweep.dat' u 1:3 w lp pt 7 ps 1.5 lw 2 lc rgb '#d62728' "
                          "t 'held-out UV', '' u 1:2 w lp pt 5 lw 2 lc rgb '#1f77b4' t 'train UV', "
                          "%.17g w l dt 3 lc rgb 'gray40' t 'plateau threshold'",
                          sw->threshold);
    if (st->teacher && sw->teacher_test_uv > 0)
        n += (size_t)snprintf(b + n, cap - n,
                              ", %.17g w l dt 2 lc rgb 'black' t 'teacher held-out UV (noise)'",
                              sw->teacher_test_uv);
    snprintf(b + n, cap - n, "\n");
}

int kpf_ltr_study_write_sweep(const char *dir, const ltr_study *st, const ltr_sweep *sw,
                              kpf_error *err)
{
    FILE *fp = kpf_plot_open(dir, "rank_sweep.dat", err);
    if (!fp)
        return KPF_EIO;
    fprintf(fp, "# ltr_fit rank sweep: chosen R = %zu (smallest R with held-out UV <= %.6g "
                "= (1 + %g) min + %g)",
            sw->chosen, sw->threshold, st->rel_tol, st->abs_tol);
    if (st->teacher)
        fprintf(fp, "; teacher R* = %zu", st->tspec.rank);
    fprintf(fp, "\n# R  train_uv  heldout_uv  chosen  train_loss  seconds\n");
    for (size_t r = 0; r + sw->R_min <= sw->R_max; r++)
        fprintf(fp, "%zu %.10g %.10g %d %.10g %.3f\n", r + sw->R_min, sw->fits[r].train_uv,
                sw->fits[r].test_uv, r + sw->R_min == sw->chosen, sw->fits[r].train_loss,
                sw->seconds[r]);
    int rc = close_file(fp, dir, "rank_sweep.dat", err);
    char body[4096];
    sweep_plot_body(st, sw, body, sizeof body);
    return rc ? rc : kpf_plot_script(dir, "rank_sweep", "900,600", err, "%s", body);
}

/* ---- fits.h5 ---------------------------------------------------------------------- */

/* θ and its unit factors a, b (R×n) and trial factors c (R×K), as the
 * plugin computes them. */
static int write_theta(kpf_h5 *h, const char *group, const kpf_plugin *ltr,
                       const ltr_study *st, const kpf_ltr_spec *s, const double *theta,
                       size_t m, kpf_error *err)
{
    const size_t R = s->rank, n = s->n, K = s->K;
    double *a = malloc(R * n * sizeof(double)), *b = malloc(R * n * sizeof(double));
    double *c = malloc(R * K * sizeof(double));
    char path[128];
    int rc = a && b && c ? kpf_ltr_factors_of(ltr, s, st->d->n_in, st->d->N, theta, m, a, b, c,
                                              err)
                         : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    size_t dm[1] = {m}, dn[2] = {R, n}, dk[2] = {R, K};
    snprintf(path, sizeof path, "%s/theta", group);
    if (!rc) rc = kpf_h5_write(h, path, 1, dm, theta, err);
    snprintf(path, sizeof path, "%s/a", group);
    if (!rc) rc = kpf_h5_write(h, path, 2, dn, a, err);
    snprintf(path, sizeof path, "%s/b", group);
    if (!rc) rc = kpf_h5_write(h, path, 2, dn, b, err);
    snprintf(path, sizeof path, "%s/c", group);
    if (!rc) rc = kpf_h5_write(h, path, 2, dk, c, err);
    if (!rc) rc = kpf_h5_attr_double(h, group, "rank", (double)R, err);
    free(a);
    free(b);
    free(c);
    return rc;
}

static int write_rank(kpf_h5 *h, const kpf_plugin *ltr, const ltr_study *st,
                      const ltr_sweep *sw, size_t R, kpf_error *err)
{
    const kpf_ltr_fit_result *f = &sw->fits[R - sw->R_min];
    kpf_ltr_spec s = st->model;
    s.rank = R;
    s.K = st->d->K;
    char g[64];
    snprintf(g, sizeof g, "/rank_%zu", R);
    int rc = write_theta(h, g, ltr, st, &s, f->theta, f->m, err);
    if (!rc) rc = kpf_h5_attr_double(h, g, "train_uv", f->train_uv, err);
    if (!rc) rc = kpf_h5_attr_double(h, g, "heldout_uv", f->test_uv, err);
    if (!rc) rc = kpf_h5_attr_double(h, g, "train_loss", f->train_loss, err);
    if (!rc) rc = kpf_h5_attr_double(h, g, "seed", (double)f->seed, err);
    return rc;
}

int kpf_ltr_study_write_fits(const char *dir, const kpf_plugin *ltr, const ltr_study *st,
                             const ltr_sweep *sw, kpf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/fits.h5", dir);
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create(path, &h, err);
    if (rc)
        return rc;
    const kpf_ltr_data *d = st->d;
    size_t dm[3] = {d->N, d->T, d->K};
    for (size_t R = sw->R_min; !rc && R <= sw->R_max; R++)
        rc = write_rank(h, ltr, st, sw, R, err);
    if (!rc && st->teacher)
        rc = write_theta(h, "/teacher", ltr, st, &st->tspec, st->theta_t, st->m_t, err);
    if (!rc) rc = kpf_h5_write(h, "/masks/train", 3, dm, st->train, err);
    if (!rc) rc = kpf_h5_write(h, "/masks/test", 3, dm, st->test, err);
    if (!rc) rc = kpf_h5_attr_double(h, "/", "chosen_rank", (double)sw->chosen, err);
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- trial_factors.dat / .png ----------------------------------------------------- */

static void flip(double *x, size_t K)
{
    for (size_t k = 0; k < K; k++)
        x[k] = -x[k];
}

/* A component's sign is not identifiable (a_r → −a_r, c_r → −c_r leaves
 * W unchanged): make every fitted c_r's mean non-negative; with a teacher,
 * pair components greedily by |correlation over trials| and give each fit
 * factor the sign of its partner.  of[q], ot[q]: fit and teacher component
 * shown in pair q (paired first, then the rest). */
static void match_factors(size_t R, size_t Rt, size_t K, double *C, const double *Ct,
                          size_t *of, size_t *ot, double *corr)
{
    int used_f[64] = {0}, used_t[64] = {0};
    for (size_t r = 0; r < R; r++) {
        double s = 0;
        for (size_t k = 0; k < K; k++)
            s += C[r * K + k];
        if (s < 0)
            flip(C + r * K, K);
    }
    const size_t pairs = R < Rt ? R : Rt;
    for (size_t q = 0; q < pairs; q++) {
        double best = -1;
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; !used_f[i] && j < Rt; j++) {
                double v =
                    used_t[j] ? -2 : fabs(kpf_ltr_centred_corr(C + i * K, 1, Ct + j * K, 1, K));
                if ((isnan(v) ? 0 : v) > best)
                    best = isnan(v) ? 0 : v, of[q] = i, ot[q] = j;
            }
        used_f[of[q]] = used_t[ot[q]] = 1;
        double dot = 0;
        for (size_t k = 0; k < K; k++)
            dot += C[of[q] * K + k] * Ct[ot[q] * K + k];
        if (dot < 0)
            flip(C + of[q] * K, K);
        corr[ot[q]] = kpf_ltr_centred_corr(C + of[q] * K, 1, Ct + ot[q] * K, 1, K);
    }
    for (size_t i = 0, q = pairs; i < R; i++)
        if (!used_f[i])
            of[q++] = i;
    for (size_t j = 0, q = pairs; j < Rt; j++)
        if (!used_t[j])
            ot[q++] = j;
}

static void factors_plot_body(size_t R, size_t Rt, size_t chosen, char *b, size_t cap)
{
    size_t n = (size_t)snprintf(
        b, cap,
        "set grid\nset xlabel 'trial k'\nset ylabel 'trial factor c_r^(k)'\n"
        "set key outside right\nset title 'trial factors c_r over trials: rank-%zu fit%s'\n"
        "plot ",
        chosen, Rt ? " (solid) vs teacher (dashed)" : "");
    for (size_t q = 0; q < R; q++)
        n += (size_t)snprintf(b + n, cap - n, "%s'trial_factors.dat' u 1:%zu w l lw 2 lc %zu "
                                              "t 'fit %zu'",
                              q ? ", " : "", q + 2, q + 1, q + 1);
    for (size_t q = 0; q < Rt; q++)
        n += (size_t)snprintf(b + n, cap - n, ", '' u 1:%zu w l dt 2 lw 2 lc %zu t 'teacher %zu'",
                              R + q + 2, q + 1, q + 1);
    snprintf(b + n, cap - n, "\n");
}

static int factors_table(const char *dir, size_t R, size_t Rt, size_t K, const double *C,
                         const double *Ct, const size_t *of, const size_t *ot, kpf_error *err)
{
    FILE *fp = kpf_plot_open(dir, "trial_factors.dat", err);
    if (!fp)
        return KPF_EIO;
    fprintf(fp, "# trial factors c_r^(k) of the chosen rank-%zu fit%s (Pellegrino et al. "
                "Fig. 4i analogue); column pair q shows fit and teacher components matched "
                "by correlation\n# k",
            R, Rt ? " and of the teacher" : "");
    for (size_t q = 0; q < R; q++)
        fprintf(fp, " fit_%zu(c%zu)", q + 1, of[q] + 1);
    for (size_t q = 0; q < Rt; q++)
        fprintf(fp, " teacher_%zu(c%zu)", q + 1, ot[q] + 1);
    fprintf(fp, "\n");
    for (size_t k = 0; k < K; k++) {
        fprintf(fp, "%zu", k);
        for (size_t q = 0; q < R; q++)
            fprintf(fp, " %.10g", C[of[q] * K + k]);
        for (size_t q = 0; q < Rt; q++)
            fprintf(fp, " %.10g", Ct[ot[q] * K + k]);
        fprintf(fp, "\n");
    }
    return close_file(fp, dir, "trial_factors.dat", err);
}

/* Trial factors (R×K) of θ (m values) as the plugin computes them; *C
 * malloc'd. */
static int trial_factors_of(const kpf_plugin *ltr, const ltr_study *st, const kpf_ltr_spec *s,
                            const double *theta, size_t m, double **C, kpf_error *err)
{
    double *a = malloc(s->rank * s->n * sizeof(double));
    double *b = malloc(s->rank * s->n * sizeof(double));
    *C = malloc(s->rank * s->K * sizeof(double));
    int rc = a && b && *C ? kpf_ltr_factors_of(ltr, s, st->d->n_in, st->d->N, theta, m, a, b,
                                               *C, err)
                          : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    free(a);
    free(b);
    return rc;
}

int kpf_ltr_study_write_factors(const char *dir, const kpf_plugin *ltr, const ltr_study *st,
                                const ltr_sweep *sw, double *corr, kpf_error *err)
{
    kpf_ltr_spec s = st->model;
    s.rank = sw->chosen;
    s.K = st->d->K;
    const size_t R = s.rank, Rt = st->teacher ? st->tspec.rank : 0, K = s.K;
    double *C = NULL, *Ct = NULL, scratch[64];
    size_t of[64], ot[64];
    const kpf_ltr_fit_result *f = &sw->fits[R - sw->R_min];
    int rc = trial_factors_of(ltr, st, &s, f->theta, f->m, &C, err);
    if (!rc && Rt) rc = trial_factors_of(ltr, st, &st->tspec, st->theta_t, st->m_t, &Ct, err);
    if (!rc) {
        match_factors(R, Rt, K, C, Ct, of, ot, corr ? corr : scratch);
        rc = factors_table(dir, R, Rt, K, C, Ct, of, ot, err);
    }
    free(C);
    free(Ct);
    char body[8192];
    factors_plot_body(R, Rt, sw->chosen, body, sizeof body);
    return rc ? rc : kpf_plot_script(dir, "trial_factors", "1000,600", err, "%s", body);
}

/* ---- summary.json ------------------------------------------------------------------- */

enum per_rank { TRAIN_UV, HELDOUT_UV, TRAIN_LOSS, KEPT_SEED, FIT_SECONDS };

/* One value per rank R = 1 … R_max. */
static void json_array(kpf_json *j, const char *key, const ltr_sweep *sw, enum per_rank what)
{
    kpf_json_key(j, key);
    kpf_json_array_begin(j);
    for (size_t r = 0; r + sw->R_min <= sw->R_max; r++) {
        const kpf_ltr_fit_result *f = &sw->fits[r];
        switch (what) {
        case TRAIN_UV: kpf_json_double(j, f->train_uv); break;
        case HELDOUT_UV: kpf_json_double(j, f->test_uv); break;
        case TRAIN_LOSS: kpf_json_double(j, f->train_loss); break;
        case KEPT_SEED: kpf_json_uint(j, f->seed); break;
        default: kpf_json_double(j, sw->seconds[r]); break;
        }
    }
    kpf_json_array_end(j);
}

static void json_data(kpf_json *j, const ltr_study *st)
{
    kpf_json_key(j, "data");
    kpf_json_object_begin(j);
    kpf_json_key(j, "source");
    kpf_json_string(j, st->teacher ? "teacher" : "file");
    if (st->file) {
        kpf_json_key(j, "file");
        kpf_json_string(j, st->file);
    }
    const char *k[] = {"neurons", "bins", "trials", "inputs"};
    const size_t v[] = {st->d->N, st->d->T, st->d->K, st->d->n_in};
    for (size_t i = 0; i < 4; i++) {
        kpf_json_key(j, k[i]);
        kpf_json_uint(j, v[i]);
    }
    kpf_json_object_end(j);
}

static void json_doubles(kpf_json *j, const char *key, const double *v, size_t n)
{
    kpf_json_key(j, key);
    kpf_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        kpf_json_double(j, v[i]);
    kpf_json_array_end(j);
}

/* One kpf_ltr_match: the score, each mode's mean |cos| and the centred
 * trial correlations, teacher component by teacher component. */
static void json_match(kpf_json *j, const kpf_ltr_match *m)
{
    kpf_json_object_begin(j);
    const char *k[] = {"score", "neuron", "time", "trial"};
    const double v[] = {m->score, m->neuron, m->time, m->trial};
    for (size_t i = 0; i < 4; i++) {
        kpf_json_key(j, k[i]);
        kpf_json_double(j, v[i]);
    }
    json_doubles(j, "trial_corr", m->trial_corr, m->R);
    kpf_json_object_end(j);
}

/* Recovery of the teacher's components by the rank-R* fits: the teacher's
 * Kruskal ranks and trial-factor singular values, the kept restart's match
 * and every restart's loss, held-out UV and match. */
static void json_recovery(kpf_json *j, const ltr_study *st, const ltr_sweep *sw)
{
    const size_t R = st->tspec.rank;
    const kpf_ltr_fit_result *f = &sw->fits[R - sw->R_min];
    kpf_json_key(j, "kruskal_ranks");
    kpf_json_array_begin(j);
    for (size_t i = 0; i < 3; i++)
        kpf_json_uint(j, sw->kruskal[i]);
    kpf_json_array_end(j);
    kpf_json_key(j, "kruskal_unique");
    kpf_json_bool(j, sw->kruskal[0] + sw->kruskal[1] + sw->kruskal[2] >= 2 * R + 2);
    json_doubles(j, "trial_factor_sv", sw->c_sv, R);
    json_doubles(j, "trial_factor_centred_sv", sw->c_centred_sv, R);
    kpf_json_key(j, "match");
    json_match(j, &sw->kept);
    kpf_json_key(j, "restarts");
    kpf_json_array_begin(j);
    for (size_t r = 0; r < f->restarts; r++) {
        kpf_json_object_begin(j);
        kpf_json_key(j, "seed");
        kpf_json_uint(j, st->fit.seed + r);
        kpf_json_key(j, "from_teacher");
        kpf_json_bool(j, r == 0 && st->init_teacher);
        kpf_json_key(j, "train_loss");
        kpf_json_double(j, f->restart_loss[r]);
        kpf_json_key(j, "heldout_uv");
        kpf_json_double(j, f->restart_test_uv[r]);
        kpf_json_key(j, "match");
        json_match(j, &sw->restart[r]);
        kpf_json_object_end(j);
    }
    kpf_json_array_end(j);
}

static void json_teacher(kpf_json *j, const ltr_study *st, const ltr_sweep *sw, const double *corr)
{
    kpf_json_key(j, "teacher");
    kpf_json_object_begin(j);
    kpf_json_key(j, "rank");
    kpf_json_uint(j, st->tspec.rank);
    kpf_json_key(j, "recovered");
    kpf_json_bool(j, sw->chosen == st->tspec.rank);
    kpf_json_key(j, "train_uv");
    kpf_json_double(j, sw->teacher_train_uv);
    kpf_json_key(j, "heldout_uv");
    kpf_json_double(j, sw->teacher_test_uv);
    kpf_json_key(j, "train_loss");
    kpf_json_double(j, sw->teacher_train_loss);
    kpf_json_key(j, "trial_factor_correlation");
    kpf_json_array_begin(j);
    for (size_t r = 0; r < st->tspec.rank; r++)
        kpf_json_double(j, corr[r]);
    kpf_json_array_end(j);
    if (sw->matched)
        json_recovery(j, st, sw);
    kpf_json_object_end(j);
}

int kpf_ltr_study_write_summary(const char *dir, const ltr_study *st, const ltr_sweep *sw,
                                const double *corr, kpf_error *err)
{
    FILE *fp = kpf_plot_open(dir, "summary.json", err);
    if (!fp)
        return KPF_EIO;
    kpf_json j;
    kpf_json_begin(&j, fp);
    kpf_json_key(&j, "study");
    kpf_json_string(&j, "ltr_fit");
    kpf_json_key(&j, "config");
    kpf_json_string(&j, st->source ? st->source : "");
    json_data(&j, st);
    kpf_json_key(&j, "ranks");
    kpf_json_array_begin(&j);
    for (size_t r = sw->R_min; r <= sw->R_max; r++)
        kpf_json_uint(&j, r);
    kpf_json_array_end(&j);
    json_array(&j, "train_uv", sw, TRAIN_UV);
    json_array(&j, "heldout_uv", sw, HELDOUT_UV);
    json_array(&j, "train_loss", sw, TRAIN_LOSS);
    json_array(&j, "kept_seed", sw, KEPT_SEED);
    json_array(&j, "fit_seconds", sw, FIT_SECONDS);
    kpf_json_key(&j, "plateau_threshold");
    kpf_json_double(&j, sw->threshold);
    kpf_json_key(&j, "chosen_rank");
    kpf_json_uint(&j, sw->chosen);
    if (st->teacher)
        json_teacher(&j, st, sw, corr);
    kpf_json_key(&j, "data_seconds");
    kpf_json_double(&j, sw->data_seconds);
    kpf_json_key(&j, "total_seconds");
    kpf_json_double(&j, sw->total_seconds);
    kpf_json_end(&j);
    return close_file(fp, dir, "summary.json", err);
}
