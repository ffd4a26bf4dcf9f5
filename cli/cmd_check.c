/* `kpf check-plugin NAME|PATH`: the conformance checks, one line each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kpf/check.h"

#define MAX_SETS 64

static int parse(int argc, char **argv, const char **target, kpf_check_opts *o,
                 const char **sets, int *n_sets)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            o->seed = strtoull(argv[++i], &end, 10);
            if (*end)
                return fprintf(stderr, "kpf check-plugin: --seed needs an integer\n"), -1;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc && *n_sets < MAX_SETS) {
            sets[(*n_sets)++] = argv[++i];
        } else if (argv[i][0] == '-') {
            return fprintf(stderr, "kpf check-plugin: unknown option '%s'\n", argv[i]), -1;
        } else if (!*target) {
            *target = argv[i];
        } else {
            return fprintf(stderr, "kpf check-plugin: one plugin at a time\n"), -1;
        }
    }
    if (!*target)
        return fprintf(stderr, "usage: kpf check-plugin NAME|PATH [--seed N] "
                               "[--set key=value]...\n"),
               -1;
    return 0;
}

static void print_report(const kpf_plugin *p, const kpf_check_report *rep)
{
    printf("checking plugin '%s' (%s)\n", p->desc->name, p->path);
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        printf("  %s  %-58s %9.2e (tol %.0e)%s%s\n", it->pass ? "ok  " : "FAIL", it->name,
               it->value, it->tol, it->detail[0] ? "  " : "", it->detail);
    }
    printf("%zu passed, %zu failed\n", rep->n_items - rep->n_failed, rep->n_failed);
}

int kpf_cmd_check_plugin(int argc, char **argv)
{
    kpf_check_opts o;
    kpf_check_opts_default(&o);
    const char *target = NULL, *sets[MAX_SETS];
    int n_sets = 0;
    if (parse(argc, argv, &target, &o, sets, &n_sets))
        return KPF_EXIT_USAGE;
    kpf_registry *reg = NULL;
    kpf_config *cfg = NULL;
    kpf_check_report rep = {0};
    kpf_error err;
    kpf_error_clear(&err);
    int status = KPF_EXIT_FAIL;
    const kpf_plugin *p = NULL;
    int rc = kpf_cli_registry(&reg, &err);
    if (!rc)
        rc = kpf_registry_resolve(reg, target, &p, &err);
    if (!rc && n_sets) {
        rc = kpf_config_load_string("{}", "(check-plugin)", &cfg, &err);
        for (int i = 0; !rc && i < n_sets; i++)
            rc = kpf_config_set(cfg, sets[i], &err);
        o.model = cfg ? kpf_config_root(cfg) : NULL;
    }
    if (!rc)
        rc = kpf_check_plugin(p, &o, &rep, &err);
    if (rc) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        status = rc == KPF_ECONFIG ? KPF_EXIT_USAGE : KPF_EXIT_FAIL;
    } else {
        print_report(p, &rep);
        status = rep.n_failed ? KPF_EXIT_FAIL : KPF_EXIT_OK;
    }
    kpf_check_report_free(&rep);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
    return status;
}
