/* The lrnn plugin and the linear-RNN learning-dynamics toolkit (Proca et
 * al.; kpf/lrnn.h): exact whitening and correlations of the tasks, the
 * plugin's conformance in every configuration, closed-form optima reached
 * by training, conservation of a² − c², the full aligned network against
 * the reduced ODE, the frozen-b closed form (eq. 47), the energy split
 * (eq. 9), the Dirac phase transitions (App. H), sum/mean extrapolation,
 * the output NTK against finite differences and the notes' closed form,
 * the FFT convolution against the recurrence, and power spectra. */
#include <criterion/criterion.h>
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/check.h"
#include "kpf/config.h"
#include "kpf/gradient.h"
#include "lrnn.h"
#include "tasks/lrnn_tasks.h"
#include "kpf/plugin.h"
#include "kpf/powerspec.h"
#include "kpf/rng.h"
#include "kpf/train.h"
#include "kpf/trajectory.h"

static kpf_error err;

/* ---- fixtures ---------------------------------------------------------- */

#define MAX_CFG 64
static kpf_config *cfgs[MAX_CFG];
static int n_cfgs;
static kpf_registry *reg;

static const kpf_node *yaml(const char *text)
{
    kpf_config *c = NULL;
    cr_assert_eq(kpf_config_load_string(text, "test", &c, &err), KPF_OK, "%s", err.msg);
    cr_assert_lt(n_cfgs, MAX_CFG);
    cfgs[n_cfgs++] = c;
    return kpf_config_root(c);
}

static void teardown(void)
{
    for (int i = 0; i < n_cfgs; i++)
        kpf_config_free(cfgs[i]);
    n_cfgs = 0;
    kpf_registry_free(reg);
    reg = NULL;
}

static const kpf_plugin *plugin(void)
{
    if (!reg) {
        cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
        cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s",
                     err.msg);
    }
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "lrnn", &p, &err), KPF_OK, "%s", err.msg);
    return p;
}

/* The study's tasks are descriptors like any file's: listed in order, valid,
 * and enumerated until NULL. */
Test(lrnn, study_lists_its_three_tasks)
{
    const char *want[] = {"lrnn_svd", "lrnn_rotation", "lrnn_integration"};
    for (uint32_t i = 0; i < 3; i++) {
        const kpf_task_desc *d = kpf_lrnn_task_descriptor(i);
        cr_assert_not_null(d);
        cr_assert_str_eq(d->name, want[i]);
        cr_assert_not_null(d->summary);
        cr_assert_eq(kpf_task_desc_validate(d, "lrnn study", &err), KPF_OK, "%s", err.msg);
    }
    cr_assert_null(kpf_lrnn_task_descriptor(3));
}

static kpf_task *task_of(const char *text)
{
    kpf_task *t = NULL;
    cr_assert_eq(kpf_lrnn_task_create(yaml(text), &t, &err), KPF_OK, "%s", err.msg);
    return t;
}

static kpf_model *model_of(const char *text, const kpf_task *t, uint64_t seed)
{
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create(plugin(), yaml(text), t->n_in, t->n_out, 64, seed, &m, &err),
                 KPF_OK, "%s", err.msg);
    return m;
}

static kpf_task_batch *batch_of(const kpf_task *t, size_t B, uint64_t seed)
{
    kpf_task_batch *bt = NULL;
    gsl_rng *r = NULL;
    cr_assert_eq(kpf_rng_alloc(seed, KPF_RNG_DATA, &r, &err), KPF_OK);
    cr_assert_eq(kpf_task_batch_alloc(t, B, &bt, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_task_generate(t, r, bt, &err), KPF_OK, "%s", err.msg);
    gsl_rng_free(r);
    return bt;
}

/* Σ_p u_{p,t} v_{p,i}ᵀ for step-major arrays (paper indices t, i ≥ 1). */
static void corr(const double *u, size_t nu, size_t t, const double *v, size_t nv, size_t i,
                 size_t B, double *C)
{
    for (size_t a = 0; a < nu; a++)
        for (size_t b = 0; b < nv; b++) {
            double s = 0;
            for (size_t p = 0; p < B; p++)
                s += u[((t - 1) * B + p) * nu + a] * v[((i - 1) * B + p) * nv + b];
            C[a * nv + b] = s;
        }
}

/* ---- tasks: exact whitening and correlations ------------------------------ */

TestSuite(lrnn, .fini = teardown);

static void check_whitening(const kpf_task_batch *bt)
{
    const size_t ni = bt->n_in;
    double C[64];
    double worst = 0;
    for (size_t t = 1; t <= bt->T; t++)
        for (size_t i = 1; i <= bt->T; i++) {
            corr(bt->x, ni, t, bt->x, ni, i, bt->B, C);
            for (size_t a = 0; a < ni; a++)
                for (size_t b = 0; b < ni; b++)
                    worst = fmax(worst, fabs(C[a * ni + b] - (t == i && a == b ? 1.0 : 0.0)));
        }
    cr_expect_lt(worst, 1e-13, "Σ x_t x_t'ᵀ differs from δ I by %.3e", worst);
}

Test(lrnn, svd_task_whitening_and_correlations_are_exact)
{
    const size_t T = 5, ni = 3, no = 2;
    kpf_task *t = task_of("name: lrnn_svd\nn_in: 3\nn_out: 2\nT: 5\n"
                          "dynamics: inverse_exponential\ndelta: [1.5, 0.7]\n"
                          "lambda: [0.9, 1.1]\nbasis_seed: 11\n");
    double U[4], V[9];
    cr_assert_eq(kpf_lrnn_orthogonal(11, KPF_LRNN_U, no, U, &err), KPF_OK);
    cr_assert_eq(kpf_lrnn_orthogonal(11, KPF_LRNN_V, ni, V, &err), KPF_OK);
    for (size_t B = T * ni; B <= T * ni + 20; B += 20) {
        kpf_task_batch *bt = batch_of(t, B, 3);
        check_whitening(bt);
        double worst = 0, C[6];
        for (size_t i = 1; i <= T; i++) {
            corr(bt->y, no, T, bt->x, ni, i, B, C);
            double s[2] = {1.5 * pow(0.9, (double)(T - i)), 0.7 * pow(1.1, (double)(T - i))};
            for (size_t o = 0; o < no; o++)
                for (size_t j = 0; j < ni; j++) {
                    double e = 0;
                    for (size_t a = 0; a < 2; a++)
                        e += U[o * no + a] * s[a] * V[j * ni + a];
                    worst = fmax(worst, fabs(C[o * ni + j] - e));
                }
        }
        cr_expect_lt(worst, 1e-13, "Σ^{YX_t} differs from U S_t Vᵀ by %.3e (B = %zu)", worst, B);
        for (size_t k = 0; k + 1 < T; k++)
            cr_expect_eq(bt->mask[k * B], 0.0, "single-output task scores step %zu", k);
        cr_expect_eq(bt->mask[(T - 1) * B], 1.0);
        kpf_task_batch_free(bt);
    }
    /* too few trials for exact whitening is an error, not a silent approximation */
    kpf_task_batch *bt = NULL;
    gsl_rng *r = NULL;
    cr_assert_eq(kpf_rng_alloc(1, 2, &r, &err), KPF_OK);
    cr_assert_eq(kpf_task_batch_alloc(t, T * ni - 1, &bt, &err), KPF_OK);
    cr_expect_eq(kpf_task_generate(t, r, bt, &err), KPF_EINVAL);
    cr_expect(strstr(err.msg, "at least 15 trials") != NULL, "%s", err.msg);
    kpf_task_batch_free(bt);
    gsl_rng_free(r);
    kpf_task_free(t);
}

Test(lrnn, t_output_task_correlations_are_exact)
{
    const size_t T = 4, n = 2;
    kpf_task *t = task_of("name: lrnn_svd\nn_in: 2\nT: 4\noutputs: all\n"
                          "dynamics: exponential\ndelta: 0.8\nlambda: [1.2, 0.5]\n");
    kpf_task_batch *bt = batch_of(t, 9, 4);
    check_whitening(bt);
    double U[4], V[4], C[4], worst = 0;
    kpf_lrnn_orthogonal(0, KPF_LRNN_U, n, U, &err);
    kpf_lrnn_orthogonal(0, KPF_LRNN_V, n, V, &err);
    for (size_t tt = 1; tt <= T; tt++) {
        cr_expect_eq(bt->mask[(tt - 1) * 9], 1.0);
        for (size_t i = 1; i <= T; i++) {
            corr(bt->y, n, tt, bt->x, n, i, 9, C);
            for (size_t o = 0; o < n; o++)
                for (size_t j = 0; j < n; j++) {
                    double e = 0;
                    for (size_t a = 0; a < n && i <= tt; a++) /* s_{t,i} = δλ^i (length t) */
                        e += U[o * n + a] * 0.8 * pow(a ? 0.5 : 1.2, (double)i) * V[j * n + a];
                    worst = fmax(worst, fabs(C[o * n + j] - e));
                }
        }
    }
    cr_expect_lt(worst, 1e-13, "Σ^{Y_tX_i} differs from U S_{t,i} Vᵀ by %.3e", worst);
    kpf_task_batch_free(bt);
    kpf_task_free(t);
}

Test(lrnn, rotation_task_has_rotation_blocks)
{
    const size_t T = 3, N = 4;
    kpf_task *t = task_of("name: lrnn_rotation\nT: 3\ndynamics: inverse_exponential\n"
                          "delta_r: 0.7\ndelta_phi: 0.5\nlambda_r: [0.9, 1.05]\n"
                          "lambda_phi: [0.5235987755982988, -1.0]\nbasis_seed: 2\n");
    cr_assert_eq(t->n_in, N);
    kpf_task_batch *bt = batch_of(t, 12, 5);
    check_whitening(bt);
    double Q[16], C[16], worst = 0;
    kpf_lrnn_orthogonal(2, KPF_LRNN_V, N, Q, &err);
    const double lr[2] = {0.9, 1.05}, lp[2] = {0.5235987755982988, -1.0};
    for (size_t i = 1; i <= T; i++) {
        corr(bt->y, N, T, bt->x, N, i, 12, C);
        for (size_t p = 0; p < 2; p++) { /* Q_pᵀ Σ Q_p = [[μ, −ν], [ν, μ]] */
            double complex d = 0.7 * cexp(I * 0.5) * cpow(lr[p] * cexp(I * lp[p]), T - i);
            double H[2][2] = {{creal(d), -cimag(d)}, {cimag(d), creal(d)}};
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 2; q++) {
                    double s = 0;
                    for (size_t a = 0; a < N; a++)
                        for (size_t b = 0; b < N; b++)
                            s += Q[a * N + 2 * p + r] * C[a * N + b] * Q[b * N + 2 * p + q];
                    worst = fmax(worst, fabs(s - H[r][q]));
                }
        }
    }
    cr_expect_lt(worst, 1e-13, "rotation blocks off by %.3e", worst);
    kpf_task_batch_free(bt);
    kpf_task_free(t);
}

