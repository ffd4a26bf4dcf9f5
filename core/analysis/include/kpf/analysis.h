/* kpf/analysis.h — analyses at training snapshots, as extensions.
 *
 * At each iteration of the snapshot schedule the analysis host simulates the
 * current model on a fixed, noise-free set of analysis trials, stores θ
 * under /snapshots/<iteration>/theta in analysis.h5, and hands that snapshot
 * to every configured analysis in turn.  An analysis is a descriptor
 * (kpf_analysis_desc), like a model or a task: a shared object exports
 *
 *     const kpf_analysis_desc *kpf_analysis_descriptor(uint32_t index);
 *
 * returning descriptors for index 0, 1, … and NULL after the last (a file
 * may export models, tasks, analyses and studies together).  The descriptor
 * begins with the common head (abi_version, struct_size, name, summary; the
 * order of kpf_desc_head in kpf/plugin.h); the host reads no field beyond
 * struct_size, so fields are only appended, and optional ops are NULL when
 * absent.  The built-in analyses are enumerated by
 * kpf_builtin_analysis_descriptor and enter a registry through the same call
 * as a file's (kpf_analysis_register_builtins).
 *
 * YAML (`analysis:` section):
 *   at: [0, 400]   iterations (default: the first and the last)
 *   trials: 16     analysis trials (drawn with the evaluation stream)
 *   <name>: {...}  the registered analysis <name> with its own settings;
 *                  an unknown name is a located error listing the known ones.
 * The built-ins (one file each in core/analysis/):
 *   spectra   always on: consensus spectra of K, P, P K P*, P P* the way
 *             KPFlow's analysis does (σ_i = √λ_i of the Gram operator averaged
 *             over trials and units, keeping time), cumulative explained
 *             variance, effective rank at 0.95, the modes' dominant
 *             frequencies.  Its settings stay where they always were:
 *             `k: 20` and `operators: [K, P, PKP]` directly under
 *             `analysis:` (or `spectra: {k, operators}`).
 *   pca       always on: PCA of the hidden states (effective dimension at 95%
 *             variance, the first three components for the plot).
 *   lyapunov: N      the QR Lyapunov spectrum (N exponents, mean over
 *             trials) and its Kaplan–Yorke dimension (0: none).
 *   delta_w: {block: W, r_max: 10}   ΔW = W − W₀ (W₀ at the first snapshot):
 *             singular values, rank-R truncation losses on the analysis
 *             trials, functional rank (Schuessler eq. 4).
 *   cp: {r_max: 4, block: W}   after the last snapshot: CP/PARAFAC variance
 *             explained of the weight tensor [n × n × snapshots] − W₀ and the
 *             singular values of its unfoldings (Pellegrino et al.).
 *   interference: {matched_trials, rayleigh, filters}   KPFlow's multi-task
 *             decomposition δz_ij = P_i K_ij P_j* Err_j (kpf/interference.h).
 *   alignment: {k, probes, blocks, block_k}   R(K, P*Err), misdirection,
 *             cos(PKP*, PP*), ranks of K_j (kpf/misdirection.h).
 *   fixed_points: {candidates, input, period, …}   fixed and slow points and
 *             their stability (kpf/fixed_points.h).
 *   dw_shuffle: {block, shuffles}   Schuessler's shuffle test.
 *   w_spectrum: {block, margin, top}   eigenvalues of W and their outliers.
 * Every one with its keys and outputs: docs/analyses.md.
 * Studies register more (theorem1: studies/pellegrino).  Analyses without a
 * key of their own in the config run first (spectra, pca), then the named
 * ones in the order of their keys.
 *
 * Ownership.  The host owns the model's simulation on the analysis trials,
 * analysis.h5 and the per-snapshot scalar lists; an analysis owns its `self`
 * (made by create, freed by destroy) and everything it keeps between
 * snapshots.  Contexts passed to ops are borrowed for the call.  Analyses
 * allocate their buffers in create, sized by the setup (schedule length,
 * trials, steps, n), so a snapshot allocates nothing that could have been
 * allocated once (solver workspaces that libraries insist on making are the
 * exception).  Nothing here prints. */
#ifndef KPF_ANALYSIS_H
#define KPF_ANALYSIS_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/comm.h"
#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/h5io.h"
#include "kpf/instance.h"
#include "kpf/json.h"
#include "kpf/plugin.h"
#include "kpf/progress.h"
#include "kpf/task.h"
#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

