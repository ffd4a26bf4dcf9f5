/* The `lyapunov` analysis: the QR Lyapunov spectrum of the model on the
 * analysis trials at every snapshot (kpf/lyapunov.h), averaged over trials
 * and sorted, and its Kaplan–Yorke dimension; optionally the largest
 * exponent again by direct simulation (kpf_lyapunov_dns), the check that
 * does not go through the tangent.
 *
 * YAML: `lyapunov: N` (N exponents, clipped to n; 0: none) or
 *   lyapunov: {exponents: N, transient: S, qr_interval: Q, start: S0,
 *              seed: s, dns: false, dns_eps: 1e-6}
 * transient (default T/3) is counted in steps after `start`, so the counted
 * window is [start + transient, T); the spectrum is a finite-time one over
 * that window, and its length is what convergence studies vary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_analyses.h"
#include "kpf/lyapunov.h"
#include "kpf/plot.h"

typedef struct lyap {
    size_t k;              /* exponents computed (≤ n); 0: off              */
    kpf_lyap_opts o;       /* k, t_ons, start, transient, seed              */
    int dns;               /* also the largest exponent by direct simulation */
    double dns_eps;        /* its relative perturbation size                 */
    double *lambda;        /* (B + 1) × k: per trial, then the sorted mean   */
    double *dns_max;       /* B: per-trial DNS exponents (dns only)          */
    double *first, *last;  /* k: mean spectra of the first and latest snapshot */
    double max[2], ky[2];  /* first and latest snapshot (NaN: not computed)  */
    size_t it[2];          /* their iterations                               */
    double time;           /* time the latest spectrum averages over         */
    size_t n_seen;
} lyap;

static void destroy(void *self)
{
    lyap *l = self;
    if (l) {
        free(l->lambda);
        free(l->dns_max);
        free(l->first);
        free(l->last);
    }
    free(l);
}

static int read_scalar_count(const kpf_node *node, size_t *count, kpf_error *err)
{
    const char *s = kpf_node_scalar(node);
    char *end = NULL;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || s[0] == '-' || v > 100000)
        return kpf_node_error(node, err,
                              "expected a number of exponents 0 … 100000, or {exponents: N, "
                              "transient, qr_interval, start, seed, dns}");
    *count = (size_t)v;
    return KPF_OK;
}

/* The map form's keys; `T` (the analysis trials' length) bounds the
 * window so that a run that could not count one QR block stops at exit 2,
 * before any output exists. */
static int read_map(const kpf_node *node, size_t T, lyap *l, size_t *count, kpf_error *err)
{
    kpf_lyap_opts *o = &l->o;
    uint64_t seed = 1;
    int rc = kpf_cfg_size(node, "exponents", KPF_CFG_REQUIRED, 0, 0, 100000, count, err);
    if (!rc) rc = kpf_cfg_size(node, "start", 0, 0, 0, (size_t)-1, &o->start, err);
    if (!rc) rc = kpf_cfg_size(node, "transient", 0, T / 3, 0, (size_t)-1, &o->transient, err);
    if (!rc) rc = kpf_cfg_size(node, "qr_interval", 0, 1, 1, 100000, &o->t_ons, err);
    if (!rc) rc = kpf_cfg_u64(node, "seed", 0, 1, &seed, err);
    if (!rc) rc = kpf_cfg_bool(node, "dns", 0, 0, &l->dns, err);
    if (!rc) rc = kpf_cfg_double(node, "dns_eps", 0, 1e-6, 1e-14, 1e-1, &l->dns_eps, err);
    if (rc)
        return rc;
    o->seed = seed;
    if (o->start >= T || o->transient >= T - o->start || o->t_ons > T - o->start - o->transient) {
        const kpf_node *at = kpf_node_get(node, "transient");
        return kpf_node_error(at ? at : node, err,
                              "start %zu + transient %zu + qr_interval %zu leave no counted QR "
                              "block in the analysis trials' %zu steps; shorten them or "
                              "lengthen the task",
                              o->start, o->transient, o->t_ons, T);
    }
    return KPF_OK;
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    lyap *l = calloc(1, sizeof *l);
    if (!l)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    size_t count = 0, T = setup->steps;
    l->o = (kpf_lyap_opts){.t_ons = 1, .start = 0, .transient = T / 3, .seed = 1};
    l->dns_eps = 1e-6;
    int rc = KPF_OK;
    if (node && kpf_node_kind(node) == KPF_NODE_MAP)
        rc = read_map(node, T, l, &count, err);
    else if (node)
        rc = read_scalar_count(node, &count, err);
    if (rc) {
        destroy(l);
        return rc;
    }
    l->k = l->o.k = count < setup->model->n ? count : setup->model->n;
    l->lambda = calloc((setup->trials + 1) * (l->k + 1), sizeof(double));
    l->dns_max = calloc(setup->trials + 1, sizeof(double));
    l->first = calloc(l->k + 1, sizeof(double));
    l->last = calloc(l->k + 1, sizeof(double));
    l->max[0] = l->max[1] = l->ky[0] = l->ky[1] = NAN;
    if (!l->lambda || !l->dns_max || !l->first || !l->last) {
        destroy(l);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the Lyapunov analysis");
    }
    *self = l;
    return KPF_OK;
}

