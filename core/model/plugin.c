/* Extension loader: dlopen, descriptor enumeration and validation for every
 * kind, and the registry that built-ins and files enter the same way.
 *
 * Every way a plugin can be wrong ends as one line naming the file and what
 * to do about it; nothing here crashes on a bad file. */
#define _GNU_SOURCE
#include "kpf/plugin.h"
#include "kpf/stepper.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One kind's entries; individually allocated, so pointers stay valid. */
typedef struct ext_list {
    kpf_extension **at;
    size_t n, cap;
} ext_list;

struct kpf_registry {
    kpf_plugin **plugins; /* individually allocated: pointers stay valid */
    size_t n, cap;
    ext_list ext[KPF_N_KINDS];
    kpf_desc_validate_fn validate[KPF_N_KINDS];
    const kpf_task_desc **tasks; /* the task descriptors, for lookups by name */
    size_t cap_tasks;
    void **handles; /* one per opened shared object */
    size_t n_handles, cap_handles;
    char **problems;
    size_t n_problems, cap_problems;
    char *searched; /* folders scanned, for "not found" messages */
};

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 8;
    while (c < need)
        c *= 2;
    void *p = realloc(*buf, c * elem);
    if (!p)
        return -1;
    *buf = p;
    *cap = c;
    return 0;
}

static const char *const kind_names[KPF_N_KINDS] = {"model", "task", "analysis", "study"};
static const char *const kind_symbols[KPF_N_KINDS] = {
    KPF_MODEL_DESCRIPTOR_SYMBOL, KPF_TASK_DESCRIPTOR_SYMBOL, "kpf_analysis_descriptor",
    "kpf_study_descriptor"};

const char *kpf_kind_name(kpf_kind kind)
{
    return (unsigned)kind < KPF_N_KINDS ? kind_names[kind] : "?";
}

const char *kpf_kind_symbol(kpf_kind kind)
{
    return (unsigned)kind < KPF_N_KINDS ? kind_symbols[kind] : "?";
}

static int validate_model(const void *d, const char *where, kpf_error *err)
{
    return kpf_plugin_validate(d, where, err);
}

static int validate_task(const void *d, const char *where, kpf_error *err)
{
    return kpf_task_desc_validate(d, where, err);
}

static const void *builtin_tasks(uint32_t index)
{
    return kpf_builtin_task_descriptor(index);
}

int kpf_registry_alloc(kpf_registry **out, kpf_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a plugin registry");
    (*out)->validate[KPF_KIND_MODEL] = validate_model;
    (*out)->validate[KPF_KIND_TASK] = validate_task;
    int rc = kpf_registry_add_descriptors(*out, KPF_KIND_TASK, builtin_tasks,
                                          "built-in tasks", err);
    if (rc) {
        kpf_registry_free(*out);
        *out = NULL;
    }
    return rc;
}

void kpf_registry_set_validator(kpf_registry *reg, kpf_kind kind, kpf_desc_validate_fn fn)
{
    if (reg && (unsigned)kind < KPF_N_KINDS)
        reg->validate[kind] = fn;
}

void kpf_registry_free(kpf_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++) {
        free(reg->plugins[i]->path);
        free(reg->plugins[i]);
    }
    for (int k = 0; k < KPF_N_KINDS; k++) {
        for (size_t i = 0; i < reg->ext[k].n; i++) {
            free((char *)reg->ext[k].at[i]->path);
            free(reg->ext[k].at[i]);
        }
        free(reg->ext[k].at);
    }
    free(reg->tasks);
    for (size_t i = 0; i < reg->n_handles; i++)
        dlclose(reg->handles[i]);
    for (size_t i = 0; i < reg->n_problems; i++)
        free(reg->problems[i]);
    free(reg->plugins);
    free(reg->handles);
    free(reg->problems);
    free(reg->searched);
    free(reg);
}

