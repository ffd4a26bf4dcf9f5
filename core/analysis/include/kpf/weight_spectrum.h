/* kpf/weight_spectrum.h — eigenvalues of a recurrent weight matrix and its
 * outliers (Schuessler et al. 2020, Fig. S2 and S4: most eigenvalues of W
 * stay in the disk of W₀'s spectral radius while learning pushes a few
 * out; the real parts of the top ones track the approach to instability).
 * Matrices row-major. */
#ifndef KPF_WEIGHT_SPECTRUM_H
#define KPF_WEIGHT_SPECTRUM_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

/* The n eigenvalues of W (n×n, not modified) by GSL, in descending |λ|
 * (ties: larger real part, then Im > 0 first): re, im (n each). */
int kpf_weight_eigenvalues(size_t n, const double *W, double *re, double *im, kpf_error *err);

/* How many of the n eigenvalues (re, im) lie outside the disk of radius
 * r·(1 + margin); with sorted input they are the first ones returned. */
size_t kpf_weight_outliers(size_t n, const double *re, const double *im, double r,
                           double margin);

KPF_END_DECLS
#endif
