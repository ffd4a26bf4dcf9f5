/* Snapshot analyses: spectra of the KPFlow operators, PCA of the hidden
 * states, Lyapunov spectra, θ snapshots (see kpf/analysis.h). */
#include "kpf/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>

#include "kpf/blas.h"
#include "kpf/cp.h"
#include "kpf/delta_w.h"
#include "kpf/gradient.h"
#include "kpf/kpflow.h"
#include "kpf/lyapunov.h"
#include "kpf/param_io.h"
#include "kpf/powerspec.h"
#include "kpf/rng.h"
#include "kpf/spectral.h"
#include "kpf/trajectory.h"
#include "gsl_quiet.h"

const char *const kpf_analysis_op_names[KPF_AN_N_OPS] = {"K", "P", "PKP", "PP"};

struct kpf_analysis {
    kpf_analysis_opts o;
    kpf_model *m;
    kpf_task *task;
    kpf_h5 *h5;
    kpf_task_batch *batch;
    kpf_traj *tr;
    size_t k, n_done;
    kpf_snapshot_stats *stats; /* n_at */
    double *cumvar;            /* n_at × N_OPS × k */
    double *pcs;               /* n_at × B·T × 3 */
    double *sv;                /* k scratch */
    double *modes, *freq;      /* k consensus modes [T] each; their frequencies */
    double *cov, *zc;          /* n×n, B·T×n scratch for PCA */
    double *lyap;              /* B × lyapunov */
    double *wsnap;             /* n_at × n×n snapshots of the ΔW block */
    double *dw_loss, *dw_sv;   /* r_max+1; n */
    double dw_L0;              /* analysis-set loss at the first snapshot */
    double *cp_ve;             /* cp_rmax: CP variance explained (after finish) */
    size_t n_cp;               /* entries of cp_ve filled (0: not computed) */
    int have_w0;               /* W₀ taken in this process (not after a resume) */
    int w0_lost;               /* resumed past the first snapshot */
};

/* ---- configuration -------------------------------------------------------- */

static int read_schedule(const kpf_node *node, size_t last, kpf_analysis_opts *o,
                         kpf_error *err)
{
    const kpf_node *at = kpf_node_get(node, "at");
    if (!at) {
        o->n_at = last ? 2 : 1;
        o->at = malloc(2 * sizeof(size_t));
        if (!o->at)
            return kpf_error_set(err, KPF_ENOMEM, "out of memory");
        o->at[0] = 0;
        o->at[1] = last;
        return KPF_OK;
    }
    if (kpf_node_kind(at) != KPF_NODE_SEQ || kpf_node_len(at) == 0)
        return kpf_node_error(at, err, "expected a non-empty list of iterations");
    o->n_at = kpf_node_len(at);
    o->at = malloc(o->n_at * sizeof(size_t));
    if (!o->at)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; i < o->n_at; i++) {
        const kpf_node *it = kpf_node_at(at, i);
        const char *s = kpf_node_scalar(it);
        char *end = NULL;
        unsigned long long v = s ? strtoull(s, &end, 10) : 0;
        if (!s || !*s || *end || s[0] == '-')
            return kpf_node_error(it, err, "expected an iteration number");
        if (v > last)
            return kpf_node_error(it, err, "iteration %llu is after the last one (%zu)", v,
                                  last);
        if (i && v <= o->at[i - 1])
            return kpf_node_error(it, err, "iterations must increase");
        o->at[i] = (size_t)v;
    }
    return KPF_OK;
}

static int read_ops(const kpf_node *node, kpf_analysis_opts *o, kpf_error *err)
{
    const kpf_node *list = kpf_node_get(node, "operators");
    if (!list) {
        o->ops[KPF_AN_K] = o->ops[KPF_AN_P] = o->ops[KPF_AN_PKP] = 1;
        return KPF_OK;
    }
    if (kpf_node_kind(list) != KPF_NODE_SEQ)
        return kpf_node_error(list, err, "expected a list of operators (K, P, PKP, PP)");
    for (size_t i = 0; i < kpf_node_len(list); i++) {
        const char *s = kpf_node_scalar(kpf_node_at(list, i));
        int hit = -1;
        for (int j = 0; s && j < KPF_AN_N_OPS; j++)
            if (!strcmp(s, kpf_analysis_op_names[j]))
                hit = j;
        if (hit < 0)
            return kpf_node_error(kpf_node_at(list, i), err,
                                  "unknown operator (expected one of: K, P, PKP, PP)");
        o->ops[hit] = 1;
    }
    return KPF_OK;
}

