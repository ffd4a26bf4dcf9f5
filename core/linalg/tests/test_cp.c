/* CP/PARAFAC by ALS (kpf/cp.h): recovery of planted factors, variance
 * explained per rank, the factor-match score's invariances, unfolding
 * spectra, and the SVD helper they rest on. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/cp.h"
#include "kpf/delta_w.h"

static kpf_error err;

/* A planted decomposition with N(0,1) factors (normalised by kpf_cp
 * conventions only through the score, which is scale-free). */
static kpf_cp planted(size_t I, size_t J, size_t K, size_t R, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    kpf_cp c = {.I = I, .J = J, .K = K, .R = R};
    c.A = malloc(I * R * sizeof(double));
    c.B = malloc(J * R * sizeof(double));
    c.C = malloc(K * R * sizeof(double));
    c.lambda = malloc(R * sizeof(double));
    for (size_t i = 0; i < I * R; i++)
        c.A[i] = gsl_ran_gaussian(rng, 1);
    for (size_t i = 0; i < J * R; i++)
        c.B[i] = gsl_ran_gaussian(rng, 1);
    for (size_t i = 0; i < K * R; i++)
        c.C[i] = gsl_ran_gaussian(rng, 1);
    double *F[3] = {c.A, c.B, c.C};
    size_t rows[3] = {I, J, K};
    for (size_t r = 0; r < R; r++) {
        c.lambda[r] = 1.0 + 2.0 * (double)(R - r); /* distinct weights */
        for (int f = 0; f < 3; f++) {
            double s = 0;
            for (size_t i = 0; i < rows[f]; i++)
                s += F[f][i * R + r] * F[f][i * R + r];
            for (size_t i = 0; i < rows[f]; i++)
                F[f][i * R + r] /= sqrt(s);
        }
    }
    gsl_rng_free(rng);
    return c;
}

Test(cp, recovers_planted_rank3_factors)
{
    const size_t I = 15, J = 14, K = 12, R = 3;
    kpf_cp truth = planted(I, J, K, R, 3);
    double *X = malloc(I * J * K * sizeof(double));
    kpf_cp_reconstruct(&truth, X);
    kpf_cp_opts o;
    kpf_cp_opts_default(&o);
    o.seed = 11;
    kpf_cp fit;
    cr_assert_eq(kpf_cp_als(X, I, J, K, R, &o, &fit, &err), KPF_OK, "%s", err.msg);
    cr_expect_gt(fit.ve, 1 - 1e-10, "VE %.15f", fit.ve);
    double score;
    size_t perm[3];
    cr_assert_eq(kpf_cp_match_score(&truth, &fit, 1, &score, perm, &err), KPF_OK, "%s",
                 err.msg);
    cr_expect_gt(score, 0.99, "factor-match score %.6f", score);
    /* normalised factors, λ sorted descending and matching the planted ones */
    for (size_t r = 0; r < R; r++) {
        double s = 0;
        for (size_t i = 0; i < I; i++)
            s += fit.A[i * R + r] * fit.A[i * R + r];
        cr_expect_float_eq(s, 1.0, 1e-12);
        if (r)
            cr_expect_geq(fit.lambda[r - 1], fit.lambda[r]);
        cr_expect_float_eq(fit.lambda[perm[r]], truth.lambda[r], 1e-6 * truth.lambda[r]);
    }
    kpf_cp_free(&fit);
    kpf_cp_free(&truth);
    free(X);
}

Test(cp, noisy_planted_tensor_still_matches)
{
    const size_t I = 20, J = 20, K = 10, R = 3;
    kpf_cp truth = planted(I, J, K, R, 5);
    double *X = malloc(I * J * K * sizeof(double));
    kpf_cp_reconstruct(&truth, X);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double xx = 0;
    for (size_t i = 0; i < I * J * K; i++)
        xx += X[i] * X[i];
    double sd = 0.05 * sqrt(xx / (double)(I * J * K));
    for (size_t i = 0; i < I * J * K; i++)
        X[i] += gsl_ran_gaussian(rng, sd);
    gsl_rng_free(rng);
    kpf_cp fit;
    cr_assert_eq(kpf_cp_als(X, I, J, K, R, NULL, &fit, &err), KPF_OK, "%s", err.msg);
    double score;
    cr_assert_eq(kpf_cp_match_score(&truth, &fit, 0, &score, NULL, &err), KPF_OK);
    cr_expect_gt(score, 0.95, "score %.4f at 5%% noise", score);
    cr_expect(fit.ve > 0.99 && fit.ve < 1.0, "VE %.5f", fit.ve);
    kpf_cp_free(&fit);
    kpf_cp_free(&truth);
    free(X);
}

Test(cp, variance_explained_saturates_at_the_planted_rank)
{
    const size_t I = 12, J = 12, K = 15, R = 3;
    kpf_cp truth = planted(I, J, K, R, 8);
    double *X = malloc(I * J * K * sizeof(double));
    kpf_cp_reconstruct(&truth, X);
    double ve[5];
    kpf_cp_opts o;
    kpf_cp_opts_default(&o);
    o.restarts = 3;
    cr_assert_eq(kpf_cp_ve_sweep(X, I, J, K, 5, &o, ve, &err), KPF_OK, "%s", err.msg);
    cr_expect_lt(ve[1], 0.995, "rank 2 explains %.6f", ve[1]);
    cr_expect_gt(ve[2], 1 - 1e-9, "rank 3 explains %.12f", ve[2]);
    cr_expect_gt(ve[4], 1 - 1e-6, "rank 5 explains %.12f", ve[4]);
    cr_expect_lt(ve[0], ve[1]);
    kpf_cp_free(&truth);
    free(X);
}

