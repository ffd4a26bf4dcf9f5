/* ltr_fit.h — low-tensor-rank RNNs (Pellegrino, Cayco-Gajic & Chadwick
 * 2023): networks of the ltr plugin created from typed specs, and fitting
 * them to a recorded tensor Y [neurons × time × trials].
 *
 * Model (plugins/ltr, docs/ltr.md).  On trial k
 *     τ dx/dt = W^{(k)} φ(x) − x + B u,   W^{(k)} = Σ_r c_r^{(k)} a_r b_rᵀ,
 * a_r = â_r/‖â_r‖, b_r = b̂_r/‖b̂_r‖ (θ holds â, b̂), c_r = L c̄_r with
 * L = chol(A + σ²I), A_ij = s² (1 + (i−j)²/(2 l²))⁻¹ (smooth trial factors,
 * App. A.1 / Alg. 1) or c free; x₀ = Σ_r q_r a_r; readout y = M φ(x).
 * θ blocks in order: a (R×n), b (R×n), cbar or c (R×K), B (n×n_in, absent
 * when n_in = 0), q (R), M (n_out×n).
 *
 * Fitting.  The data tensor is stored row-major [N][T][K] (element (i,t,k)
 * at (i·T + t)·K + k), as written to HDF5.  Bin t of trial k is compared
 * with the readout of the state after burn_in + (t+1)·steps_per_bin steps of
 * the model (x₀ at step 0).  Inputs depend on the condition only: trial k
 * receives U[cond[k]] (bins × n_in), held over each bin, and zero during
 * burn-in.  Loss (mean over the entries a mask scores):
 *   mse:      Σ mask (ŷ − y)² / Σ mask  +  α · mean_{k,step,i} x²
 *   poisson:  Σ mask (λ − y log λ) / Σ mask + α · mean x²,  λ = softplus(ŷ)
 * (ŷ = M φ(x); the softplus link keeps the rate positive for any M).
 * Gradients: readout adjoint → kpf_propagate_adjoint → J_θᵀ sums, the same
 * chain as gradient.h, with this loss's output error.
 *
 * Cross-validation.  Per neuron, the (time × trial) plane is tiled into
 * blocks of block_t × block_k; a fraction of the blocks is held out (train
 * mask 0) and only each held-out block's interior, inner_t × inner_k
 * centred in it, is scored (test mask 1); the borders are neither trained
 * nor scored (Table 1: blocks 1×10×20, interiors 1×5×10).  Held-out
 * unexplained variance UV = Σ_test (ŷ−y)² / Σ_test (y − ȳ_i)², ȳ_i the
 * mean of neuron i over its test entries. */
#ifndef KPF_LTR_FIT_H
#define KPF_LTR_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "ltr_factors.h"   /* plugins/ltr: the factor parameterisation */
#include "kpf/cp.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "kpf/study.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the ltr network the study fits -------------------------------------- */

/* A network is a kpf_ltr_spec (ltr_factors.h, the plugin's typed
 * configuration "kpf.ltr.spec/1"), so a spec and the plugin agree by
 * construction. */

/* The study's defaults: n = 32, rank 3, K = 1, τ = 1, dt = 0.1, tanh,
 * smooth trial factors with l = 15, s = 1, σ = 0.1, q and c̄ ~ N(0, 1),
 * c_mean 0, input and readout scale 1. */
void kpf_ltr_spec_default(kpf_ltr_spec *s);
/* Create an ltr model from a spec through the plugin's typed feature (the
 * plugin must be the ltr plugin; trials = s->K, Euler steps of s->dt). */
int kpf_ltr_model_create(const kpf_plugin *ltr, const kpf_ltr_spec *s, size_t n_in,
                         size_t n_out, uint64_t seed, kpf_model **out, kpf_error *err);
/* Unit factors a, b (rank×n each) and trial factors C (rank×K) of the
 * network spec s with parameters theta (m values, as a model created from s
 * with n_in inputs and n_out outputs holds), as the plugin computes them
 * (its "kpf.ltr.factors/1" interface): no θ layout is read here. */
int kpf_ltr_factors_of(const kpf_plugin *ltr, const kpf_ltr_spec *s, size_t n_in,
                       size_t n_out, const double *theta, size_t m, double *a, double *b,
                       double *C, kpf_error *err);
/* The same from a live ltr model at its current θ. */
int kpf_ltr_model_factors(const kpf_model *m, double *a, double *b, double *C,
                          kpf_error *err);

