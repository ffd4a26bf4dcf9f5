/* Task descriptors: validation, lookup by name, task instances from YAML, and
 * their batches.  The built-in table is builtin_tasks.c; each type <name>.c. */
#include "kpf/task.h"
#include "kpf/descriptor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kpf_task_desc_validate(const kpf_task_desc *d, const char *where, kpf_error *err)
{
    int rc = kpf_desc_check_head((const kpf_desc_head *)d, "task", "kpf_task_desc",
                                 KPF_TASK_ABI_VERSION, KPF_TASK_DESC_MIN_SIZE, where, err);
    if (rc)
        return rc;
    const kpf_desc_op req[] = {{"create", (const void *)d->create},
               {"destroy", (const void *)d->destroy},
               {"dims", (const void *)d->dims},
               {"generate", (const void *)d->generate}};
    if ((rc = kpf_desc_check_required(req, sizeof req / sizeof req[0], "task", d->name,
                                      where, err)))
        return rc;
    /* Matched trials are laid out by sub-task: without the sub-tasks nobody
     * can read them. */
    if (KPF_TASK_OP(d, generate_matched) && !KPF_TASK_OP(d, subtasks))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: task '%s' has generate_matched but no subtasks op; "
                             "implement subtasks (the layout of matched trials is by "
                             "sub-task)",
                             where, d->name);
    return KPF_OK;
}

const kpf_task_type *kpf_task_type_find(const char *name)
{
    if (!name)
        return NULL;
    for (const kpf_task_type *const *t = kpf_task_types(); *t; t++)
        if (strcmp((*t)->name, name) == 0)
            return *t;
    return NULL;
}

/* "memory_pro, memory_anti, …" for error messages (truncated to cap). */
static void known_names(const kpf_task_desc *const *types, size_t n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int k = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", types[i]->name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

static int find_type(const kpf_task_desc *const *types, size_t n, const kpf_node *node,
                     const kpf_task_desc **out, kpf_error *err)
{
    char names[1024];
    known_names(types, n, names, sizeof names);
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
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(types[i]->name, name) != 0)
            continue;
        if (*out)
            return kpf_node_error(kpf_node_get(node, "name"), err,
                                  "two tasks are named '%s'; remove one of the files that "
                                  "define it from KPF_PLUGIN_PATH",
                                  name);
        *out = types[i];
    }
    if (!*out)
        return kpf_node_error(kpf_node_get(node, "name"), err,
                              "unknown task '%s' (known tasks: %s)", name, names);
    return KPF_OK;
}

int kpf_task_create(const kpf_node *node, kpf_task **out, kpf_error *err)
{
    const kpf_task_type *const *types = kpf_task_types();
    size_t n = 0;
    while (types[n])
        n++;
    return kpf_task_create_from(types, n, node, out, err);
}

int kpf_task_create_from(const kpf_task_desc *const *types, size_t n, const kpf_node *node,
                         kpf_task **out, kpf_error *err)
{
    if (!out)
        return kpf_error_set(err, KPF_EINVAL, "kpf_task_create: out is NULL");
    *out = NULL;
    const kpf_task_type *type = NULL;
    int rc = find_type(types, n, node, &type, err);
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
    void (*set)(void *, double) = KPF_TASK_OP(task->type, set_noise_scale);
    if (set)
        set(task->self, scale);
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
