/* Lyapunov tools: exponents of linear maps against log|eig|, finite-time
 * and consensus spectra against fundamental matrices formed independently,
 * QR against direct simulation on a chaotic rnn, the conditioning
 * diagnostic, Kaplan–Yorke, and argument errors; KPFlow's own map (n = 64,
 * paper-g 3) against direct simulation and the log-determinant sum rule. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_sort_vector.h>

#include "kpf/config.h"
#include "kpf/instance.h"
#include "kpf/kpflow.h"
#include "kpf/lyapunov.h"
#include "kpf/plugin.h"
#include "kpf/trajectory.h"

static kpf_error err;
static kpf_registry *reg;
static kpf_config *cfg;
static kpf_model *m;
static kpf_traj *tr;

static void make(const char *plugin_path, const char *name, const char *yaml, size_t n_in,
                 size_t B, size_t T)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
    if (plugin_path)
        cr_assert_eq(kpf_registry_add_file(reg, plugin_path, &err), KPF_OK, "%s", err.msg);
    else
        cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, name, &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_load_string(yaml, "t.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_create(p, kpf_config_root(cfg), n_in, 1, B, 7, &m, &err), KPF_OK,
                 "%s", err.msg);
    cr_assert_eq(kpf_traj_alloc(m, B, T, &tr, &err), KPF_OK, "%s", err.msg);
}

static void simulate(void) { cr_assert_eq(kpf_simulate(m, tr, &err), KPF_OK, "%s", err.msg); }

static void cleanup(void)
{
    kpf_traj_free(tr);
    kpf_model_free(m);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
    tr = NULL;
    m = NULL;
    cfg = NULL;
    reg = NULL;
}

TestSuite(lyap, .fini = cleanup);

static void linode(const char *yaml, size_t B, size_t T)
{
    make(KPF_TEST_PLUGIN_DIR "/linode.so", "linode", yaml, 1, B, T);
    simulate(); /* x = 0: the state decays, the tangent is I + hA regardless */
}

/* log|eig(I + hA)| / h, descending, with A read from θ. */
static void linear_exponents(double *ref)
{
    size_t n = m->n;
    gsl_matrix *M = gsl_matrix_alloc(n, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(M, i, j, (i == j) + m->dt * m->theta[i * n + j]);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    cr_assert_eq(gsl_eigen_nonsymm(M, ev, w), 0);
    for (size_t i = 0; i < n; i++)
        ref[i] = log(gsl_complex_abs(gsl_vector_complex_get(ev, i))) / m->dt;
    gsl_sort(ref, 1, n);
    for (size_t i = 0; i < n / 2; i++) { /* descending */
        double t = ref[i];
        ref[i] = ref[n - 1 - i];
        ref[n - 1 - i] = t;
    }
    gsl_eigen_nonsymm_free(w);
    gsl_vector_complex_free(ev);
    gsl_matrix_free(M);
}

Test(lyap, linear_map_exponents_are_log_abs_eigenvalues)
{
    linode("n: 5\nscale: 1.5\ndecay: 1.0\nstep: euler\ndt: 0.1\n", 2, 20000);
    double ref[5], lam[10], lmax[2];
    linear_exponents(ref);
    kpf_lyap_opts o = {.k = 5, .t_ons = 1, .start = 0, .transient = 2000, .seed = 1};
    kpf_lyap_diag d;
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, &d, &err), KPF_OK, "%s", err.msg);
    double e = 0.0;
    for (size_t b = 0; b < 2; b++)
        for (size_t i = 0; i < 5; i++)
            e = fmax(e, fabs(lam[b * 5 + i] - ref[i]));
    cr_log_info("linode n=5 euler h=0.1, T=2000: λ_ref = %.5f %.5f %.5f %.5f %.5f; max |Δλ| = "
                "%.2e; cond %.3g",
                ref[0], ref[1], ref[2], ref[3], ref[4], e, d.cond_first);
    cr_assert_lt(e, 2e-3, "QR exponents off by %g", e);
    cr_assert_eq(d.n_qr, 18000);
    cr_assert_float_eq(d.time, 1800.0, 1e-9);
    cr_assert(!d.ill_conditioned);
    /* DNS of a linear map is exact up to its own averaging */
    cr_assert_eq(kpf_lyapunov_dns(m, tr, &o, 0.0, lmax, &err), KPF_OK, "%s", err.msg);
    cr_assert_lt(fabs(lmax[0] - ref[0]), 2e-3, "dns %g vs %g", lmax[0], ref[0]);
}

