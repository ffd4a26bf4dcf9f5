/* The pretraining stage (`pretrain:`) and the subspace comparison of weight
 * updates (kpf_dw_subspace_residual), through the `kpf` command. */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "kpf/delta_w.h"
#include "kpf/h5io.h"
#include "kpf/rng.h"
#include "test_util.h"

/* ---- kpf_dw_subspace_residual ------------------------------------------- */

/* Orthonormal columns e_0 … e_{k−1} of R^n as an n×k row-major matrix. */
static void unit_columns(size_t n, size_t k, size_t first, double *Q)
{
    memset(Q, 0, n * k * sizeof *Q);
    for (size_t j = 0; j < k; j++)
        Q[(first + j) * k + j] = 1.0;
}

Test(subspace, inside_outside_and_mixed)
{
    enum { n = 6, k = 2, K = 2 };
    double U[n * k], V[n * k], D[K * n * n] = {0};
    unit_columns(n, k, 0, U);
    unit_columns(n, k, 1, V);
    D[0 * n + 1] = 3.0;                 /* snapshot 0: inside (row 0, col 1) */
    D[n * n + 5 * n + 5] = 4.0;         /* snapshot 1: outside (row 5, col 5) */
    /* 1 − 9/(9 + 16) */
    cr_expect_float_eq(kpf_dw_subspace_residual(n, K, D, k, U, V), 16.0 / 25.0, 1e-15);
    cr_expect_float_eq(kpf_dw_subspace_residual(n, 1, D, k, U, V), 0.0, 1e-15);
    cr_expect_float_eq(kpf_dw_subspace_residual(n, 1, D + n * n, k, U, V), 1.0, 1e-15);
    /* row space right, column space wrong: outside */
    double D2[n * n] = {0};
    D2[4 * n + 1] = 1.0;
    cr_expect_float_eq(kpf_dw_subspace_residual(n, 1, D2, k, U, V), 1.0, 1e-15);
    double Z[n * n] = {0};
    cr_expect(isnan(kpf_dw_subspace_residual(n, 1, Z, k, U, V)));
}

/* Against U Uᵀ D V Vᵀ formed explicitly, for a rotated basis. */
Test(subspace, matches_explicit_projection)
{
    enum { n = 7, k = 3, K = 3 };
    gsl_rng *r = NULL;
    kpf_error err;
    cr_assert_eq(kpf_rng_alloc(5, KPF_RNG_CHECK, &r, &err), KPF_OK);
    double A[n * n], U[n * n], V[n * n], s[n], D[K * n * n];
    for (size_t i = 0; i < n * n; i++)
        A[i] = gsl_ran_gaussian(r, 1.0);
    cr_assert_eq(kpf_matrix_svd(n, n, A, s, U, V, &err), KPF_OK, "%s", err.msg);
    double Uk[n * k], Vk[n * k];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            Uk[i * k + j] = U[i * n + j];
            Vk[i * k + j] = V[i * n + j];
        }
    double total = 0.0, kept = 0.0;
    for (size_t i = 0; i < K * n * n; i++) {
        D[i] = gsl_ran_gaussian(r, 1.0);
        total += D[i] * D[i];
    }
    for (size_t q = 0; q < K; q++) {
        const double *Dq = D + q * n * n;
        for (size_t a = 0; a < k; a++)
            for (size_t b = 0; b < k; b++) {
                double c = 0.0; /* u_aᵀ D v_b */
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < n; j++)
                        c += Uk[i * k + a] * Dq[i * n + j] * Vk[j * k + b];
                kept += c * c;
            }
    }
    cr_expect_float_eq(kpf_dw_subspace_residual(n, K, D, k, Uk, Vk), 1.0 - kept / total, 1e-13);
    gsl_rng_free(r);
}

/* ---- the stage in a run ---------------------------------------------------- */

static const char *const base_cfg =
    "seed: 3\n"
    "task: {name: flip_flop_schuessler, target_amp: -0.5, t_max: 10}\n"
    "model: {plugin: rnn, n: 10, g: 0.3, step: euler, dt: 0.5}\n"
    "train: {iterations: 6, batch: 4, lr: 0.01, blocks: [W], eval_every: 3, eval_trials: 4}\n"
    "analysis: {at: [0, 3, 6], trials: 4, k: 3, operators: [K], delta_w: {block: W, r_max: 3},"
    " cp: {r_max: 2}}\n"
    "simulate: {trials: 2}\n"
    "output: {trajectory: false}\n";

static void write_cfg(const char *pretrain)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", base_cfg, pretrain);
    tu_write("c.yaml", text);
}

