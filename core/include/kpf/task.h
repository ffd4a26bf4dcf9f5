/* kpf/task.h — task generators: inputs, targets and loss masks for B trials.
 *
 * A task type is a const table (name, create/destroy, dims, generate) looked
 * up by name from YAML `task: {name: …}`.  Generation is deterministic given
 * the RNG state.  Arrays are step-major like trajectories: element (b, t, i)
 * at ((t·B) + b)·dim + i. */
#ifndef KPF_TASK_H
#define KPF_TASK_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kpf_task_batch {
    size_t B, T, n_in, n_out;
    double *x;      /* [T][B][n_in]   inputs                         */
    double *y;      /* [T][B][n_out]  targets                        */
    double *mask;   /* [T][B]         per-step loss weight (0 or 1)  */
    int *period;    /* [T][B]         period label, index into period_names */
    int *cond;      /* [B]            condition / sub-task id        */
    size_t *trial;  /* [B]            trial index                    */
} kpf_task_batch;

typedef struct kpf_task_type {
    const char *name;
    const char *summary;
    const char *const *period_names; /* NULL-terminated */
    int (*create)(const kpf_node *node, void **self, kpf_error *err);
    void (*destroy)(void *self);
    void (*dims)(const void *self, size_t *n_in, size_t *n_out, size_t *T);
    /* Fill every array of batch (B, T, n_in, n_out already set). */
    int (*generate)(const void *self, gsl_rng *rng, kpf_task_batch *batch,
                    kpf_error *err);
    /* Optional: multiply every noise standard deviation by `scale` (0 turns
     * noise off for evaluation sets; 1 restores the configured noise).  The
     * draws must happen regardless, so conditions do not depend on it.
     * NULL: the task has no noise. */
    void (*set_noise_scale)(void *self, double scale);
} kpf_task_type;

typedef struct kpf_task {
    const kpf_task_type *type;
    void *self;
    size_t n_in, n_out, T;
} kpf_task;

/* The built-in task types, NULL-terminated. */
const kpf_task_type *const *kpf_task_types(void);
const kpf_task_type *kpf_task_type_find(const char *name);

/* From the YAML `task:` map (`name` selects the type). */
int kpf_task_create(const kpf_node *node, kpf_task **out, kpf_error *err);
void kpf_task_free(kpf_task *task);

int kpf_task_batch_alloc(const kpf_task *task, size_t B, kpf_task_batch **out,
                         kpf_error *err);
void kpf_task_batch_free(kpf_task_batch *batch);
/* See kpf_task_type.set_noise_scale; a no-op for noise-free tasks. */
void kpf_task_set_noise_scale(kpf_task *task, double scale);
int kpf_task_generate(const kpf_task *task, gsl_rng *rng, kpf_task_batch *batch,
                      kpf_error *err);

#ifdef __cplusplus
}
#endif
#endif
