/* ltr_factors.h — the factor parameterisation of the ltr plugin (Pellegrino,
 * Cayco-Gajic & Chadwick 2023, App. A.1), shared with its study: unit
 * factors a_r, b_r, smooth trial factors c_r = L c̄_r and W^{(k)}; and the
 * plugin's typed interfaces: its configuration as a create feature
 * ("kpf.ltr.spec/1") and its current factors as an extension table
 * ("kpf.ltr.factors/1"). */
#ifndef KPF_LTR_FACTORS_H
#define KPF_LTR_FACTORS_H

#include <stddef.h>

#include "kpf/activation.h"
#include "kpf/error.h"

/* ---- "kpf.ltr.spec/1": create an ltr model from code ---------------------- */

/* Pass a kpf_ltr_spec as this feature to kpf_model_create_typed (with no
 * YAML node) and the plugin takes every setting from it; the YAML keys of
 * the same names (docs/ltr.md) are the same settings.  The host runs the
 * model with Euler steps of dt (the plugin reports it as its dt_default). */
#define KPF_LTR_SPEC_FEATURE "kpf.ltr.spec/1"

typedef struct kpf_ltr_spec {
    size_t n;          /* units                                  YAML n      */
    size_t rank;       /* R                                      rank        */
    size_t K;          /* trials                                 trials      */
    double tau;        /* time constant                          tau         */
    double dt;         /* Euler step                             dt (core)   */
    int act;           /* enum kpf_activation                    activation  */
    int smooth;        /* 1: c = L c̄, 0: c free                  trial_factors */
    double length, scale, jitter; /* kernel l, s, σ        kernel_length, … */
    double q_init;     /* std of the initial q                   q_init_std  */
    double c_init;     /* std of the initial c̄ (or c)            c_init_std  */
    double c_mean;     /* initial c = c_mean + L c̄               c_init_mean */
    double input_scale;   /* B_ij ~ N(0, input_scale²/n_in)      input_scale */
    double readout_scale; /* M_ij ~ N(0, readout_scale²/n)       readout_scale */
} kpf_ltr_spec;

/* ---- "kpf.ltr.factors/1": the factors the model runs with ----------------- */

/* kpf_model_extension(m, KPF_LTR_FACTORS_INTERFACE) of an ltr model.  The
 * arrays are the plugin's, valid until the model is freed, and hold the
 * values at the θ of the last kpf_model_theta_changed (exactly what f and
 * the J ops use). */
#define KPF_LTR_FACTORS_INTERFACE "kpf.ltr.factors/1"

typedef struct kpf_ltr_factors {
    size_t n, rank, K;
    const double *a; /* unit a_r = â_r/‖â_r‖: rank×n                 */
    const double *b; /* unit b_r: rank×n                              */
    const double *C; /* trial factors c_r^{(k)} (= L c̄_r when smooth): rank×K */
} kpf_ltr_factors;

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
