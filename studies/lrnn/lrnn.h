/* lrnn.h — the linear-RNN learning-dynamics toolkit (Proca et al., ICML
 * 2025; seeds/001_linear_rnn_learning_dynamics.txt, read through
 * notes/seed-lrnn.md, whose corrections are applied).  docs/lrnn.md has the
 * equations, conventions and measured numbers.
 *
 * The model (plugin `lrnn`): h_{t+1} = W_h h_t + W_x x_t, h_1 = 0,
 * ŷ_t = W_y h_{t+1}, no biases.  In kpf's trajectory convention (step k maps
 * z_k to z_{k+1} with input x_k, output k reads z_{k+1}) paper index t is
 * k + 1.
 *
 * Conventions used by every function here:
 *   • Correlations are SUMS over the P trials (paper eq. 19), so a whitened
 *     batch has Σ_p x_{p,t} x_{p,t'}ᵀ = δ_{tt'} I exactly.
 *   • The reduced energy of one mode is E = ½ Σ_j (s_j − c b^{k_j} a)²
 *     (paper eq. 8 with τ = 1: times are t_θ/τ).  A "term" j is a pair
 *     (lag k_j, target s_j): single-output tasks have k = T − i, s = s_i
 *     (i = 1 … T); T-output tasks have k = t − i, s = s_{t,i} for all
 *     i ≤ t ≤ T (App. M).  The same code serves both.
 *   • kpf's loss is the masked MEAN squared error (loss.h), so one SGD step
 *     of size η on it advances reduced time by Δ(t_θ/τ) = 2η/(M·N_y), M the
 *     number of scored (trial, step) pairs (kpf_lrnn_time_per_step).
 *
 * Basis.  Tasks and the plugin agree on the singular vectors through a
 * shared seed: kpf_lrnn_orthogonal(basis_seed, which, n) draws the same
 * orthogonal matrix everywhere (which = U for outputs, V for inputs, R for
 * the hidden layer).  Put the same `basis_seed` in `task:` and `model:`. */
#ifndef KPF_LRNN_H
#define KPF_LRNN_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "lrnn_basis.h"   /* plugins/lrnn: kpf_lrnn_orthogonal */
#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "kpf/study.h"
#include "kpf/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- basis and whitening (lrnn_basis.c) --------------------------------- */


/* Orthonormalise the n rows of X (n×P, row-major) in place: afterwards
 * X Xᵀ = I to rounding (modified Gram–Schmidt, twice).  Needs P ≥ n and
 * rows of full rank (KPF_ENUMERIC otherwise). */
int kpf_lrnn_whiten_rows(double *X, size_t n, size_t P, kpf_error *err);

/* ---- task dynamics (lrnn_modes.c) --------------------------------------- */

enum kpf_lrnn_dynamics {
    KPF_LRNN_CONSTANT = 0, /* f = 1                      */
    KPF_LRNN_INVEXP = 1,   /* f = λ^{T−t}                */
    KPF_LRNN_EXP = 2,      /* f = λ^t                    */
    KPF_LRNN_DIRAC = 3     /* s_1 = β, s_T = κ, else 0   (eq. 11) */
};
extern const char *const kpf_lrnn_dynamics_names[]; /* NULL-terminated */

/* One singular (or eigen) dimension: s_t = δ f(λ, t), with the last step
 * replaced by κ when has_kappa (eq. 10).  Complex δ, λ, κ, β give the
 * rotational (eigen) tasks of App. N–O; real tasks leave imaginary parts 0. */
typedef struct kpf_lrnn_mode_spec {
    int dynamics;
    double complex delta, lambda, kappa, beta;
    int has_kappa;
} kpf_lrnn_mode_spec;

/* s_t of a trajectory of length T, paper index t = 1 … T. */
double complex kpf_lrnn_sv(const kpf_lrnn_mode_spec *sp, size_t T, size_t t);

/* The terms (lag, target) of one mode; all_outputs = 0: single-output
 * (n = T), 1: T-output (n = T(T+1)/2, target s_{t,i} = s_i of a length-t
 * task).  Owns its arrays. */
typedef struct kpf_lrnn_terms {
    size_t n;
    unsigned *k;
    double complex *s;
    size_t T;
    int all_outputs;
} kpf_lrnn_terms;

int kpf_lrnn_terms_build(const kpf_lrnn_mode_spec *sp, size_t T, int all_outputs,
                         kpf_lrnn_terms *out, kpf_error *err);
void kpf_lrnn_terms_free(kpf_lrnn_terms *t);

