/* Matrix-free top-k eigen and singular decompositions: ARPACK's implicitly
 * restarted Lanczos (dsaupd/dseupd) driven by reverse communication.
 *
 * The iteration runs on Euclidean coordinates: an operator self-adjoint in
 * its space's uniform-weight inner product is Euclidean-symmetric, so only
 * the returned vectors are rescaled (to weighted norm 1). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "spectral_internal.h"

/* ARPACK's Fortran entry points (libarpack2, LP64).  gfortran appends the
 * lengths of CHARACTER arguments as hidden size_t parameters. */
extern void dsaupd_(int *ido, const char *bmat, const int *n, const char *which,
                    const int *nev, const double *tol, double *resid, const int *ncv,
                    double *v, const int *ldv, int *iparam, int *ipntr, double *workd,
                    double *workl, const int *lworkl, int *info, size_t bmat_len,
                    size_t which_len);
extern void dseupd_(const int *rvec, const char *howmny, int *select, double *d, double *z,
                    const int *ldz, const double *sigma, const char *bmat, const int *n,
                    const char *which, const int *nev, const double *tol, double *resid,
                    const int *ncv, double *v, const int *ldv, int *iparam, int *ipntr,
                    double *workd, double *workl, const int *lworkl, int *info,
                    size_t howmny_len, size_t bmat_len, size_t which_len);

typedef kpf_spec_arpack_ws arpack_ws;

static void ws_free(arpack_ws *w)
{
    free(w->resid);
    free(w->v);
    free(w->workd);
    free(w->workl);
    free(w->d);
    free(w->z);
    free(w->select);
}

/* n: the dimension ARPACK is told (the whole space, or this rank's block
 * for PARPACK); nl: the values this rank holds. */
static int ws_alloc(arpack_ws *w, size_t n, size_t nl, size_t nev, size_t ncv, kpf_error *err)
{
    size_t ld = nl ? nl : 1;
    *w = (arpack_ws){.n = (int)n, .ldv = (int)ld, .nev = (int)nev, .ncv = (int)ncv};
    w->lworkl = w->ncv * (w->ncv + 8);
    w->resid = malloc(ld * sizeof(double));
    w->v = malloc(ld * ncv * sizeof(double));
    w->workd = malloc(3 * ld * sizeof(double));
    w->workl = malloc((size_t)w->lworkl * sizeof(double));
    w->d = malloc(nev * sizeof(double));
    w->z = malloc(ld * nev * sizeof(double));
    w->select = calloc(ncv, sizeof(int));
    if (w->resid && w->v && w->workd && w->workl && w->d && w->z && w->select)
        return KPF_OK;
    ws_free(w);
    return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the Lanczos workspace (n = %zu, "
                                          "ncv = %zu)", nl, ncv);
}

/* Seeded Gaussian start vector (ARPACK's info = 1 mode): reproducible runs,
 * and the same global vector when the space is split over ranks. */
static int seed_resid(arpack_ws *w, const kpf_space *sp, const kpf_spec_split *L,
                      uint64_t seed, kpf_error *err)
{
    gsl_rng *r = NULL;
    int rc = kpf_spec_rng(seed, &r, err);
    if (rc)
        return rc;
    kpf_spec_draw_start(sp, L, r, w->resid);
    gsl_rng_free(r);
    return KPF_OK;
}

static const char *saupd_reason(int info)
{
    switch (info) {
    case 1: return "maximum number of restarts reached";
    case 3: return "no shifts could be applied (try a larger ncv)";
    case -8: return "LAPACK error in the tridiagonal eigenproblem";
    case -9: return "the start vector is zero";
    case -9999: return "could not build a Lanczos factorisation";
    default: return "invalid argument";
    }
}

/* One reverse-communication step: ARPACK's, or PARPACK's on a split comm. */
static void saupd(const kpf_comm *c, int *ido, const char *which, arpack_ws *w, int *code)
{
    if (kpf_comm_size(c) > 1) {
        kpf_spec_pdsaupd(c, ido, which, w, code);
        return;
    }
    dsaupd_(ido, "I", &w->n, which, &w->nev, &w->tol, w->resid, &w->ncv, w->v, &w->ldv,
            w->iparam, w->ipntr, w->workd, w->workl, &w->lworkl, code, 1, 2);
}

