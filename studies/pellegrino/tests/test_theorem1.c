/* Pellegrino et al.'s Theorems 1 and 2 (theorem1.h) on runs of the rnn
 * plugin: the singular-value bound on a trained tanh network (and RK4
 * refused), and the ranks of the gradient, the weights and the weight
 * tensor of a linear low-rank network under SGD.  Moved from the core's
 * ΔW suite (core/analysis/tests/test_delta_w.c) with the check itself. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/blas.h"
#include "kpf/config.h"
#include "kpf/cp.h"
#include "kpf/delta_w.h"
#include "kpf/gradient.h"
#include "kpf/linalg.h"
#include "kpf/optim.h"
#include "kpf/plugin.h"
#include "kpf/rng.h"
#include "kpf/task.h"
#include "theorem1.h"

static kpf_error err;
static kpf_registry *reg;

static void load(void)
{
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
}

static void unload(void)
{
    kpf_registry_free(reg);
    reg = NULL;
}

TestSuite(theorem1, .init = load, .fini = unload);

static kpf_model *make_model(const char *yaml, size_t n_in, size_t n_out, uint64_t seed)
{
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "rnn", &p, &err), KPF_OK, "%s", err.msg);
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "model", &cfg, &err), KPF_OK, "%s", err.msg);
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create(p, kpf_config_root(cfg), n_in, n_out, 1, seed, &m, &err),
                 KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
    return m;
}

static kpf_task *make_task(const char *yaml)
{
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "task", &cfg, &err), KPF_OK, "%s", err.msg);
    kpf_task *t = NULL;
    cr_assert_eq(kpf_task_create(kpf_config_root(cfg), &t, &err), KPF_OK, "%s", err.msg);
    /* the task keeps no pointer into the config */
    kpf_config_free(cfg);
    return t;
}

static const kpf_param_block *blk(kpf_model *m, const char *name)
{
    const kpf_param_block *b = kpf_model_block(m, name);
    cr_assert_not_null(b, "no block %s", name);
    return b;
}

/* ---- rnn runs ------------------------------------------------------------------ */

/* Train (SGD or Adam) on fresh batches of `task`; only the blocks in
 * `train` (NULL = all) move. */
static void train_rnn(kpf_model *m, kpf_task *task, size_t B, size_t iters, int kind,
                      double lr, const char *const *train, size_t n_train, uint64_t seed)
{
    kpf_task_batch *bt = NULL;
    cr_assert_eq(kpf_task_batch_alloc(task, B, &bt, &err), KPF_OK, "%s", err.msg);
    kpf_grad_ws *ws = NULL;
    cr_assert_eq(kpf_grad_ws_alloc(m, B, task->T, &ws, &err), KPF_OK, "%s", err.msg);
    kpf_optim *o = NULL;
    cr_assert_eq(kpf_optim_alloc(kind, m->m, lr, &o, &err), KPF_OK);
    if (train) {
        kpf_optim_set_trainable(o, 0, m->m, 0);
        for (size_t i = 0; i < n_train; i++) {
            const kpf_param_block *b = blk(m, train[i]);
            kpf_optim_set_trainable(o, b->offset, b->rows * b->cols, 1);
        }
    }
    gsl_rng *rng = NULL;
    cr_assert_eq(kpf_rng_alloc(seed, KPF_RNG_DATA, &rng, &err), KPF_OK);
    double *g = malloc(m->m * sizeof(double)), L;
    for (size_t it = 0; it < iters; it++) {
        cr_assert_eq(kpf_task_generate(task, rng, bt, &err), KPF_OK, "%s", err.msg);
        cr_assert_eq(kpf_loss_grad(m, bt, 0, ws, &L, g, &err), KPF_OK, "%s", err.msg);
        cr_assert_eq(kpf_optim_step(o, m->theta, g, &err), KPF_OK, "it %zu: %s", it, err.msg);
        cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK);
    }
    free(g);
    gsl_rng_free(rng);
    kpf_optim_free(o);
    kpf_grad_ws_free(ws);
    kpf_task_batch_free(bt);
}

