/* kpf_matrix_svd against a dense reference at the sizes the ΔW, CP and
 * subspace analyses use.  Reconstruction alone cannot tell a good SVD: GSL
 * 2.7's one-sided Jacobi returned U with UᵀU − I of 0.08 at 80×80 and 0.26
 * at 256×256 (singular values off by up to 26 % of σ₁) while U S Vᵀ still
 * gave A to 5e-15, with no error.  So each case checks orthonormality and
 * the singular values against the eigenvalues of AᵀA. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>

#include "kpf/linalg.h"

static double *random_matrix(size_t rows, size_t cols, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *A = malloc(rows * cols * sizeof *A);
    for (size_t i = 0; i < rows * cols; i++)
        A[i] = gsl_ran_gaussian(rng, 1.0);
    gsl_rng_free(rng);
    return A;
}

/* max |QᵀQ − I| over the k columns of the row-major n×k matrix Q */
static double orthonormality_error(const double *Q, size_t n, size_t k)
{
    double worst = 0;
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b <= a; b++) {
            double d = 0;
            for (size_t i = 0; i < n; i++)
                d += Q[i * k + a] * Q[i * k + b];
            worst = fmax(worst, fabs(d - (a == b)));
        }
    return worst;
}

/* Singular values from the eigenvalues of the smaller Gram matrix, sorted
 * descending: a different algorithm (symmetric QR) on the same matrix. */
static void reference_sv(const double *A, size_t rows, size_t cols, double *s)
{
    size_t k = rows < cols ? rows : cols;
    gsl_matrix *G = gsl_matrix_alloc(k, k);
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) {
            double d = 0;
            if (rows >= cols)
                for (size_t i = 0; i < rows; i++)
                    d += A[i * cols + a] * A[i * cols + b];
            else
                for (size_t j = 0; j < cols; j++)
                    d += A[a * cols + j] * A[b * cols + j];
            gsl_matrix_set(G, a, b, d);
        }
    gsl_vector *ev = gsl_vector_alloc(k);
    gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(k);
    gsl_eigen_symm(G, ev, w);
    for (size_t i = 0; i < k; i++)
        s[i] = sqrt(fmax(gsl_vector_get(ev, i), 0.0));
    gsl_sort(s, 1, k);
    for (size_t i = 0; i < k / 2; i++) {
        double t = s[i];
        s[i] = s[k - 1 - i];
        s[k - 1 - i] = t;
    }
    gsl_eigen_symm_free(w);
    gsl_vector_free(ev);
    gsl_matrix_free(G);
}

static void check_svd(size_t rows, size_t cols, unsigned long seed)
{
    size_t k = rows < cols ? rows : cols;
    double *A = random_matrix(rows, cols, seed);
    double *s = malloc(k * sizeof *s), *ref = malloc(k * sizeof *ref);
    double *U = malloc(rows * k * sizeof *U), *V = malloc(cols * k * sizeof *V);
    kpf_error err = {0};
    cr_assert_eq(kpf_matrix_svd(rows, cols, A, s, U, V, &err), KPF_OK, "%s", err.msg);
    cr_expect_lt(orthonormality_error(U, rows, k), 1e-12, "%zu×%zu: U not orthonormal", rows,
                 cols);
    cr_expect_lt(orthonormality_error(V, cols, k), 1e-12, "%zu×%zu: V not orthonormal", rows,
                 cols);
    reference_sv(A, rows, cols, ref);
    double worst = 0;
    for (size_t i = 0; i < k; i++)
        worst = fmax(worst, fabs(s[i] - ref[i]) / ref[0]);
    /* the Gram matrix squares the condition number: 1e-10 of σ₁ is its
     * accuracy, far below the 1e-5 … 0.26 of the broken Jacobi */
    cr_expect_lt(worst, 1e-10, "%zu×%zu: singular values off by %.3g of σ₁", rows, cols, worst);
    double rec = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double v = 0;
            for (size_t r = 0; r < k; r++)
                v += U[i * k + r] * s[r] * V[j * k + r];
            rec = fmax(rec, fabs(v - A[i * cols + j]));
        }
    cr_expect_lt(rec, 1e-11, "%zu×%zu: U S Vᵀ misses A by %.3g", rows, cols, rec);
    free(A);
    free(s);
    free(ref);
    free(U);
    free(V);
}

Test(svd, square_sizes_of_the_analyses)
{
    check_svd(64, 64, 1);
    check_svd(100, 100, 2);
    check_svd(256, 256, 3);
}

Test(svd, tall_and_wide)
{
    check_svd(300, 40, 4);
    check_svd(40, 300, 5);
    check_svd(256, 100, 6);
}
