/* Training: optimiser arithmetic, clipping, frozen blocks, resume after a
 * kill, divergence handling, config errors, and that the shipped quickstart
 * actually learns. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf/h5io.h"
#include "kpf/optim.h"
#include "test_util.h"

static kpf_error err;

Test(optim, adam_two_steps_by_hand)
{
    kpf_optim *o = NULL;
    cr_assert_eq(kpf_optim_alloc(KPF_OPTIM_ADAM, 2, 0.1, &o, &err), KPF_OK);
    double th[2] = {1.0, -2.0}, g1[2] = {0.5, -1.0}, g2[2] = {0.25, 2.0};
    cr_assert_eq(kpf_optim_step(o, th, g1, &err), KPF_OK);
    /* Step 1: m̂ = g, v̂ = g², so θ moves by lr·g/(|g|+ε) = ±0.1. */
    cr_assert_float_eq(th[0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
    cr_assert_float_eq(th[1], -2.0 + 0.1 * 1.0 / (1.0 + 1e-8), 1e-15);
    cr_assert_eq(kpf_optim_step(o, th, g2, &err), KPF_OK);
    for (int i = 0; i < 2; i++) {
        double ga = i ? -1.0 : 0.5, gb = i ? 2.0 : 0.25;
        double m = 0.9 * (0.1 * ga) + 0.1 * gb, v = 0.999 * (0.001 * ga * ga) + 0.001 * gb * gb;
        double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
        double th1 = (i ? -2.0 : 1.0) - 0.1 * ga / (fabs(ga) + 1e-8);
        cr_assert_float_eq(th[i], th1 - 0.1 * mh / (sqrt(vh) + 1e-8), 1e-14, "θ[%d]", i);
    }
    kpf_optim_free(o);
}

Test(optim, clipping_bounds_the_norm_and_frozen_entries_stay)
{
    kpf_optim *o = NULL;
    cr_assert_eq(kpf_optim_alloc(KPF_OPTIM_SGD, 3, 1.0, &o, &err), KPF_OK);
    o->clip = 1.0;
    kpf_optim_set_trainable(o, 2, 1, 0);
    double th[3] = {0, 0, 5}, g[3] = {3, 4, 100};
    cr_assert_eq(kpf_optim_step(o, th, g, &err), KPF_OK);
    cr_assert_float_eq(o->last_norm, 5.0, 1e-15, "norm over trainable entries only");
    cr_assert_float_eq(hypot(th[0], th[1]), 1.0, 1e-15, "step not clipped to norm 1");
    cr_assert_eq(th[2], 5.0, "frozen entry moved");
    double bad[3] = {NAN, 0, 0};
    cr_assert_eq(kpf_optim_step(o, th, bad, &err), KPF_ENUMERIC);
    kpf_optim_free(o);
}

/* ---- runs through the CLI ------------------------------------------------ */

static double *read_theta(const char *file, size_t *n)
{
    kpf_h5 *h = NULL;
    cr_assert_eq(kpf_h5_open(file, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_count(h, "/theta", n, &err), KPF_OK, "%s", err.msg);
    double *th = malloc(*n * sizeof(double));
    cr_assert_eq(kpf_h5_read(h, "/theta", *n, th, &err), KPF_OK, "%s", err.msg);
    kpf_h5_close(h, NULL);
    return th;
}

TestSuite(train, .init = tu_mktmp, .fini = tu_rmtmp);

static const char *resume_cfg = "seed: 5\n"
                                "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                                "model: {plugin: rnn, n: 24}\n"
                                "train: {iterations: 3000, batch: 8, eval_every: 100, "
                                "eval_trials: 8, checkpoint_every: 10, dataset: 40}\n"
                                "simulate: {trials: 2}\n";

Test(train, resume_after_kill_gives_identical_theta, .timeout = 300)
{
    tu_write("r.yaml", resume_cfg);
    cr_assert_eq(tu_sh("%s run %s/r.yaml -o %s/full", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s", tu_out);
    char dir[256], ck[300], cmd[1024];
    snprintf(dir, sizeof dir, "%s/killed", tu_tmp);
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", dir);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        snprintf(cmd, sizeof cmd, "%s/r.yaml", tu_tmp);
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        execl(KPF_CLI_PATH, "kpf", "run", cmd, "-o", dir, (char *)NULL);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 60000 && stat(ck, &st) != 0; i++)
        usleep(1000);
    usleep(20000); /* let it get a few iterations past the first checkpoint */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "the run finished before it could be killed");
    cr_assert_eq(stat(ck, &st), 0, "no checkpoint survived the kill");
    cr_assert_eq(tu_sh("%s run --resume %s", KPF_CLI_PATH, dir), 0, "%s", tu_out);
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/full/checkpoint.h5", tu_tmp);
    snprintf(b, sizeof b, "%s/checkpoint.h5", dir);
    size_t na, nb;
    double *ta = read_theta(a, &na), *tb = read_theta(b, &nb);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(ta, tb, na * sizeof(double)), 0, "resumed θ differs from uninterrupted");
    free(ta);
    free(tb);
    cr_assert_eq(tu_sh("%s run --resume %s", KPF_CLI_PATH, dir), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "already finished"), "%s", tu_out);
}

