/* kpf/experiment.h — one experiment from a YAML config: validate, build,
 * run, write outputs.
 *
 * Top-level keys (docs/config.md has the full reference):
 *   seed:     u64, default 0; the init, data and batch streams derive from it
 *   task:     map, required (`name` picks the generator)
 *   model:    map, required (`plugin` picks the plugin; other keys go to it)
 *   train:    optional; see kpf_train_opts_from_config (train.h)
 *   pretrain: optional {task, train, block, subspace}: a first training
 *             stage on its own task (docs/config.md)
 *   analysis: optional; snapshot analyses by name (kpf/analysis.h)
 *   simulate: {trials: 32}  (after training: the final model)
 *   output:   {trajectory: true}
 *
 * kpf_experiment_load checks the whole config — every key read, every value
 * validated, task and model created — before anything is written, so a bad
 * config costs nothing and loses nothing.  Models, tasks and analyses are
 * looked up in `reg`; kpf_experiment_load adds the built-in analyses to it
 * when they are missing (kpf_analysis_register_builtins, idempotent), while
 * a study's analyses (theorem1) come with the studies' registration. */
#ifndef KPF_EXPERIMENT_H
#define KPF_EXPERIMENT_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/comm.h"
#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "kpf/progress.h"

KPF_BEGIN_DECLS

typedef struct kpf_experiment kpf_experiment;

int kpf_experiment_load(const kpf_config *cfg, kpf_registry *reg, kpf_experiment **out,
                        kpf_error *err);
void kpf_experiment_free(kpf_experiment *ex);

/* Run and write summary.json, trajectory.h5 and, when training, train.h5,
 * loss.png and checkpoint.h5 into out_dir, which must exist.  Result files
 * are created exclusively: nothing there is overwritten.  resume = 1
 * continues training from out_dir/checkpoint.h5. */
int kpf_experiment_run(kpf_experiment *ex, const char *out_dir, int resume, kpf_error *err);

/* Split the run over comm's ranks (every rank loads the same config and
 * calls kpf_experiment_run alike).  Training and pretraining become
 * data-parallel (kpf/train.h): each rank simulates and differentiates its
 * block of each batch's trials, one sum per step makes the batch's loss and
 * gradient, and θ stays identical on every rank; results equal the
 * one-process run to ≤ 1e-12 relative.  The config's `parallel:` section
 * applies: `trials: none` refuses more than one rank, `reduce: ordered`
 * sets comm's reduction order (kpf_comm_set_order: bitwise reproducible at
 * a fixed rank count).  KPF_ECONFIG when a batch, evaluation set or the
 * analysis trials have fewer trials than there are ranks.  Snapshot
 * analyses that declare KPF_ANALYSIS_SPLIT_TRIALS (the spectra) work on
 * each rank's share of the analysis trials; the other analyses and the
 * final simulation run on every rank alike; only rank 0's checkpoints are
 * written, and the caller lets rank 0 alone write the run folder (the kpf
 * command gives the other ranks private scratch folders).  comm is
 * borrowed; one rank (or NULL) is the usual single process. */
int kpf_experiment_set_comm(kpf_experiment *ex, kpf_comm *comm, kpf_error *err);

/* Progress events (kpf/progress.h) during kpf_experiment_run: a PHASE
 * event as each phase begins (pretrain, train, analysis, plots, simulate),
 * ITERATION and EVAL events from the training loops, ANALYSIS_BEGIN/END
 * around each analysis at each snapshot.  p is borrowed (it must outlive
 * the run); NULL: nobody listens.  summary.json's "timings" gives the
 * seconds of each phase (analyses at snapshots count as analysis, not
 * train), "total", and "threads" the BLAS thread count. */
void kpf_experiment_set_progress(kpf_experiment *ex, const kpf_progress *p);

/* The experiment's model (θ as created or, after a run, as trained), for
 * callers that read or set θ (kpf export-safetensors); borrowed, valid
 * until kpf_experiment_free. */
kpf_model *kpf_experiment_model(kpf_experiment *ex);

/* After kpf_experiment_run: up to `cap` named scalars (eval losses,
 * convergence iteration, effective ranks and PCA dimension at the first and
 * last snapshot …), NaN where not computed; returns how many exist. */
size_t kpf_experiment_scalars(const kpf_experiment *ex, const char **names, double *values,
                              size_t cap);

/* Pick the output folder and create it.  `requested` (from -o) must not
 * exist or be an empty folder.  Without it: runs/<config stem>, or the first
 * free runs/<stem>-2, -3, … so an earlier run is never touched. */
int kpf_output_dir_prepare(const char *requested, const char *config_path, char *buf,
                           size_t size, kpf_error *err);

KPF_END_DECLS
#endif
