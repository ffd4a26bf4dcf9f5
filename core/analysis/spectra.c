/* The `spectra` analysis: consensus spectra of the KPFlow operators K, P,
 * P K P* and P P* at every snapshot, the way KPFlow's analysis computes
 * them (singular values σ_i = √λ_i of the Gram operator averaged over trials
 * and units, keeping time: avg_shape (1, T, 1)), with the cumulative
 * explained variance, the effective rank at 0.95 and each mode's dominant
 * frequency.  Figures: cumvar_iter<i>.png at the first and last snapshot.
 *
 * Two conventions for "explained variance" (docs/analyses.md):
 *   top-k (always; KPFlow's)  cum[i] = Σ_{j≤i} σ_j² / Σ_{j<k} σ_j², so the
 *             effective rank is at most k;
 *   trace (`spectra: {trace: auto | exact | hutchpp}`; off by default)
 *             cum[i] = Σ_{j≤i} σ_j² / tr⟨A A*⟩ against every eigenvalue —
 *             exactly from the full dense spectrum when the reduced space
 *             has at most trace_exact_max dimensions (the effective rank is
 *             then not capped by k), else by Hutch++ (trace_probes
 *             applications; the rank is NaN when the top k do not reach
 *             0.95).  Extra datasets <op>/trace, cumulative_variance_trace,
 *             effective_rank_trace, topk_fraction, extra scalars
 *             effrank_trace_<op>, topk_fraction_<op>, and the figure
 *             cumvar_trace_iter<i>.png; nothing else changes.
 * Two more settings select the conventions of KPFlow's paper-era analysis
 * (docs/analyses.md; defaults keep the numbers as they were):
 *   power     2 | 4 [2]: each component weighs σ^power in both conventions
 *             (4: "95 % of Σσ⁴", the paper-era code);
 *   k         one count for every operator, or per operator
 *             ({K: 20, P: 60}, the paper's; absent ones 20). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_analyses.h"
#include "kpf/kpflow.h"
#include "kpf/plot.h"
#include "kpf/powerspec.h"
#include "kpf/spectral.h"
#include "spectra_trace.h"

enum { OP_K = 0, OP_P = 1, OP_PKP = 2, OP_PP = 3, N_OPS = 4 };
static const char *const op_names[N_OPS] = {"K", "P", "PKP", "PP"};

/* The first and the latest snapshot are kept for the figures and the
 * sweep scalars: slot 0 and slot 1. */
typedef struct spectra {
    int ops[N_OPS];            /* which operators                         */
    size_t kop[N_OPS];         /* components per operator (≤ T − 1)       */
    size_t k, T;               /* the largest of kop (buffer rows); steps */
    double power;              /* σ^power weighs a component: 2 or 4     */
    double *sv, *modes, *freq; /* scratch: k values, k modes [T], k freqs */
    double *cumvar[2];         /* N_OPS × k each (NaN past kop[op])       */
    double effrank[2][N_OPS];  /* NaN: not computed                       */
    spectra_trace_opts trace;  /* the second convention (off by default)  */
    double *cumtrace[2];       /* N_OPS × k each, against the trace       */
    double *ev;                /* T: the full dense spectrum              */
    size_t iteration[2];
    size_t n_seen;
} spectra;

static int read_ops(const kpf_node *node, int *ops, kpf_error *err)
{
    const kpf_node *list = kpf_node_get(node, "operators");
    if (!list) {
        ops[OP_K] = ops[OP_P] = ops[OP_PKP] = 1;
        return KPF_OK;
    }
    if (kpf_node_kind(list) != KPF_NODE_SEQ)
        return kpf_node_error(list, err, "expected a list of operators (K, P, PKP, PP)");
    for (size_t i = 0; i < kpf_node_len(list); i++) {
        const char *s = kpf_node_scalar(kpf_node_at(list, i));
        int hit = -1;
        for (int j = 0; s && j < N_OPS; j++)
            if (!strcmp(s, op_names[j]))
                hit = j;
        if (hit < 0)
            return kpf_node_error(kpf_node_at(list, i), err,
                                  "unknown operator (expected one of: K, P, PKP, PP)");
        ops[hit] = 1;
    }
    return KPF_OK;
}

