/* kpf/study.h — studies: runners with their own config section and outputs.
 *
 * A study is an extension like a model or a task (kpf/plugin.h).  A shared
 * object exports
 *
 *     const kpf_study_desc *kpf_study_descriptor(uint32_t index);
 *
 * returning descriptors for index 0, 1, … and NULL after the last; the
 * built-in studies (studies/) enter a registry through the same
 * kpf_registry_add_descriptors.  A config is a study's when its top level
 * holds the study's name as a key (`lrnn:`, `ltr_fit:`, …); that map and the
 * rest of the config are the study's to read.
 *
 * The descriptor begins with the head every kind shares (kpf_desc_head:
 * abi_version, struct_size, name, summary).  The host reads no field beyond
 * struct_size, so fields are only appended; optional ops are NULL when
 * absent.
 *
 * Order of calls (`kpf run`): check, then the output folder is created (new
 * or empty) with copies of the config, then run into it.  A config mistake
 * is therefore always found by check, before anything exists; run failing
 * is a runtime failure.  Ops get the registry so that a study finds the
 * model plugins (kpf_registry_find) or tasks it needs by name itself: the
 * host never names a plugin for a study.  Ops return an int status and fill
 * err; they never print or exit. */
#ifndef KPF_STUDY_H
#define KPF_STUDY_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/plugin.h"

KPF_BEGIN_DECLS

#define KPF_STUDY_ABI_VERSION 1u
/* The symbol a shared object exports to provide studies. */
#define KPF_STUDY_DESCRIPTOR_SYMBOL "kpf_study_descriptor"

typedef struct kpf_study_desc {
    uint32_t abi_version; /* KPF_STUDY_ABI_VERSION                               */
    uint32_t struct_size; /* sizeof(kpf_study_desc) as the file compiled it       */
    const char *name;     /* unique, [a-z0-9_]+: the top-level key selecting it   */
    const char *summary;  /* one line                                            */
    /* ---- required ------------------------------------------------------ */
    /* Validate the WHOLE config: every key of every section the study reads,
     * unknown keys included (kpf_config_check_unused), and anything that can
     * be known before running (files named, sizes that must agree).  Errors
     * are KPF_ECONFIG located at the key (kpf_node_error:
     * `file:line:col: key.path: problem`).  Writes no file and changes no
     * value in cfg (reading marks keys used, nothing more). */
    int (*check)(kpf_config *cfg, const kpf_registry *reg, kpf_error *err);
    /* Run into out_dir, which exists and holds only the host's copies of
     * the config (config.yaml, overrides.txt); never overwrite a file.  cfg
     * has passed check.  The study may change values in cfg while it runs
     * (a sweep setting task.T, …). */
    int (*run)(kpf_config *cfg, const kpf_registry *reg, const char *out_dir,
               kpf_error *err);
    /* ---- optional (NULL = absent) ---------------------------------------- */
    /* Continue an interrupted run in out_dir, whose copies of the config cfg
     * was rebuilt from (cfg has passed check).  NULL: runs of this study
     * cannot be resumed and `kpf run --resume` says so. */
    int (*resume)(kpf_config *cfg, const kpf_registry *reg, const char *out_dir,
                  kpf_error *err);
} kpf_study_desc;

/* The head every descriptor of this build starts with, for designated
 * initialisers: {KPF_STUDY_DESC_HEAD, .name = "…", …}. */
#define KPF_STUDY_DESC_HEAD \
    .abi_version = KPF_STUDY_ABI_VERSION, .struct_size = sizeof(kpf_study_desc)

/* Smallest struct_size a host accepts: everything up to the required ops. */
#define KPF_STUDY_DESC_MIN_SIZE \
    (offsetof(kpf_study_desc, run) + sizeof(((kpf_study_desc *)0)->run))
/* Whether d (of d->struct_size bytes) contains `field`; the field or NULL. */
#define KPF_STUDY_HAS(d, field) \
    ((d)->struct_size >= offsetof(kpf_study_desc, field) + sizeof((d)->field))
#define KPF_STUDY_OP(d, field) (KPF_STUDY_HAS(d, field) ? (d)->field : NULL)

typedef const kpf_study_desc *(*kpf_study_descriptor_fn)(uint32_t index);

/* Validate a descriptor as the loader does: ABI version, struct size, name
 * (valid, and not one of the keys any config may hold: seed, task, model,
 * train, …), required ops.  One line naming `where` (its file) and the fix. */
int kpf_study_desc_validate(const kpf_study_desc *d, const char *where, kpf_error *err);

/* Make reg validate studies with kpf_study_desc_validate.  Call it before
 * any study enters reg (built-ins or a scan). */
void kpf_study_register_validator(kpf_registry *reg);

/* The study cfg selects: the registered study whose name is a top-level
 * key of cfg; *out = NULL when there is none.  Two study keys in one
 * config: KPF_ECONFIG located at the second.  Two studies registered under
 * the selected name: KPF_EPLUGIN naming both files.  *ext (may be NULL)
 * gets the registry entry (its file, for messages). */
int kpf_study_select(const kpf_registry *reg, const kpf_config *cfg,
                     const kpf_study_desc **out, const kpf_extension **ext, kpf_error *err);

KPF_END_DECLS
#endif
