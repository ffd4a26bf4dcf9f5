/* Loader test: a study that leaves its required op `run` NULL. */
#include "study_ops.h"

static kpf_study_desc d = FIXTURE_STUDY("null_run_study");

KPF_EXPORT const kpf_study_desc *kpf_study_descriptor(uint32_t i)
{
    d.run = NULL;
    return i == 0 ? &d : NULL;
}
