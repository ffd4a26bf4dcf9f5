/* Spectral tools: ARPACK top-k against dense GSL decompositions (on matrix
 * operators with known spectra and on the real K and P), weighted
 * normalisation, reproducibility, error statuses; effective rank and
 * explained variance on known spectra; Hutch++, alignment and Rayleigh
 * quotients against exact values. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>

#include "kpf/blas.h"
#include "kpf/config.h"
#include "kpf/instance.h"
#include "kpf/kpflow.h"
#include "kpf/plugin.h"
#include "kpf/spectral.h"
#include "kpf/trajectory.h"

static kpf_error err;

/* ---- a dense matrix as a kpf_op ------------------------------------------ */

typedef struct mat_st {
    size_t rows, cols;
    double adj; /* w_out / w_in: the weighted adjoint is adj·Mᵀ */
    double *M;
} mat_st;

static int mat_apply(kpf_op *op, const double *in, double *out, kpf_error *e)
{
    mat_st *s = op->state;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)s->rows, (int)s->cols, 1.0, s->M,
                (int)s->cols, in, 1, 0.0, out, 1);
    return KPF_OK;
}

static int mat_adjoint(kpf_op *op, const double *in, double *out, kpf_error *e)
{
    mat_st *s = op->state;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)s->rows, (int)s->cols, s->adj, s->M,
                (int)s->cols, in, 1, 0.0, out, 1);
    return KPF_OK;
}

static void mat_destroy(kpf_op *op)
{
    mat_st *s = op->state;
    free(s->M);
    free(s);
}

static const kpf_op_type sym_type = {"test-symmetric", mat_apply, NULL, mat_destroy};
static const kpf_op_type gen_type = {"test-matrix", mat_apply, mat_adjoint, mat_destroy};

/* An operator over a copy of M (rows × cols = out × in). */
static kpf_op *mat_op(const double *M, kpf_space in, kpf_space out, int symmetric)
{
    mat_st *s = malloc(sizeof *s);
    s->rows = kpf_space_size(&out);
    s->cols = kpf_space_size(&in);
    s->adj = out.weight / in.weight;
    s->M = malloc(s->rows * s->cols * sizeof(double));
    memcpy(s->M, M, s->rows * s->cols * sizeof(double));
    kpf_op *op = NULL;
    cr_assert_eq(kpf_op_new(symmetric ? &sym_type : &gen_type, in, out, s, &op, &err), KPF_OK,
                 "%s", err.msg);
    return op;
}