#define KPF_ANALYSIS_ABI_VERSION 1u
/* The symbol a shared object exports to provide analyses. */
#define KPF_ANALYSIS_DESCRIPTOR_SYMBOL "kpf_analysis_descriptor"
/* Longest scalar name an analysis may report (kpf_snapshot_scalar), bytes. */
#define KPF_ANALYSIS_SCALAR_NAME_MAX 63

/* What an analysis is created against, when the config is loaded: nothing
 * has been simulated or written yet.  A create may read (never change) the
 * model, to check its blocks and stepper and to size its buffers. */
typedef struct kpf_analysis_setup {
    const kpf_model *model;  /* the model the run trains (θ as created)        */
    const kpf_task *task;    /* the run's task                                  */
    size_t trials;           /* B of the analysis trials                        */
    size_t steps;            /* T of the analysis trials                        */
    size_t max_snapshots;    /* length of the schedule: at most this many calls */
    uint64_t seed;           /* the run's seed                                  */
} kpf_analysis_setup;

/* The host's list of named scalars of one snapshot (kpf_snapshot_scalar). */
typedef struct kpf_snapshot_report kpf_snapshot_report;

/* One snapshot as an analysis sees it (borrowed for the call). */
typedef struct kpf_snapshot {
    kpf_model *model;             /* θ of this iteration.  An analysis may set θ
                                     for a while (kpf_model_theta_changed) but
                                     restores it bitwise before returning. */
    const kpf_task_batch *batch;  /* the analysis trials: noise-free, the same
                                     at every snapshot of the run */
    const kpf_traj *traj;         /* the model simulated on `batch` at this θ;
                                     read only (later analyses read it too).
                                     In a trial-parallel run, an analysis that
                                     declares KPF_ANALYSIS_SPLIT_TRIALS gets
                                     this rank's trials only (traj->comm set,
                                     traj->trial[] their indices in batch) */
    size_t iteration;             /* training iteration (0: before training) */
    size_t index;                 /* 0, 1, … over the snapshots of this process */
    int resumed;                  /* 1: this process resumed a killed run whose
                                     earlier snapshots it could not replay (a
                                     folder from a kpf that kept no θ records),
                                     so index 0 is not the run's first (W₀ is
                                     unknown).  A resumed run normally replays
                                     every earlier snapshot from its stored θ,
                                     in order, before going on: then 0. */
    kpf_h5 *h5;                   /* analysis.h5 */
    const char *group;            /* "/snapshots/<iteration>": write under
                                     group/<your name>/… (kpf_snapshot_write) */
    uint64_t seed;                /* the run's seed */
    kpf_snapshot_report *report;  /* named scalars (kpf_snapshot_scalar) */
} kpf_snapshot;

/* After the last snapshot (borrowed for the call). */
typedef struct kpf_analysis_end {
    kpf_model *model;      /* the final θ; restore it if changed            */
    kpf_h5 *h5;            /* analysis.h5: run-level results at /<your name>/… */
    size_t n_snapshots;    /* snapshots this process took                    */
    int resumed;           /* as in kpf_snapshot                             */
} kpf_analysis_end;

/* Where an analysis draws its figures (kpf/plot.h; borrowed for the call). */
typedef struct kpf_analysis_plot {
    const char *dir;              /* the run folder; never replace a file there */
    const kpf_task *task;         /* task->type->period_names label periods    */
    const kpf_task_batch *batch;  /* the analysis trials (period labels)        */
} kpf_analysis_plot;

