/* The Lyapunov spectrum by repeated QR (Benettin et al.; Engelken, Wolf &
 * Abbott 2020; KPFlow App. C), and the Kaplan–Yorke dimension. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lyapunov_internal.h"

static int check_opts(const kpf_model *m, const kpf_traj *tr, const kpf_lyap_opts *o,
                      size_t k, kpf_error *err)
{
    if (!m || !tr || !o)
        return kpf_error_set(err, KPF_EINVAL, "lyapunov: NULL model, trajectory or options");
    if (tr->n != m->n || tr->n_stages != m->stepper->n_stages)
        return kpf_error_set(err, KPF_EINVAL, "lyapunov: trajectory was simulated with another "
                                              "model or stepper");
    if (k < 1 || k > m->n)
        return kpf_error_set(err, KPF_EINVAL, "lyapunov: k = %zu not in [1, n = %zu]", k, m->n);
    size_t t_ons = o->t_ons ? o->t_ons : 1;
    if (o->start + o->transient + t_ons > tr->T)
        return kpf_error_set(err, KPF_EINVAL,
                             "lyapunov: %zu steps leave no counted block after start %zu + "
                             "transient %zu (t_ons %zu)",
                             tr->T, o->start, o->transient, t_ons);
    return KPF_OK;
}

/* Exact cond(R) of one trial's k×k factor, by Jacobi SVD (cond(Rᵀ) =
 * cond(R), so R's row-major storage serves as the column-major input). */
static int cond_of(double *R, size_t k, double *work, double *cond, kpf_error *err)
{
    double *sv = work + KPF_LYAP_SVALS_WORK(k, k);
    int rc = kpf_lyap_svals(R, k, k, sv, work, err);
    if (!rc)
        *cond = sv[k - 1] > 0.0 ? sv[0] / sv[k - 1] : INFINITY;
    return rc;
}

/* One QR step over all trials: accumulate log|R_ii| into sum when counted,
 * and watch the conditioning. */
static int qr_all(kpf_lyap_ws *w, int counted, double *sum, double *scratch,
                  kpf_lyap_diag *d, kpf_error *err)
{
    size_t k = w->k;
    double *logd = scratch, *R = scratch + k, *work = R + k * k;
    int first = counted && d->n_qr == 0;
    for (size_t b = 0; b < w->B; b++) {
        int rc = kpf_lyap_ws_qr(w, b, logd, first ? R : NULL, err);
        double lo = INFINITY, hi = -INFINITY, c;
        for (size_t i = 0; !rc && i < k; i++) {
            lo = fmin(lo, logd[i]);
            hi = fmax(hi, logd[i]);
            if (counted)
                sum[b * k + i] += logd[i];
        }
        d->cond_diag_max = fmax(d->cond_diag_max, exp(hi - lo));
        if (!rc && first && !(rc = cond_of(R, k, work, &c, err)))
            d->cond_first = fmax(d->cond_first, c);
        if (rc)
            return rc;
    }
    d->n_qr += counted;
    return KPF_OK;
}

static int run_qr(kpf_lyap_ws *w, const kpf_lyap_opts *o, double *sum, double *scratch,
                  kpf_lyap_diag *d, kpf_error *err)
{
    size_t t_ons = o->t_ons ? o->t_ons : 1;
    int rc = kpf_lyap_ws_init(w, 0, o->seed, err);
    for (size_t step = o->start; !rc && step < w->tr->T; step++) {
        size_t rel = step - o->start + 1;
        rc = kpf_lyap_ws_step(w, step, err);
        if (!rc && rel % t_ons == 0)
            rc = qr_all(w, rel > o->transient, sum, scratch, d, err);
    }
    d->time = (double)d->n_qr * (double)t_ons * w->tr->dt;
    d->ill_conditioned = d->cond_first > KPF_LYAP_COND_WARN ||
                         d->cond_diag_max > KPF_LYAP_COND_WARN;
    return rc;
}

int kpf_lyapunov_qr(kpf_model *m, const kpf_traj *tr, const kpf_lyap_opts *o, double *lambda,
                    kpf_lyap_diag *diag, kpf_error *err)
{
    int rc = check_opts(m, tr, o, o ? o->k : 0, err);
    if (rc || !lambda)
        return rc ? rc : kpf_error_set(err, KPF_EINVAL, "lyapunov: NULL output");
    size_t k = o->k;
    kpf_lyap_ws w;
    if ((rc = kpf_lyap_ws_alloc(&w, m, tr, k, err)))
        return rc;
    kpf_lyap_diag d = {0};
    /* logd k, R k², then cond_of's SVD work and its k values */
    double *scratch = malloc((k + k * k + KPF_LYAP_SVALS_WORK(k, k) + k) * sizeof(double));
    memset(lambda, 0, tr->B * k * sizeof(double));
    rc = scratch ? run_qr(&w, o, lambda, scratch, &d, err)
                 : kpf_error_set(err, KPF_ENOMEM, "lyapunov: out of memory");
    for (size_t i = 0; !rc && i < tr->B * k; i++)
        lambda[i] /= d.time;
    if (diag)
        *diag = d;
    free(scratch);
    kpf_lyap_ws_free(&w);
    return rc;
}

static int desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int kpf_kaplan_yorke(const double *lambda, size_t k, double *dim, kpf_error *err)
{
    if (!lambda || !dim || k == 0)
        return kpf_error_set(err, KPF_EINVAL, "kaplan_yorke: empty spectrum");
    double *l = malloc(k * sizeof(double));
    if (!l)
        return kpf_error_set(err, KPF_ENOMEM, "kaplan_yorke: out of memory");
    memcpy(l, lambda, k * sizeof(double));
    qsort(l, k, sizeof(double), desc);
    double sum = 0.0;
    size_t j = 0; /* exponents whose partial sum stays ≥ 0 */
    while (j < k && sum + l[j] >= 0.0)
        sum += l[j++];
    *dim = j == k ? (double)k : (double)j + sum / fabs(l[j]);
    free(l);
    return KPF_OK;
}
