/* The tangent-vector block of the Lyapunov tools (lyapunov_internal.h). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

#include "kpf/rng.h"
#include "lyapunov_internal.h"
#include "spectral_internal.h"

/* Stream of the Lyapunov tools' random vectors ("lyap"). */
#define KPF_LYAP_STREAM 0x6c796170u

void kpf_lyap_ws_free(kpf_lyap_ws *w)
{
    free(w->stage_z);
    free(w->stage_tape);
    free(w->x);
    free(w->trial);
    free(w->t);
    free(w->y);
    free(w->y_next);
    free(w->qr);
    free(w->r);
    free(w->logd);
    memset(w, 0, sizeof *w);
}

int kpf_lyap_ws_alloc(kpf_lyap_ws *w, kpf_model *m, const kpf_traj *tr, size_t k,
                      kpf_error *err)
{
    size_t n = tr->n, R = tr->B * k, S = tr->n_stages, tw = tr->tape_width;
    *w = (kpf_lyap_ws){.m = m, .tr = tr, .B = tr->B, .k = k, .n = n, .R = R};
    w->stage_z = malloc(S * R * n * sizeof(double));
    w->stage_tape = tw ? malloc(S * R * tw * sizeof(double)) : NULL;
    w->x = malloc(R * (tr->n_in ? tr->n_in : 1) * sizeof(double));
    w->trial = malloc(R * sizeof(size_t));
    w->t = malloc(R * sizeof(double));
    w->y = malloc(R * n * sizeof(double));
    w->y_next = malloc(R * n * sizeof(double));
    w->qr = malloc(kpf_spec_thin_qr_work(k, n) * sizeof(double));
    w->r = malloc(k * k * sizeof(double));
    w->logd = malloc(k * sizeof(double));
    if (!w->stage_z || (tw && !w->stage_tape) || !w->x || !w->trial || !w->t || !w->y ||
        !w->y_next || !w->qr || !w->r || !w->logd) {
        kpf_lyap_ws_free(w);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate %zu tangent vectors of %zu "
                                              "trials (n = %zu)",
                             k, tr->B, n);
    }
    int rc = kpf_model_reserve(m, R, err);
    if (rc)
        kpf_lyap_ws_free(w);
    return rc;
}

/* Copy trial b's row of step `step` (stage states, tapes, input, time) into
 * the k rows b·k … b·k+k−1 of the block. */
static void load_trial(kpf_lyap_ws *w, size_t step, size_t b)
{
    const kpf_traj *tr = w->tr;
    size_t n = w->n, R = w->R, tw = tr->tape_width, ni = tr->n_in, BT = tr->B * tr->T;
    size_t src = step * tr->B + b;
    for (size_t j = 0; j < w->k; j++) {
        size_t r = b * w->k + j;
        for (size_t s = 0; s < tr->n_stages; s++) {
            memcpy(w->stage_z + (s * R + r) * n, tr->stage_z + (s * BT + src) * n,
                   n * sizeof(double));
            if (tw)
                memcpy(w->stage_tape + (s * R + r) * tw, tr->stage_tape + (s * BT + src) * tw,
                       tw * sizeof(double));
        }
        if (ni)
            memcpy(w->x + r * ni, tr->x + src * ni, ni * sizeof(double));
        w->trial[r] = tr->row_trial[src];
        w->t[r] = tr->t[src];
    }
}

int kpf_lyap_ws_step(kpf_lyap_ws *w, size_t step, kpf_error *err)
{
    for (size_t b = 0; b < w->B; b++)
        load_trial(w, step, b);
    kpf_step_rows s = {.R = w->R, .x = w->x, .trial = w->trial, .t = w->t,
                       .stage_z = w->stage_z, .stage_tape = w->stage_tape, .stage_ld = w->R};
    int rc = kpf_step_tangent(w->m, &s, w->y, w->y_next, err);
    if (rc)
        return kpf_error_prefix(err, rc, "tangent at step %zu: ", step);
    double *t = w->y;
    w->y = w->y_next;
    w->y_next = t;
    return KPF_OK;
}

int kpf_lyap_ws_qr(kpf_lyap_ws *w, size_t b, double *logdiag, double *R, kpf_error *err)
{
    size_t n = w->n, k = w->k;
    double *Y = w->y + b * k * n, *Rm = R ? R : w->r;
    if (kpf_spec_thin_qr(Y, k, n, Rm, w->qr))
        return kpf_error_set(err, KPF_ENUMERIC, "QR of the tangent vectors of trial %zu failed",
                             b);
    for (size_t j = 0; j < k; j++)
        logdiag[j] = log(fabs(Rm[j * k + j]));
    return KPF_OK;
}

int kpf_lyap_ws_init(kpf_lyap_ws *w, int ident, uint64_t seed, kpf_error *err)
{
    size_t n = w->n, k = w->k;
    memset(w->y, 0, w->R * n * sizeof(double));
    if (ident) {
        for (size_t r = 0; r < w->R; r++)
            w->y[r * n + r % k] = 1.0;
        return KPF_OK;
    }
    gsl_rng *g = NULL;
    int rc = kpf_rng_alloc(seed, KPF_LYAP_STREAM, &g, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < w->R * n; i++)
        w->y[i] = gsl_ran_gaussian(g, 1.0);
    gsl_rng_free(g);
    for (size_t b = 0; !rc && b < w->B; b++)
        rc = kpf_lyap_ws_qr(w, b, w->logd, NULL, err);
    return rc;
}

/* LAPACK's Fortran entry point, exported by OpenBLAS (which kpf links for
 * CBLAS); Debian ships no LAPACKE for it. */
void dgesvj_(const char *joba, const char *jobu, const char *jobv, const int *m, const int *n,
             double *a, const int *lda, double *sva, const int *mv, double *v, const int *ldv,
             double *work, const int *lwork, int *info);

static int descending(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int kpf_lyap_svals(double *A, size_t rows, size_t cols, double *sv, double *work,
                   kpf_error *err)
{
    if (rows < cols || rows > INT_MAX || KPF_LYAP_SVALS_WORK(rows, cols) > INT_MAX)
        return kpf_error_set(err, KPF_EINVAL, "Jacobi SVD: %zu×%zu not supported", rows, cols);
    int m = (int)rows, n = (int)cols, one = 1, lwork = (int)KPF_LYAP_SVALS_WORK(rows, cols);
    int info = 0;
    double v_unused = 0.0;
    /* G: general A; N: no U (A then holds U·Σ), no V */
    dgesvj_("G", "N", "N", &m, &n, A, &m, sv, &one, &v_unused, &one, work, &lwork, &info);
    if (info < 0)
        return kpf_error_set(err, KPF_EINVAL, "dgesvj: argument %d is invalid", -info);
    if (info > 0)
        return kpf_error_set(err, KPF_ENUMERIC,
                             "dgesvj: no convergence after 30 sweeps (%d rotations left)", info);
    /* the values are SCALE·SVA, SCALE = work[0], kept apart only where
     * they would over- or underflow */
    for (size_t i = 0; i < cols; i++)
        sv[i] *= work[0];
    qsort(sv, cols, sizeof *sv, descending);
    return KPF_OK;
}
