/* Finite-difference check of the adjoint gradient, full and truncated. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/check.h"
#include "kpf/gradient.h"
#include "kpf/loss.h"
#include "kpf/rng.h"
#include "kpf/stepper.h"

typedef struct gcheck {
    kpf_model *m;
    kpf_task_batch bt;
    kpf_grad_ws *ws;
    size_t window;
    double *ref_z;  /* unperturbed states [T][B][n], for chunk boundaries */
    double *theta0;
    double *z;      /* [T][B][n] perturbed run (truncated mode) */
    double *y;      /* [T][B][n_out] */
} gcheck;

/* Loss with states at chunk starts k = W, 2W, … reset to the reference run. */
static int loss_truncated(gcheck *g, double *L, kpf_error *err)
{
    kpf_model *m = g->m;
    kpf_traj *tr = g->ws->tr;
    size_t B = tr->B, N = B * m->n;
    int rc = kpf_init_state(m, B, tr->trial, tr->z0, err);
    for (size_t k = 0; !rc && k < tr->T; k++) {
        const double *prev = k == 0 ? tr->z0
                             : (k % g->window == 0) ? g->ref_z + (k - 1) * N
                                                    : g->z + (k - 1) * N;
        kpf_step_rows s = kpf_traj_step_rows(tr, k);
        rc = kpf_step(m, &s, prev, g->z + k * N, err);
    }
    if (!rc)
        rc = kpf_model_reserve(m, B * tr->T, err);
    kpf_rows rows = {.R = B * tr->T, .z = g->z, .x = tr->x, .trial = tr->row_trial,
                     .t = tr->t};
    if (!rc)
        rc = kpf_readout(m, &rows, g->y, err);
    if (!rc)
        *L = kpf_loss_mse(rows.R, m->n_out, g->y, g->bt.y, g->bt.mask, NULL);
    return rc;
}

static int loss_at(gcheck *g, const double *dir, double h, double *L, kpf_error *err)
{
    kpf_model *m = g->m;
    for (size_t i = 0; i < m->m; i++)
        m->theta[i] = g->theta0[i] + h * dir[i];
    int rc = kpf_model_theta_changed(m, err);
    if (!rc)
        rc = g->window ? loss_truncated(g, L, err) : kpf_loss_eval(m, &g->bt, g->ws, L, err);
    return rc;
}

static int fill_batch(gcheck *g, size_t B, size_t T, gsl_rng *rng)
{
    kpf_model *m = g->m;
    size_t R = B * T;
    g->bt = (kpf_task_batch){.B = B, .T = T, .n_in = m->n_in, .n_out = m->n_out};
    g->bt.x = malloc(R * m->n_in * sizeof(double) + 1);
    g->bt.y = malloc(R * m->n_out * sizeof(double) + 1);
    g->bt.mask = malloc(R * sizeof(double));
    g->bt.trial = malloc(B * sizeof(size_t));
    if (!g->bt.x || !g->bt.y || !g->bt.mask || !g->bt.trial)
        return -1;
    for (size_t i = 0; i < R * m->n_in; i++)
        g->bt.x[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < R * m->n_out; i++)
        g->bt.y[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t r = 0; r < R; r++)
        g->bt.mask[r] = gsl_rng_uniform(rng) < 0.7 ? 1.0 : 0.0;
    g->bt.mask[0] = 1.0;
    for (size_t b = 0; b < B; b++)
        g->bt.trial[b] = b % (m->n_trials ? m->n_trials : 1);
    return 0;
}

static void free_check(gcheck *g)
{
    free(g->bt.x);
    free(g->bt.y);
    free(g->bt.mask);
    free(g->bt.trial);
    free(g->ref_z);
    free(g->theta0);
    free(g->z);
    free(g->y);
    kpf_grad_ws_free(g->ws);
}

