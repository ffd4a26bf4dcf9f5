/* `kpf run CONFIG [-o DIR] [--set k=v]…`: load and validate, then create the
 * output folder, then run.  A bad config exits 2 before anything is written. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kpf/experiment.h"

#define MAX_SETS 256

typedef struct run_args {
    const char *config;
    const char *out;
    const char *sets[MAX_SETS];
    int n_sets;
} run_args;

static int parse(int argc, char **argv, run_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if ((!strcmp(s, "-o") || !strcmp(s, "--out")) && i + 1 < argc) {
            a->out = argv[++i];
        } else if (!strcmp(s, "--set") && i + 1 < argc) {
            if (a->n_sets == MAX_SETS)
                return fprintf(stderr, "kpf run: too many --set options\n"), -1;
            a->sets[a->n_sets++] = argv[++i];
        } else if (!strncmp(s, "--set=", 6)) {
            if (a->n_sets == MAX_SETS)
                return fprintf(stderr, "kpf run: too many --set options\n"), -1;
            a->sets[a->n_sets++] = s + 6;
        } else if (s[0] == '-' && s[1]) {
            return fprintf(stderr, "kpf run: unknown or incomplete option '%s'\n", s), -1;
        } else if (!a->config) {
            a->config = s;
        } else {
            return fprintf(stderr, "kpf run: more than one config given ('%s')\n", s), -1;
        }
    }
    if (!a->config)
        return fprintf(stderr, "usage: kpf run CONFIG [-o DIR] [--set key.path=value]...\n"),
               -1;
    return 0;
}

static int load(const run_args *a, kpf_config **cfg, kpf_registry **reg,
                kpf_experiment **ex, kpf_error *err)
{
    int rc = kpf_config_load_file(a->config, cfg, err);
    for (int i = 0; !rc && i < a->n_sets; i++)
        rc = kpf_config_set(*cfg, a->sets[i], err);
    if (!rc)
        rc = kpf_cli_registry(reg, err);
    if (!rc)
        rc = kpf_experiment_load(*cfg, *reg, ex, err);
    return rc;
}

int kpf_cmd_run(int argc, char **argv)
{
    run_args a;
    if (parse(argc, argv, &a))
        return KPF_EXIT_USAGE;
    kpf_config *cfg = NULL;
    kpf_registry *reg = NULL;
    kpf_experiment *ex = NULL;
    kpf_error err;
    kpf_error_clear(&err);
    int status = KPF_EXIT_OK;
    int rc = load(&a, &cfg, &reg, &ex, &err);
    if (rc) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        status = rc == KPF_ENOMEM ? KPF_EXIT_FAIL : KPF_EXIT_USAGE;
        goto done;
    }
    char dir[4096];
    if ((rc = kpf_output_dir_prepare(a.out, a.config, dir, sizeof dir, &err))) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        status = KPF_EXIT_USAGE;
        goto done;
    }
    fprintf(stderr, "kpf: writing to %s\n", dir);
    if ((rc = kpf_experiment_run(ex, dir, &err))) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        status = KPF_EXIT_FAIL;
        goto done;
    }
    printf("%s/summary.json\n", dir);
done:
    kpf_experiment_free(ex);
    kpf_registry_free(reg);
    kpf_config_free(cfg);
    return status;
}
