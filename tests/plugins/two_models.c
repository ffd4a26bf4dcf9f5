/* Loader test: one shared object holding two descriptors, enumerated by
 * index until NULL (LADSPA style), the second with an older, shorter
 * descriptor (only the required ops: struct_size stops there). */
#include "minimal_ops.h"

static const kpf_model_desc first = MINIMAL_DESC("pair_first");
static kpf_model_desc second = MINIMAL_DESC("pair_second");

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    second.struct_size = (uint32_t)KPF_MODEL_DESC_MIN_SIZE;
    return i == 0 ? &first : i == 1 ? &second : NULL;
}