static int read_weight_analyses(const kpf_node *node, kpf_analysis_opts *o, kpf_error *err)
{
    const kpf_node *dw = NULL, *cp = NULL;
    int rc = kpf_cfg_map(node, "delta_w", 0, &dw, err);
    if (!rc) rc = kpf_cfg_map(node, "cp", 0, &cp, err);
    if (!rc && dw) rc = kpf_cfg_string(dw, "block", 0, "W", &o->dw_block, err);
    if (!rc && dw) rc = kpf_cfg_size(dw, "r_max", 0, 10, 1, 100000, &o->dw_rmax, err);
    if (!rc && cp) rc = kpf_cfg_size(cp, "r_max", 0, 4, 1, 64, &o->cp_rmax, err);
    if (!rc && cp && !o->dw_block) rc = kpf_cfg_string(cp, "block", 0, "W", &o->dw_block, err);
    return rc;
}

static int read_theorem1(const kpf_node *node, kpf_analysis_opts *o, kpf_error *err)
{
    static const char *const acts[] = {"tanh", "relu", "linear", "softplus", NULL};
    const kpf_node *t = NULL;
    int rc = kpf_cfg_map(node, "theorem1", 0, &t, err);
    if (!rc && t) rc = kpf_cfg_string(t, "block", 0, "W", &o->thm1_block, err);
    if (!rc && t) rc = kpf_cfg_choice(t, "activation", 0, acts, KPF_ACT_TANH, &o->thm1_act, err);
    return rc;
}

int kpf_analysis_opts_from_config(const kpf_node *node, size_t last, kpf_analysis_opts *o,
                                  kpf_error *err)
{
    memset(o, 0, sizeof *o);
    int rc = read_schedule(node, last, o, err);
    if (!rc) rc = kpf_cfg_size(node, "trials", 0, 16, 1, 100000, &o->trials, err);
    if (!rc) rc = kpf_cfg_size(node, "k", 0, 20, 1, 100000, &o->k, err);
    if (!rc) rc = kpf_cfg_size(node, "lyapunov", 0, 0, 0, 100000, &o->lyapunov, err);
    if (!rc) rc = read_ops(node, o, err);
    if (!rc) rc = read_weight_analyses(node, o, err);
    if (!rc) rc = read_theorem1(node, o, err);
    return rc;
}

