/* ltr_factors.h — the factor parameterisation of the ltr plugin (Pellegrino,
 * Cayco-Gajic & Chadwick 2023, App. A.1), shared with its study: unit
 * factors a_r, b_r, smooth trial factors c_r = L c̄_r and W^{(k)}. */
#ifndef KPF_LTR_FACTORS_H
#define KPF_LTR_FACTORS_H

#include <stddef.h>

#include "kpf/error.h"

enum kpf_ltr_act { KPF_LTR_TANH = 0, KPF_LTR_SOFTPLUS = 1, KPF_LTR_LINEAR = 2 };

/* L (K×K row-major, lower) = chol(A + jitter²·I) of the rational-quadratic
 * kernel A_ij = scale² / (1 + (i−j)²/(2·length²)).  KPF_ENUMERIC when the
 * matrix is not positive definite (jitter 0 and K large). */
int kpf_ltr_kernel_chol(size_t K, double length, double scale, double jitter, double *L,
                        kpf_error *err);

/* Unit rows: out[r] = in[r]/‖in[r]‖ (rk rows of n), norms[r] = ‖in[r]‖.
 * KPF_ENUMERIC names the first row of zero norm. */
int kpf_ltr_normalise(size_t rk, size_t n, const double *in, double *out, double *norms,
                      kpf_error *err);

/* Trial factors C (rk×K) = Cbar Lᵀ (c_r = L c̄_r), or a copy when L is NULL. */
void kpf_ltr_trial_factors(size_t rk, size_t K, const double *L, const double *cbar,
                           double *C);

/* W^{(k)} (n×n, row-major) = Σ_r C[r,k] a_r b_rᵀ from unit factors. */
void kpf_ltr_weight(size_t n, size_t rk, size_t K, const double *a, const double *b,
                    const double *C, size_t k, double *W);

#endif
