/* Schuessler et al.'s remaining analyses: eigenvalues of W with their
 * outliers (kpf/weight_spectrum.h) on a matrix with known eigenvalues, and
 * in a run (`w_spectrum`) equal to GSL's on the snapshot's W; the shuffle
 * test (`dw_shuffle`) equal to kpf_dw_shuffle_loss and kpf_loss_eval on the
 * snapshot's θ and analysis trials, and — the ground truth — shuffling
 * W₀ = 0 (g = 0) changes nothing. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "kpf/delta_w.h"
#include "kpf/gradient.h"
#include "kpf/weight_spectrum.h"
#include "snapshot_fixture.h"
#include "test_util.h"

TestSuite(schuessler);

Test(schuessler, eigenvalues_and_outliers_of_a_known_matrix)
{
    /* block upper-triangular: 2, 0.3 ± 0.4i (|λ| = 0.5), −0.55 */
    const double W[16] = {2.0, 0.1, 0.2, 0.3, 0.0, 0.3, -0.4, 0.5,
                          0.0, 0.4, 0.3, 0.1, 0.0, 0.0, 0.0, -0.55};
    double re[4], im[4];
    OK(kpf_weight_eigenvalues(4, W, re, im, &sf_err));
    const double wr[4] = {2.0, -0.55, 0.3, 0.3}, wi[4] = {0, 0, 0.4, -0.4};
    for (int i = 0; i < 4; i++) {
        cr_expect_float_eq(re[i], wr[i], 1e-12, "Re λ_%d = %g", i, re[i]);
        cr_expect_float_eq(im[i], wi[i], 1e-12, "Im λ_%d = %g", i, im[i]);
    }
    cr_expect_eq(kpf_weight_outliers(4, re, im, 0.5, 0.05), 2); /* 2 and −0.55 */
    cr_expect_eq(kpf_weight_outliers(4, re, im, 0.5, 0.2), 1);
    cr_expect_eq(kpf_weight_outliers(4, re, im, 2.5, 0.0), 0);
}

#define TASK "{name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3, n_conditions: 4}"

static void run(const char *g)
{
    char y[1024];
    snprintf(y, sizeof y,
             "seed: 5\ntask: " TASK "\nmodel: {plugin: rnn, n: 8, g: %s}\n"
             "train: {iterations: 20, batch: 8, lr: 0.05, blocks: [W]}\n"
             "analysis:\n  at: [0, 20]\n  trials: 4\n  k: 3\n  operators: [K]\n"
             "  dw_shuffle: {shuffles: 3}\n  w_spectrum: {}\n",
             g);
    tu_write("s.yaml", y);
    cr_assert_eq(tu_sh("rm -rf %s/o && %s run %s/s.yaml -o %s/o", tu_tmp, KPF_CLI_PATH, tu_tmp,
                       tu_tmp),
                 0, "%s", tu_out);
}

