/* Shared pieces of the `kpf` command. */
#ifndef KPF_CLI_H
#define KPF_CLI_H

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

/* What a sweep needs to rebuild each point's config. */
typedef struct kpf_cli_sweep_args {
    const char *config;
    const char *const *sets;
    int n_sets;
    const kpf_progress *progress; /* a POINT event after each point; NULL: none */
} kpf_cli_sweep_args;

/* Check every point's config (errors located in the sweep spec). */
int kpf_cli_sweep_validate(const kpf_cli_sweep_args *a, const struct kpf_sweep *sw,
                           kpf_registry *reg, kpf_error *err);
/* Run all points (one child process each) into dir; writes sweep.csv. */
int kpf_cli_sweep(const kpf_cli_sweep_args *a, const struct kpf_sweep *sw, kpf_registry *reg,
                  const char *dir);

int kpf_cmd_run(int argc, char **argv);
int kpf_cmd_plugins(int argc, char **argv);
int kpf_cmd_check_plugin(int argc, char **argv);
int kpf_cmd_show(int argc, char **argv);
int kpf_cmd_new_plugin(int argc, char **argv);
int kpf_cmd_eval_op(int argc, char **argv);
int kpf_cmd_export_safetensors(int argc, char **argv);

#endif
