/* KPFlow's multi-task decomposition (kpf/interference.h): the interference
 * matrix and the Rayleigh alignment from S matrix-free columns
 * P K Π_j P* Err, the task-alignment cosine of matched trials, and filtered
 * means of S×S matrices. */
#include "kpf/interference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/kpflow.h"
#include "kpf/operator.h"

/* The trials of each group in batch order: idx[off[g] … off[g+1]). */
typedef struct groups {
    size_t S, *off, *idx, *all;
} groups;

static void groups_free(groups *g)
{
    free(g->off);
    free(g->idx);
    free(g->all);
}

static int groups_make(size_t S, const int *group, size_t B, groups *g, kpf_error *err)
{
    *g = (groups){.S = S};
    g->off = calloc(S + 1, sizeof(size_t));
    g->idx = malloc(B * sizeof(size_t));
    g->all = malloc(B * sizeof(size_t));
    if (!g->off || !g->idx || !g->all)
        return kpf_error_set(err, KPF_ENOMEM, "interference: out of memory");
    for (size_t b = 0; b < B; b++) {
        if (group[b] < 0 || (size_t)group[b] >= S)
            return kpf_error_set(err, KPF_EINVAL,
                                 "interference: trial %zu is in group %d, not in 0 … %zu", b,
                                 group[b], S - 1);
        g->off[group[b] + 1]++;
        g->all[b] = b;
    }
    for (size_t i = 0; i < S; i++) {
        if (!g->off[i + 1])
            return kpf_error_set(err, KPF_EINVAL,
                                 "interference: group %zu has no trials among the %zu", i, B);
        g->off[i + 1] += g->off[i];
    }
    size_t *fill = calloc(S, sizeof(size_t));
    if (!fill)
        return kpf_error_set(err, KPF_ENOMEM, "interference: out of memory");
    for (size_t b = 0; b < B; b++)
        g->idx[g->off[group[b]] + fill[group[b]]++] = b;
    free(fill);
    return KPF_OK;
}

static size_t gcount(const groups *g, size_t i) { return g->off[i + 1] - g->off[i]; }
static const size_t *gidx(const groups *g, size_t i) { return g->idx + g->off[i]; }

/* Σ over steps, paired trials r and units of u at trials iu[r] times v at
 * trials iv[r] (both [T][B][n]). */
static double paired_dot(const double *u, const double *v, const size_t *iu, const size_t *iv,
                         size_t cnt, size_t B, size_t T, size_t n)
{
    double acc = 0.0;
    for (size_t t = 0; t < T; t++)
        for (size_t r = 0; r < cnt; r++) {
            const double *a = u + (t * B + iu[r]) * n, *b = v + (t * B + iv[r]) * n;
            for (size_t k = 0; k < n; k++)
                acc += a[k] * b[k];
        }
    return acc;
}

/* The restricted layout [T][cnt][n] of group trials idx from full [T][B][n]. */
static void gather(const double *full, const size_t *idx, size_t cnt, size_t B, size_t T,
                   size_t n, double *out)
{
    for (size_t t = 0; t < T; t++)
        for (size_t r = 0; r < cnt; r++)
            memcpy(out + (t * cnt + r) * n, full + (t * B + idx[r]) * n, n * sizeof(double));
}

static double cosine(double uv, double uu, double vv)
{
    return uu > 0.0 && vv > 0.0 ? uv / sqrt(uu * vv) : NAN;
}

typedef struct work {
    kpf_op *P, *K, *Kj;
    double *a, *aj, *u, *cols; /* N, N, N, S·N */
} work;

static void work_free(work *w)
{
    kpf_op_free(w->Kj);
    kpf_op_free(w->K);
    kpf_op_free(w->P);
    free(w->a);
    free(w->aj);
    free(w->u);
    free(w->cols);
}

