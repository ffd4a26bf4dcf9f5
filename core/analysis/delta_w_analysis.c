/* The `delta_w` analysis: ΔW = W − W₀ of a square recurrent block against
 * the run's first snapshot (Schuessler et al. 2020; kpf/delta_w.h) — its
 * singular values, the loss on the analysis trials of W₀ + ΔW truncated to
 * rank R = 0 … r_max, and the functional rank (smallest R with a loss below
 * 5% of a reference loss).  YAML: `delta_w: {block: W, r_max: 10}`.
 * The reference is the first snapshot's loss (`reference: first`, the
 * default) or, as in Schuessler et al.'s figure code (figures_nonlinear.ipynb:
 * loss_0 = loss_rr_all[..., 0]), the loss of the truncation at R = 0, i.e. W₀
 * with every other block trained (`reference: rank0`).  The two differ only
 * when blocks other than this one train. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_analyses.h"
#include "kpf/delta_w.h"
#include "kpf/gradient.h"

typedef struct delta_w {
    const char *block;   /* lives as long as the config */
    size_t n, R;         /* state size; ranks 0 … R (R ≤ n) */
    double *W0, *W;      /* n×n: the first snapshot's block, the current one */
    double *loss, *sv;   /* R + 1 truncation losses; n singular values of ΔW */
    double L0;           /* analysis-set loss at the first snapshot */
    int rank0;           /* 1: measure against loss[0] (reference: rank0) */
    int have_w0;         /* W₀ taken in this process */
    /* sv1, sv2, functional rank (−1: not reached) of the latest snapshot,
     * and the rank again with NaN for "not reached", so that a sweep's mean
     * leaves such runs out, as Schuessler et al.'s figure code does */
    double last[4];
} delta_w;

static void destroy(void *self)
{
    delta_w *d = self;
    if (!d)
        return;
    free(d->W0);
    free(d->W);
    free(d->loss);
    free(d->sv);
    free(d);
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    if (!node || kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {block: W, r_max: 10}");
    const char *block = NULL;
    size_t r_max = 0, n = setup->model->n;
    int rc = kpf_cfg_string(node, "block", KPF_CFG_OPTIONAL, "W", &block, err);
    if (!rc) rc = kpf_cfg_size(node, "r_max", KPF_CFG_OPTIONAL, 10, 1, 100000, &r_max, err);
    const char *ref = NULL;
    if (!rc) rc = kpf_cfg_string(node, "reference", KPF_CFG_OPTIONAL, "first", &ref, err);
    if (!rc && strcmp(ref, "first") && strcmp(ref, "rank0"))
        rc = kpf_node_error(kpf_node_get(node, "reference"), err,
                            "unknown reference '%s' (first: the first snapshot's loss; rank0: "
                            "the loss of W0 with the other blocks trained)",
                            ref);
    const kpf_node *at = kpf_node_get(node, "block") ? kpf_node_get(node, "block") : node;
    if (!rc) rc = kpf_analysis_square_block(setup->model, at, block, "ΔW", err);
    if (rc)
        return rc;
    delta_w *d = calloc(1, sizeof *d);
    if (!d)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    d->block = block;
    d->rank0 = !strcmp(ref, "rank0");
    d->n = n;
    d->R = r_max < n ? r_max : n;
    d->W0 = malloc(n * n * sizeof(double));
    d->W = malloc(n * n * sizeof(double));
    d->loss = calloc(d->R + 1, sizeof(double));
    d->sv = calloc(n, sizeof(double));
    d->last[0] = d->last[1] = d->last[2] = d->last[3] = NAN;
    if (!d->W0 || !d->W || !d->loss || !d->sv) {
        destroy(d);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the ΔW analysis");
    }
    *self = d;
    return KPF_OK;
}

/* The run's first snapshot: W₀ and the loss the functional rank is
 * measured against. */
static int take_w0(delta_w *d, const kpf_snapshot *s, kpf_error *err)
{
    kpf_grad_ws *ws = NULL;
    int rc = kpf_weight_snapshot(s->model, NULL, d->block, d->W0, err);
    d->have_w0 = !rc;
    if (!rc) rc = kpf_grad_ws_alloc(s->model, s->batch->B, s->batch->T, &ws, err);
    if (!rc) rc = kpf_loss_eval(s->model, s->batch, ws, &d->L0, err);
    kpf_grad_ws_free(ws);
    return rc;
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    delta_w *d = self;
    size_t n = d->n, R = d->R;
    d->last[0] = d->last[1] = d->last[2] = d->last[3] = NAN;
    if (s->resumed) /* resumed past the first snapshot: no W₀ here */
        return KPF_OK;
    if (s->index == 0)
        return take_w0(d, s, err);
    if (!d->have_w0)
        return KPF_OK;
    int rc = kpf_weight_snapshot(s->model, NULL, d->block, d->W, err);
    if (!rc)
        rc = kpf_dw_truncation_losses(s->model, d->block, d->W0, d->W, s->batch, R, d->loss,
                                      d->sv, err);
    if (rc)
        return rc;
    d->last[0] = d->sv[0];
    d->last[1] = n > 1 ? d->sv[1] : 0.0;
    double ref = d->rank0 ? d->loss[0] : d->L0;
    d->last[2] = (double)kpf_dw_functional_rank(d->loss, R, ref, 0.05);
    d->last[3] = d->last[2] < 0 ? NAN : d->last[2];
    rc = kpf_snapshot_write(s, "delta_w/singular_values", d->sv, n, err);
    if (!rc) rc = kpf_snapshot_write(s, "delta_w/reference_loss", &ref, 1, err);
    if (!rc) rc = kpf_snapshot_write(s, "delta_w/truncation_loss", d->loss, R + 1, err);
    if (!rc) rc = kpf_snapshot_write(s, "delta_w/functional_rank", &d->last[2], 1, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "delta_w_sv1", d->last[0], err);
    if (!rc) rc = kpf_snapshot_scalar(s, "delta_w_sv2", d->last[1], err);
    if (!rc) rc = kpf_snapshot_scalar(s, "functional_rank", d->last[2], err);
    if (!rc) rc = kpf_snapshot_scalar(s, "functional_rank_reached", d->last[3], err);
    return rc;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    const delta_w *d = self;
    const char *const nm[4] = {"delta_w_sv1", "delta_w_sv2", "functional_rank",
                               "functional_rank_reached"};
    for (size_t i = 0; i < 4 && i < cap; i++) {
        names[i] = nm[i];
        v[i] = d->last[i];
    }
    return 4;
}

const kpf_analysis_desc kpf_analysis_delta_w = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "delta_w",
    .summary = "W - W0 of a square block: spectrum, rank-R truncation losses, functional rank",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
};
