/* `kpf check-plugin NAME|PATH`: the conformance checks of models and tasks,
 * one line each.
 *
 * NAME is looked up among the models and among the tasks the registry holds
 * (built-in, the studies', and those of the files on the search path); both
 * are checked when both kinds have one of that name.  PATH (it contains '/'
 * or ends in .so) is loaded and every model and every task it exports is
 * checked.  --set key=value fills the model: map of the models checked,
 * --task-set key=value the task: map of the tasks; each check gets a fresh
 * map, so a key one of them does not read is reported for that one.
 *
 * The report is grouped by the op each check is about; failures that one
 * broken op explains (kpf_check_diagnose) collapse into one line naming it,
 * and every line gives the two quantities compared and their relative
 * difference.  --only PATTERN runs a subset; -v lists every failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kpf/check.h"

#define MAX_CAUSES 16

typedef struct args {
    const char *target;
    kpf_check_opts mo;
    kpf_task_check_opts to;
    const char **sets, **task_sets; /* argc slots each: no fixed limit */
    int n_sets, n_task_sets;
    const char *only; /* --only PATTERN */
    int verbose;      /* -v */
    int help;
} args;

/* What one NAME or PATH stands for. */
typedef struct targets {
    const kpf_plugin **models;
    const kpf_extension **tasks;
    size_t n_models, n_tasks;
} targets;

static void check_usage(FILE *fp)
{
    fputs("usage: kpf check-plugin NAME|PATH [options]\n"
          "  runs the conformance checks on the model or task called NAME (built-in, a\n"
          "  study's, or from a .so on the search path), or on every model and task the\n"
          "  .so at PATH exports.  Models: J_z, J_theta and their transposes against\n"
          "  finite differences and each other, for f, each stepper, the readout and the\n"
          "  initial state; batching; accumulation; seeded creates; extension data; the\n"
          "  adjoint loss gradient (full and truncated).  Tasks: shapes, masks,\n"
          "  determinism, the noise scale (docs/writing-a-plugin.md lists every check).\n"
          "\n"
          "options:\n"
          "  --only PATTERN       run only the checks whose name or op matches PATTERN\n"
          "                       (a glob, case-insensitive, anywhere in the name): jzT,\n"
          "                       'euler*adjoint', gradient, readout\n"
          "  --set key=value      a key of the model: map (e.g. n=8); repeatable\n"
          "  --task-set key=value a key of the task: map; repeatable\n"
          "  --seed N             seed of the model's theta and the random rows (default 1)\n"
          "  --trials B           trials per task batch (default 64)\n"
          "  -v, --verbose        list every failed check under its likely cause, with\n"
          "                       the measured quantities\n"
          "  -h, --help           this text\n"
          "\n"
          "The report is grouped by op.  Each line: ok or FAIL, the check, the two\n"
          "quantities it compares, their relative difference and the tolerance.  Failures\n"
          "that one broken op explains are one line naming it (\"jzT is not the transpose\n"
          "of jz\").  exit status: 0 every check passed, 1 a check failed or could not\n"
          "run, 2 bad usage or a bad --set\n",
          fp);
}

static int usage(void)
{
    fprintf(stderr, "usage: kpf check-plugin NAME|PATH [--only PATTERN] [--seed N] [--trials B] "
                    "[--set key=value]... [--task-set key=value]... [-v]\n"
                    "(see 'kpf check-plugin --help')\n");
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
           !strcmp(o, "--task-set") || !strcmp(o, "--only");
}

static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const int has_value = i + 1 < argc;
        unsigned long long v;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            a->help = 1;
            return 0;
        } else if (!strcmp(o, "-v") || !strcmp(o, "--verbose")) {
            a->verbose = 1;
        } else if (!strcmp(o, "--only") && has_value) {
            a->only = a->mo.only = argv[++i];
        } else if (!strcmp(o, "--seed") && has_value) {
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
            fprintf(stderr, "kpf check-plugin: %s '%s' (see 'kpf check-plugin --help')\n",
                    takes_value(o) ? "missing the value after" : "unknown option", o);
            return -1;
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

/* "|J d| 4.123e+00  |FD| 4.123e+00  " for the item's kind; "" when none. */
static void magnitudes(const kpf_check_item *it, char *buf, size_t size)
{
    static const char *const labels[][2] = {
        [KPF_CHECK_KIND_FD] = {"|J d|", "|FD|"},
        [KPF_CHECK_KIND_ADJOINT] = {"<J v,w>", "<v,J^T w>"},
        [KPF_CHECK_KIND_BATCH] = {"max|batched|", "max|by row|"},
        [KPF_CHECK_KIND_ACCUMULATE] = {"max|p+J^T w|", "max|J^T w into p|"},
    };
    const char *la = NULL, *lb = NULL;
    if (it->kind > 0 && it->kind <= KPF_CHECK_KIND_ACCUMULATE) {
        la = labels[it->kind][0];
        lb = labels[it->kind][1];
    }
    if (it->op == KPF_CHECK_OP_GRADIENT)
        la = "<dL/dth,d>", lb = "FD";
    if (!la || (isnan(it->a) && isnan(it->b))) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, size, "%s %.4e  %s %.4e  ", la, it->a, lb, it->b);
}

