/* Effective rank and cumulative explained variance of a spectrum, with the
 * reference code's conventions (KPFlow Operator.effrank): variance is σ²,
 * and the rank is the point where the piecewise-linear cumulative curve
 * crosses the threshold, so it moves continuously with the spectrum. */
#include <math.h>

#include "kpf/linalg.h"

static int check_spectrum(const double *sv, size_t k, double *total, kpf_error *err)
{
    if (!sv || k == 0)
        return kpf_error_set(err, KPF_EINVAL, "empty spectrum");
    double sum = 0.0;
    for (size_t i = 0; i < k; i++) {
        if (!isfinite(sv[i]))
            return kpf_error_set(err, KPF_ENUMERIC, "singular value %zu is not finite", i);
        if (i && fabs(sv[i]) > fabs(sv[i - 1]))
            return kpf_error_set(err, KPF_EINVAL,
                                 "singular values must be in descending order (|σ_%zu| > "
                                 "|σ_%zu|)",
                                 i, i - 1);
        sum += sv[i] * sv[i];
    }
    if (*total <= 0.0)
        *total = sum;
    if (!(*total > 0.0))
        return kpf_error_set(err, KPF_EINVAL, "spectrum has zero total variance");
    return KPF_OK;
}

int kpf_explained_variance(const double *sv, size_t k, double total_var, double *cum,
                           kpf_error *err)
{
    int own_total = total_var <= 0.0;
    int rc = check_spectrum(sv, k, &total_var, err);
    if (rc)
        return rc;
    double c = 0.0;
    for (size_t i = 0; i < k; i++) {
        c += sv[i] * sv[i];
        cum[i] = c / total_var;
    }
    if (own_total)
        cum[k - 1] = 1.0; /* exactly, so thresh = 1 is reachable despite rounding */
    return KPF_OK;
}

int kpf_effrank(const double *sv, size_t k, double total_var, double thresh, double *rank,
                kpf_error *err)
{
    if (thresh == 0.0)
        thresh = 0.95;
    if (!(thresh > 0.0 && thresh <= 1.0))
        return kpf_error_set(err, KPF_EINVAL, "variance threshold %g not in (0, 1]", thresh);
    int own_total = total_var <= 0.0;
    int rc = check_spectrum(sv, k, &total_var, err);
    if (rc)
        return rc;
    double prev = 0.0, c = 0.0; /* c(i) and c(i+1) of the cumulative curve */
    for (size_t i = 0; i < k; i++) {
        c = (i + 1 == k && own_total) ? 1.0 : prev + sv[i] * sv[i] / total_var;
        if (c >= thresh) {
            *rank = (double)i + (thresh - prev) / (c - prev);
            return KPF_OK;
        }
        prev = c;
    }
    return kpf_error_set(err, KPF_EINVAL,
                         "the %zu components explain %.4g of the variance, less than the "
                         "threshold %.4g: compute more components",
                         k, c, thresh);
}