Test(train, divergence_stops_and_keeps_checkpoint)
{
    tu_write("d.yaml", "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                        "model: {plugin: rnn, n: 16, activation: linear, g: 1.5}\n"
                        "train: {iterations: 400, batch: 4, optimizer: sgd, lr: 1000, "
                        "checkpoint_every: 1, eval_every: 1}\n");
    cr_assert_eq(tu_sh("%s run %s/d.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "iteration "), "%s", tu_out);
    cr_assert(strstr(tu_out, "last checkpoint kept in"), "%s", tu_out);
    char ck[256];
    struct stat st;
    snprintf(ck, sizeof ck, "%s/out/checkpoint.h5", tu_tmp);
    cr_assert_eq(stat(ck, &st), 0);
}

/* Diverging before the first checkpoint: the message names no checkpoint,
 * because none exists (issue 13, item 6). */
Test(train, divergence_before_any_checkpoint_names_none)
{
    tu_write("d.yaml", "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                        "model: {plugin: rnn, n: 16, activation: linear, g: 1.5}\n"
                        "train: {iterations: 400, batch: 4, optimizer: sgd, lr: 1000, "
                        "checkpoint_every: 1000, eval_every: 1000}\n"
                        "output: {trajectory: false}\n");
    cr_assert_eq(tu_sh("%s run %s/d.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 1, "%s",
                 tu_out);
    cr_assert(strstr(tu_out, "kpf: iteration "), "%s", tu_out);
    cr_expect_not(strstr(tu_out, "checkpoint"), "names a checkpoint that does not exist: %s",
                  tu_out);
    cr_expect_not(tu_exists("out/checkpoint.h5"));
}

Test(train, config_errors_are_located)
{
    tu_write("b1.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn}\n"
                         "train:\n  optimizer: rmsprop\n");
    cr_assert_eq(tu_sh("%s run %s/b1.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "b1.yaml:4:14: train.optimizer: unknown value 'rmsprop'"), "%s", tu_out);
    tu_write("b2.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn}\n"
                         "train:\n  blocks: [W, Wx]\n");
    cr_assert_eq(tu_sh("%s run %s/b2.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "b2.yaml:4:15: train.blocks[1]: no parameter block 'Wx'"), "%s", tu_out);
}

Test(train, quickstart_lowers_eval_loss_tenfold, .timeout = 600)
{
    cr_assert_eq(tu_sh("%s run configs/quickstart.yaml -o %s/q", KPF_CLI_PATH, tu_tmp), 0, "%s", tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/q/train.h5", tu_tmp);
    kpf_h5 *h = NULL;
    size_t n;
    cr_assert_eq(kpf_h5_open(p, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_count(h, "/eval/loss", &n, &err), KPF_OK);
    double *L = malloc(n * sizeof(double));
    cr_assert_eq(kpf_h5_read(h, "/eval/loss", n, L, &err), KPF_OK);
    kpf_h5_close(h, NULL);
    cr_assert_gt(L[0] / L[n - 1], 10.0, "eval loss %g → %g", L[0], L[n - 1]);
    free(L);
    snprintf(p, sizeof p, "%s/q/loss.png", tu_tmp);
    struct stat st;
    cr_assert(stat(p, &st) == 0 && st.st_size > 1000, "no loss plot");
}
