/* Task types by name, task instances from YAML, and their batches.
 * The table itself is in tasks/registry.c; each type in tasks/<name>.c. */
#include "kpf/task.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tasks/registry.c */
extern const kpf_task_type *const kpf_task_registry[];

const kpf_task_type *const *kpf_task_types(void)
{
    return kpf_task_registry;
}

const kpf_task_type *kpf_task_type_find(const char *name)
{
    if (!name)
        return NULL;
    for (const kpf_task_type *const *t = kpf_task_registry; *t; t++)
        if (strcmp((*t)->name, name) == 0)
            return *t;
    return NULL;
}

/* "memory_pro, memory_anti, …" for error messages (truncated to cap). */
static void known_names(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (const kpf_task_type *const *t = kpf_task_registry; *t && len < cap; t++) {
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", (*t)->name);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static int find_type(const kpf_node *node, const kpf_task_type **out, kpf_error *err)
{
    char names[512];
    known_names(names, sizeof names);
    /* An absent `task:` section would otherwise give an unlocated message. */
    if (!node)
        return kpf_error_set(err, KPF_ECONFIG,
                             "task: missing section (known tasks: %s)", names);
    if (!kpf_node_get(node, "name"))
        return kpf_node_error(node, err, "missing required key 'name' (known tasks: %s)",
                              names);
    const char *name = NULL;
    int rc = kpf_cfg_string(node, "name", KPF_CFG_REQUIRED, NULL, &name, err);
    if (rc)
        return rc;
    *out = kpf_task_type_find(name);
    if (!*out)
        return kpf_node_error(kpf_node_get(node, "name"), err,
                              "unknown task '%s' (known tasks: %s)", name, names);
    return KPF_OK;
}

int kpf_task_create(const kpf_node *node, kpf_task **out, kpf_error *err)
{
    if (!out)
        return kpf_error_set(err, KPF_EINVAL, "kpf_task_create: out is NULL");
    *out = NULL;
    const kpf_task_type *type = NULL;
    int rc = find_type(node, &type, err);
    if (rc)
        return rc;
    kpf_task *task = calloc(1, sizeof *task);
    if (!task)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a task");
    task->type = type;
    rc = type->create(node, &task->self, err);
    if (rc) {
        free(task);
        return rc;
    }
    type->dims(task->self, &task->n_in, &task->n_out, &task->T);
    *out = task;
    return KPF_OK;
}

void kpf_task_free(kpf_task *task)
{
    if (!task)
        return;
    if (task->self)
        task->type->destroy(task->self);
    free(task);
}

/* a·b·c, or 0 when it would overflow (every factor is already ≥ 1). */
static size_t mul3(size_t a, size_t b, size_t c)
{
    if (a > SIZE_MAX / b || a * b > SIZE_MAX / c / sizeof(double))
        return 0;
    return a * b * c;
}

int kpf_task_batch_alloc(const kpf_task *task, size_t B, kpf_task_batch **out,
                         kpf_error *err)
{
    if (!task || !out)
        return kpf_error_set(err, KPF_EINVAL, "kpf_task_batch_alloc: NULL argument");
    *out = NULL;
    if (B == 0 || task->T == 0 || task->n_in == 0 || task->n_out == 0)
        return kpf_error_set(err, KPF_EINVAL,
                             "task batch needs B, T, n_in, n_out >= 1 (got %zu, %zu, "
                             "%zu, %zu)", B, task->T, task->n_in, task->n_out);
    size_t nx = mul3(B, task->T, task->n_in), ny = mul3(B, task->T, task->n_out);
    if (!nx || !ny)
        return kpf_error_set(err, KPF_EINVAL, "task batch of %zu trials is too large", B);
    kpf_task_batch *bt = calloc(1, sizeof *bt);
    if (!bt)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a task batch");
    *bt = (kpf_task_batch){.B = B, .T = task->T, .n_in = task->n_in,
                           .n_out = task->n_out};
    bt->x = calloc(nx, sizeof *bt->x);
    bt->y = calloc(ny, sizeof *bt->y);
    bt->mask = calloc(B * task->T, sizeof *bt->mask);
    bt->period = calloc(B * task->T, sizeof *bt->period);
    bt->cond = calloc(B, sizeof *bt->cond);
    bt->trial = calloc(B, sizeof *bt->trial);
    if (!bt->x || !bt->y || !bt->mask || !bt->period || !bt->cond || !bt->trial) {
        kpf_task_batch_free(bt);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a task batch of %zu "
                             "trials", B);
    }
    *out = bt;
    return KPF_OK;
}

void kpf_task_batch_free(kpf_task_batch *batch)
{
    if (!batch)
        return;
    free(batch->x);
    free(batch->y);
    free(batch->mask);
    free(batch->period);
    free(batch->cond);
    free(batch->trial);
    free(batch);
}

void kpf_task_set_noise_scale(kpf_task *task, double scale)
{
    if (task->type->set_noise_scale)
        task->type->set_noise_scale(task->self, scale);
}

int kpf_task_generate(const kpf_task *task, gsl_rng *rng, kpf_task_batch *batch,
                      kpf_error *err)
{
    if (!task || !rng || !batch)
        return kpf_error_set(err, KPF_EINVAL, "kpf_task_generate: NULL argument");
    /* A batch from another task (or a hand-made one) would be overrun. */
    if (batch->T != task->T || batch->n_in != task->n_in ||
        batch->n_out != task->n_out || batch->B == 0)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: batch shape (B=%zu, T=%zu, n_in=%zu, n_out=%zu) does "
                             "not fit the task (T=%zu, n_in=%zu, n_out=%zu)",
                             task->type->name, batch->B, batch->T, batch->n_in,
                             batch->n_out, task->T, task->n_in, task->n_out);
    return task->type->generate(task->self, rng, batch, err);
}
