/* kpf/delta_w.h — analyses of recurrent weight changes over learning, for
 * any model with a square recurrent parameter block (rnn: "W"):
 *
 *   - weight tensors W [n × n × K] stacked from snapshots, optionally minus
 *     the first (W − W₀ ⊗ 1; Pellegrino et al. 2023, notes/seed-ltr.md §6),
 *     to be decomposed with kpf/cp.h;
 *   - the spectrum of ΔW = W − W₀, rank-R truncation losses of W₀ + ΔW^{(R)},
 *     the functional rank, the shuffled-W₀ loss, and projections of ΔW's
 *     singular vectors onto W₀-propagated readout and input vectors
 *     (Schuessler et al. 2020, eqs. 4, 11–13; notes/seed-schuessler.md §5);
 *   - the singular-value bound of Pellegrino's Theorem 1 on a simulated batch;
 *   - Schuessler's linear theory (fixed-point readout, GD on W only).
 *
 * Matrices are row-major.  W_ij is the weight from unit j to unit i. */
#ifndef KPF_DELTA_W_H
#define KPF_DELTA_W_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "kpf/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear algebra --------------------------------------------------- */

/* Thin SVD A = U diag(s) Vᵀ of A (rows×cols) by GSL's one-sided Jacobi
 * (accurate small singular values).  k = min(rows, cols): s (k values,
 * descending), U (rows×k) and V (cols×k) row-major, either may be NULL. */
int kpf_matrix_svd(size_t rows, size_t cols, const double *A, double *s, double *U, double *V,
                   kpf_error *err);

/* Number of s_i > rel_tol · s_0 (s descending). */
size_t kpf_numerical_rank(const double *s, size_t k, double rel_tol);

/* ---- weight tensors ------------------------------------------------------ */

/* Copy the square block `block` (e.g. "W") of θ (m->m values; NULL: the
 * model's current θ) into W (n×n). */
int kpf_weight_snapshot(const kpf_model *m, const double *theta, const char *block,
                        double *W, kpf_error *err);

/* W [n][n][K] from K snapshots (snaps: K matrices n×n, one after the
 * other), each minus snapshot 0 when subtract_first. */
void kpf_weight_tensor(size_t n, size_t K, const double *snaps, int subtract_first,
                       double *W);

/* Unexplained variance of the snapshots D_k (K matrices n×n one after the
 * other) after projecting each onto the column space of U and the row space
 * of V (n×k each, orthonormal columns, row-major): 1 − Σ_k ‖Uᵀ D_k V‖²_F /
 * Σ_k ‖D_k‖²_F (Pellegrino et al. Supp. C: the retraining updates
 * W − W*⊗1 against the top singular vectors of the pretraining update
 * W* − W₀; ≈ 0.2 there).  NaN when every D_k is zero. */
double kpf_dw_subspace_residual(size_t n, size_t K, const double *D, size_t k, const double *U,
                                const double *V);

/* ---- ΔW ------------------------------------------------------------------ */

/* loss[R] (R = 0 … R_max) = kpf_loss_eval of the model with `block` set to
 * W₀ + ΔW^{(R)}, ΔW^{(R)} the rank-R truncated SVD of W − W₀ (Schuessler
 * eq. 4; every other parameter as in the model).  The model's θ is restored
 * before returning.  sv (may be NULL) receives the n singular values of ΔW. */
int kpf_dw_truncation_losses(kpf_model *m, const char *block, const double *W0,
                             const double *W, const kpf_task_batch *bt, size_t R_max,
                             double *loss, double *sv, kpf_error *err);

/* Functional rank: the smallest R with loss[R] < frac·L0 (frac 0.05 in the
 * paper; L0 the initial loss of the g = 0 network on that task, notes §5.3–4).
 * −1 when no R ≤ R_max qualifies. */
long kpf_dw_functional_rank(const double *loss, size_t R_max, double L0, double frac);

/* Loss with `block` = shuffle(W₀) + ΔW, shuffle a uniform permutation of all
 * n² entries of W₀ drawn from seed (Schuessler Fig. 2c); the mean over
 * n_shuffles permutations.  θ is restored. */
int kpf_dw_shuffle_loss(kpf_model *m, const char *block, const double *W0, const double *W,
                        const kpf_task_batch *bt, uint64_t seed, size_t n_shuffles,
                        double *loss, kpf_error *err);

/* Directions ΔW = W − W₀ grows along (Schuessler eqs. 11–13): with
 * P = (I − W₀)⁻¹ (powers = 0) or P = Σ_{j≤powers} W₀^j (powers ≥ 1),
 * left space  span{Pᵀ w_o} (w_o the rows of wout, n_out×n),
 * right space span{P m_i}  (m_i the columns of win, n×n_in).
 * proj_u[i] = ‖Π_left u_i‖², proj_v[i] = ‖Π_right v_i‖² for the top k
 * singular pairs (u_i, v_i) of ΔW (1 = the vector lies in the space). */
int kpf_dw_projections(size_t n, const double *W0, const double *dW, size_t n_out,
                       const double *wout, size_t n_in, const double *win, size_t powers,
                       size_t k, double *proj_u, double *proj_v, kpf_error *err);

/* ---- Pellegrino Theorem 1 ---------------------------------------------------- */

enum kpf_act { KPF_ACT_TANH = 0, KPF_ACT_RELU = 1, KPF_ACT_LINEAR = 2, KPF_ACT_SOFTPLUS = 3 };