/* The reverse-communication loop: ARPACK asks for y = M x until done.  On a
 * split space every rank takes the same steps (PARPACK's decisions rest on
 * reduced norms), so a failing application is agreed on before the next
 * step: no rank is left waiting in PARPACK's reductions. */
static int iterate(const kpf_comm *c, arpack_ws *w, const char *which, kpf_spec_matvec mv,
                   void *ctx, kpf_eig_info *info, kpf_error *err)
{
    int ido = 0, code = 1; /* code = info: 1 → resid holds our start vector */
    for (;;) {
        saupd(c, &ido, which, w, &code);
        if (ido != -1 && ido != 1)
            break;
        int rc = mv(ctx, w->workd + w->ipntr[0] - 1, w->workd + w->ipntr[1] - 1, err);
        if (kpf_comm_size(c) > 1)
            rc = kpf_comm_agree(c, rc, err);
        if (rc)
            return rc;
        info->n_apply++;
    }
    info->iterations = w->iparam[2];
    info->n_converged = (size_t)w->iparam[4];
    if (code < 0 || code == 3)
        return kpf_error_set(err, KPF_ENUMERIC, "ARPACK dsaupd failed (info %d): %s", code,
                             saupd_reason(code));
    if (w->iparam[4] < w->nev)
        return kpf_error_set(err, KPF_ENUMERIC,
                             "ARPACK: only %d of %d eigenvalues converged after %d restarts "
                             "(%s; raise max_iter, ncv or tol)",
                             w->iparam[4], w->nev, w->iparam[2], saupd_reason(code));
    return KPF_OK;
}

static int extract(const kpf_comm *c, arpack_ws *w, const char *which, int want_vecs,
                   kpf_error *err)
{
    int rvec = want_vecs, code = 0;
    double sigma = 0.0;
    if (kpf_comm_size(c) > 1)
        kpf_spec_pdseupd(c, rvec, which, w, &code);
    else
        dseupd_(&rvec, "A", w->select, w->d, w->z, &w->ldv, &sigma, "I", &w->n, which, &w->nev,
                &w->tol, w->resid, &w->ncv, w->v, &w->ldv, w->iparam, w->ipntr, w->workd,
                w->workl, &w->lworkl, &code, 1, 1, 2);
    if (code)
        return kpf_error_set(err, KPF_ENUMERIC, "ARPACK dseupd failed (info %d)", code);
    return KPF_OK;
}

static int check_sizes(size_t n, size_t nev, size_t *ncv, const kpf_eig_opts *o,
                       kpf_error *err)
{
    if (n > (size_t)INT_MAX / 4)
        return kpf_error_set(err, KPF_EINVAL, "dimension %zu is too large for ARPACK", n);
    if (nev < 1 || nev >= n)
        return kpf_error_set(err, KPF_EINVAL,
                             "matrix-free eigensolver needs 1 ≤ k < dim (k = %zu, dim = %zu); "
                             "use the dense path for all of them",
                             nev, n);
    size_t c = o->ncv ? o->ncv : (2 * nev + 1 > 20 ? 2 * nev + 1 : 20);
    if (c > n)
        c = n;
    if (c <= nev)
        return kpf_error_set(err, KPF_EINVAL, "ncv = %zu must exceed k = %zu", c, nev);
    *ncv = c;
    return KPF_OK;
}

