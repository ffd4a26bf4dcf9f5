/* The `fixed_points` analysis: fixed and slow points of the trained model
 * at every snapshot, for any plugin (kpf/fixed_points.h), from candidates
 * drawn among the analysis trials' states plus noise, for a constant input.
 *
 *   fixed_points:
 *     candidates: 256    starting states, drawn (with replacement) from the
 *                        analysis trajectories at this snapshot
 *     period: memory     … from the steps of this task period only (by the
 *                        task's period name; default: every step), e.g. the
 *                        period whose input x* is
 *     noise: 0.05        std of the Gaussian noise added to each
 *     input: [0, 0, 0]   x* (default: zero input)
 *     fixed_tol: 1e-12   slow_tol: 1e-4   unique_tol: 1e-3   stab_tol: 1e-6
 *     max_iter: 200      cg_iter: 0 (min(n, 50))   max_step: none (a trust
 *                        region: with a few iterations, candidates settle on
 *                        slow manifolds instead of jumping to a root)
 *     dense_max: 512     n_eigs: 10       vectors: 3        trial: 0
 *     plot_basis: trajectories   the figure's axes: the first two principal
 *                        components of the analysis trajectories, or of the
 *                        points found (`points`)
 *
 * Per snapshot, /snapshots/<i>/fixed_points/ in analysis.h5 (points, q,
 * kind, eigenvalues, eigenvectors, n_unstable, class, input, outputs (the
 * readout at each point); count) and the
 * scalars fp_fixed, fp_slow, fp_stable, fp_saddle, fp_unstable (the last
 * three among the fixed points), fp_converged (candidates reaching q <
 * 1e-28).  With the figures: fixed_points.h5 in the run folder (the last
 * snapshot's points, the same datasets at its root) and fixed_points.png. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "builtin_analyses.h"
#include "fixed_points_internal.h"
#include "kpf/rng.h"

/* The RNG stream of the candidates (kpf/rng.h's are 1 … 5). */
#define FP_STREAM 0x4650u

static const char *const count_names[FPC_N] = {"fp_fixed",  "fp_slow",     "fp_stable",
                                               "fp_saddle", "fp_unstable", "fp_converged"};

static void destroy(void *self)
{
    fpa *a = self;
    if (!a)
        return;
    free(a->x_star);
    free(a->cand);
    free(a->states);
    free(a->period);
    free(a->last_y);
    kpf_fp_set_free(a->last);
    free(a);
}

static int read_input(const kpf_node *node, fpa *a, kpf_error *err)
{
    const kpf_node *in = kpf_node_get(node, "input");
    if (!in)
        return KPF_OK;
    if (kpf_node_kind(in) != KPF_NODE_SEQ || kpf_node_len(in) != a->n_in)
        return kpf_node_error(in, err, "expected a list of the task's %zu inputs", a->n_in);
    for (size_t i = 0; i < a->n_in; i++) {
        const char *s = kpf_node_scalar(kpf_node_at(in, i));
        char *end = NULL;
        double v = s ? strtod(s, &end) : NAN;
        if (!s || !*s || *end || !isfinite(v))
            return kpf_node_error(kpf_node_at(in, i), err, "expected a number");
        a->x_star[i] = v;
    }
    return KPF_OK;
}

/* `period: NAME` → its index among the task's period names. */
static int read_period(const kpf_node *node, const kpf_task *task, fpa *a, kpf_error *err)
{
    a->cand_period = -1;
    int rc = kpf_cfg_string(node, "period", 0, NULL, &a->period_name, err);
    if (rc || !a->period_name)
        return rc;
    const char *const *names = task->type->period_names;
    char list[512] = "";
    for (int i = 0; names && names[i]; i++) {
        if (!strcmp(names[i], a->period_name))
            a->cand_period = i;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 names[i]);
    }
    if (a->cand_period < 0)
        return kpf_node_error(kpf_node_get(node, "period"), err,
                              "task '%s' has no period '%s' (its periods: %s)",
                              task->type->name, a->period_name, list);
    return KPF_OK;
}