/* ---- reduced energy and its flow (lrnn_modes.c) ------------------------- */

/* E = ½ Σ_j |s_j − c b^{k_j} a|²  (eq. 8 / 40, T-output eq. 156). */
double kpf_lrnn_energy(const kpf_lrnn_terms *t, double a, double b, double c);
/* Eq. 9 (T-output eq. 159): data = ½ Σ_j (s_j² − 2 s_j c b^{k_j} a),
 * reg = ½ (ca)² Σ_j b^{2k_j}, in closed form (1 − b^{2T})/(1 − b²) resp.
 * [T(1−b²) − b²(1−b^{2T})]/(1−b²)², by the explicit sum when b² is within
 * 1e-3 of 1 (where the closed form is 0/0 or loses digits).  Real s only. */
void kpf_lrnn_energy_split(const kpf_lrnn_terms *t, double a, double b, double c,
                           double *data, double *reg);
/* Σ_{k=0}^{T−1} x^k and Σ_{t=1}^{T} Σ_{k=0}^{t−1} x^k (x = b²), guarded at x = 1. */
double kpf_lrnn_geom(double x, size_t T);
double kpf_lrnn_geom2(double x, size_t T);

/* −∇E: the right-hand sides τ da/dt, τ db/dt, τ dc/dt of eqs. 5–7 (real)
 * and of eqs. 182–184 (complex: τ d·/dt = −∂E/∂(·)*). */
void kpf_lrnn_flow_rhs(const kpf_lrnn_terms *t, double a, double b, double c, double *da,
                       double *db, double *dc);
void kpf_lrnn_flow_rhs_c(const kpf_lrnn_terms *t, double complex a, double complex b,
                         double complex c, double complex *da, double complex *db,
                         double complex *dc);

enum kpf_lrnn_integrator { KPF_LRNN_EULER = 0, KPF_LRNN_RK4 = 1 };

/* Integrate the reduced flow from (a, b, c) = y[0..2] for `steps` steps of
 * size h (in t_θ/τ).  Euler with h = Δ(t_θ/τ) of one SGD step is exactly
 * gradient descent on E, i.e. what training the `modes` plugin does.
 * traj (may be NULL) receives (steps+1)×3 values: the state after each
 * step, traj[0..2] the start.  frozen_b: b does not move. */
int kpf_lrnn_flow(const kpf_lrnn_terms *t, int method, double h, size_t steps,
                  int frozen_b, double y[3], double *traj, kpf_error *err);
/* Complex version (traj: (steps+1)×3 complex values). */
int kpf_lrnn_flow_c(const kpf_lrnn_terms *t, int method, double h, size_t steps,
                    double complex y[3], double complex *traj, kpf_error *err);

/* Balanced input-output mode with b frozen (App. C, eq. 47):
 *   u(t) = A e^{2At} / (A/u0 − B + B e^{2At}),
 * A = Σ_j b^{k_j} s_j, B = Σ_j b^{2k_j}, t in t_θ/τ; fixed point u∞ = A/B. */
double kpf_lrnn_frozen_b_u(const kpf_lrnn_terms *t, double b, double u0, double time);
/* u*(b) = A/B: the energy-optimal ac for a given b (eq. 101 for Dirac). */
double kpf_lrnn_optimal_u(const kpf_lrnn_terms *t, double b);

/* Zero-loss fixed point of a family (F.3; M.3): constant (1, δ),
 * inverse-exponential (λ, δ), exponential single-output (1/λ, δλ^T).
 * KPF_EUNSUPPORTED for families with no zero-loss solution (κ variant,
 * Dirac, T-output exponential). */
int kpf_lrnn_zero_loss_point(const kpf_lrnn_mode_spec *sp, size_t T, int all_outputs,
                             double *b, double *ac, kpf_error *err);

/* Global minimum of E over (b, u = ac) with |b| ≤ b_max: E*(b) = E(u*(b), b)
 * on a grid of n_grid points, refined by golden section.  b_max matters for
 * T > 4 where the infimum can sit at |b| → ∞ (notes §2.5). */
int kpf_lrnn_global_min(const kpf_lrnn_terms *t, double b_max, size_t n_grid, double *b,
                        double *u, double *E, kpf_error *err);

/* ---- networks: weights, modes, singular values (lrnn_net.c) ------------- */

/* The three matrices of a linear RNN, row-major: W_x (n_h×n_in), W_h
 * (n_h×n_h), W_y (n_out×n_h).  Owns them. */
