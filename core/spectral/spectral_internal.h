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

/* Run ARPACK's symmetric driver on an n-dimensional Euclidean-symmetric
 * operator: the nev wanted eigenvalues go to vals (ARPACK's ascending
 * order), their Euclidean-unit vectors to vecs (nev × n, NULL: not
 * computed).  which: "LA" or "LM". */
int kpf_spec_arpack(size_t n, size_t nev, const char *which, const kpf_eig_opts *o,
                    kpf_spec_matvec mv, void *ctx, double *vals, double *vecs,
                    kpf_eig_info *info, kpf_error *err);

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
