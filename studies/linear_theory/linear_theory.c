/* Schuessler et al.'s linear theory: plain GD on W of a linear network with a
 * fixed-point readout (linear_theory.h). */
#include "linear_theory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_permutation.h>
#include <gsl/gsl_permute_vector.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/blas.h"
#include "kpf/delta_w.h"
#include "kpf/linalg.h"
#include "kpf/rng.h"

/* ---- Schuessler's linear theory ------------------------------------------- */

void kpf_lin_opts_default(kpf_lin_opts *o)
{
    o->N = 400;
    o->g = 0.0;
    o->zhat = 0.5;
    o->eta0 = 0.015;
    o->max_epochs = 2000;
    o->frac = 0.05;
    o->seed = 0;
}

/* Inverse of (I − W) into Binv (n×n) by LU. */
static int inv_I_minus(size_t n, const double *W, double *Binv, kpf_error *err)
{
    gsl_matrix *a = gsl_matrix_alloc(n, n), *inv = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int rc = KPF_OK, sg;
    if (!a || !inv || !p)
        rc = kpf_error_set(err, KPF_ENOMEM, "linear theory: out of memory");
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                gsl_matrix_set(a, i, j, (i == j) - W[i * n + j]);
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        if (gsl_linalg_LU_decomp(a, p, &sg) || gsl_linalg_LU_invert(a, p, inv))
            rc = kpf_error_set(err, KPF_ENUMERIC, "linear theory: I − W is singular");
        gsl_set_error_handler(old);
    }
    if (!rc)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                Binv[i * n + j] = gsl_matrix_get(inv, i, j);
    if (a) gsl_matrix_free(a);
    if (inv) gsl_matrix_free(inv);
    if (p) gsl_permutation_free(p);
    return rc;
}

static void unit_gauss(gsl_rng *rng, size_t n, double *v)
{
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_gaussian(rng, 1.0);
    cblas_dscal((int)n, 1.0 / cblas_dnrm2((int)n, v, 1), v, 1);
}

static double cosabs(size_t n, const double *a, size_t inca, const double *b)
{
    double d = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += a[i * inca] * b[i];
        na += a[i * inca] * a[i * inca];
        nb += b[i] * b[i];
    }
    return (na > 0 && nb > 0) ? fabs(d) / sqrt(na * nb) : 0.0;
}