int kpf_spec_arpack(const kpf_space *sp, size_t nev, const char *which, const kpf_eig_opts *o,
                    kpf_spec_matvec mv, void *ctx, double *vals, double *vecs,
                    kpf_eig_info *info, kpf_error *err)
{
    kpf_spec_split L;
    size_t ncv = 0;
    int rc = kpf_spec_layout(sp, &L, err);
    if (!rc)
        rc = check_sizes(L.n_global, nev, &ncv, o, err);
    if (rc)
        return rc;
    const kpf_comm *c = kpf_comm_size(sp->comm) > 1 ? sp->comm : NULL;
    arpack_ws w;
    if ((rc = ws_alloc(&w, c ? L.n_local : L.n_global, L.n_local, nev, ncv, err)))
        return rc;
    kpf_eig_info local = {0};
    w.iparam[0] = 1; /* exact shifts */
    w.iparam[2] = o->max_iter > 0 ? o->max_iter : 1000;
    w.iparam[6] = 1; /* mode 1: standard problem A x = λ x */
    w.tol = o->tol;
    rc = seed_resid(&w, sp, &L, o->seed, err);
    if (!rc)
        rc = iterate(c, &w, which, mv, ctx, &local, err);
    if (!rc)
        rc = extract(c, &w, which, vecs != NULL, err);
    if (!rc) {
        memcpy(vals, w.d, nev * sizeof(double));
        if (vecs)
            memcpy(vecs, w.z, L.n_local * nev * sizeof(double));
    }
    if (info)
        *info = local;
    ws_free(&w);
    return rc;
}

/* ---- eigsh ------------------------------------------------------------- */

static int op_mv(void *ctx, const double *x, double *y, kpf_error *err)
{
    return kpf_op_apply(ctx, x, y, err);
}

int kpf_eigsh(kpf_op *A, size_t k, const kpf_eig_opts *o, double *vals, double *vecs,
              kpf_eig_info *info, kpf_error *err)
{
    if (!A || !vals)
        return kpf_error_set(err, KPF_EINVAL, "kpf_eigsh: NULL operator or output");
    if (!kpf_space_equal(&A->in, &A->out))
        return kpf_error_set(err, KPF_EINVAL,
                             "kpf_eigsh: operator '%s' maps between different spaces; use "
                             "kpf_svds",
                             A->type->name);
    kpf_eig_opts opt = o ? *o : kpf_eig_opts_default();
    size_t n = kpf_space_size(&A->in);
    int mag = opt.which == KPF_EIG_LARGEST_MAGNITUDE;
    kpf_spec_split L;
    int rc = kpf_spec_layout(&A->in, &L, err);
    if (!rc)
        rc = kpf_spec_arpack(&A->in, k, mag ? "LM" : "LA", &opt, op_mv, A, vals, vecs, info,
                             err);
    if (rc)
        return kpf_error_prefix(err, rc, "eigenvalues of '%s': ", A->type->name);
    kpf_spec_sort_desc(vals, vecs, k, n, mag);
    for (size_t i = 0; !rc && vecs && i < k; i++) {
        double sign;
        kpf_spec_scale(vecs + i * n, n, 1.0 / sqrt(A->in.weight));
        rc = kpf_spec_fix_sign_split(&A->in, &L, vecs + i * n, &sign, err);
    }
    return rc;
}

/* ---- svds -------------------------------------------------------------- */

/* The Gram operator on the smaller side: A*A on the input space (tmp holds
 * A x) or AA* on the output space (tmp holds A* x). */
typedef struct gram_ctx {
    kpf_op *A;
    int output_side;
    double *tmp;
} gram_ctx;

static int gram_mv(void *ctx, const double *x, double *y, kpf_error *err)
{
    gram_ctx *g = ctx;
    if (g->output_side) {
        int rc = kpf_op_apply_adjoint(g->A, x, g->tmp, err);
        return rc ? rc : kpf_op_apply(g->A, g->tmp, y, err);
    }
    int rc = kpf_op_apply(g->A, x, g->tmp, err);
    return rc ? rc : kpf_op_apply_adjoint(g->A, g->tmp, y, err);
}

/* dst = (A or A*) src / σ, zero when σ = 0 (no direction to give). */
static int partner(kpf_op *A, int adjoint, const double *src, double sigma, double *dst,
                   size_t len, kpf_error *err)
{
    if (!(sigma > 0.0)) {
        memset(dst, 0, len * sizeof(double));
        return KPF_OK;
    }
    int rc = adjoint ? kpf_op_apply_adjoint(A, src, dst, err) : kpf_op_apply(A, src, dst, err);
    if (!rc)
        kpf_spec_scale(dst, len, 1.0 / sigma);
    return rc;
}

