/* `kpf check-plugin NAME|PATH`: the conformance checks of models and tasks,
 * one line each.
 *
 * NAME is looked up among the models and among the tasks the registry holds
 * (built-in, the studies', and those of the files on the search path); both
 * are checked when both kinds have one of that name.  PATH (it contains '/'
 * or ends in .so) is loaded and every model and every task it exports is
 * checked.  --set key=value fills the model: map of the models checked,
 * --task-set key=value the task: map of the tasks; each check gets a fresh
 * map, so a key one of them does not read is reported for that one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kpf/check.h"

typedef struct args {
    const char *target;
    kpf_check_opts mo;
    kpf_task_check_opts to;
    const char **sets, **task_sets; /* argc slots each: no fixed limit */
    int n_sets, n_task_sets;
} args;

/* What one NAME or PATH stands for. */
typedef struct targets {
    const kpf_plugin **models;
    const kpf_extension **tasks;
    size_t n_models, n_tasks;
} targets;

static int usage(void)
{
    fprintf(stderr, "usage: kpf check-plugin NAME|PATH [--seed N] [--trials B] "
                    "[--set key=value]... [--task-set key=value]...\n");
    return -1;
}

static int parse_number(const char *opt, const char *s, unsigned long long *out)
{
    char *end;
    *out = strtoull(s, &end, 10);
    if (!*s || *end || *s == '-')
        return fprintf(stderr, "kpf check-plugin: %s needs a non-negative integer (got '%s')\n",
                       opt, s),
               -1;
    return 0;
}

static int takes_value(const char *o)
{
    return !strcmp(o, "--seed") || !strcmp(o, "--trials") || !strcmp(o, "--set") ||
           !strcmp(o, "--task-set");
}

static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const int has_value = i + 1 < argc;
        unsigned long long v;
        if (!strcmp(o, "--seed") && has_value) {
            if (parse_number(o, argv[++i], &v))
                return -1;
            a->mo.seed = a->to.seed = v;
        } else if (!strcmp(o, "--trials") && has_value) {
            if (parse_number(o, argv[++i], &v) || (v == 0 && fprintf(stderr,
                "kpf check-plugin: --trials needs at least 1 trial\n")))
                return -1;
            a->to.trials = (size_t)v;
        } else if (!strcmp(o, "--set") && has_value) {
            a->sets[a->n_sets++] = argv[++i];
        } else if (!strcmp(o, "--task-set") && has_value) {
            a->task_sets[a->n_task_sets++] = argv[++i];
        } else if (o[0] == '-') {
            fprintf(stderr, "kpf check-plugin: %s '%s'\n",
                    takes_value(o) ? "missing the value after" : "unknown option", o);
            return usage();
        } else if (!a->target) {
            a->target = o;
        } else {
            return fprintf(stderr, "kpf check-plugin: one plugin at a time ('%s' and '%s')\n",
                           a->target, o),
                   -1;
        }
    }
    return a->target ? 0 : usage();
}

/* ---- what to check ----------------------------------------------------------- */

static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n >= 3 && !strcmp(s + n - 3, ".so"));
}

static int grow_targets(targets *t, kpf_error *err)
{
    const size_t cap = t->n_models + t->n_tasks + 1;
    const kpf_plugin **m = realloc(t->models, cap * sizeof *m);
    if (m)
        t->models = m;
    const kpf_extension **k = realloc(t->tasks, cap * sizeof *k);
    if (k)
        t->tasks = k;
    return m && k ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "out of memory");
}

