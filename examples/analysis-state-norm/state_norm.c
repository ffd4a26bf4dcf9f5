/* state_norm.c — an out-of-tree kpf analysis: how large the hidden state is
 * over the course of a trial, at every training snapshot.
 *
 *     rms_t = sqrt( (1 / (B n)) Σ_b Σ_i z_{t+1}[b, i]² ),   t = 0 … T−1
 *
 * over the B analysis trials and n units, and the RMS over the whole trial,
 * rms = sqrt(mean_t rms_t²).  Written per snapshot as the dataset
 * /snapshots/<iteration>/state_norm/rms [T] of analysis.h5, with the
 * scalars state_norm_rms and state_norm_last (rms_{T−1}) in that snapshot's
 * entry of summary.json; state_norm_rms_initial and state_norm_rms (first
 * and last snapshot) in sweep tables; the figure state_norm.png (rms_t
 * against t at the first and the last snapshot).
 *
 * YAML (in an experiment's analysis: section):
 *   state_norm: {}                 no settings
 *   state_norm: {skip: 10}         leave the first 10 steps out of rms
 *                                  (a transient from z₀)
 *
 * Build:  make            (uses pkg-config --cflags --libs kpf)
 * Run:    KPF_PLUGIN_PATH=$PWD kpf run state_norm.yaml
 *
 * docs/writing-a-plugin.md ("Writing an analysis") walks through this file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <kpf/analysis.h>
#include <kpf/model.h>
#include <kpf/plot.h>

typedef struct state_norm {
    size_t T, skip;
    double *rms[2];     /* rms_t at the first snapshot and at the latest */
    size_t iter[2];
    double overall[2];  /* rms over the trial, same two snapshots        */
    size_t n_seen;
} state_norm;

static void sn_destroy(void *self)
{
    state_norm *s = self;
    if (!s)
        return;
    free(s->rms[0]);
    free(s->rms[1]);
    free(s);
}

/* Settings are validated here, with located errors, and the buffers sized
 * by the setup: a snapshot allocates nothing. */
static int sn_create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                     kpf_error *err)
{
    size_t skip = 0;
    int rc = kpf_cfg_size(node, "skip", KPF_CFG_OPTIONAL, 0, 0, setup->steps - 1, &skip, err);
    if (rc)
        return rc;
    state_norm *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "state_norm: out of memory");
    s->T = setup->steps;
    s->skip = skip;
    s->rms[0] = calloc(s->T, sizeof(double));
    s->rms[1] = calloc(s->T, sizeof(double));
    s->overall[0] = s->overall[1] = NAN;
    if (!s->rms[0] || !s->rms[1]) {
        sn_destroy(s);
        return kpf_error_set(err, KPF_ENOMEM, "state_norm: out of memory");
    }
    *self = s;
    return KPF_OK;
}

static int sn_at_snapshot(void *self, const kpf_snapshot *snap, kpf_error *err)
{
    state_norm *s = self;
    const kpf_traj *tr = snap->traj; /* z: [T][B][n], step-major */
    int slot = snap->index == 0 ? 0 : 1;
    size_t row = tr->B * tr->n;
    double *rms = s->rms[slot], sum = 0.0;
    for (size_t t = 0; t < tr->T; t++) {
        const double *z = tr->z + t * row;
        double ss = 0.0;
        for (size_t i = 0; i < row; i++)
            ss += z[i] * z[i];
        rms[t] = sqrt(ss / (double)row);
        if (t >= s->skip)
            sum += ss;
    }
    s->overall[slot] = sqrt(sum / (double)((tr->T - s->skip) * row));
    s->iter[slot] = snap->iteration;
    s->n_seen = snap->index + 1;
    int rc = kpf_snapshot_write(snap, "state_norm/rms", rms, tr->T, err);
    if (!rc) rc = kpf_snapshot_scalar(snap, "state_norm_rms", s->overall[slot], err);
    if (!rc) rc = kpf_snapshot_scalar(snap, "state_norm_last", rms[tr->T - 1], err);
    return rc;
}

static size_t sn_scalars(const void *self, const char **names, double *v, size_t cap)
{
    const state_norm *s = self;
    const char *const nm[2] = {"state_norm_rms_initial", "state_norm_rms"};
    double val[2] = {s->overall[0], s->overall[s->n_seen > 1]};
    for (size_t i = 0; i < 2 && i < cap; i++) {
        names[i] = nm[i];
        v[i] = val[i];
    }
    return 2;
}

/* state_norm.{dat,gp,png}: rms_t against t, first and last snapshot. */
static int sn_plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const state_norm *s = self;
    if (!s->n_seen)
        return KPF_OK;
    FILE *fp = kpf_plot_open(p->dir, "state_norm.dat", err);
    if (!fp)
        return err ? err->code : KPF_EIO;
    fprintf(fp, "# step  rms at iteration %zu  rms at iteration %zu\n", s->iter[0],
            s->iter[s->n_seen > 1]);
    for (size_t t = 0; t < s->T; t++)
        fprintf(fp, "%zu %.10g %.10g\n", t + 1, s->rms[0][t], s->rms[s->n_seen > 1][t]);
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/state_norm.dat: write failed", p->dir);
    return kpf_plot_script(p->dir, "state_norm", "800,500", err,
                           "set grid\nset xlabel 'step'\nset ylabel 'RMS of z'\n"
                           "set title 'hidden state size over a trial'\n"
                           "plot 'state_norm.dat' using 1:2 with lines lw 2 title "
                           "'iteration %zu', '' using 1:3 with lines lw 2 title "
                           "'iteration %zu'\n",
                           s->iter[0], s->iter[s->n_seen > 1]);
}

static const kpf_analysis_desc state_norm_desc = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "state_norm",
    .summary = "RMS of the hidden state over each step of a trial, at every snapshot",
    .create = sn_create,
    .destroy = sn_destroy,
    .at_snapshot = sn_at_snapshot,
    .scalars = sn_scalars,
    .plot = sn_plot,
};

KPF_EXPORT const kpf_analysis_desc *kpf_analysis_descriptor(uint32_t index)
{
    return index == 0 ? &state_norm_desc : NULL;
}
