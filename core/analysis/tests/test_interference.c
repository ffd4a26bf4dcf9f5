/* The multi-task decomposition (kpf/interference.h) against dense block
 * matrices: P and K written out densely, P_i, K_ij, P_j* cut from them by
 * hand, δz_ij = P_i K_ij P_j* Err_j, and the interference matrix M, the
 * Rayleigh alignment R and ‖δz_ij‖ equal the matrix-free ones to 1e-10 on
 * tiny RNN and GRU networks with interleaved groups.  The task-alignment
 * cosine and the filtered means on hand-made values.  Through `kpf run`:
 * the interference analysis on multitask4 writes what it says, its M at a
 * snapshot is kpf_interference on that snapshot's θ, analysis trials and
 * real training error (rebuilt through the public API), and the cumulative
 * matrix is the sum of the M's. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "kpf/gradient.h"
#include "kpf/interference.h"
#include "snapshot_fixture.h"
#include "test_util.h"

TestSuite(interference);

/* Row indices of group g's block in [T][B][n], ordered (t, r, k) as a
 * trial-restricted space stores them. */
static size_t block_rows(const int *group, size_t B, size_t T, size_t n, int g, size_t *rows)
{
    size_t c = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            if (group[b] == g)
                for (size_t k = 0; k < n; k++)
                    rows[c++] = (t * B + b) * n + k;
    return c;
}

/* y = D[rows_r, rows_c] x (transpose: D[rows_c, rows_r]ᵀ x). */
static void block_apply(const double *D, size_t N, const size_t *rr, size_t nr,
                        const size_t *rc, size_t nc, int transpose, const double *x, double *y)
{
    for (size_t i = 0; i < nr; i++) {
        double s = 0;
        for (size_t j = 0; j < nc; j++)
            s += (transpose ? D[rc[j] * N + rr[i]] : D[rr[i] * N + rc[j]]) * x[j];
        y[i] = s;
    }
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Dense M, R, ‖δz‖ from the block matrices of P and K. */
static void dense_reference(kpf_model *m, const kpf_traj *tr, const double *e, size_t S,
                            const int *group, double *M, double *R, double *nrm)
{
    const size_t B = tr->B, T = tr->T, n = tr->n, N = B * T * n;
    kpf_op *P, *K;
    OK(kpf_op_propagator(m, tr, &P, &sf_err));
    OK(kpf_op_param(m, tr, &K, &sf_err));
    double *Pd = sf_dense(P), *Kd = sf_dense(K);
    double w = kpf_traj_space(tr).weight;
    size_t *rows = malloc(S * N * sizeof(size_t)), cnt[8];
    double *a = malloc(S * N * sizeof(double)), *dz = malloc(S * S * N * sizeof(double));
    double *tmp = malloc(N * sizeof(double)), *ej = malloc(N * sizeof(double));
    for (size_t g = 0; g < S; g++)
        cnt[g] = block_rows(group, B, T, n, (int)g, rows + g * N);
    for (size_t j = 0; j < S; j++) { /* a_j = P_j* Err_j = P_jjᵀ e_j */
        const size_t *rj = rows + j * N;
        for (size_t r = 0; r < cnt[j]; r++)
            ej[r] = e[rj[r]];
        block_apply(Pd, N, rj, cnt[j], rj, cnt[j], 1, ej, a + j * N);
    }
    for (size_t i = 0; i < S; i++)
        for (size_t j = 0; j < S; j++) {
            const size_t *ri = rows + i * N, *rj = rows + j * N;
            block_apply(Kd, N, ri, cnt[i], rj, cnt[j], 0, a + j * N, tmp); /* K_ij a_j */
            R[i * S + j] = cnt[i] == cnt[j] ? dot(tmp, a + j * N, cnt[j]) /
                                                  dot(a + j * N, a + j * N, cnt[j])
                                            : NAN;
            block_apply(Pd, N, ri, cnt[i], ri, cnt[i], 0, tmp, dz + (i * S + j) * N);
        }
    for (size_t i = 0; i < S; i++)
        for (size_t j = 0; j < S; j++) {
            const double *dii = dz + (i * S + i) * N, *dij = dz + (i * S + j) * N;
            M[i * S + j] = dot(dii, dij, cnt[i]) /
                           sqrt(dot(dii, dii, cnt[i]) * dot(dij, dij, cnt[i]));
            nrm[i * S + j] = sqrt(w * dot(dij, dij, cnt[i]));
        }
    free(rows);
    free(a);
    free(dz);
    free(tmp);
    free(ej);
    free(Pd);
    free(Kd);
    kpf_op_free(K);
    kpf_op_free(P);
}

static double relmax(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            cr_expect(isnan(a[i]) && isnan(b[i]), "NaN in one only at %zu", i);
            continue;
        }
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return s > 0 ? d / s : d;
}

