/* The `pca` analysis: principal components of the hidden states over all
 * analysis trials and steps at every snapshot — the effective dimension at
 * 95% variance, and the first three component scores for the figures
 * pca_iter<i>.png at the first and last snapshot.  Only the observed
 * components of the state enter (kpf_model_observed: hh's V, not its
 * gates; every component for most models). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>

#include "builtin_analyses.h"
#include "gsl_quiet.h"
#include "kpf/blas.h"
#include "kpf/linalg.h"
#include "kpf/plot.h"

/* Slot 0: the first snapshot, slot 1: the latest (figures, sweep scalars). */
typedef struct pca {
    size_t n, B, T;            /* n: observed components                  */
    size_t n_state;            /* the whole state's size                  */
    size_t *obs;               /* the observed indices (n of them)        */
    double *zc, *cov, *sv;     /* B·T×n centred states, n×n covariance, n */
    gsl_vector *ev;            /* eigen decomposition, made once          */
    gsl_matrix *V;
    gsl_eigen_symmv_workspace *w;
    double *pcs[2];            /* B·T×3 component scores, step-major      */
    double effdim[2];
    size_t iteration[2];
    size_t n_seen;
} pca;

static void destroy(void *self)
{
    pca *p = self;
    if (!p)
        return;
    free(p->obs);
    free(p->zc);
    free(p->cov);
    free(p->sv);
    if (p->ev) gsl_vector_free(p->ev);
    if (p->V) gsl_matrix_free(p->V);
    if (p->w) gsl_eigen_symmv_free(p->w);
    free(p->pcs[0]);
    free(p->pcs[1]);
    free(p);
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    if (node && kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map (pca takes no settings: {})");
    pca *p = calloc(1, sizeof *p);
    if (!p)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    const size_t *obs = kpf_model_observed(setup->model, &p->n, err);
    if (!p->n) {
        destroy(p);
        return KPF_EPLUGIN;
    }
    p->n_state = setup->model->n;
    if (!(p->obs = malloc(p->n * sizeof *p->obs))) {
        destroy(p);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n; i++)
        p->obs[i] = obs ? obs[i] : i;
    p->B = setup->trials;
    p->T = setup->steps;
    size_t n = p->n, R = p->B * p->T;
    p->zc = malloc(R * n * sizeof(double));
    p->cov = malloc(n * n * sizeof(double));
    p->sv = malloc(n * sizeof(double));
    p->pcs[0] = calloc(R * 3, sizeof(double));
    p->pcs[1] = calloc(R * 3, sizeof(double));
    gsl_error_handler_t *quiet = kpf_internal_gsl_quiet();
    p->ev = gsl_vector_alloc(n);
    p->V = gsl_matrix_alloc(n, n);
    p->w = gsl_eigen_symmv_alloc(n);
    kpf_internal_gsl_restore(quiet);
    p->effdim[0] = p->effdim[1] = NAN;
    if (!p->zc || !p->cov || !p->sv || !p->pcs[0] || !p->pcs[1] || !p->ev || !p->V || !p->w) {
        destroy(p);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the PCA analysis");
    }
    *self = p;
    return KPF_OK;
}

/* Centre the states and form their covariance (unnormalised: the effective
 * dimension is scale-free). */
static void covariance(pca *p, const kpf_traj *tr)
{
    size_t n = p->n, N = p->n_state, R = tr->B * tr->T;
    for (size_t i = 0; i < n; i++) {
        const double *z = tr->z + p->obs[i];
        double mu = 0;
        for (size_t r = 0; r < R; r++)
            mu += z[r * N];
        mu /= (double)R;
        for (size_t r = 0; r < R; r++)
            p->zc[r * n + i] = z[r * N] - mu;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)R, 1.0, p->zc,
                (int)n, p->zc, (int)n, 0.0, p->cov, (int)n);
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    pca *p = self;
    int slot = s->index == 0 ? 0 : 1;
    size_t n = p->n, R = s->traj->B * s->traj->T;
    p->iteration[slot] = s->iteration;
    p->n_seen = s->index + 1;
    covariance(p, s->traj);
    gsl_matrix_view C = gsl_matrix_view_array(p->cov, n, n);
    gsl_error_handler_t *quiet = kpf_internal_gsl_quiet();
    int st = gsl_eigen_symmv(&C.matrix, p->ev, p->V, p->w);
    if (!st)
        st = gsl_eigen_symmv_sort(p->ev, p->V, GSL_EIGEN_SORT_VAL_DESC);
    kpf_internal_gsl_restore(quiet);
    if (st)
        return kpf_error_set(err, KPF_ENUMERIC, "PCA eigensolver failed (%s)",
                             gsl_strerror(st));
    for (size_t i = 0; i < n; i++)
        p->sv[i] = sqrt(fmax(gsl_vector_get(p->ev, i), 0.0));
    int rc = kpf_effrank(p->sv, n, 0.0, 0.95, &p->effdim[slot], err);
    double *pc = p->pcs[slot];
    for (size_t r = 0; !rc && r < R; r++)
        for (size_t c = 0; c < 3; c++) {
            double sum = 0;
            for (size_t i = 0; c < n && i < n; i++)
                sum += p->zc[r * n + i] * gsl_matrix_get(p->V, i, c);
            pc[r * 3 + c] = sum;
        }
    if (!rc)
        rc = kpf_snapshot_scalar(s, "pca_effdim", p->effdim[slot], err);
    return rc;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    const pca *p = self;
    const char *const nm[2] = {"pca_effdim_initial", "pca_effdim"};
    double val[2] = {p->n_seen ? p->effdim[0] : NAN,
                     p->n_seen ? p->effdim[p->n_seen > 1] : NAN};
    for (size_t i = 0; i < 2 && i < cap; i++) {
        names[i] = nm[i];
        v[i] = val[i];
    }
    return 2;
}

/* The hidden trajectories in the plane of their first two components, at
 * the first and the last snapshot. */
static int plot(const void *self, const kpf_analysis_plot *pl, kpf_error *err)
{
    const pca *p = self;
    int first = KPF_OK;
    for (int slot = 0; slot < 2 && slot < (int)p->n_seen; slot++) {
        char stem[4400], title[256];
        snprintf(stem, sizeof stem, "%s/pca_iter%zu", pl->dir, p->iteration[slot]);
        snprintf(title, sizeof title, "hidden states, iteration %zu (PCA dim %.1f)",
                 p->iteration[slot], p->effdim[slot]);
        kpf_error e;
        kpf_error_clear(&e);
        int rc = kpf_plot_pca(stem, title, p->B, p->T, p->pcs[slot], pl->batch->period,
                              pl->task->type->period_names, &e);
        if (rc && !first)
            first = kpf_error_set(err, rc, "%s", e.msg);
    }
    return first;
}

const kpf_analysis_desc kpf_analysis_pca = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "pca",
    .summary = "PCA of the hidden states: effective dimension at 95% variance",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
    .plot = plot,
};
