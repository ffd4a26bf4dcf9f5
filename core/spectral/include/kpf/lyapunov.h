/* kpf/lyapunov.h — Lyapunov exponents along simulated trajectories.
 *
 * All exponents are those of the discrete map the simulation computed
 * (kpf_step: the plugin's map, or one Euler/RK4 step of its vector field),
 * through its exact tangent kpf_step_tangent, and are reported per unit
 * time: a growth factor ρ per step of size dt is the exponent log(ρ)/dt.
 * Trajectory step k maps z_k to z_{k+1} (kpf/trajectory.h); a window
 * [k0, k1) covers steps k0 … k1−1, i.e. time dt·(k1 − k0).
 *
 * Spectrum (Benettin/Shimada–Nagashima QR method, as in Engelken, Wolf &
 * Abbott 2020 and KPFlow App. C): k orthonormal tangent vectors per trial,
 * drawn from `seed`, are pushed through the tangent from step `start`; every
 * t_ons steps Q R = qr(Y) (GSL Householder), Y ← Q, and log|R_ii| is added
 * once the QR block ends after start + transient.  λ_i = Σ log|R_ii| / time
 * counted.  The k vectors of all B trials travel as one block of B·k rows
 * through kpf_step_tangent (each row carries its trial's stage states,
 * tapes, inputs and times), so one call per step does every product.
 *
 * Nothing here prints: an ill-conditioned orthonormal system (Engelken's
 * cond(Q) warning, t_ons too long) is reported in kpf_lyap_diag. */
#ifndef KPF_LYAPUNOV_H
#define KPF_LYAPUNOV_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

typedef struct kpf_lyap_opts {
    size_t k;         /* exponents per trial, 1 … n                            */
    size_t t_ons;     /* steps between re-orthonormalisations (0: 1)           */
    size_t start;     /* first step propagated (skips the trajectory's own
                         transient)                                            */
    size_t transient; /* steps after `start` propagated but not counted, so
                         the vectors align with the Lyapunov directions        */
    uint64_t seed;    /* initial orthonormal system / perturbation direction   */
} kpf_lyap_opts;

/* cond(Y) is watched at every QR through cond(R) ≥ max|R_ii| / min|R_ii|
 * (a lower bound, free from the QR), and computed exactly (SVD of R) at the
 * first counted QR, as in Engelken's demo.  `ill_conditioned` is set when
 * either exceeds KPF_LYAP_COND_WARN: the smaller exponents are then
 * unreliable; shorten t_ons. */
#define KPF_LYAP_COND_WARN 1e8

typedef struct kpf_lyap_diag {
    double cond_first;    /* exact cond(Y) at the first counted QR      */
    double cond_diag_max; /* max over all QRs of max|R_ii| / min|R_ii|  */
    int ill_conditioned;
    size_t n_qr;          /* QR steps counted                           */
    double time;          /* time the exponents average over            */
} kpf_lyap_diag;

/* The k largest exponents of each trial: lambda[b·k + i], descending within
 * a trial up to statistical error (QR order, not sorted).  diag may be NULL.
 * Needs at least one counted QR block within the trajectory. */
int kpf_lyapunov_qr(kpf_model *m, const kpf_traj *tr, const kpf_lyap_opts *o,
                    double *lambda, kpf_lyap_diag *diag, kpf_error *err);

/* The largest exponent by direct simulation (Engelken's DNS check): from
 * step `start` each trial is re-simulated, with kpf_step on rows owned here,
 * from z + ε·u (u a seeded random unit direction); every t_ons steps the
 * difference d to the stored trajectory is measured, log(‖d‖/ε) accumulated
 * once past start + transient, and d rescaled to the current ε.  ε =
 * eps_rel·max(‖z‖, 1) (eps_rel ≤ 0 selects 1e-6): relative to the state so
 * rounding cannot swallow d, with a floor for states near 0.  lambda_max[b]
 * per trial.  k in the options is ignored. */
int kpf_lyapunov_dns(kpf_model *m, const kpf_traj *tr, const kpf_lyap_opts *o,
                     double eps_rel, double *lambda_max, kpf_error *err);

/* Finite-time exponents over the window [k0, k1): with Φ_b the fundamental
 * matrix of trial b over the window (n × n, built from the identity with a
 * QR every t_ons steps for stability), ftle[b·n + i] = log σ_i(Φ_b) / (dt·(k1
 * − k0)), descending.  Φ is kept as Q·(R_N⋯R_1) with the R product
 * rescaled, and its singular values come from one-sided Jacobi, so the
 * spread σ_1/σ_n is limited by double precision (~1e15) — as for any
 * method that forms Φ. */
int kpf_lyapunov_ftle(kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1,
                      size_t t_ons, double *ftle, kpf_error *err);

/* Consensus finite-time spectrum over trials (KPFlow App. B.3, eq. 42):
 * G = E_b[Φ_b Φ_bᵀ] = (1/B) Σ_b Φ_b Φ_bᵀ, the averaged controllability
 * Gramian, whose eigenvalues μ_i give λ_i = log(μ_i) / (2·dt·(k1 − k0)),
 * descending (the singular values of U_wide = (Φ_1 … Φ_B)/√B; the paper's
 * 1/B normalisation of U_wide shifts every λ by −log(B)/(2t) — we use the
 * mean so that B identical trials give exactly the single-trial FTLEs).
 * lambda: n values.  Same precision caveat as kpf_lyapunov_ftle. */
int kpf_lyapunov_consensus(kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1,
                           size_t t_ons, double *lambda, kpf_error *err);

/* Kaplan–Yorke (Lyapunov) dimension of the spectrum lambda[0..k), sorted
 * into descending order first (QR exponents are only ordered up to
 * statistical error): D = j + Σ_{i≤j} λ_i / |λ_{j+1}| with j the largest
 * count whose partial sum is ≥ 0; 0 when λ_1 < 0; k when the whole sum is
 * ≥ 0 (the given exponents do not reach the contracting part). */
int kpf_kaplan_yorke(const double *lambda, size_t k, double *dim, kpf_error *err);

KPF_END_DECLS
#endif