static kpf_task_batch *fresh_batch(kpf_task *task, size_t B, uint64_t seed)
{
    kpf_task_batch *bt = NULL;
    cr_assert_eq(kpf_task_batch_alloc(task, B, &bt, &err), KPF_OK);
    gsl_rng *rng = NULL;
    cr_assert_eq(kpf_rng_alloc(seed, KPF_RNG_EVAL, &rng, &err), KPF_OK);
    cr_assert_eq(kpf_task_generate(task, rng, bt, &err), KPF_OK);
    gsl_rng_free(rng);
    return bt;
}

Test(theorem1, bound_holds_on_a_tanh_run, .timeout = 300)
{
    kpf_task *task = make_task("{name: flip_flop_schuessler, t_max: 20}");
    kpf_model *m = make_model("{n: 40, g: 1.5, dt: 0.5}", 2, 2, 4);
    kpf_task_batch *bt = fresh_batch(task, 8, 2);
    for (int round = 0; round < 3; round++) {
        kpf_thm1 t;
        cr_assert_eq(kpf_thm1_check(m, bt, "W", KPF_ACTIVATION_TANH, &t, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(t.factor_err, 1e-10, "∇_W L ≠ h Σ λ φᵀ: %g", t.factor_err);
        cr_expect_leq(t.max_excess, 1e-12, "round %d: σ_r(∇L) exceeds the bound by %g σ₁",
                      round, t.max_excess);
        /* the bound is not vacuous: it is attained within a factor at r = 1 */
        cr_expect_gt(t.s_grad[0], 1e-3 * t.bound[0]);
        cr_log_info("Thm 1, round %d: loss %.4g, max (σ_r − bound_r)/σ₁ = %.3g, factor error "
                    "%.2g, σ₁..₃(∇L) %.3g %.3g %.3g, bound %.3g %.3g %.3g",
                    round, t.loss, t.max_excess, t.factor_err, t.s_grad[0], t.s_grad[1],
                    t.s_grad[2], t.bound[0], t.bound[1], t.bound[2]);
        kpf_thm1_free(&t);
        train_rnn(m, task, 8, 40, KPF_OPTIM_ADAM, 0.01, NULL, 0, (uint64_t)round);
    }
    /* RK4 has stage terms: the factorisation does not apply */
    kpf_model *m4 = make_model("{n: 10, step: rk4}", 2, 2, 1);
    kpf_thm1 t;
    cr_expect_eq(kpf_thm1_check(m4, bt, "W", KPF_ACTIVATION_TANH, &t, &err), KPF_EUNSUPPORTED);
    kpf_model_free(m4);
    kpf_task_batch_free(bt);
    kpf_model_free(m);
    kpf_task_free(task);
}

/* Inputs of an LDS u' = Mu − u (E.4), one trial, terminal loss. */
static kpf_task_batch *lds_batch(size_t T, double dt, uint64_t seed)
{
    kpf_task_batch *bt = calloc(1, sizeof *bt);
    bt->B = 1, bt->T = T, bt->n_in = 2, bt->n_out = 2;
    bt->x = calloc(T * 2, sizeof(double));
    bt->y = calloc(T * 2, sizeof(double));
    bt->mask = calloc(T, sizeof(double));
    bt->period = calloc(T, sizeof(int));
    bt->cond = calloc(1, sizeof(int));
    bt->trial = calloc(1, sizeof(size_t));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double M[4], u[2];
    for (int i = 0; i < 4; i++)
        M[i] = gsl_ran_gaussian(rng, 1.0 / sqrt(2.0));
    for (int i = 0; i < 2; i++)
        u[i] = gsl_ran_gaussian(rng, sqrt(0.5));
    for (size_t t = 0; t < T; t++) {
        bt->x[t * 2] = u[0], bt->x[t * 2 + 1] = u[1];
        double d0 = M[0] * u[0] + M[1] * u[1] - u[0], d1 = M[2] * u[0] + M[3] * u[1] - u[1];
        u[0] += dt * d0, u[1] += dt * d1;
    }
    bt->mask[T - 1] = 1.0;
    bt->y[(T - 1) * 2] = gsl_ran_flat(rng, -1, 1);
    bt->y[(T - 1) * 2 + 1] = gsl_ran_flat(rng, -1, 1);
    gsl_rng_free(rng);
    return bt;
}

static void free_lds(kpf_task_batch *bt)
{
    free(bt->x), free(bt->y), free(bt->mask), free(bt->period), free(bt->cond),
        free(bt->trial), free(bt);
}

Test(theorem1, theorem2_linear_low_rank_ranks, .timeout = 300)
{
    /* φ = id, W₀ of rank R = 3, m = d = 2, terminal loss, one trial:
     * rank ∇_W L ≤ R + 1 = 4 (and = 4 here), rank W^{(k)} ≤ 2R + m + d = 10,
     * and so are the mode-1/2 unfoldings of the weight tensor. */
    const size_t n = 30, R = 3, K = 25;
    kpf_model *m = make_model("{n: 30, activation: linear, dt: 0.2}", 2, 2, 5);
    double *W = m->theta + blk(m, "W")->offset;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double al[90], be[90];
    for (size_t i = 0; i < n * R; i++) {
        al[i] = gsl_ran_gaussian(rng, 1.5 / sqrt((double)n));
        be[i] = gsl_ran_gaussian(rng, 1.0 / sqrt((double)n));
    }
    gsl_rng_free(rng);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t r = 0; r < R; r++)
                s += al[i * R + r] * be[j * R + r];
            W[i * n + j] = s;
        }
    cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK);
    kpf_task_batch *bt = lds_batch(40, 0.2, 9);
    kpf_thm1 t;
    cr_assert_eq(kpf_thm1_check(m, bt, "W", KPF_ACTIVATION_LINEAR, &t, &err), KPF_OK, "%s", err.msg);
    size_t rg = kpf_numerical_rank(t.s_grad, n, 1e-8);
    cr_expect_eq(rg, R + 1, "first gradient has numerical rank %zu (σ = %g %g %g %g %g)", rg,
                 t.s_grad[0], t.s_grad[3], t.s_grad[4], t.s_grad[5], t.s_grad[6]);
    cr_expect_leq(t.max_excess, 1e-12);
    kpf_thm1_free(&t);
    /* SGD on W only, snapshots of every W^{(k)} */
    double *snaps = malloc(K * n * n * sizeof(double)), s[30];
    kpf_grad_ws *ws = NULL;
    cr_assert_eq(kpf_grad_ws_alloc(m, 1, bt->T, &ws, &err), KPF_OK);
    double *g = malloc(m->m * sizeof(double)), L;
    const kpf_param_block *wb = blk(m, "W");
    double Lfirst = NAN;
    size_t rmax = 0;
    for (size_t k = 0; k < K; k++) {
        memcpy(snaps + k * n * n, W, n * n * sizeof(double));
        cr_assert_eq(kpf_matrix_svd(n, n, W, s, NULL, NULL, &err), KPF_OK);
        size_t rk = kpf_numerical_rank(s, n, 1e-8);
        rmax = rk > rmax ? rk : rmax;
        cr_expect_leq(rk, 2 * R + 2 + 2, "rank W^(%zu) = %zu", k, rk);
        cr_assert_eq(kpf_loss_grad(m, bt, 0, ws, &L, g, &err), KPF_OK, "%s", err.msg);
        if (k == 0)
            Lfirst = L;
        cblas_daxpy((int)(n * n), -0.2, g + wb->offset, 1, W, 1);
        cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK);
    }
    double *Wt = malloc(n * n * K * sizeof(double)), su[30];
    kpf_weight_tensor(n, K, snaps, 0, Wt);
    size_t ru[2];
    for (int mode = 0; mode < 2; mode++) {
        cr_assert_eq(kpf_tensor_unfold_sv(Wt, n, n, K, mode, su, &err), KPF_OK);
        ru[mode] = kpf_numerical_rank(su, n, 1e-8);
        cr_expect_leq(ru[mode], 10, "mode %d unfolding rank %zu", mode, ru[mode]);
    }
    cr_expect_lt(L, 0.98 * Lfirst, "SGD did not lower the loss: %g → %g", Lfirst, L);
    cr_log_info("Thm 2: first-gradient rank %zu, max rank W^(k) %zu, unfoldings %zu %zu, "
                "loss %.3g → %.3g",
                rg, rmax, ru[0], ru[1], Lfirst, L);
    /* the weights did change: ΔW is not tiny */
    double d2 = 0;
    for (size_t i = 0; i < n * n; i++)
        d2 += pow(snaps[(K - 1) * n * n + i] - snaps[i], 2);
    cr_expect_gt(sqrt(d2), 1e-3);
    free(Wt), free(snaps), free(g);
    kpf_grad_ws_free(ws);
    free_lds(bt);
    kpf_model_free(m);
}

