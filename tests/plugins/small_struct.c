/* Loader test: struct_size too small to hold the required ops. */
#include "minimal_ops.h"

static kpf_model_desc d = MINIMAL_DESC("small_struct");

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    d.struct_size = 16;
    return i == 0 ? &d : NULL;
}