int kpf_dw_linear_theory(const kpf_lin_opts *o, kpf_lin_result *res, kpf_error *err)
{
    memset(res, 0, sizeof *res);
    const size_t n = o->N;
    if (n < 2 || !(o->g >= 0 && o->g < 1) || !(o->eta0 > 0))
        return kpf_error_set(err, KPF_EINVAL,
                             "linear theory: need N ≥ 2, 0 ≤ g < 1 and eta0 > 0 (N = %zu, g = %g)",
                             n, o->g);
    const size_t nn = n * n;
    double *W0 = malloc(nn * sizeof(double)), *W = malloc(nn * sizeof(double));
    double *Bi = malloc(nn * sizeof(double)), *B0 = malloc(nn * sizeof(double));
    double *m = malloc(n * sizeof(double)), *w = malloc(n * sizeof(double));
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    double *Bu = malloc(n * sizeof(double)), *vB = malloc(n * sizeof(double));
    double *s = malloc(n * sizeof(double)), *U = malloc(nn * sizeof(double)),
           *V = malloc(nn * sizeof(double));
    gsl_rng *rng = NULL;
    int rc = KPF_OK;
    if (!W0 || !W || !Bi || !B0 || !m || !w || !x || !y || !Bu || !vB || !s || !U || !V)
        rc = kpf_error_set(err, KPF_ENOMEM, "linear theory: out of memory (N = %zu)", n);
    if (!rc)
        rc = kpf_rng_alloc(o->seed, KPF_RNG_INIT, &rng, err);
    if (!rc) {
        for (size_t i = 0; i < nn; i++)
            W0[i] = gsl_ran_gaussian(rng, o->g / sqrt((double)n));
        unit_gauss(rng, n, m);
        unit_gauss(rng, n, w);
        memcpy(W, W0, nn * sizeof(double));
        rc = inv_I_minus(n, W0, Bi, err);
    }
    if (!rc)
        memcpy(B0, Bi, nn * sizeof(double));
    const double eta = o->eta0 * (1 - o->g * o->g) * (1 - o->g * o->g);
    res->eta = eta;
    res->tau_star = NAN;
    double gsum = 0;
    size_t ep = 0;
    for (; !rc; ep++) {
        /* x = (I−W)⁻¹ m, y = (I−W)⁻ᵀ w, z = wᵀx */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, Bi, (int)n, m, 1, 0.0, x,
                    1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, Bi, (int)n, w, 1, 0.0, y, 1);
        double z = cblas_ddot((int)n, w, 1, x, 1), e = o->zhat - z, L = 0.5 * e * e;
        if (!isfinite(L)) {
            rc = kpf_error_set(err, KPF_ENUMERIC, "linear theory: loss diverged at epoch %zu",
                               ep);
            break;
        }
        if (ep == 0)
            res->L0 = L;
        res->z = z;
        res->loss = L;
        if (isnan(res->tau_star) && L < o->frac * res->L0)
            res->tau_star = eta * (double)ep;
        if (!isnan(res->tau_star) || ep >= o->max_epochs)
            break;
        /* W += η e y xᵀ;  Sherman–Morrison for (I − W − u vᵀ)⁻¹, u = η e y, v = x */
        double a = eta * e;
        gsum += fabs(e) * cblas_dnrm2((int)n, y, 1) * cblas_dnrm2((int)n, x, 1);
        cblas_dger(CblasRowMajor, (int)n, (int)n, a, y, 1, x, 1, W, (int)n);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, a, Bi, (int)n, y, 1, 0.0, Bu, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, Bi, (int)n, x, 1, 0.0, vB, 1);
        double den = 1.0 - cblas_ddot((int)n, x, 1, Bu, 1);
        if (!(fabs(den) > 1e-14)) {
            rc = kpf_error_set(err, KPF_ENUMERIC, "linear theory: I − W became singular");
            break;
        }
        cblas_dger(CblasRowMajor, (int)n, (int)n, 1.0 / den, Bu, 1, vB, 1, Bi, (int)n);
    }
    res->epochs = ep;
    res->grad_norm = ep ? gsum / (double)ep : 0.0;
    if (!rc) {
        for (size_t i = 0; i < nn; i++)
            U[i] = W[i] - W0[i];
        res->dw_norm = cblas_dnrm2((int)nn, U, 1);
        double *dW = U;
        double *dWc = malloc(nn * sizeof(double));
        if (!dWc)
            rc = kpf_error_set(err, KPF_ENOMEM, "linear theory: out of memory");
        else {
            memcpy(dWc, dW, nn * sizeof(double));
            rc = kpf_matrix_svd(n, n, dWc, s, U, V, err);
            if (!rc) {
                for (int i = 0; i < 3; i++)
                    res->s[i] = s[i];
                /* overlaps with (I−W₀)⁻ᵀ w and (I−W₀)⁻¹ m */
                cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)n, 1.0, B0, (int)n, w, 1,
                            0.0, y, 1);
                cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, B0, (int)n, m, 1,
                            0.0, x, 1);
                res->proj_u = cosabs(n, U, n, y);
                res->proj_v = cosabs(n, V, n, x);
                /* shuffle test: shuffle(W₀) + ΔW */
                double *Ws = B0; /* reuse */
                memcpy(Ws, W0, nn * sizeof(double));
                gsl_ran_shuffle(rng, Ws, nn, sizeof(double));
                for (size_t i = 0; i < nn; i++)
                    Ws[i] += dWc[i];
                rc = inv_I_minus(n, Ws, Bi, err);
                if (!rc) {
                    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, Bi, (int)n, m,
                                1, 0.0, x, 1);
                    double e = o->zhat - cblas_ddot((int)n, w, 1, x, 1);
                    res->shuffle_loss = 0.5 * e * e;
                }
            }
            free(dWc);
        }
    }
    if (rng)
        gsl_rng_free(rng);
    free(W0), free(W), free(Bi), free(B0), free(m), free(w), free(x), free(y), free(Bu),
        free(vB), free(s), free(U), free(V);
    return rc;
}