/* ---- the plugin ------------------------------------------------------------ */

static void conformance(const char *text, size_t n_in, size_t n_out)
{
    kpf_check_opts o;
    kpf_check_opts_default(&o);
    o.model = yaml(text);
    o.n_in = n_in;
    o.n_out = n_out;
    kpf_check_report rep;
    cr_assert_eq(kpf_check_plugin(plugin(), &o, &rep, &err), KPF_OK, "%s: %s", text, err.msg);
    for (size_t i = 0; i < rep.n_items; i++)
        cr_expect(rep.items[i].pass, "%s: %s: %.3e > %.1e %s", text, rep.items[i].name,
                  rep.items[i].value, rep.items[i].tol, rep.items[i].detail);
    cr_expect_gt(rep.n_items, 20);
    kpf_check_report_free(&rep);
}

Test(lrnn, conformance_in_every_configuration)
{
    conformance("parameterisation: full\n", 3, 2);
    conformance("parameterisation: full\nn: 6\nsigma: 1.0\n", 2, 3);
    conformance("parameterisation: full\nalignment: aligned\nn: 5\nbasis_seed: 3\n", 3, 2);
    conformance("alignment: aligned\nbasis: eigen\nn: 4\nb0_phase: 0.7\n", 4, 4);
    conformance("parameterisation: modes\n", 3, 2);
    conformance("parameterisation: modes\nn: 1\nmode_init: 0.5\n", 2, 4);
}

Test(lrnn, aligned_init_gives_back_its_modes)
{
    kpf_task *t = task_of("name: lrnn_svd\nn_in: 3\nn_out: 2\nT: 2\n");
    kpf_model *m = model_of("alignment: aligned\nn: 4\na0: 0.3\nb0: 0.6\nc0: -0.2\n"
                            "mode_noise: 0\nbasis_seed: 9\n", t, 1);
    kpf_lrnn_net net;
    cr_assert_eq(kpf_lrnn_net_from_model(m, &net, &err), KPF_OK, "%s", err.msg);
    double U[4], V[9], R[16], a[2], b[2], c[2], off;
    kpf_lrnn_orthogonal(9, KPF_LRNN_U, 2, U, &err);
    kpf_lrnn_orthogonal(9, KPF_LRNN_V, 3, V, &err);
    kpf_lrnn_orthogonal(9, KPF_LRNN_R, 4, R, &err);
    cr_assert_eq(kpf_lrnn_extract_modes(&net, U, V, R, 2, a, b, c, &off, &err), KPF_OK);
    for (int i = 0; i < 2; i++) {
        cr_expect_float_eq(a[i], 0.3, 1e-14);
        cr_expect_float_eq(b[i], 0.6, 1e-14);
        cr_expect_float_eq(c[i], -0.2, 1e-14);
    }
    cr_expect_lt(off, 1e-14);
    kpf_lrnn_net_free(&net);
    kpf_model_free(m);
    /* an unaligned network is not diagonal in the task basis */
    m = model_of("sigma: 1.0\nn: 4\n", t, 1);
    cr_assert_eq(kpf_lrnn_net_from_model(m, &net, &err), KPF_OK);
    cr_assert_eq(kpf_lrnn_extract_modes(&net, U, V, R, 2, a, b, c, &off, &err), KPF_OK);
    cr_expect_gt(off, 0.05);
    kpf_lrnn_net_free(&net);
    kpf_model_free(m);
    kpf_task_free(t);
}

/* ---- training ---------------------------------------------------------------- */

typedef struct rec {
    size_t every, n, cap;
    double *theta; /* snapshots of the plugin's θ */
    size_t m;
} rec;

static int record(void *ctx, kpf_model *m, size_t iter, kpf_error *e)
{
    rec *r = ctx;
    if (iter % r->every)
        return KPF_OK;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->theta = realloc(r->theta, r->cap * m->m * sizeof(double));
    }
    r->m = m->m;
    memcpy(r->theta + r->n++ * m->m, m->theta, m->m * sizeof(double));
    return KPF_OK;
}

