/* kpf/blas.h — CBLAS prototypes for kpf and its plugins.
 *
 * GSL's gsl_cblas.h declares the standard CBLAS interface and is pulled in
 * by many GSL headers (gsl_matrix.h, gsl_randist.h …); OpenBLAS's cblas.h
 * declares the same enums and cannot be included beside it.  So everything
 * includes this header, which uses GSL's declarations, while the symbols are
 * resolved from OpenBLAS at link time (libgslcblas is never linked). */
#ifndef KPF_BLAS_H
#define KPF_BLAS_H

#include <gsl/gsl_cblas.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Threads OpenBLAS uses for every later BLAS call in this process (n ≥ 1),
 * and the current count.  Results are reproducible at a fixed count. */
void kpf_blas_set_threads(int n);
int kpf_blas_threads(void);

#ifdef __cplusplus
}
#endif

#endif
