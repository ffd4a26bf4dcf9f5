/* `kpf plugins`: what the search path holds, and why any file was skipped. */
#include <stdio.h>

#include "cli.h"

int kpf_cmd_plugins(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "usage: kpf plugins\n");
        return KPF_EXIT_USAGE;
    }
    kpf_registry *reg = NULL;
    kpf_error err;
    kpf_error_clear(&err);
    if (kpf_cli_registry(&reg, &err)) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        return KPF_EXIT_FAIL;
    }
    size_t n = kpf_registry_count(reg);
    printf("%-12s %-4s %-10s %s\n", "NAME", "ABI", "TIME", "SUMMARY / FILE");
    for (size_t i = 0; i < n; i++) {
        const kpf_plugin *p = kpf_registry_at(reg, i);
        printf("%-12s %-4u %-10s %s\n%-28s %s\n", p->desc->name, p->desc->abi_version,
               p->desc->flags & KPF_MODEL_CONTINUOUS ? "continuous" : "discrete",
               p->desc->summary ? p->desc->summary : "", "", p->path);
    }
    if (n == 0)
        printf("(no plugins found in %s)\n", kpf_cli_search_path());
    for (size_t i = 0; i < kpf_registry_problem_count(reg); i++)
        fprintf(stderr, "kpf: skipped: %s\n", kpf_registry_problem(reg, i));
    kpf_registry_free(reg);
    return KPF_EXIT_OK;
}
