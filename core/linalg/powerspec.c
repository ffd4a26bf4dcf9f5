/* Power spectra of [T][B][n] tensors (kpf/powerspec.h). */
#include "kpf/powerspec.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int kpf_power_spectrum(const double *x, size_t B, size_t T, size_t n, int detrend,
                       double *psd, kpf_error *err)
{
    if (!B || !T || !n)
        return kpf_error_set(err, KPF_EINVAL, "power spectrum: empty tensor");
    const size_t S = B * n, nf = T / 2 + 1;
    double *in = fftw_alloc_real(T * S);
    fftw_complex *out = fftw_alloc_complex(nf * S);
    if (!in || !out) {
        fftw_free(in);
        fftw_free(out);
        return kpf_error_set(err, KPF_ENOMEM, "power spectrum: out of memory");
    }
    int L = (int)T;
    fftw_plan pl = fftw_plan_many_dft_r2c(1, &L, (int)S, in, NULL, (int)S, 1, out, NULL,
                                          (int)S, 1, FFTW_ESTIMATE);
    if (!pl) {
        fftw_free(in);
        fftw_free(out);
        return kpf_error_set(err, KPF_EINVAL, "power spectrum: no FFTW plan");
    }
    memcpy(in, x, T * S * sizeof *in);
    if (detrend)
        for (size_t s = 0; s < S; s++) {
            double mu = 0;
            for (size_t t = 0; t < T; t++)
                mu += in[t * S + s];
            mu /= (double)T;
            for (size_t t = 0; t < T; t++)
                in[t * S + s] -= mu;
        }
    fftw_execute(pl);
    memset(psd, 0, n * nf * sizeof *psd);
    for (size_t f = 0; f < nf; f++)
        for (size_t b = 0; b < B; b++)
            for (size_t i = 0; i < n; i++) {
                const double *c = out[f * S + b * n + i];
                psd[i * nf + f] += (c[0] * c[0] + c[1] * c[1]) / ((double)T * (double)B);
            }
    fftw_destroy_plan(pl);
    fftw_free(in);
    fftw_free(out);
    return KPF_OK;
}

double kpf_dominant_frequency(const double *psd, size_t nf, size_t T)
{
    if (T < 2 || nf < 2)
        return 0.0;
    size_t best = 1;
    for (size_t f = 2; f < nf; f++)
        if (psd[f] > psd[best])
            best = f;
    return (double)best / (double)T;
}

int kpf_dominant_frequencies(const double *vecs, size_t k, size_t B, size_t T, size_t n,
                             double *freq, kpf_error *err)
{
    const size_t nf = T / 2 + 1;
    double *psd = malloc(n * nf * sizeof *psd), *tot = malloc(nf * sizeof *tot);
    if (!psd || !tot) {
        free(psd);
        free(tot);
        return kpf_error_set(err, KPF_ENOMEM, "dominant frequencies: out of memory");
    }
    int rc = KPF_OK;
    for (size_t j = 0; j < k && !rc; j++) {
        rc = kpf_power_spectrum(vecs + j * T * B * n, B, T, n, 1, psd, err);
        if (rc)
            break;
        for (size_t f = 0; f < nf; f++) {
            tot[f] = 0;
            for (size_t i = 0; i < n; i++)
                tot[f] += psd[i * nf + f];
        }
        freq[j] = kpf_dominant_frequency(tot, nf, T);
    }
    free(psd);
    free(tot);
    return rc;
}
