/* Loader test: a study descriptor whose struct_size stops before `run`. */
#include "study_ops.h"

static kpf_study_desc d = FIXTURE_STUDY("small_study");

KPF_EXPORT const kpf_study_desc *kpf_study_descriptor(uint32_t i)
{
    d.struct_size = (uint32_t)offsetof(kpf_study_desc, run);
    return i == 0 ? &d : NULL;
}
