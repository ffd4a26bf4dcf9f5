/* Alignment over training (the `alignment` analysis and kpf/misdirection.h)
 * against dense references: B = Σ Vᵀ K V Σ from a GSL SVD of the dense P and
 * the dense K gives the same cos(B, Σ²) and off-diagonal share as the
 * matrix-free Lanczos path; and in a run, R(K, P*Err), cos(PKP*, PP*) with
 * exact probes and each K_j's consensus effective rank equal their dense
 * recomputations at a snapshot's θ on the analysis trials. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sort_vector.h>

#include "kpf/gradient.h"
#include "kpf/linalg.h"
#include "kpf/misdirection.h"
#include "kpf/spectral.h"
#include "snapshot_fixture.h"
#include "test_util.h"

TestSuite(alignment);

/* Euclidean σ and V (columns) of the dense square P: with equal weights in
 * and out they are P's singular values between the weighted spaces. */
static void dense_misdirection(kpf_model *m, const kpf_traj *tr, size_t k, double *sv,
                               kpf_misdirection_result *res)
{
    kpf_op *P, *K;
    OK(kpf_op_propagator(m, tr, &P, &sf_err));
    OK(kpf_op_param(m, tr, &K, &sf_err));
    size_t N = kpf_space_size(&P->in);
    double *Pd = sf_dense(P), *Kd = sf_dense(K), *Bm = malloc(k * k * sizeof(double));
    gsl_matrix_view A = gsl_matrix_view_array(Pd, N, N);
    gsl_matrix *V = gsl_matrix_alloc(N, N);
    gsl_vector *S = gsl_vector_alloc(N), *work = gsl_vector_alloc(N);
    cr_assert_eq(gsl_linalg_SV_decomp(&A.matrix, V, S, work), 0);
    for (size_t i = 0; i < k; i++)
        sv[i] = gsl_vector_get(S, i);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double s = 0;
            for (size_t a = 0; a < N; a++)
                for (size_t b = 0; b < N; b++)
                    s += gsl_matrix_get(V, a, i) * Kd[a * N + b] * gsl_matrix_get(V, b, j);
            Bm[i * k + j] = sv[i] * sv[j] * s;
        }
    *res = kpf_misdirection_measures(k, sv, Bm);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(work);
    free(Pd);
    free(Kd);
    free(Bm);
    kpf_op_free(K);
    kpf_op_free(P);
}

static void misdirection_case(const char *plugin, const char *yaml)
{
    sf_model f;
    sf_model_make(&f, plugin, NULL, yaml, 2, 2, 2, 9);
    kpf_traj *tr = sf_traj_random(f.m, 2, 4, 21);
    const size_t k = 4;
    double sv[4], svd[4];
    kpf_misdirection_result r, rd;
    OK(kpf_misdirection(f.m, tr, k, NULL, sv, NULL, &r, &sf_err));
    dense_misdirection(f.m, tr, k, svd, &rd);
    cr_log_info("%s: cos(B, Σ²) %.12f (dense %.12f), off-diagonal %.3e (dense %.3e)", plugin,
                r.cos_b_sigma2, rd.cos_b_sigma2, r.offdiag_share, rd.offdiag_share);
    for (size_t i = 0; i < k; i++)
        cr_expect_float_eq(sv[i], svd[i], 1e-9 * svd[0], "σ_%zu %g vs %g", i, sv[i], svd[i]);
    cr_expect_float_eq(r.cos_b_sigma2, rd.cos_b_sigma2, 1e-8);
    cr_expect_float_eq(r.offdiag_share, rd.offdiag_share, 1e-8);
    cr_expect_lt(r.cos_b_sigma2, 1.0 - 1e-6, "K misdirects nothing? cos %g", r.cos_b_sigma2);
    kpf_traj_free(tr);
    sf_model_free(&f);
}

Test(alignment, misdirection_equals_dense_svd)
{
    misdirection_case("rnn", "{n: 3, g: 1.2, bias: true}");
    misdirection_case("gru", "{n: 3}");
}

Test(alignment, measures_of_a_proportional_b_are_perfect)
{
    const double sv[3] = {3, 2, 1}, B[9] = {18, 0, 0, 0, 8, 0, 0, 0, 2};
    kpf_misdirection_result r = kpf_misdirection_measures(3, sv, B);
    cr_expect_float_eq(r.cos_b_sigma2, 1.0, 1e-15);
    cr_expect_float_eq(r.offdiag_share, 0.0, 1e-15);
    const double Bp[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}; /* B = I: cos = Σσ²/(√3 √Σσ⁴) */
    r = kpf_misdirection_measures(3, sv, Bp);
    cr_expect_float_eq(r.cos_b_sigma2, 14.0 / (sqrt(3.0) * sqrt(98.0)), 1e-15);
}

/* Consensus effective rank of K (block NULL) or K_j, densely: the averaged
 * Gram operator written out, its eigenvalues by GSL. */
static double dense_block_rank(kpf_model *m, const kpf_traj *tr, const char *block, size_t kk)
{
    kpf_op *K, *G, *A;
    if (block)
        OK(kpf_op_param_block(m, tr, block, &K, &sf_err));
    else
        OK(kpf_op_param(m, tr, &K, &sf_err));
    OK(kpf_op_gram(K, &G, &sf_err));
    OK(kpf_op_average(G, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, &A, &sf_err));
    size_t T = kpf_space_size(&A->in);
    double *D = sf_dense(A), sv[256];
    for (size_t i = 0; i < T; i++) /* symmetrise rounding */
        for (size_t j = 0; j < i; j++)
            D[i * T + j] = D[j * T + i] = 0.5 * (D[i * T + j] + D[j * T + i]);
    gsl_matrix_view M = gsl_matrix_view_array(D, T, T);
    gsl_vector *ev = gsl_vector_alloc(T);
    gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(T);
    cr_assert_eq(gsl_eigen_symm(&M.matrix, ev, w), 0);
    gsl_sort_vector(ev);
    for (size_t i = 0; i < kk; i++)
        sv[i] = sqrt(fmax(gsl_vector_get(ev, T - 1 - i), 0.0));
    double r;
    OK(kpf_effrank(sv, kk, 0.0, 0.95, &r, &sf_err));
    gsl_eigen_symm_free(w);
    gsl_vector_free(ev);
    free(D);
    kpf_op_free(A);
    kpf_op_free(G);
    kpf_op_free(K);
    return r;
}