Test(schuessler, analyses_in_a_run_equal_the_library, .init = tu_mktmp, .fini = tu_rmtmp,
     .timeout = 120)
{
    run("0.8");
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    OK(kpf_h5_open(p, &h, &sf_err));
    kpf_config *cfg = NULL;
    kpf_task *task = NULL;
    OK(kpf_config_load_string(TASK, "t.yaml", &cfg, &sf_err));
    OK(kpf_task_create(kpf_config_root(cfg), &task, &sf_err));
    sf_model f;
    sf_model_make(&f, "rnn", NULL, "{n: 8}", task->n_in, task->n_out, 4, 1);
    kpf_task_batch *bt = sf_analysis_batch(task, 4, 5);
    double W0[64], W[64], dW[64], zero[64] = {0}, re[8], im[8], re0[8], im0[8];
    sf_theta_from_run(f.m, h, 0);
    OK(kpf_weight_snapshot(f.m, NULL, "W", W0, &sf_err));
    kpf_grad_ws *ws = NULL;
    double L0, L, Ls, Ln;
    OK(kpf_grad_ws_alloc(f.m, 4, task->T, &ws, &sf_err));
    OK(kpf_loss_eval(f.m, bt, ws, &L0, &sf_err));
    sf_theta_from_run(f.m, h, 20);
    OK(kpf_weight_snapshot(f.m, NULL, "W", W, &sf_err));
    OK(kpf_loss_eval(f.m, bt, ws, &L, &sf_err));
    OK(kpf_dw_shuffle_loss(f.m, "W", W0, W, bt, 5 + 20, 3, &Ls, &sf_err));
    for (int i = 0; i < 64; i++)
        dW[i] = W[i] - W0[i];
    OK(kpf_dw_shuffle_loss(f.m, "W", zero, dW, bt, 0, 1, &Ln, &sf_err));
    double *lt = sf_read(h, "/snapshots/20/dw_shuffle/loss_trained", NULL);
    double *ls = sf_read(h, "/snapshots/20/dw_shuffle/loss_shuffled", NULL);
    double *ln = sf_read(h, "/snapshots/20/dw_shuffle/loss_no_w0", NULL);
    double *li = sf_read(h, "/snapshots/20/dw_shuffle/loss_initial", NULL);
    cr_log_info("L0 %.6g, trained %.6g, shuffled W0 %.6g, dW alone %.6g", L0, L, Ls, Ln);
    cr_expect_eq(lt[0], L);
    cr_expect_eq(ls[0], Ls);
    cr_expect_eq(ln[0], Ln);
    cr_expect_eq(li[0], L0);
    cr_expect_neq(Ls, L, "shuffling a g = 0.8 W0 changed nothing?");
    OK(kpf_weight_eigenvalues(8, W0, re0, im0, &sf_err));
    OK(kpf_weight_eigenvalues(8, W, re, im, &sf_err));
    double *er = sf_read(h, "/snapshots/20/w_spectrum/eigenvalues_re", NULL);
    double *ei = sf_read(h, "/snapshots/20/w_spectrum/eigenvalues_im", NULL);
    double *r0 = sf_read(h, "/snapshots/20/w_spectrum/initial_radius", NULL);
    double *no = sf_read(h, "/snapshots/20/w_spectrum/outliers", NULL);
    cr_expect_arr_eq(er, re, sizeof re);
    cr_expect_arr_eq(ei, im, sizeof im);
    cr_expect_eq(r0[0], hypot(re0[0], im0[0]));
    cr_expect_eq(no[0], (double)kpf_weight_outliers(8, re, im, r0[0], 0.05));
    if (tu_sh("command -v gnuplot") == 0)
        cr_expect(tu_exists("o/w_spectrum.png"));
    free(lt), free(ls), free(ln), free(li), free(er), free(ei), free(r0), free(no);
    kpf_grad_ws_free(ws);
    kpf_task_batch_free(bt);
    sf_model_free(&f);
    kpf_task_free(task);
    kpf_config_free(cfg);
    kpf_h5_close(h, NULL);
}

Test(schuessler, shuffling_a_zero_w0_changes_nothing, .init = tu_mktmp, .fini = tu_rmtmp,
     .timeout = 120)
{
    run("0.0");
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    OK(kpf_h5_open(p, &h, &sf_err));
    double *lt = sf_read(h, "/snapshots/20/dw_shuffle/loss_trained", NULL);
    double *ls = sf_read(h, "/snapshots/20/dw_shuffle/loss_shuffled", NULL);
    double *ln = sf_read(h, "/snapshots/20/dw_shuffle/loss_no_w0", NULL);
    double *li = sf_read(h, "/snapshots/20/dw_shuffle/loss_initial", NULL);
    cr_expect_eq(ls[0], lt[0], "W0 = 0: shuffled %g vs trained %g", ls[0], lt[0]);
    cr_expect_eq(ln[0], lt[0]);
    cr_expect_lt(lt[0], li[0], "training lowered nothing");
    double *no = sf_read(h, "/snapshots/0/w_spectrum/outliers", NULL);
    cr_expect_eq(no[0], 0.0);
    free(lt), free(ls), free(ln), free(li), free(no);
    kpf_h5_close(h, NULL);
}
