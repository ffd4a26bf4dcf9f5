/* The ltr plugin (low-tensor-rank RNN) and ltr fitting (kpf/ltr_fit.h):
 * conformance in every configuration, the model against its equations
 * (W^{(k)} per trial, the RQ-kernel smoothing, the pitchfork of Fig. 2),
 * the fitting loss's adjoint gradient, data I/O, blocked CV masks, CP of an
 * ltr weight tensor, and the teacher–student rank sweep. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/check.h"
#include "kpf/config.h"
#include "kpf/cp.h"
#include "kpf/delta_w.h"
#include "ltr_fit.h"
#include "kpf/plugin.h"
#include "kpf/trajectory.h"

static kpf_error err;
static kpf_registry *reg;
static const kpf_plugin *ltr;

static void load(void)
{
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "ltr", &ltr, &err), KPF_OK, "%s", err.msg);
}

static void unload(void)
{
    kpf_registry_free(reg);
    reg = NULL;
}

TestSuite(ltr, .init = load, .fini = unload);

static kpf_model *make(const char *yaml, size_t n_in, size_t n_out, size_t K, uint64_t seed)
{
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "model", &cfg, &err), KPF_OK, "%s", err.msg);
    kpf_model *m = NULL;
    int rc = kpf_model_create(ltr, kpf_config_root(cfg), n_in, n_out, K, seed, &m, &err);
    kpf_config_free(cfg);
    cr_assert_eq(rc, KPF_OK, "%s", err.msg);
    return m;
}

/* ---- conformance in every configuration ------------------------------------ */

Test(ltr, conformance_in_every_configuration, .timeout = 300)
{
    const char *cfgs[] = {
        "{}",
        "{trial_factors: free}",
        "{activation: softplus, rank: 1, n: 5}",
        "{activation: linear, rank: 6, n: 4, tau: 0.5}",
        "{trials: 9, kernel_length: 2, kernel_scale: 0.5, kernel_jitter: 0.3, c_init_mean: 1}",
        "{trial_factors: free, c_init_mean: -0.5, step: rk4, dt: 0.05}",
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        kpf_config *cfg = NULL;
        cr_assert_eq(kpf_config_load_string(cfgs[i], "model", &cfg, &err), KPF_OK);
        kpf_check_opts o;
        kpf_check_opts_default(&o);
        o.model = kpf_config_root(cfg);
        o.n_trials = strstr(cfgs[i], "trials: 9") ? 9 : 5;
        kpf_check_report rep;
        cr_assert_eq(kpf_check_plugin(ltr, &o, &rep, &err), KPF_OK, "%s: %s", cfgs[i], err.msg);
        cr_expect_gt(rep.n_items, 30);
        for (size_t j = 0; j < rep.n_items; j++)
            cr_expect(rep.items[j].pass, "%s: %s: %.3e > %.1e %s", cfgs[i], rep.items[j].name,
                      rep.items[j].value, rep.items[j].tol, rep.items[j].detail);
        kpf_check_report_free(&rep);
        kpf_config_free(cfg);
    }
}

Test(ltr, bad_keys_and_trial_indices_are_errors)
{
    kpf_config *cfg = NULL;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_config_load_string("{trial_factors: wobbly}", "bad.yaml", &cfg, &err),
                 KPF_OK);
    cr_expect_eq(kpf_model_create(ltr, kpf_config_root(cfg), 1, 1, 3, 1, &m, &err),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "trial_factors"), "%s", err.msg);
    kpf_config_free(cfg);
    cr_assert_eq(kpf_config_load_string("{kernel_jitter: 0, trials: 300, kernel_length: 80}",
                                        "bad.yaml", &cfg, &err),
                 KPF_OK);
    cr_expect_eq(kpf_model_create(ltr, kpf_config_root(cfg), 1, 1, 3, 1, &m, &err),
                 KPF_ENUMERIC);
    cr_expect(strstr(err.msg, "raise the jitter"), "%s", err.msg);
    kpf_config_free(cfg);
    /* a row whose trial index is beyond the model's trials */
    m = make("{n: 3, trials: 2}", 0, 1, 2, 1);
    double z[3] = {0}, out[3];
    size_t tri = 2;
    double t = 0;
    kpf_rows rows = {.R = 1, .z = z, .trial = &tri, .t = &t};
    cr_assert_eq(kpf_model_reserve(m, 1, &err), KPF_OK);
    cr_expect_eq(kpf_model_f(m, &rows, out, &err), KPF_EINVAL);
    cr_expect(strstr(err.msg, "trial index 2"), "%s", err.msg);
    kpf_model_free(m);
}