static void train(kpf_model *m, kpf_task *t, size_t iters, double lr, const char *const *blocks,
                  size_t nb, rec *r)
{
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    o.iterations = iters;
    o.batch = o.eval_trials = t->T * t->n_in;
    o.eval_every = iters;
    o.optimizer = KPF_OPTIM_SGD;
    o.lr = lr;
    o.train_blocks = blocks;
    o.n_train_blocks = nb;
    kpf_train_history h = {0};
    cr_assert_eq(kpf_train(m, t, &o, r ? record : NULL, r, &h, &err), KPF_OK, "%s", err.msg);
    kpf_train_history_free(&h);
}

static double theta_at(const kpf_model *m, const char *block, size_t i)
{
    const kpf_param_block *b = kpf_model_block(m, block);
    cr_assert_not_null(b);
    return m->theta[b->offset + i];
}

/* One trained `modes` network per family; T = 4, two modes each. */
static void optimum(const char *dyn, const char *extra, const double *b_star,
                    const double *ac_star, size_t iters, double lr)
{
    char tk[512];
    snprintf(tk, sizeof tk, "name: lrnn_svd\nn_in: 2\nT: 4\ndynamics: %s\n%s", dyn, extra);
    kpf_task *t = task_of(tk);
    kpf_model *m = model_of("parameterisation: modes\nmode_init: 0.3\n", t, 2);
    train(m, t, iters, lr, NULL, 0, NULL);
    for (size_t a = 0; a < 2; a++) {
        double b = theta_at(m, "b", a), ac = theta_at(m, "a", a) * theta_at(m, "c", a);
        cr_expect(fabs(b - b_star[a]) < 1e-3, "%s mode %zu: b = %.6f, theory %.6f", dyn, a, b,
                  b_star[a]);
        cr_expect(fabs(ac - ac_star[a]) < 1e-3, "%s mode %zu: ac = %.6f, theory %.6f", dyn, a,
                  ac, ac_star[a]);
    }
    kpf_model_free(m);
    kpf_task_free(t);
}

Test(lrnn, trained_modes_reach_the_closed_form_optima)
{
    /* constant → b = 1, ac = δ */
    optimum("constant", "delta: [1.0, 0.5]\n", (double[]){1, 1}, (double[]){1.0, 0.5}, 20000, 0.5);
    /* inverse-exponential → b = λ, ac = δ */
    optimum("inverse_exponential", "delta: [1.0, 0.8]\nlambda: [0.8, 0.6]\n",
            (double[]){0.8, 0.6}, (double[]){1.0, 0.8}, 20000, 0.5);
    /* exponential → b = 1/λ, ac = δλ^T */
    optimum("exponential", "delta: [0.5, 1.0]\nlambda: [1.25, 0.9]\n",
            (double[]){0.8, 1 / 0.9}, (double[]){0.5 * pow(1.25, 4), pow(0.9, 4)}, 20000, 0.5);
    /* T-output inverse-exponential (App. M.3) → b = λ, ac = δ */
    optimum("inverse_exponential", "delta: [1.0, 0.8]\nlambda: [0.8, 0.6]\noutputs: all\n",
            (double[]){0.8, 0.6}, (double[]){1.0, 0.8}, 20000, 1.0);
}

Test(lrnn, a2_minus_c2_is_conserved_by_the_reduced_flow)
{
    kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_INVEXP, .delta = 1.1, .lambda = 0.5};
    kpf_lrnn_terms tm;
    cr_assert_eq(kpf_lrnn_terms_build(&sp, 5, 0, &tm, &err), KPF_OK);
    double y[3] = {0.3, 0.1, -0.05}, tr[3 * 4001];
    double q0 = y[0] * y[0] - y[2] * y[2];
    cr_assert_eq(kpf_lrnn_flow(&tm, KPF_LRNN_RK4, 5e-3, 4000, 0, y, tr, &err), KPF_OK);
    double worst = 0;
    for (size_t s = 0; s <= 4000; s++)
        worst = fmax(worst, fabs(tr[3 * s] * tr[3 * s] - tr[3 * s + 2] * tr[3 * s + 2] - q0));
    cr_expect_lt(worst, 1e-10, "a² − c² drifted by %.3e", worst);
    /* and the flow got somewhere: the inverse-exponential optimum b = λ, ac = δ */
    cr_expect(fabs(y[1] - 0.5) < 1e-4 && fabs(y[0] * y[2] - 1.1) < 1e-4, "b = %g, ac = %g", y[1],
              y[0] * y[2]);
    /* the T-output flow too */
    kpf_lrnn_terms_free(&tm);
    cr_assert_eq(kpf_lrnn_terms_build(&sp, 4, 1, &tm, &err), KPF_OK);
    cr_expect_eq(tm.n, 10u);
    double z[3] = {0.2, 0.3, 0.4};
    q0 = z[0] * z[0] - z[2] * z[2];
    cr_assert_eq(kpf_lrnn_flow(&tm, KPF_LRNN_RK4, 2.5e-3, 8000, 0, z, NULL, &err), KPF_OK);
    double drift = fabs(z[0] * z[0] - z[2] * z[2] - q0);
    cr_expect_lt(drift, 1e-10, "T-output: a² − c² drifted by %.3e", drift);
    cr_expect(fabs(z[1] - 0.5) < 1e-4 && fabs(z[0] * z[2] - 1.1) < 1e-4,
              "T-output optimum (M.3): b = %g, ac = %g", z[1], z[0] * z[2]);
    kpf_lrnn_terms_free(&tm);
}

/* App. E setting: two inverse-exponential modes (δ, λ) = (1.1, 0.5) and
 * (0.5, 1.1) at T = 5, a full aligned network (n = 4 > 3 modes) trained by
 * SGD at a small step, against the reduced ODE (RK4) from the extracted
 * initial modes, along the whole learning curve. */
