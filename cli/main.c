/* The `kpf` command: subcommand dispatch, --help, --version, and the plugin
 * search path relative to the executable. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kpf/analysis.h"
#include "kpf/study.h"
#include "kpf/version.h"
#include "studies.h"

static char search_path[8192];

static void exe_dir(char *buf, size_t size)
{
    ssize_t k = readlink("/proc/self/exe", buf, size - 1);
    if (k <= 0) {
        snprintf(buf, size, ".");
        return;
    }
    buf[k] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
}

const char *kpf_cli_search_path(void)
{
    if (!search_path[0]) {
        char dir[PATH_MAX];
        exe_dir(dir, sizeof dir);
        kpf_plugin_search_path(dir, search_path, sizeof search_path);
    }
    return search_path;
}

int kpf_cli_registry(kpf_registry **out, kpf_error *err)
{
    int rc = kpf_registry_alloc(out, err);
    if (rc)
        return rc;
    /* Each kind's validator before anything of that kind enters: the
     * analysis layer installs its own with its built-ins. */
    kpf_study_register_validator(*out);
    rc = kpf_analysis_register_builtins(*out, err);
    if (!rc)
        rc = kpf_studies_register(*out, err);
    if (!rc)
        rc = kpf_registry_scan(*out, kpf_cli_search_path(), err);
    if (rc) {
        kpf_registry_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Every subcommand: its name, its synopsis lines for `kpf --help` (each
 * answers `kpf NAME --help` with its options) and its entry point. */
typedef struct command {
    const char *name;
    const char *synopsis;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"run", "  run CONFIG [-o DIR] [--set key.path=value]... [-q|-v]\n"
            "                        run the experiment described by a YAML config, or\n"
            "                        the study named by its top-level key (lrnn:, …);\n"
            "                        outputs go to DIR (must be new or empty) or to\n"
            "                        runs/<config name>, runs/<config name>-2, …\n"
            "  run --resume DIR      continue an interrupted run in DIR\n"
            "  run SWEEP -o DIR --points K/N|slurm\n"
            "                        one slice of a sweep (a job-array task)\n"
            "  mpirun -np N kpf run CONFIG\n"
            "                        a sweep's points dealt over N ranks, or one run's\n"
            "                        trials split over them (docs/cluster.md)\n",
     kpf_cmd_run},
    {"sweep-collect", "  sweep-collect DIR     merge a sweep's points (slices, ranks, resumed runs)\n"
                      "                        into DIR/sweep.csv; list the missing and failed\n",
     kpf_cmd_sweep_collect},
    {"show", "  show RUN_DIR          a run's summary (or a sweep's table) as text\n",
     kpf_cmd_show},
    {"plugins", "  plugins               list every extension found: models, tasks, analyses\n"
                "                        and studies (name, ABI, summary, file or built-in),\n"
                "                        then the files skipped and why\n",
     kpf_cmd_plugins},
    {"check-plugin",
     "  check-plugin NAME|PATH [--only PATTERN] [--seed N] [--set key=value]...\n"
     "               [--task-set key=value]... [--trials B] [-v]\n"
     "                        run the conformance checks on a model or a task\n"
     "                        (NAME), or on every one a .so exports (PATH)\n",
     kpf_cmd_check_plugin},
    {"new-plugin", "  new-plugin NAME [--discrete|--continuous] [-o DIR]\n"
                   "                        scaffold a working model plugin to start from\n",
     kpf_cmd_new_plugin},
    {"eval-op", "  eval-op PLUGIN OP --in IN.h5 --out OUT.h5\n"
                "                        evaluate one op of a plugin on arrays from a file\n",
     kpf_cmd_eval_op},
    {"export-safetensors",
     "  export-safetensors RUN_DIR OUT.safetensors [--prefix P] [--layer]\n"
     "                        write a run's trained θ with PyTorch's names\n",
     kpf_cmd_export_safetensors},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *fp)
{
    fputs("usage: kpf <command> [options]\n\ncommands (kpf <command> --help for each one's "
          "options):\n",
          fp);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fputs(commands[i].synopsis, fp);
    fputs("  --help, -h            this text\n"
          "  --version             print the version\n"
          "\n"
          "Extensions (.so files exporting models, tasks, analyses or studies) are\n"
          "searched in $KPF_PLUGIN_PATH (':'-separated), then beside the kpf\n"
          "executable (plugins/, ../lib/.../kpf/plugins).\n"
          "\n"
          "exit status: 0 success, 1 runtime failure, 2 bad usage or bad config\n",
          fp);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return KPF_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return KPF_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("kpf %s (plugin ABI %u)\n", KPF_VERSION_STRING, KPF_ABI_VERSION);
        return KPF_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "kpf: unknown command '%s' (try kpf --help)\n", cmd);
    return KPF_EXIT_USAGE;
}
