/* The built-in studies' registration (studies.h). */
#include "studies.h"

#include "tasks/lrnn_tasks.h"

static const void *lrnn_tasks(uint32_t index)
{
    return kpf_lrnn_task_descriptor(index);
}

int kpf_studies_register(kpf_registry *reg, kpf_error *err)
{
    return kpf_registry_add_descriptors(reg, KPF_KIND_TASK, lrnn_tasks, "built-in study lrnn",
                                        err);
}