int kpf_plugin_validate(const kpf_model_desc *d, const char *where, kpf_error *err)
{
    int rc = kpf_desc_check_head((const kpf_desc_head *)d, "plugin", "kpf_model_desc",
                                 KPF_ABI_VERSION, KPF_MODEL_DESC_MIN_SIZE, where, err);
    if (rc)
        return rc;
    if (d->flags & ~(uint32_t)KPF_MODEL_CONTINUOUS)
        return kpf_error_set(err, KPF_EPLUGIN, "%s: plugin '%s' sets unknown flags 0x%x",
                             where, d->name, d->flags);
    const kpf_desc_op req[] = {
        {"create", (const void *)d->create}, {"destroy", (const void *)d->destroy},
        {"params", (const void *)d->params}, {"f", (const void *)d->f},
        {"jz", (const void *)d->jz},         {"jzT", (const void *)d->jzT},
        {"jth", (const void *)d->jth},       {"jthT", (const void *)d->jthT}};
    if ((rc = kpf_desc_check_required(req, sizeof req / sizeof req[0], "plugin", d->name,
                                      where, err)))
        return rc;
    /* Optional op groups come whole or not at all. */
    const kpf_op_eval ro = KPF_DESC_OP(d, readout);
    if (ro && !(KPF_DESC_OP(d, readout_jz) && KPF_DESC_OP(d, readout_jzT) &&
                KPF_DESC_OP(d, readout_jth) && KPF_DESC_OP(d, readout_jthT)))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: plugin '%s' gives readout but not all of readout_jz, "
                             "readout_jzT, readout_jth, readout_jthT; provide all five",
                             where, d->name);
    if (KPF_DESC_OP(d, init_state) &&
        !(KPF_DESC_OP(d, init_state_jth) && KPF_DESC_OP(d, init_state_jthT)))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: plugin '%s' gives init_state without init_state_jth and "
                             "init_state_jthT; provide all three",
                             where, d->name);
    const char *ds = KPF_DESC_OP(d, default_stepper);
    if (ds && !(d->flags & KPF_MODEL_CONTINUOUS))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: plugin '%s' is a discrete map but names default_stepper "
                             "'%s'; set it NULL (only continuous models are stepped)",
                             where, d->name, ds);
    if (ds && !kpf_stepper_by_name(ds))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: plugin '%s' names default_stepper '%s'; use \"euler\", "
                             "\"rk4\" or NULL (the core's default)",
                             where, d->name, ds);
    return KPF_OK;
}

static int add_problem(kpf_registry *reg, const char *msg)
{
    if (grow((void **)&reg->problems, &reg->cap_problems, reg->n_problems + 1,
             sizeof(char *)))
        return KPF_ENOMEM;
    reg->problems[reg->n_problems] = strdup(msg);
    if (!reg->problems[reg->n_problems])
        return KPF_ENOMEM;
    reg->n_problems++;
    return KPF_OK;
}

static int push_plugin(kpf_registry *reg, const kpf_model_desc *d, const char *path,
                       uint32_t index, kpf_error *err)
{
    if (grow((void **)&reg->plugins, &reg->cap, reg->n + 1, sizeof(kpf_plugin *)))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory registering %s", path);
    kpf_plugin *pl = malloc(sizeof *pl);
    char *p = strdup(path);
    if (!pl || !p) {
        free(pl);
        free(p);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory registering %s", path);
    }
    *pl = (kpf_plugin){.desc = d, .path = p, .index = index};
    reg->plugins[reg->n++] = pl;
    return KPF_OK;
}

static int push_ext(kpf_registry *reg, kpf_kind kind, const kpf_desc_head *d,
                    const char *path, uint32_t index, kpf_error *err)
{
    ext_list *l = &reg->ext[kind];
    if (grow((void **)&l->at, &l->cap, l->n + 1, sizeof(kpf_extension *)) ||
        (kind == KPF_KIND_TASK &&
         grow((void **)&reg->tasks, &reg->cap_tasks, l->n + 1, sizeof(kpf_task_desc *))))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory registering %s", path);
    kpf_extension *e = malloc(sizeof *e);
    char *p = strdup(path);
    if (!e || !p) {
        free(e);
        free(p);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory registering %s", path);
    }
    *e = (kpf_extension){.kind = kind, .desc = d, .path = p, .index = index};
    if (kind == KPF_KIND_TASK)
        reg->tasks[l->n] = (const kpf_task_desc *)d;
    l->at[l->n++] = e;
    return KPF_OK;
}

