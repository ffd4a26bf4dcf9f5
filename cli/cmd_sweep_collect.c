/* `kpf sweep-collect DIR`: merge a sweep's points into DIR/sweep.csv and
 * its plot, whichever processes ran them (slices of a job array, MPI ranks,
 * resumed runs), and list the points that are missing or failed.  The
 * sweep is rebuilt from DIR's own config.yaml and overrides.txt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_internal.h"

static void usage(FILE *fp)
{
    fputs("usage: kpf sweep-collect DIR\n"
          "  merges the points of the sweep in DIR (run whole, on MPI ranks, or in\n"
          "  slices with kpf run --points K/N) into DIR/sweep.csv and its plot, and\n"
          "  lists the points that are missing or failed (kpf run --resume DIR runs the\n"
          "  missing ones).\n"
          "exit status: 0 every point ok, 1 some missing or failed, 2 DIR is not a sweep\n",
          fp);
}

/* DIR/config.yaml with DIR/overrides.txt applied, as the sweep ran it. */
static int load(const char *dir, kpf_config **cfg, kpf_error *err)
{
    char path[4200], line[4096];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    int rc = kpf_config_load_file(path, cfg, err);
    if (rc)
        return kpf_error_prefix(err, rc, "%s is not a kpf sweep folder: ", dir);
    snprintf(path, sizeof path, "%s/overrides.txt", dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return kpf_error_set(err, KPF_EIO, "%s: missing; is %s a kpf sweep folder?", path, dir);
    while (!rc && fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = '\0';
        if (*line && *line != '#') /* '#' lines are comments */
            rc = kpf_config_set(*cfg, line, err);
    }
    fclose(fp);
    return rc;
}

int kpf_cmd_sweep_collect(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return KPF_EXIT_OK;
    }
    if (argc == 2 && argv[1][0] == '-') {
        fprintf(stderr, "kpf sweep-collect: unknown option '%s' (see 'kpf sweep-collect --help')\n",
                argv[1]);
        return KPF_EXIT_USAGE;
    }
    if (argc != 2) {
        usage(stderr);
        fprintf(stderr, "(see 'kpf sweep-collect --help')\n");
        return KPF_EXIT_USAGE;
    }
    const char *dir = argv[1];
    kpf_config *cfg = NULL;
    kpf_sweep sw = {0};
    kpf_error err;
    kpf_error_clear(&err);
    uint64_t seed = 0;
    int rc = load(dir, &cfg, &err);
    if (!rc)
        rc = kpf_cfg_u64(kpf_config_root(cfg), "seed", KPF_CFG_OPTIONAL, 0, &seed, &err);
    if (!rc)
        rc = kpf_sweep_parse(kpf_node_get(kpf_config_root(cfg), "sweep"), seed, &sw, &err);
    if (!rc && !sw.n_points)
        rc = kpf_error_set(&err, KPF_EINVAL, "%s/config.yaml has no sweep: section", dir);
    if (rc) {
        fprintf(stderr, "kpf sweep-collect: %s\n", err.msg);
        kpf_config_free(cfg);
        return KPF_EXIT_USAGE;
    }
    kpf_cli_tally t;
    int status = KPF_EXIT_OK;
    fprintf(stderr, "kpf: collecting the %zu points of %s\n", sw.n_points, dir);
    if (kpf_cli_sweep_table(&sw, dir, &t, stderr)) {
        status = KPF_EXIT_FAIL;
    } else {
        printf("%s/sweep.csv\n", dir);
        fprintf(stderr, "kpf: %zu points: %zu ok, %zu failed, %zu missing%s\n", sw.n_points, t.ok,
                t.failed, t.missing,
                t.missing ? " (kpf run --resume DIR, or rerun their slices, runs them)" : "");
        status = t.failed || t.missing ? KPF_EXIT_FAIL : KPF_EXIT_OK;
    }
    kpf_sweep_clear(&sw);
    kpf_config_free(cfg);
    return status;
}
