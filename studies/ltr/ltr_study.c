/* The `ltr_fit:` study (kpf run, docs/ltr.md): fit ltr networks of rank
 * R = 1 … R_max to a data tensor (an HDF5 file, or a synthetic teacher of
 * known rank R*) with blocked cross-validation, and pick the rank where the
 * held-out error plateaus.  This file reads the config (one parse shared by
 * check and run) and runs the sweep; ltr_study_output.c writes the files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpf/blas.h"
#include "kpf/instance.h"
#include "ltr_study_internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void study_free(ltr_study *st)
{
    free(st->file);
    kpf_ltr_data_free(st->d);
    free(st->theta_t);
    free(st->train);
    free(st->test);
    memset(st, 0, sizeof *st);
}

/* ---- config sections --------------------------------------------------------- */

static const char *const loss_names[] = {"mse", "poisson", NULL};

/* Kernel, activation and time keys, shared by `model:` and `teacher:` (the
 * teacher's defaults are the model's values). */
static int parse_dynamics(const kpf_node *m, const kpf_ltr_spec *dflt, kpf_ltr_spec *s,
                          kpf_error *err)
{
    int rc = kpf_cfg_double(m, "tau", 0, dflt->tau, 1e-9, 1e9, &s->tau, err);
    if (!rc) rc = kpf_cfg_double(m, "dt", 0, dflt->dt, 1e-9, 1e9, &s->dt, err);
    if (!rc) rc = kpf_activation_parse(m, "activation", dflt->act, &s->act, err);
    if (!rc) rc = kpf_cfg_double(m, "length", 0, dflt->length, 1e-9, 1e9, &s->length, err);
    if (!rc) rc = kpf_cfg_double(m, "scale", 0, dflt->scale, 1e-9, 1e9, &s->scale, err);
    if (!rc) rc = kpf_cfg_double(m, "jitter", 0, dflt->jitter, 0, 1e9, &s->jitter, err);
    if (!rc) rc = kpf_cfg_double(m, "q_init", 0, dflt->q_init, 0, 1e9, &s->q_init, err);
    if (!rc) rc = kpf_cfg_double(m, "c_init", 0, dflt->c_init, 0, 1e9, &s->c_init, err);
    return rc;
}

static int parse_model(const kpf_node *lf, kpf_ltr_spec *s, kpf_error *err)
{
    const kpf_node *m = NULL;
    kpf_ltr_spec d;
    kpf_ltr_spec_default(&d);
    *s = d;
    int rc = kpf_cfg_map(lf, "model", 0, &m, err);
    if (!rc && kpf_node_get(m, "rank"))
        return kpf_node_error(kpf_node_get(m, "rank"), err,
                              "the rank is swept (set ltr_fit.ranks.max instead)");
    if (!rc) rc = kpf_cfg_size(m, "n", 0, d.n, 1, 100000, &s->n, err);
    if (!rc) rc = parse_dynamics(m, &d, s, err);
    if (!rc) rc = kpf_cfg_bool(m, "smooth", 0, d.smooth, &s->smooth, err);
    if (!rc) rc = kpf_cfg_double(m, "c_mean", 0, d.c_mean, -1e9, 1e9, &s->c_mean, err);
    return rc;
}

static const char *const init_names[] = {"random", "teacher", NULL};

