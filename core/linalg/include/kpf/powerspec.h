/* kpf/powerspec.h — power spectra of trajectory-space tensors with FFTW.
 *
 * For any step-major tensor [T][B][n] (trajectories z, outputs, or an
 * eigenfunction of P in 𝕋): the periodogram of every (trial, unit) series
 * along time, P_f = |Σ_t x_t e^{−2πi ft/T}|² / T at the frequencies
 * f/T cycles per step, f = 0 … T/2, averaged over trials.  detrend = 1
 * removes each series' mean first.  One FFTW r2c plan for all B·n series
 * (strided, no copies besides the detrending buffer). */
#ifndef KPF_POWERSPEC_H
#define KPF_POWERSPEC_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

/* psd: n × (T/2 + 1), row i the spectrum of unit i (mean over trials). */
int kpf_power_spectrum(const double *x, size_t B, size_t T, size_t n, int detrend,
                       double *psd, kpf_error *err);

/* The frequency (cycles per step) of the largest bin f ≥ 1 of psd (nf =
 * T/2 + 1 bins): the dominant oscillation once the mean (f = 0) is left out.
 * 0 when T < 2. */
double kpf_dominant_frequency(const double *psd, size_t nf, size_t T);

/* For k tensors stored one after another (each [T][B][n], e.g. eigenvectors
 * of an operator on 𝕋): the dominant frequency of the spectrum summed over
 * units, detrended.  freq has k entries. */
int kpf_dominant_frequencies(const double *vecs, size_t k, size_t B, size_t T, size_t n,
                             double *freq, kpf_error *err);

KPF_END_DECLS
#endif