typedef struct kpf_lrnn_net {
    size_t n_in, n_h, n_out;
    double *Wx, *Wh, *Wy;
} kpf_lrnn_net;

int kpf_lrnn_net_alloc(size_t n_in, size_t n_h, size_t n_out, kpf_lrnn_net *net,
                       kpf_error *err);
void kpf_lrnn_net_free(kpf_lrnn_net *net);

/* The weights of a model of the `lrnn` plugin at its current θ, as the
 * plugin's "kpf.lrnn.net/1" interface gives them (plugins/lrnn/
 * lrnn_net_iface.h): full copies W_x, W_h, W_y; modes expands W_x =
 * diag(a) V_dᵀ, W_h = diag(b), W_y = U_d diag(c) in the model's own basis.
 * KPF_EINVAL for a model without the interface. */
int kpf_lrnn_net_from_model(const kpf_model *m, kpf_lrnn_net *net, kpf_error *err);

/* Modes of any network in a given basis (eqs. 197–199, R_x = R_y = R):
 * a = diag(Rᵀ W_x V), b = diag(Rᵀ W_h R), c = diag(Uᵀ W_y R) for the first d
 * columns of U (n_out×n_out), V (n_in×n_in), R (n_h×n_h).  offdiag (may be
 * NULL) gets the largest |off-diagonal entry| of the three d×d matrices,
 * i.e. how far the network is from aligned. */
int kpf_lrnn_extract_modes(const kpf_lrnn_net *net, const double *U, const double *V,
                           const double *R, size_t d, double *a, double *b, double *c,
                           double *offdiag, kpf_error *err);
/* Eigen (rotational) modes: square networks, Q (N×N) real orthogonal, the
 * complex mode of pair p is read from the 2×2 block B = Q_pᵀ W Q_p as
 * (B00 + B11)/2 + i(B10 − B01)/2 (eigenvalue of eigenvector q₀ − i q₁). */
int kpf_lrnn_extract_modes_eigen(const kpf_lrnn_net *net, const double *Q, size_t pairs,
                                 double complex *a, double complex *b, double complex *c,
                                 kpf_error *err);

/* Singular values (descending) of a rows×cols row-major matrix; s has
 * min(rows, cols) entries. */
int kpf_lrnn_svals(const double *W, size_t rows, size_t cols, double *s, kpf_error *err);

/* One SGD step of size η on kpf's masked MSE = this much reduced time. */
double kpf_lrnn_time_per_step(double eta, size_t scored, size_t n_out);

/* ---- outputs of a trained model (lrnn_net.c) ---------------------------- */

/* Masked MSE of the model on a fresh batch of B trials from `task` (drawn
 * with `rng`): run a network trained at one T on a task of another T′ to
 * measure extrapolation. */
int kpf_lrnn_task_loss(kpf_model *m, kpf_task *task, size_t B, gsl_rng *rng,
                       double *loss, kpf_error *err);

/* ---- the finite-width output NTK (lrnn_ntk.c) --------------------------- */

/* J = ∂ŷ/∂θ (all of θ, readout included) at every scored output entry of
 * the batch (mask > 0), one reverse sweep per entry through the core's
 * adjoint (readout_jzT, P*, J_θᵀ, readout_jthT, initial state), and
 * K = J Jᵀ.  Rows are ordered (step, trial, output).  *J (n×m) and *K (n×n)
 * are malloc'ed; either pointer may be NULL if not wanted. */
int kpf_lrnn_output_ntk(kpf_model *m, const kpf_task_batch *batch, double **J, double **K,
                        size_t *n, kpf_error *err);
/* D = 1 − ⟨K0, K1⟩_F / (‖K0‖_F ‖K1‖_F)  (eq. 135). */
double kpf_kernel_distance(const double *K0, const double *K1, size_t n);

/* ---- the LTI view with FFTW (lrnn_fft.c) -------------------------------- */

/* Markov parameters G_k = W_y W_h^k W_x, k = 0 … T−1: G is T×n_out×n_in. */
int kpf_lrnn_markov(const kpf_lrnn_net *net, size_t T, double *G, kpf_error *err);

/* ŷ by the recurrence, for inputs x [T][B][n_in] (step-major), into
 * y [T][B][n_out]: one GEMM per step.  Reference for the FFT path. */
int kpf_lrnn_forward(const kpf_lrnn_net *net, size_t B, size_t T, const double *x,
                     double *y, kpf_error *err);