Test(cp, seeded_restarts_are_deterministic)
{
    const size_t I = 8, J = 9, K = 7;
    kpf_cp truth = planted(I, J, K, 4, 9);
    double *X = malloc(I * J * K * sizeof(double));
    kpf_cp_reconstruct(&truth, X);
    kpf_cp_opts o;
    kpf_cp_opts_default(&o);
    o.seed = 3;
    o.max_iter = 50; /* unconverged, so the start matters */
    kpf_cp a, b;
    cr_assert_eq(kpf_cp_als(X, I, J, K, 2, &o, &a, &err), KPF_OK);
    cr_assert_eq(kpf_cp_als(X, I, J, K, 2, &o, &b, &err), KPF_OK);
    cr_expect_eq(memcmp(a.A, b.A, I * 2 * sizeof(double)), 0);
    cr_expect_eq(memcmp(a.C, b.C, K * 2 * sizeof(double)), 0);
    cr_expect_eq(a.restart, b.restart);
    kpf_cp_free(&a);
    kpf_cp_free(&b);
    kpf_cp_free(&truth);
    free(X);
}

Test(cp, match_score_ignores_sign_scale_and_order_only)
{
    const size_t I = 10, J = 9, K = 8, R = 4;
    kpf_cp a = planted(I, J, K, R, 21), b = planted(I, J, K, R, 21), c = planted(I, J, K, R, 22);
    /* b: components reversed, a- and c-factors of component 0 negated,
     * b-factor of component 1 scaled (scores read unit columns, so rescale
     * back: the score is defined on normalised decompositions) */
    kpf_cp p = planted(I, J, K, R, 21);
    for (size_t r = 0; r < R; r++) {
        size_t s = R - 1 - r;
        double sg = r == 0 ? -1.0 : 1.0;
        for (size_t i = 0; i < I; i++)
            p.A[i * R + s] = sg * b.A[i * R + r];
        for (size_t j = 0; j < J; j++)
            p.B[j * R + s] = b.B[j * R + r];
        for (size_t k = 0; k < K; k++)
            p.C[k * R + s] = sg * b.C[k * R + r];
        p.lambda[s] = b.lambda[r];
    }
    double sc;
    size_t perm[4];
    cr_assert_eq(kpf_cp_match_score(&a, &p, 1, &sc, perm, &err), KPF_OK);
    cr_expect_float_eq(sc, 1.0, 1e-12);
    for (size_t r = 0; r < R; r++)
        cr_expect_eq(perm[r], R - 1 - r);
    cr_assert_eq(kpf_cp_match_score(&a, &c, 0, &sc, NULL, &err), KPF_OK);
    cr_expect_lt(sc, 0.3, "unrelated factors score %.3f", sc);
    /* the λ penalty: same factors, weights halved */
    for (size_t r = 0; r < R; r++)
        p.lambda[r] *= 0.5;
    cr_assert_eq(kpf_cp_match_score(&a, &p, 1, &sc, NULL, &err), KPF_OK);
    cr_expect_float_eq(sc, 0.5, 1e-12);
    kpf_cp_free(&a), kpf_cp_free(&b), kpf_cp_free(&c), kpf_cp_free(&p);
}

Test(cp, unfolding_ranks_and_rank_one_spectrum)
{
    const size_t I = 6, J = 7, K = 9, R = 3;
    kpf_cp t = planted(I, J, K, R, 4);
    double *X = malloc(I * J * K * sizeof(double));
    kpf_cp_reconstruct(&t, X);
    size_t dims[3] = {I, J, K};
    for (int mode = 0; mode < 3; mode++) {
        double s[9];
        cr_assert_eq(kpf_tensor_unfold_sv(X, I, J, K, mode, s, &err), KPF_OK, "%s", err.msg);
        cr_expect_eq(kpf_numerical_rank(s, dims[mode], 1e-10), R, "mode %d", mode);
    }
    /* rank-one tensor: σ₁ = ‖X‖ = λ, the rest 0 */
    kpf_cp one = planted(I, J, K, 1, 6);
    one.lambda[0] = 2.5;
    kpf_cp_reconstruct(&one, X);
    double s[9];
    cr_assert_eq(kpf_tensor_unfold_sv(X, I, J, K, 1, s, &err), KPF_OK);
    cr_expect_float_eq(s[0], 2.5, 1e-12);
    cr_expect_lt(s[1], 1e-13);
    kpf_cp_free(&one);
    kpf_cp_free(&t);
    free(X);
}

Test(cp, matrix_svd_reconstructs_and_sorts)
{
    const size_t r = 5, c = 8;
    double A[40], s[5], U[25], V[40];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < r * c; i++)
        A[i] = gsl_ran_gaussian(rng, 1);
    gsl_rng_free(rng);
    cr_assert_eq(kpf_matrix_svd(r, c, A, s, U, V, &err), KPF_OK);
    for (size_t i = 1; i < r; i++)
        cr_expect_geq(s[i - 1], s[i]);
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) {
            double v = 0;
            for (size_t k = 0; k < r; k++)
                v += U[i * r + k] * s[k] * V[j * r + k];
            cr_expect_float_eq(v, A[i * c + j], 1e-12);
        }
}

Test(cp, bad_arguments_are_errors)
{
    double X[8] = {0};
    kpf_cp fit;
    cr_expect_eq(kpf_cp_als(X, 2, 2, 2, 0, NULL, &fit, &err), KPF_EINVAL);
    double s[2];
    cr_expect_eq(kpf_tensor_unfold_sv(X, 2, 2, 2, 3, s, &err), KPF_EINVAL);
    X[0] = NAN;
    cr_expect_eq(kpf_cp_als(X, 2, 2, 2, 1, NULL, &fit, &err), KPF_ENUMERIC);
}
