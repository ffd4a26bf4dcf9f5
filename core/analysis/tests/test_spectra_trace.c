/* The spectra analysis's second convention (explained variance against the
 * whole trace, spectra_trace.c): turning it on leaves every top-k output
 * bit for bit as it was; the exact trace equals the trace of the dense
 * averaged Gram operator; cum_trace = cum_topk × topk_fraction; the rank
 * against the trace is not capped by k; Hutch++ with probes ≥ 3·dim gives
 * the exact trace.  The paper-era conventions (power: 4, per-operator k):
 * both ranks equal a dense reference's, σ⁴ gives a lower rank than σ², the
 * defaults are unchanged bit for bit, and bad values are located errors. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_sort.h>

#include "snapshot_fixture.h"
#include "test_util.h"

TestSuite(spectra_trace, .init = tu_mktmp, .fini = tu_rmtmp);

#define TASK "{name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3, n_conditions: 4}"

/* A run with the whole spectra map given. */
static void run_with(const char *dir, const char *spectra)
{
    char y[1024];
    snprintf(y, sizeof y,
             "seed: 6\ntask: " TASK "\nmodel: {plugin: rnn, n: 6, g: 1.5}\n"
             "train: {iterations: 4, batch: 4, lr: 0.01}\n"
             "analysis:\n  trials: 3\n  spectra: {%s}\n",
             spectra);
    tu_write("s.yaml", y);
    cr_assert_eq(tu_sh("%s run %s/s.yaml -o %s/%s", KPF_CLI_PATH, tu_tmp, tu_tmp, dir), 0, "%s",
                 tu_out);
}

static void run(const char *dir, const char *spectra)
{
    char body[512];
    snprintf(body, sizeof body, "k: 4, operators: [K, P]%s", spectra);
    run_with(dir, body);
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

/* ⟨A A*⟩ of A = K (which 0) or P (1) averaged over trials and units,
 * densely (*d × *d), at a run's θ. */
static double *dense_gram(kpf_h5 *h, size_t it, int which, size_t *d)
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
    if (which)
        OK(kpf_op_propagator(f.m, tr, &P, &sf_err));
    else
        OK(kpf_op_param(f.m, tr, &P, &sf_err));
    OK(kpf_op_gram(P, &G, &sf_err));
    OK(kpf_op_average(G, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, &A, &sf_err));
    *d = kpf_space_size(&A->in);
    double *D = sf_dense(A);
    kpf_op_free(A);
    kpf_op_free(G);
    kpf_op_free(P);
    kpf_traj_free(tr);
    kpf_task_batch_free(bt);
    sf_model_free(&f);
    kpf_task_free(task);
    kpf_config_free(cfg);
    return D;
}

