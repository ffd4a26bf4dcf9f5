/* The `alignment` analysis: how the KPFlow operators line up over training.
 *
 *   adjoint–kernel alignment  R(K, P* Err) = ⟨K a, a⟩ / ⟨a, a⟩, a = P* Err
 *                             (App. E "Adjoint-Kernel Alignment is
 *                             Maximized", eq. 75), and the same divided by
 *                             K's largest eigenvalue (1: a is K's top mode)
 *   gradient misdirection     cos(B, Σ²) and B's off-diagonal share on P's
 *                             top-k triplets (App. B.4 eqs. 43–45;
 *                             kpf/misdirection.h)
 *   operator alignment        cos(P K P*, P P*) = tr(A*B)/√(tr(A*A) tr(B*B))
 *                             (the reference code's "misdirection" measure,
 *                             anchors §1.5), `probes` seeded probes (exact
 *                             when probes ≥ B·T·n)
 *   per-block ranks           effective rank (0.95) of the consensus spectrum
 *                             of each K_j (one θ block of the plugin) next to
 *                             K's and their sum (Theorem 1: K = Σ_j K_j, each
 *                             K_j's rank bounded by what W_j acts on)
 *
 * YAML: alignment: {k: 10, probes: 64, blocks: true, block_k: 20}
 * (k: 0 or probes: 0 skip those parts).  Per snapshot, under
 * /snapshots/<i>/alignment/: adjoint_kernel_rayleigh, misdirection/{sv, B},
 * pkp_pp_alignment, effrank_blocks (one per block, then K); scalars
 * adjoint_kernel_rayleigh(_rel), misdirection_cos, misdirection_offdiag,
 * pkp_pp_alignment, kj_effrank_<block>, kj_effrank_K, kj_effrank_sum.
 * Figure: alignment.png (each measure over iterations). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_analyses.h"
#include "kpf/kpflow.h"
#include "kpf/misdirection.h"
#include "kpf/plot.h"
#include "kpf/spectral.h"
#include "snapshot_error.h"

/* Per-snapshot scalars kept for the figure and the sweep tables. */
enum { AL_R = 0, AL_R_REL, AL_MIS, AL_MIS_OFF, AL_PKP, AL_N };
static const char *const al_names[AL_N] = {"adjoint_kernel_rayleigh",
                                           "adjoint_kernel_rayleigh_rel", "misdirection_cos",
                                           "misdirection_offdiag", "pkp_pp_alignment"};

typedef struct alignment {
    size_t k, probes, block_k;
    int blocks;
    size_t nb;                 /* plugin blocks (K_j), then K and the sum */
    const char **bname;        /* nb block names (the model's)            */
    char (*bscalar)[KPF_ANALYSIS_SCALAR_NAME_MAX + 1]; /* nb + 2 names    */
    size_t cap, n;
    size_t *iteration;
    double *hist;              /* cap × AL_N                               */
    double *rank;              /* cap × (nb + 2)                           */
    double *errv, *y, *dy, *a, *sv, *B, *bsv; /* buffers                  */
} alignment;

static void destroy(void *self)
{
    alignment *s = self;
    if (!s)
        return;
    free(s->bname);
    free(s->bscalar);
    free(s->iteration);
    free(s->hist);
    free(s->rank);
    free(s->errv);
    free(s->y);
    free(s->dy);
    free(s->a);
    free(s->sv);
    free(s->B);
    free(s->bsv);
    free(s);
}

/* kj_effrank_<block> with anything outside [A-Za-z0-9_] as '_'. */
static void scalar_name(char *out, size_t cap, const char *block)
{
    int len = snprintf(out, cap, "kj_effrank_%s", block);
    for (int i = 11; i < len && (size_t)i < cap; i++)
        if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z') ||
              (out[i] >= '0' && out[i] <= '9')))
            out[i] = '_';
}