#define TASK "{name: memory_pro, t_stim: 3, t_memory: 2, t_response: 3, n_conditions: 4}"

Test(alignment, analysis_in_a_run_equals_dense_recomputation, .init = tu_mktmp,
     .fini = tu_rmtmp, .timeout = 120)
{
    tu_write("a.yaml", "seed: 4\ntask: " TASK "\nmodel: {plugin: rnn, n: 4, bias: true}\n"
                       "train: {iterations: 6, batch: 8, lr: 0.02}\n"
                       "analysis:\n  at: [0, 6]\n  trials: 3\n  k: 3\n  operators: [K]\n"
                       "  alignment: {k: 4, probes: 1000, block_k: 5}\n");
    cr_assert_eq(tu_sh("%s run %s/a.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    OK(kpf_h5_open(p, &h, &sf_err));
    double *R = sf_read(h, "/snapshots/6/alignment/adjoint_kernel_rayleigh", NULL);
    double *al = sf_read(h, "/snapshots/6/alignment/pkp_pp_alignment", NULL);
    size_t nr;
    double *ranks = sf_read(h, "/snapshots/6/alignment/effrank_blocks", &nr);
    cr_assert_eq(nr, 4, "W, W_in, b, then K: %zu", nr);
    kpf_config *cfg = NULL;
    kpf_task *task = NULL;
    OK(kpf_config_load_string(TASK, "t.yaml", &cfg, &sf_err));
    OK(kpf_task_create(kpf_config_root(cfg), &task, &sf_err));
    sf_model f;
    sf_model_make(&f, "rnn", NULL, "{n: 4, bias: true}", task->n_in, task->n_out, 3, 1);
    sf_theta_from_run(f.m, h, 6);
    kpf_task_batch *bt = sf_analysis_batch(task, 3, 4);
    kpf_grad_ws *ws = NULL;
    double loss, *grad = malloc(f.m->m * sizeof(double));
    OK(kpf_grad_ws_alloc(f.m, 3, task->T, &ws, &sf_err));
    OK(kpf_loss_grad(f.m, bt, 0, ws, &loss, grad, &sf_err));
    kpf_op *P, *K, *pkp, *pp;
    OK(kpf_op_propagator(f.m, ws->tr, &P, &sf_err));
    OK(kpf_op_param(f.m, ws->tr, &K, &sf_err));
    OK(kpf_op_pkp(f.m, ws->tr, &pkp, &sf_err));
    OK(kpf_op_pp(f.m, ws->tr, &pp, &sf_err));
    size_t N = kpf_space_size(&P->in);
    double *a = malloc(N * sizeof(double)), *Kd = sf_dense(K), *A = sf_dense(pkp),
           *Bd = sf_dense(pp);
    OK(kpf_op_apply_adjoint(P, ws->err, a, &sf_err));
    double aKa = 0, aa = 0, ab = 0, a2 = 0, b2 = 0;
    for (size_t i = 0; i < N; i++) {
        aa += a[i] * a[i];
        for (size_t j = 0; j < N; j++)
            aKa += a[i] * Kd[i * N + j] * a[j];
    }
    for (size_t i = 0; i < N * N; i++) {
        ab += A[i] * Bd[i];
        a2 += A[i] * A[i];
        b2 += Bd[i] * Bd[i];
    }
    cr_log_info("R %.12g vs dense %.12g; cos %.12f vs %.12f", R[0], aKa / aa, al[0],
                ab / sqrt(a2 * b2));
    cr_expect_float_eq(R[0], aKa / aa, 1e-10 * fabs(aKa / aa));
    cr_expect_float_eq(al[0], ab / sqrt(a2 * b2), 1e-10);
    cr_expect_lt(al[0], 1.0 - 1e-6);
    const char *blocks[3] = {"W", "W_in", "b"};
    for (int j = 0; j < 4; j++) {
        double d = dense_block_rank(f.m, ws->tr, j < 3 ? blocks[j] : NULL, 5);
        cr_log_info("effrank %s: %.10f vs dense %.10f", j < 3 ? blocks[j] : "K", ranks[j], d);
        cr_expect_float_eq(ranks[j], d, 1e-6, "%s", j < 3 ? blocks[j] : "K");
    }
    cr_expect_eq(tu_sh("grep -c kj_effrank_W_in %s/o/summary.json", tu_tmp), 0);
    if (tu_sh("command -v gnuplot") == 0)
        cr_expect(tu_exists("o/alignment.png"));
    kpf_op_free(pp);
    kpf_op_free(pkp);
    kpf_op_free(K);
    kpf_op_free(P);
    free(a);
    free(Kd);
    free(A);
    free(Bd);
    free(grad);
    free(R);
    free(al);
    free(ranks);
    kpf_grad_ws_free(ws);
    kpf_task_batch_free(bt);
    sf_model_free(&f);
    kpf_task_free(task);
    kpf_config_free(cfg);
    kpf_h5_close(h, NULL);
}