/* Column j: cols_j = P K S_jᵀ a_j, u = K S_jᵀ a_j; R's column from u. */
static int column(work *w, const groups *g, size_t j, const kpf_traj *tr, double *R,
                  kpf_error *err)
{
    const size_t B = tr->B, T = tr->T, n = tr->n, N = B * T * n, cj = gcount(g, j);
    gather(w->a, gidx(g, j), cj, B, T, n, w->aj);
    int rc = kpf_op_restrict_trials(w->K, g->all, B, gidx(g, j), cj, &w->Kj, err);
    if (!rc) rc = kpf_op_apply(w->Kj, w->aj, w->u, err);
    if (!rc) rc = kpf_op_apply(w->P, w->u, w->cols + j * N, err);
    kpf_op_free(w->Kj);
    w->Kj = NULL;
    if (rc || !R)
        return rc;
    double aa = paired_dot(w->a, w->a, gidx(g, j), gidx(g, j), cj, B, T, n);
    for (size_t i = 0; i < g->S; i++)
        R[i * g->S + j] = gcount(g, i) != cj || !(aa > 0.0)
                              ? NAN
                              : paired_dot(w->u, w->a, gidx(g, i), gidx(g, j), cj, B, T, n) / aa;
    return KPF_OK;
}

/* M and ‖δz_ij‖ from the S columns. */
static void cosines(const work *w, const groups *g, const kpf_traj *tr, double weight,
                    double *M, double *dz_norm)
{
    const size_t S = g->S, B = tr->B, T = tr->T, n = tr->n, N = B * T * n;
    for (size_t i = 0; i < S; i++) {
        const size_t *ii = gidx(g, i), ci = gcount(g, i);
        const double *dii = w->cols + i * N;
        double nii = paired_dot(dii, dii, ii, ii, ci, B, T, n);
        for (size_t j = 0; j < S; j++) {
            const double *dij = w->cols + j * N;
            double nij = paired_dot(dij, dij, ii, ii, ci, B, T, n);
            if (M)
                M[i * S + j] = cosine(paired_dot(dii, dij, ii, ii, ci, B, T, n), nii, nij);
            if (dz_norm)
                dz_norm[i * S + j] = sqrt(weight * nij);
        }
    }
}

int kpf_interference(kpf_model *m, const kpf_traj *tr, const double *errv, size_t S,
                     const int *group, double *M, double *R, double *dz_norm, kpf_error *err)
{
    if (!m || !tr || !errv || !group || S == 0)
        return kpf_error_set(err, KPF_EINVAL, "kpf_interference: NULL argument or S = 0");
    const size_t N = tr->B * tr->T * tr->n;
    groups g;
    work w = {0};
    int rc = groups_make(S, group, tr->B, &g, err);
    if (!rc) rc = kpf_op_propagator(m, tr, &w.P, err);
    if (!rc) rc = kpf_op_param(m, tr, &w.K, err);
    if (!rc) {
        w.a = malloc(N * sizeof(double));
        w.aj = malloc(N * sizeof(double));
        w.u = malloc(N * sizeof(double));
        w.cols = malloc(S * N * sizeof(double));
        if (!w.a || !w.aj || !w.u || !w.cols)
            rc = kpf_error_set(err, KPF_ENOMEM, "interference: cannot hold %zu columns of "
                                                "%zu values", S, N);
    }
    /* a = P* Err; P* is block-diagonal, so a restricted to group j is P_j* Err_j. */
    if (!rc) rc = kpf_op_apply_adjoint(w.P, errv, w.a, err);
    for (size_t j = 0; !rc && j < S; j++)
        rc = column(&w, &g, j, tr, R, err);
    if (!rc)
        cosines(&w, &g, tr, kpf_traj_space(tr).weight, M, dz_norm);
    work_free(&w);
    groups_free(&g);
    return rc;
}

void kpf_task_alignment(size_t S, size_t B, size_t T, size_t n, const double *z, double *A)
{
    const size_t R = B / S;
    for (size_t i = 0; i < S; i++)
        for (size_t j = 0; j < S; j++) {
            double ij = 0, ii = 0, jj = 0;
            for (size_t t = 0; t < T; t++)
                for (size_t r = 0; r < R; r++) {
                    const double *a = z + (t * B + i * R + r) * n, *b = z + (t * B + j * R + r) * n;
                    for (size_t k = 0; k < n; k++) {
                        ij += a[k] * b[k];
                        ii += a[k] * a[k];
                        jj += b[k] * b[k];
                    }
                }
            A[i * S + j] = cosine(ij, ii, jj);
        }
}

double kpf_filter_mean(size_t S, const double *F, const double *X)
{
    double sum = 0.0, count = 0.0;
    for (size_t i = 0; i < S * S; i++)
        if (F[i] != 0.0) {
            sum += F[i] * X[i];
            count += F[i];
        }
    return count > 0.0 ? sum / count : NAN;
}
