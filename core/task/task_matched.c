/* Mixtures of sub-tasks (kpf/task.h): the sub-task names and matched-stimulus
 * trials, read through the optional ops at the end of kpf_task_desc. */
#include "kpf/task.h"

size_t kpf_task_subtasks(const kpf_task *task, const char *const **names)
{
    const char *const *nm = NULL;
    size_t (*op)(const void *, const char *const **) =
        task ? KPF_TASK_OP(task->type, subtasks) : NULL;
    size_t S = op ? op(task->self, &nm) : 0;
    if (names)
        *names = S ? nm : NULL;
    return S;
}

int kpf_task_generate_matched(const kpf_task *task, gsl_rng *rng, kpf_task_batch *batch,
                              kpf_error *err)
{
    if (!task || !rng || !batch)
        return kpf_error_set(err, KPF_EINVAL, "kpf_task_generate_matched: NULL argument");
    int (*op)(const void *, gsl_rng *, kpf_task_batch *, kpf_error *) =
        KPF_TASK_OP(task->type, generate_matched);
    size_t S = kpf_task_subtasks(task, NULL);
    if (!op || S == 0)
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "task '%s' cannot make matched-stimulus trials (it declares no "
                             "sub-tasks or no generate_matched op)",
                             task->type->name);
    if (batch->T != task->T || batch->n_in != task->n_in || batch->n_out != task->n_out ||
        batch->B == 0 || batch->B % S)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: matched batch (B=%zu, T=%zu, n_in=%zu, n_out=%zu) needs "
                             "T=%zu, n_in=%zu, n_out=%zu and B a positive multiple of the "
                             "%zu sub-tasks",
                             task->type->name, batch->B, batch->T, batch->n_in, batch->n_out,
                             task->T, task->n_in, task->n_out, S);
    return op(task->self, rng, batch, err);
}
