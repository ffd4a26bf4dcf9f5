/* BLAS thread count: OpenBLAS's own controls (declared here because its
 * cblas.h cannot be included beside GSL's, see kpf/blas.h). */
#include "kpf/blas.h"

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

void kpf_blas_set_threads(int n)
{
    if (n >= 1)
        openblas_set_num_threads(n);
}

int kpf_blas_threads(void) { return openblas_get_num_threads(); }
