/* The fixed-point finder's minimiser (kpf/fixed_points.h): Levenberg–
 * Marquardt on q(z) = ½‖r(z)‖² for all candidates at once, each step
 * (J_rᵀ J_r + μ I) δ = −J_rᵀ r solved by conjugate gradients on the batched
 * J_r·v and J_rᵀ·w, μ adapted per candidate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fp_internal.h"

#define MU0 1e-2
#define MU_MIN 1e-15
#define MU_MAX 1e12
#define CG_RTOL 1e-10

kpf_fp_opts kpf_fp_opts_default(void)
{
    return (kpf_fp_opts){.max_iter = 200, .cg_iter = 0, .max_step = INFINITY, .q_stop = 1e-28,
                         .fixed_tol = 1e-12,
                         .slow_tol = 1e-4, .unique_tol = 1e-3, .stab_tol = 1e-6,
                         .dense_max = 512, .n_eigs = 10, .n_vectors = 3, .trial = 0,
                         .seed = 0};
}

/* R×n blocks and per-candidate scalars of one search. */
typedef struct lm_ws {
    size_t R, n;
    double *r, *g, *d, *res, *p, *Ap, *Jp, *ztry, *rtry; /* R×n */
    double *mu, *rr, *gn, *qtry;                         /* R   */
    unsigned char *active, *cg_live;
} lm_ws;

static void ws_free(lm_ws *w)
{
    double *blocks[] = {w->r, w->g, w->d, w->res, w->p, w->Ap, w->Jp, w->ztry, w->rtry,
                        w->mu, w->rr, w->gn, w->qtry};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        free(blocks[i]);
    free(w->active);
    free(w->cg_live);
}

