/* kpf/check.h — the plugin conformance checks behind `kpf check-plugin`
 * and tests/conformance.
 *
 * For one plugin: J_z·v and J_θ·dθ against central finite differences,
 * the adjoint identities ⟨J v, w⟩ = ⟨v, Jᵀ w⟩ for (jz, jzT) and (jth, jthT),
 * the same for every stepper that applies (the discrete map, or Euler and
 * RK4 for continuous models), for the readout and the initial state when
 * the plugin provides them, batching invariance (R rows at once = one row at
 * a time), that jthT accumulates, and that a seeded create is deterministic.
 * Each check is one report item with its measured value and tolerance.
 * kpf_check_task (at the end) runs the task checks on a task descriptor. */
#ifndef KPF_CHECK_H
#define KPF_CHECK_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/plugin.h"

KPF_BEGIN_DECLS

typedef struct kpf_check_opts {
    uint64_t seed;         /* default 1                                   */
    size_t rows;           /* rows per block, default 7                   */
    size_t n_in, n_out;    /* default 3, 2                                */
    size_t n_trials;       /* default 5                                   */
    double fd_tol;         /* relative, default 1e-6                      */
    double adjoint_tol;    /* relative, default 1e-12                     */
    double batch_tol;      /* relative, default 1e-14                     */
    const kpf_node *model; /* optional model: map (plugin keys); NULL = defaults */
} kpf_check_opts;

/* Fill opts with the defaults above. */
void kpf_check_opts_default(kpf_check_opts *opts);

#define KPF_CHECK_NAME_MAX 96
#define KPF_CHECK_DETAIL_MAX 256

typedef struct kpf_check_item {
    char name[KPF_CHECK_NAME_MAX];     /* e.g. "euler: adjoint <J_F v,w> = <v,J_F^T w>" */
    double value;                      /* measured relative error            */
    double tol;
    int pass;
    char detail[KPF_CHECK_DETAIL_MAX]; /* empty or why it failed             */
} kpf_check_item;

typedef struct kpf_check_report {
    size_t n_items, cap;
    kpf_check_item *items;
    size_t n_failed;
} kpf_check_report;

/* Run every check; returns KPF_OK if they all ran (see n_failed for the
 * verdict) and an error status if a check could not run at all (create
 * failed, an op returned an error — the message says which). */
int kpf_check_plugin(const kpf_plugin *plugin, const kpf_check_opts *opts,
                     kpf_check_report *report, kpf_error *err);
void kpf_check_report_free(kpf_check_report *report);

KPF_END_DECLS
#endif

/* ---- gradient check (also run by kpf_check_plugin) ----------------------- */
#ifndef KPF_CHECK_GRADIENT_DECLARED
#define KPF_CHECK_GRADIENT_DECLARED
#include "kpf/instance.h"
KPF_BEGIN_DECLS
/* The adjoint gradient of the masked MSE (gradient.h) against central
 * finite differences of the loss, for a random batch of B trials × T steps
 * (inputs, targets and a 0/1 mask drawn from `seed`), one random direction
 * per parameter block.  window > 0 checks truncated BPTT against finite
 * differences of the loss with the states at chunk boundaries held at their
 * unperturbed values — the exact meaning of the truncated gradient.
 * worst[i] receives the relative error for block i (m->n_blocks entries). */
int kpf_check_gradient(kpf_model *m, uint64_t seed, size_t B, size_t T, size_t window,
                       double *worst, kpf_error *err);
KPF_END_DECLS
#endif

/* ---- task checks (kpf check-plugin TASK) ---------------------------------- */
#ifndef KPF_CHECK_TASK_DECLARED
#define KPF_CHECK_TASK_DECLARED
#include "kpf/task.h"
KPF_BEGIN_DECLS
typedef struct kpf_task_check_opts {
    uint64_t seed;        /* default 1; the "another seed" checks use seed + 1  */
    size_t trials;        /* B of every generated batch, default 64             */
    double noise_tol;     /* relative, default 1e-9: x, y affine in the noise scale */
    const kpf_node *task; /* optional task: map (the task's keys; `name` is
                             ignored); NULL = every key at its default          */
} kpf_task_check_opts;

/* Fill opts with the defaults above. */
void kpf_task_check_opts_default(kpf_task_check_opts *opts);

/* Check one task descriptor: it is created from opts->task (a key its create
 * does not read is a KPF_ECONFIG error, as in a run) and generates batches of
 * opts->trials trials from the KPF_RNG_DATA stream of opts->seed — the
 * batches `kpf run` with that seed would train on.  Every array is pre-filled
 * with a sentinel (NaN, −1, SIZE_MAX) and guarded on both sides, so the
 * report items say, one each:
 *   dims        n_in, n_out, T ≥ 1, and unchanged by generate;
 *   periods     period_names is a NULL-terminated list of ≥ 1 names;
 *   arrays      x and y every entry written and finite; mask every entry in
 *               [0, 1] and some step scored; period labels index into
 *               period_names; cond ≥ 0 and trial in [0, B) for every trial;
 *               nothing written outside the arrays;
 *   determinism the same seed gives bit-identical batches (again on the same
 *               instance, and on a new instance); another seed gives another
 *               batch when the task draws from the RNG, and the same batch
 *               when it draws nothing (hidden randomness otherwise);
 *   noise       (tasks with set_noise_scale) scale 0 makes the same draws as
 *               scale 1 (RNG state after generate) and keeps cond, mask,
 *               period and trial; x and y are affine in the scale (x(½) =
 *               (x(0) + x(1))/2 within noise_tol: every noise σ is multiplied
 *               by it, so scale 0 is the noise-free batch); scale 1 after 0
 *               restores the noisy batch bit for bit; and, for information,
 *               max |x(1) − x(0)|.
 * Returns KPF_OK when every check ran (the verdict is report->n_failed), an
 * error when one could not run: an invalid descriptor, create failing
 * (KPF_ECONFIG for a bad key), or generate returning an error (the message
 * says which). */
int kpf_check_task(const kpf_task_desc *desc, const kpf_task_check_opts *opts,
                   kpf_check_report *report, kpf_error *err);
KPF_END_DECLS
#endif
