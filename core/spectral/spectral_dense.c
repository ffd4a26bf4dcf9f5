/* Dense eigen and singular decompositions of small operators: the operator
 * is formed column by column (kpf_op_to_dense) and handed to GSL.  Same
 * return conventions as the matrix-free solvers (kpf/spectral.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "spectral_internal.h"

static int dense_of(kpf_op *A, double **M, kpf_error *err)
{
    size_t din = kpf_space_size(&A->in), dout = kpf_space_size(&A->out);
    if (din && dout > KPF_DENSE_MAX_ENTRIES / din)
        return kpf_error_set(err, KPF_EINVAL,
                             "operator '%s' is %zu × %zu: too large for the dense path (max "
                             "%zu entries); use the matrix-free solvers",
                             A->type->name, dout, din, KPF_DENSE_MAX_ENTRIES);
    *M = malloc(din * dout * sizeof(double));
    if (!*M)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a %zu × %zu matrix", dout, din);
    int rc = kpf_op_to_dense(A, KPF_DENSE_MAX_ENTRIES, *M, err);
    if (rc) {
        free(*M);
        *M = NULL;
    }
    return rc;
}

/* ---- eigsh ------------------------------------------------------------- */

/* (M + Mᵀ)/2: a self-adjoint operator's matrix is symmetric up to the
 * rounding of its application, which symmv must not see. */
static void symmetrise(double *M, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double a = 0.5 * (M[i * n + j] + M[j * n + i]);
            M[i * n + j] = M[j * n + i] = a;
        }
}

static int symm_eig(double *M, size_t n, double *eval, double *evec, kpf_eig_which which,
                    kpf_error *err)
{
    gsl_error_handler_t *h = kpf_internal_gsl_quiet();
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(n);
    if (!w) {
        kpf_internal_gsl_restore(h);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate an eigen workspace (n = %zu)", n);
    }
    gsl_matrix_view Mv = gsl_matrix_view_array(M, n, n), Ev = gsl_matrix_view_array(evec, n, n);
    gsl_vector_view ev = gsl_vector_view_array(eval, n);
    int st = gsl_eigen_symmv(&Mv.matrix, &ev.vector, &Ev.matrix, w);
    gsl_eigen_symmv_free(w);
    kpf_internal_gsl_restore(h);
    if (st)
        return kpf_error_set(err, KPF_ENUMERIC, "gsl_eigen_symmv failed (status %d)", st);
    gsl_eigen_symmv_sort(&ev.vector, &Ev.matrix,
                         which == KPF_EIG_LARGEST_MAGNITUDE ? GSL_EIGEN_SORT_ABS_DESC
                                                            : GSL_EIGEN_SORT_VAL_DESC);
    return KPF_OK;
}

int kpf_eigsh_dense(kpf_op *A, size_t k, kpf_eig_which which, double *vals, double *vecs,
                    kpf_error *err)
{
    if (!A || !vals)
        return kpf_error_set(err, KPF_EINVAL, "kpf_eigsh_dense: NULL operator or output");
    if (!kpf_space_equal(&A->in, &A->out))
        return kpf_error_set(err, KPF_EINVAL, "kpf_eigsh_dense: '%s' maps between different "
                                              "spaces; use kpf_svd_dense",
                             A->type->name);
    size_t n = kpf_space_size(&A->in);
    if (k < 1 || k > n)
        return kpf_error_set(err, KPF_EINVAL, "kpf_eigsh_dense: k = %zu not in [1, %zu]", k, n);
    double *M = NULL, *E = malloc(n * n * sizeof(double)), *ev = malloc(n * sizeof(double));
    int rc = E && ev ? dense_of(A, &M, err)
                     : kpf_error_set(err, KPF_ENOMEM, "cannot allocate %zu × %zu", n, n);
    if (!rc) {
        symmetrise(M, n);
        rc = symm_eig(M, n, ev, E, which, err);
    }
    for (size_t i = 0; !rc && i < k; i++) { /* column i of E → vector i */
        vals[i] = ev[i];
        if (!vecs)
            continue;
        for (size_t r = 0; r < n; r++)
            vecs[i * n + r] = E[r * n + i] / sqrt(A->in.weight);
        kpf_spec_fix_sign(vecs + i * n, n);
    }
    free(M);
    free(E);
    free(ev);
    return rc;
}

