/* The `cp` analysis: the weight tensor W [n × n × snapshots] of a square
 * block, minus its first snapshot (Pellegrino et al. 2023), decomposed after
 * the last snapshot — CP/PARAFAC variance explained at ranks 1 … r_max and
 * the singular values of its three unfoldings, under /weight_tensor/ in
 * analysis.h5; `cp_variance_explained` in summary.json; the figure
 * weight_tensor.png.  YAML: `cp: {r_max: 4, block: W}`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "builtin_analyses.h"
#include "kpf/cp.h"
#include "kpf/delta_w.h"
#include "kpf/linalg.h"
#include "kpf/plot.h"

typedef struct cp {
    const char *block;     /* lives as long as the config */
    size_t n, R, cap;      /* state size; ranks 1 … R; snapshots room */
    double *snaps;         /* cap matrices n×n, one after the other */
    size_t count;          /* snapshots stored */
    int have_w0;           /* the first stored one is the run's first */
    double *ve;            /* R: variance explained (after finish) */
    size_t n_ve;           /* 0: not computed */
} cp;

static void destroy(void *self)
{
    cp *c = self;
    if (!c)
        return;
    free(c->snaps);
    free(c->ve);
    free(c);
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    if (!node || kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {r_max: 4, block: W}");
    const char *block = NULL;
    size_t r_max = 0, n = setup->model->n;
    int rc = kpf_cfg_size(node, "r_max", KPF_CFG_OPTIONAL, 4, 1, 64, &r_max, err);
    if (!rc) rc = kpf_cfg_string(node, "block", KPF_CFG_OPTIONAL, "W", &block, err);
    const kpf_node *at = kpf_node_get(node, "block") ? kpf_node_get(node, "block") : node;
    if (!rc) rc = kpf_analysis_square_block(setup->model, at, block, "the CP analysis", err);
    if (rc)
        return rc;
    cp *c = calloc(1, sizeof *c);
    if (!c)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    c->block = block;
    c->n = n;
    c->R = r_max;
    c->cap = setup->max_snapshots;
    c->snaps = malloc((c->cap ? c->cap : 1) * n * n * sizeof(double));
    c->ve = calloc(r_max, sizeof(double));
    if (!c->snaps || !c->ve) {
        destroy(c);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the CP analysis");
    }
    *self = c;
    return KPF_OK;
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    cp *c = self;
    if (s->resumed || s->index >= c->cap) /* W₀ lived in the killed process */
        return KPF_OK;
    int rc = kpf_weight_snapshot(s->model, NULL, c->block, c->snaps + s->index * c->n * c->n,
                                 err);
    if (!rc && s->index == 0)
        c->have_w0 = 1;
    c->count = rc ? c->count : s->index + 1;
    return rc;
}

/* CP of W − W₀ ⊗ 1 and the spectra of its unfoldings. */
static int finish(void *self, const kpf_analysis_end *e, kpf_error *err)
{
    cp *c = self;
    size_t K = c->count, n = c->n, R = c->R;
    if (K < 2 || !c->have_w0)
        return KPF_OK;
    double *X = malloc(n * n * K * sizeof(double)), *sv = malloc(n * n * sizeof(double));
    int rc = X && sv ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "CP: out of memory");
    kpf_cp_opts co;
    kpf_cp_opts_default(&co);
    if (!rc) {
        kpf_weight_tensor(n, K, c->snaps, 1, X);
        rc = kpf_cp_ve_sweep(X, n, n, K, R, &co, c->ve, err);
    }
    if (!rc) {
        c->n_ve = R;
        rc = kpf_h5_write(e->h5, "/weight_tensor/cp_variance_explained", 1, &R, c->ve, err);
    }
    for (int mode = 0; !rc && mode < 3; mode++) {
        size_t k = mode < 2 ? (n < n * K ? n : n * K) : (K < n * n ? K : n * n);
        char path[64];
        snprintf(path, sizeof path, "/weight_tensor/unfolding%d_singular_values", mode);
        rc = kpf_tensor_unfold_sv(X, n, n, K, mode, sv, err);
        if (!rc) rc = kpf_h5_write(e->h5, path, 1, &k, sv, err);
    }
    free(X);
    free(sv);
    return rc ? kpf_error_prefix(err, rc, "CP analysis of the weight tensor: ") : KPF_OK;
}