typedef struct kpf_analysis_desc {
    uint32_t abi_version; /* KPF_ANALYSIS_ABI_VERSION                          */
    uint32_t struct_size; /* sizeof(kpf_analysis_desc) as the file compiled it  */
    const char *name;     /* unique, [a-z0-9_]+: its key under `analysis:`      */
    const char *summary;  /* one line                                           */
    /* ---- required ------------------------------------------------------ */
    /* From the value under its key (a map, or a scalar for a shorthand such
     * as `lyapunov: 4`; NULL when it runs without a key).  Validate every
     * key (kpf_cfg_* getters, located errors via kpf_node_error), check the
     * model against what it needs, allocate the buffers, write nothing.  The
     * host then reports any key of a map node the create did not read. */
    int (*create)(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err);
    void (*destroy)(void *self);
    /* At every snapshot of the schedule, after the host simulated the
     * analysis trials and stored θ. */
    int (*at_snapshot)(void *self, const kpf_snapshot *s, kpf_error *err);
    /* ---- optional (NULL = absent) ---------------------------------------- */
    /* After the last snapshot: results over the whole run. */
    int (*finish)(void *self, const kpf_analysis_end *e, kpf_error *err);
    /* Named run-level scalars for sweep tables (each point's scalars.txt and
     * sweep.csv): fills up to cap names and values, NaN where not computed,
     * and returns how many it has.  Names live as long as self. */
    size_t (*scalars)(const void *self, const char **names, double *values, size_t cap);
    /* Run-level entries of summary.json: kpf_json_key + value pairs written
     * into the top-level object (per-snapshot values go through
     * kpf_snapshot_scalar instead). */
    void (*summary_json)(const void *self, kpf_json *j);
    /* Figures, after finish.  A failure costs the figure, not the run: the
     * host notes the first one in summary.json's plot_error. */
    int (*plot)(const void *self, const kpf_analysis_plot *p, kpf_error *err);
    /* ---- appended (absent: 0) ------------------------------------------- */
    uint32_t flags;       /* KPF_ANALYSIS_* below                               */
} kpf_analysis_desc;

/* at_snapshot works on a trajectory split over MPI ranks (kpf/trajectory.h,
 * kpf_traj_alloc_part): whatever it computes across trials goes through
 * the operators and spaces of kpf/operator.h, which sum over the ranks, so
 * every rank gets the whole run's results (the spectra analysis).  An
 * analysis without it is handed every trial, simulated on every rank. */
#define KPF_ANALYSIS_SPLIT_TRIALS 1u

/* The head every descriptor of this build starts with, for designated
 * initialisers: {KPF_ANALYSIS_DESC_HEAD, .name = "…", …}. */
#define KPF_ANALYSIS_DESC_HEAD \
    .abi_version = KPF_ANALYSIS_ABI_VERSION, .struct_size = sizeof(kpf_analysis_desc)
/* Smallest struct_size a host accepts: everything up to the required ops. */
#define KPF_ANALYSIS_DESC_MIN_SIZE \
    (offsetof(kpf_analysis_desc, at_snapshot) + sizeof(((kpf_analysis_desc *)0)->at_snapshot))
/* Whether d (of d->struct_size bytes) contains `field`; the field or NULL. */
#define KPF_ANALYSIS_HAS(d, field) \
    ((d)->struct_size >= offsetof(kpf_analysis_desc, field) + sizeof((d)->field))
#define KPF_ANALYSIS_OP(d, field) (KPF_ANALYSIS_HAS(d, field) ? (d)->field : NULL)

typedef const kpf_analysis_desc *(*kpf_analysis_descriptor_fn)(uint32_t index);

/* ---- descriptors and registries ------------------------------------------- */

/* The built-in analyses, enumerated like a shared object's
 * kpf_analysis_descriptor: index 0, 1, … then NULL. */
const kpf_analysis_desc *kpf_builtin_analysis_descriptor(uint32_t index);

/* Validate a descriptor as the loader does (ABI version, struct size,
 * name, required ops); `where` names its file in the one-line message. */
int kpf_analysis_desc_validate(const kpf_analysis_desc *d, const char *where, kpf_error *err);

/* Install the analysis validator in reg and add the built-in analyses
 * through kpf_registry_add_descriptors, the path a file's enumerator takes.
 * Idempotent: a registry that already holds the built-ins is left as it is.
 * Call it before kpf_registry_scan so that files' analyses are validated as
 * they load; kpf_experiment_load calls it too (kpf/experiment.h), so any
 * registry handed to an experiment has the built-ins, and the host checks
 * every analysis it uses with kpf_analysis_desc_validate regardless. */
int kpf_analysis_register_builtins(kpf_registry *reg, kpf_error *err);

/* ---- helpers for analyses ------------------------------------------------- */

/* Write v (n doubles, 1-D) to s->group/<path> ("delta_w/singular_values"). */
int kpf_snapshot_write(const kpf_snapshot *s, const char *path, const double *v, size_t n,
                       kpf_error *err);
