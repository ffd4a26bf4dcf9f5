/* The lrnn study's tasks, enumerated like a shared object's
 * kpf_task_descriptor; the kpf command registers them with the built-in
 * studies (studies/studies.c), so any experiment can name them. */
#include "tasks/lrnn_tasks.h"

extern const kpf_task_type kpf_task_lrnn_svd;
extern const kpf_task_type kpf_task_lrnn_rotation;
extern const kpf_task_type kpf_task_lrnn_integration;

const kpf_task_desc *const kpf_lrnn_task_types[KPF_LRNN_N_TASKS + 1] = {
    &kpf_task_lrnn_svd,
    &kpf_task_lrnn_rotation,
    &kpf_task_lrnn_integration,
    NULL,
};

const kpf_task_desc *kpf_lrnn_task_descriptor(uint32_t index)
{
    return index < KPF_LRNN_N_TASKS ? kpf_lrnn_task_types[index] : NULL;
}

int kpf_lrnn_task_create(const kpf_node *node, kpf_task **out, kpf_error *err)
{
    return kpf_task_create_from(kpf_lrnn_task_types, KPF_LRNN_N_TASKS, node, out, err);
}
