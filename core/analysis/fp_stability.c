/* Linear stability of fixed and slow points (kpf/fixed_points.h): the
 * Jacobian J_F (discrete) or J_f (continuous) at each point, dense through
 * GSL from n batched J_z products for n ≤ dense_max, else its leading
 * eigenvalues by ARPACK; unstable directions counted, each point classed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>

#include "fp_internal.h"
#include "gsl_quiet.h"
#include "kpf/eigs.h"

/* Largest block of points whose Jacobians are formed at once (doubles). */
#define JAC_BLOCK_MAX ((size_t)1 << 22)

static int alloc_eigen(kpf_fp_set *s, size_t n_ev, size_t n_vec, kpf_error *err)
{
    size_t P = s->P ? s->P : 1, n = s->n;
    s->n_ev = n_ev;
    s->n_vec = n_vec;
    s->ev_re = calloc(P * n_ev, sizeof(double));
    s->ev_im = calloc(P * n_ev, sizeof(double));
    s->vec_re = calloc(P * n_vec * n, sizeof(double));
    s->vec_im = calloc(P * n_vec * n, sizeof(double));
    s->n_unstable = calloc(P, sizeof(size_t));
    s->cls = calloc(P, sizeof(int));
    if (s->ev_re && s->ev_im && s->vec_re && s->vec_im && s->n_unstable && s->cls)
        return KPF_OK;
    return kpf_error_set(err, KPF_ENOMEM, "fixed points: cannot hold the eigenvectors");
}

static double sort_key(int continuous, double re, double im)
{
    return continuous ? re : hypot(re, im);
}

static int unstable(int continuous, double re, double im, double tol)
{
    return continuous ? re > tol : hypot(re, im) > 1.0 + tol;
}

static void classify(kpf_fp_set *s, size_t p, double tol)
{
    size_t u = 0;
    for (size_t i = 0; i < s->n_ev; i++)
        u += unstable(s->continuous, s->ev_re[p * s->n_ev + i], s->ev_im[p * s->n_ev + i], tol);
    s->n_unstable[p] = u;
    s->cls[p] = u == 0 ? KPF_FP_STABLE : u == s->n ? KPF_FP_UNSTABLE : KPF_FP_SADDLE;
}

/* Point p's dense Jacobian J (n×n) → sorted eigenvalues and vectors. */
static int dense_eigen(kpf_fp_set *s, size_t p, gsl_matrix *J, gsl_vector_complex *ev,
                       gsl_matrix_complex *V, gsl_eigen_nonsymmv_workspace *w, size_t *order,
                       kpf_error *err)
{
    gsl_error_handler_t *quiet = kpf_internal_gsl_quiet();
    int st = gsl_eigen_nonsymmv(J, ev, V, w);
    kpf_internal_gsl_restore(quiet);
    if (st)
        return kpf_error_set(err, KPF_ENUMERIC, "fixed points: eigenvalues of the Jacobian at "
                                                "point %zu failed (%s)", p, gsl_strerror(st));
    const size_t n = s->n;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort, descending key, Im > 0 first */
        for (size_t j = i; j > 0; j--) {
            gsl_complex a = gsl_vector_complex_get(ev, order[j - 1]);
            gsl_complex b = gsl_vector_complex_get(ev, order[j]);
            double ka = sort_key(s->continuous, GSL_REAL(a), GSL_IMAG(a));
            double kb = sort_key(s->continuous, GSL_REAL(b), GSL_IMAG(b));
            if (ka > kb || (ka == kb && GSL_IMAG(a) >= GSL_IMAG(b)))
                break;
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        gsl_complex l = gsl_vector_complex_get(ev, order[i]);
        s->ev_re[p * n + i] = GSL_REAL(l);
        s->ev_im[p * n + i] = GSL_IMAG(l);
    }
    for (size_t v = 0; v < s->n_vec; v++)
        for (size_t k = 0; k < n; k++) {
            gsl_complex x = gsl_matrix_complex_get(V, k, order[v]);
            s->vec_re[(p * s->n_vec + v) * n + k] = GSL_REAL(x);
            s->vec_im[(p * s->n_vec + v) * n + k] = GSL_IMAG(x);
        }
    return KPF_OK;
}

/* Jacobians of points p0 … p0+c−1: column k from one batched J_z·e_k. */
static int jacobians(fp_rows *fr, const kpf_fp_set *s, size_t p0, size_t c, double *E,
                     double *out, double *J, kpf_error *err)
{
    const size_t n = s->n;
    int rc = kpf_internal_fp_linearise(fr, c, s->z + p0 * n, err);
    for (size_t k = 0; !rc && k < n; k++) {
        memset(E, 0, c * n * sizeof(double));
        for (size_t p = 0; p < c; p++)
            E[p * n + k] = 1.0;
        rc = kpf_internal_fp_jz(fr, E, out, err);
        for (size_t p = 0; !rc && p < c; p++)
            for (size_t i = 0; i < n; i++)
                J[(p * n + i) * n + k] = out[p * n + i];
    }
    return rc;
}