Test(lyap, rk4_map_exponents_use_the_rk4_polynomial)
{
    linode("n: 4\nscale: 1.0\ndecay: 0.8\nstep: rk4\ndt: 0.5\n", 1, 8000);
    size_t n = 4;
    double h = 0.5, lam[4], ref[4];
    /* F'(z) = 1 + hA + (hA)²/2 + (hA)³/6 + (hA)⁴/24, eigenvalues p(hμ) */
    gsl_matrix *A = gsl_matrix_alloc(n, n);
    memcpy(A->data, m->theta, n * n * sizeof(double));
    gsl_vector_complex *mu = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    cr_assert_eq(gsl_eigen_nonsymm(A, mu, w), 0);
    for (size_t i = 0; i < n; i++) {
        gsl_complex x = gsl_complex_mul_real(gsl_vector_complex_get(mu, i), h), p = {{1, 0}},
                    term = {{1, 0}};
        for (int j = 1; j <= 4; j++) {
            term = gsl_complex_mul_real(gsl_complex_mul(term, x), 1.0 / j);
            p = gsl_complex_add(p, term);
        }
        ref[i] = log(gsl_complex_abs(p)) / h;
    }
    gsl_sort(ref, 1, n);
    kpf_lyap_opts o = {.k = n, .t_ons = 3, .transient = 600, .seed = 2};
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, NULL, &err), KPF_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        cr_assert_lt(fabs(lam[i] - ref[n - 1 - i]), 3e-3, "λ_%zu = %g vs %g", i, lam[i],
                     ref[n - 1 - i]);
    gsl_eigen_nonsymm_free(w);
    gsl_vector_complex_free(mu);
    gsl_matrix_free(A);
}

/* ---- finite-time and consensus spectra ------------------------------------ */

/* Φ_b over [0, k1) column by column through the fundamental operator U
 * (an independent code path): column i = (U e_{b,i}) at step k1−1. */
static void phi_from_U(size_t k1, size_t b, gsl_matrix *Phi)
{
    kpf_op *U = NULL;
    cr_assert_eq(kpf_op_fundamental(m, tr, &U, &err), KPF_OK, "%s", err.msg);
    size_t n = m->n, B = tr->B;
    double *e = calloc(B * n, sizeof(double)), *out = malloc(tr->T * B * n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        e[b * n + i] = 1.0;
        cr_assert_eq(kpf_op_apply(U, e, out, &err), KPF_OK, "%s", err.msg);
        e[b * n + i] = 0.0;
        for (size_t r = 0; r < n; r++)
            gsl_matrix_set(Phi, r, i, out[((k1 - 1) * B + b) * n + r]);
    }
    free(e);
    free(out);
    kpf_op_free(U);
}

static void small_rnn(size_t B, size_t T)
{
    make(NULL, "rnn", "n: 5\ng: 1.8\ndt: 0.2\n", 1, B, T);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < B * T; i++)
        tr->x[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    simulate();
}

/* The reference forms Φ and takes its SVD, which resolves σ_n only down to
 * ~ε·σ_1: the window is kept short enough (spread ~1e-4) for it to be exact. */
Test(lyap, ftle_and_consensus_match_fundamental_matrices_from_U)
{
    const size_t B = 3, T = 12, n = 5, k1 = 10;
    small_rnn(B, T);
    double ftle[3 * 5], cons[5], t = tr->dt * (double)k1;
    cr_assert_eq(kpf_lyapunov_ftle(m, tr, 0, k1, 3, ftle, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_lyapunov_consensus(m, tr, 0, k1, 3, cons, &err), KPF_OK, "%s", err.msg);
    gsl_matrix *Phi = gsl_matrix_alloc(n, n), *G = gsl_matrix_calloc(n, n),
               *V = gsl_matrix_alloc(n, n);
    gsl_vector *S = gsl_vector_alloc(n), *work = gsl_vector_alloc(n);
    double fe = 0.0;
    for (size_t b = 0; b < B; b++) {
        phi_from_U(k1, b, Phi);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0 / B, Phi, Phi, 1.0, G); /* G += ΦΦᵀ/B */
        gsl_linalg_SV_decomp(Phi, V, S, work);
        for (size_t i = 0; i < n; i++)
            fe = fmax(fe, fabs(ftle[b * n + i] - log(gsl_vector_get(S, i)) / t));
    }
    gsl_vector *mu = gsl_vector_alloc(n);
    gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(n);
    gsl_eigen_symm(G, mu, w);
    gsl_sort_vector(mu);
    double ce = 0.0;
    for (size_t i = 0; i < n; i++)
        ce = fmax(ce, fabs(cons[i] - log(gsl_vector_get(mu, n - 1 - i)) / (2 * t)));
    cr_log_info("rnn n=5 window 10 steps: ftle err %.2e, consensus err %.2e; consensus λ = %.4f "
                "%.4f %.4f %.4f %.4f",
                fe, ce, cons[0], cons[1], cons[2], cons[3], cons[4]);
    cr_assert_lt(fe, 1e-10);
    cr_assert_lt(ce, 1e-10);
    gsl_eigen_symm_free(w);
    gsl_vector_free(mu);
    gsl_matrix_free(Phi);
    gsl_matrix_free(G);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(work);
}

