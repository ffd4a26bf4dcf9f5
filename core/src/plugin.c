/* Plugin loader: dlopen, descriptor enumeration and validation, registry.
 *
 * Every way a plugin can be wrong ends as one line naming the file and what
 * to do about it; nothing here crashes on a bad file. */
#define _GNU_SOURCE
#include "kpf/plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kpf_registry {
    kpf_plugin **plugins; /* individually allocated: pointers stay valid */
    size_t n, cap;
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

int kpf_registry_alloc(kpf_registry **out, kpf_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a plugin registry");
    return KPF_OK;
}

void kpf_registry_free(kpf_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++) {
        free(reg->plugins[i]->path);
        free(reg->plugins[i]);
    }
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

static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

int kpf_plugin_validate(const kpf_model_desc *d, const char *where, kpf_error *err)
{
    if (d->abi_version != KPF_ABI_VERSION)
        return kpf_error_set(err, KPF_EABI,
                             "%s: plugin ABI version %u, this kpf speaks %u; rebuild the "
                             "plugin against this kpf's headers",
                             where, d->abi_version, KPF_ABI_VERSION);
    if (d->struct_size < KPF_MODEL_DESC_MIN_SIZE)
        return kpf_error_set(err, KPF_EABI,
                             "%s: descriptor struct_size %u is smaller than the %zu bytes "
                             "of the required ops; set struct_size = sizeof(kpf_model_desc)",
                             where, d->struct_size, (size_t)KPF_MODEL_DESC_MIN_SIZE);
    if (!valid_name(d->name))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: plugin name '%s' is not a valid name; use [a-z0-9_]+",
                             where, d->name ? d->name : "(null)");
    if (d->flags & ~(uint32_t)KPF_MODEL_CONTINUOUS)
        return kpf_error_set(err, KPF_EPLUGIN, "%s: plugin '%s' sets unknown flags 0x%x",
                             where, d->name, d->flags);
    const struct {
        const char *name;
        const void *fn;
    } req[] = {{"create", (const void *)d->create}, {"destroy", (const void *)d->destroy},
               {"params", (const void *)d->params}, {"f", (const void *)d->f},
               {"jz", (const void *)d->jz},         {"jzT", (const void *)d->jzT},
               {"jth", (const void *)d->jth},       {"jthT", (const void *)d->jthT}};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (!req[i].fn)
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "%s: plugin '%s' leaves the required op '%s' NULL; "
                                 "implement it",
                                 where, d->name, req[i].name);
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

static int open_object(const char *path, void **handle, kpf_model_descriptor_fn *fn,
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
    void *sym = dlsym(h, KPF_MODEL_DESCRIPTOR_SYMBOL);
    if (!sym) {
        dlclose(h);
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: does not export '%s'; define it with KPF_EXPORT (see "
                             "docs/writing-a-plugin.md)",
                             path, KPF_MODEL_DESCRIPTOR_SYMBOL);
    }
    *handle = h;
    memcpy(fn, &sym, sizeof *fn); /* object → function pointer, POSIX-sanctioned */
    return KPF_OK;
}

/* Names must stay unique; a second one with a known name is reported at
 * lookup time (both files named), so scanning never hides either. */
int kpf_registry_add_file(kpf_registry *reg, const char *path, kpf_error *err)
{
    void *h = NULL;
    kpf_model_descriptor_fn fn = NULL;
    int rc = open_object(path, &h, &fn, err);
    if (rc)
        return rc;
    if (grow((void **)&reg->handles, &reg->cap_handles, reg->n_handles + 1,
             sizeof(void *))) {
        dlclose(h);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory loading %s", path);
    }
    reg->handles[reg->n_handles++] = h;
    size_t first = reg->n;
    for (uint32_t i = 0;; i++) {
        const kpf_model_desc *d = fn(i);
        if (!d)
            break;
        if ((rc = kpf_plugin_validate(d, path, err)))
            goto fail;
        if ((rc = push_plugin(reg, d, path, i, err)))
            goto fail;
    }
    if (reg->n == first)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: %s(0) returned NULL, so the file holds no plugin; return "
                             "a descriptor for index 0",
                             path, KPF_MODEL_DESCRIPTOR_SYMBOL);
    return KPF_OK;
fail:
    while (reg->n > first) {
        kpf_plugin *pl = reg->plugins[--reg->n];
        free(pl->path);
        free(pl);
    }
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
