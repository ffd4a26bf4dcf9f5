/* The `interference` analysis: KPFlow's multi-task decomposition at every
 * snapshot (kpf/interference.h; §3.2 eq. 11, Fig. 4, App. E.2 eq. 75) on a
 * mixture's sub-tasks (kpf_task_subtasks: cond[b] is trial b's sub-task).
 *
 * Per snapshot, under /snapshots/<i>/interference/ in analysis.h5 (S×S each,
 * rows and columns in sub-task order):
 *   M               interference matrix cos(δz_ii, δz_ij), Err the real
 *                   training error of the analysis trials at this θ
 *   cumulative      Σ of M over this run's snapshots so far (Fig. 4D)
 *   dz_norm         ‖δz_ij‖ (per unit learning rate)
 *   rayleigh        R(K_ij, P_j* Err_j)          (with rayleigh: true)
 *   task_alignment  cosine of matched trials' states (Fig. 4B; with
 *                   matched_trials > 0)
 * and scalars interference_<f>, interference_cum_<f>, rayleigh_<f>,
 * task_alignment_<f> for every filter f (f_F(X), the mean of the selected
 * entries; "offdiag" first).  After the last snapshot, /interference/ holds
 * iterations and every matrix stacked [snapshots × S × S], and
 * /interference/filters/<f>/ the mask and each filtered curve.
 * Figures: interference_grid.png, interference_filters.png. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interference_internal.h"
#include "kpf/interference.h"
#include "snapshot_error.h"

static const char *const mat_names[ITF_N_MATS] = {"M", "cumulative", "rayleigh",
                                                  "task_alignment", "dz_norm"};
/* Scalar prefixes of the filtered matrices (dz_norm has none). */
static const char *const mat_scalars[ITF_N_MATS] = {"interference", "interference_cum",
                                                    "rayleigh", "task_alignment", NULL};

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    itf *s = NULL;
    int rc = kpf_internal_itf_create(node, setup, &s, err);
    *self = s;
    return rc;
}

static void destroy(void *self) { kpf_internal_itf_free(self); }

static int read_groups(itf *s, const kpf_task_batch *bt, kpf_error *err)
{
    for (size_t b = 0; b < bt->B; b++) {
        if (bt->cond[b] < 0 || (size_t)bt->cond[b] >= s->S)
            return kpf_error_set(err, KPF_EINVAL,
                                 "analysis trial %zu has cond %d, not a sub-task 0 … %zu", b,
                                 bt->cond[b], s->S - 1);
        s->group[b] = bt->cond[b];
    }
    return KPF_OK;
}

static int write_matrix(const itf *s, const kpf_snapshot *sn, int which, const double *X,
                        kpf_error *err)
{
    char path[512];
    size_t dims[2] = {s->S, s->S};
    snprintf(path, sizeof path, "%s/interference/%s", sn->group, mat_names[which]);
    return kpf_h5_write(sn->h5, path, 2, dims, X, err);
}

static int report(const itf *s, const kpf_snapshot *sn, size_t k, kpf_error *err)
{
    int rc = KPF_OK;
    for (int w = 0; !rc && w < ITF_N_MATS; w++) {
        const double *X = itf_at(s, w, k);
        if ((w == ITF_RAYLEIGH && !s->rayleigh) || (w == ITF_ALIGN && !s->matched))
            continue;
        rc = write_matrix(s, sn, w, X, err);
        for (size_t f = 0; !rc && mat_scalars[w] && f < s->n_filters; f++) {
            char name[KPF_ANALYSIS_SCALAR_NAME_MAX + 1];
            snprintf(name, sizeof name, "%s_%s", mat_scalars[w], s->filters[f].name);
            rc = kpf_snapshot_scalar(sn, name, kpf_filter_mean(s->S, s->filters[f].F, X), err);
        }
    }
    return rc;
}

static int at_snapshot(void *self, const kpf_snapshot *sn, kpf_error *err)
{
    itf *s = self;
    size_t k = s->n, S2 = s->S * s->S;
    if (k == s->cap)
        return kpf_error_set(err, KPF_EINVAL, "more snapshots than the schedule's %zu", s->cap);
    s->resumed = s->resumed || sn->resumed;
    s->iteration[k] = sn->iteration;
    double *M = itf_at(s, ITF_M, k), *C = itf_at(s, ITF_CUM, k);
    int rc = read_groups(s, sn->batch, err);
    if (!rc)
        rc = kpf_internal_snapshot_error(sn->model, sn->traj, sn->batch, s->y, s->dy, s->errv,
                                         NULL, err);
    if (!rc)
        rc = kpf_interference(sn->model, sn->traj, s->errv, s->S, s->group, M,
                              s->rayleigh ? itf_at(s, ITF_RAYLEIGH, k) : NULL,
                              itf_at(s, ITF_NORM, k), err);
    /* The sum over snapshots needs all of them: a resumed process lacks the
     * earlier ones. */
    for (size_t i = 0; !rc && i < S2; i++)
        C[i] = s->resumed ? NAN : M[i] + (k ? itf_at(s, ITF_CUM, k - 1)[i] : 0.0);
    if (!rc && s->matched) {
        rc = kpf_simulate(sn->model, s->mtr, err);
        if (!rc)
            kpf_task_alignment(s->S, s->mtr->B, s->mtr->T, s->mtr->n, s->mtr->z,
                               itf_at(s, ITF_ALIGN, k));
    }
    if (!rc)
        rc = report(s, sn, k, err);
    if (!rc)
        s->n++;
    return rc;
}