/* ---- data --------------------------------------------------------------- */

typedef struct kpf_ltr_data {
    size_t N, T, K;   /* neurons, time bins, trials                         */
    double *Y;        /* [N][T][K]                                          */
    size_t n_in;      /* 0: autonomous                                      */
    size_t n_cond;
    int *cond;        /* [K] condition of each trial (NULL: all 0)          */
    double *U;        /* [n_cond][T][n_in] condition inputs (NULL if n_in 0) */
} kpf_ltr_data;

int kpf_ltr_data_alloc(size_t N, size_t T, size_t K, size_t n_in, size_t n_cond,
                       kpf_ltr_data **out, kpf_error *err);
void kpf_ltr_data_free(kpf_ltr_data *d);
/* HDF5: /Y [N,T,K] (required); /U [n_cond,T,n_in] and /cond [K] (optional,
 * together).  Read checks every shape. */
int kpf_ltr_data_read(const char *path, kpf_ltr_data **out, kpf_error *err);
int kpf_ltr_data_write(const char *path, const kpf_ltr_data *d, kpf_error *err);

/* ---- masks -------------------------------------------------------------- */

typedef struct kpf_ltr_cv_opts {
    size_t block_t, block_k;   /* held-out block              [10, 20] */
    size_t inner_t, inner_k;   /* scored interior              [5, 10]  */
    double frac;               /* fraction of blocks held out  [0.2]    */
    uint64_t seed;
} kpf_ltr_cv_opts;

void kpf_ltr_cv_opts_default(kpf_ltr_cv_opts *o);
/* train and test masks [N][T][K] (0/1).  Blocks at the edges are clipped;
 * exactly round(frac·blocks) blocks of each neuron are held out. */
int kpf_ltr_cv_masks(size_t N, size_t T, size_t K, const kpf_ltr_cv_opts *o, double *train,
                     double *test, kpf_error *err);

/* ---- fitting ------------------------------------------------------------- */

enum kpf_ltr_loss { KPF_LTR_MSE = 0, KPF_LTR_POISSON = 1 };

typedef struct kpf_ltr_fit_opts {
    size_t iterations;     /* Adam steps                        [2000]  */
    double lr;             /* Adam learning rate                [0.01]  */
    double lr_final;       /* lr decays geometrically to lr·lr_final
                              over the iterations              [1]     */
    double clip;           /* gradient-norm clip, 0 = none      [1]     */
    double alpha;          /* activity penalty α                [0]     */
    int loss;              /* enum kpf_ltr_loss                 [mse]   */
    size_t burn_in;        /* steps before bin 0                [0]     */
    size_t steps_per_bin;  /*                                   [1]     */
    size_t restarts;       /* seeds per fit, best train loss kept [1]   */
    int solve_readout;     /* MSE only: M by least squares before every
                              step, Adam on the other blocks     [1]     */
    uint64_t seed;
    const double *theta_init; /* restart 0 starts here instead of a random
                              draw (m values of the spec's model; the
                              caller keeps it)                  [NULL]  */
    size_t polish;         /* after Adam, up to this many BFGS iterations
                              on all of θ (GSL vector_bfgs2)     [0]     */
} kpf_ltr_fit_opts;

void kpf_ltr_fit_opts_default(kpf_ltr_fit_opts *o);

typedef struct kpf_ltr_fit_result {
    double train_loss;     /* loss on the train mask, at the end   */
    double train_uv;       /* unexplained variance on train entries */
    double test_uv;        /* on test entries (NaN without a mask) */
    size_t m;
    double *theta;         /* fitted θ (m values), owned             */
    uint64_t seed;         /* seed of the kept restart               */
    /* every restart (kept or not), for identifiability checks: */
    size_t restarts;
    double *restart_loss;    /* final train loss (NaN: diverged)       */
    double *restart_test_uv; /* held-out UV (NaN: diverged or no mask) */
    double *restart_theta;   /* restarts × m (zeros when diverged)      */
} kpf_ltr_fit_result;

void kpf_ltr_fit_result_free(kpf_ltr_fit_result *r);

/* A fitting problem: model + data + masks, with buffers for one full batch
 * (all K trials).  Exposed so tests can check the gradient. */
typedef struct kpf_ltr_problem kpf_ltr_problem;

int kpf_ltr_problem_alloc(kpf_model *m, const kpf_ltr_data *d, const double *train_mask,
                          const kpf_ltr_fit_opts *o, kpf_ltr_problem **out, kpf_error *err);
