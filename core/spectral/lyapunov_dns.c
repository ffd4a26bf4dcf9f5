/* The largest Lyapunov exponent by direct simulation of a small perturbed
 * copy of each trial (Engelken, Wolf & Abbott's check of the QR method):
 * no tangent is used, only kpf_step, so it also tests the tangent itself. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/blas.h"
#include "kpf/rng.h"
#include "lyapunov_internal.h"

/* Stream of the perturbation directions ("ldns"). */
#define KPF_DNS_STREAM 0x6c646e73u

typedef struct dns {
    double *stage_z, *stage_tape; /* the perturbed rows' stages, owned      */
    double *z, *z_next;           /* B×n perturbed states                   */
    double *eps;                  /* B: size of each trial's perturbation   */
    double eps_rel;
} dns;

/* ε = eps_rel·max(‖z‖, 1): relative to the state, so that the difference
 * of two large states is not lost to rounding, with an absolute floor so a
 * state near 0 still gets a perturbation that rounding can resolve. */
static double eps_at(const dns *d, const double *z, size_t n)
{
    return d->eps_rel * fmax(cblas_dnrm2((int)n, z, 1), 1.0);
}

static void dns_free(dns *d)
{
    free(d->stage_z);
    free(d->stage_tape);
    free(d->z);
    free(d->z_next);
    free(d->eps);
}

static int dns_alloc(dns *d, const kpf_traj *tr, kpf_error *err)
{
    size_t B = tr->B, n = tr->n, tw = tr->tape_width;
    *d = (dns){0};
    d->stage_z = malloc(tr->n_stages * B * n * sizeof(double));
    d->stage_tape = tw ? malloc(tr->n_stages * B * tw * sizeof(double)) : NULL;
    d->z = malloc(B * n * sizeof(double));
    d->z_next = malloc(B * n * sizeof(double));
    d->eps = malloc(B * sizeof(double));
    if (d->stage_z && (!tw || d->stage_tape) && d->z && d->z_next && d->eps)
        return KPF_OK;
    dns_free(d);
    return kpf_error_set(err, KPF_ENOMEM, "dns: out of memory");
}

/* z = z_ref + ε u with u a random unit vector. */
static int perturb_start(dns *d, const kpf_traj *tr, size_t start, uint64_t seed,
                         kpf_error *err)
{
    size_t n = tr->n;
    const double *ref = kpf_traj_state_before(tr, start);
    gsl_rng *g = NULL;
    int rc = kpf_rng_alloc(seed, KPF_DNS_STREAM, &g, err);
    for (size_t b = 0; !rc && b < tr->B; b++) {
        double *u = d->z + b * n;
        for (size_t i = 0; i < n; i++)
            u[i] = gsl_ran_gaussian(g, 1.0);
        d->eps[b] = eps_at(d, ref + b * n, n);
        double s = d->eps[b] / cblas_dnrm2((int)n, u, 1);
        for (size_t i = 0; i < n; i++)
            u[i] = ref[b * n + i] + s * u[i];
    }
    if (g)
        gsl_rng_free(g);
    return rc;
}

/* Measure the difference to the reference after a block, add its log
 * growth over the ε it started from when counted, and rescale it to the ε
 * of the current state. */
static int renormalise(dns *d, const double *ref, size_t B, size_t n, int counted,
                       double *sum, kpf_error *err)
{
    for (size_t b = 0; b < B; b++) {
        double *z = d->z + b * n;
        const double *r = ref + b * n;
        double nd = 0.0;
        for (size_t i = 0; i < n; i++)
            nd += (z[i] - r[i]) * (z[i] - r[i]);
        nd = sqrt(nd);
        if (!(nd > 0.0) || !isfinite(nd))
            return kpf_error_set(err, KPF_ENUMERIC, "dns: perturbation of trial %zu became %g",
                                 b, nd);
        if (counted)
            sum[b] += log(nd / d->eps[b]);
        d->eps[b] = eps_at(d, r, n);
        for (size_t i = 0; i < n; i++)
            z[i] = r[i] + (z[i] - r[i]) * (d->eps[b] / nd);
    }
    return KPF_OK;
}

/* Step the perturbed rows with the trajectory's inputs, trials and times,
 * but stage storage of our own (the trajectory's must stay the reference). */
static int step_rows(kpf_model *m, const kpf_traj *tr, dns *d, size_t step, kpf_error *err)
{
    kpf_step_rows s = kpf_traj_step_rows(tr, step);
    s.stage_z = d->stage_z;
    s.stage_tape = d->stage_tape;
    s.stage_ld = tr->B;
    int rc = kpf_step(m, &s, d->z, d->z_next, err);
    double *t = d->z;
    d->z = d->z_next;
    d->z_next = t;
    return rc ? kpf_error_prefix(err, rc, "dns step %zu: ", step) : KPF_OK;
}

int kpf_lyapunov_dns(kpf_model *m, const kpf_traj *tr, const kpf_lyap_opts *o,
                     double eps_rel, double *lambda_max, kpf_error *err)
{
    if (!m || !tr || !o || !lambda_max)
        return kpf_error_set(err, KPF_EINVAL, "dns: NULL argument");
    size_t t_ons = o->t_ons ? o->t_ons : 1, B = tr->B, n = tr->n, counted = 0;
    if (tr->n != m->n || tr->n_stages != m->stepper->n_stages ||
        o->start + o->transient + t_ons > tr->T)
        return kpf_error_set(err, KPF_EINVAL, "dns: trajectory of another model, or too short "
                                              "for start + transient + t_ons");
    dns d;
    int rc = dns_alloc(&d, tr, err);
    if (rc)
        return rc;
    memset(lambda_max, 0, B * sizeof(double));
    d.eps_rel = eps_rel > 0.0 ? eps_rel : 1e-6;
    rc = kpf_model_reserve(m, B, err);
    if (!rc)
        rc = perturb_start(&d, tr, o->start, o->seed, err);
    for (size_t step = o->start; !rc && step < tr->T; step++) {
        size_t rel = step - o->start + 1;
        rc = step_rows(m, tr, &d, step, err);
        if (rc || rel % t_ons)
            continue;
        int c = rel > o->transient;
        rc = renormalise(&d, tr->z + step * B * n, B, n, c, lambda_max, err);
        counted += c;
    }
    for (size_t b = 0; !rc && b < B; b++)
        lambda_max[b] /= (double)counted * (double)t_ons * tr->dt;
    dns_free(&d);
    return rc;
}