static int parse_fit(const kpf_node *lf, uint64_t seed, kpf_ltr_fit_opts *o,
                     int *init_teacher, kpf_error *err)
{
    const kpf_node *f = NULL;
    kpf_ltr_fit_opts d;
    kpf_ltr_fit_opts_default(&d);
    *o = d;
    int rc = kpf_cfg_map(lf, "fit", 0, &f, err);
    if (!rc) rc = kpf_cfg_size(f, "iterations", 0, d.iterations, 1, 100000000, &o->iterations, err);
    if (!rc) rc = kpf_cfg_double(f, "lr", 0, d.lr, 1e-12, 1e3, &o->lr, err);
    if (!rc) rc = kpf_cfg_double(f, "lr_final", 0, d.lr_final, 1e-12, 1e6, &o->lr_final, err);
    if (!rc) rc = kpf_cfg_double(f, "clip", 0, d.clip, 0, 1e12, &o->clip, err);
    if (!rc) rc = kpf_cfg_double(f, "alpha", 0, d.alpha, 0, 1e12, &o->alpha, err);
    if (!rc) rc = kpf_cfg_choice(f, "loss", 0, loss_names, d.loss, &o->loss, err);
    if (!rc) rc = kpf_cfg_size(f, "burn_in", 0, d.burn_in, 0, 10000000, &o->burn_in, err);
    if (!rc) rc = kpf_cfg_size(f, "steps_per_bin", 0, d.steps_per_bin, 1, 100000,
                               &o->steps_per_bin, err);
    if (!rc) rc = kpf_cfg_size(f, "restarts", 0, d.restarts, 1, 10000, &o->restarts, err);
    if (!rc) rc = kpf_cfg_bool(f, "solve_readout", 0, d.solve_readout, &o->solve_readout, err);
    if (!rc) rc = kpf_cfg_choice(f, "init", 0, init_names, 0, init_teacher, err);
    if (!rc) rc = kpf_cfg_size(f, "polish", 0, d.polish, 0, 100000000, &o->polish, err);
    /* seed + 1: the restarts never share an initial draw with a teacher
     * drawn from the top-level seed */
    if (!rc) rc = kpf_cfg_u64(f, "seed", 0, seed + 1, &o->seed, err);
    return rc;
}

/* Blocks must fit the data: checked later, against T and K (cv_holds_out). */
static int parse_cv(const kpf_node *lf, uint64_t seed, kpf_ltr_cv_opts *o, kpf_error *err)
{
    const kpf_node *c = NULL;
    kpf_ltr_cv_opts d;
    kpf_ltr_cv_opts_default(&d);
    *o = d;
    int rc = kpf_cfg_map(lf, "cv", 0, &c, err);
    if (!rc) rc = kpf_cfg_size(c, "block_t", 0, d.block_t, 1, 10000000, &o->block_t, err);
    if (!rc) rc = kpf_cfg_size(c, "block_k", 0, d.block_k, 1, 10000000, &o->block_k, err);
    if (!rc) rc = kpf_cfg_size(c, "inner_t", 0, d.inner_t < o->block_t ? d.inner_t : o->block_t,
                               1, o->block_t, &o->inner_t, err);
    if (!rc) rc = kpf_cfg_size(c, "inner_k", 0, d.inner_k < o->block_k ? d.inner_k : o->block_k,
                               1, o->block_k, &o->inner_k, err);
    if (!rc) rc = kpf_cfg_double(c, "frac", 0, d.frac, 1e-9, 1, &o->frac, err);
    /* seed + 2: a stream of its own (the teacher's noise uses `seed`) */
    if (!rc) rc = kpf_cfg_u64(c, "seed", 0, seed + 2, &o->seed, err);
    return rc;
}

static int parse_ranks(const kpf_node *lf, ltr_study *st, kpf_error *err)
{
    const kpf_node *r = NULL;
    int rc = kpf_cfg_map(lf, "ranks", 0, &r, err);
    if (!rc) rc = kpf_cfg_size(r, "max", 0, 5, 1, 64, &st->R_max, err);
    if (!rc) rc = kpf_cfg_size(r, "min", 0, 1, 1, st->R_max, &st->R_min, err);
    if (!rc) rc = kpf_cfg_double(r, "rel_tol", 0, 0.2, 0, 1e9, &st->rel_tol, err);
    if (!rc) rc = kpf_cfg_double(r, "abs_tol", 0, 0.0, 0, 1e9, &st->abs_tol, err);
    return rc;
}

/* ---- data ---------------------------------------------------------------------- */

