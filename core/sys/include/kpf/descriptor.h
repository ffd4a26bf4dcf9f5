/* kpf/descriptor.h — what every extension descriptor (model, task, analysis,
 * study) has in common: its head, and the checks a host makes on it before
 * reading anything else.  Each kind's validator (kpf_plugin_validate,
 * kpf_task_desc_validate, kpf_analysis_desc_validate, kpf_study_desc_validate)
 * starts with these, so every kind refuses a bad file with the same one line. */
#ifndef KPF_DESCRIPTOR_H
#define KPF_DESCRIPTOR_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

/* The fields every kind's descriptor begins with, in this order. */
typedef struct kpf_desc_head {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *name;
    const char *summary;
} kpf_desc_head;

/* Whether `name` is a valid extension name: [a-z0-9_]+. */
int kpf_desc_name_valid(const char *name);

/* The head of `d`: abi_version == abi, struct_size ≥ min_size (the bytes up
 * to its last required op), a valid name.  `kind` words the message
 * ("plugin", "task", …), `type` is the descriptor's C type for the remedy
 * ("kpf_task_desc"), `where` names its file. */
int kpf_desc_check_head(const kpf_desc_head *d, const char *kind, const char *type,
                        uint32_t abi, size_t min_size, const char *where, kpf_error *err);

/* One required op: its name and whether it is set. */
typedef struct kpf_desc_op {
    const char *name;
    const void *fn;
} kpf_desc_op;

/* Every op in ops[0..n) is non-NULL, else one line naming the first missing. */
int kpf_desc_check_required(const kpf_desc_op *ops, size_t n, const char *kind,
                            const char *name, const char *where, kpf_error *err);

KPF_END_DECLS
#endif
