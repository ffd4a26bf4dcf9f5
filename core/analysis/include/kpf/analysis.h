/* kpf/analysis.h — analyses at training snapshots.
 *
 * At each iteration of the snapshot schedule the current model is simulated
 * on a fixed, noise-free set of analysis trials and, as configured:
 *   - θ is stored (by block);
 *   - the consensus spectra of K, P and P K P* are computed the way KPFlow's
 *     analysis does (singular values σ_i = √λ_i of the Gram operator
 *     averaged over trials and units, keeping time: avg_shape (1, T, 1)),
 *     with their cumulative explained variance and effective rank at 0.95;
 *   - the Lyapunov spectrum (QR method) and its Kaplan–Yorke dimension;
 *   - the PCA of the hidden states (effective dimension at 95% variance and
 *     the first three components for plotting).
 * Results go to analysis.h5 under /snapshots/<iteration>/… and the scalars
 * into the run's summary.  YAML (`analysis:` section):
 *   at: [0, 400]   iterations (default: the first and the last)
 *   trials: 16     analysis trials (drawn with the evaluation stream)
 *   k: 20          components per spectrum
 *   operators: [K, P, PKP]   any of K, P, PKP, PP (default all but PP)
 *   lyapunov: 0    exponents to compute (0: none)
 *   delta_w: {block: W, r_max: 10}   ΔW = W − W₀ (W₀ at the first snapshot):
 *                  singular values, rank-R truncation losses on the
 *                  analysis trials, functional rank (Schuessler eq. 4)
 *   cp: {r_max: 4}  after the last snapshot: CP/PARAFAC variance explained
 *                  of the weight tensor [n × n × snapshots] − W₀, and the
 *                  singular values of its unfoldings (Pellegrino et al.)
 *   theorem1: {block: W, activation: tanh}   Pellegrino's Theorem 1 on the
 *                  analysis trials (kpf_thm1_check): the spectra of ∇_W L,
 *                  the adjoint and φ(x), the bound, its largest excess
 *                  (Euler or discrete steps only)
 */
#ifndef KPF_ANALYSIS_H
#define KPF_ANALYSIS_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/h5io.h"
#include "kpf/instance.h"
#include "kpf/task.h"

KPF_BEGIN_DECLS

enum { KPF_AN_K = 0, KPF_AN_P = 1, KPF_AN_PKP = 2, KPF_AN_PP = 3, KPF_AN_N_OPS = 4 };

typedef struct kpf_analysis_opts {
    size_t *at;
    size_t n_at;
    size_t trials, k, lyapunov;
    int ops[KPF_AN_N_OPS]; /* which operators */
    const char *dw_block;  /* ΔW / CP block, NULL: off */
    size_t dw_rmax;        /* 0: no ΔW analysis */
    size_t cp_rmax;        /* 0: no CP analysis */
    const char *thm1_block; /* Theorem 1 check on this block, NULL: off */
    int thm1_act;           /* enum kpf_act (delta_w.h): φ in W φ(z) */
} kpf_analysis_opts;

/* Scalars of one snapshot (for summaries and sweep tables). */
typedef struct kpf_snapshot_stats {
    size_t iteration;
    double effrank[KPF_AN_N_OPS]; /* NaN when not computed */
    double pca_effdim;
    double lyap_max, kaplan_yorke;  /* NaN when not computed */
    double dw_sv1, dw_sv2;          /* top singular values of ΔW (NaN: none) */
    double functional_rank;         /* −1: none ≤ r_max; NaN: not computed */
    double thm1_excess;             /* max_r (σ_r(∇L) − bound_r)/σ₁(∇L): ≤ 0 holds */
    double thm1_factor_err;         /* ‖∇_W L − A Φᵀ‖/‖∇_W L‖ (NaN: not computed) */
} kpf_snapshot_stats;

typedef struct kpf_analysis kpf_analysis;

int kpf_analysis_opts_from_config(const kpf_node *node, size_t last_iteration,
                                  kpf_analysis_opts *o, kpf_error *err);
void kpf_analysis_opts_clear(kpf_analysis_opts *o);

/* Analyses writing into `h5` (borrowed; e.g. DIR/analysis.h5). */
int kpf_analysis_alloc(const kpf_analysis_opts *o, kpf_model *m, kpf_task *task,
                       uint64_t seed, kpf_h5 *h5, kpf_analysis **out, kpf_error *err);
void kpf_analysis_free(kpf_analysis *a);

/* Run the analyses if `iteration` is on the schedule (else nothing). */
int kpf_analysis_at(kpf_analysis *a, size_t iteration, kpf_error *err);

/* After the last snapshot: the CP analysis of the stacked weight snapshots
 * (when configured and at least two snapshots exist). */
int kpf_analysis_finish(kpf_analysis *a, kpf_error *err);

/* Training stopped early (convergence) at `iteration`: run the analyses
 * there unless the last snapshot already was that iteration, so the final
 * model is always analysed.  Scheduled iterations after it are dropped. */
int kpf_analysis_final(kpf_analysis *a, size_t iteration, kpf_error *err);

/* A resumed run starts at `iteration`: drop schedule entries before it
 * (their results are already in the file from the interrupted process). */
void kpf_analysis_skip_before(kpf_analysis *a, size_t iteration);

size_t kpf_analysis_count(const kpf_analysis *a);
const kpf_snapshot_stats *kpf_analysis_stats(const kpf_analysis *a, size_t i);
/* The cumulative explained variance (k values) of operator op at snapshot
 * i, or NULL; the first three PCs of the hidden states [B,T,3] step-major
 * with their period labels, for plots. */
const double *kpf_analysis_cumvar(const kpf_analysis *a, size_t i, int op);
const double *kpf_analysis_pcs(const kpf_analysis *a, size_t i);
const int *kpf_analysis_periods(const kpf_analysis *a);
size_t kpf_analysis_k(const kpf_analysis *a);
/* After kpf_analysis_finish: the CP variance explained at ranks 1 … *r of
 * the weight tensor minus its first snapshot (NULL, *r = 0 when not
 * computed). */
const double *kpf_analysis_cp_ve(const kpf_analysis *a, size_t *r);
/* The ΔW block's snapshots taken so far, *count matrices n×n one after the
 * other (NULL, *count = 0 without a ΔW/CP block or after a resume). */
const double *kpf_analysis_weights(const kpf_analysis *a, size_t *count);
size_t kpf_analysis_trials(const kpf_analysis *a);
size_t kpf_analysis_steps(const kpf_analysis *a);
extern const char *const kpf_analysis_op_names[KPF_AN_N_OPS];

KPF_END_DECLS
#endif
