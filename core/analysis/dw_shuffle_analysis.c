/* The `dw_shuffle` analysis: Schuessler et al.'s shuffle test (Fig. 2c,
 * Fig. 4d; kpf/delta_w.h) for any task and any model with a square
 * recurrent block — at every snapshot after the first, the analysis-trial
 * loss of the trained network W₀ + ΔW, of shuffle(W₀) + ΔW (all n² entries
 * of W₀ permuted, the mean over `shuffles` draws) and of ΔW alone (W₀
 * removed), each also divided by the first snapshot's loss L₀.  A trained
 * network whose ΔW leans on W₀'s particular random structure loses its
 * performance when W₀ is shuffled (Schuessler: "except at very weak g").
 *
 * YAML: dw_shuffle: {block: W, shuffles: 10}.  Per snapshot, under
 * /snapshots/<i>/dw_shuffle/: loss_trained, loss_shuffled, loss_no_w0,
 * loss_initial; scalars shuffle_loss_rel, no_w0_loss_rel, trained_loss_rel.
 * The permutations are drawn from the run's seed and the iteration. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_analyses.h"
#include "kpf/delta_w.h"
#include "kpf/gradient.h"

typedef struct dw_shuffle {
    const char *block;
    size_t n, shuffles;
    double *W0, *W, *zero;
    double L0;
    int have_w0;
    double last[3]; /* trained, shuffled, no-W₀ losses over L₀ */
    kpf_grad_ws *ws;
} dw_shuffle;

static const char *const names[3] = {"trained_loss_rel", "shuffle_loss_rel", "no_w0_loss_rel"};

static void destroy(void *self)
{
    dw_shuffle *d = self;
    if (!d)
        return;
    free(d->W0);
    free(d->W);
    free(d->zero);
    kpf_grad_ws_free(d->ws);
    free(d);
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    if (node && kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {block: W, shuffles: 10}");
    const char *block = NULL;
    size_t shuffles = 0, n = setup->model->n;
    int rc = kpf_cfg_string(node, "block", 0, "W", &block, err);
    if (!rc) rc = kpf_cfg_size(node, "shuffles", 0, 10, 1, 100000, &shuffles, err);
    const kpf_node *at = kpf_node_get(node, "block") ? kpf_node_get(node, "block") : node;
    if (!rc) rc = kpf_analysis_square_block(setup->model, at, block, "the shuffle test", err);
    if (rc)
        return rc;
    dw_shuffle *d = calloc(1, sizeof *d);
    if (!d)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *d = (dw_shuffle){.block = block, .n = n, .shuffles = shuffles,
                      .last = {NAN, NAN, NAN}};
    d->W0 = malloc(n * n * sizeof(double));
    d->W = malloc(n * n * sizeof(double));
    d->zero = calloc(n * n, sizeof(double));
    rc = d->W0 && d->W && d->zero ? KPF_OK
                                   : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (!rc) rc = kpf_grad_ws_alloc(setup->model, setup->trials, setup->steps, &d->ws, err);
    if (rc) {
        destroy(d);
        return rc;
    }
    *self = d;
    return KPF_OK;
}

static int write(const kpf_snapshot *s, const char *name, double v, kpf_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "dw_shuffle/%s", name);
    return kpf_snapshot_write(s, path, &v, 1, err);
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    dw_shuffle *d = self;
    d->last[0] = d->last[1] = d->last[2] = NAN;
    if (s->resumed) /* W₀ and L₀ belong to the interrupted process */
        return KPF_OK;
    int rc;
    if (s->index == 0) {
        rc = kpf_weight_snapshot(s->model, NULL, d->block, d->W0, err);
        if (!rc) rc = kpf_loss_eval(s->model, s->batch, d->ws, &d->L0, err);
        d->have_w0 = !rc;
        return rc;
    }
    if (!d->have_w0)
        return KPF_OK;
    double trained, shuffled, no_w0;
    rc = kpf_weight_snapshot(s->model, NULL, d->block, d->W, err);
    if (!rc) rc = kpf_loss_eval(s->model, s->batch, d->ws, &trained, err);
    if (!rc)
        rc = kpf_dw_shuffle_loss(s->model, d->block, d->W0, d->W, s->batch,
                                 s->seed + s->iteration, d->shuffles, &shuffled, err);
    /* ΔW alone: the shuffle test with W₀ → 0 and W → ΔW (block = 0 + ΔW) */
    for (size_t i = 0; !rc && i < d->n * d->n; i++)
        d->W[i] -= d->W0[i];
    if (!rc)
        rc = kpf_dw_shuffle_loss(s->model, d->block, d->zero, d->W, s->batch, 0, 1, &no_w0,
                                 err);
    if (!rc) {
        d->last[0] = trained / d->L0;
        d->last[1] = shuffled / d->L0;
        d->last[2] = no_w0 / d->L0;
    }
    if (!rc) rc = write(s, "loss_trained", trained, err);
    if (!rc) rc = write(s, "loss_shuffled", shuffled, err);
    if (!rc) rc = write(s, "loss_no_w0", no_w0, err);
    if (!rc) rc = write(s, "loss_initial", d->L0, err);
    for (int i = 0; !rc && i < 3; i++)
        rc = kpf_snapshot_scalar(s, names[i], d->last[i], err);
    return rc;
}

static size_t scalars(const void *self, const char **nm, double *v, size_t cap)
{
    const dw_shuffle *d = self;
    for (size_t i = 0; i < 3 && i < cap; i++) {
        nm[i] = names[i];
        v[i] = d->last[i];
    }
    return 3;
}

const kpf_analysis_desc kpf_analysis_dw_shuffle = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "dw_shuffle",
    .summary = "Schuessler's shuffle test: loss of shuffle(W0) + dW and of dW alone",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
};