static int load_file(const kpf_node *data, ltr_study *st, kpf_error *err)
{
    const char *p = NULL;
    int rc = kpf_cfg_string(data, "file", KPF_CFG_REQUIRED, NULL, &p, err);
    const kpf_node *fn = kpf_node_get(data, "file");
    if (!rc && !p[0])
        return kpf_node_error(fn, err, "expected the path of an HDF5 file");
    if (!rc) rc = kpf_node_file_path(fn, &st->file, err);
    kpf_error e;
    kpf_error_clear(&e);
    int rc2 = rc ? rc : kpf_ltr_data_read(st->file, &st->d, &e);
    if (!rc && rc2)
        rc = rc2 == KPF_ENOMEM ? kpf_error_set(err, rc2, "%s", e.msg)
                               : kpf_node_error(fn, err, "%s", e.msg);
    return rc;
}

static int parse_teacher(const kpf_node *t, uint64_t seed, size_t dims[3], ltr_study *st,
                         kpf_error *err)
{
    kpf_ltr_spec *s = &st->tspec;
    kpf_ltr_teacher_opts *o = &st->topts;
    *s = st->model;
    kpf_ltr_teacher_opts_default(o);
    int orth = o->orthonormal;
    int rc = kpf_cfg_size(t, "rank", KPF_CFG_REQUIRED, 3, 1, 64, &s->rank, err);
    if (!rc) rc = kpf_cfg_size(t, "n", 0, st->model.n, 1, 100000, &s->n, err);
    if (!rc) rc = kpf_cfg_size(t, "neurons", 0, 20, 1, 1000000, &dims[0], err);
    if (!rc) rc = kpf_cfg_size(t, "bins", 0, 30, 1, 1000000, &dims[1], err);
    if (!rc) rc = kpf_cfg_size(t, "trials", 0, 40, 1, 1000000, &dims[2], err);
    if (!rc) rc = parse_dynamics(t, &st->model, s, err);
    if (!rc) rc = kpf_cfg_double(t, "noise", 0, o->noise, 0, 1e9, &o->noise, err);
    if (!rc) rc = kpf_cfg_double(t, "c_offset", 0, o->c_offset, -1e9, 1e9, &o->c_offset, err);
    if (!rc) rc = kpf_cfg_bool(t, "orthonormal", 0, orth, &orth, err);
    if (!rc) rc = kpf_cfg_u64(t, "seed", 0, seed, &o->seed, err);
    o->orthonormal = orth;
    s->smooth = 1;      /* the teacher always has smooth trial factors */
    s->c_mean = 0;      /* its offset is c_offset                      */
    if (!rc && orth && s->rank > s->n)
        rc = kpf_node_error(kpf_node_get(t, "rank"), err,
                            "%zu orthonormal factors do not fit in n = %zu units", s->rank,
                            s->n);
    return rc;
}

static int simulate_teacher(const kpf_node *t, const kpf_plugin *ltr, const size_t dims[3],
                            ltr_study *st, kpf_error *err)
{
    kpf_error e;
    kpf_error_clear(&e);
    st->tspec.K = dims[2];
    int rc = kpf_ltr_data_alloc(dims[0], dims[1], dims[2], 0, 1, &st->d, err);
    if (!rc && (rc = kpf_ltr_teacher(ltr, &st->tspec, st->d, &st->fit, &st->topts, &st->theta_t,
                                     &st->m_t, &e)))
        rc = rc == KPF_ENOMEM ? kpf_error_set(err, rc, "%s", e.msg)
                              : kpf_node_error(t, err, "teacher: %s", e.msg);
    return rc;
}

/* Exactly one of `file:` and `teacher:`. */
static int parse_data(const kpf_node *lf, uint64_t seed, ltr_study *st,
                      const kpf_node **teacher, size_t dims[3], kpf_error *err)
{
    const kpf_node *data = NULL;
    int rc = kpf_cfg_map(lf, "data", KPF_CFG_REQUIRED, &data, err);
    if (rc)
        return rc;
    const kpf_node *file = kpf_node_get(data, "file");
    *teacher = kpf_node_get(data, "teacher");
    if (!file == !*teacher)
        return kpf_node_error(data, err, "give exactly one of `file: PATH` (HDF5 with /Y) and "
                                         "`teacher: {rank, …}` (got %s)",
                              file ? "both" : "neither");
    st->teacher = *teacher != NULL;
    if (file)
        return load_file(data, st, err);
    const kpf_node *t = NULL;
    rc = kpf_cfg_map(data, "teacher", KPF_CFG_REQUIRED, &t, err);
    return rc ? rc : parse_teacher(t, seed, dims, st, err);
}