/* ---- the model against its equations --------------------------------------- */

Test(ltr, f_is_the_trial_weight_matrix_and_decode_agrees)
{
    kpf_ltr_spec s;
    kpf_ltr_spec_default(&s);
    s.n = 6, s.rank = 3, s.K = 4, s.act = KPF_ACTIVATION_LINEAR, s.tau = 0.7, s.length = 2.0;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_ltr_model_create(ltr, &s, 2, 3, 9, &m, &err), KPF_OK, "%s", err.msg);
    const size_t n = 6, R = 4;
    double a[18], b[18], C[12], W[36];
    cr_assert_eq(kpf_ltr_model_factors(m, a, b, C, &err), KPF_OK, "%s", err.msg);
    for (size_t r = 0; r < 3; r++) { /* unit factors */
        double na = 0, nb = 0;
        for (size_t i = 0; i < n; i++)
            na += a[r * n + i] * a[r * n + i], nb += b[r * n + i] * b[r * n + i];
        cr_expect_float_eq(na, 1.0, 1e-14);
        cr_expect_float_eq(nb, 1.0, 1e-14);
    }
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double z[24], x[8], out[24], tt[4] = {0};
    size_t tri[4] = {3, 0, 2, 3};
    for (size_t i = 0; i < 24; i++)
        z[i] = gsl_ran_gaussian(rng, 1);
    for (size_t i = 0; i < 8; i++)
        x[i] = gsl_ran_gaussian(rng, 1);
    gsl_rng_free(rng);
    kpf_rows rows = {.R = R, .z = z, .x = x, .trial = tri, .t = tt};
    cr_assert_eq(kpf_model_reserve(m, R, &err), KPF_OK);
    cr_assert_eq(kpf_model_f(m, &rows, out, &err), KPF_OK, "%s", err.msg);
    const double *Bin = m->theta + kpf_model_block(m, "B")->offset;
    for (size_t r = 0; r < R; r++) {
        kpf_ltr_weight(n, 3, 4, a, b, C, tri[r], W);
        for (size_t i = 0; i < n; i++) {
            double v = -z[r * n + i];
            for (size_t j = 0; j < n; j++)
                v += W[i * n + j] * z[r * n + j];
            for (size_t j = 0; j < 2; j++)
                v += Bin[i * 2 + j] * x[r * 2 + j];
            cr_expect_float_eq(out[r * n + i], v / 0.7, 1e-12, "row %zu unit %zu", r, i);
        }
    }
    /* blocks: a, b, cbar, B, q, M */
    const char *names[] = {"a", "b", "cbar", "B", "q", "M"};
    for (int i = 0; i < 6; i++)
        cr_expect_not_null(kpf_model_block(m, names[i]), "block %s", names[i]);
    /* x₀ = Σ q_r a_r */
    double z0[6];
    size_t t0 = 1;
    cr_assert_eq(kpf_init_state(m, 1, &t0, z0, &err), KPF_OK);
    const double *q = m->theta + kpf_model_block(m, "q")->offset;
    for (size_t i = 0; i < n; i++)
        cr_expect_float_eq(z0[i], q[0] * a[i] + q[1] * a[n + i] + q[2] * a[2 * n + i], 1e-14);
    kpf_model_free(m);
}

