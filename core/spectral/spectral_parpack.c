/* PARPACK (ARPACK's MPI version): pdsaupd/pdseupd take the communicator
 * first and otherwise the arguments of dsaupd/dseupd, with each rank's
 * block of the vectors.  Compiled only when the build found MPI; its
 * stand-in without MPI is spectral_parpack_none.c. */
#include "comm_internal.h"
#include "spectral_internal.h"

extern void pdsaupd_(const int *comm, int *ido, const char *bmat, const int *n,
                     const char *which, const int *nev, const double *tol, double *resid,
                     const int *ncv, double *v, const int *ldv, int *iparam, int *ipntr,
                     double *workd, double *workl, const int *lworkl, int *info,
                     size_t bmat_len, size_t which_len);
extern void pdseupd_(const int *comm, const int *rvec, const char *howmny, int *select,
                     double *d, double *z, const int *ldz, const double *sigma,
                     const char *bmat, const int *n, const char *which, const int *nev,
                     const double *tol, double *resid, const int *ncv, double *v,
                     const int *ldv, int *iparam, int *ipntr, double *workd, double *workl,
                     const int *lworkl, int *info, size_t howmny_len, size_t bmat_len,
                     size_t which_len);

int kpf_spec_parpack_built(void) { return 1; }

void kpf_spec_pdsaupd(const kpf_comm *c, int *ido, const char *which, kpf_spec_arpack_ws *w,
                      int *info)
{
    int fc = kpf_internal_comm_fortran(c);
    pdsaupd_(&fc, ido, "I", &w->n, which, &w->nev, &w->tol, w->resid, &w->ncv, w->v, &w->ldv,
             w->iparam, w->ipntr, w->workd, w->workl, &w->lworkl, info, 1, 2);
}

void kpf_spec_pdseupd(const kpf_comm *c, int rvec, const char *which, kpf_spec_arpack_ws *w,
                      int *info)
{
    int fc = kpf_internal_comm_fortran(c);
    double sigma = 0.0;
    pdseupd_(&fc, &rvec, "A", w->select, w->d, w->z, &w->ldv, &sigma, "I", &w->n, which,
             &w->nev, &w->tol, w->resid, &w->ncv, w->v, &w->ldv, w->iparam, w->ipntr, w->workd,
             w->workl, &w->lworkl, info, 1, 1, 2);
}