/* Everything the file at `path` exports: the registry entries it added. */
static int from_file(kpf_registry *reg, const char *path, targets *t, kpf_error *err)
{
    const size_t m0 = kpf_registry_count(reg), t0 = kpf_registry_ext_count(reg, KPF_KIND_TASK);
    int rc = kpf_registry_add_file(reg, path, err);
    for (size_t i = m0; !rc && i < kpf_registry_count(reg); i++)
        if (!(rc = grow_targets(t, err)))
            t->models[t->n_models++] = kpf_registry_at(reg, i);
    for (size_t i = t0; !rc && i < kpf_registry_ext_count(reg, KPF_KIND_TASK); i++)
        if (!(rc = grow_targets(t, err)))
            t->tasks[t->n_tasks++] = kpf_registry_ext_at(reg, KPF_KIND_TASK, i);
    if (!rc && t->n_models + t->n_tasks == 0)
        rc = kpf_error_set(err, KPF_EPLUGIN,
                           "%s: exports no model (%s) and no task (%s): nothing to check",
                           path, KPF_MODEL_DESCRIPTOR_SYMBOL, KPF_TASK_DESCRIPTOR_SYMBOL);
    return rc;
}

/* The model and/or the task called `name` (the finders report duplicates). */
static int from_name(kpf_registry *reg, const char *name, targets *t, kpf_error *err)
{
    int model = 0, task = 0, rc = grow_targets(t, err);
    for (size_t i = 0; i < kpf_registry_count(reg); i++)
        model |= !strcmp(kpf_registry_at(reg, i)->desc->name, name);
    for (size_t i = 0; i < kpf_registry_ext_count(reg, KPF_KIND_TASK); i++)
        task |= !strcmp(kpf_registry_ext_at(reg, KPF_KIND_TASK, i)->desc->name, name);
    if (!rc && model && !(rc = kpf_registry_find(reg, name, &t->models[0], err)))
        t->n_models = 1;
    if (!rc && task && !(rc = kpf_registry_ext_find(reg, KPF_KIND_TASK, name, &t->tasks[0], err)))
        t->n_tasks = 1;
    if (!rc && !model && !task)
        rc = kpf_error_set(err, KPF_EPLUGIN,
                           "no model or task named '%s' among the built-ins or in %s; build "
                           "it, set KPF_PLUGIN_PATH to its folder, or give the path of its "
                           ".so (`kpf plugins` lists the models found)",
                           name, kpf_cli_search_path());
    return rc;
}

/* --set and --task-set must each reach something. */
static int sets_apply(const args *a, const targets *t)
{
    if (a->n_sets && !t->n_models)
        return fprintf(stderr, "kpf check-plugin: --set fills a model's keys and '%s' has no "
                               "model; give task keys with --task-set key=value\n",
                       a->target),
               -1;
    if (a->n_task_sets && !t->n_tasks)
        return fprintf(stderr, "kpf check-plugin: --task-set fills a task's keys and '%s' has "
                               "no task; give model keys with --set key=value\n",
                       a->target),
               -1;
    return 0;
}

/* ---- running and printing ---------------------------------------------------- */

/* A fresh map holding the assignments, or NULL in *cfg when there are none. */
static int make_map(const char *const *sets, int n, kpf_config **cfg, kpf_error *err)
{
    *cfg = NULL;
    if (!n)
        return KPF_OK;
    int rc = kpf_config_load_string("{}", "(check-plugin)", cfg, err);
    for (int i = 0; !rc && i < n; i++)
        rc = kpf_config_set(*cfg, sets[i], err);
    return rc;
}

static void print_report(const char *kind, const char *name, const char *path,
                         const kpf_check_report *rep)
{
    printf("checking %s '%s' (%s)\n", kind, name, path);
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        printf("  %s  %-58s %9.2e (tol %.0e)%s%s\n", it->pass ? "ok  " : "FAIL", it->name,
               it->value, it->tol, it->detail[0] ? "  " : "", it->detail);
    }
    printf("%zu passed, %zu failed\n", rep->n_items - rep->n_failed, rep->n_failed);
}

/* Exit status of one check: a config error beats a failure beats success. */
static int verdict(int rc, const kpf_error *err, const kpf_check_report *rep)
{
    if (rc) {
        fprintf(stderr, "kpf: %s\n", err->msg);
        return rc == KPF_ECONFIG ? KPF_EXIT_USAGE : KPF_EXIT_FAIL;
    }
    return rep->n_failed ? KPF_EXIT_FAIL : KPF_EXIT_OK;
}

