/* Without MPI no space is split over ranks, so PARPACK is never called;
 * these stand-ins only keep the one code path in spectral_arpack.c
 * linkable.  (The MPI build uses spectral_parpack.c instead.) */
#include "spectral_internal.h"

int kpf_spec_parpack_built(void) { return 0; }

void kpf_spec_pdsaupd(const kpf_comm *c, int *ido, const char *which, kpf_spec_arpack_ws *w,
                      int *info)
{
    *ido = 99;
    *info = -9999;
}

void kpf_spec_pdseupd(const kpf_comm *c, int rvec, const char *which, kpf_spec_arpack_ws *w,
                      int *info)
{
    *info = -9999;
}
