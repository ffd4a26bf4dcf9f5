/* kpf/plugin.h — finding and loading extensions (dlopen).
 *
 * Four kinds of extension exist: models, tasks, analyses and studies.  A
 * shared object exports one enumerator per kind it provides,
 * kpf_<kind>_descriptor(0, 1, …) returning NULL after the last, and each
 * descriptor begins with kpf_desc_head.  A registry holds what it found in a
 * list of folders (every *.so in them) and any file added by path, plus the
 * built-ins, which are added through the same call as a file's enumerators
 * (kpf_registry_add_descriptors): the core's tasks when the registry is made,
 * analyses and studies by the layers that define those kinds.  Files that fail to load do not stop a scan: each becomes a
 * "problem" line naming the file and the fix, which `kpf plugins` shows.
 * Loading one plugin by path or looking one up by name fails with that same
 * one-line message.  Nothing here prints. */
#ifndef KPF_PLUGIN_H
#define KPF_PLUGIN_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/descriptor.h"
#include "kpf/error.h"
#include "kpf/model.h"
#include "kpf/task.h"

KPF_BEGIN_DECLS

typedef struct kpf_plugin {
    const kpf_model_desc *desc;
    char *path;       /* the shared object it came from */
    uint32_t index;   /* its index in that object's descriptor list */
} kpf_plugin;

typedef struct kpf_registry kpf_registry;

typedef enum kpf_kind {
    KPF_KIND_MODEL = 0,    /* kpf_model_descriptor    (kpf/model.h)    */
    KPF_KIND_TASK = 1,     /* kpf_task_descriptor     (kpf/task.h)     */
    KPF_KIND_ANALYSIS = 2, /* kpf_analysis_descriptor (kpf/analysis.h) */
    KPF_KIND_STUDY = 3     /* kpf_study_descriptor    (kpf/study.h)    */
} kpf_kind;
#define KPF_N_KINDS 4

/* Most descriptors one enumerator may return: an enumerator that never
 * returns NULL is reported instead of exhausting memory. */
#define KPF_MAX_DESCRIPTORS 1024u

/* Every kind's descriptor begins with kpf_desc_head (kpf/descriptor.h). */

typedef const void *(*kpf_descriptor_fn)(uint32_t index);
/* Checks one descriptor of a kind (ABI version, struct size, required ops);
 * `where` names its file in the message. */
typedef int (*kpf_desc_validate_fn)(const void *desc, const char *where, kpf_error *err);

/* One registered descriptor of any kind. */
typedef struct kpf_extension {
    kpf_kind kind;
    const kpf_desc_head *desc;
    const char *path;   /* its shared object, or "built-in …"    */
    uint32_t index;     /* its index in that enumerator          */
} kpf_extension;

/* "model", "task", "analysis", "study"; and each kind's exported symbol. */
const char *kpf_kind_name(kpf_kind kind);
const char *kpf_kind_symbol(kpf_kind kind);

int kpf_registry_alloc(kpf_registry **out, kpf_error *err);
/* Unloads every shared object; plugin pointers become invalid. */
void kpf_registry_free(kpf_registry *reg);

/* How descriptors of `kind` are validated from now on.  The registry
 * validates models and tasks itself; the analysis and study layers install
 * theirs (kpf_analysis_register_builtins, kpf_study_register_validator)
 * before folders are scanned.  A kind without one gets the head checked. */
void kpf_registry_set_validator(kpf_registry *reg, kpf_kind kind, kpf_desc_validate_fn fn);

/* Register fn(0), fn(1), … of `kind`, as from `where`: the one path by which
 * both a file's enumerators and the built-in ones enter a registry.  A
 * descriptor that fails validation removes what this call added. */
int kpf_registry_add_descriptors(kpf_registry *reg, kpf_kind kind, kpf_descriptor_fn fn,
                                 const char *where, kpf_error *err);

/* Extensions of one kind, in registration order (models too). */
size_t kpf_registry_ext_count(const kpf_registry *reg, kpf_kind kind);
const kpf_extension *kpf_registry_ext_at(const kpf_registry *reg, kpf_kind kind, size_t i);
/* The extension of `kind` called `name` (errors as kpf_registry_find). */
int kpf_registry_ext_find(const kpf_registry *reg, kpf_kind kind, const char *name,
                          const kpf_extension **out, kpf_error *err);

/* The task the YAML `task:` map names, among every task the registry holds
 * (the built-ins and those of files), created (kpf_task_create_from). */
int kpf_registry_task_create(const kpf_registry *reg, const kpf_node *node, kpf_task **out,
                             kpf_error *err);

/* Scan a ':'-separated list of folders; folders that do not exist are
 * skipped silently (search paths routinely name absent places). */
int kpf_registry_scan(kpf_registry *reg, const char *dirs, kpf_error *err);
/* Load every descriptor of every kind one shared object exports; it must
 * export at least one kpf_<kind>_descriptor. */
int kpf_registry_add_file(kpf_registry *reg, const char *path, kpf_error *err);

size_t kpf_registry_count(const kpf_registry *reg);
const kpf_plugin *kpf_registry_at(const kpf_registry *reg, size_t i);
size_t kpf_registry_problem_count(const kpf_registry *reg);
const char *kpf_registry_problem(const kpf_registry *reg, size_t i);

/* The plugin called `name`.  Errors: none found (lists the folders searched
 * and KPF_PLUGIN_PATH), or two plugins with that name (names both files). */
int kpf_registry_find(const kpf_registry *reg, const char *name,
                      const kpf_plugin **out, kpf_error *err);

/* NAME or PATH: a string containing '/' or ending in ".so" is a path (loaded
 * and its first model descriptor used), anything else a name looked up in reg. */
int kpf_registry_resolve(kpf_registry *reg, const char *name_or_path,
                         const kpf_plugin **out, kpf_error *err);

/* Validate a descriptor as the loader does (ABI version, struct size,
 * required ops, name); `where` names its file in the message. */
int kpf_plugin_validate(const kpf_model_desc *d, const char *where, kpf_error *err);

/* The search path the `kpf` command uses: $KPF_PLUGIN_PATH, then
 * `exe_dir`/plugins (build tree), then `exe_dir`/../<libdir>/kpf/plugins and
 * the compiled-in install folder.  Writes into buf; returns buf. */
char *kpf_plugin_search_path(const char *exe_dir, char *buf, size_t size);

KPF_END_DECLS
#endif