/* Report a named scalar of this snapshot: it goes into the snapshot's entry
 * of summary.json (in the order reported).  Names are [A-Za-z0-9_]+, at most
 * KPF_ANALYSIS_SCALAR_NAME_MAX bytes, unique within the snapshot. */
int kpf_snapshot_scalar(const kpf_snapshot *s, const char *name, double value, kpf_error *err);
/* For creates: `block` must be the model's n×n recurrent matrix, because
 * `who` ("ΔW", "Theorem 1") needs it; a located error at `at` otherwise. */
int kpf_analysis_square_block(const kpf_model *m, const kpf_node *at, const char *block,
                              const char *who, kpf_error *err);

/* ---- the host ---------------------------------------------------------------- */

typedef struct kpf_analyses kpf_analyses;

/* From the `analysis:` map: the schedule (iterations ≤ last_iteration), the
 * trials, and one instance of every analysis it names (looked up in reg,
 * which must hold the built-ins: kpf_analysis_register_builtins) plus the
 * default ones, each created against m and task (borrowed: they must
 * outlive the host).  Every mistake is a located config error; nothing is
 * simulated or written. */
int kpf_analyses_load(const kpf_registry *reg, const kpf_node *section, kpf_model *m,
                      kpf_task *task, size_t last_iteration, uint64_t seed,
                      kpf_analyses **out, kpf_error *err);
void kpf_analyses_free(kpf_analyses *a);

/* Before the first snapshot: draw the analysis trials (noise off, with the
 * evaluation stream of the seed) and write into h5 (borrowed). */
int kpf_analyses_begin(kpf_analyses *a, kpf_h5 *h5, kpf_error *err);

/* Before begin: the run's trials are split over comm's ranks (every rank
 * runs the same host alike; kpf_experiment_set_comm).  Analyses that
 * declare KPF_ANALYSIS_SPLIT_TRIALS then get this rank's share of the
 * analysis trials (at least one per rank: KPF_ECONFIG otherwise); the others
 * get them all.  comm is borrowed; one rank (or NULL): as usual. */
int kpf_analyses_set_comm(kpf_analyses *a, const kpf_comm *comm, kpf_error *err);

/* Announce each analysis to p (kpf/progress.h) before and after it runs at
 * a snapshot (borrowed: it must outlive the host; NULL: nobody listens). */
void kpf_analyses_set_progress(kpf_analyses *a, const kpf_progress *p);

/* Run the analyses if `iteration` is next on the schedule (else nothing). */
int kpf_analyses_at(kpf_analyses *a, size_t iteration, kpf_error *err);

/* Training stopped early (convergence) at `iteration`: run the analyses
 * there unless the last snapshot already was that iteration, so the final
 * model is always analysed.  Scheduled iterations after it are dropped. */
int kpf_analyses_final(kpf_analyses *a, size_t iteration, kpf_error *err);

/* A resumed run that cannot replay its earlier snapshots starts at
 * `iteration`: drop schedule entries before it (their results are in the
 * file from the interrupted process; resumed becomes 1). */
void kpf_analyses_skip_before(kpf_analyses *a, size_t iteration);

/* After the last snapshot: every analysis's finish. */
int kpf_analyses_finish(kpf_analyses *a, kpf_error *err);

/* Every analysis's figures in dir; all are attempted, the first failure is
 * returned (err holds its message). */
int kpf_analyses_plot(const kpf_analyses *a, const char *dir, kpf_error *err);

/* summary.json: "analysis": [{iteration, <scalars>…}, …] and then each
 * analysis's run-level entries. */
void kpf_analyses_summary(const kpf_analyses *a, kpf_json *j);

/* Run-level scalars of every analysis, in run order (see the scalars op);
 * returns how many exist (may exceed cap). */
size_t kpf_analyses_scalars(const kpf_analyses *a, const char **names, double *values,
                            size_t cap);

/* Snapshots taken so far by this process. */
size_t kpf_analyses_count(const kpf_analyses *a);

/* The next iteration on the schedule (*iteration), or 0 when none is left:
 * a resumed run replays the snapshots before its checkpoint from their
 * stored θ, so that every analysis sees the run's whole history again. */
int kpf_analyses_next(const kpf_analyses *a, size_t *iteration);

KPF_END_DECLS
#endif