Test(ltr, smooth_trial_factors_are_the_rq_kernel_cholesky)
{
    const size_t K = 7;
    const double l = 2.0, s = 1.5, sg = 0.1;
    double L[49];
    cr_assert_eq(kpf_ltr_kernel_chol(K, l, s, sg, L, &err), KPF_OK);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++) {
            double v = 0, d = (double)i - (double)j;
            for (size_t q = 0; q < K; q++)
                v += L[i * K + q] * L[j * K + q];
            double A = s * s / (1 + d * d / (2 * l * l)) + (i == j ? sg * sg : 0);
            cr_expect_float_eq(v, A, 1e-12, "(%zu,%zu)", i, j);
            if (j > i)
                cr_expect_eq(L[i * K + j], 0.0);
        }
    /* c_init_mean shifts c̄ so that c starts at the mean (c_init_std 0) */
    kpf_ltr_spec sp;
    kpf_ltr_spec_default(&sp);
    sp.n = 4, sp.rank = 2, sp.K = K, sp.length = l, sp.scale = s, sp.jitter = sg;
    sp.c_init = 0.0, sp.c_mean = 1.3;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_ltr_model_create(ltr, &sp, 0, 1, 1, &m, &err), KPF_OK, "%s", err.msg);
    double a[8], b[8], C[14];
    cr_assert_eq(kpf_ltr_model_factors(m, a, b, C, &err), KPF_OK);
    for (size_t i = 0; i < 2 * K; i++)
        cr_expect_float_eq(C[i], 1.3, 1e-12);
    kpf_model_free(m);
}

/* Fig. 2 / A.2.3: a = b = [−1, 1]/√2, W = (c/2)[[1,−1],[−1,1]].  tanh: for
 * c > 1 the state settles at x = (−s, s), s = c·tanh(s); for c < 1 at 0.
 * φ = id at c = 1: a line attractor, x₀ ∈ span{a} stays put. */
static void simulate_two_unit(const char *act, const double c[2], double out[4])
{
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "{n: 2, rank: 1, trials: 2, trial_factors: free, activation: %s, dt: 0.05}", act);
    kpf_model *m = make(yaml, 0, 1, 2, 1);
    double *th = m->theta;
    th[kpf_model_block(m, "a")->offset] = -1, th[kpf_model_block(m, "a")->offset + 1] = 1;
    th[kpf_model_block(m, "b")->offset] = -3, th[kpf_model_block(m, "b")->offset + 1] = 3;
    th[kpf_model_block(m, "c")->offset] = c[0], th[kpf_model_block(m, "c")->offset + 1] = c[1];
    th[kpf_model_block(m, "q")->offset] = 0.5;
    cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK, "%s", err.msg);
    kpf_traj *tr = NULL;
    const size_t T = 2000;
    cr_assert_eq(kpf_traj_alloc(m, 2, T, &tr, &err), KPF_OK);
    cr_assert_eq(kpf_simulate(m, tr, &err), KPF_OK, "%s", err.msg);
    memcpy(out, tr->z + (T - 1) * 2 * 2, 4 * sizeof(double));
    kpf_traj_free(tr);
    kpf_model_free(m);
}

Test(ltr, pitchfork_and_line_attractor_of_fig2)
{
    double x[4];
    simulate_two_unit("tanh", (double[2]){0.8, 1.5}, x);
    double s = 1.0;
    for (int i = 0; i < 200; i++)
        s = 1.5 * tanh(s);
    cr_expect_lt(fabs(x[0]) + fabs(x[1]), 1e-6, "c = 0.8 should decay: %g %g", x[0], x[1]);
    cr_expect_float_eq(x[2], -s, 1e-6, "c = 1.5: x1 = %g, expected %g", x[2], -s);
    cr_expect_float_eq(x[3], s, 1e-6);
    simulate_two_unit("linear", (double[2]){1.0, 0.5}, x);
    double x0 = 0.5 / sqrt(2.0);
    cr_expect_float_eq(x[0], -x0, 1e-12, "line attractor moved: %g", x[0]);
    cr_expect_float_eq(x[1], x0, 1e-12);
    cr_expect_lt(fabs(x[3]), 1e-4);
}

/* ---- fitting: loss gradient, I/O, masks -------------------------------------- */

static kpf_ltr_data *small_data(size_t n_in, double counts)
{
    kpf_ltr_data *d = NULL;
    cr_assert_eq(kpf_ltr_data_alloc(4, 6, 5, n_in, 2, &d, &err), KPF_OK, "%s", err.msg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < 4 * 6 * 5; i++)
        d->Y[i] = counts > 0 ? (double)gsl_ran_poisson(rng, counts) : gsl_ran_gaussian(rng, 1);
    for (size_t k = 0; k < 5; k++)
        d->cond[k] = (int)(k % 2);
    for (size_t i = 0; d->U && i < 2 * 6 * n_in; i++)
        d->U[i] = gsl_ran_gaussian(rng, 1);
    gsl_rng_free(rng);
    return d;
}

