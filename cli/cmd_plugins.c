/* `kpf plugins`: every extension the registry holds, kind by kind (models,
 * tasks, analyses, studies; built-ins and files alike), then why any file
 * was skipped. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const plural[KPF_N_KINDS] = {"models", "tasks", "analyses", "studies"};

/* How the core steps a model: "[discrete]", or "[continuous, default step: NAME (…)]"
 * with the stepper a config without `step:` gets — the plugin's declared
 * default_stepper, else the core's Euler. */
static void model_time(const kpf_model_desc *d, char *buf, size_t size)
{
    if (!(d->flags & KPF_MODEL_CONTINUOUS)) {
        snprintf(buf, size, "  [discrete]");
        return;
    }
    const char *ds = KPF_DESC_OP(d, default_stepper);
    snprintf(buf, size, "  [continuous, default step: %s (%s)]", ds ? ds : "euler",
             ds ? "the plugin's choice" : "the core's default");
}

/* NAME ABI SUMMARY, then the file (models: and how the core steps them). */
static void list_kind(const kpf_registry *reg, kpf_kind kind)
{
    size_t n = kpf_registry_ext_count(reg, kind);
    printf("%s (%zu):\n", plural[kind], n);
    for (size_t i = 0; i < n; i++) {
        const kpf_extension *e = kpf_registry_ext_at(reg, kind, i);
        const kpf_desc_head *d = e->desc;
        char time[96] = "";
        if (kind == KPF_KIND_MODEL)
            model_time((const kpf_model_desc *)d, time, sizeof time);
        printf("  %-20s %-3u %s\n  %-24s %s%s\n", d->name, d->abi_version,
               d->summary ? d->summary : "", "", e->path, time);
    }
    if (n == 0)
        printf("  (none)\n");
}

int kpf_cmd_plugins(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: kpf plugins\n"
               "  lists every extension kpf finds: models, tasks, analyses and studies, each\n"
               "  with its name, ABI version, one-line summary and the file it came from (or\n"
               "  built-in), models marked [discrete] or [continuous, default step: NAME]\n"
               "  (the stepper used when the config has no `step:` key: the plugin's\n"
               "  declared default, else the core's Euler); then the folders\n"
               "  searched and, on stderr, every file skipped with the reason and the fix.\n"
               "  Search path: $KPF_PLUGIN_PATH (':'-separated), then plugins/ beside the kpf\n"
               "  executable and the install tree.  No options.\n");
        return KPF_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "kpf plugins: %s '%s' (see 'kpf plugins --help')\n",
                argv[1][0] == '-' ? "unknown option" : "takes no arguments, not", argv[1]);
        return KPF_EXIT_USAGE;
    }
    kpf_registry *reg = NULL;
    kpf_error err;
    kpf_error_clear(&err);
    if (kpf_cli_registry(&reg, &err)) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        return KPF_EXIT_FAIL;
    }
    printf("  %-20s %-3s %s\n  %-24s %s\n", "NAME", "ABI", "SUMMARY", "", "FILE (or built-in)");
    for (int k = 0; k < KPF_N_KINDS; k++)
        list_kind(reg, (kpf_kind)k);
    printf("searched: %s\n", kpf_cli_search_path());
    fflush(stdout); /* the listing before the problems when both go to one place */
    for (size_t i = 0; i < kpf_registry_problem_count(reg); i++)
        fprintf(stderr, "kpf: skipped: %s\n", kpf_registry_problem(reg, i));
    kpf_registry_free(reg);
    return KPF_EXIT_OK;
}