/* Undo registrations down to `n_models` models and `n_kind` of `kind`. */
static void pop_to(kpf_registry *reg, kpf_kind kind, size_t n_models, size_t n_kind)
{
    while (reg->n > n_models) {
        kpf_plugin *pl = reg->plugins[--reg->n];
        free(pl->path);
        free(pl);
    }
    ext_list *l = &reg->ext[kind];
    while (l->n > n_kind) {
        kpf_extension *e = l->at[--l->n];
        free((char *)e->path);
        free(e);
    }
}

/* A kind without a validator: the head alone. */
static int validate_head(const kpf_desc_head *d, kpf_kind kind, const char *where,
                         kpf_error *err)
{
    if (d->struct_size < sizeof(kpf_desc_head))
        return kpf_error_set(err, KPF_EABI,
                             "%s: %s descriptor struct_size %u is smaller than its head; "
                             "set struct_size = sizeof of the descriptor",
                             where, kpf_kind_name(kind), d->struct_size);
    if (!kpf_desc_name_valid(d->name))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: %s name '%s' is not a valid name; use [a-z0-9_]+", where,
                             kpf_kind_name(kind), d->name ? d->name : "(null)");
    return KPF_OK;
}

int kpf_registry_add_descriptors(kpf_registry *reg, kpf_kind kind, kpf_descriptor_fn fn,
                                 const char *where, kpf_error *err)
{
    if (!reg || !fn || (unsigned)kind >= KPF_N_KINDS)
        return kpf_error_set(err, KPF_EINVAL, "kpf_registry_add_descriptors: bad argument");
    size_t n_models = reg->n, n_kind = reg->ext[kind].n;
    int rc = KPF_OK;
    uint32_t i = 0;
    for (;; i++) {
        const kpf_desc_head *d = fn(i);
        if (!d)
            break;
        if (i == KPF_MAX_DESCRIPTORS) {
            rc = kpf_error_set(err, KPF_EPLUGIN,
                               "%s: %s returned more than %u descriptors; it must return "
                               "NULL after the last one",
                               where, kpf_kind_symbol(kind), KPF_MAX_DESCRIPTORS);
            break;
        }
        rc = reg->validate[kind] ? reg->validate[kind](d, where, err)
                                 : validate_head(d, kind, where, err);
        if (!rc && kind == KPF_KIND_MODEL)
            rc = push_plugin(reg, (const kpf_model_desc *)d, where, i, err);
        if (!rc)
            rc = push_ext(reg, kind, d, where, i, err);
        if (rc)
            break;
    }
    if (!rc && i == 0)
        rc = kpf_error_set(err, KPF_EPLUGIN,
                           "%s: %s(0) returned NULL, so the file holds no %s; return a "
                           "descriptor for index 0",
                           where, kpf_kind_symbol(kind), kpf_kind_name(kind));
    if (rc)
        pop_to(reg, kind, n_models, n_kind);
    return rc;
}

static int open_object(const char *path, void **handle, kpf_descriptor_fn fns[KPF_N_KINDS],
                       kpf_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: no such plugin file (%s); check the path or build the "
                             "plugin",
                             path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return kpf_error_set(err, KPF_EPLUGIN, "%s: not a regular file; give the path of "
                             "the plugin's .so", path);
    /* RTLD_LOCAL keeps plugins from seeing each other's symbols. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: cannot load as a shared object (%s); build it with "
                             "-shared -fPIC and link it against libkpf",
                             path, why ? why : "unknown reason");
    }
    int any = 0;
    for (int k = 0; k < KPF_N_KINDS; k++) {
        void *sym = dlsym(h, kind_symbols[k]);
        fns[k] = NULL;
        if (sym)
            memcpy(&fns[k], &sym, sizeof sym); /* object → function pointer, POSIX */
        any |= sym != NULL;
    }
    if (!any) {
        dlclose(h);
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: does not export '%s' (nor a task, analysis or study "
                             "descriptor); define it with KPF_EXPORT (see "
                             "docs/writing-a-plugin.md)",
                             path, KPF_MODEL_DESCRIPTOR_SYMBOL);
    }
    *handle = h;
    return KPF_OK;
}

