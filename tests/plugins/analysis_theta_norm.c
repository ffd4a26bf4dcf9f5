/* Analysis fixture: an analysis from a shared object, as a user would write
 * one.  `theta_norm: {scale: s}` reports s·‖θ‖₂ at every snapshot (dataset
 * <group>/theta_norm/value and the snapshot scalar theta_norm), writes the
 * number of snapshots after the last one (/theta_norm/snapshots, and
 * theta_norm_snapshots in summary.json), and gives the sweep scalar
 * theta_norm_final.  Every optional op is used, so the host's calls of
 * each are exercised from a file. */
#include <math.h>
#include <stdlib.h>

#include "kpf/analysis.h"
#include "kpf/model.h"

typedef struct tn {
    double scale, last;
    size_t count;
} tn;

static int tn_create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                     kpf_error *err)
{
    tn t = {.scale = 1.0, .last = NAN};
    int rc = kpf_cfg_double(node, "scale", KPF_CFG_OPTIONAL, 1.0, -1e6, 1e6, &t.scale, err);
    if (rc)
        return rc;
    tn *p = malloc(sizeof *p);
    if (!p)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *p = t;
    *self = p;
    return KPF_OK;
}

static void tn_destroy(void *self) { free(self); }

static int tn_at(void *self, const kpf_snapshot *s, kpf_error *err)
{
    tn *t = self;
    double sum = 0.0;
    for (size_t i = 0; i < s->model->m; i++)
        sum += s->model->theta[i] * s->model->theta[i];
    t->last = t->scale * sqrt(sum);
    t->count++;
    int rc = kpf_snapshot_write(s, "theta_norm/value", &t->last, 1, err);
    return rc ? rc : kpf_snapshot_scalar(s, "theta_norm", t->last, err);
}

static int tn_finish(void *self, const kpf_analysis_end *e, kpf_error *err)
{
    const tn *t = self;
    double c = (double)t->count;
    size_t one = 1;
    return kpf_h5_write(e->h5, "/theta_norm/snapshots", 1, &one, &c, err);
}

static size_t tn_scalars(const void *self, const char **names, double *v, size_t cap)
{
    if (cap) {
        names[0] = "theta_norm_final";
        v[0] = ((const tn *)self)->last;
    }
    return 1;
}

static void tn_summary(const void *self, kpf_json *j)
{
    kpf_json_key(j, "theta_norm_snapshots");
    kpf_json_uint(j, ((const tn *)self)->count);
}

static int tn_plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    return KPF_OK; /* a figure is optional; this one draws none */
}

static const kpf_analysis_desc desc = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "theta_norm",
    .summary = "test fixture: the norm of theta at every snapshot",
    .create = tn_create,
    .destroy = tn_destroy,
    .at_snapshot = tn_at,
    .finish = tn_finish,
    .scalars = tn_scalars,
    .summary_json = tn_summary,
    .plot = tn_plot,
};

KPF_EXPORT const kpf_analysis_desc *kpf_analysis_descriptor(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