static int ws_alloc(lm_ws *w, size_t R, size_t n, kpf_error *err)
{
    *w = (lm_ws){.R = R, .n = n};
    double **blocks[] = {&w->r, &w->g, &w->d, &w->res, &w->p, &w->Ap, &w->Jp, &w->ztry,
                         &w->rtry};
    int ok = 1;
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        ok = ok && (*blocks[i] = malloc(R * n * sizeof(double)));
    w->mu = malloc(R * sizeof(double));
    w->rr = malloc(R * sizeof(double));
    w->gn = malloc(R * sizeof(double));
    w->qtry = malloc(R * sizeof(double));
    w->active = malloc(R);
    w->cg_live = malloc(R);
    if (ok && w->mu && w->rr && w->gn && w->qtry && w->active && w->cg_live)
        return KPF_OK;
    ws_free(w);
    return kpf_error_set(err, KPF_ENOMEM, "fixed points: cannot hold %zu candidates of %zu", R,
                         n);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double half_sq(const double *r, size_t n)
{
    double s = 0.5 * dot(r, r, n);
    return isfinite(s) ? s : INFINITY;
}

/* δ (w->d) for every live row: CG on (J_rᵀ J_r + μ I) δ = −g. */
static int cg_solve(fp_rows *fr, lm_ws *w, size_t iters, kpf_fp_stats *st, kpf_error *err)
{
    const size_t R = w->R, n = w->n;
    size_t live = 0;
    for (size_t i = 0; i < R; i++) {
        double *res = w->res + i * n, *p = w->p + i * n;
        memset(w->d + i * n, 0, n * sizeof(double));
        for (size_t k = 0; k < n; k++)
            res[k] = p[k] = -w->g[i * n + k];
        w->rr[i] = dot(res, res, n);
        w->gn[i] = sqrt(w->rr[i]);
        w->cg_live[i] = w->active[i] && w->gn[i] > 0.0;
        live += w->cg_live[i];
    }
    for (size_t it = 0; it < iters && live; it++) {
        int rc = kpf_internal_fp_jr(fr, w->p, w->Jp, err);
        if (!rc) rc = kpf_internal_fp_jrT(fr, w->Jp, w->Ap, err);
        if (rc)
            return rc;
        st->n_jz++;
        st->n_jzT++;
        live = 0;
        for (size_t i = 0; i < R; i++) {
            if (!w->cg_live[i])
                continue;
            double *p = w->p + i * n, *Ap = w->Ap + i * n, *res = w->res + i * n;
            for (size_t k = 0; k < n; k++)
                Ap[k] += w->mu[i] * p[k];
            double pAp = dot(p, Ap, n), alpha = w->rr[i] / pAp;
            if (!(pAp > 0.0) || !isfinite(alpha)) {
                w->cg_live[i] = 0;
                continue;
            }
            for (size_t k = 0; k < n; k++) {
                w->d[i * n + k] += alpha * p[k];
                res[k] -= alpha * Ap[k];
            }
            double rr = dot(res, res, n), beta = rr / w->rr[i];
            w->rr[i] = rr;
            for (size_t k = 0; k < n; k++)
                p[k] = res[k] + beta * p[k];
            w->cg_live[i] = sqrt(rr) > CG_RTOL * w->gn[i];
            live += w->cg_live[i];
        }
    }
    return KPF_OK;
}

/* Accept each row's trial where it lowers q; adapt μ; retire rows that
 * converged or cannot improve. */
static size_t update(lm_ws *w, double *z, double *q, const kpf_fp_opts *o, kpf_fp_stats *st)
{
    const size_t n = w->n;
    size_t active = 0;
    for (size_t i = 0; i < w->R; i++) {
        if (!w->active[i])
            continue;
        if (w->qtry[i] < q[i]) {
            memcpy(z + i * n, w->ztry + i * n, n * sizeof(double));
            memcpy(w->r + i * n, w->rtry + i * n, n * sizeof(double));
            q[i] = w->qtry[i];
            w->mu[i] = fmax(w->mu[i] / 3.0, MU_MIN);
        } else {
            w->mu[i] *= 4.0;
        }
        if (q[i] < o->q_stop) {
            st->converged++;
            w->active[i] = 0;
        } else if (w->mu[i] > MU_MAX || w->gn[i] == 0.0) {
            w->active[i] = 0; /* a minimum with q > 0 (a slow point), or stuck */
        }
        active += w->active[i];
    }
    return active;
}

static int lm_step(fp_rows *fr, lm_ws *w, double *z, double *q, const kpf_fp_opts *o,
                   size_t cg_iter, kpf_fp_stats *st, size_t *active, kpf_error *err)
{
    const size_t R = w->R, n = w->n;
    int rc = kpf_internal_fp_linearise(fr, R, z, err);
    if (!rc) rc = kpf_internal_fp_jrT(fr, w->r, w->g, err);
    st->n_jzT++;
    if (!rc) rc = cg_solve(fr, w, cg_iter, st, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < R; i++) { /* the trust region */
        double len = sqrt(dot(w->d + i * n, w->d + i * n, n));
        double scale = len > o->max_step ? o->max_step / len : 1.0;
        for (size_t k = 0; k < n; k++)
            w->ztry[i * n + k] = z[i * n + k] + (w->active[i] ? scale * w->d[i * n + k] : 0.0);
    }
    rc = kpf_internal_fp_residual(fr, R, w->ztry, w->rtry, err);
    st->n_f++;
    for (size_t i = 0; !rc && i < R; i++)
        w->qtry[i] = half_sq(w->rtry + i * n, n);
    if (!rc)
        *active = update(w, z, q, o, st);
    return rc;
}

int kpf_fp_minimise(kpf_model *m, const double *x_star, size_t R, double *z, double *q,
                    const kpf_fp_opts *o, kpf_fp_stats *stats, kpf_error *err)
{
    if (!m || !z || !q || R == 0)
        return kpf_error_set(err, KPF_EINVAL, "kpf_fp_minimise: no candidates");
    kpf_fp_opts opt = o ? *o : kpf_fp_opts_default();
    const size_t n = m->n, cg_iter = opt.cg_iter ? opt.cg_iter : (n < 50 ? n : 50);
    kpf_fp_stats st = {0};
    fp_rows fr;
    lm_ws w;
    int rc = kpf_internal_fp_rows_alloc(m, x_star, R, opt.trial, &fr, err);
    if (rc)
        return rc;
    if ((rc = ws_alloc(&w, R, n, err))) {
        kpf_internal_fp_rows_free(&fr);
        return rc;
    }
    rc = kpf_internal_fp_residual(&fr, R, z, w.r, err);
    st.n_f++;
    size_t active = R;
    for (size_t i = 0; i < R; i++) {
        q[i] = half_sq(w.r + i * n, n);
        w.mu[i] = MU0;
        w.active[i] = isfinite(q[i]) && !(q[i] < opt.q_stop);
        st.converged += q[i] < opt.q_stop;
    }
    for (; !rc && active && st.iterations < opt.max_iter; st.iterations++)
        rc = lm_step(&fr, &w, z, q, &opt, cg_iter, &st, &active, err);
    if (stats)
        *stats = st;
    ws_free(&w);
    kpf_internal_fp_rows_free(&fr);
    return rc ? kpf_error_prefix(err, rc, "fixed points: ") : KPF_OK;
}
