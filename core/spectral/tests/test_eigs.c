/* Non-symmetric eigenvalues by ARPACK (kpf/eigs.h) against GSL's dense
 * Hessenberg–QR on random matrices: the k largest by magnitude and by real
 * part, conjugate pairs included, each vector satisfying A v = λ v. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/eigs.h"

static kpf_error err;

static int mat_apply(kpf_op *op, const double *in, double *out, kpf_error *e)
{
    (void)e;
    const double *A = op->state;
    size_t n = op->in.n;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++)
            s += A[i * n + j] * in[j];
        out[i] = s;
    }
    return KPF_OK;
}

static int mat_adjoint(kpf_op *op, const double *in, double *out, kpf_error *e)
{
    (void)op; (void)in; (void)out;
    return kpf_error_set(e, KPF_EUNSUPPORTED, "not needed");
}

static void mat_destroy(kpf_op *op) { (void)op; }
static const kpf_op_type mat_type = {"matrix", mat_apply, mat_adjoint, mat_destroy};

/* Dense eigenvalues sorted like kpf_eigs. */
static void dense(const double *A, size_t n, int by_real, double *re, double *im)
{
    gsl_matrix *M = gsl_matrix_alloc(n, n);
    for (size_t i = 0; i < n * n; i++)
        M->data[i] = A[i];
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    cr_assert_eq(gsl_eigen_nonsymm(M, ev, w), 0);
    for (size_t i = 0; i < n; i++) {
        re[i] = GSL_REAL(gsl_vector_complex_get(ev, i));
        im[i] = GSL_IMAG(gsl_vector_complex_get(ev, i));
    }
    for (size_t i = 1; i < n; i++) /* descending key, Im > 0 first among ties */
        for (size_t j = i; j > 0; j--) {
            double a = by_real ? re[j - 1] : hypot(re[j - 1], im[j - 1]);
            double b = by_real ? re[j] : hypot(re[j], im[j]);
            if (a > b + 1e-12 || (fabs(a - b) <= 1e-12 && im[j - 1] >= im[j]))
                break;
            double t = re[j]; re[j] = re[j - 1]; re[j - 1] = t;
            t = im[j]; im[j] = im[j - 1]; im[j - 1] = t;
        }
    gsl_eigen_nonsymm_free(w);
    gsl_vector_complex_free(ev);
    gsl_matrix_free(M);
}

static void check(size_t n, size_t k, kpf_eigs_which which, unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double *A = malloc(n * n * sizeof(double));
    for (size_t i = 0; i < n * n; i++)
        A[i] = gsl_ran_gaussian(r, 1.0 / sqrt((double)n));
    gsl_rng_free(r);
    kpf_op *op = NULL;
    kpf_space sp = {1, 1, n, 1.0, NULL};
    cr_assert_eq(kpf_op_new(&mat_type, sp, sp, A, &op, &err), KPF_OK, "%s", err.msg);
    double re[16], im[16], dre[256], dim[256];
    double *vre = malloc(k * n * sizeof(double)), *vim = malloc(k * n * sizeof(double));
    kpf_eig_opts o = kpf_eig_opts_default();
    o.seed = 5;
    cr_assert_eq(kpf_eigs(op, k, which, &o, re, im, vre, vim, NULL, &err), KPF_OK, "%s",
                 err.msg);
    dense(A, n, which == KPF_EIGS_LARGEST_REAL, dre, dim);
    int pairs = 0;
    for (size_t i = 0; i < k; i++) {
        cr_expect_float_eq(re[i], dre[i], 1e-9, "Re λ_%zu %g vs %g", i, re[i], dre[i]);
        cr_expect_float_eq(im[i], dim[i], 1e-9, "Im λ_%zu %g vs %g", i, im[i], dim[i]);
        pairs += im[i] != 0.0;
        /* ‖A v − λ v‖ with v = x + iy: A x = a x − b y, A y = b x + a y. */
        double Ax[256], Ay[256], res = 0;
        mat_apply(op, vre + i * n, Ax, &err);
        mat_apply(op, vim + i * n, Ay, &err);
        for (size_t j = 0; j < n; j++) {
            double x = vre[i * n + j], y = vim[i * n + j];
            res = fmax(res, fabs(Ax[j] - (re[i] * x - im[i] * y)));
            res = fmax(res, fabs(Ay[j] - (im[i] * x + re[i] * y)));
        }
        cr_expect_lt(res, 1e-9, "residual of pair %zu: %g", i, res);
    }
    cr_expect_gt(pairs, 0, "no complex pair among the top %zu: the test lacks teeth", k);
    kpf_op_free(op);
    free(A);
    free(vre);
    free(vim);
}

Test(eigs, largest_magnitude_matches_dense) { check(80, 6, KPF_EIGS_LARGEST_MAGNITUDE, 3); }
Test(eigs, largest_real_part_matches_dense) { check(60, 5, KPF_EIGS_LARGEST_REAL, 8); }

Test(eigs, refuses_bad_sizes)
{
    double A[9] = {0};
    kpf_op *op = NULL;
    kpf_space sp = {1, 1, 3, 1.0, NULL};
    cr_assert_eq(kpf_op_new(&mat_type, sp, sp, A, &op, &err), KPF_OK);
    double re[3], im[3];
    cr_expect_eq(kpf_eigs(op, 2, KPF_EIGS_LARGEST_MAGNITUDE, NULL, re, im, NULL, NULL, NULL,
                          &err),
                 KPF_EINVAL);
    cr_expect(strstr(err.msg, "1 ≤ k ≤ dim − 2"), "%s", err.msg);
    kpf_op_free(op);
}