void kpf_ltr_problem_free(kpf_ltr_problem *p);
/* Loss at m->theta and, when grad is non-NULL, its gradient (m values). */
int kpf_ltr_problem_loss(kpf_ltr_problem *p, double *loss, double *grad, kpf_error *err);
/* Predictions ŷ [N][T][K] of the last kpf_ltr_problem_loss call. */
const double *kpf_ltr_problem_pred(const kpf_ltr_problem *p);
/* State x [K][n] at bin t of the last simulation (loss or solve_readout). */
const double *kpf_ltr_problem_state(const kpf_ltr_problem *p, size_t t);
/* Set the readout block M to its masked least-squares optimum for the
 * current dynamics (neuron by neuron: M_i = (Σ w φφᵀ + ridge·I)⁻¹ Σ w φ y,
 * w the train mask, ridge relative to the mean diagonal), given the
 * model's activation (enum kpf_activation).  Variable projection for the MSE
 * loss: M is linear in the loss's argument, so at its optimum the gradient
 * of the other blocks is the gradient of the reduced problem. */
int kpf_ltr_problem_solve_readout(kpf_ltr_problem *p, int act, double ridge, kpf_error *err);

/* Unexplained variance of pred against Y on the entries mask scores. */
double kpf_ltr_uv(size_t N, size_t T, size_t K, const double *Y, const double *pred,
                  const double *mask);

/* Fit: for each restart (seed, seed+1, …) create the model from the spec,
 * run Adam on the train mask (NULL: every entry), keep the restart with the
 * lowest final train loss, and score the test mask (may be NULL). */
int kpf_ltr_fit(const kpf_plugin *ltr, const kpf_ltr_spec *spec, const kpf_ltr_data *d,
                const double *train_mask, const double *test_mask,
                const kpf_ltr_fit_opts *o, kpf_ltr_fit_result *res, kpf_error *err);

/* Rank sweep R = 1 … R_max (spec->rank is ignored): uv[R−1] = held-out UV
 * of the fit at rank R, train_uv likewise (either may be NULL).  *chosen
 * = the plateau: the smallest R with uv ≤ (1 + rel_tol)·min uv + abs_tol. */
int kpf_ltr_rank_sweep(const kpf_plugin *ltr, const kpf_ltr_spec *spec,
                       const kpf_ltr_data *d, const double *train_mask,
                       const double *test_mask, const kpf_ltr_fit_opts *o, size_t R_max,
                       double rel_tol, double abs_tol, double *uv, double *train_uv,
                       size_t *chosen, kpf_error *err);
/* The plateau rule alone. */
size_t kpf_ltr_plateau(const double *uv, size_t R_max, double rel_tol, double abs_tol);

/* ---- synthetic teacher -------------------------------------------------- */

typedef struct kpf_ltr_teacher_opts {
    double noise;       /* observation noise std                    [0.02] */
    double c_offset;    /* added to every trial factor c_r^{(k)}     [0]    */
    int orthonormal;    /* a_r = b_r, orthonormalised (Gram–Schmidt) [1]   */
    uint64_t seed;      /* model draws (KPF_RNG_INIT) and noise (DATA) [0] */
} kpf_ltr_teacher_opts;

void kpf_ltr_teacher_opts_default(kpf_ltr_teacher_opts *t);

/* Simulate a teacher ltr network of rank spec->rank with smooth trial
 * factors (spec->smooth is forced on) created from t->seed, on d's shape
 * (d->N = readout size, d->T bins, d->K trials; the inputs U/cond of d are
 * used when d->n_in > 0), and fill d->Y = M φ(x) + noise·N(0,1).  With
 * c_offset the trial factors are c_offset + L c̄ (c̄ ~ N(0, c_init²)), set
 * through c̄ ← c̄ + L⁻¹(c_offset·1) so the teacher stays an ltr network of
 * the same parameterisation.  theta (may be NULL) receives the teacher's θ
 * (*m_out values). */
int kpf_ltr_teacher(const kpf_plugin *ltr, const kpf_ltr_spec *spec, kpf_ltr_data *d,
                    const kpf_ltr_fit_opts *o, const kpf_ltr_teacher_opts *t, double **theta,
                    size_t *m_out, kpf_error *err);

/* ---- recovery of a teacher's components (ltr_match.c) -------------------- */