static double *read_all(const char *file, const char *path, size_t count)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tu_tmp, file);
    kpf_h5 *h = NULL;
    kpf_error err;
    double *v = malloc(count * sizeof *v);
    cr_assert_eq(kpf_h5_open(p, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_read(h, path, count, v, &err), KPF_OK, "%s %s", path, err.msg);
    kpf_h5_close(h, NULL);
    return v;
}

static double summary_number(const char *key)
{
    char p[512], buf[65536];
    snprintf(p, sizeof p, "%s/out/summary.json", tu_tmp);
    FILE *fp = fopen(p, "r");
    cr_assert_not_null(fp);
    size_t k = fread(buf, 1, sizeof buf - 1, fp);
    buf[k] = '\0';
    fclose(fp);
    char needle[128];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    const char *at = strstr(buf, needle);
    cr_assert_not_null(at, "%s not in summary", key);
    return strtod(at + strlen(needle), NULL);
}

/* The main run starts from W*, and the reported residual is the one the
 * stored snapshots and stored singular vectors give. */
Test(pretrain, main_run_starts_at_w_star_and_residual_matches_files)
{
    enum { n = 10, k = 2 };
    tu_mktmp();
    write_cfg("pretrain:\n"
              "  task: {name: flip_flop_schuessler, target_amp: 0.5, t_max: 10}\n"
              "  train: {iterations: 8, batch: 4, lr: 0.01, blocks: [W], eval_every: 4,"
              " eval_trials: 4}\n"
              "  subspace: 2\n");
    cr_assert_eq(tu_sh("%s run %s/c.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert(tu_exists("out/pretrain.h5") && tu_exists("out/pretrain_loss.png"));
    cr_assert(tu_exists("out/weight_tensor.png") && tu_exists("out/plot-src/weight_tensor.dat"));
    double *wstar = read_all("out/pretrain.h5", "/theta/W", n * n);
    double *U = read_all("out/pretrain.h5", "/delta_w/U", n * k);
    double *V = read_all("out/pretrain.h5", "/delta_w/V", n * k);
    const char *it[3] = {"/snapshots/0/theta/W", "/snapshots/3/theta/W", "/snapshots/6/theta/W"};
    double D[2 * n * n], *w[3];
    for (int s = 0; s < 3; s++)
        w[s] = read_all("out/analysis.h5", it[s], n * n);
    double diff = 0.0, moved = 0.0;
    for (size_t i = 0; i < n * n; i++) {
        diff = fmax(diff, fabs(w[0][i] - wstar[i]));
        moved = fmax(moved, fabs(w[2][i] - w[0][i]));
        D[i] = w[1][i] - w[0][i];
        D[n * n + i] = w[2][i] - w[0][i];
    }
    cr_expect_eq(diff, 0.0, "first main snapshot differs from W* by %g", diff);
    cr_expect_gt(moved, 0.0);
    double want = kpf_dw_subspace_residual(n, 2, D, k, U, V);
    double got = summary_number("later_updates_outside_subspace");
    cr_expect(want > 0.0 && want < 1.0, "%g", want);
    cr_expect_float_eq(got, want, 1e-12 * fmax(1.0, want));
    for (int s = 0; s < 3; s++)
        free(w[s]);
    free(wstar);
    free(U);
    free(V);
    tu_rmtmp();
}

static void expect_config_error(const char *pretrain, const char *where, const char *what)
{
    tu_mktmp();
    write_cfg(pretrain);
    cr_expect_eq(tu_sh("%s run %s/c.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_expect_not_null(strstr(tu_out, where), "want '%s' in: %s", where, tu_out);
    cr_expect_not_null(strstr(tu_out, what), "want '%s' in: %s", what, tu_out);
    cr_expect(!tu_exists("out"), "a bad config created the output folder");
    tu_rmtmp();
}

Test(pretrain, config_errors_are_located)
{
    expect_config_error("pretrain:\n  task: {name: memory_pro}\n  train: {iterations: 2}\n",
                        "c.yaml:9:9: pretrain.task", "must agree");
    expect_config_error("pretrain:\n  subspace: 2\n", "c.yaml:9:3: pretrain",
                        "train");
    expect_config_error("pretrain:\n  train: {iterations: 2}\n  blok: W\n",
                        "pretrain.blok", "unknown key");
    expect_config_error("pretrain:\n  train: {iterations: 2}\n  block: W_in\n",
                        "c.yaml:10:10: pretrain.block", "recurrent matrix");
    expect_config_error("pretrain:\n  train: {iterations: 2, blocks: [V]}\n",
                        "pretrain.train.blocks", "no parameter block 'V'");
}