static void print_item(const kpf_check_item *it, int with_detail)
{
    char mag[160];
    magnitudes(it, mag, sizeof mag);
    printf("    %s  %-58s %srel %.2e (tol %.0e)\n", it->pass ? "ok  " : "FAIL", it->name, mag,
           it->value, it->tol);
    if (with_detail && !it->pass && it->detail[0])
        printf("          %s\n", it->detail);
}

/* The group of an item: its op, or for op-less items (tasks) the name up
 * to its first ':' (written into buf). */
static const char *group_of(const kpf_check_item *it, char *buf, size_t size)
{
    if (it->op != KPF_CHECK_OP_NONE)
        return kpf_check_op_name(it->op);
    const char *colon = strchr(it->name, ':');
    snprintf(buf, size, "%.*s", colon ? (int)(colon - it->name) : (int)strlen(it->name),
             it->name);
    return buf;
}

/* One cause: its line in the group of the op it blames, then (-v) the
 * failures it explains. */
static void print_cause(const kpf_check_report *rep, const kpf_check_cause *c, size_t k,
                        int verbose)
{
    char names[512] = "";
    size_t at = 0, listed = 0;
    for (size_t i = 0; i < rep->n_items && at < sizeof names; i++) {
        const kpf_check_item *it = &rep->items[i];
        if (it->pass || it->cause != (int)k)
            continue;
        if (listed++ < 3)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", at ? "; " : "",
                                   it->name);
    }
    printf("    FAIL  likely cause: %s — %zu check%s fail%s (%s%s)\n", c->text, c->n_items,
           c->n_items == 1 ? "" : "s", c->n_items == 1 ? "s" : "", names,
           listed > 3 ? "; …" : "");
    for (size_t i = 0; verbose && i < rep->n_items; i++)
        if (!rep->items[i].pass && rep->items[i].cause == (int)k) {
            printf("      ");
            print_item(&rep->items[i], 1);
        }
}

static void print_group(const kpf_check_report *rep, const char *group,
                        const kpf_check_cause *causes, size_t n_causes, int verbose)
{
    char buf[KPF_CHECK_NAME_MAX];
    printf("  %s\n", group);
    for (size_t k = 0; k < n_causes && k < MAX_CAUSES; k++)
        if (!strcmp(kpf_check_op_name(causes[k].op), group))
            print_cause(rep, &causes[k], k, verbose);
    size_t elsewhere = 0;
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        if (strcmp(group_of(it, buf, sizeof buf), group))
            continue;
        int explained = !it->pass && it->cause >= 0 && it->cause < MAX_CAUSES;
        if (!explained)
            print_item(it, 1);
        else if (strcmp(kpf_check_op_name(causes[it->cause].op), group))
            elsewhere++;
    }
    if (elsewhere)
        printf("    FAIL  %zu check%s here follow%s from the likely cause above\n", elsewhere,
               elsewhere == 1 ? "" : "s", elsewhere == 1 ? "s" : "");
}

static void print_report(const char *kind, const char *name, const char *path,
                         kpf_check_report *rep, int verbose)
{
    kpf_check_cause causes[MAX_CAUSES];
    size_t n_causes = kpf_check_diagnose(rep, causes, MAX_CAUSES);
    printf("checking %s '%s' (%s)\n", kind, name, path);
    /* groups in the order of the ops, then the op-less ones as they come */
    for (int op = 1; op < KPF_CHECK_N_OPS; op++) {
        int present = 0;
        for (size_t i = 0; i < rep->n_items && !present; i++)
            present = rep->items[i].op == op;
        for (size_t k = 0; k < n_causes && k < MAX_CAUSES && !present; k++)
            present = causes[k].op == op;
        if (present)
            print_group(rep, kpf_check_op_name(op), causes, n_causes, verbose);
    }
    char g[KPF_CHECK_NAME_MAX], h[KPF_CHECK_NAME_MAX];
    for (size_t i = 0; i < rep->n_items; i++) {
        if (rep->items[i].op != KPF_CHECK_OP_NONE)
            continue;
        group_of(&rep->items[i], g, sizeof g);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = rep->items[j].op == KPF_CHECK_OP_NONE &&
                   !strcmp(group_of(&rep->items[j], h, sizeof h), g);
        if (!seen)
            print_group(rep, g, causes, n_causes, verbose);
    }
    printf("%zu passed, %zu failed", rep->n_items - rep->n_failed, rep->n_failed);
    if (n_causes) {
        printf(": %zu likely cause%s (", n_causes, n_causes == 1 ? "" : "s");
        for (size_t k = 0; k < n_causes && k < MAX_CAUSES; k++)
            printf("%s%s", k ? "; " : "", causes[k].text);
        printf(")");
    }
    printf("\n");
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
        print_report("plugin", p->desc->name, p->path, &rep, a->verbose);
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
    if (!rc) {
        kpf_check_report_filter(&rep, a->only);
        print_report("task", e->desc->name, e->path, &rep, a->verbose);
    }
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
    } else if (parse(argc, argv, &a)) {
        status = KPF_EXIT_USAGE;
    } else if (a.help) {
        check_usage(stdout);
        status = KPF_EXIT_OK;
    } else {
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