/* ---- svd --------------------------------------------------------------- */

/* Thin SVD of the rows × cols matrix X (rows ≥ cols): X is overwritten by the
 * left vectors (columns), Vm gets the right vectors as columns, S descending. */
static int thin_svd(double *X, size_t rows, size_t cols, double *Vm, double *S,
                    kpf_error *err)
{
    double *work = malloc(cols * sizeof(double));
    if (!work)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate an SVD workspace");
    gsl_matrix_view Xv = gsl_matrix_view_array(X, rows, cols);
    gsl_matrix_view Vv = gsl_matrix_view_array(Vm, cols, cols);
    gsl_vector_view Sv = gsl_vector_view_array(S, cols), Wv = gsl_vector_view_array(work, cols);
    gsl_error_handler_t *h = kpf_internal_gsl_quiet();
    int st = gsl_linalg_SV_decomp(&Xv.matrix, &Vv.matrix, &Sv.vector, &Wv.vector);
    kpf_internal_gsl_restore(h);
    free(work);
    return st ? kpf_error_set(err, KPF_ENUMERIC, "gsl_linalg_SV_decomp failed (status %d)", st)
              : KPF_OK;
}

static void transpose(const double *M, size_t rows, size_t cols, double *Mt)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            Mt[j * rows + i] = M[i * cols + j];
}

/* Column i of the ld-wide matrix X, times a, into dst (len entries). */
static void column(const double *X, size_t ld, size_t i, size_t len, double a, double *dst)
{
    for (size_t r = 0; r < len; r++)
        dst[r] = a * X[r * ld + i];
}

/* Copy triplet i out with the weighted normalisation and sign convention. */
static void emit(const kpf_op *A, const double *L, const double *Rm, size_t ld, size_t i,
                 double *U, double *V, double *vbuf)
{
    size_t din = kpf_space_size(&A->in), dout = kpf_space_size(&A->out);
    column(Rm, ld, i, din, 1.0 / sqrt(A->in.weight), vbuf);
    double sign = kpf_spec_fix_sign(vbuf, din);
    if (V)
        memcpy(V + i * din, vbuf, din * sizeof(double));
    if (U)
        column(L, ld, i, dout, sign / sqrt(A->out.weight), U + i * dout);
}

int kpf_svd_dense(kpf_op *A, size_t k, double *s, double *U, double *V, kpf_error *err)
{
    if (!A || !s)
        return kpf_error_set(err, KPF_EINVAL, "kpf_svd_dense: NULL operator or output");
    size_t din = kpf_space_size(&A->in), dout = kpf_space_size(&A->out);
    size_t p = din < dout ? din : dout; /* singular values available */
    if (k < 1 || k > p)
        return kpf_error_set(err, KPF_EINVAL, "kpf_svd_dense: k = %zu not in [1, %zu]", k, p);
    double *M = NULL, *X = malloc(din * dout * sizeof(double));
    double *Vm = malloc(p * p * sizeof(double)), *S = malloc(p * sizeof(double));
    double *vbuf = malloc(din * sizeof(double));
    int rc = X && Vm && S && vbuf ? dense_of(A, &M, err)
                                  : kpf_error_set(err, KPF_ENOMEM, "kpf_svd_dense: out of memory");
    /* GSL wants rows ≥ cols: decompose M (dout × din) or Mᵀ, whose left and
     * right vectors swap roles. */
    int wide = dout < din;
    if (!rc) {
        if (wide)
            transpose(M, dout, din, X);
        else
            memcpy(X, M, din * dout * sizeof(double));
        rc = thin_svd(X, wide ? din : dout, p, Vm, S, err);
    }
    /* σ of A between weighted spaces: Ã = √(w_out / w_in) M. */
    double scale = sqrt(A->out.weight / A->in.weight);
    for (size_t i = 0; !rc && i < k; i++) {
        s[i] = scale * S[i];
        emit(A, wide ? Vm : X, wide ? X : Vm, p, i, U, V, vbuf);
    }
    free(M);
    free(X);
    free(Vm);
    free(S);
    free(vbuf);
    return rc;
}