static int worse(int a, int b)
{
    return a == KPF_EXIT_USAGE || b == KPF_EXIT_USAGE ? KPF_EXIT_USAGE : a > b ? a : b;
}

static int check_model(const args *a, const kpf_plugin *p, size_t *n_failed)
{
    kpf_check_opts o = a->mo;
    kpf_config *cfg = NULL;
    kpf_check_report rep = {0};
    kpf_error err;
    kpf_error_clear(&err);
    int rc = make_map(a->sets, a->n_sets, &cfg, &err);
    o.model = cfg ? kpf_config_root(cfg) : NULL;
    if (!rc)
        rc = kpf_check_plugin(p, &o, &rep, &err);
    if (!rc)
        print_report("plugin", p->desc->name, p->path, &rep);
    int status = verdict(rc, &err, &rep);
    *n_failed += rep.n_failed;
    kpf_check_report_free(&rep);
    kpf_config_free(cfg);
    return status;
}

static int check_task(const args *a, const kpf_extension *e, size_t *n_failed)
{
    kpf_task_check_opts o = a->to;
    kpf_config *cfg = NULL;
    kpf_check_report rep = {0};
    kpf_error err;
    kpf_error_clear(&err);
    int rc = make_map(a->task_sets, a->n_task_sets, &cfg, &err);
    o.task = cfg ? kpf_config_root(cfg) : NULL;
    if (!rc)
        rc = kpf_check_task((const kpf_task_desc *)e->desc, &o, &rep, &err);
    if (!rc)
        print_report("task", e->desc->name, e->path, &rep);
    int status = verdict(rc, &err, &rep);
    *n_failed += rep.n_failed;
    kpf_check_report_free(&rep);
    kpf_config_free(cfg);
    return status;
}

static int check_all(const args *a, const targets *t)
{
    int status = KPF_EXIT_OK;
    size_t failed = 0, errors = 0;
    for (size_t i = 0; i < t->n_models + t->n_tasks; i++) {
        const size_t before = failed;
        int s = i < t->n_models ? check_model(a, t->models[i], &failed)
                                : check_task(a, t->tasks[i - t->n_models], &failed);
        errors += s != KPF_EXIT_OK && failed == before;
        status = worse(status, s);
    }
    if (t->n_models + t->n_tasks > 1)
        printf("%zu models and %zu tasks checked: %zu checks failed, %zu could not run\n",
               t->n_models, t->n_tasks, failed, errors);
    return status;
}

int kpf_cmd_check_plugin(int argc, char **argv)
{
    args a = {0};
    kpf_check_opts_default(&a.mo);
    kpf_task_check_opts_default(&a.to);
    a.sets = calloc((size_t)argc, sizeof *a.sets);
    a.task_sets = calloc((size_t)argc, sizeof *a.task_sets);
    targets t = {0};
    kpf_registry *reg = NULL;
    kpf_error err;
    kpf_error_clear(&err);
    int status = KPF_EXIT_USAGE;
    if (!a.sets || !a.task_sets) {
        fprintf(stderr, "kpf: out of memory\n");
        status = KPF_EXIT_FAIL;
    } else if (!parse(argc, argv, &a)) {
        int rc = kpf_cli_registry(&reg, &err);
        if (!rc)
            rc = is_path(a.target) ? from_file(reg, a.target, &t, &err)
                                   : from_name(reg, a.target, &t, &err);
        if (rc) {
            fprintf(stderr, "kpf: %s\n", err.msg);
            status = rc == KPF_ECONFIG ? KPF_EXIT_USAGE : KPF_EXIT_FAIL;
        } else if (!sets_apply(&a, &t)) {
            status = check_all(&a, &t);
        }
    }
    free(t.models);
    free(t.tasks);
    free(a.sets);
    free(a.task_sets);
    kpf_registry_free(reg);
    return status;
}