void kpf_analysis_opts_clear(kpf_analysis_opts *o)
{
    free(o->at);
    o->at = NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

int kpf_analysis_alloc(const kpf_analysis_opts *o, kpf_model *m, kpf_task *task,
                       uint64_t seed, kpf_h5 *h5, kpf_analysis **out, kpf_error *err)
{
    kpf_analysis *a = calloc(1, sizeof *a);
    if (!a)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    a->o = *o;
    a->o.at = NULL;
    a->m = m;
    a->task = task;
    a->h5 = h5;
    /* The reduced space keeps time only: at most T − 1 components. */
    a->k = o->k < task->T ? o->k : task->T - 1;
    size_t B = o->trials, BT = B * task->T, n = m->n;
    gsl_rng *rng = NULL;
    int rc = kpf_rng_alloc(seed, KPF_RNG_EVAL, &rng, err);
    if (!rc) rc = kpf_task_batch_alloc(task, B, &a->batch, err);
    if (!rc) {
        kpf_task_set_noise_scale(task, 0.0);
        rc = kpf_task_generate(task, rng, a->batch, err);
        kpf_task_set_noise_scale(task, 1.0);
    }
    if (!rc) rc = kpf_traj_alloc(m, B, task->T, &a->tr, err);
    if (rng)
        gsl_rng_free(rng);
    if (!rc) {
        a->o.at = malloc(o->n_at * sizeof(size_t));
        a->stats = calloc(o->n_at, sizeof *a->stats);
        a->cumvar = calloc(o->n_at * KPF_AN_N_OPS * (a->k ? a->k : 1), sizeof(double));
        a->pcs = calloc(o->n_at * BT * 3, sizeof(double));
        a->sv = calloc(a->k + 1, sizeof(double));
        a->modes = calloc((a->k + 1) * task->T, sizeof(double));
        a->freq = calloc(a->k + 1, sizeof(double));
        a->cov = calloc(n * n, sizeof(double));
        a->zc = calloc(BT * n, sizeof(double));
        a->lyap = calloc((B + 1) * (o->lyapunov + 1), sizeof(double)); /* + mean row */
        if (o->dw_block) {
            a->wsnap = calloc(o->n_at * n * n, sizeof(double));
            a->dw_loss = calloc(o->dw_rmax + 1, sizeof(double));
            a->dw_sv = calloc(n, sizeof(double));
            if (!a->wsnap || !a->dw_loss || !a->dw_sv)
                rc = kpf_error_set(err, KPF_ENOMEM, "cannot allocate the ΔW analysis");
        }
        if (!a->o.at || !a->stats || !a->cumvar || !a->pcs || !a->sv || !a->cov || !a->zc ||
            !a->lyap || !a->modes || !a->freq)
            rc = kpf_error_set(err, KPF_ENOMEM, "cannot allocate the analyses");
        else
            memcpy(a->o.at, o->at, o->n_at * sizeof(size_t));
    }
    if (!rc && o->dw_block) {
        const kpf_param_block *blk = kpf_model_block(m, o->dw_block);
        if (!blk || blk->rows != n || blk->cols != n)
            rc = kpf_error_set(err, KPF_ECONFIG,
                               "analysis: ΔW needs a square %zu×%zu block '%s' in plugin '%s'",
                               n, n, o->dw_block, m->desc->name);
    }
    if (!rc) {
        memcpy(a->tr->x, a->batch->x, BT * m->n_in * sizeof(double));
        memcpy(a->tr->trial, a->batch->trial, B * sizeof(size_t));
        *out = a;
        return KPF_OK;
    }
    kpf_analysis_free(a);
    return rc;
}

void kpf_analysis_free(kpf_analysis *a)
{
    if (!a)
        return;
    kpf_task_batch_free(a->batch);
    kpf_traj_free(a->tr);
    free(a->o.at);
    free(a->stats);
    free(a->cumvar);
    free(a->pcs);
    free(a->sv);
    free(a->modes);
    free(a->freq);
    free(a->cov);
    free(a->zc);
    free(a->lyap);
    free(a->wsnap);
    free(a->dw_loss);
    free(a->dw_sv);
    free(a->cp_ve);
    free(a);
}

/* ---- the analyses ---------------------------------------------------------- */

static int build_op(kpf_analysis *a, int which, kpf_op **op, kpf_error *err)
{
    switch (which) {
    case KPF_AN_K: return kpf_op_param(a->m, a->tr, op, err);
    case KPF_AN_P: return kpf_op_propagator(a->m, a->tr, op, err);
    case KPF_AN_PKP: return kpf_op_pkp(a->m, a->tr, op, err);
    default: return kpf_op_pp(a->m, a->tr, op, err);
    }
}

static int write_vec(kpf_analysis *a, size_t it, const char *what, const char *name,
                     const double *v, size_t n, kpf_error *err)
{
    char path[256];
    snprintf(path, sizeof path, "/snapshots/%zu/%s/%s", it, what, name);
    return kpf_h5_write(a->h5, path, 1, &n, v, err);
}

/* Consensus spectrum (avg over trials and units), cumulative variance, rank. */
static int spectrum(kpf_analysis *a, size_t slot, int which, kpf_error *err)
{
    kpf_op *op = NULL;
    size_t it = a->stats[slot].iteration, k = a->k;
    double *cum = a->cumvar + (slot * KPF_AN_N_OPS + which) * k;
    int rc = build_op(a, which, &op, err);
    kpf_eig_opts eo = kpf_eig_opts_default();
    if (!rc)
        rc = kpf_consensus_gram(op, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, k, &eo, a->sv, a->modes,
                                err);
    kpf_op_free(op);
    /* The consensus modes are time courses: how fast each one oscillates
     * (KPFlow Fig. 6: P's eigenfunctions oscillate). */
    if (!rc)
        rc = kpf_dominant_frequencies(a->modes, k, 1, a->tr->T, 1, a->freq, err);
    if (!rc) rc = kpf_explained_variance(a->sv, k, 0.0, cum, err);
    if (!rc) rc = kpf_effrank(a->sv, k, 0.0, 0.95, &a->stats[slot].effrank[which], err);
    const char *nm = kpf_analysis_op_names[which];
    if (!rc) rc = write_vec(a, it, nm, "singular_values", a->sv, k, err);
    if (!rc) rc = write_vec(a, it, nm, "cumulative_variance", cum, k, err);
    if (!rc) rc = write_vec(a, it, nm, "effective_rank", &a->stats[slot].effrank[which], 1, err);
    if (!rc) rc = write_vec(a, it, nm, "modes", a->modes, k * a->tr->T, err);
    if (!rc) rc = write_vec(a, it, nm, "dominant_frequency", a->freq, k, err);
    return rc ? kpf_error_prefix(err, rc, "spectrum of %s at iteration %zu: ", nm, it) : KPF_OK;
}

/* PCA of the hidden states over all trials and steps: the effective
 * dimension at 95% variance and the first three component scores. */
static int pca(kpf_analysis *a, size_t slot, kpf_error *err)
{
    size_t n = a->m->n, R = a->tr->B * a->tr->T;
    for (size_t i = 0; i < n; i++) {
        double mu = 0;
        for (size_t r = 0; r < R; r++)
            mu += a->tr->z[r * n + i];
        mu /= (double)R;
        for (size_t r = 0; r < R; r++)
            a->zc[r * n + i] = a->tr->z[r * n + i] - mu;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)R, 1.0, a->zc,
                (int)n, a->zc, (int)n, 0.0, a->cov, (int)n);
    gsl_matrix_view C = gsl_matrix_view_array(a->cov, n, n);
    gsl_error_handler_t *quiet = kpf_internal_gsl_quiet();
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_matrix *V = gsl_matrix_alloc(n, n);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(n);
    int st = !ev || !V || !w ? GSL_ENOMEM : gsl_eigen_symmv(&C.matrix, ev, V, w);
    if (!st)
        st = gsl_eigen_symmv_sort(ev, V, GSL_EIGEN_SORT_VAL_DESC);
    kpf_internal_gsl_restore(quiet);
    int rc = st ? kpf_error_set(err, st == GSL_ENOMEM ? KPF_ENOMEM : KPF_ENUMERIC,
                                "PCA eigensolver failed (%s)", gsl_strerror(st))
                : KPF_OK;
    double *sv = malloc(n * sizeof(double));
    if (!rc && !sv)
        rc = kpf_error_set(err, KPF_ENOMEM, "PCA: out of memory");
    for (size_t i = 0; !rc && i < n; i++)
        sv[i] = sqrt(fmax(gsl_vector_get(ev, i), 0.0));
    if (!rc)
        rc = kpf_effrank(sv, n, 0.0, 0.95, &a->stats[slot].pca_effdim, err);
    double *pc = a->pcs + slot * R * 3;
    for (size_t r = 0; !rc && r < R; r++)
        for (size_t c = 0; c < 3; c++) {
            double s = 0;
            for (size_t i = 0; c < n && i < n; i++)
                s += a->zc[r * n + i] * gsl_matrix_get(V, i, c);
            pc[r * 3 + c] = s;
        }
    free(sv);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_eigen_symmv_free(w);
    return rc;
}

