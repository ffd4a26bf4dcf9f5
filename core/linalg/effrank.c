/* Effective rank and cumulative explained variance of a spectrum, with the
 * reference code's conventions (KPFlow Operator.effrank): variance is σ²,
 * and the rank is the point where the piecewise-linear cumulative curve
 * crosses the threshold, so it moves continuously with the spectrum.  The
 * _pow variants weigh each component by σ^p instead: p = 4 is the paper-era
 * KPFlow analysis, which passed eigenvalues λ = σ² to a σ² effrank. */
#include <math.h>

#include "kpf/linalg.h"

/* σ^p; p = 2 and 4 as products, so that p = 2 is the σ² the plain calls
 * always computed, bit for bit. */
static double weight(double s, double p)
{
    if (p == 2.0)
        return s * s;
    if (p == 4.0)
        return (s * s) * (s * s);
    return pow(fabs(s), p);
}

static int check_spectrum(const double *sv, size_t k, double p, double *total, kpf_error *err)
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
        sum += weight(sv[i], p);
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
    return kpf_explained_variance_pow(sv, k, total_var, 2.0, cum, err);
}

int kpf_effrank(const double *sv, size_t k, double total_var, double thresh, double *rank,
                kpf_error *err)
{
    return kpf_effrank_pow(sv, k, total_var, thresh, 2.0, rank, err);
}

static int check_power(double p, kpf_error *err)
{
    if (!(p > 0.0 && p <= 16.0))
        return kpf_error_set(err, KPF_EINVAL, "spectrum power %g not in (0, 16]", p);
    return KPF_OK;
}

int kpf_explained_variance_pow(const double *sv, size_t k, double total_var, double power,
                               double *cum, kpf_error *err)
{
    int own_total = total_var <= 0.0;
    int rc = check_power(power, err);
    if (!rc)
        rc = check_spectrum(sv, k, power, &total_var, err);
    if (rc)
        return rc;
    double c = 0.0;
    for (size_t i = 0; i < k; i++) {
        c += weight(sv[i], power);
        cum[i] = c / total_var;
    }
    if (own_total)
        cum[k - 1] = 1.0; /* exactly, so thresh = 1 is reachable despite rounding */
    return KPF_OK;
}

int kpf_effrank_pow(const double *sv, size_t k, double total_var, double thresh, double power,
                    double *rank, kpf_error *err)
{
    if (thresh == 0.0)
        thresh = 0.95;
    if (!(thresh > 0.0 && thresh <= 1.0))
        return kpf_error_set(err, KPF_EINVAL, "variance threshold %g not in (0, 1]", thresh);
    int own_total = total_var <= 0.0;
    int rc = check_power(power, err);
    if (!rc)
        rc = check_spectrum(sv, k, power, &total_var, err);
    if (rc)
        return rc;
    double prev = 0.0, c = 0.0; /* c(i) and c(i+1) of the cumulative curve */
    for (size_t i = 0; i < k; i++) {
        c = (i + 1 == k && own_total) ? 1.0 : prev + weight(sv[i], power) / total_var;
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