/* ---- after the last snapshot ------------------------------------------------ */

static int write_runlevel(const itf *s, kpf_h5 *h, double *it, double *curve, kpf_error *err)
{
    size_t n = s->n, S = s->S;
    for (size_t k = 0; k < n; k++)
        it[k] = (double)s->iteration[k];
    int rc = kpf_h5_write(h, "/interference/iterations", 1, &n, it, err);
    size_t dims[3] = {n, S, S};
    char path[256];
    for (int w = 0; !rc && w < ITF_N_MATS; w++) {
        snprintf(path, sizeof path, "/interference/%s", mat_names[w]);
        rc = kpf_h5_write(h, path, 3, dims, s->mat[w], err);
    }
    char list[1024] = "";
    for (size_t g = 0; g < S; g++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", g ? "," : "",
                 s->names[g]);
    if (!rc) rc = kpf_h5_attr_string(h, "/interference/M", "subtasks", list, err);
    for (size_t f = 0; !rc && f < s->n_filters; f++) {
        const itf_filter *F = &s->filters[f];
        snprintf(path, sizeof path, "/interference/filters/%s/mask", F->name);
        rc = kpf_h5_write(h, path, 2, dims + 1, F->F, err);
        for (int w = 0; !rc && w < ITF_NORM; w++) {
            for (size_t k = 0; k < n; k++)
                curve[k] = kpf_filter_mean(S, F->F, itf_at(s, w, k));
            snprintf(path, sizeof path, "/interference/filters/%s/%s", F->name, mat_names[w]);
            rc = kpf_h5_write(h, path, 1, &n, curve, err);
        }
    }
    return rc;
}

static int finish(void *self, const kpf_analysis_end *e, kpf_error *err)
{
    const itf *s = self;
    if (!s->n)
        return KPF_OK;
    double *it = malloc(s->n * sizeof(double)), *curve = malloc(s->n * sizeof(double));
    int rc = it && curve ? write_runlevel(s, e->h5, it, curve, err)
                         : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    free(it);
    free(curve);
    return rc;
}

/* The filtered value of matrix `which` at the last snapshot (NaN: none). */
static double last_filtered(const itf *s, const itf_filter *F, int which)
{
    return s->n ? kpf_filter_mean(s->S, F->F, itf_at(s, which, s->n - 1)) : NAN;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    const itf *s = self;
    size_t k = 0;
    for (size_t f = 0; f < s->n_filters; f++) {
        if (k < cap) {
            names[k] = s->filters[f].scalar[0];
            v[k] = last_filtered(s, &s->filters[f], ITF_CUM);
        }
        k++;
        if (k < cap) {
            names[k] = s->filters[f].scalar[1];
            v[k] = last_filtered(s, &s->filters[f], ITF_ALIGN);
        }
        k++;
    }
    return k;
}

static void summary_json(const void *self, kpf_json *j)
{
    const itf *s = self;
    kpf_json_key(j, "interference");
    kpf_json_object_begin(j);
    kpf_json_key(j, "subtasks");
    kpf_json_array_begin(j);
    for (size_t g = 0; g < s->S; g++)
        kpf_json_string(j, s->names[g]);
    kpf_json_array_end(j);
    kpf_json_key(j, "filters");
    kpf_json_object_begin(j);
    for (size_t f = 0; f < s->n_filters; f++) {
        const itf_filter *F = &s->filters[f];
        kpf_json_key(j, F->name);
        kpf_json_object_begin(j);
        for (int w = 0; w < ITF_NORM; w++) {
            kpf_json_key(j, mat_scalars[w]);
            kpf_json_double(j, last_filtered(s, F, w));
        }
        kpf_json_key(j, "task_alignment_initial");
        kpf_json_double(j, s->n ? kpf_filter_mean(s->S, F->F, itf_at(s, ITF_ALIGN, 0)) : NAN);
        kpf_json_object_end(j);
    }
    kpf_json_object_end(j);
    kpf_json_object_end(j);
}

static int plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const itf *s = self;
    return s->n ? kpf_internal_itf_plot(s, p->dir, err) : KPF_OK;
}

const kpf_analysis_desc kpf_analysis_interference = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "interference",
    .summary = "multi-task interference P_i K_ij P_j* Err_j, task and Rayleigh alignment",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .finish = finish,
    .scalars = scalars,
    .summary_json = summary_json,
    .plot = plot,
};