/* ---- checks that need the data ------------------------------------------------ */

/* At least one block of every neuron must be held out, or there is nothing
 * to score. */
static int make_masks(const kpf_node *lf, ltr_study *st, kpf_error *err)
{
    const kpf_ltr_data *d = st->d;
    const kpf_ltr_cv_opts *o = &st->cv;
    const size_t nb = ((d->T + o->block_t - 1) / o->block_t) *
                      ((d->K + o->block_k - 1) / o->block_k);
    const kpf_node *cv = kpf_node_get(lf, "cv");
    if (lround(o->frac * (double)nb) < 1)
        return kpf_node_error(cv ? cv : lf, err,
                              "frac × blocks per neuron = %g × %zu holds out no block (data: "
                              "%zu bins × %zu trials); use smaller blocks or a larger frac",
                              o->frac, nb, d->T, d->K);
    const size_t NE = d->N * d->T * d->K;
    st->train = malloc(NE * sizeof(double));
    st->test = malloc(NE * sizeof(double));
    if (!st->train || !st->test)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory (masks of %zu entries)", NE);
    return kpf_ltr_cv_masks(d->N, d->T, d->K, o, st->train, st->test, err);
}

/* Create the largest student once, so a kernel that is not positive
 * definite for this many trials is reported before any fitting. */
static int probe_model(const kpf_node *lf, const kpf_plugin *ltr, ltr_study *st,
                       kpf_error *err)
{
    kpf_ltr_spec s = st->model;
    s.rank = st->R_max;
    s.K = st->d->K;
    kpf_model *m = NULL;
    kpf_error e;
    kpf_error_clear(&e);
    int rc = kpf_ltr_model_create(ltr, &s, st->d->n_in, st->d->N, st->fit.seed, &m, &e);
    kpf_model_free(m);
    if (rc == KPF_ENOMEM)
        return kpf_error_set(err, rc, "%s", e.msg);
    const kpf_node *mn = kpf_node_get(lf, "model");
    return rc ? kpf_node_error(mn ? mn : lf, err, "%s", e.msg) : KPF_OK;
}

/* fit.init: teacher needs a teacher whose θ a student of rank R* can
 * start from: the same units, time constants, activation and kernel. */
static int check_init(const kpf_node *lf, const ltr_study *st, kpf_error *err)
{
    if (!st->init_teacher)
        return KPF_OK;
    const kpf_node *at = kpf_node_get(kpf_node_get(lf, "fit"), "init");
    const kpf_ltr_spec *s = &st->model, *t = &st->tspec;
    if (!st->teacher)
        return kpf_node_error(at, err, "`init: teacher` needs `data: {teacher: …}`");
    if (s->n != t->n || s->tau != t->tau || s->dt != t->dt || s->act != t->act ||
        !s->smooth || s->length != t->length || s->scale != t->scale ||
        s->jitter != t->jitter)
        return kpf_node_error(at, err,
                              "`init: teacher` starts the rank-%zu student at the teacher's "
                              "θ: the model needs the teacher's n, tau, dt, activation and "
                              "kernel (smooth, length, scale, jitter)",
                              t->rank);
    if (t->rank < st->R_min || t->rank > st->R_max)
        return kpf_node_error(at, err, "`init: teacher` needs R* = %zu among the ranks %zu … %zu",
                              t->rank, st->R_min, st->R_max);
    return KPF_OK;
}

/* Read and validate the whole config, then load or simulate the data and
 * draw the masks: after this nothing the config says can fail. */
