/* Loader test: the other of two plugins that share the name "dup". */
#include "minimal_ops.h"

static const kpf_model_desc d = MINIMAL_DESC("dup");

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    return i == 0 ? &d : NULL;
}