static gsl_rng *rng(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

/* n × n row-major Q Λ Qᵀ with Q a random orthogonal matrix. */
static double *sym_with_spectrum(const double *lam, size_t n, unsigned long seed)
{
    gsl_rng *r = rng(seed);
    gsl_matrix *G = gsl_matrix_alloc(n, n), *Q = gsl_matrix_alloc(n, n),
               *R = gsl_matrix_alloc(n, n);
    gsl_vector *tau = gsl_vector_alloc(n);
    for (size_t i = 0; i < n * n; i++)
        G->data[i] = gsl_ran_gaussian(r, 1.0);
    gsl_linalg_QR_decomp(G, tau);
    gsl_linalg_QR_unpack(G, tau, Q, R);
    double *M = calloc(n * n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            for (size_t l = 0; l < n; l++)
                M[i * n + j] += gsl_matrix_get(Q, i, l) * lam[l] * gsl_matrix_get(Q, j, l);
    gsl_matrix_free(G);
    gsl_matrix_free(Q);
    gsl_matrix_free(R);
    gsl_vector_free(tau);
    gsl_rng_free(r);
    return M;
}

static double *gaussian_matrix(size_t rows, size_t cols, unsigned long seed)
{
    gsl_rng *r = rng(seed);
    double *M = malloc(rows * cols * sizeof(double));
    for (size_t i = 0; i < rows * cols; i++)
        M[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    return M;
}

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

/* |cos| between two vectors (Euclidean). */
static double abs_cos(const double *a, const double *b, size_t n)
{
    double ab = cblas_ddot((int)n, a, 1, b, 1);
    return fabs(ab) / (cblas_dnrm2((int)n, a, 1) * cblas_dnrm2((int)n, b, 1));
}

/* ---- eigsh ---------------------------------------------------------------- */

#define NS 60 /* a {B=2, T=3, n=10} space */

static const kpf_space S60 = {2, 3, 10, 0.25, NULL};

static void spectrum60(double *lam)
{
    for (size_t i = 0; i < NS; i++)
        lam[i] = 10.0 * pow(0.85, (double)i) - (i % 7 == 3 ? 3.0 : 0.0);
}

Test(eigsh, top_k_matches_gsl_on_a_known_spectrum)
{
    double lam[NS];
    spectrum60(lam);
    double *M = sym_with_spectrum(lam, NS, 11);
    kpf_op *A = mat_op(M, S60, S60, 1);
    const size_t k = 6;
    double vals[6], vecs[6 * NS], dvals[6], dvecs[6 * NS];
    kpf_eig_opts o = kpf_eig_opts_default();
    kpf_eig_info info;
    cr_assert_eq(kpf_eigsh(A, k, &o, vals, vecs, &info, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_eigsh_dense(A, k, KPF_EIG_LARGEST_ALGEBRAIC, dvals, dvecs, &err), KPF_OK,
                 "%s", err.msg);
    /* Independent reference: the known spectrum, sorted descending. */
    double ref[NS];
    memcpy(ref, lam, sizeof ref);
    gsl_sort(ref, 1, NS);
    double eval_err = 0.0, vec_err = max_abs_diff(vecs, dvecs, k * NS);
    for (size_t i = 0; i < k; i++) {
        eval_err = fmax(eval_err, fabs(vals[i] - ref[NS - 1 - i]));
        cr_assert_float_eq(dvals[i], ref[NS - 1 - i], 1e-12);
        /* weighted norm 1: Euclidean norm² = 1/w */
        cr_assert_float_eq(kpf_space_dot(&S60, vecs + i * NS, vecs + i * NS), 1.0, 1e-12);
        cr_assert(i == 0 || vals[i] <= vals[i - 1], "not descending");
    }
    cr_log_info("eigsh vs exact: max |Δλ| = %.2e, max |Δv| vs dense = %.2e (%zu applies)",
                eval_err, vec_err, info.n_apply);
    cr_assert_lt(eval_err, 1e-10);
    cr_assert_lt(vec_err, 1e-8, "ARPACK and dense vectors differ by %g", vec_err);
    kpf_op_free(A);
    free(M);
}

Test(eigsh, largest_magnitude_picks_negative_eigenvalues)
{
    double lam[NS];
    for (size_t i = 0; i < NS; i++)
        lam[i] = 1.0 + 0.01 * (double)i;
    lam[5] = -20.0;
    lam[17] = -15.0;
    double *M = sym_with_spectrum(lam, NS, 12);
    kpf_op *A = mat_op(M, S60, S60, 1);
    double vals[3], vecs[3 * NS], dvals[3], dvecs[3 * NS];
    kpf_eig_opts o = kpf_eig_opts_default();
    o.which = KPF_EIG_LARGEST_MAGNITUDE;
    cr_assert_eq(kpf_eigsh(A, 3, &o, vals, vecs, NULL, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_eigsh_dense(A, 3, KPF_EIG_LARGEST_MAGNITUDE, dvals, dvecs, &err), KPF_OK);
    cr_assert_float_eq(vals[0], -20.0, 1e-10);
    cr_assert_float_eq(vals[1], -15.0, 1e-10);
    cr_assert_float_eq(vals[2], 1.59, 1e-10);
    cr_assert_lt(max_abs_diff(vals, dvals, 3), 1e-10);
    cr_assert_lt(max_abs_diff(vecs, dvecs, 3 * NS), 1e-8);
    kpf_op_free(A);
    free(M);
}

Test(eigsh, same_seed_same_vectors_bit_for_bit)
{
    double lam[NS];
    spectrum60(lam);
    double *M = sym_with_spectrum(lam, NS, 13);
    kpf_op *A = mat_op(M, S60, S60, 1);
    double v1[4], v2[4], v3[4], x1[4 * NS], x2[4 * NS], x3[4 * NS];
    kpf_eig_opts o = kpf_eig_opts_default();
    o.seed = 42;
    cr_assert_eq(kpf_eigsh(A, 4, &o, v1, x1, NULL, &err), KPF_OK);
    cr_assert_eq(kpf_eigsh(A, 4, &o, v2, x2, NULL, &err), KPF_OK);
    cr_assert_eq(memcmp(v1, v2, sizeof v1), 0);
    cr_assert_eq(memcmp(x1, x2, sizeof x1), 0, "same seed, different vectors");
    o.seed = 43; /* another start: same answer to tolerance, not bitwise */
    cr_assert_eq(kpf_eigsh(A, 4, &o, v3, x3, NULL, &err), KPF_OK);
    cr_assert_lt(max_abs_diff(v1, v3, 4), 1e-10);
    cr_assert_lt(max_abs_diff(x1, x3, 4 * NS), 1e-8);
    kpf_op_free(A);
    free(M);
}

Test(eigsh, errors_are_statuses_with_messages)
{
    double lam[NS];
    spectrum60(lam);
    double *M = sym_with_spectrum(lam, NS, 14);
    kpf_op *A = mat_op(M, S60, S60, 1);
    double vals[NS];
    kpf_error_clear(&err);
    cr_assert_eq(kpf_eigsh(A, NS, NULL, vals, NULL, NULL, &err), KPF_EINVAL);
    cr_assert(strstr(err.msg, "k < dim"), "%s", err.msg);
    cr_assert_eq(kpf_eigsh(A, 0, NULL, vals, NULL, NULL, &err), KPF_EINVAL);
    kpf_eig_opts o = kpf_eig_opts_default();
    o.max_iter = 1; /* one restart of a 13-vector basis cannot converge 6 values */
    o.ncv = 13;
    cr_assert_eq(kpf_eigsh(A, 6, &o, vals, NULL, NULL, &err), KPF_ENUMERIC);
    cr_assert(strstr(err.msg, "converged"), "%s", err.msg);
    /* all of them are available on the dense path */
    cr_assert_eq(kpf_eigsh_dense(A, NS, KPF_EIG_LARGEST_ALGEBRAIC, vals, NULL, &err), KPF_OK);
    kpf_op_free(A);
    free(M);
}

/* ---- svds ----------------------------------------------------------------- */

/* svds and svd_dense against GSL's SVD of √(w_out/w_in)·M. */
static void check_svd(kpf_space in, kpf_space out, unsigned long seed)
{
    size_t din = kpf_space_size(&in), dout = kpf_space_size(&out), k = 5;
    double *M = gaussian_matrix(dout, din, seed);
    for (size_t i = 0; i < dout; i++) /* decaying spectrum: well separated top */
        for (size_t j = 0; j < din; j++)
            M[i * din + j] *= pow(0.8, (double)(i + j) / 2.0);
    kpf_op *A = mat_op(M, in, out, 0);
    double s[5], U[5 * 64], V[5 * 64], ds[5], dU[5 * 64], dV[5 * 64];
    cr_assert_eq(kpf_svds(A, k, NULL, s, U, V, NULL, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_svd_dense(A, k, ds, dU, dV, &err), KPF_OK, "%s", err.msg);
    /* reference: GSL on the tall orientation of the weighted matrix */
    size_t r = dout >= din ? dout : din, c = dout >= din ? din : dout;
    gsl_matrix *X = gsl_matrix_alloc(r, c), *Vg = gsl_matrix_alloc(c, c);
    gsl_vector *S = gsl_vector_alloc(c), *work = gsl_vector_alloc(c);
    for (size_t i = 0; i < dout; i++)
        for (size_t j = 0; j < din; j++)
            gsl_matrix_set(X, dout >= din ? i : j, dout >= din ? j : i, M[i * din + j]);
    gsl_linalg_SV_decomp(X, Vg, S, work);
    double scale = sqrt(out.weight / in.weight), serr = 0.0;
    for (size_t i = 0; i < k; i++)
        serr = fmax(serr, fabs(s[i] - scale * gsl_vector_get(S, i)) / s[0]);
    cr_log_info("svds %zu×%zu: max rel |Δσ| = %.2e, |ΔU| = %.2e, |ΔV| = %.2e vs dense", dout,
                din, serr, max_abs_diff(U, dU, k * dout), max_abs_diff(V, dV, k * din));
    cr_assert_lt(serr, 1e-10);
    cr_assert_lt(max_abs_diff(s, ds, k), 1e-10 * s[0]);
    cr_assert_lt(max_abs_diff(U, dU, k * dout), 1e-7);
    cr_assert_lt(max_abs_diff(V, dV, k * din), 1e-7);
    /* the triplet relations in the weighted spaces: A v = σ u, ‖u‖ = ‖v‖ = 1 */
    double Av[64];
    for (size_t i = 0; i < k; i++) {
        cr_assert_float_eq(kpf_space_norm(&in, V + i * din), 1.0, 1e-10);
        cr_assert_float_eq(kpf_space_norm(&out, U + i * dout), 1.0, 1e-10);
        kpf_op_apply(A, V + i * din, Av, &err);
        for (size_t j = 0; j < dout; j++)
            cr_assert_float_eq(Av[j], s[i] * U[i * dout + j], 1e-9);
    }
    gsl_matrix_free(X);
    gsl_matrix_free(Vg);
    gsl_vector_free(S);
    gsl_vector_free(work);
    kpf_op_free(A);
    free(M);
}

Test(svds, wide_operator_matches_gsl_svd)
{
    check_svd((kpf_space){1, 4, 10, 0.5, NULL}, (kpf_space){1, 1, 25, 2.0, NULL}, 21);
}

Test(svds, tall_operator_matches_gsl_svd)
{
    check_svd((kpf_space){1, 1, 24, 3.0, NULL}, (kpf_space){2, 4, 8, 0.125, NULL}, 22);
}

Test(svds, k_must_stay_below_the_smaller_dimension)
{
    double *M = gaussian_matrix(6, 40, 23);
    kpf_op *A = mat_op(M, (kpf_space){1, 1, 40, 1, NULL}, (kpf_space){1, 1, 6, 1, NULL}, 0);
    double s[6];
    cr_assert_eq(kpf_svds(A, 6, NULL, s, NULL, NULL, NULL, &err), KPF_EINVAL);
    cr_assert_eq(kpf_svd_dense(A, 6, s, NULL, NULL, &err), KPF_OK);
    kpf_op_free(A);
    free(M);
}

/* ---- the real operators: K and P of a small rnn ---------------------------- */

static kpf_registry *reg;
static kpf_config *cfg;
static kpf_model *model;
static kpf_traj *traj;

static void rnn_setup(void)
{
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "rnn", &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_load_string("n: 6\ng: 1.5\ndt: 0.5\n", "t.yaml", &cfg, &err),
                 KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_create(p, kpf_config_root(cfg), 2, 1, 3, 5, &model, &err), KPF_OK,
                 "%s", err.msg);
    cr_assert_eq(kpf_traj_alloc(model, 3, 8, &traj, &err), KPF_OK);
    gsl_rng *r = rng(3);
    for (size_t i = 0; i < 3 * 8 * 2; i++)
        traj->x[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    cr_assert_eq(kpf_simulate(model, traj, &err), KPF_OK, "%s", err.msg);
}

static void rnn_teardown(void)
{
    kpf_traj_free(traj);
    kpf_model_free(model);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
}

TestSuite(real_ops, .init = rnn_setup, .fini = rnn_teardown);

/* K of the rnn is I_n ⊗ (Gram of [σ(z), x] over rows): every eigenvalue has
 * multiplicity n, so vectors are compared as subspaces. */
Test(real_ops, eigsh_of_K_matches_dense)
{
    kpf_op *K = NULL;
    cr_assert_eq(kpf_op_param(model, traj, &K, &err), KPF_OK, "%s", err.msg);
    size_t d = kpf_space_size(&K->in), k = 5, n = model->n;
    double vals[5], dvals[6], *vecs = malloc(k * d * sizeof(double)),
                              *dvecs = malloc(n * d * sizeof(double));
    cr_assert_eq(kpf_eigsh(K, k, NULL, vals, vecs, NULL, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_eigsh_dense(K, n, KPF_EIG_LARGEST_ALGEBRAIC, dvals, dvecs, &err), KPF_OK,
                 "%s", err.msg);
    cr_assert_float_eq(dvals[n - 1], dvals[0], 1e-12 * dvals[0], "top eigenvalue not n-fold");
    double e = 0.0, in_span = 1.0;
    for (size_t i = 0; i < k; i++) {
        e = fmax(e, fabs(vals[i] - dvals[i]) / dvals[0]);
        double c2 = 0.0; /* Σ_j cos²(v_i, d_j): 1 when v_i lies in the eigenspace */
        for (size_t j = 0; j < n; j++)
            c2 += pow(abs_cos(vecs + i * d, dvecs + j * d, d), 2);
        in_span = fmin(in_span, c2);
    }
    cr_log_info("K (dim %zu): λ1 = %.6g (×%zu), max rel |Δλ| = %.2e, min Σcos² = %.12f", d,
                vals[0], n, e, in_span);
    cr_assert_lt(e, 1e-10);
    cr_assert_gt(in_span, 1.0 - 1e-9);
    /* Rayleigh quotient of an eigenfunction is its eigenvalue */
    double rq;
    cr_assert_eq(kpf_rayleigh(K, vecs, &rq, &err), KPF_OK);
    cr_assert_float_eq(rq, vals[0], 1e-10 * vals[0]);
    free(vecs);
    free(dvecs);
    kpf_op_free(K);
}

/* Averaged over units, K is the Gram itself: simple spectrum, vectors unique. */
Test(real_ops, eigsh_of_unit_averaged_K_matches_dense_vectors)
{
    kpf_op *K = NULL, *Ku = NULL;
    cr_assert_eq(kpf_op_param(model, traj, &K, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_op_average(K, KPF_AXIS_UNIT, &Ku, &err), KPF_OK, "%s", err.msg);
    size_t d = kpf_space_size(&Ku->in), k = 4;
    double vals[4], dvals[4], vecs[4 * 24], dvecs[4 * 24];
    cr_assert_eq(d, 24);
    cr_assert_eq(kpf_eigsh(Ku, k, NULL, vals, vecs, NULL, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_eigsh_dense(Ku, k, KPF_EIG_LARGEST_ALGEBRAIC, dvals, dvecs, &err), KPF_OK);
    cr_log_info("<K>_unit: λ = %.6g %.6g %.6g %.6g; |Δλ| = %.2e, |Δv| = %.2e", vals[0], vals[1],
                vals[2], vals[3], max_abs_diff(vals, dvals, k), max_abs_diff(vecs, dvecs, k * d));
    cr_assert_lt(max_abs_diff(vals, dvals, k), 1e-12 * vals[0]);
    cr_assert_lt(max_abs_diff(vecs, dvecs, k * d), 1e-8);
    kpf_op_free(Ku);
    kpf_op_free(K);
}

Test(real_ops, svds_of_P_matches_dense)
{
    kpf_op *P = NULL;
    cr_assert_eq(kpf_op_propagator(model, traj, &P, &err), KPF_OK, "%s", err.msg);
    size_t d = kpf_space_size(&P->in), k = 4;
    double s[4], ds[4], *V = malloc(k * d * sizeof(double)), *dV = malloc(k * d * sizeof(double));
    cr_assert_eq(kpf_svds(P, k, NULL, s, NULL, V, NULL, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_svd_dense(P, k, ds, NULL, dV, &err), KPF_OK, "%s", err.msg);
    double c = 1.0;
    for (size_t i = 0; i < k; i++)
        c = fmin(c, abs_cos(V + i * d, dV + i * d, d));
    cr_log_info("P (dim %zu): σ = %.6f %.6f …, max |Δσ| = %.2e, min |cos| = %.12f", d, s[0],
                s[1], max_abs_diff(s, ds, k), c);
    cr_assert_lt(max_abs_diff(s, ds, k), 1e-9 * s[0]);
    cr_assert_gt(c, 1.0 - 1e-8);
    free(V);
    free(dV);
    kpf_op_free(P);
}

Test(real_ops, consensus_spectra_match_dense_reductions)
{
    kpf_op *P = NULL, *avg = NULL, *gram = NULL, *gavg = NULL;
    cr_assert_eq(kpf_op_propagator(model, traj, &P, &err), KPF_OK, "%s", err.msg);
    unsigned axes = KPF_AXIS_TRIAL | KPF_AXIS_TIME;
    double s[3], ds[3], g[3], dg[3];
    cr_assert_eq(kpf_consensus_svds(P, axes, 3, NULL, s, NULL, NULL, &err), KPF_OK, "%s",
                 err.msg);
    cr_assert_eq(kpf_op_average(P, axes, &avg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_space_size(&avg->in), 6);
    cr_assert_eq(kpf_svd_dense(avg, 3, ds, NULL, NULL, &err), KPF_OK, "%s", err.msg);
    cr_assert_lt(max_abs_diff(s, ds, 3), 1e-10 * ds[0]);
    cr_assert_eq(kpf_consensus_gram(P, axes, 3, NULL, g, NULL, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_op_gram(P, &gram, &err), KPF_OK);
    cr_assert_eq(kpf_op_average(gram, axes, &gavg, &err), KPF_OK);
    cr_assert_eq(kpf_eigsh_dense(gavg, 3, KPF_EIG_LARGEST_ALGEBRAIC, dg, NULL, &err), KPF_OK);
    for (size_t i = 0; i < 3; i++)
        cr_assert_float_eq(g[i], sqrt(dg[i]), 1e-9 * g[0]);
    cr_log_info("consensus of P over trials+time: svd(<P>) σ1 = %.6f, sqrt eig(<PP*>) = %.6f",
                s[0], g[0]);
    kpf_op_free(gavg);
    kpf_op_free(gram);
    kpf_op_free(avg);
    kpf_op_free(P);
}

/* ---- effective rank, explained variance ------------------------------------ */

Test(effrank, four_equal_modes_give_3_8_at_0_95)
{
    /* c = [.25, .5, .75, 1]: the curve crosses 0.95 at 3 + (0.95−0.75)/0.25 */
    double sv[8] = {1, 1, 1, 1, 0, 0, 0, 0}, r;
    cr_assert_eq(kpf_effrank(sv, 8, 0.0, 0.95, &r, &err), KPF_OK, "%s", err.msg);
    cr_assert_float_eq(r, 3.8, 1e-12);
    cr_assert_eq(kpf_effrank(sv, 8, 0.0, 0.0, &r, &err), KPF_OK); /* default 0.95 */
    cr_assert_float_eq(r, 3.8, 1e-12);
    cr_assert_eq(kpf_effrank(sv, 8, 0.0, 1.0, &r, &err), KPF_OK);
    cr_assert_float_eq(r, 4.0, 1e-12);
    cr_assert_eq(kpf_effrank(sv, 8, 0.0, 0.5, &r, &err), KPF_OK);
    cr_assert_float_eq(r, 2.0, 1e-12);
}

Test(effrank, interpolates_inside_the_first_component_and_between_unequal_ones)
{
    double sv[2] = {2, 1}, r, cum[2]; /* σ² = [4, 1]: c = [0.8, 1] */
    cr_assert_eq(kpf_explained_variance(sv, 2, 0.0, cum, &err), KPF_OK);
    cr_assert_float_eq(cum[0], 0.8, 1e-15);
    cr_assert_float_eq(cum[1], 1.0, 1e-15);
    cr_assert_eq(kpf_effrank(sv, 2, 0.0, 0.95, &r, &err), KPF_OK);
    cr_assert_float_eq(r, 1.75, 1e-12);
    cr_assert_eq(kpf_effrank(sv, 2, 0.0, 0.5, &r, &err), KPF_OK);
    cr_assert_float_eq(r, 0.625, 1e-12);
}

/* σ^p weights: p = 2 is the plain call bit for bit; p = 4 on σ = [2, 1]
 * weighs [16, 1] (c = [16/17, 1]), so 0.95 needs more than one component
 * by only 1/17ths; flat spectra do not care about p. */
Test(effrank, power_four_weighs_sigma_to_the_fourth)
{
    double sv[2] = {2, 1}, r2, r, cum[2];
    cr_assert_eq(kpf_effrank(sv, 2, 0.0, 0.95, &r2, &err), KPF_OK);
    cr_assert_eq(kpf_effrank_pow(sv, 2, 0.0, 0.95, 2.0, &r, &err), KPF_OK);
    cr_assert_eq(r, r2);
    cr_assert_eq(kpf_explained_variance_pow(sv, 2, 0.0, 4.0, cum, &err), KPF_OK);
    cr_assert_float_eq(cum[0], 16.0 / 17.0, 1e-15);
    cr_assert_eq(kpf_effrank_pow(sv, 2, 0.0, 0.95, 4.0, &r, &err), KPF_OK);
    cr_assert_float_eq(r, 1.0 + (0.95 - 16.0 / 17.0) / (1.0 / 17.0), 1e-12);
    cr_assert_lt(r, r2);
    double flat[4] = {1, 1, 1, 1};
    cr_assert_eq(kpf_effrank_pow(flat, 4, 0.0, 0.95, 4.0, &r, &err), KPF_OK);
    cr_assert_float_eq(r, 3.8, 1e-12);
    cr_assert_eq(kpf_effrank_pow(flat, 4, 0.0, 0.95, 0.0, &r, &err), KPF_EINVAL);
}

Test(effrank, external_total_and_errors)
{
    double sv[3] = {3, 2, 1}, r, cum[3]; /* σ² = 9, 4, 1 of a total 20 */
    cr_assert_eq(kpf_explained_variance(sv, 3, 20.0, cum, &err), KPF_OK);
    cr_assert_float_eq(cum[2], 0.7, 1e-15);
    cr_assert_eq(kpf_effrank(sv, 3, 20.0, 0.6, &r, &err), KPF_OK);
    cr_assert_float_eq(r, 1.0 + (0.6 - 0.45) / 0.2, 1e-12);
    cr_assert_eq(kpf_effrank(sv, 3, 20.0, 0.95, &r, &err), KPF_EINVAL);
    cr_assert(strstr(err.msg, "more components"), "%s", err.msg);
    double up[2] = {1, 2};
    cr_assert_eq(kpf_effrank(up, 2, 0.0, 0.9, &r, &err), KPF_EINVAL);
    double zero[2] = {0, 0};
    cr_assert_eq(kpf_effrank(zero, 2, 0.0, 0.9, &r, &err), KPF_EINVAL);
    cr_assert_eq(kpf_effrank(sv, 3, 0.0, 1.5, &r, &err), KPF_EINVAL);
}

/* ---- Hutch++, alignment ---------------------------------------------------- */

/* 10 dominant directions plus a PSD noise floor: the case Hutch++ is for. */
static double *low_rank_plus_noise(size_t d, double *trace)
{
    double lam[300];
    for (size_t i = 0; i < d; i++)
        lam[i] = i < 10 ? 100.0 / (double)(i + 1) : 0.05;
    *trace = 0.0;
    for (size_t i = 0; i < d; i++)
        *trace += lam[i];
    return sym_with_spectrum(lam, d, 31);
}

Test(hutchpp, estimates_the_trace_of_low_rank_plus_noise)
{
    const size_t d = 300;
    double exact, est, worst = 0.0;
    double *M = low_rank_plus_noise(d, &exact);
    kpf_space sp = {1, 30, 10, 0.1, NULL};
    kpf_op *A = mat_op(M, sp, sp, 1);
    for (uint64_t seed = 1; seed <= 10; seed++) {
        cr_assert_eq(kpf_hutchpp(A, 60, seed, &est, &err), KPF_OK, "%s", err.msg);
        worst = fmax(worst, fabs(est - exact) / exact);
    }
    cr_log_info("hutch++ (60 applies, d = 300): worst rel. error over 10 seeds %.2e", worst);
    cr_assert_lt(worst, 0.01, "Hutch++ error %g", worst);
    cr_assert_eq(kpf_hutchpp(A, 900, 1, &est, &err), KPF_OK); /* s = d: exact */
    cr_assert_float_eq(est, exact, 1e-9 * exact);
    cr_assert_eq(kpf_hutchpp(A, 2, 1, &est, &err), KPF_EINVAL);
    kpf_op_free(A);
    free(M);
}

Test(alignment, self_one_orthogonal_ranges_zero_exact_mode_matches_dense)
{
    const size_t d = 40;
    kpf_space sp = {2, 2, 10, 0.25, NULL};
    double *M = gaussian_matrix(d, d, 41), *M1 = calloc(d * d, sizeof(double)),
           *M2 = calloc(d * d, sizeof(double));
    /* M1 keeps the first 20 output rows, M2 the last 20: orthogonal ranges */
    memcpy(M1, M, d * d / 2 * sizeof(double));
    memcpy(M2 + d * d / 2, M + d * d / 2, d * d / 2 * sizeof(double));
    kpf_op *A = mat_op(M, sp, sp, 0), *A1 = mat_op(M1, sp, sp, 0), *A2 = mat_op(M2, sp, sp, 0);
    double c;
    cr_assert_eq(kpf_op_alignment(A, A, 8, 1, &c, &err), KPF_OK, "%s", err.msg);
    cr_assert_float_eq(c, 1.0, 1e-14);
    cr_assert_eq(kpf_op_alignment(A1, A2, 8, 1, &c, &err), KPF_OK);
    cr_assert_float_eq(c, 0.0, 1e-14);
    /* exact mode (probes ≥ dim) against tr(AᵀB)/√(…) of the matrices */
    double *Bm = gaussian_matrix(d, d, 42);
    for (size_t i = 0; i < d * d; i++)
        Bm[i] += M[i];
    kpf_op *B = mat_op(Bm, sp, sp, 0);
    double ab = cblas_ddot((int)(d * d), M, 1, Bm, 1), aa = cblas_ddot((int)(d * d), M, 1, M, 1),
           bb = cblas_ddot((int)(d * d), Bm, 1, Bm, 1);
    cr_assert_eq(kpf_op_alignment(A, B, d, 1, &c, &err), KPF_OK);
    cr_assert_float_eq(c, ab / sqrt(aa * bb), 1e-12);
    cr_assert_eq(kpf_op_alignment(A, B, 30, 7, &c, &err), KPF_OK); /* estimate */
    cr_log_info("alignment exact %.4f, 30-probe estimate %.4f", ab / sqrt(aa * bb), c);
    cr_assert_lt(fabs(c - ab / sqrt(aa * bb)), 0.1);
    kpf_op_free(A);
    kpf_op_free(A1);
    kpf_op_free(A2);
    kpf_op_free(B);
    free(M);
    free(M1);
    free(M2);
    free(Bm);
}