static int study_parse(kpf_config *cfg, const kpf_plugin *ltr, ltr_study *st, kpf_error *err)
{
    memset(st, 0, sizeof *st);
    st->source = kpf_config_source(cfg);
    const kpf_node *root = kpf_config_root(cfg), *lf = NULL, *teacher = NULL;
    uint64_t seed = 0;
    size_t dims[3] = {0};
    int rc = kpf_cfg_u64(root, "seed", 0, 0, &seed, err);
    if (!rc) rc = kpf_cfg_size(root, "threads", 0, 0, 0, 4096, &st->threads, err);
    if (!rc) rc = kpf_cfg_map(root, "ltr_fit", KPF_CFG_REQUIRED, &lf, err);
    if (!rc) rc = parse_model(lf, &st->model, err);
    if (!rc) rc = parse_fit(lf, seed, &st->fit, &st->init_teacher, err);
    if (!rc) rc = parse_cv(lf, seed, &st->cv, err);
    if (!rc) rc = parse_ranks(lf, st, err);
    if (!rc) rc = parse_data(lf, seed, st, &teacher, dims, err);
    if (!rc) rc = check_init(lf, st, err);
    if (!rc) rc = kpf_config_check_unused(cfg, err);
    if (!rc && teacher) rc = simulate_teacher(teacher, ltr, dims, st, err);
    if (!rc) rc = make_masks(lf, st, err);
    if (!rc) rc = probe_model(lf, ltr, st, err);
    if (rc)
        study_free(st);
    return rc;
}

int kpf_ltr_study_check(kpf_config *cfg, const kpf_plugin *ltr, kpf_error *err)
{
    ltr_study st;
    int rc = study_parse(cfg, ltr, &st, err);
    if (!rc)
        study_free(&st);
    return rc;
}

/* ---- the sweep ----------------------------------------------------------------- */

/* UV of the noiseless teacher against the data: the floor a perfect fit
 * reaches on each mask. */
static int teacher_uv(const kpf_plugin *ltr, const ltr_study *st, ltr_sweep *sw, kpf_error *err)
{
    sw->teacher_train_uv = sw->teacher_test_uv = sw->teacher_train_loss = NAN;
    if (!st->teacher)
        return KPF_OK;
    kpf_model *m = NULL;
    kpf_ltr_problem *p = NULL;
    double loss;
    int rc = kpf_ltr_model_create(ltr, &st->tspec, st->d->n_in, st->d->N, 0, &m, err);
    if (!rc) {
        memcpy(m->theta, st->theta_t, st->m_t * sizeof(double));
        rc = kpf_model_theta_changed(m, err);
    }
    if (!rc) rc = kpf_ltr_problem_alloc(m, st->d, NULL, &st->fit, &p, err);
    if (!rc) rc = kpf_ltr_problem_loss(p, &loss, NULL, err);
    if (!rc) {
        const kpf_ltr_data *d = st->d;
        const double *pred = kpf_ltr_problem_pred(p);
        sw->teacher_train_uv = kpf_ltr_uv(d->N, d->T, d->K, d->Y, pred, st->train);
        sw->teacher_test_uv = kpf_ltr_uv(d->N, d->T, d->K, d->Y, pred, st->test);
    }
    kpf_ltr_problem_free(p);
    p = NULL;
    /* the fits' own objective at the teacher: train mask, M by least
     * squares as the fits have it (MSE) */
    if (!rc) rc = kpf_ltr_problem_alloc(m, st->d, st->train, &st->fit, &p, err);
    if (!rc && st->fit.solve_readout && st->fit.loss == KPF_LTR_MSE)
        rc = kpf_ltr_problem_solve_readout(p, st->tspec.act, 1e-6, err);
    if (!rc) rc = kpf_ltr_problem_loss(p, &sw->teacher_train_loss, NULL, err);
    kpf_ltr_problem_free(p);
    kpf_model_free(m);
    return rc;
}

static void sweep_free(ltr_sweep *sw)
{
    for (size_t r = 0; sw->fits && r < sw->R_max - sw->R_min + 1; r++)
        kpf_ltr_fit_result_free(&sw->fits[r]);
    free(sw->fits);
    free(sw->seconds);
    free(sw->restart);
}

