/* Loader test: a study built for a future study ABI version. */
#include "study_ops.h"

static kpf_study_desc d = FIXTURE_STUDY("bad_abi_study");

KPF_EXPORT const kpf_study_desc *kpf_study_descriptor(uint32_t i)
{
    d.abi_version = 99;
    return i == 0 ? &d : NULL;
}