static int dense_all(fp_rows *fr, kpf_fp_set *s, const kpf_fp_opts *o, kpf_error *err)
{
    const size_t n = s->n, block = JAC_BLOCK_MAX / (n * n) ? JAC_BLOCK_MAX / (n * n) : 1;
    const size_t c_max = block < s->P ? block : s->P;
    double *E = malloc(c_max * n * sizeof(double)), *out = malloc(c_max * n * sizeof(double));
    double *J = malloc(c_max * n * n * sizeof(double));
    size_t *order = malloc(n * sizeof(size_t));
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_matrix_complex *V = gsl_matrix_complex_alloc(n, n);
    gsl_eigen_nonsymmv_workspace *w = gsl_eigen_nonsymmv_alloc(n);
    int rc = E && out && J && order && ev && V && w
                 ? KPF_OK
                 : kpf_error_set(err, KPF_ENOMEM, "fixed points: cannot hold %zu Jacobians",
                                 c_max);
    for (size_t p0 = 0; !rc && p0 < s->P; p0 += c_max) {
        size_t c = s->P - p0 < c_max ? s->P - p0 : c_max;
        rc = jacobians(fr, s, p0, c, E, out, J, err);
        for (size_t p = 0; !rc && p < c; p++) {
            gsl_matrix_view Jv = gsl_matrix_view_array(J + p * n * n, n, n);
            rc = dense_eigen(s, p0 + p, &Jv.matrix, ev, V, w, order, err);
            if (!rc)
                classify(s, p0 + p, o->stab_tol);
        }
    }
    free(E);
    free(out);
    free(J);
    free(order);
    if (ev) gsl_vector_complex_free(ev);
    if (V) gsl_matrix_complex_free(V);
    if (w) gsl_eigen_nonsymmv_free(w);
    return rc;
}

/* ---- beyond dense_max: ARPACK on J at one point ----------------------------- */

static int jac_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return kpf_internal_fp_jz(op->state, in, out, err);
}

static int jac_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    fp_rows *fr = op->state;
    return kpf_model_jzT(fr->m, &fr->rows, in, out, err);
}

static void jac_destroy(kpf_op *op) { (void)op; } /* the rows are the caller's */

static const kpf_op_type jac_type = {"J_z at a fixed point", jac_apply, jac_adjoint,
                                     jac_destroy};

static int arpack_all(fp_rows *fr, kpf_fp_set *s, const kpf_fp_opts *o, kpf_error *err)
{
    const size_t n = s->n, k = s->n_ev;
    kpf_space sp = {1, 1, n, 1.0, NULL};
    kpf_op *J = NULL;
    kpf_eig_opts eo = kpf_eig_opts_default();
    eo.seed = o->seed;
    double *vre = malloc(k * n * sizeof(double)), *vim = malloc(k * n * sizeof(double));
    int rc = vre && vim ? kpf_op_new(&jac_type, sp, sp, fr, &J, err)
                        : kpf_error_set(err, KPF_ENOMEM, "fixed points: out of memory");
    for (size_t p = 0; !rc && p < s->P; p++) {
        rc = kpf_internal_fp_linearise(fr, 1, s->z + p * n, err);
        if (!rc)
            rc = kpf_eigs(J, k, s->continuous ? KPF_EIGS_LARGEST_REAL
                                              : KPF_EIGS_LARGEST_MAGNITUDE,
                          &eo, s->ev_re + p * k, s->ev_im + p * k, vre, vim, NULL, err);
        if (!rc) {
            memcpy(s->vec_re + p * s->n_vec * n, vre, s->n_vec * n * sizeof(double));
            memcpy(s->vec_im + p * s->n_vec * n, vim, s->n_vec * n * sizeof(double));
            classify(s, p, o->stab_tol);
        }
    }
    kpf_op_free(J);
    free(vre);
    free(vim);
    return rc;
}

int kpf_fp_stability(kpf_model *m, const double *x_star, kpf_fp_set *s, const kpf_fp_opts *o,
                     kpf_error *err)
{
    kpf_fp_opts opt = o ? *o : kpf_fp_opts_default();
    const size_t n = m->n;
    if (s->n != n)
        return kpf_error_set(err, KPF_EINVAL, "fixed points: set of size %zu for a model of %zu",
                             s->n, n);
    s->continuous = (m->desc->flags & KPF_MODEL_CONTINUOUS) != 0;
    int dense = n <= opt.dense_max || n < 3;
    size_t n_ev = dense ? n : (opt.n_eigs < n - 2 ? opt.n_eigs : n - 2);
    if (!n_ev)
        n_ev = 1;
    size_t n_vec = opt.n_vectors < n_ev ? opt.n_vectors : n_ev;
    int rc = alloc_eigen(s, n_ev, n_vec, err);
    if (rc || !s->P)
        return rc;
    fp_rows fr;
    rc = kpf_internal_fp_rows_alloc(m, x_star, s->P, opt.trial, &fr, err);
    if (!rc)
        rc = dense ? dense_all(&fr, s, &opt, err) : arpack_all(&fr, s, &opt, err);
    kpf_internal_fp_rows_free(&fr);
    return rc;
}

int kpf_fp_find(kpf_model *m, const double *x_star, size_t R, const double *z0,
                const kpf_fp_opts *o, kpf_fp_set **out, kpf_fp_stats *stats, kpf_error *err)
{
    *out = NULL;
    double *z = malloc(R * m->n * sizeof(double)), *q = malloc(R * sizeof(double));
    int rc = z && q ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "fixed points: out of memory");
    if (!rc) {
        memcpy(z, z0, R * m->n * sizeof(double));
        rc = kpf_fp_minimise(m, x_star, R, z, q, o, stats, err);
    }
    if (!rc) rc = kpf_fp_select(R, m->n, z, q, o, out, err);
    if (!rc) rc = kpf_fp_stability(m, x_star, *out, o, err);
    if (rc) {
        kpf_fp_set_free(*out);
        *out = NULL;
    }
    free(z);
    free(q);
    return rc;
}