static void against_dense(const char *plugin, const char *yaml, size_t S, const int *group,
                          size_t B)
{
    const size_t T = 4;
    sf_model f;
    sf_model_make(&f, plugin, NULL, yaml, 2, 2, B, 5);
    kpf_traj *tr = sf_traj_random(f.m, B, T, 17);
    size_t N = B * T * f.m->n;
    double *e = malloc(N * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    for (size_t i = 0; i < N; i++)
        e[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    double M[16], R[16], nrm[16], Md[16], Rd[16], nd[16];
    OK(kpf_interference(f.m, tr, e, S, group, M, R, nrm, &sf_err));
    dense_reference(f.m, tr, e, S, group, Md, Rd, nd);
    double dm = relmax(M, Md, S * S), dr = relmax(R, Rd, S * S), dn = relmax(nrm, nd, S * S);
    cr_log_info("%s S=%zu: M %.2e  R %.2e  |dz| %.2e", plugin, S, dm, dr, dn);
    cr_expect_leq(dm, 1e-10, "%s: M differs from the dense blocks by %g", plugin, dm);
    cr_expect_leq(dr, 1e-10, "%s: R differs from the dense blocks by %g", plugin, dr);
    cr_expect_leq(dn, 1e-10, "%s: ‖δz‖ differs from the dense blocks by %g", plugin, dn);
    for (size_t i = 0; i < S; i++)
        cr_expect_float_eq(M[i * S + i], 1.0, 1e-12);
    /* Off-diagonal interference is not trivially ±1 (the check has teeth). */
    cr_expect_lt(fabs(M[1]), 1.0 - 1e-6, "M_01 = %g", M[1]);
    free(e);
    kpf_traj_free(tr);
    sf_model_free(&f);
}

Test(interference, matrix_free_equals_dense_blocks_rnn)
{
    const int g3[6] = {0, 1, 2, 0, 1, 2}; /* interleaved, equal sizes */
    against_dense("rnn", "{n: 3, g: 1.3, bias: true}", 3, g3, 6);
    const int g2[5] = {1, 0, 1, 1, 0}; /* unequal: R_ij is NaN off the diagonal */
    against_dense("rnn", "{n: 3, g: 0.9}", 2, g2, 5);
}

Test(interference, matrix_free_equals_dense_blocks_gru)
{
    const int g4[8] = {3, 2, 1, 0, 0, 1, 2, 3};
    against_dense("gru", "{n: 3, g: 1.0}", 4, g4, 8);
}

Test(interference, task_alignment_and_filters_by_hand)
{
    /* S = 2, R = 2 matched trials, T = 1, n = 2: trials [g0r0, g0r1, g1r0, g1r1]. */
    const double z[8] = {1, 0, 0, 2, 1, 1, 0, -2};
    double A[4];
    kpf_task_alignment(2, 4, 1, 2, z, A);
    /* ⟨z0, z1⟩ = 1·1 + 0·1 + 0·0 + 2·(−2) = −3; ‖z0‖² = 5, ‖z1‖² = 6. */
    cr_expect_float_eq(A[1], -3.0 / sqrt(30.0), 1e-15);
    cr_expect_float_eq(A[2], A[1], 0);
    cr_expect_float_eq(A[0], 1.0, 1e-15);
    const double F[4] = {0, 1, 1, 0}, X[4] = {9, 0.5, 0.25, 9}, none[4] = {0};
    cr_expect_float_eq(kpf_filter_mean(2, F, X), 0.375, 1e-15);
    cr_expect(isnan(kpf_filter_mean(2, none, X)));
}

/* ---- through a run --------------------------------------------------------- */

#define RUN_TASK "{name: multitask4, t_context: 2, t_stim: 3, t_memory: 2, t_response: 3}"
#define RUN_MODEL "{plugin: gru, n: 6}"

Test(interference, analysis_in_a_run_matches_the_library, .init = tu_mktmp, .fini = tu_rmtmp,
     .timeout = 120)
{
    tu_write("i.yaml",
             "seed: 3\ntask: " RUN_TASK "\nmodel: " RUN_MODEL "\n"
             "train: {iterations: 10, batch: 8, lr: 0.01}\n"
             "analysis:\n  at: [0, 5, 10]\n  trials: 8\n  k: 3\n  operators: [K]\n"
             "  interference:\n    matched_trials: 2\n    filters:\n"
             "      pro_anti: [[0,0,1,0],[0,0,0,1],[1,0,0,0],[0,1,0,0]]\n"
             "      mem_del:  [[0,1,0,0],[1,0,0,0],[0,0,0,1],[0,0,1,0]]\n");
    cr_assert_eq(tu_sh("%s run %s/i.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    OK(kpf_h5_open(p, &h, &sf_err));
    size_t n;
    double *M5 = sf_read(h, "/snapshots/5/interference/M", &n);
    cr_assert_eq(n, 16);
    double *all = sf_read(h, "/interference/M", &n);
    double *cum = sf_read(h, "/interference/cumulative", NULL);
    double *A = sf_read(h, "/interference/task_alignment", NULL);
    cr_assert_eq(n, 3 * 16);
    for (size_t i = 0; i < 16; i++) {
        cr_expect_float_eq(cum[32 + i], all[i] + all[16 + i] + all[32 + i], 1e-12);
        if (i % 5 == 0)
            cr_expect_float_eq(A[i], 1.0, 1e-12);
    }
    /* Rebuild snapshot 5 through the public API. */
    kpf_config *cfg = NULL;
    kpf_task *task = NULL;
    OK(kpf_config_load_string("{name: multitask4, t_context: 2, t_stim: 3, t_memory: 2, "
                              "t_response: 3}", "t.yaml", &cfg, &sf_err));
    OK(kpf_task_create(kpf_config_root(cfg), &task, &sf_err));
    sf_model f;
    sf_model_make(&f, "gru", NULL, "{n: 6}", task->n_in, task->n_out, 8, 1);
    sf_theta_from_run(f.m, h, 5);
    kpf_task_batch *bt = sf_analysis_batch(task, 8, 3);
    kpf_grad_ws *ws = NULL;
    double loss, *grad = malloc(f.m->m * sizeof(double)), M[16];
    OK(kpf_grad_ws_alloc(f.m, 8, task->T, &ws, &sf_err));
    OK(kpf_loss_grad(f.m, bt, 0, ws, &loss, grad, &sf_err));
    OK(kpf_interference(f.m, ws->tr, ws->err, 4, bt->cond, M, NULL, NULL, &sf_err));
    double d = sf_maxdiff(M, M5, 16);
    cr_log_info("run vs library: max |ΔM| = %.2e", d);
    cr_expect_leq(d, 1e-12, "the run's M differs from the library's by %g", d);
    /* Summary and figures. */
    cr_expect_eq(tu_sh("grep -c '\"pro_anti\"' %s/o/summary.json", tu_tmp), 0, "%s", tu_out);
    cr_expect_eq(tu_sh("grep -c 'interference_cum_mem_del' %s/o/summary.json", tu_tmp), 0);
    if (tu_sh("command -v gnuplot") == 0) {
        cr_expect(tu_exists("o/interference_grid.png"));
        cr_expect(tu_exists("o/interference_filters.png"));
    }
    free(grad);
    kpf_grad_ws_free(ws);
    kpf_task_batch_free(bt);
    sf_model_free(&f);
    kpf_task_free(task);
    kpf_config_free(cfg);
    kpf_h5_close(h, NULL);
    free(M5);
    free(all);
    free(cum);
    free(A);
}

Test(interference, mistakes_are_located, .init = tu_mktmp, .fini = tu_rmtmp)
{
    tu_write("a.yaml", "task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n"
                       "model: {plugin: rnn, n: 4}\nanalysis:\n  interference: {}\n");
    cr_expect_eq(tu_sh("%s run %s/a.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_expect(strstr(tu_out, "a.yaml:4:17: analysis.interference: task 'memory_pro' is not a "
                             "mixture"), "%s", tu_out);
    tu_write("b.yaml", "task: " RUN_TASK "\nmodel: " RUN_MODEL "\nanalysis:\n"
                       "  interference:\n    filters: {pa: [[0,1,0,0],[1,0,0,0],[0,0,0,2],"
                       "[0,0,1,0]]}\n");
    cr_expect_eq(tu_sh("%s run %s/b.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_expect(strstr(tu_out, "entry (DP, DA) must be 0 or 1"), "%s", tu_out);
    cr_expect(strstr(tu_out, "b.yaml:5:"), "%s", tu_out);
    tu_write("c.yaml", "task: " RUN_TASK "\nmodel: " RUN_MODEL "\nanalysis:\n  trials: 3\n"
                       "  interference: {}\n");
    cr_expect_eq(tu_sh("%s run %s/c.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_expect(strstr(tu_out, "analysis.trials = 3 leaves some of the 4 sub-tasks"), "%s",
              tu_out);
    cr_expect_not(tu_exists("o"));
}
