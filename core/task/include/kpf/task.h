/* kpf/task.h — task generators: inputs, targets and loss masks for B trials.
 *
 * A task type is a descriptor (kpf_task_desc) looked up by name from YAML
 * `task: {name: …}`.  Like a model, a task is an extension: a shared object
 * exports
 *
 *     const kpf_task_desc *kpf_task_descriptor(uint32_t index);
 *
 * returning descriptors for index 0, 1, … and NULL after the last (a file may
 * export models, tasks, analyses and studies together).  The descriptor
 * begins with `abi_version` and `struct_size`; the host reads no field beyond
 * `struct_size`, so fields are only appended; optional ops are NULL when
 * absent.  The built-in tasks are enumerated by kpf_builtin_task_descriptor
 * and registered through the same path as a file's (kpf/plugin.h).  Generation is deterministic given
 * the RNG state.  Arrays are step-major like trajectories: element (b, t, i)
 * at ((t·B) + b)·dim + i. */
#ifndef KPF_TASK_H
#define KPF_TASK_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/error.h"

KPF_BEGIN_DECLS

typedef struct kpf_task_batch {
    size_t B, T, n_in, n_out;
    double *x;      /* [T][B][n_in]   inputs                         */
    double *y;      /* [T][B][n_out]  targets                        */
    double *mask;   /* [T][B]         per-step loss weight (0 or 1)  */
    int *period;    /* [T][B]         period label, index into period_names */
    int *cond;      /* [B]            condition / sub-task id        */
    size_t *trial;  /* [B]            trial index                    */
} kpf_task_batch;

#define KPF_TASK_ABI_VERSION 1u
/* The symbol a shared object exports to provide tasks. */
#define KPF_TASK_DESCRIPTOR_SYMBOL "kpf_task_descriptor"
/* What that symbol is defined with in a file built with hidden visibility
 * (the same definition as kpf/model.h's, so a task-only file needs no
 * model header). */
#ifndef KPF_EXPORT
#if defined(__GNUC__)
#define KPF_EXPORT __attribute__((visibility("default")))
#else
#define KPF_EXPORT
#endif
#endif

typedef struct kpf_task_desc {
    uint32_t abi_version; /* KPF_TASK_ABI_VERSION                              */
    uint32_t struct_size; /* sizeof(kpf_task_desc) as the file compiled it      */
    const char *name;     /* unique, [a-z0-9_]+                                 */
    const char *summary;  /* one line                                           */
    /* ---- required ------------------------------------------------------ */
    const char *const *period_names; /* NULL-terminated */
    int (*create)(const kpf_node *node, void **self, kpf_error *err);
    void (*destroy)(void *self);
    void (*dims)(const void *self, size_t *n_in, size_t *n_out, size_t *T);
    /* Fill every array of batch (B, T, n_in, n_out already set). */
    int (*generate)(const void *self, gsl_rng *rng, kpf_task_batch *batch,
                    kpf_error *err);
    /* ---- optional (NULL = absent) ---------------------------------------- */
    /* Optional: multiply every noise standard deviation by `scale` (0 turns
     * noise off for evaluation sets; 1 restores the configured noise).  The
     * draws must happen regardless, so conditions do not depend on it.
     * NULL: the task has no noise. */
    void (*set_noise_scale)(void *self, double scale);
    /* ---- appended (read through KPF_TASK_OP; NULL = absent) -------------- */
    /* Optional: the task is a mixture of S sub-tasks (KPFlow §3.2): return S
     * and point *names at S short names ("MP", "MA" …; owned by the task,
     * valid until destroy).  cond[b] of every generated batch is then trial
     * b's sub-task, 0 … S−1.  Return 0 when this instance is not a mixture.
     * NULL: not a mixture (cond means something else, or nothing). */
    size_t (*subtasks)(const void *self, const char *const **names);
    /* Optional, with subtasks: matched-stimulus trials (KPFlow Fig. 4B: "the
     * stimuli used to compare similarities between tasks were identically
     * set").  batch->B = S·R: fill trial b = g·R + r as sub-task g (cond[b] =
     * g) driven by the r-th stimulus draw — the same draw (angle, noise …)
     * for every g — so that trials r of two sub-tasks differ only in what
     * makes the sub-tasks differ.  Deterministic given rng, like generate;
     * set_noise_scale applies. */
    int (*generate_matched)(const void *self, gsl_rng *rng, kpf_task_batch *batch,
                            kpf_error *err);
} kpf_task_desc;