/* Relative error of ⟨∇L, d⟩ against the central difference along d. */
static int check_block(gcheck *g, const double *grad, const kpf_param_block *blk,
                       gsl_rng *rng, double *dir, double *worst, double *an_out,
                       double *fd_out, kpf_error *err)
{
    kpf_model *m = g->m;
    size_t sz = blk->rows * blk->cols;
    memset(dir, 0, m->m * sizeof(double));
    double dmax = 0, an = 0;
    for (size_t i = 0; i < sz; i++) {
        dir[blk->offset + i] = gsl_ran_gaussian(rng, 1.0);
        dmax = fmax(dmax, fabs(dir[blk->offset + i]));
        an += grad[blk->offset + i] * dir[blk->offset + i];
    }
    double tmax = 0;
    for (size_t i = 0; i < m->m; i++)
        tmax = fmax(tmax, fabs(g->theta0[i]));
    /* Two step sizes, keep the better: a block the loss barely feels (a
     * synapse over a few 0.01 ms steps) is rounding-limited at the small
     * step, while a wrong gradient is wrong at both. */
    *worst = HUGE_VAL;
    for (int pass = 0; pass < 2; pass++) {
        double h = (pass ? 1e-4 : 1e-5) * fmax(1.0, tmax) / fmax(dmax, 1e-300), Lp, Lm;
        int rc = loss_at(g, dir, h, &Lp, err);
        if (!rc)
            rc = loss_at(g, dir, -h, &Lm, err);
        if (rc)
            return rc;
        double fd = (Lp - Lm) / (2 * h);
        /* A block the loss does not depend on (e.g. a zero-effect bias) has
         * an = fd = 0; measure against the gradient's scale then. */
        double scale = fmax(fabs(an), 1e-8 * fabs(Lp + Lm));
        double e = fabs(fd - an) / fmax(scale, 1e-300);
        *worst = fmin(*worst, e);
        if (e == *worst) { /* the quantities of the step kept */
            *an_out = an;
            *fd_out = fd;
        }
    }
    return KPF_OK;
}

int kpf_check_gradient(kpf_model *m, uint64_t seed, size_t B, size_t T, size_t window,
                       double *worst, kpf_error *err)
{
    return kpf_check_gradient_detail(m, seed, B, T, window, worst, NULL, NULL, err);
}

int kpf_check_gradient_detail(kpf_model *m, uint64_t seed, size_t B, size_t T, size_t window,
                              double *worst, double *analytic, double *fd, kpf_error *err)
{
    gcheck g = {.m = m, .window = window};
    gsl_rng *rng = NULL;
    double *grad = NULL, *dir = NULL, L0;
    int rc = kpf_rng_alloc(seed, KPF_RNG_CHECK, &rng, err);
    if (!rc && (fill_batch(&g, B, T, rng) ||
                !(g.theta0 = malloc(m->m * sizeof(double))) ||
                !(grad = malloc(m->m * sizeof(double))) ||
                !(dir = malloc(m->m * sizeof(double))) ||
                !(g.ref_z = malloc(B * T * m->n * sizeof(double))) ||
                !(g.z = malloc(B * T * m->n * sizeof(double))) ||
                !(g.y = malloc(B * T * m->n_out * sizeof(double) + 1))))
        rc = kpf_error_set(err, KPF_ENOMEM, "gradient check: out of memory");
    if (!rc)
        rc = kpf_grad_ws_alloc(m, B, T, &g.ws, err);
    if (!rc) {
        memcpy(g.theta0, m->theta, m->m * sizeof(double));
        rc = kpf_loss_grad(m, &g.bt, window, g.ws, &L0, grad, err);
    }
    if (!rc)
        memcpy(g.ref_z, g.ws->tr->z, B * T * m->n * sizeof(double));
    for (size_t i = 0; !rc && i < m->n_blocks; i++) {
        double an = NAN, fdv = NAN;
        rc = check_block(&g, grad, &m->blocks[i], rng, dir, &worst[i], &an, &fdv, err);
        if (analytic)
            analytic[i] = an;
        if (fd)
            fd[i] = fdv;
    }
    if (g.theta0) {
        memcpy(m->theta, g.theta0, m->m * sizeof(double));
        int rc2 = kpf_model_theta_changed(m, rc ? NULL : err);
        rc = rc ? rc : rc2;
    }
    free(grad);
    free(dir);
    free_check(&g);
    if (rng)
        gsl_rng_free(rng);
    return rc;
}
