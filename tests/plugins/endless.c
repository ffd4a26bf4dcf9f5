/* Loader test: an enumerator that never returns NULL (the same valid
 * descriptor for every index).  The loader must stop at
 * KPF_MAX_DESCRIPTORS, report this file, and keep every other file. */
#include "minimal_ops.h"

static const kpf_model_desc forever = MINIMAL_DESC("endless");

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    (void)i;
    return &forever;
}
