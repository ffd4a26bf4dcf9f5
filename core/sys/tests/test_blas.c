/* kpf's CBLAS is OpenBLAS.  Debian's libgsl carries a NEEDED entry for its
 * reference libgslcblas, so which library answers cblas_dgemm depends on
 * load order; this pins it down for libkpf, GSL and the plugins alike. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <string.h>

#include "kpf/blas.h"

Test(blas, cblas_symbols_come_from_openblas)
{
    const char *names[] = {"cblas_dgemm", "cblas_dgemv", "cblas_ddot"};
    for (size_t i = 0; i < 3; i++) {
        void *sym = dlsym(RTLD_DEFAULT, names[i]);
        cr_assert_not_null(sym, "%s not found", names[i]);
        Dl_info info;
        cr_assert(dladdr(sym, &info), "dladdr failed for %s", names[i]);
        cr_assert(strstr(info.dli_fname, "openblas"), "%s resolves to %s, not OpenBLAS",
                  names[i], info.dli_fname);
    }
}

Test(blas, dgemm_row_major_product)
{
    const double A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, -1, 2, 0.5, 1};
    double C[4];
    /* (2×3)(3×2) */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0, A, 3, B, 2, 0.0, C, 2);
    cr_assert_float_eq(C[0], 1 * 1 + 2 * -1 + 3 * 0.5, 1e-15);
    cr_assert_float_eq(C[3], 4 * 0 + 5 * 2 + 6 * 1, 1e-15);
}
