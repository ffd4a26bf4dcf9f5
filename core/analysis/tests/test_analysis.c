/* Snapshot analyses through the runner: spectra, ΔW and CP outputs exist,
 * are consistent, and bad analysis keys are located. */
#include <criterion/criterion.h>
#include <math.h>

#include "kpf/delta_w.h"
#include "kpf/h5io.h"
#include "test_util.h"

static kpf_error err;

TestSuite(analysis, .init = tu_mktmp, .fini = tu_rmtmp);

static double *read_all(kpf_h5 *h, const char *path, size_t *n)
{
    cr_assert_eq(kpf_h5_count(h, path, n, &err), KPF_OK, "%s", err.msg);
    double *v = malloc(*n * sizeof(double));
    cr_assert_eq(kpf_h5_read(h, path, *n, v, &err), KPF_OK, "%s", err.msg);
    return v;
}

Test(analysis, delta_w_and_cp_outputs, .timeout = 300)
{
    tu_write("a.yaml", "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                       "model: {plugin: rnn, n: 12}\n"
                       "train: {iterations: 40, batch: 8, lr: 0.01, blocks: [W], "
                       "eval_trials: 8}\n"
                       "analysis: {at: [0, 20, 40], trials: 4, k: 5, "
                       "delta_w: {r_max: 12}, cp: {r_max: 2}}\n"
                       "simulate: {trials: 2}\n");
    cr_assert_eq(tu_sh("%s run %s/a.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    cr_assert_eq(kpf_h5_open(p, &h, &err), KPF_OK, "%s", err.msg);
    size_t n, nl, nv;
    double *sv = read_all(h, "/snapshots/40/delta_w/singular_values", &n);
    double *loss = read_all(h, "/snapshots/40/delta_w/truncation_loss", &nl);
    double *ve = read_all(h, "/weight_tensor/cp_variance_explained", &nv);
    cr_assert_eq(n, 12);
    cr_assert_eq(nl, 13);
    cr_assert_eq(nv, 2);
    for (size_t i = 1; i < n; i++)
        cr_assert_geq(sv[i - 1], sv[i], "singular values not descending");
    cr_assert_gt(sv[0], 0.0, "W did not change");
    /* Full rank restores the trained W exactly: the same loss as the trained
     * model, which training lowered below the untruncated W₀ (R = 0). */
    cr_assert_lt(loss[12], loss[0], "training did not help: %g vs %g", loss[12], loss[0]);
    cr_assert(ve[0] > 0 && ve[0] <= ve[1] + 1e-9 && ve[1] <= 1 + 1e-9, "VE %g %g", ve[0], ve[1]);
    kpf_h5_close(h, NULL);
    free(sv);
    free(loss);
    free(ve);
    cr_assert_eq(tu_sh("grep -c functional_rank %s/o/summary.json", tu_tmp), 0, "%s", tu_out);
}

/* `reference: rank0` (Schuessler's figure code) measures the functional rank
 * against the loss of W₀ with the trained W_in and W_out, loss[0]; the
 * default against the first snapshot's loss, which differs once W_in trains. */
Test(analysis, delta_w_reference_rank0, .timeout = 300)
{
    const char *cfg = "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                      "model: {plugin: rnn, n: 12}\n"
                      "train: {iterations: 40, batch: 8, lr: 0.01, blocks: [W, W_in, W_out], "
                      "eval_trials: 8}\n"
                      "analysis: {at: [0, 40], trials: 4, k: 5, "
                      "delta_w: {r_max: 12, reference: %s}}\n"
                      "simulate: {trials: 2}\n";
    double ref[2], fr[2], *loss[2];
    const char *names[2] = {"first", "rank0"};
    for (int k = 0; k < 2; k++) {
        char text[1024];
        snprintf(text, sizeof text, cfg, names[k]);
        tu_write("r.yaml", text);
        cr_assert_eq(tu_sh("%s run %s/r.yaml -o %s/o%d", KPF_CLI_PATH, tu_tmp, tu_tmp, k), 0,
                     "%s", tu_out);
        char p[256];
        snprintf(p, sizeof p, "%s/o%d/analysis.h5", tu_tmp, k);
        kpf_h5 *h = NULL;
        cr_assert_eq(kpf_h5_open(p, &h, &err), KPF_OK, "%s", err.msg);
        size_t n;
        loss[k] = read_all(h, "/snapshots/40/delta_w/truncation_loss", &n);
        cr_assert_eq(n, 13);
        double *v = read_all(h, "/snapshots/40/delta_w/reference_loss", &n);
        ref[k] = v[0];
        free(v);
        v = read_all(h, "/snapshots/40/delta_w/functional_rank", &n);
        fr[k] = v[0];
        free(v);
        kpf_h5_close(h, NULL);
    }
    /* The same seed trains the same network: identical truncation losses. */
    for (size_t r = 0; r <= 12; r++)
        cr_assert_eq(loss[0][r], loss[1][r], "R = %zu", r);
    cr_assert_eq(ref[1], loss[1][0], "rank0 must use the R = 0 loss");
    cr_assert_neq(ref[0], loss[0][0], "first must use the first snapshot's loss");
    for (int k = 0; k < 2; k++) {
        long want = kpf_dw_functional_rank(loss[k], 12, ref[k], 0.05);
        cr_assert_eq((long)fr[k], want, "%s: %g vs %ld", names[k], fr[k], want);
        free(loss[k]);
        /* functional_rank_reached: the rank, or null (NaN) when not reached,
         * so a sweep's mean leaves the run out */
        char line[64];
        if (want < 0)
            snprintf(line, sizeof line, "\"functional_rank_reached\": null");
        else
            snprintf(line, sizeof line, "\"functional_rank_reached\": %ld", want);
        cr_assert_eq(tu_sh("grep -F '%s' %s/o%d/summary.json", line, tu_tmp, k), 0,
                     "%s missing", line);
    }
    /* A run that reaches 5 %: Schuessler's linear constant-input task, W
     * alone by GD (functional rank 1, docs/delta_w.md). */
    tu_write("c.yaml", "task: {name: constant_input, t_max: 40}\n"
                       "model: {plugin: rnn, n: 60, g: 0.5, activation: linear, dt: 0.5, "
                       "input_scale: 0.1291}\n"
                       "train: {iterations: 150, batch: 1, optimizer: sgd, lr: 0.02, "
                       "blocks: [W], eval_trials: 1}\n"
                       "analysis: {at: [0, 150], trials: 1, operators: [], "
                       "delta_w: {r_max: 3, reference: rank0}}\n"
                       "simulate: {trials: 1}\n");
    cr_assert_eq(tu_sh("%s run %s/c.yaml -o %s/c", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("grep -F '\"functional_rank_reached\": 1' %s/c/summary.json", tu_tmp), 0,
                 "constant input: functional rank 1 expected");
    char bad[1024];
    snprintf(bad, sizeof bad, cfg, "initial");
    tu_write("bad.yaml", bad);
    cr_assert_eq(tu_sh("%s run %s/bad.yaml -o %s/bad", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "delta_w.reference: unknown reference 'initial'"), "%s", tu_out);
    cr_assert_not(tu_exists("bad"));
}

Test(analysis, bad_keys_are_located)
{
    tu_write("b.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 8}\n"
                       "train: {iterations: 10}\n"
                       "analysis:\n  at: [0, 20]\n");
    cr_assert_eq(tu_sh("%s run %s/b.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "b.yaml:5:11: analysis.at[1]: iteration 20 is after the last one"),
              "%s", tu_out);
    tu_write("c.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 8}\n"
                       "analysis:\n  operators: [K, Q]\n");
    cr_assert_eq(tu_sh("%s run %s/c.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "c.yaml:4:18: analysis.operators[1]: unknown operator"), "%s",
              tu_out);
    cr_assert_not(tu_exists("o"));
}
