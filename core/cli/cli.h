/* Shared pieces of the `kpf` command. */
#ifndef KPF_CLI_H
#define KPF_CLI_H

#include "kpf/plugin.h"

/* Exit statuses of every subcommand. */
enum { KPF_EXIT_OK = 0, KPF_EXIT_FAIL = 1, KPF_EXIT_USAGE = 2 };

/* A registry scanned over the default search path (KPF_PLUGIN_PATH, the
 * build tree, the install tree).  Exits are the caller's business. */
int kpf_cli_registry(kpf_registry **out, kpf_error *err);
/* The search path used, for messages. */
const char *kpf_cli_search_path(void);

int kpf_cmd_run(int argc, char **argv);
int kpf_cmd_plugins(int argc, char **argv);
int kpf_cmd_check_plugin(int argc, char **argv);

#endif
