/* The spectra analysis's second convention (explained variance against the
 * whole trace, spectra_trace.c): turning it on leaves every top-k output
 * bit for bit as it was; the exact trace equals the trace of the dense
 * averaged Gram operator; cum_trace = cum_topk × topk_fraction; the rank
 * against the trace is not capped by k; Hutch++ with probes ≥ 3·dim gives
 * the exact trace. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "snapshot_fixture.h"
#include "test_util.h"

TestSuite(spectra_trace, .init = tu_mktmp, .fini = tu_rmtmp);

#define TASK "{name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3, n_conditions: 4}"

static void run(const char *dir, const char *spectra)
{
    char y[1024];
    snprintf(y, sizeof y,
             "seed: 6\ntask: " TASK "\nmodel: {plugin: rnn, n: 6, g: 1.5}\n"
             "train: {iterations: 4, batch: 4, lr: 0.01}\n"
             "analysis:\n  trials: 3\n  spectra: {k: 4, operators: [K, P]%s}\n",
             spectra);
    tu_write("s.yaml", y);
    cr_assert_eq(tu_sh("%s run %s/s.yaml -o %s/%s", KPF_CLI_PATH, tu_tmp, tu_tmp, dir), 0, "%s",
                 tu_out);
}

static kpf_h5 *open_run(const char *dir)
{
    char p[256];
    kpf_h5 *h = NULL;
    snprintf(p, sizeof p, "%s/%s/analysis.h5", tu_tmp, dir);
    OK(kpf_h5_open(p, &h, &sf_err));
    return h;
}

static double one(kpf_h5 *h, const char *path)
{
    double *v = sf_read(h, path, NULL), x = v[0];
    free(v);
    return x;
}

/* tr⟨P P*⟩ averaged over trials and units, densely, at a run's θ. */
static double dense_trace(kpf_h5 *h, size_t it)
{
    kpf_config *cfg = NULL;
    kpf_task *task = NULL;
    OK(kpf_config_load_string(TASK, "t.yaml", &cfg, &sf_err));
    OK(kpf_task_create(kpf_config_root(cfg), &task, &sf_err));
    sf_model f;
    sf_model_make(&f, "rnn", NULL, "{n: 6}", task->n_in, task->n_out, 3, 1);
    sf_theta_from_run(f.m, h, it);
    kpf_task_batch *bt = sf_analysis_batch(task, 3, 6);
    kpf_traj *tr = NULL;
    OK(kpf_traj_alloc(f.m, 3, task->T, &tr, &sf_err));
    memcpy(tr->x, bt->x, 3 * task->T * task->n_in * sizeof(double));
    OK(kpf_simulate(f.m, tr, &sf_err));
    kpf_op *P, *G, *A;
    OK(kpf_op_propagator(f.m, tr, &P, &sf_err));
    OK(kpf_op_gram(P, &G, &sf_err));
    OK(kpf_op_average(G, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, &A, &sf_err));
    size_t d = kpf_space_size(&A->in);
    double *D = sf_dense(A), t = 0;
    for (size_t i = 0; i < d; i++)
        t += D[i * d + i];
    free(D);
    kpf_op_free(A);
    kpf_op_free(G);
    kpf_op_free(P);
    kpf_traj_free(tr);
    kpf_task_batch_free(bt);
    sf_model_free(&f);
    kpf_task_free(task);
    kpf_config_free(cfg);
    return t;
}

Test(spectra_trace, top_k_outputs_unchanged_and_the_trace_is_exact, .timeout = 120)
{
    run("off", "");
    run("exact", ", trace: exact");
    run("hpp", ", trace: hutchpp, trace_probes: 27");
    kpf_h5 *a = open_run("off"), *b = open_run("exact"), *c = open_run("hpp");
    const char *same[] = {"singular_values", "cumulative_variance", "effective_rank", "modes",
                          "dominant_frequency"};
    for (int op = 0; op < 2; op++)
        for (size_t i = 0; i < 5; i++) {
            char path[128];
            size_t na, nb;
            snprintf(path, sizeof path, "/snapshots/4/%s/%s", op ? "P" : "K", same[i]);
            double *x = sf_read(a, path, &na), *y = sf_read(b, path, &nb);
            cr_assert_eq(na, nb);
            cr_expect_arr_eq(x, y, na * sizeof(double), "%s changed", path);
            free(x);
            free(y);
        }
    cr_expect_not(kpf_h5_is_dataset(a, "/snapshots/4/P/trace"));
    double t = one(b, "/snapshots/4/P/trace"), td = dense_trace(b, 4);
    double th = one(c, "/snapshots/4/P/trace");
    cr_log_info("tr<PP*>: exact %.15g, dense %.15g, Hutch++ (27 probes) %.15g", t, td, th);
    cr_expect_float_eq(t, td, 1e-10 * td);
    cr_expect_float_eq(th, td, 1e-10 * td);
    size_t k;
    double *cum = sf_read(b, "/snapshots/4/P/cumulative_variance", &k);
    double *cumt = sf_read(b, "/snapshots/4/P/cumulative_variance_trace", NULL);
    double frac = one(b, "/snapshots/4/P/topk_fraction");
    for (size_t i = 0; i < k; i++)
        cr_expect_float_eq(cumt[i], cum[i] * frac, 1e-12);
    double er = one(b, "/snapshots/4/P/effective_rank");
    double ert = one(b, "/snapshots/4/P/effective_rank_trace");
    cr_log_info("P: top-%zu fraction %.4f, effective rank %.3f (top-k) vs %.3f (trace)", k,
                frac, er, ert);
    cr_expect_lt(frac, 1.0);
    cr_expect_gt(ert, er, "the rank against the trace is not above the top-k one");
    cr_expect_gt(ert, (double)k, "P's rank against the trace (%g) is still capped by k = %zu",
                 ert, k);
    free(cum);
    free(cumt);
    if (tu_sh("command -v gnuplot") == 0)
        cr_expect(tu_exists("exact/cumvar_trace_iter4.png"));
    kpf_h5_close(a, NULL);
    kpf_h5_close(b, NULL);
    kpf_h5_close(c, NULL);
}
