/* The `theorem1:` snapshot analysis through the kpf command (which
 * registers the studies): its outputs at every snapshot satisfy the bound
 * and the factorisation, and what it cannot check is refused at load,
 * located.  Moved from core/analysis/tests/test_analysis.c. */
#include <criterion/criterion.h>
#include <math.h>

#include "kpf/h5io.h"
#include "test_util.h"

static kpf_error err;

TestSuite(theorem1_analysis, .init = tu_mktmp, .fini = tu_rmtmp);

static double *read_all(kpf_h5 *h, const char *path, size_t *n)
{
    cr_assert_eq(kpf_h5_count(h, path, n, &err), KPF_OK, "%s", err.msg);
    double *v = malloc(*n * sizeof(double));
    cr_assert_eq(kpf_h5_read(h, path, *n, v, &err), KPF_OK, "%s", err.msg);
    return v;
}

/* Theorem 1 at every snapshot: the bound holds, the gradient factorises as
 * A Φᵀ, and the stored bound is what its definition gives from the stored
 * spectra. */
Test(theorem1_analysis, at_snapshots, .timeout = 300)
{
    tu_write("t.yaml", "task: {name: flip_flop_schuessler, t_max: 10}\n"
                       "model: {plugin: rnn, n: 10, g: 1.5, step: euler, dt: 0.5}\n"
                       "train: {iterations: 20, batch: 8, lr: 0.01, eval_trials: 8}\n"
                       "analysis: {at: [0, 20], trials: 6, k: 3, operators: [K],"
                       " theorem1: {activation: tanh}}\n"
                       "simulate: {trials: 2}\n");
    cr_assert_eq(tu_sh("%s run %s/t.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    cr_assert_eq(kpf_h5_open(p, &h, &err), KPF_OK, "%s", err.msg);
    const char *snap[2] = {"/snapshots/0/theorem1/", "/snapshots/20/theorem1/"};
    for (int s = 0; s < 2; s++) {
        char q[128];
        size_t n, k;
        snprintf(q, sizeof q, "%sgrad_singular_values", snap[s]);
        double *g = read_all(h, q, &n);
        snprintf(q, sizeof q, "%sadjoint_singular_values", snap[s]);
        double *a = read_all(h, q, &k);
        snprintf(q, sizeof q, "%sphi_singular_values", snap[s]);
        double *f = read_all(h, q, &k);
        snprintf(q, sizeof q, "%sbound", snap[s]);
        double *b = read_all(h, q, &k);
        snprintf(q, sizeof q, "%sfactor_error", snap[s]);
        double *fe = read_all(h, q, &k);
        cr_assert_eq(n, 10);
        cr_expect_lt(fe[0], 1e-12, "∇_W L ≠ A Φᵀ: %g", fe[0]);
        for (size_t r = 0; r < n; r++) {
            double want = fmin(f[0] * a[r], a[0] * f[r]);
            cr_expect_leq(fabs(b[r] - want), 1e-12 * a[0] * f[0], "bound[%zu]", r);
            cr_expect_leq(g[r], b[r] * (1 + 1e-10) + 1e-15, "σ_%zu above its bound", r);
        }
        cr_expect_gt(g[0], 0.0);
        free(g);
        free(a);
        free(f);
        free(b);
        free(fe);
    }
    kpf_h5_close(h, NULL);
    cr_assert_eq(tu_sh("grep -c theorem1_max_excess %s/o/summary.json", tu_tmp), 0, "%s",
                 tu_out);
}

Test(theorem1_analysis, refuses_rk4_and_non_square_blocks)
{
    tu_write("r.yaml", "task: {name: flip_flop_schuessler, t_max: 10}\n"
                       "model: {plugin: rnn, n: 6, step: rk4}\n"
                       "analysis:\n  theorem1: {activation: tanh}\n");
    cr_assert_eq(tu_sh("%s run %s/r.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "r.yaml:4:13: analysis.theorem1: Theorem 1"), "%s", tu_out);
    cr_assert(strstr(tu_out, "'rk4'"), "%s", tu_out);
    tu_write("s.yaml", "task: {name: flip_flop_schuessler, t_max: 10}\n"
                       "model: {plugin: rnn, n: 6}\n"
                       "analysis:\n  theorem1: {block: W_in}\n");
    cr_assert_eq(tu_sh("%s run %s/s.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "s.yaml:4:21: analysis.theorem1.block: Theorem 1 needs a square"),
              "%s", tu_out);
    cr_assert_not(tu_exists("o"));
}

/* Without keys, φ and W come from the model's "kpf.activation/1"
 * declaration; a key that contradicts it is refused at the key. */
Test(theorem1_analysis, takes_phi_from_the_model_and_refuses_a_contradiction)
{
    tu_write("d.yaml", "task: {name: flip_flop_schuessler, t_max: 10}\n"
                       "model: {plugin: rnn, n: 6, activation: relu}\n"
                       "analysis:\n  theorem1: {activation: tanh}\n");
    cr_assert_eq(tu_sh("%s run %s/d.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "d.yaml:4:26: analysis.theorem1.activation: model 'rnn' declares "
                             "φ = relu"),
              "%s", tu_out);
    cr_assert_not(tu_exists("o"));
    tu_write("e.yaml", "task: {name: flip_flop_schuessler, t_max: 10}\n"
                       "model: {plugin: rnn, n: 6, activation: relu}\n"
                       "train: {iterations: 2, batch: 4}\n"
                       "analysis:\n  at: [0]\n  trials: 4\n  operators: []\n"
                       "  theorem1: {}\n");
    cr_assert_eq(tu_sh("%s run %s/e.yaml -o %s/e", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    /* the factorisation ∇_W L = A Φᵀ holds only with the φ the model really
     * applies; with tanh on a relu network it would be off by O(1) */
    char path[512], buf[65536];
    snprintf(path, sizeof path, "%s/e/summary.json", tu_tmp);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    size_t nb = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[nb] = '\0';
    const char *at = strstr(buf, "\"theorem1_factor_error\":");
    cr_assert_not_null(at, "%s", buf);
    double fe = strtod(at + strlen("\"theorem1_factor_error\":"), NULL);
    cr_assert_lt(fe, 1e-10, "factor error %g", fe);
}