static void check_fit_gradient(int loss_kind, double alpha, size_t burn, size_t spb)
{
    kpf_ltr_data *d = small_data(2, loss_kind == KPF_LTR_POISSON ? 3.0 : 0.0);
    kpf_ltr_spec s;
    kpf_ltr_spec_default(&s);
    s.n = 5, s.rank = 2, s.K = 5, s.length = 2, s.dt = 0.2;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_ltr_model_create(ltr, &s, 2, 4, 3, &m, &err), KPF_OK, "%s", err.msg);
    double mask[120];
    for (size_t i = 0; i < 120; i++)
        mask[i] = (i * 7 + 3) % 5 != 0;
    kpf_ltr_fit_opts o;
    kpf_ltr_fit_opts_default(&o);
    o.loss = loss_kind, o.alpha = alpha, o.burn_in = burn, o.steps_per_bin = spb;
    kpf_ltr_problem *p = NULL;
    cr_assert_eq(kpf_ltr_problem_alloc(m, d, mask, &o, &p, &err), KPF_OK, "%s", err.msg);
    double *g = malloc(m->m * sizeof(double)), *dir = malloc(m->m * sizeof(double));
    double *th0 = malloc(m->m * sizeof(double)), L;
    memcpy(th0, m->theta, m->m * sizeof(double));
    cr_assert_eq(kpf_ltr_problem_loss(p, &L, g, &err), KPF_OK, "%s", err.msg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t bi = 0; bi < m->n_blocks; bi++) { /* one direction per block */
        const kpf_param_block *b = &m->blocks[bi];
        memset(dir, 0, m->m * sizeof(double));
        for (size_t i = 0; i < b->rows * b->cols; i++)
            dir[b->offset + i] = gsl_ran_gaussian(rng, 1);
        double gd = 0, h = 1e-6, lp, lm;
        for (size_t i = 0; i < m->m; i++)
            gd += g[i] * dir[i];
        for (int sg = -1; sg <= 1; sg += 2) {
            for (size_t i = 0; i < m->m; i++)
                m->theta[i] = th0[i] + sg * h * dir[i];
            cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK);
            cr_assert_eq(kpf_ltr_problem_loss(p, sg < 0 ? &lm : &lp, NULL, &err), KPF_OK);
        }
        double fd = (lp - lm) / (2 * h);
        cr_expect_lt(fabs(fd - gd), 1e-6 * fmax(fabs(fd), 1e-3),
                     "loss %d α %g block %s: adjoint %.10g, FD %.10g", loss_kind, alpha, b->name,
                     gd, fd);
        memcpy(m->theta, th0, m->m * sizeof(double));
        cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK);
    }
    gsl_rng_free(rng);
    free(g), free(dir), free(th0);
    kpf_ltr_problem_free(p);
    kpf_model_free(m);
    kpf_ltr_data_free(d);
}

Test(ltr, fit_loss_gradient_matches_finite_differences)
{
    check_fit_gradient(KPF_LTR_MSE, 0.0, 0, 1);
    check_fit_gradient(KPF_LTR_MSE, 0.3, 3, 2);
    check_fit_gradient(KPF_LTR_POISSON, 0.1, 1, 1);
}

