/* Weight-change analyses (kpf/delta_w.h) on runs of the rnn plugin:
 * low-rank ΔW on the constant-input task, the functional rank of a
 * flip-flop network at g = 0, and the building blocks (truncation, shuffle,
 * projections) on cases with known answers.  Pellegrino's Theorems 1 and 2
 * are checked with their study (studies/pellegrino/tests). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/blas.h"
#include "kpf/cp.h"
#include "kpf/delta_w.h"
#include "kpf/gradient.h"
#include "kpf/optim.h"
#include "kpf/plugin.h"
#include "kpf/rng.h"
#include "kpf/task.h"

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

TestSuite(delta_w, .init = load, .fini = unload);

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

static double eval_loss(kpf_model *m, const kpf_task_batch *bt)
{
    kpf_grad_ws *ws = NULL;
    cr_assert_eq(kpf_grad_ws_alloc(m, bt->B, bt->T, &ws, &err), KPF_OK);
    double L;
    cr_assert_eq(kpf_loss_eval(m, bt, ws, &L, &err), KPF_OK, "%s", err.msg);
    kpf_grad_ws_free(ws);
    return L;
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

Test(delta_w, constant_input_linear_rnn_changes_W_at_rank_one, .timeout = 300)
{
    /* Schuessler §3 through the simulator: φ = id, W trained alone by GD on
     * the constant-input task (t_max = 40 at dt = 0.5: the fixed point is
     * reached), g = 0.5. */
    kpf_task *task = make_task("{name: constant_input, t_max: 40}");
    /* unit input vector, as m in Schuessler (W_in ~ N(0, 1/n)) */
    kpf_model *m = make_model("{n: 60, g: 0.5, activation: linear, dt: 0.5, input_scale: 0.1291}",
                              1, 1, 3);
    const size_t n = m->n;
    double *W0 = malloc(n * n * sizeof(double)), *W = malloc(n * n * sizeof(double));
    cr_assert_eq(kpf_weight_snapshot(m, NULL, "W", W0, &err), KPF_OK, "%s", err.msg);
    kpf_task_batch *bt = fresh_batch(task, 1, 1);
    double L0 = eval_loss(m, bt);
    const char *const wonly[] = {"W"};
    train_rnn(m, task, 1, 150, KPF_OPTIM_SGD, 0.02, wonly, 1, 1);
    double L1 = eval_loss(m, bt);
    cr_assert_lt(L1, 0.05 * L0, "not trained: %g → %g", L0, L1);
    cr_assert_eq(kpf_weight_snapshot(m, NULL, "W", W, &err), KPF_OK);
    double loss[4], sv[60];
    cr_assert_eq(kpf_dw_truncation_losses(m, "W", W0, W, bt, 3, loss, sv, &err), KPF_OK, "%s",
                 err.msg);
    cr_expect_lt(sv[1], 0.05 * sv[0], "s = %g, %g, %g", sv[0], sv[1], sv[2]);
    cr_expect_float_eq(loss[0], L0, 1e-9 * L0, "rank 0 must be W₀");
    cr_expect_eq(kpf_dw_functional_rank(loss, 3, L0, 0.05), 1, "losses %g %g %g %g (L0 %g)",
                 loss[0], loss[1], loss[2], loss[3], L0);
    /* θ restored */
    cr_expect_float_eq(eval_loss(m, bt), L1, 1e-12 * L1);
    /* the singular vectors lie along (I−W₀)⁻ᵀ W_outᵀ and (I−W₀)⁻¹ W_in */
    double pu[1], pv[1], *dW = malloc(n * n * sizeof(double));
    for (size_t i = 0; i < n * n; i++)
        dW[i] = W[i] - W0[i];
    cr_assert_eq(kpf_dw_projections(n, W0, dW, 1, m->theta + blk(m, "W_out")->offset, 1,
                                    m->theta + blk(m, "W_in")->offset, 0, 1, pu, pv, &err),
                 KPF_OK, "%s", err.msg);
    cr_expect_gt(pu[0], 0.9, "left: %g", pu[0]);
    cr_expect_gt(pv[0], 0.9, "right: %g", pv[0]);
    free(dW);
    double sh;
    cr_assert_eq(kpf_dw_shuffle_loss(m, "W", W0, W, bt, 5, 3, &sh, &err), KPF_OK, "%s",
                 err.msg);
    cr_expect_gt(sh, 5 * L1, "shuffled W₀ should break the solution: %g vs %g", sh, L1);
    cr_log_info("constant input, g=0.5: L0 %.4g → %.3g; s %.4g %.3g %.3g; truncated loss/L0 "
                "%.3g %.3g %.3g; |proj| %.3f %.3f; shuffled %.3g",
                L0, L1, sv[0], sv[1], sv[2], loss[0] / L0, loss[1] / L0, loss[2] / L0, pu[0],
                pv[0], sh / L0);
    free(W0), free(W);
    kpf_task_batch_free(bt);
    kpf_model_free(m);
    kpf_task_free(task);
}