/* Two ltr networks fitted to the same data need not share units (the
 * student's x is not the teacher's), so their a_r, b_r cannot be compared
 * directly.  Each component r is instead described by three factors that
 * live in the data's own modes, those of Y [neurons × time × trials]:
 *   neuron  M a_r               (N)  the readout of the column factor (the
 *                                    output loading of latent r to first
 *                                    order in φ),
 *   time    ḡ_r(t) = mean_k b_r·φ(x^{(k)}(t)) at the bins (T), the input
 *                                    the component receives,
 *   trial   c_r^{(k)}           (K).
 * The component drives the network with c_r^{(k)} g_r^{(k)}(t) a_r, so the
 * three are a CP triple of the recurrent drive M W^{(k)} φ(x^{(k)}(t)) when
 * g does not depend on the trial.  out gets unit columns and λ = 1 (free
 * with kpf_cp_free).  θ is m values of a model created from s. */
int kpf_ltr_components(const kpf_plugin *ltr, const kpf_ltr_spec *s, const kpf_ltr_data *d,
                       const kpf_ltr_fit_opts *o, const double *theta, size_t m,
                       kpf_cp *out, kpf_error *err);

typedef struct kpf_ltr_match {
    double score;        /* kpf_cp_match_score without λ: mean over
                            matched pairs of |cos| neuron · time · trial */
    double neuron, time, trial; /* mean |cos| of each mode over the pairs */
    size_t R;
    size_t perm[64];     /* partner in the fit of each teacher component */
    double trial_corr[64]; /* centred correlation over trials of each
                            teacher c_r with its partner (sign of the
                            partner fixed by its uncentred product) */
} kpf_ltr_match;

/* Match a fit's components to a teacher's (same rank; R ≤ 64).  The
 * uncentred cosines of trial factors that share a large offset are close
 * to 1 whatever their shape, hence the centred correlation beside them. */
int kpf_ltr_match_components(const kpf_cp *teacher, const kpf_cp *fit, kpf_ltr_match *out,
                             kpf_error *err);

/* Centred (Pearson) correlation of n entries x[0], x[sx], … with y[0],
 * y[sy], …; NaN when either is constant.  Strides serve both factor
 * layouts: rows of an R×K matrix (stride 1) and columns of a K×R one. */
double kpf_ltr_centred_corr(const double *x, size_t sx, const double *y, size_t sy, size_t n);

/* Kruskal rank of R factors (rows of X, R×len): the largest k such that
 * every k of them, each scaled to unit norm, have smallest singular value
 * > tol.  CP with factor matrices A, B, C is unique up to permutation and
 * scale when k_A + k_B + k_C ≥ 2R + 2 (Kruskal 1977). */
size_t kpf_ltr_kruskal_rank(const double *X, size_t R, size_t len, double tol);
/* Singular values (R, descending) of the R unit-normalised rows of X
 * (R×len), each first centred over its entries when centre is set. */
int kpf_ltr_factor_sv(const double *X, size_t R, size_t len, int centre, double *sv,
                      kpf_error *err);

/* ---- the `ltr_fit:` study (kpf run; docs/ltr.md) ------------------------- */

/* A config whose top level holds `ltr_fit:` fits ltr networks of rank
 * R = 1 … ranks.max to data (`data: {file: PATH}`, HDF5 as
 * kpf_ltr_data_read reads it, relative to the config's folder; or
 * `data: {teacher: {rank, …}}`, a synthetic kpf_ltr_teacher) under blocked
 * CV and picks the plateau rank (kpf_ltr_plateau).  check validates every
 * key (KPF_ECONFIG, file:line:col: key.path), loads or simulates the data
 * and draws the masks, writing nothing; run does the same, then the sweep,
 * and writes into out_dir: data.h5 (teacher only), rank_sweep.dat/.gp/.png,
 * fits.h5 (θ and decoded a, b, c at every R, the teacher's, the masks),
 * trial_factors.dat/.gp/.png (chosen fit vs teacher) and summary.json.
 * ltr is the ltr plugin.  Nothing is printed. */
int kpf_ltr_study_check(kpf_config *cfg, const kpf_plugin *ltr, kpf_error *err);
int kpf_ltr_study_run(kpf_config *cfg, const kpf_plugin *ltr, const char *out_dir,
                      kpf_error *err);
/* The `ltr_fit` study (kpf/study.h): the two above with the registry's `ltr`
 * plugin; enumerated like a shared object's kpf_study_descriptor. */
const kpf_study_desc *kpf_ltr_study_descriptor(uint32_t index);

#ifdef __cplusplus
}
#endif
#endif
