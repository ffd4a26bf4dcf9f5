/* Non-symmetric eigenvalues by ARPACK's Arnoldi driver (kpf/eigs.h):
 * dnaupd's reverse communication applies the operator, dneupd extracts Ritz
 * values and vectors, which are then sorted and normalised. */
#include "kpf/eigs.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "spectral_internal.h"

/* ARPACK's Fortran entry points (libarpack2, LP64); gfortran appends the
 * lengths of CHARACTER arguments as hidden size_t parameters. */
extern void dnaupd_(int *ido, const char *bmat, const int *n, const char *which,
                    const int *nev, const double *tol, double *resid, const int *ncv,
                    double *v, const int *ldv, int *iparam, int *ipntr, double *workd,
                    double *workl, const int *lworkl, int *info, size_t bmat_len,
                    size_t which_len);
extern void dneupd_(const int *rvec, const char *howmny, int *select, double *dr, double *di,
                    double *z, const int *ldz, const double *sigmar, const double *sigmai,
                    double *workev, const char *bmat, const int *n, const char *which,
                    const int *nev, const double *tol, double *resid, const int *ncv,
                    double *v, const int *ldv, int *iparam, int *ipntr, double *workd,
                    double *workl, const int *lworkl, int *info, size_t howmny_len,
                    size_t bmat_len, size_t which_len);

typedef struct naupd_ws {
    int n, nev, ncv, lworkl, iparam[11], ipntr[14];
    double tol;
    double *resid, *v, *workd, *workl, *dr, *di, *z, *workev;
    int *select;
} naupd_ws;

static void ws_free(naupd_ws *w)
{
    free(w->resid);
    free(w->v);
    free(w->workd);
    free(w->workl);
    free(w->dr);
    free(w->di);
    free(w->z);
    free(w->workev);
    free(w->select);
}

static int ws_alloc(naupd_ws *w, size_t n, size_t nev, size_t ncv, kpf_error *err)
{
    *w = (naupd_ws){.n = (int)n, .nev = (int)nev, .ncv = (int)ncv};
    w->lworkl = 3 * w->ncv * w->ncv + 6 * w->ncv;
    w->resid = malloc(n * sizeof(double));
    w->v = malloc(n * ncv * sizeof(double));
    w->workd = malloc(3 * n * sizeof(double));
    w->workl = malloc((size_t)w->lworkl * sizeof(double));
    w->dr = malloc((nev + 1) * sizeof(double));
    w->di = malloc((nev + 1) * sizeof(double));
    w->z = malloc(n * (nev + 1) * sizeof(double));
    w->workev = malloc(3 * ncv * sizeof(double));
    w->select = calloc(ncv, sizeof(int));
    if (w->resid && w->v && w->workd && w->workl && w->dr && w->di && w->z && w->workev &&
        w->select)
        return KPF_OK;
    ws_free(w);
    return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the Arnoldi workspace (n = %zu)", n);
}

static int check_sizes(size_t n, size_t k, const kpf_eig_opts *o, size_t *ncv, kpf_error *err)
{
    if (n > (size_t)INT_MAX / 4)
        return kpf_error_set(err, KPF_EINVAL, "dimension %zu is too large for ARPACK", n);
    if (k < 1 || k + 2 > n)
        return kpf_error_set(err, KPF_EINVAL,
                             "kpf_eigs needs 1 ≤ k ≤ dim − 2 (k = %zu, dim = %zu); use a dense "
                             "eigensolver for all of them",
                             k, n);
    size_t c = o->ncv ? o->ncv : (2 * k + 1 > 20 ? 2 * k + 1 : 20);
    if (c > n)
        c = n;
    if (c < k + 2)
        return kpf_error_set(err, KPF_EINVAL, "ncv = %zu must be at least k + 2 = %zu", c, k + 2);
    *ncv = c;
    return KPF_OK;
}

static int iterate(naupd_ws *w, kpf_op *A, const char *which, kpf_eig_info *info,
                   kpf_error *err)
{
    int ido = 0, code = 1; /* resid holds our start vector */
    for (;;) {
        dnaupd_(&ido, "I", &w->n, which, &w->nev, &w->tol, w->resid, &w->ncv, w->v, &w->n,
                w->iparam, w->ipntr, w->workd, w->workl, &w->lworkl, &code, 1, 2);
        if (ido != -1 && ido != 1)
            break;
        int rc = kpf_op_apply(A, w->workd + w->ipntr[0] - 1, w->workd + w->ipntr[1] - 1, err);
        if (rc)
            return rc;
        info->n_apply++;
    }
    info->iterations = w->iparam[2];
    info->n_converged = (size_t)w->iparam[4];
    if (code < 0)
        return kpf_error_set(err, KPF_ENUMERIC, "ARPACK dnaupd failed (info %d)", code);
    if (w->iparam[4] < w->nev)
        return kpf_error_set(err, KPF_ENUMERIC,
                             "ARPACK: only %d of %d eigenvalues converged after %d restarts "
                             "(raise max_iter, ncv or tol)",
                             w->iparam[4], w->nev, w->iparam[2]);
    return KPF_OK;
}

/* Ritz pair i of dneupd's output as (re, im, x, y): a complex pair occupies
 * columns j, j+1 (x + iy, then its conjugate). */
