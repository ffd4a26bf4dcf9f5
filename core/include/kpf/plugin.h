/* kpf/plugin.h — finding and loading model plugins (dlopen).
 *
 * A registry holds the plugins found in a list of folders (every *.so in
 * them, each enumerated through kpf_model_descriptor(0, 1, …)) and any added
 * by path.  Files that fail to load do not stop a scan: each becomes a
 * "problem" line naming the file and the fix, which `kpf plugins` shows.
 * Loading one plugin by path or looking one up by name fails with that same
 * one-line message.  Nothing here prints. */
#ifndef KPF_PLUGIN_H
#define KPF_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"
#include "kpf/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kpf_plugin {
    const kpf_model_desc *desc;
    char *path;       /* the shared object it came from */
    uint32_t index;   /* its index in that object's descriptor list */
} kpf_plugin;

typedef struct kpf_registry kpf_registry;

int kpf_registry_alloc(kpf_registry **out, kpf_error *err);
/* Unloads every shared object; plugin pointers become invalid. */
void kpf_registry_free(kpf_registry *reg);

/* Scan a ':'-separated list of folders; folders that do not exist are
 * skipped silently (search paths routinely name absent places). */
int kpf_registry_scan(kpf_registry *reg, const char *dirs, kpf_error *err);
/* Load every descriptor of one shared object. */
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
 * and its first descriptor used), anything else a name looked up in reg. */
int kpf_registry_resolve(kpf_registry *reg, const char *name_or_path,
                         const kpf_plugin **out, kpf_error *err);

/* Validate a descriptor as the loader does (ABI version, struct size,
 * required ops, name); `where` names its file in the message. */
int kpf_plugin_validate(const kpf_model_desc *d, const char *where, kpf_error *err);

/* The search path the `kpf` command uses: $KPF_PLUGIN_PATH, then
 * `exe_dir`/plugins (build tree), then `exe_dir`/../<libdir>/kpf/plugins and
 * the compiled-in install folder.  Writes into buf; returns buf. */
char *kpf_plugin_search_path(const char *exe_dir, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