static void destroy(void *self)
{
    spectra *s = self;
    if (!s)
        return;
    free(s->sv);
    free(s->modes);
    free(s->freq);
    free(s->cumvar[0]);
    free(s->cumvar[1]);
    free(s->cumtrace[0]);
    free(s->cumtrace[1]);
    free(s->ev);
    free(s);
}

/* `k`: one count (every operator) or a map {K: 20, P: 60, …} (absent
 * operators 20); each at most T − 1, the reduced space keeping time. */
static int read_k(const kpf_node *node, size_t T, size_t *kop, kpf_error *err)
{
    const kpf_node *map = kpf_node_get(node, "k");
    size_t k = 20;
    int rc = KPF_OK;
    if (!map || kpf_node_kind(map) != KPF_NODE_MAP)
        rc = kpf_cfg_size(node, "k", KPF_CFG_OPTIONAL, 20, 1, 100000, &k, err);
    for (int j = 0; !rc && j < N_OPS; j++) {
        kop[j] = k;
        if (map && kpf_node_kind(map) == KPF_NODE_MAP)
            rc = kpf_cfg_size(map, op_names[j], KPF_CFG_OPTIONAL, 20, 1, 100000, &kop[j], err);
        if (kop[j] >= T)
            kop[j] = T - 1;
    }
    return rc ? rc : kpf_node_check_unused(map, err);
}

static int read_power(const kpf_node *node, double *power, kpf_error *err)
{
    size_t p = 2;
    int rc = kpf_cfg_size(node, "power", KPF_CFG_OPTIONAL, 2, 2, 4, &p, err);
    if (!rc && p == 3)
        rc = kpf_node_error(kpf_node_get(node, "power"), err,
                            "expected 2 (σ², kpf and later KPFlow) or 4 (σ⁴, KPFlow's "
                            "paper-era analysis)");
    *power = (double)p;
    return rc;
}

/* node: `spectra: {k, operators}` or the `analysis:` map itself, where the
 * two settings have always been. */
