/* The pieces of a sweep run (private to the kpf command): one point in its
 * child process and its recorded outcome, which points an invocation runs
 * (job-array slices, resume), the dynamic task farm over MPI ranks, and
 * the table merged from the point folders.
 *
 * The folder of a sweep, DIR:
 *   config.yaml, overrides.txt   the sweep's config and --set overrides
 *   point_NNNN/                  point NNNN's run (kpf_experiment_run)
 *   point_NNNN/scalars.txt       its scalars, or "# error: …"
 *   point_NNNN/status            its outcome, written last and atomically:
 *                                "ok", "failed" or "killed by signal N"
 *   sweep.csv, sweep_Y_vs_X.png  the table and plot, from every point
 * A point without status never finished: resume runs it again (from its
 * checkpoint when it has one), and sweep-collect lists it as missing. */
#ifndef KPF_CLI_SWEEP_INTERNAL_H
#define KPF_CLI_SWEEP_INTERNAL_H

#include <stdio.h>
#include <sys/types.h>

#include "cli.h"
#include "kpf/comm.h"
#include "kpf/sweep.h"

/* ---- the sweep's folder (sweep_dir.c) ----------------------------------------- */

/* Writes the run's config.yaml and overrides.txt into a folder (cmd_run.c). */
typedef int (*kpf_cli_save_fn)(void *ctx, const char *dir, kpf_error *err);

/* Make dir the folder of one slice of a sweep: created when missing; the
 * first slice there records the inputs (save into a private folder, then
 * link(2) into place, so a racing slice sees both files whole or neither),
 * and a later slice whose inputs differ in a byte is refused (KPF_ECONFIG). */
int kpf_cli_sweep_dir_claim(const char *dir, kpf_cli_save_fn save, void *ctx, kpf_error *err);

/* ---- the whole of `kpf run` on a sweep (sweep_run.c) ---------------------------- */

typedef struct kpf_cli_sweep_plan {
    const char *config;   /* the config file, for the default folder's name */
    const char *out;      /* -o DIR or NULL                                  */
    const char *resume;   /* --resume DIR or NULL                            */
    kpf_cli_save_fn save; /* records config.yaml and overrides.txt in a folder */
    void *save_ctx;
    int quiet;            /* -q: no "sweep of N points into DIR" line        */
} kpf_cli_sweep_plan;

/* Validate every point on every rank (a mistake anywhere is exit 2
 * everywhere, before anything is written), let rank 0 make or claim the
 * folder and tell the others, then run (kpf_cli_sweep).  An exit status. */
int kpf_cli_run_sweep(const kpf_cli_sweep_args *a, const kpf_sweep *sw, kpf_registry *reg,
                      const kpf_cli_sweep_plan *p);

/* ---- one point (sweep_point.c) ------------------------------------------ */

void kpf_cli_point_dir(const char *dir, size_t i, char *buf, size_t size);

/* 1 and the outcome ("ok", "failed", …) when the point finished, else 0. */
int kpf_cli_point_outcome(const char *pdir, char *status, size_t size);

/* Ready an unfinished point's folder: *resume = 1 when it holds a
 * checkpoint to continue from; otherwise what an interrupted attempt left
 * is removed, so the point starts clean.  0, or −1 with a message in msg. */
int kpf_cli_point_prepare(const char *pdir, int *resume, char *msg, size_t size);

/* Start point i in a child process (which dies with its parent); its pid,
 * or −1 when fork failed. */
pid_t kpf_cli_point_start(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                          kpf_registry *reg, const char *pdir, int resume);

/* The child's wait status st as an outcome, recorded in pdir/status. */
void kpf_cli_point_finish(const char *pdir, int st, char *status, size_t size);

/* Prepare, start, wait, finish: point i's outcome in status. */
void kpf_cli_point_run(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                       kpf_registry *reg, const char *dir, char *status, size_t size);

/* ---- which points (sweep_select.c) --------------------------------------- */

/* Slice k of n (0 ≤ k < n): the points i with i mod n = k, so every slice
 * gets a share of each part of the grid.  {0, 1}: every point. */
typedef struct kpf_cli_slice {
    size_t k, n;
} kpf_cli_slice;

/* "K/N" or "slurm" (SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT).  0, or −1
 * with the reason in msg. */
int kpf_cli_slice_parse(const char *spec, kpf_cli_slice *s, char *msg, size_t size);

/* The points of slice s to run, ascending, into todo (n_points entries):
 * all of them, or with `resume` those without an outcome.  Returns the count. */
size_t kpf_cli_points_todo(const kpf_sweep *sw, kpf_cli_slice s, const char *dir, int resume,
                           size_t *todo);

/* ---- the task farm (sweep_farm.c) ----------------------------------------- */

/* Run the points todo[0 … n) over comm's ranks: rank 0 deals them out one
 * at a time as ranks come free and runs points itself meanwhile; every rank
 * runs each point it is given in a child process.  Returns on every rank
 * when all points are done; *failed (rank 0) counts the points not ok.
 * 0, or −1 after an MPI failure (message on stderr). */
int kpf_cli_sweep_farm(const kpf_comm *comm, const kpf_cli_sweep_args *a, const kpf_sweep *sw,
                       kpf_registry *reg, const char *dir, const size_t *todo, size_t n,
                       size_t *failed);

/* ---- the table (sweep_table.c) --------------------------------------------- */

typedef struct kpf_cli_tally {
    size_t ok, failed, missing;
} kpf_cli_tally;

/* sweep.csv (replaced atomically) and the plot, from every point's folder:
 * one row per point in order, status "missing" for a point without an
 * outcome.  Each missing or failed point is named on `list` (NULL: not
 * listed).  0, or −1 when sweep.csv could not be written (said on stderr). */
int kpf_cli_sweep_table(const kpf_sweep *sw, const char *dir, kpf_cli_tally *tally, FILE *list);

#endif