static void mean_sorted(const double *lambda, size_t B, size_t k, double *mean)
{
    for (size_t i = 0; i < k; i++) {
        mean[i] = 0;
        for (size_t b = 0; b < B; b++)
            mean[i] += lambda[b * k + i] / (double)B;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort, descending */
        for (size_t j = i; j > 0 && mean[j] > mean[j - 1]; j--) {
            double t = mean[j];
            mean[j] = mean[j - 1];
            mean[j - 1] = t;
        }
}

/* Per-trial Kaplan–Yorke dimensions, averaged: the paper's shaded bands are
 * a spread over runs, and a mean of per-trial dimensions is not the
 * dimension of the mean spectrum, so both are reported. */
static int trial_ky_mean(const lyap *l, size_t B, double *out, kpf_error *err)
{
    double sum = 0.0, d;
    for (size_t b = 0; b < B; b++) {
        int rc = kpf_kaplan_yorke(l->lambda + b * l->k, l->k, &d, err);
        if (rc)
            return rc;
        sum += d;
    }
    *out = sum / (double)B;
    return KPF_OK;
}

static int report_dns(lyap *l, const kpf_snapshot *s, double qr_max, kpf_error *err)
{
    size_t B = s->traj->B;
    int rc = kpf_lyapunov_dns(s->model, s->traj, &l->o, l->dns_eps, l->dns_max, err);
    double mean = 0.0;
    for (size_t b = 0; !rc && b < B; b++)
        mean += l->dns_max[b] / (double)B;
    if (!rc) rc = kpf_snapshot_write(s, "lyapunov/dns_max", l->dns_max, B, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "lyapunov_dns_max", mean, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "lyapunov_dns_rel_diff", fabs(qr_max - mean) /
                                                                      fmax(fabs(mean), 1e-300),
                                      err);
    return rc;
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
    kpf_lyap_diag d;
    int rc = kpf_lyapunov_qr(s->model, s->traj, &l->o, l->lambda, &d, err);
    if (rc)
        return rc;
    double *mean = l->lambda + B * k; /* the spare row */
    mean_sorted(l->lambda, B, k, mean);
    double qr_first_mean = 0.0, ky_trials = NAN;
    for (size_t b = 0; b < B; b++) /* unsorted QR λ1 of each trial, for DNS */
        qr_first_mean += l->lambda[b * k] / (double)B;
    l->max[slot] = mean[0];
    l->it[slot] = s->iteration;
    l->time = d.time;
    memcpy(slot ? l->last : l->first, mean, k * sizeof(double));
    rc = kpf_kaplan_yorke(mean, k, &l->ky[slot], err);
    if (!rc) rc = trial_ky_mean(l, B, &ky_trials, err);
    if (!rc) rc = kpf_snapshot_write(s, "lyapunov/mean_spectrum", mean, k, err);
    if (!rc) rc = kpf_snapshot_write(s, "lyapunov/trial_spectra", l->lambda, B * k, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "lyapunov_max", l->max[slot], err);
    if (!rc) rc = kpf_snapshot_scalar(s, "kaplan_yorke", l->ky[slot], err);
    if (!rc) rc = kpf_snapshot_scalar(s, "kaplan_yorke_trial_mean", ky_trials, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "lyapunov_time", d.time, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "lyapunov_cond", d.cond_diag_max, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "lyapunov_ill_conditioned", d.ill_conditioned, err);
    if (!rc && l->dns)
        rc = report_dns(l, s, qr_first_mean, err);
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

/* lyapunov.png: the mean spectrum against its index (first snapshot, and
 * the latest when there are several), zero line and the Kaplan–Yorke
 * dimension marked; plot-src/lyapunov.dat holds "i λ_i" per snapshot. */
static int plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const lyap *l = self;
    if (!l->k || !l->n_seen)
        return KPF_OK;
    FILE *fp = kpf_plot_open(p->dir, "lyapunov.dat", err);
    if (!fp)
        return KPF_EIO;
    size_t shown = l->n_seen > 1 ? 2 : 1;
    for (size_t j = 0; j < shown; j++) {
        fprintf(fp, "# iteration %zu: kaplan_yorke %.10g\n", l->it[j], l->ky[j]);
        for (size_t i = 0; i < l->k; i++)
            fprintf(fp, "%zu %.10g\n", i + 1, (j ? l->last : l->first)[i]);
        fputs("\n\n", fp);
    }
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/lyapunov.dat: write failed", p->dir);
    return kpf_plot_script(
        p->dir, "lyapunov", "900,600", err,
        "set grid\nset xlabel 'index i'\nset ylabel 'Lyapunov exponent lambda_i (per unit "
        "time)'\nset title 'Lyapunov spectrum over t = %.6g (Kaplan-Yorke %.4g of %zu)'\n"
        "set xzeroaxis lt -1\nset arrow from %.10g, graph 0 to %.10g, graph 1 nohead dt 2 "
        "lc rgb '#b2182b'\n"
        "plot for [j=0:%zu] 'lyapunov.dat' index j using 1:2 with lines lw 2 title "
        "(j == 0 ? 'iteration %zu' : 'iteration %zu')\n",
        l->time, l->ky[shown - 1], l->k, l->ky[shown - 1], l->ky[shown - 1], shown - 1,
        l->it[0], l->it[1]);
}

const kpf_analysis_desc kpf_analysis_lyapunov = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "lyapunov",
    .summary = "QR Lyapunov spectrum (mean over trials) and Kaplan-Yorke dimension",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
    .plot = plot,
};