static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    spectra *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    /* The reduced space keeps time only: at most T − 1 components. */
    s->T = setup->steps;
    int rc = read_k(node, s->T, s->kop, err);
    if (!rc)
        rc = read_power(node, &s->power, err);
    if (!rc)
        rc = read_ops(node, s->ops, err);
    if (!rc)
        rc = kpf_internal_spectra_trace_read(node, &s->trace, err);
    for (int j = 0; j < N_OPS; j++)
        if (s->kop[j] > s->k)
            s->k = s->kop[j];
    if (!rc) {
        s->sv = calloc(s->k + 1, sizeof(double));
        s->modes = calloc((s->k + 1) * s->T, sizeof(double));
        s->freq = calloc(s->k + 1, sizeof(double));
        s->cumvar[0] = calloc(N_OPS * (s->k + 1), sizeof(double));
        s->cumvar[1] = calloc(N_OPS * (s->k + 1), sizeof(double));
        if (!s->sv || !s->modes || !s->freq || !s->cumvar[0] || !s->cumvar[1])
            rc = kpf_error_set(err, KPF_ENOMEM, "cannot allocate the spectra analysis");
    }
    if (!rc && s->trace.mode != SPT_OFF) {
        s->cumtrace[0] = calloc(N_OPS * (s->k + 1), sizeof(double));
        s->cumtrace[1] = calloc(N_OPS * (s->k + 1), sizeof(double));
        s->ev = calloc(s->T + 1, sizeof(double));
        if (!s->cumtrace[0] || !s->cumtrace[1] || !s->ev)
            rc = kpf_error_set(err, KPF_ENOMEM, "cannot allocate the spectra analysis");
    }
    for (int j = 0; j < 2; j++)
        for (int o = 0; o < N_OPS; o++)
            s->effrank[j][o] = NAN;
    if (rc) {
        destroy(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static int build_op(const kpf_snapshot *sn, int which, kpf_op **op, kpf_error *err)
{
    switch (which) {
    case OP_K: return kpf_op_param(sn->model, sn->traj, op, err);
    case OP_P: return kpf_op_propagator(sn->model, sn->traj, op, err);
    case OP_PKP: return kpf_op_pkp(sn->model, sn->traj, op, err);
    default: return kpf_op_pp(sn->model, sn->traj, op, err);
    }
}

/* The same spectrum against the whole trace of ⟨A A*⟩ (spectra_trace.h),
 * after everything of the top-k convention is written. */
static int trace_convention(spectra *s, const kpf_snapshot *sn, int slot, int which,
                            kpf_op *op, kpf_error *err)
{
    size_t k = s->kop[which];
    double *cum = s->cumtrace[slot] + which * s->k;
    spectra_trace_result tr;
    int rc = kpf_internal_spectra_trace(op, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, s->sv, k, s->power,
                                        &s->trace, sn->seed, cum, s->ev, &tr, err);
    char path[64];
    const char *nm = op_names[which];
    const struct {
        const char *name;
        const double *v;
        size_t n;
    } out[] = {{"trace", &tr.trace, 1},
               {"cumulative_variance_trace", cum, k},
               {"effective_rank_trace", &tr.effrank, 1},
               {"topk_fraction", &tr.topk, 1}};
    for (size_t i = 0; !rc && i < sizeof out / sizeof out[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", nm, out[i].name);
        rc = kpf_snapshot_write(sn, path, out[i].v, out[i].n, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "effrank_trace_%s", nm);
        rc = kpf_snapshot_scalar(sn, path, tr.effrank, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "topk_fraction_%s", nm);
        rc = kpf_snapshot_scalar(sn, path, tr.topk, err);
    }
    return rc;
}

/* Consensus spectrum (avg over trials and units), cumulative variance, rank. */
static int spectrum(spectra *s, const kpf_snapshot *sn, int slot, int which, kpf_error *err)
{
    kpf_op *op = NULL;
    size_t k = s->kop[which];
    double *cum = s->cumvar[slot] + which * s->k, *er = &s->effrank[slot][which];
    for (size_t i = k; i < s->k; i++) { /* the figure's rows past this operator's k */
        cum[i] = NAN;
        if (s->cumtrace[slot])
            s->cumtrace[slot][which * s->k + i] = NAN;
    }
    int rc = build_op(sn, which, &op, err);
    kpf_eig_opts eo = kpf_eig_opts_default();
    if (!rc)
        rc = kpf_consensus_gram(op, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, k, &eo, s->sv, s->modes,
                                err);
    /* The consensus modes are time courses: how fast each one oscillates
     * (KPFlow Fig. 6: P's eigenfunctions oscillate). */
    if (!rc) rc = kpf_dominant_frequencies(s->modes, k, 1, s->T, 1, s->freq, err);
    if (!rc) rc = kpf_explained_variance_pow(s->sv, k, 0.0, s->power, cum, err);
    if (!rc) rc = kpf_effrank_pow(s->sv, k, 0.0, 0.95, s->power, er, err);
    char path[64];
    const char *nm = op_names[which];
#define WRITE(what, v, n)                                         \
    (snprintf(path, sizeof path, "%s/%s", nm, what),              \
     kpf_snapshot_write(sn, path, v, n, err))
    if (!rc) rc = WRITE("singular_values", s->sv, k);
    if (!rc) rc = WRITE("cumulative_variance", cum, k);
    if (!rc) rc = WRITE("effective_rank", er, 1);
    if (!rc) rc = WRITE("modes", s->modes, k * s->T);
    if (!rc) rc = WRITE("dominant_frequency", s->freq, k);
#undef WRITE
    if (!rc && !isnan(*er)) {
        snprintf(path, sizeof path, "effrank_%s", nm);
        rc = kpf_snapshot_scalar(sn, path, *er, err);
    }
    if (!rc && s->trace.mode != SPT_OFF)
        rc = trace_convention(s, sn, slot, which, op, err);
    kpf_op_free(op);
    return rc ? kpf_error_prefix(err, rc, "spectrum of %s at iteration %zu: ", nm,
                                 sn->iteration)
              : KPF_OK;
}

static int at_snapshot(void *self, const kpf_snapshot *sn, kpf_error *err)
{
    spectra *s = self;
    int slot = sn->index == 0 ? 0 : 1;
    s->iteration[slot] = sn->iteration;
    for (int j = 0; j < N_OPS; j++)
        s->effrank[slot][j] = NAN;
    int rc = KPF_OK;
    for (int j = 0; !rc && j < N_OPS; j++)
        if (s->ops[j])
            rc = spectrum(s, sn, slot, j, err);
    s->n_seen = sn->index + 1;
    return rc;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    const spectra *s = self;
    int have = s->n_seen > 0, last = s->n_seen > 1;
    const struct {
        const char *name;
        double value;
    } t[] = {
        {"effrank_K_initial", have ? s->effrank[0][OP_K] : NAN},
        {"effrank_K", have ? s->effrank[last][OP_K] : NAN},
        {"effrank_P_initial", have ? s->effrank[0][OP_P] : NAN},
        {"effrank_P", have ? s->effrank[last][OP_P] : NAN},
        {"effrank_PKP", have ? s->effrank[last][OP_PKP] : NAN},
    };
    size_t n = sizeof t / sizeof t[0];
    for (size_t i = 0; i < n && i < cap; i++) {
        names[i] = t[i].name;
        v[i] = t[i].value;
    }
    return n;
}

/* Cumulative explained variance of K, P and P K P* at the first and the
 * last snapshot. */
static int plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const spectra *s = self;
    static const char *const names[3] = {"K", "P", "P K P*"};
    int first = KPF_OK;
    if (!s->ops[0] && !s->ops[1] && !s->ops[2])
        return KPF_OK; /* none of K, P, PKP asked for: gnuplot refuses an empty plot */
    for (int slot = 0; slot < 2 && slot < (int)s->n_seen; slot++) {
        const double *series[3];
        for (int j = 0; j < 3; j++)
            series[j] = s->ops[j] ? s->cumvar[slot] + j * s->k : NULL;
        char stem[4400], title[256];
        snprintf(stem, sizeof stem, "%s/cumvar_iter%zu", p->dir, s->iteration[slot]);
        snprintf(title, sizeof title,
                 "consensus spectra (avg over trials, units%s), iteration %zu",
                 s->power == 4.0 ? "; variance sigma^4" : "", s->iteration[slot]);
        kpf_error e;
        kpf_error_clear(&e);
        int rc = kpf_plot_cumvar(stem, title, s->k, series, names, 3, &e);
        if (rc && !first)
            first = kpf_error_set(err, rc, "%s", e.msg);
        if (s->trace.mode == SPT_OFF)
            continue;
        for (int j = 0; j < 3; j++)
            series[j] = s->ops[j] ? s->cumtrace[slot] + j * s->k : NULL;
        snprintf(stem, sizeof stem, "%s/cumvar_trace_iter%zu", p->dir, s->iteration[slot]);
        snprintf(title, sizeof title, "consensus spectra against the whole trace, iteration %zu",
                 s->iteration[slot]);
        kpf_error_clear(&e);
        rc = kpf_plot_cumvar(stem, title, s->k, series, names, 3, &e);
        if (rc && !first)
            first = kpf_error_set(err, rc, "%s", e.msg);
    }
    return first;
}

const kpf_analysis_desc kpf_analysis_spectra = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "spectra",
    .summary = "consensus spectra of K, P, P K P*, P P*: cumulative variance, effective rank",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
    .plot = plot,
    /* its operators and averages sum over the ranks: a trial-parallel run's
     * spectra are computed on each rank's share of the analysis trials */
    .flags = KPF_ANALYSIS_SPLIT_TRIALS,
};