static int lyapunov(kpf_analysis *a, size_t slot, kpf_error *err)
{
    size_t k = a->o.lyapunov < a->m->n ? a->o.lyapunov : a->m->n, B = a->tr->B;
    kpf_lyap_opts lo = {.k = k, .t_ons = 1, .start = 0, .transient = a->tr->T / 3, .seed = 1};
    int rc = kpf_lyapunov_qr(a->m, a->tr, &lo, a->lyap, NULL, err);
    if (rc)
        return rc;
    double *mean = a->lyap + B * k; /* the spare row reserved in alloc */
    for (size_t i = 0; i < k; i++) {
        mean[i] = 0;
        for (size_t b = 0; b < B; b++)
            mean[i] += a->lyap[b * k + i] / (double)B;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort, descending */
        for (size_t j = i; j > 0 && mean[j] > mean[j - 1]; j--) {
            double t = mean[j];
            mean[j] = mean[j - 1];
            mean[j - 1] = t;
        }
    a->stats[slot].lyap_max = mean[0];
    rc = kpf_kaplan_yorke(mean, k, &a->stats[slot].kaplan_yorke, err);
    return rc ? rc : write_vec(a, a->stats[slot].iteration, "lyapunov", "mean_spectrum", mean, k, err);
}

/* ΔW = W − W₀ against the first snapshot: spectrum, truncation losses on
 * the analysis trials, functional rank (loss < 5% of the first snapshot's). */
static int delta_w(kpf_analysis *a, size_t slot, kpf_error *err)
{
    size_t n = a->m->n, it = a->stats[slot].iteration, R = a->o.dw_rmax;
    double *W = a->wsnap + slot * n * n;
    kpf_snapshot_stats *st = &a->stats[slot];
    int rc = kpf_weight_snapshot(a->m, NULL, a->o.dw_block, W, err);
    if (!rc && (a->w0_lost || (slot > 0 && !a->have_w0)))
        return KPF_OK; /* resumed past the first snapshot: no W₀ here */
    if (rc || slot == 0) {
        a->have_w0 = !rc;
        kpf_grad_ws *ws = NULL;
        if (!rc) rc = kpf_grad_ws_alloc(a->m, a->tr->B, a->tr->T, &ws, err);
        if (!rc) rc = kpf_loss_eval(a->m, a->batch, ws, &a->dw_L0, err);
        kpf_grad_ws_free(ws);
        return rc;
    }
    if (R > n)
        R = n;
    rc = kpf_dw_truncation_losses(a->m, a->o.dw_block, a->wsnap, W, a->batch, R, a->dw_loss,
                                  a->dw_sv, err);
    if (rc)
        return rc;
    st->dw_sv1 = a->dw_sv[0];
    st->dw_sv2 = n > 1 ? a->dw_sv[1] : 0.0;
    st->functional_rank = (double)kpf_dw_functional_rank(a->dw_loss, R, a->dw_L0, 0.05);
    rc = write_vec(a, it, "delta_w", "singular_values", a->dw_sv, n, err);
    if (!rc) rc = write_vec(a, it, "delta_w", "truncation_loss", a->dw_loss, R + 1, err);
    if (!rc) rc = write_vec(a, it, "delta_w", "functional_rank", &st->functional_rank, 1, err);
    return rc;
}

/* Pellegrino's Theorem 1 on the analysis trials: the spectra and the
 * largest excess of σ_r(∇_W L) over its bound. */
static int theorem1(kpf_analysis *a, size_t slot, kpf_error *err)
{
    kpf_thm1 t;
    size_t it = a->stats[slot].iteration;
    int rc = kpf_thm1_check(a->m, a->batch, a->o.thm1_block, a->o.thm1_act, &t, err);
    if (!rc) {
        a->stats[slot].thm1_excess = t.max_excess;
        a->stats[slot].thm1_factor_err = t.factor_err;
        rc = write_vec(a, it, "theorem1", "grad_singular_values", t.s_grad, t.n, err);
    }
    if (!rc) rc = write_vec(a, it, "theorem1", "adjoint_singular_values", t.s_adj, t.n, err);
    if (!rc) rc = write_vec(a, it, "theorem1", "phi_singular_values", t.s_phi, t.n, err);
    if (!rc) rc = write_vec(a, it, "theorem1", "bound", t.bound, t.n, err);
    if (!rc) rc = write_vec(a, it, "theorem1", "max_excess", &t.max_excess, 1, err);
    if (!rc) rc = write_vec(a, it, "theorem1", "factor_error", &t.factor_err, 1, err);
    kpf_thm1_free(&t);
    return rc;
}

int kpf_analysis_finish(kpf_analysis *a, kpf_error *err)
{
    size_t K = a->n_done, n = a->m->n, R = a->o.cp_rmax;
    if (!R || K < 2 || !a->have_w0)
        return KPF_OK;
    double *X = malloc(n * n * K * sizeof(double)), *sv = malloc(n * n * sizeof(double));
    if (!a->cp_ve)
        a->cp_ve = malloc(R * sizeof(double));
    int rc = X && a->cp_ve && sv ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "CP: out of memory");
    kpf_cp_opts co;
    kpf_cp_opts_default(&co);
    if (!rc) {
        kpf_weight_tensor(n, K, a->wsnap, 1, X);
        rc = kpf_cp_ve_sweep(X, n, n, K, R, &co, a->cp_ve, err);
    }
    size_t one = R;
    if (!rc) {
        a->n_cp = R;
        rc = kpf_h5_write(a->h5, "/weight_tensor/cp_variance_explained", 1, &one, a->cp_ve, err);
    }
    for (int mode = 0; !rc && mode < 3; mode++) {
        size_t k = mode < 2 ? (n < n * K ? n : n * K) : (K < n * n ? K : n * n);
        char path[64];
        snprintf(path, sizeof path, "/weight_tensor/unfolding%d_singular_values", mode);
        rc = kpf_tensor_unfold_sv(X, n, n, K, mode, sv, err);
        if (!rc) rc = kpf_h5_write(a->h5, path, 1, &k, sv, err);
    }
    free(X);
    free(sv);
    return rc ? kpf_error_prefix(err, rc, "CP analysis of the weight tensor: ") : KPF_OK;
}