/* Names must stay unique; a second one with a known name is reported at
 * lookup time (both files named), so scanning never hides either.  A file
 * is taken whole or not at all. */
int kpf_registry_add_file(kpf_registry *reg, const char *path, kpf_error *err)
{
    void *h = NULL;
    kpf_descriptor_fn fns[KPF_N_KINDS];
    int rc = open_object(path, &h, fns, err);
    if (rc)
        return rc;
    if (grow((void **)&reg->handles, &reg->cap_handles, reg->n_handles + 1,
             sizeof(void *))) {
        dlclose(h);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory loading %s", path);
    }
    reg->handles[reg->n_handles++] = h;
    size_t n_models = reg->n, n_kind[KPF_N_KINDS];
    for (int k = 0; k < KPF_N_KINDS; k++)
        n_kind[k] = reg->ext[k].n;
    for (int k = 0; k < KPF_N_KINDS && !rc; k++)
        if (fns[k])
            rc = kpf_registry_add_descriptors(reg, (kpf_kind)k, fns[k], path, err);
    if (rc)
        for (int k = 0; k < KPF_N_KINDS; k++)
            pop_to(reg, (kpf_kind)k, n_models, n_kind[k]);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int scan_dir(kpf_registry *reg, const char *dir, kpf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return KPF_OK;
    struct dirent **list = NULL;
    closedir(d);
    /* Sorted order makes "which file won" and problem lists reproducible. */
    int nent = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < nent; i++) {
        const char *nm = list[i]->d_name;
        if (ends_with(nm, ".so")) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, nm);
            kpf_error e;
            kpf_error_clear(&e);
            if (kpf_registry_add_file(reg, path, &e) && add_problem(reg, e.msg)) {
                for (int j = i; j < nent; j++)
                    free(list[j]);
                free(list);
                return kpf_error_set(err, KPF_ENOMEM, "out of memory scanning %s", dir);
            }
        }
        free(list[i]);
    }
    free(list);
    return KPF_OK;
}

static int note_searched(kpf_registry *reg, const char *dir)
{
    size_t old = reg->searched ? strlen(reg->searched) : 0;
    char *p = realloc(reg->searched, old + strlen(dir) + 3);
    if (!p)
        return KPF_ENOMEM;
    if (old)
        strcpy(p + old, ":");
    else
        p[0] = '\0';
    strcat(p, dir);
    reg->searched = p;
    return KPF_OK;
}

int kpf_registry_scan(kpf_registry *reg, const char *dirs, kpf_error *err)
{
    if (!dirs)
        return KPF_OK;
    char *copy = strdup(dirs);
    if (!copy)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = KPF_OK;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !rc; dir = strtok_r(NULL, ":", &save)) {
        if (note_searched(reg, dir))
            rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
        else
            rc = scan_dir(reg, dir, err);
    }
    free(copy);
    return rc;
}

size_t kpf_registry_count(const kpf_registry *reg) { return reg->n; }

const kpf_plugin *kpf_registry_at(const kpf_registry *reg, size_t i)
{
    return i < reg->n ? reg->plugins[i] : NULL;
}

size_t kpf_registry_problem_count(const kpf_registry *reg) { return reg->n_problems; }

const char *kpf_registry_problem(const kpf_registry *reg, size_t i)
{
    return i < reg->n_problems ? reg->problems[i] : NULL;
}