Test(delta_w, flip_flop_at_g0_has_functional_rank_at_most_4, .timeout = 900)
{
    kpf_task *task = make_task("{name: flip_flop_schuessler}");
    kpf_model *m = make_model("{n: 48, g: 0.0, dt: 0.5}", 2, 2, 6);
    const size_t n = m->n;
    kpf_task_batch *ev = fresh_batch(task, 64, 7);
    const double L0 = eval_loss(m, ev); /* initial loss of the g = 0 network */
    double *W0 = malloc(n * n * sizeof(double)), *W = malloc(n * n * sizeof(double));
    cr_assert_eq(kpf_weight_snapshot(m, NULL, "W", W0, &err), KPF_OK);
    train_rnn(m, task, 32, 600, KPF_OPTIM_ADAM, 0.005, NULL, 0, 8);
    double L1 = eval_loss(m, ev);
    cr_assert_lt(L1, 0.05 * L0, "flip-flop not learned: L0 = %g, L = %g", L0, L1);
    cr_assert_eq(kpf_weight_snapshot(m, NULL, "W", W, &err), KPF_OK);
    double loss[11], sv[48];
    cr_assert_eq(kpf_dw_truncation_losses(m, "W", W0, W, ev, 10, loss, sv, &err), KPF_OK, "%s",
                 err.msg);
    long fr = kpf_dw_functional_rank(loss, 10, L0, 0.05);
    cr_expect(fr >= 1 && fr <= 4, "functional rank %ld; losses/L0: %.3f %.3f %.3f %.3f %.3f %.3f",
              fr, loss[0] / L0, loss[1] / L0, loss[2] / L0, loss[3] / L0, loss[4] / L0,
              loss[5] / L0);
    cr_log_info("flip-flop g=0: L0 %.4g, L %.4g, functional rank %ld, sv %.3g %.3g %.3g %.3g "
                "%.3g",
                L0, L1, fr, sv[0], sv[1], sv[2], sv[3], sv[4]);
    free(W0), free(W);
    kpf_task_batch_free(ev);
    kpf_model_free(m);
    kpf_task_free(task);
}

/* ---- building blocks ---------------------------------------------------------- */

Test(delta_w, projections_of_a_planted_first_order_change)
{
    const size_t n = 50;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *W0 = malloc(n * n * sizeof(double)), *dW = malloc(n * n * sizeof(double));
    double w[50], mv[50], Bw[50], Bm[50];
    for (size_t i = 0; i < n * n; i++)
        W0[i] = gsl_ran_gaussian(rng, 0.5 / sqrt((double)n));
    for (size_t i = 0; i < n; i++)
        w[i] = gsl_ran_gaussian(rng, 1), mv[i] = gsl_ran_gaussian(rng, 1);
    /* Bᵀw and Bm by Neumann series (g = 0.5: converges fast) */
    memcpy(Bw, w, sizeof w);
    memcpy(Bm, mv, sizeof mv);
    double tw[50], tm[50];
    memcpy(tw, w, sizeof w);
    memcpy(tm, mv, sizeof mv);
    for (int p = 0; p < 200; p++) {
        double nw[50] = {0}, nm[50] = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                nw[i] += W0[j * n + i] * tw[j];
                nm[i] += W0[i * n + j] * tm[j];
            }
        for (size_t i = 0; i < n; i++)
            tw[i] = nw[i], tm[i] = nm[i], Bw[i] += nw[i], Bm[i] += nm[i];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            dW[i * n + j] = 0.3 * Bw[i] * Bm[j]; /* W₁ = ẑ Bᵀw mᵀBᵀ */
    double pu[2], pv[2];
    cr_assert_eq(kpf_dw_projections(n, W0, dW, 1, w, 1, mv, 0, 1, pu, pv, &err), KPF_OK, "%s",
                 err.msg);
    cr_expect_float_eq(pu[0], 1.0, 1e-9);
    cr_expect_float_eq(pv[0], 1.0, 1e-9);
    /* powers: W₀ᵀw … (W₀ᵀ)⁸w span approximately the resolvent direction */
    cr_assert_eq(kpf_dw_projections(n, W0, dW, 1, w, 1, mv, 8, 1, pu, pv, &err), KPF_OK);
    cr_expect_gt(pu[0], 0.999);
    cr_expect_gt(pv[0], 0.999);
    /* a random change does not lie there */
    for (size_t i = 0; i < n * n; i++)
        dW[i] = gsl_ran_gaussian(rng, 1);
    cr_assert_eq(kpf_dw_projections(n, W0, dW, 1, w, 1, mv, 0, 2, pu, pv, &err), KPF_OK);
    cr_expect_lt(pu[0], 0.3);
    cr_expect_lt(pv[1], 0.3);
    gsl_rng_free(rng);
    free(W0), free(dW);
}

Test(delta_w, functional_rank_rule_and_weight_tensor_layout)
{
    double loss[5] = {1.0, 0.5, 0.04, 0.01, 0.0};
    cr_expect_eq(kpf_dw_functional_rank(loss, 4, 1.0, 0.05), 2);
    cr_expect_eq(kpf_dw_functional_rank(loss, 1, 1.0, 0.05), -1);
    double snaps[2 * 4] = {1, 2, 3, 4, 5, 7, 9, 11}, Wt[8];
    kpf_weight_tensor(2, 2, snaps, 1, Wt);
    const double want[8] = {0, 4, 0, 5, 0, 6, 0, 7}; /* [i][j][k] */
    for (int i = 0; i < 8; i++)
        cr_expect_float_eq(Wt[i], want[i], 0);
    kpf_model *m = make_model("{n: 4}", 1, 1, 1);
    double Wb[16];
    cr_expect_eq(kpf_weight_snapshot(m, NULL, "W_in", Wb, &err), KPF_EINVAL);
    cr_expect(strstr(err.msg, "not the recurrent"), "%s", err.msg);
    kpf_model_free(m);
}
