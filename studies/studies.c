/* The built-in studies' registration (studies.h). */
#include "studies.h"

#include "linear_theory.h"
#include "ltr_fit.h" /* before lrnn.h: its <complex.h> defines I, a parameter name in kpf/cp.h */
#include "lrnn.h"
#include "pellegrino.h"
#include "reach_task.h"
#include "tasks/lrnn_tasks.h"

static const void *lrnn_tasks(uint32_t index)
{
    return kpf_lrnn_task_descriptor(index);
}

static const void *pellegrino_tasks(uint32_t index)
{
    return kpf_pellegrino_task_descriptor(index);
}

static const void *lrnn_study(uint32_t index)
{
    return kpf_lrnn_study_descriptor(index);
}

static const void *ltr_study(uint32_t index)
{
    return kpf_ltr_study_descriptor(index);
}

static const void *linear_theory_study(uint32_t index)
{
    return kpf_linear_theory_study_descriptor(index);
}

int kpf_studies_register(kpf_registry *reg, kpf_error *err)
{
    int rc = kpf_registry_add_descriptors(reg, KPF_KIND_TASK, lrnn_tasks, "built-in study lrnn",
                                          err);
    if (!rc)
        rc = kpf_registry_add_descriptors(reg, KPF_KIND_STUDY, lrnn_study,
                                          "built-in study lrnn", err);
    if (!rc)
        rc = kpf_registry_add_descriptors(reg, KPF_KIND_STUDY, ltr_study, "built-in study ltr",
                                          err);
    if (!rc)
        rc = kpf_registry_add_descriptors(reg, KPF_KIND_STUDY, linear_theory_study,
                                          "built-in study linear_theory", err);
    if (!rc)
        rc = kpf_pellegrino_register(reg, err);
    if (!rc)
        rc = kpf_registry_add_descriptors(reg, KPF_KIND_TASK, pellegrino_tasks,
                                          "built-in study pellegrino", err);
    return rc;
}
