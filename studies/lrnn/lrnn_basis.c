/* Exact whitening of the lrnn tasks' inputs (lrnn.h). */
#include "lrnn.h"

#include <math.h>

int kpf_lrnn_whiten_rows(double *X, size_t n, size_t P, kpf_error *err)
{
    if (P < n)
        return kpf_error_set(err, KPF_EINVAL,
                             "whitening %zu input directions needs at least %zu trials "
                             "(got %zu): use a batch ≥ T·n_in",
                             n, n, P);
    for (size_t i = 0; i < n; i++) {
        double *xi = X + i * P;
        double norm0 = 0;
        for (size_t p = 0; p < P; p++)
            norm0 += xi[p] * xi[p];
        norm0 = sqrt(norm0);
        for (int pass = 0; pass < 2; pass++) /* "twice is enough" */
            for (size_t j = 0; j < i; j++) {
                const double *xj = X + j * P;
                double d = 0;
                for (size_t p = 0; p < P; p++)
                    d += xi[p] * xj[p];
                for (size_t p = 0; p < P; p++)
                    xi[p] -= d * xj[p];
            }
        double nr = 0;
        for (size_t p = 0; p < P; p++)
            nr += xi[p] * xi[p];
        nr = sqrt(nr);
        if (!(nr > 1e-10 * norm0) || !(nr > 0))
            return kpf_error_set(err, KPF_ENUMERIC,
                                 "whitening: input direction %zu is (numerically) dependent "
                                 "on the others",
                                 i);
        for (size_t p = 0; p < P; p++)
            xi[p] /= nr;
    }
    return KPF_OK;
}