Test(lyap, consensus_of_identical_trials_is_the_single_trial_ftle)
{
    linode("n: 4\nstep: euler\ndt: 0.2\n", 3, 50);
    double ftle[12], cons[4];
    cr_assert_eq(kpf_lyapunov_ftle(m, tr, 10, 50, 4, ftle, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_lyapunov_consensus(m, tr, 10, 50, 4, cons, &err), KPF_OK, "%s", err.msg);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_float_eq(ftle[i], ftle[4 + i], 1e-13);
        cr_assert_float_eq(cons[i], ftle[i], 1e-10, "λ_%zu: %g vs %g", i, cons[i], ftle[i]);
    }
    /* a one-step window is log σ(I + hA) / h */
    double one[12];
    cr_assert_eq(kpf_lyapunov_ftle(m, tr, 7, 8, 1, one, &err), KPF_OK);
    gsl_matrix *M = gsl_matrix_alloc(4, 4), *V = gsl_matrix_alloc(4, 4);
    gsl_vector *S = gsl_vector_alloc(4), *work = gsl_vector_alloc(4);
    for (size_t i = 0; i < 16; i++)
        M->data[i] = (i % 5 == 0) + 0.2 * m->theta[i];
    gsl_linalg_SV_decomp(M, V, S, work);
    for (size_t i = 0; i < 4; i++)
        cr_assert_float_eq(one[i], log(gsl_vector_get(S, i)) / 0.2, 1e-12);
    gsl_matrix_free(M);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(work);
}

/* At the sizes of the papers' networks: GSL's Jacobi SVD, used here
 * before, stopped early from about 80 columns on and gave singular values
 * off by percents with no error; LAPACK's dgesvj must match a Golub–Reinsch
 * SVD of the one-step map I + hA (well conditioned, so both are exact). */
Test(lyap, ftle_and_consensus_at_n100_match_a_dense_svd)
{
    const size_t n = 100;
    linode("n: 100\nstep: euler\ndt: 0.2\n", 2, 4);
    double *one = malloc(2 * n * sizeof(double)), *cons = malloc(n * sizeof(double));
    cr_assert_eq(kpf_lyapunov_ftle(m, tr, 1, 2, 1, one, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_lyapunov_consensus(m, tr, 1, 2, 1, cons, &err), KPF_OK, "%s", err.msg);
    gsl_matrix *M = gsl_matrix_alloc(n, n), *V = gsl_matrix_alloc(n, n);
    gsl_vector *S = gsl_vector_alloc(n), *work = gsl_vector_alloc(n);
    for (size_t i = 0; i < n * n; i++)
        M->data[i] = (i % (n + 1) == 0) + 0.2 * m->theta[i];
    gsl_linalg_SV_decomp(M, V, S, work);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double ref = log(gsl_vector_get(S, i)) / 0.2;
        worst = fmax(worst, fabs(one[i] - ref));
        worst = fmax(worst, fabs(one[n + i] - ref)); /* the map is the same for both trials */
        worst = fmax(worst, fabs(cons[i] - ref));
    }
    cr_log_info("n=100 one-step FTLE and consensus vs Golub-Reinsch: max error %.2e", worst);
    cr_expect_lt(worst, 1e-10, "max error %.3g", worst);
    gsl_matrix_free(M);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(work);
    free(one);
    free(cons);
}

/* ---- chaos: QR against direct simulation ----------------------------------- */