/* Given the small-side vectors X (k × d_small, weighted-unit), fill U and V
 * and apply the sign convention (largest entry of v positive). */
static int finish_triplets(kpf_op *A, int output_side, size_t k, const double *s, double *X,
                           double *U, double *V, double *scratch, kpf_error *err)
{
    size_t din = kpf_space_size(&A->in), dout = kpf_space_size(&A->out);
    size_t d_small = output_side ? dout : din, d_big = output_side ? din : dout;
    kpf_spec_split Lin;
    int rc = kpf_spec_layout(&A->in, &Lin, err);
    for (size_t i = 0; !rc && i < k; i++) {
        double *x = X + i * d_small;
        double *other = (output_side ? V : U) ? (output_side ? V : U) + i * d_big : scratch;
        double sign;
        if ((rc = partner(A, output_side, x, s[i], other, d_big, err)) ||
            (rc = kpf_spec_fix_sign_split(&A->in, &Lin, output_side ? other : x, &sign, err)))
            return rc;
        kpf_spec_scale(output_side ? x : other, output_side ? d_small : d_big, sign);
        double *small_dst = output_side ? U : V;
        if (small_dst)
            memcpy(small_dst + i * d_small, x, d_small * sizeof(double));
    }
    return rc;
}

/* Values of a space over every rank (the same on each), to pick the
 * smaller side of A alike everywhere. */
static int global_size(const kpf_space *sp, double *n, kpf_error *err)
{
    *n = (double)kpf_space_size(sp);
    return kpf_comm_size(sp->comm) > 1 ? kpf_comm_sum(sp->comm, n, 1, err) : KPF_OK;
}

int kpf_svds(kpf_op *A, size_t k, const kpf_eig_opts *o, double *s, double *U, double *V,
             kpf_eig_info *info, kpf_error *err)
{
    if (!A || !s)
        return kpf_error_set(err, KPF_EINVAL, "kpf_svds: NULL operator or output");
    kpf_eig_opts opt = o ? *o : kpf_eig_opts_default();
    size_t din = kpf_space_size(&A->in), dout = kpf_space_size(&A->out);
    double gin, gout;
    int rc = global_size(&A->in, &gin, err);
    if (!rc)
        rc = global_size(&A->out, &gout, err);
    if (rc)
        return rc;
    int out_side = gout < gin;
    size_t ds = out_side ? dout : din, db = out_side ? din : dout;
    double w_small = out_side ? A->out.weight : A->in.weight;
    gram_ctx g = {A, out_side, malloc((db ? db : 1) * sizeof(double))};
    double *X = malloc((k * ds > 0 ? k * ds : 1) * sizeof(double));
    double *scratch = malloc((db ? db : 1) * sizeof(double));
    if (!g.tmp || !X || !scratch)
        rc = kpf_error_set(err, KPF_ENOMEM, "kpf_svds: cannot allocate %zu vectors", k);
    if (!rc)
        rc = kpf_spec_arpack(out_side ? &A->out : &A->in, k, "LA", &opt, gram_mv, &g, s, X, info,
                             err);
    if (!rc) {
        kpf_spec_sort_desc(s, X, k, ds, 0);
        for (size_t i = 0; i < k; i++) {
            s[i] = s[i] > 0.0 ? sqrt(s[i]) : 0.0; /* rounding can make λ(A*A) < 0 */
            kpf_spec_scale(X + i * ds, ds, 1.0 / sqrt(w_small));
        }
        rc = finish_triplets(A, out_side, k, s, X, U, V, scratch, err);
    }
    if (rc)
        kpf_error_prefix(err, rc, "singular values of '%s': ", A->type->name);
    free(g.tmp);
    free(X);
    free(scratch);
    return rc;
}