/* The name the built-in tasks are written with. */
typedef kpf_task_desc kpf_task_type;

/* The head every descriptor of this build starts with, for designated
 * initialisers: {KPF_TASK_DESC_HEAD, .name = "…", …}. */
#define KPF_TASK_DESC_HEAD .abi_version = KPF_TASK_ABI_VERSION, .struct_size = sizeof(kpf_task_desc)

/* Smallest struct_size a host accepts: everything up to the required ops. */
#define KPF_TASK_DESC_MIN_SIZE \
    (offsetof(kpf_task_desc, generate) + sizeof(((kpf_task_desc *)0)->generate))
/* Whether d (of d->struct_size bytes) contains `field`; the field or NULL. */
#define KPF_TASK_HAS(d, field) \
    ((d)->struct_size >= offsetof(kpf_task_desc, field) + sizeof((d)->field))
#define KPF_TASK_OP(d, field) (KPF_TASK_HAS(d, field) ? (d)->field : NULL)

typedef const kpf_task_desc *(*kpf_task_descriptor_fn)(uint32_t index);

typedef struct kpf_task {
    const kpf_task_type *type;
    void *self;
    size_t n_in, n_out, T;
} kpf_task;

/* The built-in task types, enumerated like a shared object's
 * kpf_task_descriptor: index 0, 1, … then NULL. */
const kpf_task_desc *kpf_builtin_task_descriptor(uint32_t index);
/* The built-in task types as a NULL-terminated list, and one by name. */
const kpf_task_type *const *kpf_task_types(void);
const kpf_task_type *kpf_task_type_find(const char *name);

/* Validate a descriptor as the loader does (ABI version, struct size,
 * required ops, name); `where` names its file in the message. */
int kpf_task_desc_validate(const kpf_task_desc *d, const char *where, kpf_error *err);

/* From the YAML `task:` map: `name` selects one of the n types in `types`
 * (a located error lists them when none matches).  kpf_task_create looks
 * among the built-in tasks only; kpf_registry_task_create (kpf/plugin.h)
 * among everything a registry holds, built-ins and files alike. */
int kpf_task_create_from(const kpf_task_desc *const *types, size_t n, const kpf_node *node,
                         kpf_task **out, kpf_error *err);
int kpf_task_create(const kpf_node *node, kpf_task **out, kpf_error *err);
void kpf_task_free(kpf_task *task);

int kpf_task_batch_alloc(const kpf_task *task, size_t B, kpf_task_batch **out,
                         kpf_error *err);
void kpf_task_batch_free(kpf_task_batch *batch);
/* See kpf_task_type.set_noise_scale; a no-op for noise-free tasks. */
void kpf_task_set_noise_scale(kpf_task *task, double scale);
int kpf_task_generate(const kpf_task *task, gsl_rng *rng, kpf_task_batch *batch,
                      kpf_error *err);

/* ---- mixtures of sub-tasks (task_matched.c) --------------------------------- */

/* S, the sub-tasks of a mixture, and their names (see kpf_task_desc.subtasks);
 * 0 (and *names NULL) for a task that is not one.  names may be NULL. */
size_t kpf_task_subtasks(const kpf_task *task, const char *const **names);
/* Matched-stimulus trials (kpf_task_desc.generate_matched): batch->B must be
 * a multiple of S.  KPF_EUNSUPPORTED when the task cannot make them. */
int kpf_task_generate_matched(const kpf_task *task, gsl_rng *rng, kpf_task_batch *batch,
                              kpf_error *err);

KPF_END_DECLS
#endif
