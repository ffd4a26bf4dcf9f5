/* CLI test: a valid study from a file (study_ops.h), with a resume op. */
#include "study_ops.h"

static const kpf_study_desc d = FIXTURE_STUDY("fixture_study");

KPF_EXPORT const kpf_study_desc *kpf_study_descriptor(uint32_t i)
{
    return i == 0 ? &d : NULL;
}