static int read_opts(const kpf_node *node, fpa *a, kpf_error *err)
{
    kpf_fp_opts *o = &a->opts;
    *o = kpf_fp_opts_default();
    int rc = kpf_cfg_size(node, "candidates", 0, 256, 1, 1000000, &a->R, err);
    if (!rc) rc = kpf_cfg_double(node, "noise", 0, 0.05, 0.0, 1e6, &a->noise, err);
    if (!rc) rc = kpf_cfg_double(node, "fixed_tol", 0, o->fixed_tol, 0.0, 1e6, &o->fixed_tol, err);
    if (!rc) rc = kpf_cfg_double(node, "slow_tol", 0, o->slow_tol, 0.0, 1e6, &o->slow_tol, err);
    if (!rc) rc = kpf_cfg_double(node, "unique_tol", 0, o->unique_tol, 0.0, 1e6, &o->unique_tol,
                                 err);
    if (!rc) rc = kpf_cfg_double(node, "stab_tol", 0, o->stab_tol, 0.0, 1.0, &o->stab_tol, err);
    if (!rc) rc = kpf_cfg_size(node, "max_iter", 0, o->max_iter, 1, 1000000, &o->max_iter, err);
    if (!rc) rc = kpf_cfg_size(node, "cg_iter", 0, 0, 0, 100000, &o->cg_iter, err);
    if (!rc) rc = kpf_cfg_double(node, "max_step", 0, INFINITY, 1e-300, INFINITY, &o->max_step,
                                 err);
    if (!rc) rc = kpf_cfg_size(node, "dense_max", 0, o->dense_max, 0, 100000, &o->dense_max,
                               err);
    if (!rc) rc = kpf_cfg_size(node, "n_eigs", 0, o->n_eigs, 1, 100000, &o->n_eigs, err);
    if (!rc) rc = kpf_cfg_size(node, "vectors", 0, o->n_vectors, 0, 100000, &o->n_vectors, err);
    if (!rc) rc = kpf_cfg_size(node, "trial", 0, 0, 0, (size_t)-1, &o->trial, err);
    static const char *const bases[] = {"trajectories", "points", NULL};
    if (!rc) rc = kpf_cfg_choice(node, "plot_basis", 0, bases, 0, &a->plot_points, err);
    if (!rc && !(o->slow_tol >= o->fixed_tol))
        rc = kpf_node_error(kpf_node_get(node, "slow_tol"), err,
                            "slow_tol (%g) must not be below fixed_tol (%g)", o->slow_tol,
                            o->fixed_tol);
    return rc;
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    if (node && kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {candidates, noise, input, …} ({} "
                                         "for the defaults)");
    fpa *a = calloc(1, sizeof *a);
    if (!a)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    const kpf_model *m = setup->model;
    a->n = m->n;
    a->n_in = m->n_in;
    a->n_out = m->n_out;
    a->B = setup->trials;
    a->T = setup->steps;
    a->x_star = calloc(a->n_in ? a->n_in : 1, sizeof(double));
    int rc = a->x_star ? read_opts(node, a, err) : kpf_error_set(err, KPF_ENOMEM, "oom");
    if (!rc) rc = read_input(node, a, err);
    if (!rc) rc = read_period(node, setup->task, a, err);
    if (!rc && m->n_trials && a->opts.trial >= m->n_trials)
        rc = kpf_node_error(kpf_node_get(node, "trial"), err,
                            "trial %zu is not below the model's %zu trials", a->opts.trial,
                            m->n_trials);
    a->opts.seed = setup->seed;
    if (!rc) {
        a->cand = malloc(a->R * a->n * sizeof(double));
        a->states = malloc(a->B * a->T * a->n * sizeof(double));
        a->period = malloc(a->B * a->T * sizeof(int));
        if (!a->cand || !a->states || !a->period)
            rc = kpf_error_set(err, KPF_ENOMEM, "cannot allocate the fixed-point analysis");
    }
    for (int i = 0; i < FPC_N; i++)
        a->counts[i] = NAN;
    if (rc) {
        destroy(a);
        return rc;
    }
    *self = a;
    return KPF_OK;
}

/* Candidates: states of the analysis trajectories (in the chosen period),
 * uniformly, plus noise.  pool: room for B·T row indices. */
static int draw_candidates(fpa *a, const kpf_snapshot *s, size_t *pool, kpf_error *err)
{
    const size_t rows = s->traj->B * s->traj->T, n = a->n;
    size_t np = 0;
    for (size_t r = 0; r < rows; r++) /* z[k] is the state after step k */
        if (a->cand_period < 0 || s->batch->period[r] == a->cand_period)
            pool[np++] = r;
    if (!np)
        return kpf_error_set(err, KPF_EINVAL, "no analysis step is in period '%s'",
                             a->period_name);
    gsl_rng *r = NULL;
    int rc = kpf_rng_alloc(s->seed + s->iteration, FP_STREAM, &r, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < a->R; i++) {
        const double *z = s->traj->z + pool[gsl_rng_uniform_int(r, np)] * n;
        for (size_t k = 0; k < n; k++)
            a->cand[i * n + k] = z[k] + (a->noise > 0 ? gsl_ran_gaussian(r, a->noise) : 0.0);
    }
    gsl_rng_free(r);
    return KPF_OK;
}

void kpf_internal_fpa_count(const kpf_fp_set *s, double *c)
{
    for (int i = 0; i < FPC_CONVERGED; i++)
        c[i] = 0;
    for (size_t p = 0; p < s->P; p++) {
        int fixed = s->kind[p] == KPF_FP_FIXED;
        c[fixed ? FPC_FIXED : FPC_SLOW] += 1;
        if (fixed)
            c[s->cls[p] == KPF_FP_STABLE   ? FPC_STABLE
              : s->cls[p] == KPF_FP_SADDLE ? FPC_SADDLE
                                           : FPC_UNSTABLE] += 1;
    }
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    fpa *a = self;
    kpf_fp_set *set = NULL;
    kpf_fp_stats st;
    size_t *pool = malloc(a->B * a->T * sizeof(size_t));
    int rc = pool ? draw_candidates(a, s, pool, err)
                  : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    free(pool);
    if (!rc)
        rc = kpf_fp_find(s->model, a->x_star, a->R, a->cand, &a->opts, &set, &st, err);
    if (rc)
        return rc;
    double *y = NULL;
    rc = kpf_internal_fpa_readout(s->model, set, a->x_star, &y, err);
    if (rc) {
        kpf_fp_set_free(set);
        free(y);
        return rc;
    }
    kpf_fp_set_free(a->last);
    free(a->last_y);
    a->last = set;
    a->last_y = y;
    a->last_iteration = s->iteration;
    a->n_taken++;
    memcpy(a->states, s->traj->z, a->B * a->T * a->n * sizeof(double));
    memcpy(a->period, s->batch->period, a->B * a->T * sizeof(int));
    kpf_internal_fpa_count(set, a->counts);
    a->counts[FPC_CONVERGED] = (double)st.converged;
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/fixed_points", s->group);
    rc = kpf_internal_fpa_write(s->h5, prefix, set, a->x_star, a->n_in, y, a->n_out, err);
    for (int i = 0; !rc && i < FPC_N; i++)
        rc = kpf_snapshot_scalar(s, count_names[i], a->counts[i], err);
    return rc;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    const fpa *a = self;
    for (size_t i = 0; i < FPC_N && i < cap; i++) {
        names[i] = count_names[i];
        v[i] = a->counts[i];
    }
    return FPC_N;
}

static void summary_json(const void *self, kpf_json *j)
{
    const fpa *a = self;
    kpf_json_key(j, "fixed_points");
    kpf_json_object_begin(j);
    kpf_json_key(j, "iteration");
    kpf_json_uint(j, a->last_iteration);
    for (int i = 0; i < FPC_N; i++) {
        kpf_json_key(j, count_names[i] + 3); /* "fixed", "slow", … */
        kpf_json_double(j, a->counts[i]);
    }
    kpf_json_key(j, "candidates");
    kpf_json_uint(j, a->R);
    kpf_json_object_end(j);
}

/* fixed_points.h5 (the last snapshot's points) and the figure. */
static int plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const fpa *a = self;
    if (!a->last)
        return KPF_OK;
    char path[4400];
    snprintf(path, sizeof path, "%s/fixed_points.h5", p->dir);
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create(path, &h, err);
    if (!rc)
        rc = kpf_internal_fpa_write(h, "", a->last, a->x_star, a->n_in, a->last_y, a->n_out,
                                    err);
    if (!rc) rc = kpf_h5_attr_double(h, "/", "iteration", (double)a->last_iteration, err);
    if (h) {
        int rc2 = kpf_h5_close(h, err);
        rc = rc ? rc : rc2;
    }
    return rc ? rc : kpf_internal_fpa_plot(a, p, err);
}

const kpf_analysis_desc kpf_analysis_fixed_points = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "fixed_points",
    .summary = "fixed and slow points of any model, their Jacobian spectra and stability",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
    .summary_json = summary_json,
    .plot = plot,
};