Test(lyap, chaotic_rnn_largest_exponent_qr_matches_direct_simulation, .timeout = 120)
{
    const size_t B = 2, T = 12000, n = 100;
    make(NULL, "rnn", "n: 100\ng: 2.5\ndt: 0.5\n", 1, B, T);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < 10 * B; i++) /* a kick off the fixed point z = 0 */
        tr->x[i] = 3.0 * gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    simulate();
    kpf_lyap_opts o = {.k = 10, .t_ons = 2, .start = 1000, .transient = 1000, .seed = 3};
    double lam[2 * 10], dns[2], ky;
    kpf_lyap_diag d;
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, &d, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_lyapunov_dns(m, tr, &o, 1e-6, dns, &err), KPF_OK, "%s", err.msg);
    for (size_t b = 0; b < B; b++) {
        double rel = fabs(lam[b * 10] - dns[b]) / fabs(dns[b]);
        cr_assert_eq(kpf_kaplan_yorke(lam + b * 10, 10, &ky, &err), KPF_OK);
        cr_log_info("rnn n=%zu g=2.5 dt=0.5, trial %zu, t=%.0f: λ1 QR %.5f, DNS %.5f (rel %.1e); "
                    "λ2..4 %.4f %.4f %.4f; λ10 %.4f; cond %.3g",
                    n, b, d.time, lam[b * 10], dns[b], rel, lam[b * 10 + 1], lam[b * 10 + 2],
                    lam[b * 10 + 3], lam[b * 10 + 9], d.cond_first);
        cr_assert_gt(lam[b * 10], 0.0, "not chaotic: λ1 = %g", lam[b * 10]);
        cr_assert_lt(rel, 0.02, "QR %g vs DNS %g", lam[b * 10], dns[b]);
        cr_assert(ky > 1.0 && ky <= 10.0, "Kaplan–Yorke %g", ky);
    }
    cr_assert(!d.ill_conditioned);
}

/* KPFlow's map at its chaotic setting, small: z' = W tanh(z) + W_in x (Euler,
 * dt = 1, the z-form of nn.RNN's h' = tanh(W h + W_in x) through h = tanh z),
 * Gaussian gain √3 (paper-g 3 under PyTorch's uniform init), n = 64 (at
 * n = 32 this seed's network settles: λ1 < 0, nothing to compare).  Two
 * checks that share no code with the QR loop: λ1 against direct simulation
 * of a 1e-6 perturbation renormalised every 5 steps, and the sum of all 64
 * exponents against the time average of log|det J_t| = log|det W| +
 * Σ_j log(1 − tanh² z_j), which QR must reproduce exactly (Σ log|R_ii| over
 * a block is log|det| of the block's Jacobian product). */
Test(lyap, paper_map_n64_qr_matches_direct_simulation_and_det_sum, .timeout = 60)
{
    enum { NN = 64 };
    const size_t B = 2, T = 6000, n = NN;
    make(NULL, "rnn", "n: 64\ng: 1.7320508075688772\n", 1, B, T);
    cr_assert_float_eq(m->dt, 1.0, 0.0);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < 30 * B; i++) /* memory-pro-like: a 30-step input, then none */
        tr->x[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    simulate();
    /* QR every step: the spectrum spans ~7 per step, so longer blocks lose
     * the smallest exponents to rounding (the cond diagnostic says so) */
    kpf_lyap_opts o = {.k = n, .t_ons = 1, .start = 0, .transient = 500, .seed = 9},
                  od = o;
    od.t_ons = 5;
    double lam[2 * NN], dns[2];
    kpf_lyap_diag d;
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, &d, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_lyapunov_dns(m, tr, &od, 1e-6, dns, &err), KPF_OK, "%s", err.msg);
    /* log|det W| by LU (W is θ's first n×n block) */
    gsl_matrix *W = gsl_matrix_alloc(n, n);
    memcpy(W->data, m->theta, n * n * sizeof(double));
    gsl_permutation *perm = gsl_permutation_alloc(n);
    int sgn;
    cr_assert_eq(gsl_linalg_LU_decomp(W, perm, &sgn), 0);
    double logdetW = gsl_linalg_LU_lndet(W);
    gsl_permutation_free(perm);
    gsl_matrix_free(W);
    for (size_t b = 0; b < B; b++) {
        double ref = 0.0, sum = 0.0, ky;
        for (size_t step = o.transient; step < T; step++) {
            const double *z = kpf_traj_state_before(tr, step) + b * n;
            ref += logdetW;
            for (size_t j = 0; j < n; j++)
                ref += log1p(-tanh(z[j]) * tanh(z[j]));
        }
        ref /= (double)(T - o.transient);
        for (size_t i = 0; i < n; i++)
            sum += lam[b * n + i];
        double rel = fabs(lam[b * n] - dns[b]) / fabs(dns[b]);
        cr_assert_eq(kpf_kaplan_yorke(lam + b * n, n, &ky, &err), KPF_OK);
        cr_log_info("paper map n=64 g=sqrt3 dt=1, trial %zu, t=%.0f: λ1 QR %.5f, DNS %.5f (rel "
                    "%.1e); Σλ %.6f vs <log|det J|> %.6f; λ_n %.4f; KY %.2f; cond %.3g",
                    b, d.time, lam[b * n], dns[b], rel, sum, ref, lam[b * n + n - 1], ky,
                    d.cond_diag_max);
        cr_assert_gt(dns[b], 0.0, "not chaotic: DNS λ1 = %g", dns[b]);
        cr_assert_lt(rel, 0.02, "QR %g vs DNS %g", lam[b * n], dns[b]);
        cr_assert_lt(fabs(sum - ref), 1e-9 * (1.0 + fabs(ref)), "Σλ %g vs %g", sum, ref);
        cr_assert(ky > 1.0 && ky < (double)n, "Kaplan–Yorke %g", ky);
    }
    cr_assert(!d.ill_conditioned, "cond %g", d.cond_diag_max);
}

