/* kpf/fixed_points.h — fixed and slow points of any model, with their
 * linear stability (Sussillo & Barak 2013; Golub & Sussillo's
 * fixed-point-finder), from the plugin's own f, J_z·v and J_zᵀ·w.
 *
 * For a constant input x* the residual is
 *
 *     r(z) = F(z, x*) − z    (a discrete map, KPF_MODEL_DISCRETE)
 *     r(z) = f(z, x*)        (a vector field, KPF_MODEL_CONTINUOUS)
 *
 * and q(z) = ½‖r(z)‖².  Fixed points are zeros of q; slow points are local
 * minima with small q > 0 (Sussillo & Barak's "slow points").  The search
 * minimises q from many candidates at once, as the rows of one block (one
 * f call, one J_z and one J_zᵀ call per step for all of them): Levenberg–
 * Marquardt steps (J_rᵀ J_r + μ I) δ = −J_rᵀ r, each solved by conjugate
 * gradients on the exact J_r·v and J_rᵀ·w (matrix-free, so any n), μ
 * adapted per candidate (divided by 3 on success, multiplied by 4 on
 * failure), each step at most max_step long.  The gradient of q is J_rᵀ r
 * exactly — no finite differences.  Slow points are not minima of q along
 * a slow manifold with a root elsewhere: Gauss–Newton steps, which aim at
 * roots, can leave the manifold for that root; a finite max_step with few
 * iterations keeps candidates near where they settled (Sussillo & Barak
 * stop their descent after a fixed budget for the same reason).
 *
 * Rows passed to the plugin: z the candidates, x = x* on every row, trial
 * index `trial` (models with per-trial parameters), time 0, and the tape
 * filled at z before the J ops, as the core does along trajectories.
 *
 * Stability uses the eigenvalues of J_F (discrete: a direction is unstable
 * when |λ| > 1 + stab_tol) or of J_f (continuous: Re λ > stab_tol):
 * dense by GSL (n columns of J from n batched J_z calls) for n ≤ dense_max,
 * else the n_eigs leading ones by ARPACK (kpf/eigs.h; the unstable count is
 * then a lower bound when all of them are unstable).
 *
 * Nothing here prints; every function returns a kpf_status. */
#ifndef KPF_FIXED_POINTS_H
#define KPF_FIXED_POINTS_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"
#include "kpf/instance.h"

KPF_BEGIN_DECLS

typedef struct kpf_fp_opts {
    size_t max_iter;    /* LM steps                                   [200]   */
    size_t cg_iter;     /* CG iterations per step (0: min(n, 50))      [0]    */
    double max_step;    /* longest step ‖δ‖ per iteration (a trust
                           region: candidates settle onto slow manifolds
                           instead of jumping to distant roots)        [inf]   */
    double q_stop;      /* a candidate stops when q < q_stop           [1e-28] */
    double fixed_tol;   /* fixed point: q < fixed_tol                  [1e-12] */
    double slow_tol;    /* slow point: fixed_tol ≤ q < slow_tol        [1e-4]  */
    double unique_tol;  /* two points within this distance are one     [1e-3]  */
    double stab_tol;    /* margin of the stability test                [1e-6]  */
    size_t dense_max;   /* dense eigen-decomposition up to this n      [512]   */
    size_t n_eigs;      /* ARPACK eigenvalues beyond dense_max         [10]    */
    size_t n_vectors;   /* leading eigenvectors kept per point         [3]     */
    size_t trial;       /* trial index on the rows                     [0]     */
    unsigned long seed; /* ARPACK start vectors                        [0]     */
} kpf_fp_opts;

/* The defaults in brackets above. */
kpf_fp_opts kpf_fp_opts_default(void);

/* What one search did (all candidates together). */
typedef struct kpf_fp_stats {
    size_t iterations;  /* LM steps taken                                  */
    size_t n_f, n_jz, n_jzT; /* plugin calls (each on all candidates)      */
    size_t converged;   /* candidates that reached q < q_stop              */
} kpf_fp_stats;

enum kpf_fp_kind { KPF_FP_FIXED = 0, KPF_FP_SLOW = 1 };
enum kpf_fp_class { KPF_FP_STABLE = 0, KPF_FP_SADDLE = 1, KPF_FP_UNSTABLE = 2 };

/* Points found: P of them, each row of n. */
typedef struct kpf_fp_set {
    size_t P, n, n_ev, n_vec; /* points; state size; eigenvalues and vectors kept per point */
    double *z;          /* P×n        the points                                */
    double *q;          /* P          q at each                                 */
    int *kind;          /* P          kpf_fp_kind                               */
    double *ev_re, *ev_im; /* P×n_ev  eigenvalues of J_F or J_f, descending |λ|
                                      (discrete) or Re λ (continuous)           */
    double *vec_re, *vec_im; /* P×n_vec×n  their leading eigenvectors (unit)    */
    size_t *n_unstable; /* P          unstable directions                       */
    int *cls;           /* P          kpf_fp_class                              */
    int continuous;     /* eigenvalues are of J_f (1) or J_F (0)                */
} kpf_fp_set;

void kpf_fp_set_free(kpf_fp_set *s);

/* Minimise q from the R candidates z (R×n, overwritten with the minimisers;
 * x_star: n_in values, NULL = zero input); q receives their q (R values).
 * Reserves model scratch for R rows. */
int kpf_fp_minimise(kpf_model *m, const double *x_star, size_t R, double *z, double *q,
                    const kpf_fp_opts *o, kpf_fp_stats *stats, kpf_error *err);

/* Keep minimisers with q < slow_tol, deduplicated (lowest q first; a point
 * within unique_tol of one kept is dropped), sorted fixed first, then by q:
 * *out (P may be 0), kind set, eigen fields empty. */
int kpf_fp_select(size_t R, size_t n, const double *z, const double *q, const kpf_fp_opts *o,
                  kpf_fp_set **out, kpf_error *err);

/* Eigenvalues, leading eigenvectors, unstable counts and classes of every
 * point of s (allocates its eigen fields). */
int kpf_fp_stability(kpf_model *m, const double *x_star, kpf_fp_set *s, const kpf_fp_opts *o,
                     kpf_error *err);

/* All three: minimise from the candidates (copied, not overwritten), select,
 * classify. */
int kpf_fp_find(kpf_model *m, const double *x_star, size_t R, const double *z0,
                const kpf_fp_opts *o, kpf_fp_set **out, kpf_fp_stats *stats, kpf_error *err);

KPF_END_DECLS
#endif