/* Fit every rank afresh (kpf_ltr_rank_sweep without dropping θ), then the
 * plateau rule. */
static int sweep(const kpf_plugin *ltr, const ltr_study *st, ltr_sweep *sw, kpf_error *err)
{
    sw->R_min = st->R_min;
    sw->R_max = st->R_max;
    const size_t nR = sw->R_max - sw->R_min + 1;
    sw->fits = calloc(nR, sizeof *sw->fits);
    sw->seconds = calloc(nR, sizeof(double));
    double *uv = malloc(nR * sizeof(double));
    int rc = sw->fits && sw->seconds && uv ? KPF_OK
                                           : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t R = sw->R_min; !rc && R <= sw->R_max; R++) {
        kpf_ltr_spec s = st->model;
        s.rank = R;
        kpf_ltr_fit_opts o = st->fit;
        o.theta_init = st->init_teacher && R == st->tspec.rank ? st->theta_t : NULL;
        double t0 = now();
        rc = kpf_ltr_fit(ltr, &s, st->d, st->train, st->test, &o, &sw->fits[R - sw->R_min],
                         err);
        if (rc)
            kpf_error_prefix(err, rc, "ltr_fit: rank %zu: ", R);
        sw->seconds[R - sw->R_min] = now() - t0;
        uv[R - sw->R_min] = sw->fits[R - sw->R_min].test_uv;
    }
    if (!rc) {
        double mn = INFINITY;
        for (size_t r = 0; r < nR; r++)
            mn = fmin(mn, uv[r]);
        sw->threshold = (1 + st->rel_tol) * mn + st->abs_tol;
        sw->chosen = sw->R_min - 1 + kpf_ltr_plateau(uv, nR, st->rel_tol, st->abs_tol);
    }
    free(uv);
    return rc;
}

/* Kruskal ranks and singular values of the teacher's factors, and the
 * match of every rank-R* restart with the teacher (kpf_ltr_match). */
static int recovery(const kpf_plugin *ltr, const ltr_study *st, ltr_sweep *sw, kpf_error *err)
{
    const kpf_ltr_spec *t = &st->tspec;
    const size_t R = t->rank, n = t->n, K = st->d->K;
    if (!st->teacher || R > 64 || R < sw->R_min || R > sw->R_max)
        return KPF_OK;
    const kpf_ltr_fit_result *f = &sw->fits[R - sw->R_min];
    kpf_ltr_spec s = st->model;
    s.rank = R;
    kpf_cp tc, fc;
    memset(&tc, 0, sizeof tc);
    double *a = malloc(R * n * sizeof(double)), *b = malloc(R * n * sizeof(double));
    double *C = malloc(R * K * sizeof(double));
    sw->restart = calloc(f->restarts, sizeof *sw->restart);
    int rc = a && b && C && sw->restart ? KPF_OK
                                        : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (!rc) rc = kpf_ltr_factors_of(ltr, t, 0, st->d->N, st->theta_t, st->m_t, a, b, C, err);
    if (!rc) {
        sw->kruskal[0] = kpf_ltr_kruskal_rank(a, R, n, 1e-6);
        sw->kruskal[1] = kpf_ltr_kruskal_rank(b, R, n, 1e-6);
        sw->kruskal[2] = kpf_ltr_kruskal_rank(C, R, K, 1e-6);
        rc = kpf_ltr_factor_sv(C, R, K, 0, sw->c_sv, err);
    }
    if (!rc) rc = kpf_ltr_factor_sv(C, R, K, 1, sw->c_centred_sv, err);
    if (!rc) rc = kpf_ltr_components(ltr, t, st->d, &st->fit, st->theta_t, st->m_t, &tc, err);
    if (!rc) rc = kpf_ltr_components(ltr, &s, st->d, &st->fit, f->theta, f->m, &fc, err);
    if (!rc) {
        rc = kpf_ltr_match_components(&tc, &fc, &sw->kept, err);
        kpf_cp_free(&fc);
    }
    for (size_t r = 0; !rc && r < f->restarts; r++) {
        sw->restart[r].score = NAN;
        if (isnan(f->restart_loss[r]))
            continue;
        rc = kpf_ltr_components(ltr, &s, st->d, &st->fit, f->restart_theta + r * f->m, f->m,
                                &fc, err);
        if (!rc) rc = kpf_ltr_match_components(&tc, &fc, &sw->restart[r], err);
        kpf_cp_free(&fc);
    }
    sw->matched = !rc;
    if (rc)
        kpf_error_prefix(err, rc, "ltr_fit: recovery of the teacher's components: ");
    kpf_cp_free(&tc);
    free(a);
    free(b);
    free(C);
    return rc;
}

