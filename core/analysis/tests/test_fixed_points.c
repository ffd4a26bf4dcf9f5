/* The fixed-point finder (kpf/fixed_points.h) on systems with known
 * answers: an affine map with one fixed point and a known spectrum (a
 * complex pair, one unstable direction), the 2-unit pitchfork (one stable
 * origin for μ < 0; a saddle between two stable points for μ > 0), a
 * saddle-node ghost (no fixed point, one slow point with q = c²/2), the
 * tanh RNN at g < 1 without input (only the origin, J_f = W − I), the ARPACK
 * path against the dense one, and the `fixed_points` analysis in a run. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>

#include "kpf/fixed_points.h"
#include "snapshot_fixture.h"
#include "test_util.h"

TestSuite(fixed_points);

static double *gaussian(size_t N, double sd, unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double *v = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++)
        v[i] = gsl_ran_gaussian(r, sd);
    gsl_rng_free(r);
    return v;
}

static void set_block(kpf_model *m, const char *name, const double *v)
{
    const kpf_param_block *b = kpf_model_block(m, name);
    cr_assert_not_null(b, "no block %s", name);
    memcpy(m->theta + b->offset, v, b->rows * b->cols * sizeof(double));
}

/* A z* = b for the fixed point (I − A) z* = B x* + c. */
static void solve(size_t n, const double *M, const double *b, double *x)
{
    gsl_matrix *A = gsl_matrix_alloc(n, n);
    gsl_vector *bv = gsl_vector_alloc(n), *xv = gsl_vector_alloc(n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int s;
    memcpy(A->data, M, n * n * sizeof(double));
    memcpy(bv->data, b, n * sizeof(double));
    gsl_linalg_LU_decomp(A, p, &s);
    gsl_linalg_LU_solve(A, p, bv, xv);
    memcpy(x, xv->data, n * sizeof(double));
    gsl_matrix_free(A);
    gsl_vector_free(bv);
    gsl_vector_free(xv);
    gsl_permutation_free(p);
}

Test(fixed_points, affine_map_has_its_one_point_and_spectrum)
{
    const size_t n = 4;
    sf_model f;
    sf_model_make(&f, "fp_linmap", "fp_systems", "{n: 4}", 2, 1, 1, 1);
    /* eigenvalues 1.5, 0.54 ± 0.72i (|λ| = 0.9), −0.3 */
    const double A[16] = {0.54, -0.72, 0.3, 0.1, 0.72, 0.54, 0.0, 0.2,
                          0.0,  0.0,   1.5, 0.4, 0.0,  0.0,  0.0, -0.3};
    const double B[8] = {1, 0, 0.5, -1, 0, 2, 0.3, 0.3}, c[4] = {0.1, -0.2, 0.3, 0.05};
    const double x[2] = {0.3, -0.7};
    set_block(f.m, "A", A);
    set_block(f.m, "B", B);
    set_block(f.m, "c", c);
    OK(kpf_model_theta_changed(f.m, &sf_err));
    double rhs[4], IA[16], zs[4];
    for (size_t i = 0; i < n; i++) {
        rhs[i] = c[i] + B[2 * i] * x[0] + B[2 * i + 1] * x[1];
        for (size_t j = 0; j < n; j++)
            IA[i * n + j] = (i == j) - A[i * n + j];
    }
    solve(n, IA, rhs, zs);
    double *z0 = gaussian(20 * n, 2.0, 4);
    kpf_fp_set *s = NULL;
    kpf_fp_stats st;
    OK(kpf_fp_find(f.m, x, 20, z0, NULL, &s, &st, &sf_err));
    cr_log_info("affine map: %zu point(s) after %zu LM steps, %zu converged", s->P,
                st.iterations, st.converged);
    cr_assert_eq(s->P, 1, "found %zu points", s->P);
    cr_expect_eq(st.converged, 20);
    cr_expect_leq(sf_maxdiff(s->z, zs, n), 1e-10, "z* off by %g", sf_maxdiff(s->z, zs, n));
    cr_expect_eq(s->kind[0], KPF_FP_FIXED);
    cr_expect(!s->continuous);
    const double re[4] = {1.5, 0.54, 0.54, -0.3}, im[4] = {0, 0.72, -0.72, 0};
    for (size_t i = 0; i < n; i++) {
        cr_expect_float_eq(s->ev_re[i], re[i], 1e-10, "Re λ_%zu = %g", i, s->ev_re[i]);
        cr_expect_float_eq(s->ev_im[i], im[i], 1e-10, "Im λ_%zu = %g", i, s->ev_im[i]);
    }
    cr_expect_eq(s->n_unstable[0], 1);
    cr_expect_eq(s->cls[0], KPF_FP_SADDLE);
    /* the leading eigenvector: A v = 1.5 v */
    const double *v = s->vec_re;
    for (size_t i = 0; i < n; i++) {
        double Av = 0;
        for (size_t j = 0; j < n; j++)
            Av += A[i * n + j] * v[j];
        cr_expect_float_eq(Av, 1.5 * v[i], 1e-10);
    }
    kpf_fp_set_free(s);
    free(z0);
    sf_model_free(&f);
}

/* Candidates on a grid of [−2, 2]² (z₁ = 0 included). */
static double *grid(size_t *R)
{
    *R = 9 * 5;
    double *z = malloc(*R * 2 * sizeof(double));
    for (size_t i = 0; i < 9; i++)
        for (size_t j = 0; j < 5; j++) {
            z[(i * 5 + j) * 2] = -2.0 + 0.5 * (double)i;
            z[(i * 5 + j) * 2 + 1] = -2.0 + (double)j;
        }
    return z;
}

static kpf_fp_set *pitchfork(const char *yaml, kpf_fp_stats *st)
{
    sf_model f;
    sf_model_make(&f, "fp_pitchfork", "fp_systems", yaml, 1, 1, 1, 1);
    size_t R;
    double *z0 = grid(&R);
    kpf_fp_set *s = NULL;
    OK(kpf_fp_find(f.m, NULL, R, z0, NULL, &s, st, &sf_err));
    free(z0);
    sf_model_free(&f);
    return s;
}

Test(fixed_points, pitchfork_before_and_after_the_bifurcation)
{
    kpf_fp_stats st;
    kpf_fp_set *s = pitchfork("{mu: -0.5}", &st);
    cr_assert_eq(s->P, 1, "μ < 0: %zu points", s->P);
    cr_expect_leq(fabs(s->z[0]) + fabs(s->z[1]), 1e-10);
    cr_expect_eq(s->cls[0], KPF_FP_STABLE);
    cr_expect(s->continuous);
    cr_expect_float_eq(s->ev_re[0], -0.5, 1e-10); /* descending Re: −0.5, −1 */
    cr_expect_float_eq(s->ev_re[1], -1.0, 1e-10);
    kpf_fp_set_free(s);

    s = pitchfork("{mu: 1.0}", &st);
    cr_log_info("pitchfork μ = 1: %zu points, %zu steps", s->P, st.iterations);
    cr_assert_eq(s->P, 3, "μ > 0: %zu points", s->P);
    int seen[3] = {0};
    for (size_t p = 0; p < 3; p++) {
        double z1 = s->z[2 * p], z2 = s->z[2 * p + 1];
        cr_expect_leq(fabs(z2), 1e-10);
        cr_expect_eq(s->kind[p], KPF_FP_FIXED);
        if (fabs(z1) < 1e-10) { /* the origin: a saddle, eigenvalues μ = 1 and −1 */
            seen[1]++;
            cr_expect_eq(s->cls[p], KPF_FP_SADDLE);
            cr_expect_eq(s->n_unstable[p], 1);
            cr_expect_float_eq(s->ev_re[2 * p], 1.0, 1e-10);
            cr_expect_float_eq(s->ev_re[2 * p + 1], -1.0, 1e-10);
            cr_expect_float_eq(fabs(s->vec_re[(p * s->n_vec) * 2]), 1.0, 1e-12,
                               "the unstable direction is z1");
        } else { /* ±√μ: stable, eigenvalues −1 and −2μ */
            seen[z1 > 0 ? 2 : 0]++;
            cr_expect_float_eq(fabs(z1), 1.0, 1e-10);
            cr_expect_eq(s->cls[p], KPF_FP_STABLE);
            cr_expect_float_eq(s->ev_re[2 * p], -1.0, 1e-10);
            cr_expect_float_eq(s->ev_re[2 * p + 1], -2.0, 1e-10);
        }
    }
    cr_expect(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    kpf_fp_set_free(s);
}

Test(fixed_points, saddle_node_ghost_is_one_slow_point)
{
    kpf_fp_stats st;
    kpf_fp_set *s = pitchfork("{mu: 0, cube: 0, square: 1, offset: 1e-3}", &st);
    cr_log_info("ghost: %zu points, q = %.6e, z = (%.2e, %.2e)", s->P, s->P ? s->q[0] : NAN,
                s->P ? s->z[0] : NAN, s->P ? s->z[1] : NAN);
    cr_assert_eq(s->P, 1, "%zu points", s->P);
    cr_expect_eq(s->kind[0], KPF_FP_SLOW);
    cr_expect_float_eq(s->q[0], 0.5e-6, 1e-3 * 0.5e-6, "q = %g, not c²/2", s->q[0]);
    cr_expect_leq(fabs(s->z[0]), 1e-3);
    kpf_fp_set_free(s);
}

/* Eigenvalues of W − I sorted by descending real part (Im > 0 first). */
static void w_minus_i(const double *W, size_t n, double *re, double *im)
{
    gsl_matrix *M = gsl_matrix_alloc(n, n);
    for (size_t i = 0; i < n * n; i++)
        M->data[i] = W[i] - (i / n == i % n);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    cr_assert_eq(gsl_eigen_nonsymm(M, ev, w), 0);
    for (size_t i = 0; i < n; i++) {
        re[i] = GSL_REAL(gsl_vector_complex_get(ev, i));
        im[i] = GSL_IMAG(gsl_vector_complex_get(ev, i));
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && (re[j] > re[j - 1] ||
                                     (re[j] == re[j - 1] && im[j] > im[j - 1])); j--) {
            double t = re[j]; re[j] = re[j - 1]; re[j - 1] = t;
            t = im[j]; im[j] = im[j - 1]; im[j - 1] = t;
        }
    gsl_eigen_nonsymm_free(w);
    gsl_vector_complex_free(ev);
    gsl_matrix_free(M);
}

Test(fixed_points, tanh_rnn_below_g1_has_only_the_origin)
{
    const size_t n = 8;
    sf_model f;
    sf_model_make(&f, "rnn", NULL, "{n: 8, g: 0.6}", 2, 1, 1, 3);
    double *z0 = gaussian(64 * n, 1.5, 8), re[8], im[8];
    w_minus_i(f.m->theta + kpf_model_block(f.m, "W")->offset, n, re, im);
    for (int path = 0; path < 2; path++) { /* dense, then ARPACK for the top 3 */
        kpf_fp_opts o = kpf_fp_opts_default();
        if (path)
            o.dense_max = 4, o.n_eigs = 3;
        kpf_fp_set *s = NULL;
        kpf_fp_stats st;
        OK(kpf_fp_find(f.m, NULL, 64, z0, &o, &s, &st, &sf_err));
        cr_log_info("tanh rnn g = 0.6 (%s): %zu point(s), %zu/64 converged in %zu steps",
                    path ? "ARPACK" : "dense", s->P, st.converged, st.iterations);
        cr_assert_eq(s->P, 1, "%zu points", s->P);
        double norm = 0;
        for (size_t k = 0; k < n; k++)
            norm = fmax(norm, fabs(s->z[k]));
        cr_expect_leq(norm, 1e-10, "not the origin: %g", norm);
        cr_expect_eq(s->cls[0], KPF_FP_STABLE);
        cr_expect_eq(s->n_ev, path ? 3 : n);
        for (size_t i = 0; i < s->n_ev; i++) {
            cr_expect_float_eq(s->ev_re[i], re[i], 1e-9, "Re λ_%zu %g vs %g", i, s->ev_re[i],
                               re[i]);
            cr_expect_float_eq(s->ev_im[i], im[i], 1e-9, "Im λ_%zu %g vs %g", i, s->ev_im[i],
                               im[i]);
        }
        kpf_fp_set_free(s);
    }
    free(z0);
    sf_model_free(&f);
}

Test(fixed_points, max_step_bounds_every_step)
{
    sf_model f;
    sf_model_make(&f, "fp_pitchfork", "fp_systems", "{mu: 1.0}", 1, 1, 1, 1);
    const size_t R = 16;
    double *z0 = gaussian(R * 2, 2.0, 6), z[32], q[16], q0[16];
    memcpy(z, z0, sizeof z);
    kpf_fp_opts o = kpf_fp_opts_default();
    o.max_step = 0.1;
    o.max_iter = 3;
    OK(kpf_fp_minimise(f.m, NULL, R, z, q0, &(kpf_fp_opts){.max_iter = 1, .max_step = 1e-300,
                                                          .q_stop = 0}, NULL, &sf_err));
    memcpy(z, z0, sizeof z); /* q0: q at the start (steps of 1e-300 change nothing) */
    OK(kpf_fp_minimise(f.m, NULL, R, z, q, &o, NULL, &sf_err));
    for (size_t i = 0; i < R; i++) {
        double d = hypot(z[2 * i] - z0[2 * i], z[2 * i + 1] - z0[2 * i + 1]);
        cr_expect_leq(d, 0.3 + 1e-12, "candidate %zu moved %g in 3 steps of at most 0.1", i, d);
        cr_expect_leq(q[i], q0[i], "q rose for candidate %zu", i);
    }
    free(z0);
    sf_model_free(&f);
}

Test(fixed_points, select_deduplicates_and_orders)
{
    /* four minimisers in 2-D: two copies of one point, one slow, one rejected */
    const double z[8] = {1, 1, 1 + 1e-5, 1, 0, 0, 5, 5};
    const double q[4] = {1e-20, 1e-25, 1e-6, 1.0};
    kpf_fp_set *s = NULL;
    OK(kpf_fp_select(4, 2, z, q, NULL, &s, &sf_err));
    cr_assert_eq(s->P, 2);
    cr_expect_float_eq(s->z[0], 1 + 1e-5, 0, "the lower q of the two copies is kept");
    cr_expect_eq(s->kind[0], KPF_FP_FIXED);
    cr_expect_eq(s->kind[1], KPF_FP_SLOW);
    kpf_fp_set_free(s);
}

Test(fixed_points, analysis_in_a_run, .init = tu_mktmp, .fini = tu_rmtmp, .timeout = 120)
{
    tu_write("f.yaml", "seed: 2\ntask: {name: memory_pro, t_stim: 3, t_memory: 3, "
                       "t_response: 3}\nmodel: {plugin: rnn, n: 6, g: 0.5}\n"
                       "train: {iterations: 2, batch: 4, lr: 0.001}\n"
                       "analysis:\n  trials: 4\n  k: 3\n  operators: [K]\n"
                       "  fixed_points: {candidates: 32, noise: 0.5, period: memory}\n");
    cr_assert_eq(tu_sh("%s run %s/f.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    OK(kpf_h5_open(p, &h, &sf_err));
    double *cnt = sf_read(h, "/snapshots/2/fixed_points/count", NULL);
    cr_expect_eq(cnt[0], 1.0, "a g = 0.5 RNN without input: the origin only (%g)", cnt[0]);
    size_t np;
    double *pts = sf_read(h, "/snapshots/2/fixed_points/points", &np);
    cr_assert_eq(np, 6);
    cr_expect_leq(fabs(pts[0]) + fabs(pts[5]), 1e-8);
    size_t ny;
    double *y = sf_read(h, "/snapshots/2/fixed_points/outputs", &ny);
    cr_expect_eq(ny, 3, "one readout of n_out = 3 per point");
    free(y);
    kpf_h5_close(h, NULL);
    cr_expect_eq(tu_sh("grep -A4 '\"fixed_points\": {' %s/o/summary.json | grep -c '\"stable\": 1'",
                       tu_tmp), 0, "%s", tu_out);
    if (tu_sh("command -v gnuplot") == 0) {
        cr_expect(tu_exists("o/fixed_points.png"));
        snprintf(p, sizeof p, "%s/o/fixed_points.h5", tu_tmp);
        OK(kpf_h5_open(p, &h, &sf_err));
        double *c2 = sf_read(h, "/count", NULL);
        cr_expect_eq(c2[0], 1.0);
        free(c2);
        kpf_h5_close(h, NULL);
    }
    free(cnt);
    free(pts);
    tu_write("g.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 4}\nanalysis:\n"
                       "  fixed_points: {input: [0, 1]}\n");
    cr_expect_eq(tu_sh("%s run %s/g.yaml -o %s/q", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_expect(strstr(tu_out, "g.yaml:4:25: analysis.fixed_points.input: expected a list of the "
                             "task's 3 inputs"), "%s", tu_out);
    tu_write("h.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 4}\nanalysis:\n"
                       "  fixed_points: {period: delay}\n");
    cr_expect_eq(tu_sh("%s run %s/h.yaml -o %s/q", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_expect(strstr(tu_out, "h.yaml:4:26: analysis.fixed_points.period: task 'memory_pro' has "
                             "no period 'delay' (its periods: stimulus, memory, response)"),
              "%s", tu_out);
}