typedef struct kpf_thm1 {
    size_t n;
    double loss;
    double *grad;      /* ∇_W L (n×n), from the adjoint gradient        */
    double *s_grad;    /* n singular values of ∇_W L                     */
    double *s_adj;     /* n singular values of A = √h [λ_k]  (0-padded)  */
    double *s_phi;     /* n singular values of Φ = √h [φ(z_k)]           */
    double *bound;     /* min(σ₁(Φ)σ_r(A), σ₁(A)σ_r(Φ))                  */
    double max_excess; /* max_r (σ_r(∇L) − bound_r) / σ₁(∇L)  (≤ 0 holds) */
    double factor_err; /* ‖∇_W L − A Φᵀ‖ / ‖∇_W L‖                       */
} kpf_thm1;

/* Simulate the batch, take the exact adjoint gradient (gradient.h) and
 * check σ_r(∇_W L) ≤ min(σ₁(φ(x)) σ_r(a_x), σ₁(a_x) σ_r(φ(x))), with a_x
 * the adjoint λ_k (propagate.h) and φ(x) the activation `act` of the state
 * before step k, over all steps and trials: for an Euler step of size h
 * (or a discrete map, h = 1) of a model whose f contains W φ(z), the
 * gradient is exactly ∇_W L = h Σ_k λ_k φ(z_k)ᵀ = A Φᵀ, which factor_err
 * confirms.  Other steppers: KPF_EUNSUPPORTED. */
int kpf_thm1_check(kpf_model *m, const kpf_task_batch *bt, const char *block, int act,
                   kpf_thm1 *out, kpf_error *err);
void kpf_thm1_free(kpf_thm1 *t);

/* ---- Schuessler's linear theory --------------------------------------- */

typedef struct kpf_lin_opts {
    size_t N;          /* units                                [400]  */
    double g;          /* W₀ ~ N(0, g²/N)                       [0]    */
    double zhat;       /* target                               [0.5]  */
    double eta0;       /* η = eta0·(1 − g²)²                    [0.015] */
    size_t max_epochs; /*                                      [2000] */
    double frac;       /* convergence: loss < frac·L0           [0.05] */
    uint64_t seed;
} kpf_lin_opts;

void kpf_lin_opts_default(kpf_lin_opts *o);

typedef struct kpf_lin_result {
    double eta;        /* learning rate used                           */
    double L0;         /* initial loss ½(ẑ − z₀)²                       */
    double tau_star;   /* η·epochs at the first loss < frac·L0 (NaN: never) */
    size_t epochs;     /* updates made                                  */
    double z, loss;    /* at the end                                    */
    double dw_norm;    /* ‖ΔW‖_F at the end                             */
    double s[3];       /* top singular values of ΔW                     */
    double grad_norm;  /* mean ‖dW/dτ‖_F over the updates               */
    double shuffle_loss; /* loss of shuffle(W₀) + ΔW                      */
    double proj_u, proj_v; /* |cos| of ΔW's top pair with (I−W₀)⁻ᵀw, (I−W₀)⁻¹m */
} kpf_lin_result;

/* Plain GD on W of L = ½(ẑ − wᵀ(I − W)⁻¹m)², m and w unit vectors with
 * N(0,1) entries, W₀ = g·N(0,1/N), all from seed (eq. 5, 6).  Stops at
 * convergence (loss < frac·L0) or max_epochs.  (I − W)⁻¹ is updated by
 * Sherman–Morrison after each rank-one step. */
int kpf_dw_linear_theory(const kpf_lin_opts *o, kpf_lin_result *res, kpf_error *err);

/* ---- the `linear_theory:` study (Schuessler Fig. 4) ------------------------- */

/* `kpf run` runner for a config whose top level holds
 *
 *   seed: 0                    # repeat r runs with seed + r at every g
 *   linear_theory:
 *     N: 400                   # units                        [400]
 *     g: [0, 0.1, 0.2]         # or {linspace: [a, b, n]}; 0 ≤ g < 1, must hold 0
 *     seeds: 3                 # networks per g                [3]
 *     zhat: 0.5                # the kpf_lin_opts keys, same defaults
 *     eta0: 0.015
 *     max_epochs: 2000
 *     frac: 0.05
 *
 * (and optionally `threads`).  kpf_dw_linear_theory for every (g, seed);
 * as it draws W₀ = g·W̃ from the same stream before m and w, one seed gives
 * the same m, w and W̃ at every g.  Writes into out_dir, each file created
 * exclusively: linear_theory.dat (index 0: one row per network; index 1:
 * per g, the means and their ratios to the g = 0 means beside the
 * first-order theory (1−g²)², 1−g², 1/(1−g²), g⁴(2−g²)²),
 * linear_theory.gp/.png (Fig. 4a–d) and summary.json.
 * check validates everything (KPF_ECONFIG located at the key, unknown keys
 * included) and writes nothing; run re-parses, so it may be called alone.
 * The plugin argument is unused (the study needs none). */
int kpf_dw_linear_study_check(kpf_config *cfg, const kpf_plugin *unused, kpf_error *err);
int kpf_dw_linear_study_run(kpf_config *cfg, const kpf_plugin *unused, const char *out_dir,
                            kpf_error *err);

#ifdef __cplusplus
}
#endif
#endif