/* ---- diagnostics, Kaplan–Yorke, errors ------------------------------------- */

Test(lyap, long_orthonormalisation_interval_is_flagged)
{
    linode("n: 4\nscale: 3.0\ndecay: 4.0\nstep: euler\ndt: 0.05\n", 1, 4000);
    double ref[4], lam[4];
    linear_exponents(ref);
    kpf_lyap_opts o = {.k = 4, .t_ons = 1, .transient = 500, .seed = 4};
    kpf_lyap_diag d;
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, &d, &err), KPF_OK);
    cr_assert(!d.ill_conditioned, "t_ons = 1 flagged (cond %g)", d.cond_first);
    o.t_ons = 400; /* (λ1 − λ4)·20 time units */
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, &d, &err), KPF_OK);
    cr_log_info("spread λ1−λ4 = %.3f: cond at t_ons=400 steps: exact %.3g, diag bound %.3g",
                ref[0] - ref[3], d.cond_first, d.cond_diag_max);
    cr_assert(d.ill_conditioned, "cond %g not flagged", d.cond_first);
}

Test(lyap, kaplan_yorke_of_known_spectra)
{
    double D;
    double a[4] = {-0.5, 1.0, -1.0, 0.0}; /* sorted: 1, 0, −0.5, −1 → 3 + 0.5/1 */
    cr_assert_eq(kpf_kaplan_yorke(a, 4, &D, &err), KPF_OK);
    cr_assert_float_eq(D, 3.5, 1e-15);
    double b[3] = {0.5, -1.0, -2.0};
    cr_assert_eq(kpf_kaplan_yorke(b, 3, &D, &err), KPF_OK);
    cr_assert_float_eq(D, 1.5, 1e-15);
    double c[2] = {-1.0, -2.0};
    cr_assert_eq(kpf_kaplan_yorke(c, 2, &D, &err), KPF_OK);
    cr_assert_float_eq(D, 0.0, 1e-15);
    double e[2] = {1.0, 0.5};
    cr_assert_eq(kpf_kaplan_yorke(e, 2, &D, &err), KPF_OK);
    cr_assert_float_eq(D, 2.0, 1e-15);
    cr_assert_eq(kpf_kaplan_yorke(e, 0, &D, &err), KPF_EINVAL);
}

Test(lyap, bad_arguments_are_statuses)
{
    linode("n: 3\nstep: euler\n", 1, 100);
    double lam[4];
    kpf_lyap_opts o = {.k = 4, .t_ons = 1};
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, NULL, &err), KPF_EINVAL);
    cr_assert(strstr(err.msg, "k = 4"), "%s", err.msg);
    o = (kpf_lyap_opts){.k = 2, .t_ons = 10, .start = 50, .transient = 45};
    cr_assert_eq(kpf_lyapunov_qr(m, tr, &o, lam, NULL, &err), KPF_EINVAL);
    cr_assert_eq(kpf_lyapunov_dns(m, tr, &o, 0.0, lam, &err), KPF_EINVAL);
    cr_assert_eq(kpf_lyapunov_ftle(m, tr, 50, 50, 1, lam, &err), KPF_EINVAL);
    cr_assert_eq(kpf_lyapunov_ftle(m, tr, 0, 101, 1, lam, &err), KPF_EINVAL);
}
