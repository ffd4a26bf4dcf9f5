/* Private to the experiment runner's files: the experiment object and the
 * pieces each file contributes. */
#ifndef KPF_EXPERIMENT_INTERNAL_H
#define KPF_EXPERIMENT_INTERNAL_H

#include "kpf/analysis.h"
#include "kpf/json.h"
#include "kpf/experiment.h"
#include "kpf/h5io.h"
#include "kpf/progress.h"
#include "kpf/instance.h"
#include "kpf/task.h"
#include "kpf/train.h"
#include "kpf/trajectory.h"

/* What one simulation produced, for the summary. */
typedef struct sim_stats {
    double mse;       /* mean of (y − y*)² over masked steps, trials, outputs */
    double state_rms; /* RMS of z over all trials, steps and units */
} sim_stats;

/* The optional pretraining stage (experiment_pretrain.c). */
typedef struct pretrain_stage {
    const kpf_node *node;     /* the `pretrain:` map; NULL: none */
    kpf_task *task;           /* its own task; NULL: the main task */
    kpf_train_opts topts;
    kpf_train_history hist;
    const char *block;        /* square block compared (NULL: none) */
    size_t subspace;          /* singular pairs of W* − W₀ projected on */
    double *w0;               /* the block before pretraining (n×n), θ as the
                                 config creates it; NULL: no block, or the
                                 stage is not trained in this process */
    double *sv, *U, *V;       /* SVD of W* − W₀: n values, n×subspace each */
    double *snaps;            /* the block at the main run's snapshots (n×n each) */
    size_t n_snaps, cap_snaps;
    double residual;          /* kpf_dw_subspace_residual of the main run */
} pretrain_stage;

/* Wall time per phase (experiment_phase.c). */
#define KPF_RUN_MAX_PHASES 8
typedef struct run_timing {
    const char *name[KPF_RUN_MAX_PHASES]; /* static strings, in order of first use */
    double seconds[KPF_RUN_MAX_PHASES];
    size_t n;
    const char *current;                  /* the phase running; NULL: none */
    double t_phase, t_start;
    int started;
} run_timing;

struct kpf_experiment {
    const kpf_config *cfg;
    kpf_registry *reg;          /* borrowed: models, tasks, analyses by name */
    uint64_t seed;
    size_t threads;             /* BLAS threads; 0: OpenBLAS's default */
    size_t trials;
    int write_trajectory;
    kpf_task *task;
    kpf_model *model;
    const kpf_node *train_node; /* NULL: no training */
    kpf_train_opts topts;
    kpf_train_history hist;
    kpf_analyses *an;           /* NULL: no `analysis:` section */
    kpf_h5 *an_h5;
    pretrain_stage pre;
    int resuming;
    int replay;                 /* resumed: snapshots replayed from θ records */
    char records[4200];         /* DIR/.kpf-resume: those records (experiment_resume.c) */
    char plot_error[KPF_ERROR_MSG_MAX];
    sim_stats final;            /* of the last simulation (after a run) */
    const kpf_progress *progress; /* borrowed; NULL: nobody listens */
    run_timing timing;
    /* `parallel:` (experiment_parallel.c) */
    const kpf_node *parallel_node; /* NULL: absent */
    int split_trials;              /* trials: mpi (the default)            */
    int reduce_ordered;            /* reduce: ordered                      */
};

/* experiment_parallel.c: read the `parallel:` section */
int kpf_internal_parallel_load(kpf_experiment *ex, const kpf_node *root, kpf_error *err);


/* experiment.c: a config check shared with the pretraining stage */
int kpf_internal_check_train_blocks(const kpf_model *m, const kpf_node *train_node,
                                    const kpf_train_opts *o, kpf_error *err);

/* experiment_phase.c: phases announced and timed */
double kpf_internal_now(void);
/* End the current phase and begin `name` (NULL: none); total: iterations
 * of a training phase, else 0. */
void kpf_internal_phase(kpf_experiment *ex, const char *name, size_t total);
/* Book `seconds` of the current phase under phase `to` instead. */
void kpf_internal_phase_move(kpf_experiment *ex, const char *to, double seconds);
/* summary.json: "timings" {phase: seconds, …, total} and "threads". */
void kpf_internal_summary_timing(kpf_json *j, const kpf_experiment *ex);

/* experiment_output.c */
int kpf_internal_readout_all(kpf_model *m, const kpf_traj *tr, double *y, kpf_error *err);
sim_stats kpf_internal_stats_of(const kpf_traj *tr, const kpf_task_batch *bt, const double *y);
int kpf_internal_write_summary(const kpf_experiment *ex, const char *dir, const kpf_traj *tr,
                               sim_stats st, kpf_error *err);
int kpf_internal_write_trajectory(const kpf_experiment *ex, const char *dir,
                                  const kpf_traj *tr, const kpf_task_batch *bt,
                                  const double *y, kpf_error *err);
int kpf_internal_write_train(const kpf_experiment *ex, const kpf_train_history *hist,
                             const char *path, kpf_error *err);
int kpf_internal_write_train_h5(kpf_h5 *h, const kpf_experiment *ex,
                                const kpf_train_history *hist, kpf_error *err);
/* An HDF5 output created as PATH.partial; _end closes it and names it PATH
 * when rc is KPF_OK and everything reached the disk, else removes it. */
int kpf_internal_h5_output_begin(const char *path, kpf_h5 **h, kpf_error *err);
int kpf_internal_h5_output_end(kpf_h5 *h, int rc, const char *path, kpf_error *err);

/* experiment_analysis.c: the run's side of the analysis host (kpf/analysis.h) */
int kpf_internal_load_analyses(kpf_experiment *ex, const kpf_node *root, kpf_error *err);
int kpf_internal_analysis_hook(void *ctx, kpf_model *m, size_t iter, kpf_error *err);
int kpf_internal_analysis_final(kpf_experiment *ex, size_t iter, kpf_error *err);
int kpf_internal_open_analysis(kpf_experiment *ex, const char *dir, int resume,
                               kpf_error *err);
void kpf_internal_plot_analyses(kpf_experiment *ex, const char *dir);

/* experiment_analysis.c: one scheduled snapshot, as the hook takes it */
int kpf_internal_analyse(kpf_experiment *ex, size_t iter, kpf_error *err);

/* experiment_resume.c: what a resumed run redoes (see the file's head) */
int kpf_internal_resume_prepare(kpf_experiment *ex, const char *dir, int resume,
                                kpf_error *err);
int kpf_internal_record_snapshot(kpf_experiment *ex, size_t iter, kpf_error *err);
int kpf_internal_replay_snapshots(kpf_experiment *ex, size_t bound, kpf_error *err);
void kpf_internal_resume_done(kpf_experiment *ex);

/* experiment_pretrain.c */
int kpf_internal_pretrain_load(kpf_experiment *ex, const kpf_node *root, kpf_error *err);
void kpf_internal_pretrain_free(pretrain_stage *p);
int kpf_internal_pretrain_run(kpf_experiment *ex, const char *dir, int resume, kpf_error *err);
int kpf_internal_pretrain_snapshot(kpf_experiment *ex, kpf_error *err);
void kpf_internal_pretrain_compare(kpf_experiment *ex);
void kpf_internal_summary_pretrain(kpf_json *j, const kpf_experiment *ex);

#endif