Test(lrnn, full_aligned_network_follows_the_reduced_ode)
{
    const size_t T = 5, n_in = 3, iters = 60000, every = 1000;
    kpf_task *t = task_of("name: lrnn_svd\nn_in: 3\nT: 5\ndynamics: inverse_exponential\n"
                          "delta: [1.1, 0.5]\nlambda: [0.5, 1.1]\nbasis_seed: 4\n");
    kpf_model *m = model_of("alignment: aligned\nn: 4\nmode_init: 0.1\nmode_noise: 0.02\n"
                            "basis_seed: 4\n", t, 3);
    const double h = 2.5e-4;
    const double lr = h * (double)(T * n_in) * 3.0 / 2.0; /* Δ(t_θ/τ) = 2η/(P N_y) */
    cr_assert_float_eq(kpf_lrnn_time_per_step(lr, T * n_in, 3), h, 1e-15);
    rec r = {.every = every};
    train(m, t, iters, lr, NULL, 0, &r);
    cr_assert_eq(r.n, iters / every + 1);
    double U[9], V[9], R[16];
    kpf_lrnn_orthogonal(4, KPF_LRNN_U, 3, U, &err);
    kpf_lrnn_orthogonal(4, KPF_LRNN_V, 3, V, &err);
    kpf_lrnn_orthogonal(4, KPF_LRNN_R, 4, R, &err);
    double modes[64][3][3]; /* snapshot, mode, (a, b, c) */
    double worst_off = 0;
    for (size_t s = 0; s < r.n; s++) {
        memcpy(m->theta, r.theta + s * r.m, r.m * sizeof(double));
        kpf_lrnn_net net;
        cr_assert_eq(kpf_lrnn_net_from_model(m, &net, &err), KPF_OK);
        double a[3], b[3], c[3], off;
        cr_assert_eq(kpf_lrnn_extract_modes(&net, U, V, R, 3, a, b, c, &off, &err), KPF_OK);
        worst_off = fmax(worst_off, off);
        for (int k = 0; k < 3; k++) {
            modes[s][k][0] = a[k];
            modes[s][k][1] = b[k];
            modes[s][k][2] = c[k];
        }
        kpf_lrnn_net_free(&net);
    }
    cr_expect_lt(worst_off, 1e-10, "the aligned network left alignment (%.3e)", worst_off);
    const double delta[3] = {1.1, 0.5, 0}, lambda[3] = {0.5, 1.1, 1};
    double worst = 0, worst_gd = 0;
    for (int k = 0; k < 3; k++) {
        kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_INVEXP, .delta = delta[k],
                                 .lambda = lambda[k]};
        kpf_lrnn_terms tm;
        cr_assert_eq(kpf_lrnn_terms_build(&sp, T, 0, &tm, &err), KPF_OK);
        double y[3] = {modes[0][k][0], modes[0][k][1], modes[0][k][2]};
        double z[3] = {y[0], y[1], y[2]};
        for (size_t s = 1; s < r.n; s++) {
            /* the ODE (RK4) … */
            cr_assert_eq(kpf_lrnn_flow(&tm, KPF_LRNN_RK4, h, every, 0, y, NULL, &err), KPF_OK);
            worst = fmax(worst, fabs(y[1] - modes[s][k][1]));
            worst = fmax(worst, fabs(y[0] * y[2] - modes[s][k][0] * modes[s][k][2]));
            /* … and gradient descent on E (Euler at the SGD step): the same map */
            cr_assert_eq(kpf_lrnn_flow(&tm, KPF_LRNN_EULER, h, every, 0, z, NULL, &err), KPF_OK);
            for (int q = 0; q < 3; q++)
                worst_gd = fmax(worst_gd, fabs(z[q] - modes[s][k][q]));
        }
        kpf_lrnn_terms_free(&tm);
    }
    cr_log_info("full aligned vs reduced gradient descent: max difference %.3e", worst_gd);
    cr_expect_lt(worst_gd, 1e-9, "training is not gradient descent on E (%.3e)", worst_gd);
    cr_log_info("full aligned vs reduced ODE: max difference %.3e", worst);
    cr_expect_lt(worst, 1e-3, "simulation and reduced ODE differ by %.3e", worst);
    /* the run reached the optimum of the first two modes */
    cr_expect(fabs(modes[r.n - 1][0][1] - 0.5) < 1e-2, "b₀ = %g", modes[r.n - 1][0][1]);
    free(r.theta);
    kpf_model_free(m);
    kpf_task_free(t);
}

Test(lrnn, frozen_b_training_follows_eq47)
{
    kpf_task *t = task_of("name: lrnn_svd\nn_in: 2\nT: 6\ndynamics: constant\n"
                          "delta: [1.0, 0.4]\n");
    kpf_model *m = model_of("parameterisation: modes\na0: 0.05\nc0: 0.05\nb0: 0.8\n"
                            "mode_noise: 0\n", t, 1);
    const size_t iters = 40000, every = 200;
    const double lr = 0.003, h = kpf_lrnn_time_per_step(lr, 12, 2);
    rec r = {.every = every};
    static const char *const ac[] = {"a", "c"};
    train(m, t, iters, lr, ac, 2, &r);
    double worst = 0;
    const double delta[2] = {1.0, 0.4};
    for (int k = 0; k < 2; k++) {
        kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_CONSTANT, .delta = delta[k]};
        kpf_lrnn_terms tm;
        kpf_lrnn_terms_build(&sp, 6, 0, &tm, &err);
        double uinf = kpf_lrnn_optimal_u(&tm, 0.8);
        for (size_t s = 0; s < r.n; s++) {
            const double *th = r.theta + s * r.m;
            cr_assert_eq(th[2 + k], 0.8, "b moved");
            double u = th[k] * th[4 + k];
            double uc = kpf_lrnn_frozen_b_u(&tm, 0.8, 0.0025, (double)(s * every) * h);
            worst = fmax(worst, fabs(u - uc) / uinf);
        }
        const double *th = r.theta + (r.n - 1) * r.m;
        cr_expect(fabs(th[k] * th[4 + k] - uinf) < 1e-3 * uinf, "u did not reach A/B");
        kpf_lrnn_terms_free(&tm);
    }
    cr_log_info("frozen b vs eq. 47: max relative difference %.3e", worst);
    cr_expect_lt(worst, 2e-3, "training and eq. 47 differ by %.3e (relative to u∞)", worst);
    free(r.theta);
    kpf_model_free(m);
    kpf_task_free(t);
}

Test(lrnn, energy_split_adds_up_including_b_squared_one)
{
    kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_DIRAC, .beta = 2.5, .kappa = 1.0};
    const double bs[] = {0.5, 1.0, -1.0, 1.0 + 1e-9, 1.0 - 1e-4, 1.2, 0.0};
    for (int all = 0; all < 2; all++) {
        kpf_lrnn_terms tm;
        cr_assert_eq(kpf_lrnn_terms_build(&sp, 7, all, &tm, &err), KPF_OK);
        for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) {
            double d, g, E = kpf_lrnn_energy(&tm, 0.7, bs[i], 1.3);
            kpf_lrnn_energy_split(&tm, 0.7, bs[i], 1.3, &d, &g);
            cr_expect(isfinite(d) && isfinite(g), "b = %g: not finite", bs[i]);
            cr_expect(fabs(d + g - E) < 1e-12 * fmax(1.0, fabs(E)),
                      "%s b = %.12g: data %.15g + reg %.15g ≠ E %.15g",
                      all ? "T-output" : "single", bs[i], d, g, E);
        }
        kpf_lrnn_terms_free(&tm);
    }
    cr_expect_float_eq(kpf_lrnn_geom(1.0, 7), 7.0, 1e-15);
    cr_expect_float_eq(kpf_lrnn_geom2(1.0, 7), 28.0, 1e-15);
    cr_expect_float_eq(kpf_lrnn_geom(0.25, 3), 1.3125, 1e-15);
}

/* ---- phase transitions (App. H) ------------------------------------------------ */

/* |b| of the global minimum of the Dirac energy, s_1 = β, s_T = 1/β. */
static double dirac_b(size_t T, double beta)
{
    kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_DIRAC, .beta = beta, .kappa = 1.0 / beta};
    kpf_lrnn_terms tm;
    cr_assert_eq(kpf_lrnn_terms_build(&sp, T, 0, &tm, &err), KPF_OK);
    double b, u, E;
    cr_assert_eq(kpf_lrnn_global_min(&tm, 3.0, 6001, &b, &u, &E, &err), KPF_OK);
    kpf_lrnn_terms_free(&tm);
    return fabs(b);
}

/* The β where the global minimum leaves b = 0, by bisection. */
static double dirac_beta_c(size_t T)
{
    double lo = 0.3, hi = 1.5;
    cr_assert_lt(dirac_b(T, lo), 1e-6);
    cr_assert_gt(dirac_b(T, hi), 1e-3);
    for (int i = 0; i < 40; i++) {
        double mid = 0.5 * (lo + hi);
        if (dirac_b(T, mid) > 1e-6)
            hi = mid;
        else
            lo = mid;
    }
    return 0.5 * (lo + hi);
}

