/* kpf/blas.h — CBLAS prototypes for kpf and its plugins.
 *
 * GSL's gsl_cblas.h declares the standard CBLAS interface and is pulled in
 * by many GSL headers (gsl_matrix.h, gsl_randist.h …); OpenBLAS's cblas.h
 * declares the same enums and cannot be included beside it.  So everything
 * includes this header, which uses GSL's declarations, while the symbols are
 * resolved from OpenBLAS at link time (libgslcblas is never linked). */
#ifndef KPF_BLAS_H
#define KPF_BLAS_H

#include "kpf/export.h"

#include <gsl/gsl_cblas.h>

KPF_BEGIN_DECLS

/* Threads for every later BLAS call in this process (n ≥ 1), and the
 * current count.  The same count goes to OpenMP, which splits the
 * element-wise loops of the core and the plugins.  Results are reproducible
 * at a fixed count. */
void kpf_blas_set_threads(int n);
int kpf_blas_threads(void);

/* Element-wise loops over at least this many entries are split between the
 * OpenMP threads (`#pragma omp parallel for … if (N >= KPF_PAR_MIN_ENTRIES)`);
 * smaller ones, such as one step of a small batch, stay serial, where
 * starting the threads costs more than it saves.  Only loops whose entries
 * are independent are split, so results do not depend on the count. */
#define KPF_PAR_MIN_ENTRIES 262144

KPF_END_DECLS

#endif
