/* The `lyapunov` analysis: the QR Lyapunov spectrum of the model on the
 * analysis trials at every snapshot (kpf/lyapunov.h), averaged over trials
 * and sorted, and its Kaplan–Yorke dimension.  YAML: `lyapunov: N` (N
 * exponents, at most n; 0: none) or `lyapunov: {exponents: N}`. */
#include <math.h>
#include <stdlib.h>

#include "builtin_analyses.h"
#include "kpf/lyapunov.h"

typedef struct lyap {
    size_t k;              /* exponents computed (≤ n); 0: off              */
    double *lambda;        /* (B + 1) × k: per trial, then the sorted mean   */
    double max[2], ky[2];  /* first and latest snapshot (NaN: not computed)  */
    size_t n_seen;
} lyap;

static void destroy(void *self)
{
    lyap *l = self;
    if (l)
        free(l->lambda);
    free(l);
}

static int read_count(const kpf_node *node, size_t *count, kpf_error *err)
{
    if (kpf_node_kind(node) == KPF_NODE_MAP)
        return kpf_cfg_size(node, "exponents", KPF_CFG_REQUIRED, 0, 0, 100000, count, err);
    const char *s = kpf_node_scalar(node);
    char *end = NULL;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || s[0] == '-' || v > 100000)
        return kpf_node_error(node, err,
                              "expected a number of exponents 0 … 100000, or {exponents: N}");
    *count = (size_t)v;
    return KPF_OK;
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    size_t count = 0;
    int rc = node ? read_count(node, &count, err) : KPF_OK;
    if (rc)
        return rc;
    lyap *l = calloc(1, sizeof *l);
    if (!l)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    l->k = count < setup->model->n ? count : setup->model->n;
    l->lambda = calloc((setup->trials + 1) * (l->k + 1), sizeof(double));
    l->max[0] = l->max[1] = l->ky[0] = l->ky[1] = NAN;
    if (!l->lambda) {
        destroy(l);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the Lyapunov analysis");
    }
    *self = l;
    return KPF_OK;
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    lyap *l = self;
    int slot = s->index == 0 ? 0 : 1;
    size_t k = l->k, B = s->traj->B;
    l->n_seen = s->index + 1;
    l->max[slot] = l->ky[slot] = NAN;
    if (!k)
        return KPF_OK;
    kpf_lyap_opts lo = {.k = k, .t_ons = 1, .start = 0, .transient = s->traj->T / 3, .seed = 1};
    int rc = kpf_lyapunov_qr(s->model, s->traj, &lo, l->lambda, NULL, err);
    if (rc)
        return rc;
    double *mean = l->lambda + B * k; /* the spare row */
    for (size_t i = 0; i < k; i++) {
        mean[i] = 0;
        for (size_t b = 0; b < B; b++)
            mean[i] += l->lambda[b * k + i] / (double)B;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort, descending */
        for (size_t j = i; j > 0 && mean[j] > mean[j - 1]; j--) {
            double t = mean[j];
            mean[j] = mean[j - 1];
            mean[j - 1] = t;
        }
    l->max[slot] = mean[0];
    rc = kpf_kaplan_yorke(mean, k, &l->ky[slot], err);
    if (!rc) rc = kpf_snapshot_write(s, "lyapunov/mean_spectrum", mean, k, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "lyapunov_max", l->max[slot], err);
    if (!rc) rc = kpf_snapshot_scalar(s, "kaplan_yorke", l->ky[slot], err);
    return rc;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    const lyap *l = self;
    const char *const nm[2] = {"lyapunov_max_initial", "kaplan_yorke_initial"};
    double val[2] = {l->max[0], l->ky[0]};
    for (size_t i = 0; i < 2 && i < cap; i++) {
        names[i] = nm[i];
        v[i] = val[i];
    }
    return 2;
}

const kpf_analysis_desc kpf_analysis_lyapunov = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "lyapunov",
    .summary = "QR Lyapunov spectrum (mean over trials) and Kaplan-Yorke dimension",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
};