/* tr⟨P P*⟩ averaged over trials and units, densely, at a run's θ. */
static double dense_trace(kpf_h5 *h, size_t it)
{
    size_t d;
    double *D = dense_gram(h, it, 1, &d), t = 0;
    for (size_t i = 0; i < d; i++)
        t += D[i * d + i];
    free(D);
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

/* All eigenvalues λ of the dense averaged Gram operator, descending. */
static double *dense_eigenvalues(kpf_h5 *h, size_t it, int which, size_t *d)
{
    double *D = dense_gram(h, it, which, d);
    gsl_matrix_view M = gsl_matrix_view_array(D, *d, *d);
    gsl_vector *ev = gsl_vector_alloc(*d);
    gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(*d);
    cr_assert_eq(gsl_eigen_symm(&M.matrix, ev, w), 0);
    gsl_eigen_symm_free(w);
    double *lam = malloc(*d * sizeof *lam);
    for (size_t i = 0; i < *d; i++)
        lam[i] = fmax(gsl_vector_get(ev, i), 0.0);
    gsl_sort(lam, 1, *d);
    for (size_t i = 0; i < *d / 2; i++) { /* descending */
        double t = lam[i];
        lam[i] = lam[*d - 1 - i];
        lam[*d - 1 - i] = t;
    }
    gsl_vector_free(ev);
    free(D);
    return lam;
}

/* The reference's effective rank, written out independently: weights
 * w_i = λ_i^(p/2) (σ^p), the first k of them normalised by Σ over all d
 * (trace) or over the k (top-k), the 0.95 crossing of the piecewise-linear
 * cumulative curve. */
static double ref_rank(const double *lam, size_t k, size_t d, int topk, double p)
{
    double tot = 0, c = 0, prev = 0;
    for (size_t i = 0; i < (topk ? k : d); i++)
        tot += pow(lam[i], p / 2);
    for (size_t i = 0; i < (topk ? k : d); i++) {
        c = prev + pow(lam[i], p / 2) / tot;
        if (c >= 0.95)
            return (double)i + (0.95 - prev) / (c - prev);
        prev = c;
    }
    return NAN;
}

Test(spectra_trace, sigma4_and_per_operator_k_against_a_dense_reference, .timeout = 120)
{
    run_with("s2", "k: {K: 3, P: 5}, operators: [K, P], trace: exact");
    run_with("s4", "k: {K: 3, P: 5}, operators: [K, P], trace: exact, power: 4");
    run_with("s4h", "k: {K: 3, P: 5}, operators: [K, P], trace: hutchpp, trace_probes: 27, "
                    "power: 4");
    kpf_h5 *a = open_run("s2"), *b = open_run("s4"), *c = open_run("s4h");
    /* Hutch++ of ⟨P P*⟩² with probes ≥ 3·dim is exact: Σ λ² */
    double t4 = one(b, "/snapshots/0/P/trace"), t4h = one(c, "/snapshots/0/P/trace");
    cr_expect_float_eq(t4h, t4, 1e-9 * t4, "Σλ²: Hutch++ %.15g, exact %.15g", t4h, t4);
    kpf_h5_close(c, NULL);
    for (int op = 0; op < 2; op++) {
        const char *nm = op ? "P" : "K";
        const size_t k = op ? 5 : 3;
        char path[128];
        size_t got, d;
        snprintf(path, sizeof path, "/snapshots/0/%s/singular_values", nm);
        double *sv = sf_read(b, path, &got);
        cr_expect_eq(got, k, "%s: %zu components, not the %zu asked", nm, got, k);
        double *lam = dense_eigenvalues(b, 0, op, &d);
        for (size_t i = 0; i < k; i++)
            cr_expect_float_eq(sv[i] * sv[i], lam[i], 1e-9 * lam[0], "%s: λ_%zu", nm, i);
        struct {
            kpf_h5 *h;
            double p;
        } runs[2] = {{a, 2}, {b, 4}};
        double r[2][2];
        for (int j = 0; j < 2; j++) {
            snprintf(path, sizeof path, "/snapshots/0/%s/effective_rank", nm);
            r[j][0] = one(runs[j].h, path);
            snprintf(path, sizeof path, "/snapshots/0/%s/effective_rank_trace", nm);
            r[j][1] = one(runs[j].h, path);
            double e0 = ref_rank(lam, k, d, 1, runs[j].p), e1 = ref_rank(lam, k, d, 0, runs[j].p);
            cr_log_info("%s, sigma^%g: top-%zu rank %.4f (dense %.4f), trace rank %.4f (dense "
                        "%.4f)",
                        nm, runs[j].p, k, r[j][0], e0, r[j][1], e1);
            cr_expect_float_eq(r[j][0], e0, 1e-7, "%s σ^%g top-k", nm, runs[j].p);
            cr_expect_float_eq(r[j][1], e1, 1e-7, "%s σ^%g trace", nm, runs[j].p);
        }
        /* σ⁴ weighs the leading components more: a lower rank, here by at
         * least a quarter of a component in both conventions. */
        cr_expect_lt(r[1][0], r[0][0] - 0.25, "%s: σ⁴ top-k %g vs σ² %g", nm, r[1][0], r[0][0]);
        cr_expect_lt(r[1][1], r[0][1] - 0.25, "%s: σ⁴ trace %g vs σ² %g", nm, r[1][1], r[0][1]);
        free(sv);
        free(lam);
    }
    kpf_h5_close(a, NULL);
    kpf_h5_close(b, NULL);
}

/* power: 2 and k: {K: 4, P: 4} are the defaults' numbers, bit for bit. */
Test(spectra_trace, explicit_defaults_change_nothing, .timeout = 120)
{
    run("d0", "");
    run_with("d1", "power: 2, k: {K: 4, P: 4}, operators: [K, P]");
    kpf_h5 *a = open_run("d0"), *b = open_run("d1");
    const char *same[] = {"singular_values", "cumulative_variance", "effective_rank"};
    for (int op = 0; op < 2; op++)
        for (size_t i = 0; i < 3; i++) {
            char path[128];
            size_t na, nb;
            snprintf(path, sizeof path, "/snapshots/4/%s/%s", op ? "P" : "K", same[i]);
            double *x = sf_read(a, path, &na), *y = sf_read(b, path, &nb);
            cr_assert_eq(na, nb);
            cr_expect_arr_eq(x, y, na * sizeof(double), "%s changed", path);
            free(x);
            free(y);
        }
    kpf_h5_close(a, NULL);
    kpf_h5_close(b, NULL);
}

static void expect_exit2(const char *spectra, const char *where)
{
    char y[1024];
    snprintf(y, sizeof y,
             "seed: 6\ntask: " TASK "\nmodel: {plugin: rnn, n: 6}\n"
             "train: {iterations: 1, batch: 4}\n"
             "analysis:\n  trials: 3\n  spectra: {operators: [K, P]%s}\n",
             spectra);
    tu_write("bad.yaml", y);
    int rc = tu_sh("%s run %s/bad.yaml -o %s/bad", KPF_CLI_PATH, tu_tmp, tu_tmp);
    cr_expect_eq(rc, 2, "%s: exit %d: %s", spectra, rc, tu_out);
    cr_expect(strstr(tu_out, "bad.yaml:7:") && strstr(tu_out, where), "%s: %s", spectra, tu_out);
    cr_expect_not(tu_exists("bad/analysis.h5"), "output written despite the error");
}

Test(spectra_trace, bad_power_and_k_are_located_errors)
{
    expect_exit2(", power: 3", "analysis.spectra.power");
    expect_exit2(", power: 8", "analysis.spectra.power");
    expect_exit2(", k: {K: 3, Q: 5}", "analysis.spectra.k.Q");
    expect_exit2(", k: {P: 0}", "analysis.spectra.k.P");
}