static void summary_json(const void *self, kpf_json *j)
{
    const cp *c = self;
    if (!c->n_ve)
        return;
    kpf_json_key(j, "cp_variance_explained");
    kpf_json_array_begin(j);
    for (size_t r = 0; r < c->n_ve; r++)
        kpf_json_double(j, c->ve[r]);
    kpf_json_array_end(j);
}

/* The run's pretraining update spectrum (pretrain.h5, written by the
 * `pretrain:` stage when it knew W₀), for comparison; NaN when absent. */
static void pretrain_spectrum(const char *dir, size_t n, double *pre)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/pretrain.h5", dir);
    for (size_t i = 0; i < n; i++)
        pre[i] = NAN;
    kpf_h5 *h = NULL;
    size_t count = 0;
    if (access(path, R_OK) != 0 || kpf_h5_open(path, &h, NULL))
        return;
    const char *ds = "/delta_w/singular_values";
    if (!kpf_h5_is_dataset(h, ds) || kpf_h5_count(h, ds, &count, NULL) || count != n ||
        kpf_h5_read(h, ds, n, pre, NULL))
        for (size_t i = 0; i < n; i++)
            pre[i] = NAN;
    kpf_h5_close(h, NULL);
}

static void write_rows(FILE *fp, const cp *c, const double *sv, const double *pre)
{
    size_t show = c->n < 20 ? c->n : 20;
    fprintf(fp, "# rank  CP variance explained of W - W_first (snapshots)\n");
    for (size_t r = 0; r < c->n_ve; r++)
        fprintf(fp, "%zu %.10g\n", r + 1, c->ve[r]);
    fprintf(fp, "\n\n# i  s_i/s_1 of W_last - W_first  s_i/s_1 of the pretraining update\n");
    for (size_t i = 0; i < show; i++)
        fprintf(fp, "%zu %.10g %.10g\n", i + 1, sv[0] > 0 ? sv[i] / sv[0] : NAN,
                pre[0] > 0 ? pre[i] / pre[0] : NAN);
}

/* weight_tensor.{dat,gp,png}: CP variance explained against rank, and the
 * normalised spectra of W_last − W_first and of the pretraining update
 * (Pellegrino Fig. 5c). */
static int plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const cp *c = self;
    size_t n = c->n, K = c->count;
    if (!c->n_ve)
        return KPF_OK;
    double *D = malloc(n * n * sizeof *D), *sv = malloc(n * sizeof *sv);
    double *pre = malloc(n * sizeof *pre);
    int rc = D && sv && pre ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n * n; i++)
        D[i] = c->snaps[(K - 1) * n * n + i] - c->snaps[i];
    if (!rc) rc = kpf_matrix_svd(n, n, D, sv, NULL, NULL, err);
    if (!rc) pretrain_spectrum(p->dir, n, pre);
    FILE *fp = rc ? NULL : kpf_plot_open(p->dir, "weight_tensor.dat", err);
    if (fp) {
        write_rows(fp, c, sv, pre);
        rc = fclose(fp) ? kpf_error_set(err, KPF_EIO, "%s/weight_tensor.dat: write failed",
                                        p->dir)
                        : KPF_OK;
    } else if (!rc) {
        rc = KPF_EIO;
    }
    free(D);
    free(sv);
    free(pre);
    if (!rc)
        rc = kpf_plot_script(
            p->dir, "weight_tensor", "1100,450", err,
            "set multiplot layout 1,2\nset grid\nset key bottom right\n"
            "set title 'CP of the weight tensor W - W_first'\nset xlabel 'rank'\n"
            "set ylabel 'variance explained'\nset yrange [0:1.05]\nset xtics 1\n"
            "plot 'weight_tensor.dat' index 0 using 1:2 with linespoints lw 2 pt 7 notitle\n"
            "set title 'singular values of the weight updates'\nset xlabel 'i'\n"
            "set ylabel 's_i / s_1'\nset logscale y\nset autoscale y\nset xtics auto\n"
            "set key top right\n"
            "plot 'weight_tensor.dat' index 1 using 1:2 with linespoints pt 7 "
            "title 'W_last - W_first', '' index 1 using 1:3 with linespoints pt 5 "
            "title 'pretraining W* - W0'\nunset multiplot\n");
    return rc;
}

const kpf_analysis_desc kpf_analysis_cp = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "cp",
    .summary = "CP decomposition of the weight tensor W - W0 over the snapshots",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .finish = finish,
    .summary_json = summary_json,
    .plot = plot,
};