static int write_theta(kpf_analysis *a, size_t it, kpf_error *err)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/snapshots/%zu/theta", it);
    return kpf_params_write(a->h5, a->m, NULL, prefix, 0, err);
}

int kpf_analysis_at(kpf_analysis *a, size_t it, kpf_error *err)
{
    if (a->n_done == a->o.n_at || a->o.at[a->n_done] != it)
        return KPF_OK;
    size_t slot = a->n_done;
    kpf_snapshot_stats *st = &a->stats[slot];
    st->iteration = it;
    for (int j = 0; j < KPF_AN_N_OPS; j++)
        st->effrank[j] = NAN;
    st->lyap_max = st->kaplan_yorke = NAN;
    st->dw_sv1 = st->dw_sv2 = st->functional_rank = NAN;
    st->thm1_excess = st->thm1_factor_err = NAN;
    char group[64];
    snprintf(group, sizeof group, "/snapshots/%zu", it);
    int rc = kpf_h5_remove(a->h5, group, err); /* a resumed run redoing it */
    if (!rc) rc = kpf_simulate(a->m, a->tr, err);
    if (!rc) rc = write_theta(a, it, err);
    for (int j = 0; !rc && j < KPF_AN_N_OPS; j++)
        if (a->o.ops[j])
            rc = spectrum(a, slot, j, err);
    if (!rc) rc = pca(a, slot, err);
    if (!rc && a->o.lyapunov) rc = lyapunov(a, slot, err);
    if (!rc && a->o.dw_block) rc = delta_w(a, slot, err);
    if (!rc && a->o.thm1_block) rc = theorem1(a, slot, err);
    if (!rc) rc = kpf_h5_flush(a->h5, err); /* a kill later keeps this snapshot */
    if (rc)
        return kpf_error_prefix(err, rc, "analysis at iteration %zu: ", it);
    a->n_done++;
    return KPF_OK;
}

