/* linear_theory.h — Schuessler et al.'s linear theory (2020, eqs. 5–15) and
 * the `linear_theory:` study that sweeps it over g (Fig. 4). */
#ifndef KPF_STUDY_LINEAR_THEORY_H
#define KPF_STUDY_LINEAR_THEORY_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/plugin.h"
#include "kpf/study.h"

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
/* The `linear_theory` study (kpf/study.h): the two above; enumerated like a
 * shared object's kpf_study_descriptor. */
const kpf_study_desc *kpf_linear_theory_study_descriptor(uint32_t index);

#endif