Test(lrnn, dirac_transition_points)
{
    /* T = 3: second order at β = 1/√2 (s_1/s_T = 1/2), b grows continuously */
    double bc3 = dirac_beta_c(3);
    cr_log_info("Dirac T = 3: β_c = %.6f (1/√2 = %.6f)", bc3, M_SQRT1_2);
    cr_expect(fabs(bc3 - M_SQRT1_2) < 2e-3, "T = 3: β_c = %.6f, expected 1/√2", bc3);
    double b1 = dirac_b(3, M_SQRT1_2 + 0.003), b2 = dirac_b(3, M_SQRT1_2 + 0.03);
    cr_expect(b1 > 0 && b1 < b2 && b1 < 0.15, "T = 3 not continuous: b = %g, %g", b1, b2);
    /* T = 4: first order at β = 1, b jumps from 0 to about 1 */
    double bc4 = dirac_beta_c(4);
    cr_log_info("Dirac T = 4: β_c = %.6f", bc4);
    cr_expect(fabs(bc4 - 1.0) < 2e-3, "T = 4: β_c = %.6f, expected 1", bc4);
    cr_expect_lt(dirac_b(4, 0.995), 1e-6);
    cr_expect_gt(dirac_b(4, 1.005), 0.9, "T = 4: no jump");
    /* a network trained from small modes at T = 3 ends on the same branch */
    for (int k = 0; k < 2; k++) {
        double beta = k ? 0.85 : 0.6;
        kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_DIRAC, .beta = beta, .kappa = 1 / beta};
        kpf_lrnn_terms tm;
        kpf_lrnn_terms_build(&sp, 3, 0, &tm, &err);
        kpf_lrnn_final f;
        cr_assert_eq(kpf_lrnn_train_modes(&tm, 0.3, 0.3, 0.3, 0.02, 200000, &f, &err), KPF_OK);
        double bs = dirac_b(3, beta);
        cr_expect(fabs(fabs(f.b) - bs) < 2e-3, "β = %g: trained |b| = %g, global minimum %g",
                  beta, f.b, bs);
        kpf_lrnn_terms_free(&tm);
    }
}

/* Fig. 4's Dirac task as GD sees it (`figure: hysteresis`): at T = 4 and
 * β = 1.2, 1.3 > β_c = 1 the global minimum is recurrent, GD from
 * a = b = c = 0.5 finds it, GD from 0.1 stays on the feed-forward branch
 * b = 0 (a local minimum for every β at T ≥ 4); the recurrent branch exists
 * from β_s ≈ 0.910 on (E*(b) gains a local minimum near b ≈ 0.74). */
Test(lrnn, dirac_hysteresis_depends_on_the_init)
{
    kpf_config *c = NULL;
    cr_assert_eq(kpf_config_load_string("lrnn: {figure: hysteresis, T: [4], inits: [0.1, 0.5], "
                                        "from: 1.2, to: 1.3, n: 2, time: 400, step: 0.004}\n",
                                        "hyst", &c, &err),
                 KPF_OK, "%s", err.msg);
    char dir[] = "/tmp/kpf-lrnn-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(kpf_lrnn_experiment_run(c, plugin(), dir, &err), KPF_OK, "%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/plot-src/hysteresis.dat", dir);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    double b[3][2]; /* block (init 0.1, init 0.5, global minimum) × β */
    size_t blk = 0, row = 0, blank = 0;
    char line[512];
    while (fgets(line, sizeof line, fp) && blk < 3) {
        double x, bb;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "%lf %lf", &x, &bb) != 2) {
            if (++blank == 2 && row) { /* gnuplot's block separator */
                blk++;
                row = 0;
            }
            continue;
        }
        blank = 0;
        if (row < 2)
            b[blk][row++] = bb;
    }
    fclose(fp);
    cr_assert_eq(blk, 3, "expected 3 blocks");
    for (int i = 0; i < 2; i++) {
        cr_expect_lt(b[0][i], 0.05, "GD from 0.1 left b = 0: |b| = %g", b[0][i]);
        cr_expect_gt(b[1][i], 0.5, "GD from 0.5 stayed at b = 0: |b| = %g", b[1][i]);
        cr_expect_gt(b[2][i], 0.5, "global minimum at b = 0 above beta_c: |b| = %g", b[2][i]);
    }
    snprintf(path, sizeof path, "%s/summary.json", dir);
    fp = fopen(path, "r");
    cr_assert_not_null(fp);
    static char js[8192];
    size_t len = fread(js, 1, sizeof js - 1, fp);
    js[len] = 0;
    fclose(fp);
    const char *k = strstr(js, "\"beta_spinodal_recurrent_branch\":");
    cr_assert_not_null(k, "%s", js);
    double bs = strtod(strchr(k, ':') + 1, NULL);
    cr_expect(fabs(bs - 0.910) < 0.005, "T = 4: beta_s = %g, expected 0.910", bs);
    k = strstr(js, "\"beta_c_over_kappa_global_min_bmax\":");
    cr_assert_not_null(k);
    cr_expect(fabs(strtod(strchr(k, ':') + 1, NULL) - 1.0) < 1e-3, "T = 4: beta_c != 1");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    kpf_config_free(c);
}

/* ---- sensory integration (§3.6) --------------------------------------------------- */

static void integrate(const char *op, double *loss, size_t nT)
{
    char tk[256];
    snprintf(tk, sizeof tk, "name: lrnn_integration\nn_in: 4\nT: 5\nop: %s\n", op);
    kpf_task *t = task_of(tk);
    kpf_model *m = model_of("n: 4\nsigma: 0.1\n", t, 5);
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    o.iterations = 4000;
    o.batch = 64;
    o.eval_every = 4000;
    o.lr = 0.01;
    kpf_train_history h = {0};
    cr_assert_eq(kpf_train(m, t, &o, NULL, NULL, &h, &err), KPF_OK, "%s", err.msg);
    kpf_train_history_free(&h);
    gsl_rng *r = NULL;
    kpf_rng_alloc(9, KPF_RNG_EVAL, &r, &err);
    for (size_t T = 1; T <= nT; T++) {
        snprintf(tk, sizeof tk, "name: lrnn_integration\nn_in: 4\nT: %zu\nop: %s\n", T, op);
        kpf_task *t2 = task_of(tk);
        cr_assert_eq(kpf_lrnn_task_loss(m, t2, 256, r, &loss[T - 1], &err), KPF_OK, "%s",
                     err.msg);
        kpf_task_free(t2);
    }
    gsl_rng_free(r);
    kpf_model_free(m);
    kpf_task_free(t);
}

Test(lrnn, sum_extrapolates_and_mean_does_not)
{
    double ls[10], lm[10];
    integrate("sum", ls, 10);
    integrate("mean", lm, 10);
    for (int i = 0; i < 10; i++) {
        cr_log_info("T' = %d: sum loss %.3e, mean loss %.3e", i + 1, ls[i], lm[i]);
        cr_expect_lt(ls[i], 1e-8, "sum integration at T' = %d: loss %.3e", i + 1, ls[i]);
    }
    cr_expect_lt(lm[4], 1e-4, "mean at the trained T: %.3e", lm[4]);
    for (int i = 5; i < 10; i++)
        cr_expect_gt(lm[i], lm[i - 1], "mean error does not grow at T' = %d", i + 1);
    for (int i = 3; i > 0; i--)
        cr_expect_gt(lm[i - 1], lm[i], "mean error does not grow at T' = %d", i);
}

/* ---- output NTK ------------------------------------------------------------------ */