/* Causal convolution y_t = Σ_{k<t+1} G_k x_{t−k} for a batch by FFT: every
 * channel zero-padded to L ≥ 2T−1, r2c/c2r plans made once at alloc and
 * reused for every call, and per frequency one complex GEMM (B×n_in by
 * n_in×n_out).  Plans are FFTW_ESTIMATE (no timing, reproducible). */
typedef struct kpf_lti_fft kpf_lti_fft;
int kpf_lti_fft_alloc(size_t n_in, size_t n_out, size_t T, size_t B, kpf_lti_fft **out,
                      kpf_error *err);
void kpf_lti_fft_free(kpf_lti_fft *p);
/* Transform the kernel G (T×n_out×n_in) once; then apply to any number of
 * input batches. */
int kpf_lti_fft_set_kernel(kpf_lti_fft *p, const double *G, kpf_error *err);
int kpf_lti_fft_apply(kpf_lti_fft *p, const double *x, double *y, kpf_error *err);
/* The masked MSE (loss.h) of the FFT outputs against a task batch. */
int kpf_lti_fft_loss(kpf_lti_fft *p, const kpf_task_batch *batch, double *loss,
                     kpf_error *err);

/* Truncated frequency response H(ω_f) = Σ_{k<T} G_k e^{−iω_f k} at the
 * n_freq = L/2+1 frequencies ω_f = 2πf/L (by FFT of the zero-padded G_k):
 * H is n_freq×n_out×n_in complex.  L ≥ T. */
int kpf_lti_freq_response(const double *G, size_t T, size_t n_out, size_t n_in, size_t L,
                          double complex *H, kpf_error *err);
/* One mode's truncated response c a (1 − (b e^{−iω})^T)/(1 − b e^{−iω})
 * (the sum when b e^{−iω} = 1). */
double complex kpf_lrnn_mode_response(double complex a, double complex b,
                                      double complex c, size_t T, double omega);

/* ---- phase transitions (lrnn_modes.c) ----------------------------------- */

/* Final (b, ac) of one mode: by gradient descent on E (Euler, `steps`
 * steps of size h from (a0, b0, c0): what a trained network reaches) or by
 * the global minimum (|b| ≤ b_max). */
typedef struct kpf_lrnn_final {
    double b, ac, E;
} kpf_lrnn_final;
int kpf_lrnn_train_modes(const kpf_lrnn_terms *t, double a0, double b0, double c0, double h,
                         size_t steps, kpf_lrnn_final *out, kpf_error *err);

/* ---- shipped reproductions (lrnn_experiments.c) ------------------------ */

/* Run the experiment a config describes and write its table (*.dat), plot
 * (*.png via gnuplot) and summary.json into out_dir (which must exist; no
 * file is overwritten).  check validates the whole config the same way run
 * reads it (every key, unknown keys, the task and model it would create,
 * the values the figure sweeps), with errors located at the key
 * (KPF_ECONFIG), and writes nothing.  The config's `lrnn:` map picks the
 * figure:
 *   figure: modes        Fig. 2 — task lrnn_svd, model lrnn; the network is
 *                        trained by SGD at `step` units of t_θ/τ per
 *                        iteration for `time` units, modes extracted every
 *                        `record_every` iterations, against the reduced ODE
 *   figure: phase        Fig. 4 — `panels` (dynamics, sweep, from, to, n,
 *                        kappa, delta, lambda, beta) × `T`: final (b, ac) by
 *                        gradient descent on E from `init` and the global
 *                        minimum; `verify` points re-trained with the plugin
 *   figure: ntk          Fig. 5 — kernel distance over `T` × `scale` for
 *                        `alignment` aligned (mode_init = scale) and
 *                        unaligned (sigma = scale)
 *   figure: integration  Fig. 6 — `ops` sum/mean: singular values during
 *                        training and the loss at T_test_from … T_test_to
 * docs/lrnn.md documents every key.  Config values are changed in place
 * (task.T, model.alignment …) while sweeping. */
int kpf_lrnn_experiment_check(kpf_config *cfg, const kpf_plugin *lrnn, kpf_error *err);
int kpf_lrnn_experiment_run(kpf_config *cfg, const kpf_plugin *lrnn, const char *out_dir,
                            kpf_error *err);

/* The `lrnn` study (kpf/study.h): a config with a top-level `lrnn:` map runs
 * kpf_lrnn_experiment_check/run with the registry's `lrnn` plugin.
 * Enumerated like a shared object's kpf_study_descriptor (one study). */
const kpf_study_desc *kpf_lrnn_study_descriptor(uint32_t index);

#ifdef __cplusplus
}
#endif
#endif