typedef struct ritz {
    double re, im;
    size_t col;
    int conj; /* 1: the conjugate of the pair starting at col */
} ritz;

static double key(const ritz *r, kpf_eigs_which which)
{
    return which == KPF_EIGS_LARGEST_REAL ? r->re : hypot(r->re, r->im);
}

static void sort_ritz(ritz *r, size_t k, kpf_eigs_which which)
{
    for (size_t i = 1; i < k; i++) /* insertion sort: k is small */
        for (size_t j = i; j > 0; j--) {
            double a = key(&r[j - 1], which), b = key(&r[j], which);
            if (a > b || (a == b && r[j - 1].im >= r[j].im))
                break;
            ritz t = r[j - 1];
            r[j - 1] = r[j];
            r[j] = t;
        }
}

/* Copy the sorted vectors out, each scaled to Euclidean norm 1. */
static void copy_vectors(const naupd_ws *w, const ritz *r, size_t k, double *vre, double *vim)
{
    size_t n = (size_t)w->n;
    for (size_t i = 0; i < k; i++) {
        const double *x = w->z + r[i].col * n;
        const double *y = r[i].im != 0.0 ? x + n : NULL;
        /* the pair's columns hold x + iy of the eigenvalue with Im > 0 */
        double s = r[i].im < 0.0 ? -1.0 : 1.0, norm = 0;
        for (size_t j = 0; j < n; j++) {
            vre[i * n + j] = x[j];
            vim[i * n + j] = y ? s * y[j] : 0.0;
            norm += vre[i * n + j] * vre[i * n + j] + vim[i * n + j] * vim[i * n + j];
        }
        norm = norm > 0 ? 1.0 / sqrt(norm) : 1.0;
        for (size_t j = 0; j < n; j++) {
            vre[i * n + j] *= norm;
            vim[i * n + j] *= norm;
        }
    }
}

static int extract(naupd_ws *w, const char *which, kpf_eigs_which wh, size_t k, double *re,
                   double *im, double *vre, double *vim, kpf_error *err)
{
    int rvec = vre != NULL, code = 0;
    double sr = 0, si = 0;
    dneupd_(&rvec, "A", w->select, w->dr, w->di, w->z, &w->n, &sr, &si, w->workev, "I", &w->n,
            which, &w->nev, &w->tol, w->resid, &w->ncv, w->v, &w->n, w->iparam, w->ipntr,
            w->workd, w->workl, &w->lworkl, &code, 1, 1, 2);
    if (code)
        return kpf_error_set(err, KPF_ENUMERIC, "ARPACK dneupd failed (info %d)", code);
    /* dneupd may return nev + 1 values when a conjugate pair straddles nev. */
    size_t have = (size_t)w->iparam[4] > (size_t)w->nev ? (size_t)w->nev + 1 : (size_t)w->nev;
    ritz *r = malloc(have * sizeof *r);
    if (!r)
        return kpf_error_set(err, KPF_ENOMEM, "kpf_eigs: out of memory");
    for (size_t i = 0; i < have; i++) {
        int second = i > 0 && w->di[i] != 0.0 && w->di[i] == -w->di[i - 1] && !r[i - 1].conj;
        r[i] = (ritz){w->dr[i], w->di[i], second ? i - 1 : i, second};
    }
    sort_ritz(r, have, wh);
    for (size_t i = 0; i < k; i++) {
        re[i] = r[i].re;
        im[i] = r[i].im;
    }
    if (rvec)
        copy_vectors(w, r, k, vre, vim);
    free(r);
    return KPF_OK;
}

int kpf_eigs(kpf_op *A, size_t k, kpf_eigs_which which, const kpf_eig_opts *o, double *re,
             double *im, double *vre, double *vim, kpf_eig_info *info, kpf_error *err)
{
    if (!A || !re || !im || (!vre) != (!vim))
        return kpf_error_set(err, KPF_EINVAL, "kpf_eigs: NULL operator or output");
    if (!kpf_space_equal(&A->in, &A->out) || kpf_comm_size(A->in.comm) > 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "kpf_eigs: '%s' must map one space of this process to itself",
                             A->type->name);
    kpf_eig_opts opt = o ? *o : kpf_eig_opts_default();
    size_t n = kpf_space_size(&A->in), ncv = 0;
    int rc = check_sizes(n, k, &opt, &ncv, err);
    naupd_ws w;
    if (rc || (rc = ws_alloc(&w, n, k, ncv, err)))
        return rc;
    const char *wh = which == KPF_EIGS_LARGEST_REAL ? "LR" : "LM";
    w.iparam[0] = 1; /* exact shifts */
    w.iparam[2] = opt.max_iter > 0 ? opt.max_iter : 1000;
    w.iparam[6] = 1; /* standard problem */
    w.tol = opt.tol;
    gsl_rng *r = NULL;
    kpf_eig_info local = {0};
    rc = kpf_spec_rng(opt.seed, &r, err);
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            w.resid[i] = gsl_ran_gaussian(r, 1.0);
        gsl_rng_free(r);
        rc = iterate(&w, A, wh, &local, err);
    }
    if (!rc)
        rc = extract(&w, wh, which, k, re, im, vre, vim, err);
    if (info)
        *info = local;
    ws_free(&w);
    return rc ? kpf_error_prefix(err, rc, "eigenvalues of '%s': ", A->type->name) : KPF_OK;
}