Test(lrnn, output_ntk_matches_finite_differences_and_the_closed_form)
{
    const size_t T = 3, ni = 2, no = 2, n = 3, B = 6;
    kpf_task *t = task_of("name: lrnn_svd\nn_in: 2\nT: 3\ndynamics: inverse_exponential\n"
                          "lambda: 0.7\n");
    kpf_model *m = model_of("n: 3\nsigma: 0.9\n", t, 7);
    kpf_task_batch *bt = batch_of(t, B, 8);
    double *J = NULL, *K = NULL;
    size_t rows = 0;
    cr_assert_eq(kpf_lrnn_output_ntk(m, bt, &J, &K, &rows, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(rows, B * no);
    const size_t M = m->m;
    /* J against central differences of the outputs at step T */
    kpf_grad_ws *ws = NULL;
    cr_assert_eq(kpf_grad_ws_alloc(m, B, T, &ws, &err), KPF_OK);
    double L, worst = 0, scale = 0;
    for (size_t j = 0; j < M; j++) {
        double yp[12], ym[12], th = m->theta[j], eps = 1e-6;
        m->theta[j] = th + eps;
        kpf_model_theta_changed(m, &err);
        kpf_loss_eval(m, bt, ws, &L, &err);
        memcpy(yp, ws->y + (T - 1) * B * no, B * no * sizeof(double));
        m->theta[j] = th - eps;
        kpf_model_theta_changed(m, &err);
        kpf_loss_eval(m, bt, ws, &L, &err);
        memcpy(ym, ws->y + (T - 1) * B * no, B * no * sizeof(double));
        m->theta[j] = th;
        kpf_model_theta_changed(m, &err);
        for (size_t r = 0; r < rows; r++) {
            double fd = (yp[r] - ym[r]) / (2 * eps);
            worst = fmax(worst, fabs(fd - J[r * M + j]));
            scale = fmax(scale, fabs(fd));
        }
    }
    cr_expect_lt(worst / scale, 1e-7, "J vs finite differences: %.3e", worst / scale);
    /* K against the notes' exact kernel (§4):
     *   K = Σ_{t,t'} (X_tᵀX_t' + H_tᵀH_t') ⊗ G_t G_t'ᵀ + H_{T+1}ᵀH_{T+1} ⊗ I,
     * G_t = W_y W_h^{T−t}, H_t the hidden states (H_1 = 0). */
    kpf_lrnn_net net;
    cr_assert_eq(kpf_lrnn_net_from_model(m, &net, &err), KPF_OK);
    double G[3][2 * 3], Hs[4][6 * 3] = {{0}};
    double P[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, P2[9];
    for (size_t tt = T; tt >= 1; tt--) { /* G_t = W_y W_h^{T−t} */
        for (size_t o = 0; o < no; o++)
            for (size_t k = 0; k < n; k++) {
                double s = 0;
                for (size_t l = 0; l < n; l++)
                    s += net.Wy[o * n + l] * P[l * n + k];
                G[tt - 1][o * n + k] = s;
            }
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < n; k++) {
                double s = 0;
                for (size_t l = 0; l < n; l++)
                    s += P[i * n + l] * net.Wh[l * n + k];
                P2[i * n + k] = s;
            }
        memcpy(P, P2, sizeof P);
    }
    for (size_t tt = 1; tt <= T; tt++) /* h_{t+1} = W_h h_t + W_x x_t */
        for (size_t p = 0; p < B; p++)
            for (size_t i = 0; i < n; i++) {
                double s = 0;
                for (size_t k = 0; k < n; k++)
                    s += net.Wh[i * n + k] * Hs[tt - 1][p * n + k];
                for (size_t k = 0; k < ni; k++)
                    s += net.Wx[i * ni + k] * bt->x[((tt - 1) * B + p) * ni + k];
                Hs[tt][p * n + i] = s;
            }
    double kw = 0, kd = 0;
    for (size_t p = 0; p < B; p++)
        for (size_t o = 0; o < no; o++)
            for (size_t q = 0; q < B; q++)
                for (size_t o2 = 0; o2 < no; o2++) {
                    double s = 0;
                    for (size_t a = 1; a <= T; a++)
                        for (size_t b = 1; b <= T; b++) {
                            double xx = 0, hh = 0, gg = 0;
                            for (size_t k = 0; k < ni; k++)
                                xx += bt->x[((a - 1) * B + p) * ni + k] *
                                      bt->x[((b - 1) * B + q) * ni + k];
                            for (size_t k = 0; k < n; k++) {
                                hh += Hs[a - 1][p * n + k] * Hs[b - 1][q * n + k];
                                gg += G[a - 1][o * n + k] * G[b - 1][o2 * n + k];
                            }
                            s += (xx + hh) * gg;
                        }
                    if (o == o2)
                        for (size_t k = 0; k < n; k++)
                            s += Hs[T][p * n + k] * Hs[T][q * n + k];
                    double kv = K[(p * no + o) * rows + q * no + o2];
                    kd = fmax(kd, fabs(kv - s));
                    kw = fmax(kw, fabs(s));
                }
    cr_expect_lt(kd / kw, 1e-12, "K vs the closed form: %.3e", kd / kw);
    /* kernel distance: 0 for K itself and any multiple, > 0 after a change */
    double *K2 = malloc(rows * rows * sizeof *K2);
    for (size_t i = 0; i < rows * rows; i++)
        K2[i] = 3.0 * K[i];
    cr_expect_lt(fabs(kpf_kernel_distance(K, K2, rows)), 1e-14);
    for (size_t i = 0; i < rows; i++)
        K2[i * rows + i] += 10.0;
    double D = kpf_kernel_distance(K, K2, rows);
    cr_expect(D > 1e-3 && D < 1, "D = %g", D);
    free(K2);
    kpf_lrnn_net_free(&net);
    kpf_grad_ws_free(ws);
    free(J);
    free(K);
    kpf_task_batch_free(bt);
    kpf_model_free(m);
    kpf_task_free(t);
}

/* ---- FFT ----------------------------------------------------------------------------- */

static void random_net(kpf_lrnn_net *net, size_t ni, size_t nh, size_t no, double radius,
                       uint64_t seed)
{
    cr_assert_eq(kpf_lrnn_net_alloc(ni, nh, no, net, &err), KPF_OK);
    gsl_rng *r = NULL;
    kpf_rng_alloc(seed, 7, &r, &err);
    for (size_t i = 0; i < nh * ni; i++)
        net->Wx[i] = gsl_rng_uniform(r) - 0.5;
    for (size_t i = 0; i < no * nh; i++)
        net->Wy[i] = gsl_rng_uniform(r) - 0.5;
    for (size_t i = 0; i < nh * nh; i++)
        net->Wh[i] = gsl_rng_uniform(r) - 0.5;
    double s[64];
    kpf_lrnn_svals(net->Wh, nh, nh, s, &err); /* ‖W_h‖₂ = radius: a stable system */
    for (size_t i = 0; i < nh * nh; i++)
        net->Wh[i] *= radius / s[0];
    gsl_rng_free(r);
}

Test(lrnn, fft_convolution_equals_the_recurrence)
{
    const size_t T = 2000, B = 3, ni = 2, nh = 5, no = 2;
    kpf_task *t = task_of("name: lrnn_integration\nn_in: 2\nT: 2000\nop: mean\noutputs: all\n");
    kpf_task_batch *bt = batch_of(t, B, 4);
    kpf_lrnn_net net;
    random_net(&net, ni, nh, no, 0.97, 1);
    double *G = malloc(T * no * ni * sizeof *G), *y1 = malloc(T * B * no * sizeof *y1),
           *y2 = malloc(T * B * no * sizeof *y2);
    cr_assert_eq(kpf_lrnn_markov(&net, T, G, &err), KPF_OK);
    cr_assert_eq(kpf_lrnn_forward(&net, B, T, bt->x, y1, &err), KPF_OK);
    kpf_lti_fft *p = NULL;
    cr_assert_eq(kpf_lti_fft_alloc(ni, no, T, B, &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_lti_fft_set_kernel(p, G, &err), KPF_OK);
    double d = 0, nrm = 0;
    for (int rep = 0; rep < 2; rep++) { /* plans reused */
        cr_assert_eq(kpf_lti_fft_apply(p, bt->x, y2, &err), KPF_OK);
        d = nrm = 0;
        for (size_t i = 0; i < T * B * no; i++) {
            d += (y1[i] - y2[i]) * (y1[i] - y2[i]);
            nrm += y1[i] * y1[i];
        }
    }
    cr_expect_lt(sqrt(d / nrm), 1e-10, "FFT vs recurrence: %.3e relative", sqrt(d / nrm));
    /* the loss through FFT equals the loss of the plugin model */
    kpf_model *m = model_of("n: 5\n", t, 1);
    memcpy(m->theta + kpf_model_block(m, "W_x")->offset, net.Wx, nh * ni * sizeof(double));
    memcpy(m->theta + kpf_model_block(m, "W_h")->offset, net.Wh, nh * nh * sizeof(double));
    memcpy(m->theta + kpf_model_block(m, "W_y")->offset, net.Wy, no * nh * sizeof(double));
    kpf_model_theta_changed(m, &err);
    kpf_grad_ws *ws = NULL;
    double L1, L2;
    cr_assert_eq(kpf_grad_ws_alloc(m, B, T, &ws, &err), KPF_OK);
    cr_assert_eq(kpf_loss_eval(m, bt, ws, &L1, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_lti_fft_loss(p, bt, &L2, &err), KPF_OK);
    cr_expect_lt(fabs(L1 - L2) / L1, 1e-10, "loss: model %.15g, FFT %.15g", L1, L2);
    kpf_grad_ws_free(ws);
    kpf_model_free(m);
    kpf_lti_fft_free(p);
    free(G);
    free(y1);
    free(y2);
    kpf_lrnn_net_free(&net);
    kpf_task_batch_free(bt);
    kpf_task_free(t);
}

Test(lrnn, frequency_response_of_a_mode)
{
    const size_t T = 50, L = 128;
    const double a = 0.7, b = -0.8, c = 1.3;
    double G[50];
    for (size_t k = 0; k < T; k++)
        G[k] = c * pow(b, (double)k) * a;
    double complex H[65];
    cr_assert_eq(kpf_lti_freq_response(G, T, 1, 1, L, H, &err), KPF_OK);
    double worst = 0;
    for (size_t f = 0; f <= L / 2; f++)
        worst = fmax(worst, cabs(H[f] - kpf_lrnn_mode_response(a, b, c, T, 2 * M_PI * f / L)));
    cr_expect_lt(worst, 1e-12, "truncated DTFT vs closed form: %.3e", worst);
    /* at the pole b e^{-iω} = 1 the response is the explicit sum c a T */
    cr_expect_lt(cabs(kpf_lrnn_mode_response(a, 1.0, c, T, 0.0) - c * a * (double)T), 1e-12);
}

Test(lrnn, power_spectrum_finds_the_frequencies)
{
    const size_t T = 64, B = 3, n = 2;
    double x[64 * 3 * 2], psd[2 * 33], fr[2];
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            x[(t * B + b) * n + 0] = 5.0 + cos(2 * M_PI * 7.0 * t / T + b);
            x[(t * B + b) * n + 1] = 0.3 * sin(2 * M_PI * 13.0 * t / T);
        }
    cr_assert_eq(kpf_power_spectrum(x, B, T, n, 1, psd, &err), KPF_OK);
    cr_expect_float_eq(kpf_dominant_frequency(psd, 33, T), 7.0 / 64, 1e-15);
    cr_expect_float_eq(kpf_dominant_frequency(psd + 33, 33, T), 13.0 / 64, 1e-15);
    cr_expect_lt(psd[0], 1e-20, "detrending left a mean");
    cr_expect_float_eq(psd[7], T / 4.0, 1e-12, "a unit cosine has |X_f|²/T = T/4");
    /* two tensors back to back: the dominant frequency of each */
    double two[2 * 64 * 3 * 2];
    memcpy(two, x, sizeof x);
    for (size_t i = 0; i < T * B * n; i++)
        two[T * B * n + i] = cos(2 * M_PI * 3.0 * (double)(i / (B * n)) / T);
    cr_assert_eq(kpf_dominant_frequencies(two, 2, B, T, n, fr, &err), KPF_OK);
    cr_expect_float_eq(fr[0], 7.0 / 64, 1e-15);
    cr_expect_float_eq(fr[1], 3.0 / 64, 1e-15);
}

/* ---- rotations (App. N–O) ------------------------------------------------------------- */

Test(lrnn, aligned_eigen_network_follows_the_complex_flow)
{
    const size_t T = 3, N = 4, iters = 40000, every = 2000;
    kpf_task *t = task_of("name: lrnn_rotation\nT: 3\ndynamics: inverse_exponential\n"
                          "delta_r: 1.0\nlambda_r: [0.9, 0.6]\n"
                          "lambda_phi: [0.5235987755982988, -2.0]\nbasis_seed: 5\n");
    kpf_model *m = model_of("alignment: aligned\nbasis: eigen\nn: 4\nmode_init: 0.3\n"
                            "b0_phase: 0.2\nmode_noise: 0\nbasis_seed: 5\n", t, 1);
    const double lr = 0.03, h = kpf_lrnn_time_per_step(lr, T * N, N);
    rec r = {.every = every};
    train(m, t, iters, lr, NULL, 0, &r);
    double Q[16];
    kpf_lrnn_orthogonal(5, KPF_LRNN_V, N, Q, &err);
    const double lr_[2] = {0.9, 0.6}, lp[2] = {0.5235987755982988, -2.0};
    double worst = 0;
    double complex y[2][3];
    for (size_t s = 0; s < r.n; s++) {
        memcpy(m->theta, r.theta + s * r.m, r.m * sizeof(double));
        kpf_lrnn_net net;
        kpf_lrnn_net_from_model(m, &net, &err);
        double complex a[2], b[2], c[2];
        cr_assert_eq(kpf_lrnn_extract_modes_eigen(&net, Q, 2, a, b, c, &err), KPF_OK);
        kpf_lrnn_net_free(&net);
        for (int p = 0; p < 2; p++) {
            kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_INVEXP, .delta = 1.0,
                                     .lambda = lr_[p] * cexp(I * lp[p])};
            kpf_lrnn_terms tm;
            kpf_lrnn_terms_build(&sp, T, 0, &tm, &err);
            if (s == 0) {
                y[p][0] = a[p];
                y[p][1] = b[p];
                y[p][2] = c[p];
            } else {
                cr_assert_eq(kpf_lrnn_flow_c(&tm, KPF_LRNN_RK4, h, every, y[p], NULL, &err),
                             KPF_OK);
            }
            worst = fmax(worst, cabs(y[p][1] - b[p]));
            worst = fmax(worst, cabs(y[p][0] * y[p][2] - a[p] * c[p]));
            if (s + 1 == r.n) /* complex optimum: b = λ, ac = δ */
                cr_expect(cabs(b[p] - sp.lambda) < 1e-3 && cabs(a[p] * c[p] - 1.0) < 1e-3,
                          "pair %d: b = %g%+gi, ac = %g%+gi", p, creal(b[p]), cimag(b[p]),
                          creal(a[p] * c[p]), cimag(a[p] * c[p]));
            kpf_lrnn_terms_free(&tm);
        }
    }
    cr_log_info("eigen network vs complex ODE: max difference %.3e", worst);
    cr_expect_lt(worst, 1e-3, "eigen network vs complex reduced ODE: %.3e", worst);
    free(r.theta);
    kpf_model_free(m);
    kpf_task_free(t);
}

Test(lrnn, zero_loss_points_per_family)
{
    double b, ac;
    kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_EXP, .delta = 0.5, .lambda = 1.25};
    cr_assert_eq(kpf_lrnn_zero_loss_point(&sp, 6, 0, &b, &ac, &err), KPF_OK);
    cr_expect_float_eq(b, 0.8, 1e-15);
    cr_expect_float_eq(ac, 0.5 * pow(1.25, 6), 1e-14);
    kpf_lrnn_terms tm;
    kpf_lrnn_terms_build(&sp, 6, 0, &tm, &err);
    cr_expect_lt(kpf_lrnn_energy(&tm, sqrt(ac), b, sqrt(ac)), 1e-28, "not zero loss");
    kpf_lrnn_terms_free(&tm);
    cr_expect_eq(kpf_lrnn_zero_loss_point(&sp, 6, 1, &b, &ac, &err), KPF_EUNSUPPORTED);
    sp.has_kappa = 1;
    sp.kappa = 2.0;
    cr_expect_eq(kpf_lrnn_zero_loss_point(&sp, 6, 0, &b, &ac, &err), KPF_EUNSUPPORTED);
    /* exponential extrapolation: trained at T, run at T' — effective SVs off
     * by λ^{T−T'} (notes §2.3), so the loss of the zero-loss point grows */
    sp.has_kappa = 0;
    sp.dynamics = KPF_LRNN_CONSTANT;
    cr_assert_eq(kpf_lrnn_zero_loss_point(&sp, 6, 1, &b, &ac, &err), KPF_OK);
    cr_expect(b == 1.0 && ac == 0.5);
}

/* ---- kernel distance trends (Fig. 5; notes §5.10) ------------------------------------ */

static double kernel_move(size_t T, const char *model, double time)
{
    char tk[256];
    snprintf(tk, sizeof tk, "name: lrnn_svd\nn_in: 4\nT: %zu\ndynamics: constant\n", T);
    kpf_task *t = task_of(tk);
    kpf_model *m = model_of(model, t, 1);
    const size_t P = T * 4;
    kpf_task_batch *bt = batch_of(t, P, 2);
    double *K0 = NULL, *K1 = NULL;
    size_t n;
    cr_assert_eq(kpf_lrnn_output_ntk(m, bt, NULL, &K0, &n, &err), KPF_OK, "%s", err.msg);
    const double step = 0.01;
    train(m, t, (size_t)(time / step), step * (double)P * 4 / 2, NULL, 0, NULL);
    cr_assert_eq(kpf_lrnn_output_ntk(m, bt, NULL, &K1, &n, &err), KPF_OK);
    double D = kpf_kernel_distance(K0, K1, n);
    free(K0);
    free(K1);
    kpf_task_batch_free(bt);
    kpf_model_free(m);
    kpf_task_free(t);
    return D;
}

Test(lrnn, kernel_distance_grows_with_T_and_vanishes_at_the_solution)
{
    const char *small = "alignment: aligned\nn: 4\nmode_init: 0.25\nmode_noise: 0\n";
    double d1 = kernel_move(1, small, 40), d2 = kernel_move(2, small, 40),
           d4 = kernel_move(4, small, 40);
    cr_log_info("aligned, init 0.25: D(T=1) = %.3g, D(T=2) = %.3g, D(T=4) = %.3g", d1, d2, d4);
    /* T = 1 with equal modes: K only rescales (K ∝ XᵀX ⊗ I), so D = 0 */
    cr_expect_lt(fabs(d1), 1e-10);
    cr_expect(d2 > 0.1 && d4 > d2, "D does not grow with T: %g, %g", d2, d4);
    /* an aligned network that starts at the solution (a = b = c = 1) stays */
    double ds = kernel_move(4, "alignment: aligned\nn: 4\nmode_init: 1\nmode_noise: 0\n", 10);
    cr_expect_lt(fabs(ds), 1e-10, "D = %g at the solution", ds);
    /* unaligned networks move their kernel a lot */
    double du = kernel_move(4, "n: 4\nsigma: 0.25\n", 40);
    cr_expect_gt(du, 0.5, "unaligned D = %g", du);
}

/* ---- the shipped reproductions run end to end (tiny grids) ----------------------------- */

static void run_experiment(const char *text, const char *const *files)
{
    kpf_config *c = NULL;
    cr_assert_eq(kpf_config_load_string(text, "exp", &c, &err), KPF_OK, "%s", err.msg);
    char dir[] = "/tmp/kpf-lrnn-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(kpf_lrnn_experiment_run(c, plugin(), dir, &err), KPF_OK, "%s", err.msg);
    for (const char *const *f = files; *f; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        FILE *fp = fopen(path, "r");
        cr_expect_not_null(fp, "%s was not written", path);
        if (fp)
            fclose(fp);
        remove(path);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    kpf_config_free(c);
}

Test(lrnn, experiments_run_and_write_their_outputs)
{
    run_experiment("task: {name: lrnn_svd, n_in: 2, T: 3, dynamics: inverse_exponential, "
                   "delta: [1.1, 0.5], lambda: [0.5, 1.1]}\n"
                   "model: {plugin: lrnn, alignment: aligned, n: 2, mode_noise: 0}\n"
                   "lrnn: {figure: modes, step: 0.01, time: 1, record_every: 10}\n",
                   (const char *const[]){"plot-src/fig2.dat", "fig2.png", "summary.json", NULL});
    run_experiment("lrnn: {figure: phase, T: [3, 4], time: 2, step: 0.01, verify: 1, panels: "
                   "[{dynamics: dirac, sweep: beta, from: 0.2, to: 1.5, n: 4, kappa: 1}]}\n",
                   (const char *const[]){"plot-src/fig4.dat", "fig4.png", "summary.json", NULL});
    run_experiment("task: {name: lrnn_svd, n_in: 2, T: 1}\nmodel: {n: 2}\n"
                   "lrnn: {figure: ntk, T: [1, 2], scale: [0.5, 1], time: 0.5, step: 0.05}\n",
                   (const char *const[]){"plot-src/fig5.dat", "fig5.png", "summary.json", NULL});
    run_experiment("lrnn: {figure: hysteresis, T: [3, 4], inits: [0.1, 0.5], from: 0.5, to: 1.5, "
                   "n: 3, time: 2, step: 0.01, init_scan: {from: 0.1, to: 0.5, n: 2}}\n",
                   (const char *const[]){"plot-src/hysteresis.dat", "plot-src/crossing.dat",
                                         "hysteresis.png", "crossing.png", "summary.json", NULL});
    run_experiment("task: {name: lrnn_integration, n_in: 2, T: 3}\nmodel: {n: 2}\n"
                   "train: {iterations: 20, batch: 8, eval_trials: 8}\n"
                   "lrnn: {figure: integration, T_test_to: 4, test_trials: 16}\n",
                   (const char *const[]){"plot-src/fig6_svals.dat", "plot-src/fig6_extrapolation.dat", "fig6.png",
                                         "summary.json", NULL});
    /* a typo is reported before anything runs */
    kpf_config *c = NULL;
    cr_assert_eq(kpf_config_load_string("lrnn: {figure: phase, T: [3], panels: [{dynamics: "
                                        "dirac, sweep: beta, from: 0.2, to: 1, kappa: 1}], "
                                        "stpe: 0.1}\n",
                                        "typo", &c, &err),
                 KPF_OK);
    cr_expect_eq(kpf_lrnn_experiment_run(c, plugin(), "/nonexistent", &err), KPF_ECONFIG);
    cr_expect(strstr(err.msg, "stpe") != NULL, "%s", err.msg);
    kpf_config_free(c);
}
