/* Private helpers shared by the spectral files (ARPACK driver, dense path,
 * probe-based estimators). */
#ifndef KPF_SPECTRAL_INTERNAL_H
#define KPF_SPECTRAL_INTERNAL_H

#include "gsl_quiet.h"

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

#include "kpf/spectral.h"

/* y = M x for the matrix the Lanczos iteration sees. */
typedef int (*kpf_spec_matvec)(void *ctx, const double *x, double *y, kpf_error *err);

/* Run ARPACK's symmetric driver on a Euclidean-symmetric operator on space
 * sp (PARPACK's, with each rank's block, when sp is split over ranks): the
 * nev wanted eigenvalues go to vals (ARPACK's ascending order), their
 * Euclidean-unit vectors to vecs (nev × this rank's size, NULL: not
 * computed).  which: "LA" or "LM". */
int kpf_spec_arpack(const kpf_space *sp, size_t nev, const char *which, const kpf_eig_opts *o,
                    kpf_spec_matvec mv, void *ctx, double *vals, double *vecs,
                    kpf_eig_info *info, kpf_error *err);

/* Everything (P)ARPACK touches, allocated once before the iteration.  n is
 * the whole dimension for ARPACK and this rank's block for PARPACK; ldv is
 * this rank's block either way. */
typedef struct kpf_spec_arpack_ws {
    int n, ldv, nev, ncv, lworkl;
    double tol; /* dsaupd replaces tol ≤ 0 by machine ε; dseupd must get the same */
    int iparam[11], ipntr[11];
    double *resid, *v, *workd, *workl, *d, *z;
    int *select;
} kpf_spec_arpack_ws;

/* PARPACK on comm (spectral_parpack.c), or stand-ins that fail when the
 * build has no MPI (spectral_parpack_none.c; never reached: without MPI no
 * space is split). */
int kpf_spec_parpack_built(void);
void kpf_spec_pdsaupd(const kpf_comm *c, int *ido, const char *which, kpf_spec_arpack_ws *w,
                      int *info);
void kpf_spec_pdseupd(const kpf_comm *c, int rvec, const char *which, kpf_spec_arpack_ws *w,
                      int *info);

/* A space's place among the ranks (spectral_split.c): its values here and
 * overall, the whole batch's trials and this rank's first trial.  For a
 * space in one process: n_global = n_local, b0 = 0.  A collective on a
 * split space. */
typedef struct kpf_spec_split {
    size_t n_local, n_global, B_total, b0;
} kpf_spec_split;
int kpf_spec_layout(const kpf_space *sp, kpf_spec_split *L, kpf_error *err);

/* v (this rank's block) ← this rank's entries of the Gaussian vector drawn
 * from r in global order: the same global vector at every rank count. */
void kpf_spec_draw_start(const kpf_space *sp, const kpf_spec_split *L, gsl_rng *r, double *v);

/* kpf_spec_fix_sign over every rank of sp: the entry of largest magnitude
 * in the whole vector (first in global order among ties) made positive;
 * *sign gets the factor applied.  A collective on a split space. */
int kpf_spec_fix_sign_split(const kpf_space *sp, const kpf_spec_split *L, double *v,
                            double *sign, kpf_error *err);

/* Sort vals (and the rows of vecs, each n long, when non-NULL) into
 * descending order of value or of |value|. */
void kpf_spec_sort_desc(double *vals, double *vecs, size_t k, size_t n, int by_magnitude);

/* Flip v (n) so that its entry of largest magnitude is positive; returns the
 * sign applied (±1) so a partner vector can follow. */
double kpf_spec_fix_sign(double *v, size_t n);

/* x *= a over n values. */
void kpf_spec_scale(double *x, size_t n, double a);

/* The generator of the spectral tools for `seed` (one stream for all of
 * them; each tool draws from a fresh generator, so results depend on the
 * seed alone). */
int kpf_spec_rng(uint64_t seed, gsl_rng **r, kpf_error *err);


/* Thin QR of the d × p matrix X whose columns are the p rows (each d long,
 * p ≤ d) of X: the rows become the columns of Q (orthonormal), and R (p×p
 * row-major upper triangular, may be NULL) gets R.  work holds
 * kpf_spec_thin_qr_work(p, d) doubles; nothing is allocated.  Returns
 * KPF_OK or KPF_ENUMERIC (no message: the caller knows the context). */
size_t kpf_spec_thin_qr_work(size_t p, size_t d);
int kpf_spec_thin_qr(double *X, size_t p, size_t d, double *R, double *work);

/* Orthonormalise the p rows (each d long, p ≤ d) of X in place with GSL's
 * Householder QR (Euclidean product).  Allocates its workspace. */
int kpf_spec_orthonormal_rows(double *X, size_t p, size_t d, kpf_error *err);

#endif