Test(ltr, data_roundtrip_through_hdf5)
{
    char dir[] = "/tmp/kpf-ltr-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/y.h5", dir);
    kpf_ltr_data *d = small_data(3, 0), *e = NULL;
    cr_assert_eq(kpf_ltr_data_write(path, d, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_ltr_data_read(path, &e, &err), KPF_OK, "%s", err.msg);
    cr_expect(e->N == 4 && e->T == 6 && e->K == 5 && e->n_in == 3 && e->n_cond == 2);
    cr_expect_eq(memcmp(d->Y, e->Y, 120 * sizeof(double)), 0);
    cr_expect_eq(memcmp(d->U, e->U, 36 * sizeof(double)), 0);
    cr_expect_eq(memcmp(d->cond, e->cond, 5 * sizeof(int)), 0);
    kpf_ltr_data_free(e);
    cr_expect_eq(kpf_ltr_data_write(path, d, &err), KPF_EIO, "existing files are not replaced");
    snprintf(path, sizeof path, "%s/none.h5", dir);
    cr_expect_eq(kpf_ltr_data_read(path, &e, &err), KPF_EIO);
    kpf_ltr_data_free(d);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(ltr, blocked_cv_masks_score_only_block_interiors)
{
    const size_t N = 3, T = 30, K = 40;
    double *tr = malloc(N * T * K * sizeof(double)), *te = malloc(N * T * K * sizeof(double));
    kpf_ltr_cv_opts o;
    kpf_ltr_cv_opts_default(&o); /* 10×20 blocks, 5×10 interiors */
    o.frac = 0.34;               /* 6 blocks per neuron → 2 held out */
    o.seed = 4;
    cr_assert_eq(kpf_ltr_cv_masks(N, T, K, &o, tr, te, &err), KPF_OK, "%s", err.msg);
    for (size_t i = 0; i < N; i++) {
        size_t held = 0, test = 0;
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < K; k++) {
                size_t e = (i * T + t) * K + k;
                held += tr[e] == 0;
                test += te[e] == 1;
                cr_assert(!(te[e] == 1 && tr[e] == 1), "a test entry is also trained on");
                if (te[e] == 1) { /* interior: 2 bins and 5 trials in from the block edges */
                    size_t tb = t % 10, kb = k % 20;
                    cr_expect(tb >= 2 && tb < 7 && kb >= 5 && kb < 15, "t %zu k %zu", t, k);
                }
            }
        cr_expect_eq(held, 2 * 200, "neuron %zu holds out %zu entries", i, held);
        cr_expect_eq(test, 2 * 50, "neuron %zu scores %zu entries", i, test);
    }
    double *tr2 = malloc(N * T * K * sizeof(double)), *te2 = malloc(N * T * K * sizeof(double));
    cr_assert_eq(kpf_ltr_cv_masks(N, T, K, &o, tr2, te2, &err), KPF_OK);
    cr_expect_eq(memcmp(tr, tr2, N * T * K * sizeof(double)), 0, "masks not deterministic");
    o.inner_t = 11;
    cr_expect_eq(kpf_ltr_cv_masks(N, T, K, &o, tr2, te2, &err), KPF_EINVAL);
    free(tr), free(te), free(tr2), free(te2);
    /* the plateau rule */
    const double uv[5] = {0.5, 0.2, 0.051, 0.05, 0.052};
    cr_expect_eq(kpf_ltr_plateau(uv, 5, 0.1, 0), 3);
    cr_expect_eq(kpf_ltr_plateau(uv, 5, 0.0, 0), 4);
}

/* ---- an ltr network's weight tensor has tensor rank R -------------------------- */

Test(ltr, cp_recovers_the_factors_of_an_ltr_weight_tensor)
{
    kpf_ltr_spec s;
    kpf_ltr_spec_default(&s);
    s.n = 12, s.rank = 3, s.K = 20, s.length = 4;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_ltr_model_create(ltr, &s, 0, 2, 5, &m, &err), KPF_OK);
    /* b independent of a, so the factors are not symmetric */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < 36; i++)
        m->theta[36 + i] = gsl_ran_gaussian(rng, 1);
    gsl_rng_free(rng);
    cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK);
    const size_t n = 12, K = 20, R = 3;
    double a[36], b[36], C[60];
    cr_assert_eq(kpf_ltr_model_factors(m, a, b, C, &err), KPF_OK);
    double *Wt = malloc(n * n * K * sizeof(double)), Wk[144];
    for (size_t k = 0; k < K; k++) {
        kpf_ltr_weight(n, R, K, a, b, C, k, Wk);
        for (size_t i = 0; i < n * n; i++)
            Wt[i * K + k] = Wk[i];
    }
    kpf_cp truth = {.I = n, .J = n, .K = K, .R = R};
    truth.A = malloc(n * R * sizeof(double));
    truth.B = malloc(n * R * sizeof(double));
    truth.C = malloc(K * R * sizeof(double));
    truth.lambda = malloc(R * sizeof(double));
    for (size_t r = 0; r < R; r++) {
        double cn = 0;
        for (size_t k = 0; k < K; k++)
            cn += C[r * K + k] * C[r * K + k];
        truth.lambda[r] = sqrt(cn);
        for (size_t i = 0; i < n; i++)
            truth.A[i * R + r] = a[r * n + i], truth.B[i * R + r] = b[r * n + i];
        for (size_t k = 0; k < K; k++)
            truth.C[k * R + r] = C[r * K + k] / sqrt(cn);
    }
    kpf_cp fit;
    cr_assert_eq(kpf_cp_als(Wt, n, n, K, R, NULL, &fit, &err), KPF_OK, "%s", err.msg);
    double score;
    cr_assert_eq(kpf_cp_match_score(&truth, &fit, 1, &score, NULL, &err), KPF_OK);
    cr_expect_gt(score, 0.99, "score %.5f, VE %.8f", score, fit.ve);
    double sv[20]; /* the trial-mode unfolding is K × n²: K singular values */
    cr_assert_eq(kpf_tensor_unfold_sv(Wt, n, n, K, 2, sv, &err), KPF_OK);
    cr_expect_eq(kpf_numerical_rank(sv, K, 1e-10), R, "trial-mode unfolding rank");
    kpf_cp_free(&fit);
    kpf_cp_free(&truth);
    free(Wt);
    kpf_model_free(m);
}