int kpf_analysis_final(kpf_analysis *a, size_t it, kpf_error *err)
{
    if (a->n_done && a->stats[a->n_done - 1].iteration == it)
        return KPF_OK;
    if (a->n_done == a->o.n_at) /* schedule exhausted before `it`: no slot */
        return KPF_OK;
    a->o.at[a->n_done] = it;
    a->o.n_at = a->n_done + 1;
    return kpf_analysis_at(a, it, err);
}

void kpf_analysis_skip_before(kpf_analysis *a, size_t it)
{
    size_t drop = 0;
    while (drop < a->o.n_at && a->o.at[drop] < it)
        drop++;
    if (drop)
        a->w0_lost = 1;
    memmove(a->o.at, a->o.at + drop, (a->o.n_at - drop) * sizeof(size_t));
    a->o.n_at -= drop;
}

size_t kpf_analysis_count(const kpf_analysis *a) { return a->n_done; }
const kpf_snapshot_stats *kpf_analysis_stats(const kpf_analysis *a, size_t i)
{
    return i < a->n_done ? &a->stats[i] : NULL;
}
const double *kpf_analysis_cumvar(const kpf_analysis *a, size_t i, int op)
{
    return i < a->n_done && a->o.ops[op] ? a->cumvar + (i * KPF_AN_N_OPS + op) * a->k : NULL;
}
const double *kpf_analysis_pcs(const kpf_analysis *a, size_t i)
{
    return i < a->n_done ? a->pcs + i * a->tr->B * a->tr->T * 3 : NULL;
}
const int *kpf_analysis_periods(const kpf_analysis *a) { return a->batch->period; }
size_t kpf_analysis_k(const kpf_analysis *a) { return a->k; }
size_t kpf_analysis_trials(const kpf_analysis *a) { return a->tr->B; }
size_t kpf_analysis_steps(const kpf_analysis *a) { return a->tr->T; }
const double *kpf_analysis_cp_ve(const kpf_analysis *a, size_t *r)
{
    *r = a->n_cp;
    return a->n_cp ? a->cp_ve : NULL;
}
const double *kpf_analysis_weights(const kpf_analysis *a, size_t *count)
{
    *count = a->wsnap && a->have_w0 ? a->n_done : 0;
    return *count ? a->wsnap : NULL;
}