static int read_settings(const kpf_node *node, const kpf_analysis_setup *setup,
                         alignment *s, kpf_error *err)
{
    if (node && kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {k, probes, blocks, block_k}");
    size_t N = setup->trials * setup->steps * setup->model->n;
    int rc = kpf_cfg_size(node, "k", KPF_CFG_OPTIONAL, 10, 0, 100000, &s->k, err);
    if (!rc && s->k >= N)
        rc = kpf_node_error(kpf_node_get(node, "k"), err,
                            "k = %zu must be below the %zu values of the analysis trials", s->k,
                            N);
    if (!rc) rc = kpf_cfg_size(node, "probes", KPF_CFG_OPTIONAL, 64, 0, 1000000, &s->probes, err);
    if (!rc) rc = kpf_cfg_bool(node, "blocks", KPF_CFG_OPTIONAL, 1, &s->blocks, err);
    if (!rc) rc = kpf_cfg_size(node, "block_k", KPF_CFG_OPTIONAL, 20, 1, 100000, &s->block_k, err);
    /* the consensus space keeps time only: at most T − 1 components */
    if (!rc && s->block_k >= setup->steps)
        s->block_k = setup->steps > 1 ? setup->steps - 1 : 1;
    return rc;
}

/* The plugin's own blocks: the core readout's W_out, b_out are not in f. */
static int list_blocks(const kpf_model *m, alignment *s, kpf_error *err)
{
    s->nb = 0;
    for (size_t b = 0; s->blocks && b < m->n_blocks; b++)
        s->nb += m->blocks[b].offset < m->m_model;
    s->bname = calloc(s->nb + 1, sizeof *s->bname);
    s->bscalar = calloc(s->nb + 2, sizeof *s->bscalar);
    if (!s->bname || !s->bscalar)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t b = 0, j = 0; j < s->nb; b++)
        if (m->blocks[b].offset < m->m_model) {
            s->bname[j] = m->blocks[b].name;
            scalar_name(s->bscalar[j++], sizeof s->bscalar[0], m->blocks[b].name);
        }
    snprintf(s->bscalar[s->nb], sizeof s->bscalar[0], "kj_effrank_K");
    snprintf(s->bscalar[s->nb + 1], sizeof s->bscalar[0], "kj_effrank_sum");
    return KPF_OK;
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    alignment *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    const kpf_model *m = setup->model;
    size_t rows = setup->trials * setup->steps;
    int rc = read_settings(node, setup, s, err);
    if (!rc) rc = list_blocks(m, s, err);
    if (!rc) {
        s->cap = setup->max_snapshots ? setup->max_snapshots : 1;
        s->iteration = calloc(s->cap, sizeof(size_t));
        s->hist = malloc(s->cap * AL_N * sizeof(double));
        s->rank = malloc(s->cap * (s->nb + 2) * sizeof(double));
        s->errv = malloc(rows * m->n * sizeof(double));
        s->a = malloc(rows * m->n * sizeof(double));
        s->y = malloc(rows * m->n_out * sizeof(double));
        s->dy = malloc(rows * m->n_out * sizeof(double));
        s->sv = malloc((s->k + 1) * sizeof(double));
        s->B = malloc((s->k * s->k + 1) * sizeof(double));
        s->bsv = malloc(s->block_k * sizeof(double));
        if (!s->iteration || !s->hist || !s->rank || !s->errv || !s->a || !s->y || !s->dy ||
            !s->sv || !s->B || !s->bsv)
            rc = kpf_error_set(err, KPF_ENOMEM, "cannot allocate the alignment analysis");
    }
    if (rc) {
        destroy(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

/* R(K, P* Err), and relative to K's largest eigenvalue. */
static int adjoint_kernel(alignment *s, const kpf_snapshot *sn, double *h, kpf_error *err)
{
    kpf_op *P = NULL, *K = NULL;
    int rc = kpf_internal_snapshot_error(sn->model, sn->traj, sn->batch, s->y, s->dy, s->errv,
                                         NULL, err);
    if (!rc) rc = kpf_op_propagator(sn->model, sn->traj, &P, err);
    if (!rc) rc = kpf_op_param(sn->model, sn->traj, &K, err);
    if (!rc) rc = kpf_op_apply_adjoint(P, s->errv, s->a, err);
    if (!rc) rc = kpf_rayleigh(K, s->a, &h[AL_R], err);
    double lmax = NAN;
    kpf_eig_opts eo = kpf_eig_opts_default();
    eo.seed = sn->seed;
    if (!rc) rc = kpf_eigsh(K, 1, &eo, &lmax, NULL, NULL, err);
    h[AL_R_REL] = lmax > 0 ? h[AL_R] / lmax : NAN;
    kpf_op_free(K);
    kpf_op_free(P);
    return rc;
}

static int operator_alignment(alignment *s, const kpf_snapshot *sn, double *h, kpf_error *err)
{
    kpf_op *pkp = NULL, *pp = NULL;
    int rc = kpf_op_pkp(sn->model, sn->traj, &pkp, err);
    if (!rc) rc = kpf_op_pp(sn->model, sn->traj, &pp, err);
    if (!rc) rc = kpf_op_alignment(pkp, pp, s->probes, sn->seed, &h[AL_PKP], err);
    kpf_op_free(pkp);
    kpf_op_free(pp);
    return rc;
}

/* Effective rank (0.95) of K_j's consensus spectrum; NaN when K_j = 0. */
static int block_rank(alignment *s, const kpf_snapshot *sn, const char *block, double *r,
                      kpf_error *err)
{
    kpf_op *K = NULL;
    kpf_eig_opts eo = kpf_eig_opts_default();
    int rc = block ? kpf_op_param_block(sn->model, sn->traj, block, &K, err)
                   : kpf_op_param(sn->model, sn->traj, &K, err);
    if (!rc)
        rc = kpf_consensus_gram(K, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, s->block_k, &eo, s->bsv, NULL,
                                err);
    kpf_op_free(K);
    *r = NAN;
    if (!rc && s->bsv[0] > 0.0)
        rc = kpf_effrank(s->bsv, s->block_k, 0.0, 0.95, r, err);
    return rc;
}

static int ranks(alignment *s, const kpf_snapshot *sn, double *r, kpf_error *err)
{
    double sum = 0.0;
    int rc = KPF_OK;
    for (size_t j = 0; !rc && j < s->nb; j++) {
        rc = block_rank(s, sn, s->bname[j], &r[j], err);
        if (!isnan(r[j]))
            sum += r[j];
    }
    if (!rc) rc = block_rank(s, sn, NULL, &r[s->nb], err);
    r[s->nb + 1] = sum;
    return rc ? kpf_error_prefix(err, rc, "per-block ranks: ") : KPF_OK;
}

static int write_results(alignment *s, const kpf_snapshot *sn, const double *h, const double *r,
                         kpf_error *err)
{
    int rc = kpf_snapshot_write(sn, "alignment/adjoint_kernel_rayleigh", &h[AL_R], 1, err);
    if (!rc && s->k) rc = kpf_snapshot_write(sn, "alignment/misdirection/sv", s->sv, s->k, err);
    if (!rc && s->k) {
        char path[512];
        size_t dims[2] = {s->k, s->k};
        snprintf(path, sizeof path, "%s/alignment/misdirection/B", sn->group);
        rc = kpf_h5_write(sn->h5, path, 2, dims, s->B, err);
    }
    if (!rc && s->probes)
        rc = kpf_snapshot_write(sn, "alignment/pkp_pp_alignment", &h[AL_PKP], 1, err);
    if (!rc && s->blocks)
        rc = kpf_snapshot_write(sn, "alignment/effrank_blocks", r, s->nb + 1, err);
    for (int i = 0; !rc && i < AL_N; i++)
        if (!(i == AL_MIS || i == AL_MIS_OFF) || s->k)
            if (i != AL_PKP || s->probes)
                rc = kpf_snapshot_scalar(sn, al_names[i], h[i], err);
    for (size_t j = 0; !rc && s->blocks && j < s->nb + 2; j++)
        rc = kpf_snapshot_scalar(sn, s->bscalar[j], r[j], err);
    return rc;
}

static int at_snapshot(void *self, const kpf_snapshot *sn, kpf_error *err)
{
    alignment *s = self;
    if (s->n == s->cap)
        return kpf_error_set(err, KPF_EINVAL, "more snapshots than the schedule's %zu", s->cap);
    double *h = s->hist + s->n * AL_N, *r = s->rank + s->n * (s->nb + 2);
    for (int i = 0; i < AL_N; i++)
        h[i] = NAN;
    for (size_t j = 0; j < s->nb + 2; j++)
        r[j] = NAN;
    s->iteration[s->n] = sn->iteration;
    int rc = adjoint_kernel(s, sn, h, err);
    if (!rc && s->k) {
        kpf_misdirection_result mr;
        kpf_eig_opts eo = kpf_eig_opts_default();
        eo.seed = sn->seed;
        rc = kpf_misdirection(sn->model, sn->traj, s->k, &eo, s->sv, s->B, &mr, err);
        h[AL_MIS] = mr.cos_b_sigma2;
        h[AL_MIS_OFF] = mr.offdiag_share;
    }
    if (!rc && s->probes) rc = operator_alignment(s, sn, h, err);
    if (!rc && s->blocks) rc = ranks(s, sn, r, err);
    if (!rc) rc = write_results(s, sn, h, r, err);
    if (!rc)
        s->n++;
    return rc;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    const alignment *s = self;
    static const int pick[3] = {AL_R, AL_MIS, AL_PKP};
    for (size_t i = 0; i < 3 && i < cap; i++) {
        names[i] = al_names[pick[i]];
        v[i] = s->n ? s->hist[(s->n - 1) * AL_N + pick[i]] : NAN;
    }
    return 3;
}

/* Each measure over iterations: R(K, P*Err) (log y), the cosines, ranks. */
static int plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const alignment *s = self;
    if (!s->n)
        return KPF_OK;
    FILE *fp = kpf_plot_open(p->dir, "alignment.dat", err);
    if (!fp)
        return KPF_EIO;
    fputs("# iteration R R_rel misdirection_cos misdirection_offdiag pkp_pp", fp);
    for (size_t j = 0; j < s->nb + 2; j++)
        fprintf(fp, " %s", s->bscalar[j]);
    for (size_t k = 0; k < s->n; k++) {
        fprintf(fp, "\n%zu", s->iteration[k]);
        for (int i = 0; i < AL_N; i++)
            fprintf(fp, " %.8g", s->hist[k * AL_N + i]);
        for (size_t j = 0; j < s->nb + 2; j++)
            fprintf(fp, " %.8g", s->rank[k * (s->nb + 2) + j]);
    }
    fputc('\n', fp);
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/alignment.dat: write failed", p->dir);
    char ranks_plot[4096] = "";
    size_t len = 0;
    for (size_t j = 0; j < s->nb + 2 && len < sizeof ranks_plot; j++)
        len += (size_t)snprintf(ranks_plot + len, sizeof ranks_plot - len,
                                "%s'alignment.dat' using 1:%zu with linespoints lw 2 title '%s'",
                                j ? ", " : "", 7 + j,
                                j < s->nb ? s->bname[j] : j == s->nb ? "K" : "sum of K_j");
    return kpf_plot_script(
        p->dir, "alignment", "1500,450", err,
        "set multiplot layout 1,3\nset xlabel 'iteration'\nset grid\nset key font ',9'\n"
        "set title \"R(K, P*Err) (App. E)\"\nset logscale y\n"
        "plot 'alignment.dat' using 1:2 with linespoints lw 2 title 'R', "
        "'' using 1:3 with linespoints lw 2 title 'R / lambda_max(K)'\nunset logscale y\n"
        "set title 'misdirection (App. B.4) and cos(PKP*, PP*)'\nset yrange [*:1.05]\n"
        "plot 'alignment.dat' using 1:4 with linespoints lw 2 title 'cos(B, Sigma^2)', "
        "'' using 1:5 with linespoints lw 2 title 'off-diagonal share of B', "
        "'' using 1:6 with linespoints lw 2 title 'cos(PKP*, PP*)'\nset yrange [*:*]\n"
        "set title 'effective rank of K_j (consensus, 0.95)'\nplot %s\nunset multiplot\n",
        s->blocks ? ranks_plot : "NaN notitle");
}

const kpf_analysis_desc kpf_analysis_alignment = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "alignment",
    .summary = "R(K, P*Err), gradient misdirection, cos(PKP*, PP*), per-block ranks of K_j",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
    .plot = plot,
};