/* ---- teacher–student rank recovery -------------------------------------------- */

Test(ltr, rank_sweep_on_a_rank3_teacher_plateaus_at_3, .timeout = 1800)
{
    /* Teacher: rank R* = 3, n = 20 units, tanh, smooth trial factors
     * c = 1 + L c̄ (c̄ ~ N(0, 0.5²), kernel l = 15, s = 1, σ = 0.1),
     * orthonormal a = b, autonomous from x₀ = Σ q a; Y = M φ(x) + N(0, 0.02²),
     * 20 neurons × 30 bins × 40 trials, dt = 0.3.  Student: the same
     * family at R = 1 … 5 with c starting near 1 (c_init_mean 1, std 0.1),
     * Adam 0.06 → 0.01 over 1500 steps with M solved by least squares,
     * two restarts, blocked CV (10×10 blocks, 5×5 interiors, 20% held out). */
    const size_t N = 20, T = 30, K = 40, Rmax = 5;
    kpf_ltr_data *d = NULL;
    cr_assert_eq(kpf_ltr_data_alloc(N, T, K, 0, 1, &d, &err), KPF_OK);
    kpf_ltr_spec s;
    kpf_ltr_spec_default(&s);
    s.n = 20, s.rank = 3, s.dt = 0.3, s.q_init = 1.0, s.c_init = 0.5, s.c_mean = 0.0;
    kpf_ltr_fit_opts o;
    kpf_ltr_fit_opts_default(&o);
    kpf_ltr_teacher_opts to;
    kpf_ltr_teacher_opts_default(&to);
    to.noise = 0.02, to.c_offset = 1.0, to.seed = 8;
    cr_assert_eq(kpf_ltr_teacher(ltr, &s, d, &o, &to, NULL, NULL, &err), KPF_OK, "%s", err.msg);
    double *tr = malloc(N * T * K * sizeof(double)), *te = malloc(N * T * K * sizeof(double));
    kpf_ltr_cv_opts cv;
    kpf_ltr_cv_opts_default(&cv);
    cv.block_t = 10, cv.block_k = 10, cv.inner_t = 5, cv.inner_k = 5, cv.frac = 0.2;
    cr_assert_eq(kpf_ltr_cv_masks(N, T, K, &cv, tr, te, &err), KPF_OK);
    s.c_init = 0.1, s.c_mean = 1.0;
    o.iterations = 1500, o.lr = 0.06, o.lr_final = 0.16, o.restarts = 2;
    double uv[5], tuv[5];
    size_t chosen = 0;
    cr_assert_eq(kpf_ltr_rank_sweep(ltr, &s, d, tr, te, &o, Rmax, 0.2, 0.0, uv, tuv, &chosen,
                                    &err),
                 KPF_OK, "%s", err.msg);
    cr_log_info("held-out UV R=1…5: %.4f %.4f %.4f %.4f %.4f (train %.4f %.4f %.4f %.4f %.4f)",
                uv[0], uv[1], uv[2], uv[3], uv[4], tuv[0], tuv[1], tuv[2], tuv[3], tuv[4]);
    cr_expect_eq(chosen, 3, "plateau at R = %zu; held-out UV %.4f %.4f %.4f %.4f %.4f", chosen,
                 uv[0], uv[1], uv[2], uv[3], uv[4]);
    cr_expect_gt(uv[1], 1.5 * uv[2], "rank 2 should be clearly worse than rank 3");
    free(tr), free(te);
    kpf_ltr_data_free(d);
}
