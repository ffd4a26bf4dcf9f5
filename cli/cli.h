/* Shared pieces of the `kpf` command. */
#ifndef KPF_CLI_H
#define KPF_CLI_H

#include "kpf/comm.h"
#include "kpf/plugin.h"
#include "kpf/progress.h"

/* Exit statuses of every subcommand. */
enum { KPF_EXIT_OK = 0, KPF_EXIT_FAIL = 1, KPF_EXIT_USAGE = 2 };

/* A registry scanned over the default search path (KPF_PLUGIN_PATH, the
 * build tree, the install tree).  Exits are the caller's business. */
int kpf_cli_registry(kpf_registry **out, kpf_error *err);
/* The search path used, for messages. */
const char *kpf_cli_search_path(void);

struct kpf_sweep;

/* What a sweep needs to rebuild each point's config, and which points this
 * invocation runs where (cli/sweep_internal.h). */
typedef struct kpf_cli_sweep_args {
    const char *config;
    const char *const *sets;
    int n_sets;
    const kpf_progress *progress; /* a POINT event after each point; NULL: none */
    const kpf_comm *comm;         /* ranks of a task farm; NULL: this process   */
    size_t slice_k, slice_n;      /* --points K/N; slice_n 0: every point       */
    int resume;                   /* only the points without an outcome         */
} kpf_cli_sweep_args;

/* Check every point's config (errors located in the sweep spec). */
int kpf_cli_sweep_validate(const kpf_cli_sweep_args *a, const struct kpf_sweep *sw,
                           kpf_registry *reg, kpf_error *err);
/* Run this invocation's points (one child process each) into dir, on every
 * rank of a->comm alike; rank 0 writes sweep.csv and the plot when the
 * whole sweep ran (not for a slice: kpf sweep-collect merges slices). */
int kpf_cli_sweep(const kpf_cli_sweep_args *a, const struct kpf_sweep *sw, kpf_registry *reg,
                  const char *dir);

/* A trial-parallel run's private folder for a rank other than 0 (run_ranks.c):
 * a new scratch folder in $TMPDIR or /tmp, a copy of dir when resuming. */
int kpf_cli_rank_scratch(const char *dir, int resume, char *buf, size_t size, kpf_error *err);
void kpf_cli_rank_scratch_remove(const char *scratch);

int kpf_cmd_run(int argc, char **argv);
int kpf_cmd_plugins(int argc, char **argv);
int kpf_cmd_check_plugin(int argc, char **argv);
int kpf_cmd_show(int argc, char **argv);
int kpf_cmd_new_plugin(int argc, char **argv);
int kpf_cmd_eval_op(int argc, char **argv);
int kpf_cmd_export_safetensors(int argc, char **argv);
int kpf_cmd_sweep_collect(int argc, char **argv);

#endif