static int write_outputs(const char *dir, const kpf_plugin *ltr, const ltr_study *st,
                         ltr_sweep *sw, kpf_error *err)
{
    double corr[64];
    for (size_t r = 0; r < 64; r++)
        corr[r] = NAN;
    int rc = kpf_ltr_study_write_sweep(dir, st, sw, err);
    if (!rc) rc = kpf_ltr_study_write_fits(dir, ltr, st, sw, err);
    if (!rc) rc = kpf_ltr_study_write_factors(dir, ltr, st, sw, corr, err);
    if (!rc) rc = kpf_ltr_study_write_summary(dir, st, sw, corr, err);
    return rc;
}

int kpf_ltr_study_run(kpf_config *cfg, const kpf_plugin *ltr, const char *out_dir,
                      kpf_error *err)
{
    const double t0 = now();
    ltr_study st;
    ltr_sweep sw;
    memset(&sw, 0, sizeof sw);
    int rc = study_parse(cfg, ltr, &st, err);
    if (rc)
        return rc;
    if (st.threads) /* as the experiment runner: OpenBLAS's own setting */
        kpf_blas_set_threads((int)st.threads);
    sw.data_seconds = now() - t0;
    if (st.teacher) {
        char path[4200];
        snprintf(path, sizeof path, "%s/data.h5", out_dir);
        rc = kpf_ltr_data_write(path, st.d, err);
    }
    if (!rc) rc = teacher_uv(ltr, &st, &sw, err);
    if (!rc) rc = sweep(ltr, &st, &sw, err);
    sw.total_seconds = now() - t0;
    if (!rc) rc = recovery(ltr, &st, &sw, err);
    if (!rc) rc = write_outputs(out_dir, ltr, &st, &sw, err);
    sweep_free(&sw);
    study_free(&st);
    return rc;
}

/* ---- the study descriptor (kpf/study.h) ----------------------------------------- */

/* The fits are networks of the `ltr` model plugin, found by name. */
static int find_ltr(const kpf_registry *reg, const kpf_plugin **p, kpf_error *err)
{
    int rc = kpf_registry_find(reg, "ltr", p, err);
    return rc ? kpf_error_prefix(err, rc, "the ltr_fit study fits the ltr plugin: ") : rc;
}

static int study_check(kpf_config *cfg, const kpf_registry *reg, kpf_error *err)
{
    const kpf_plugin *p = NULL;
    int rc = find_ltr(reg, &p, err);
    return rc ? rc : kpf_ltr_study_check(cfg, p, err);
}

static int study_run(kpf_config *cfg, const kpf_registry *reg, const char *out_dir,
                     kpf_error *err)
{
    const kpf_plugin *p = NULL;
    int rc = find_ltr(reg, &p, err);
    return rc ? rc : kpf_ltr_study_run(cfg, p, out_dir, err);
}

static const kpf_study_desc ltr_fit_study = {
    KPF_STUDY_DESC_HEAD,
    .name = "ltr_fit",
    .summary = "rank sweep of ltr fits to an HDF5 tensor or a synthetic teacher (blocked CV)",
    .check = study_check,
    .run = study_run,
};

const kpf_study_desc *kpf_ltr_study_descriptor(uint32_t index)
{
    return index == 0 ? &ltr_fit_study : NULL;
}
