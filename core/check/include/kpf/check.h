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
    /* ---- appended ------------------------------------------------------ */
    const char *only;      /* run only the checks kpf_check_name_matches keeps
                              (a group whose checks all fail the pattern is
                              skipped, not run); NULL = every check       */
} kpf_check_opts;

/* Fill opts with the defaults above. */
void kpf_check_opts_default(kpf_check_opts *opts);

#define KPF_CHECK_NAME_MAX 96
#define KPF_CHECK_DETAIL_MAX 256

/* The plugin op a check is about (kpf_check_item.op: the group `kpf
 * check-plugin` lists it under) and, as bits 1u << op in .uses, every op
 * whose result it depends on. */
typedef enum kpf_check_op {
    KPF_CHECK_OP_NONE = 0, /* not about one model op (the task checks) */
    KPF_CHECK_OP_CREATE,
    KPF_CHECK_OP_F,
    KPF_CHECK_OP_TAPE,
    KPF_CHECK_OP_JZ,
    KPF_CHECK_OP_JZT,
    KPF_CHECK_OP_JTH,
    KPF_CHECK_OP_JTHT,
    KPF_CHECK_OP_READOUT,
    KPF_CHECK_OP_READOUT_JZ,
    KPF_CHECK_OP_READOUT_JZT,
    KPF_CHECK_OP_READOUT_JTH,
    KPF_CHECK_OP_READOUT_JTHT,
    KPF_CHECK_OP_INIT_STATE,
    KPF_CHECK_OP_INIT_STATE_JTH,
    KPF_CHECK_OP_INIT_STATE_JTHT,
    KPF_CHECK_OP_EXTENSION,
    KPF_CHECK_OP_GRADIENT, /* the loss gradient: every transpose op at once */
    KPF_CHECK_N_OPS
} kpf_check_op;

/* How a check's value was measured (kpf_check_item.kind). */
typedef enum kpf_check_kind {
    KPF_CHECK_KIND_OTHER = 0,
    KPF_CHECK_KIND_FD,          /* an op against finite differences of f (or the
                                   readout, the initial state, the loss)       */
    KPF_CHECK_KIND_ADJOINT,     /* a transpose against its forward op          */
    KPF_CHECK_KIND_BATCH,       /* R rows at once against one row at a time    */
    KPF_CHECK_KIND_ACCUMULATE,  /* a _jthT adds into g                          */
    KPF_CHECK_KIND_DETERMINISM  /* seeded creates                               */
} kpf_check_kind;

/* "jzT", "readout_jth", "create", … ("" for KPF_CHECK_OP_NONE). */
const char *kpf_check_op_name(int op);

typedef struct kpf_check_item {
    char name[KPF_CHECK_NAME_MAX];     /* e.g. "euler: adjoint <J_F v,w> = <v,J_F^T w>" */
    double value;                      /* measured relative error            */
    double tol;
    int pass;
    char detail[KPF_CHECK_DETAIL_MAX]; /* empty or why it failed             */
    /* ---- appended ------------------------------------------------------ */
    int op;          /* kpf_check_op the check is about                       */
    uint32_t uses;   /* 1u << op of every op its result depends on            */
    int kind;        /* kpf_check_kind                                        */
    double a, b;     /* the two quantities compared, NaN when none: FD |J d|
                        and |finite difference|; adjoint <J v, w> and
                        <v, J^T w>; batch max|all rows| and max|row by row|;
                        accumulate max|p + J^T w| and max|J^T w on g = p|;
                        gradient <dL/dθ, d> and the finite difference     */
    int cause;       /* after kpf_check_diagnose: the index of the cause that
                        explains this failure, or -1                        */
} kpf_check_item;

typedef struct kpf_check_report {
    size_t n_items, cap;
    kpf_check_item *items;
    size_t n_failed;
} kpf_check_report;

/* A likely cause of failures: one op that, if wrong, explains them all. */
typedef struct kpf_check_cause {
    int op;                            /* kpf_check_op to blame              */
    char text[KPF_CHECK_DETAIL_MAX];   /* "jzT is not the transpose of jz"   */
    size_t n_items;                    /* failed items it explains           */
} kpf_check_cause;

/* Name the likely causes of rep's failures, fewest first that explain the
 * most: an op is suspected by the failed checks that use it and cleared by
 * the passed checks that test it alone (its finite-difference check, or its
 * adjoint check against a cleared forward op); the op shared by most
 * unexplained failures is blamed for all the failures that use it, and so
 * on.  Sets each failed item's `cause` (−1 when no op explains it) and fills
 * up to cap causes; returns how many there are. */
size_t kpf_check_diagnose(kpf_check_report *rep, kpf_check_cause *causes, size_t cap);

/* Keep only the items whose name, or whose op's name, matches `pattern`
 * (a shell glob, case-insensitive, matched anywhere in the name: "jzT",
 * "euler*adjoint"); n_failed is recounted.  NULL or "" keeps everything. */
void kpf_check_report_filter(kpf_check_report *rep, const char *pattern);
/* Whether an item called name about op would be kept by the filter. */
int kpf_check_name_matches(const char *name, int op, const char *pattern);

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
/* The same, also giving for block i the directional derivative ⟨∇L, d⟩
 * (analytic[i]) and its central difference (fd[i]) at the step size kept;
 * either may be NULL. */
int kpf_check_gradient_detail(kpf_model *m, uint64_t seed, size_t B, size_t T, size_t window,
                              double *worst, double *analytic, double *fd, kpf_error *err);
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
