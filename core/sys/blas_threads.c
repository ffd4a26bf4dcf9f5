/* Thread count: OpenBLAS's own controls (declared here because its cblas.h
 * cannot be included beside GSL's, see kpf/blas.h), and OpenMP's, so that
 * one `threads:` setting covers the GEMMs and the element-wise loops. */
#include "kpf/blas.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

void kpf_blas_set_threads(int n)
{
    if (n < 1)
        return;
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

int kpf_blas_threads(void) { return openblas_get_num_threads(); }