size_t kpf_registry_ext_count(const kpf_registry *reg, kpf_kind kind)
{
    return reg && (unsigned)kind < KPF_N_KINDS ? reg->ext[kind].n : 0;
}

const kpf_extension *kpf_registry_ext_at(const kpf_registry *reg, kpf_kind kind, size_t i)
{
    return i < kpf_registry_ext_count(reg, kind) ? reg->ext[kind].at[i] : NULL;
}

int kpf_registry_ext_find(const kpf_registry *reg, kpf_kind kind, const char *name,
                          const kpf_extension **out, kpf_error *err)
{
    const kpf_extension *hit = NULL;
    size_t n = kpf_registry_ext_count(reg, kind);
    for (size_t i = 0; i < n; i++) {
        const kpf_extension *e = reg->ext[kind].at[i];
        if (strcmp(e->desc->name, name) != 0)
            continue;
        if (hit)
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "two %s extensions are named '%s': %s and %s; remove one or point "
                                 "KPF_PLUGIN_PATH at only one of them",
                                 kpf_kind_name(kind), name, hit->path, e->path);
        hit = e;
    }
    if (!hit)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "no %s named '%s' among the built-ins or in %s; build it, set "
                             "KPF_PLUGIN_PATH to its folder (`kpf plugins` lists what is "
                             "found)",
                             kpf_kind_name(kind), name,
                             reg->searched ? reg->searched : "(no folders searched)");
    *out = hit;
    return KPF_OK;
}

int kpf_registry_task_create(const kpf_registry *reg, const kpf_node *node, kpf_task **out,
                             kpf_error *err)
{
    return kpf_task_create_from(reg->tasks, reg->ext[KPF_KIND_TASK].n, node, out, err);
}

int kpf_registry_find(const kpf_registry *reg, const char *name, const kpf_plugin **out,
                      kpf_error *err)
{
    const kpf_plugin *hit = NULL;
    for (size_t i = 0; i < reg->n; i++) {
        const kpf_plugin *p = reg->plugins[i];
        if (strcmp(p->desc->name, name) != 0)
            continue;
        if (hit)
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "two plugins are named '%s': %s and %s; remove one or "
                                 "point KPF_PLUGIN_PATH at only one of them",
                                 name, hit->path, p->path);
        hit = p;
    }
    if (!hit)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "no plugin named '%s' in %s; build it, set KPF_PLUGIN_PATH to "
                             "its folder, or give the path of its .so (`kpf plugins` "
                             "lists what is found)",
                             name, reg->searched ? reg->searched : "(no folders searched)");
    *out = hit;
    return KPF_OK;
}

int kpf_registry_resolve(kpf_registry *reg, const char *name_or_path,
                         const kpf_plugin **out, kpf_error *err)
{
    if (!strchr(name_or_path, '/') && !ends_with(name_or_path, ".so"))
        return kpf_registry_find(reg, name_or_path, out, err);
    size_t before = reg->n;
    int rc = kpf_registry_add_file(reg, name_or_path, err);
    if (rc)
        return rc;
    if (reg->n == before)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: exports no model (no %s); give a model plugin's .so",
                             name_or_path, KPF_MODEL_DESCRIPTOR_SYMBOL);
    *out = reg->plugins[before];
    return KPF_OK;
}

char *kpf_plugin_search_path(const char *exe_dir, char *buf, size_t size)
{
    const char *env = getenv("KPF_PLUGIN_PATH");
    int k = snprintf(buf, size, "%s%s", env && *env ? env : "", env && *env ? ":" : "");
    if (exe_dir && k >= 0 && (size_t)k < size)
        k += snprintf(buf + k, size - (size_t)k, "%s/plugins:%s/../%s:", exe_dir, exe_dir,
                      KPF_PLUGIN_REL_PATH);
    if (k >= 0 && (size_t)k < size)
        snprintf(buf + k, size - (size_t)k, "%s", KPF_PLUGIN_INSTALL_PATH);
    return buf;
}
