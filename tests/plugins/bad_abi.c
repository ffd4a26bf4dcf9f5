/* Loader test: a plugin built for a future ABI version. */
#include "minimal_ops.h"

static kpf_model_desc d = MINIMAL_DESC("bad_abi");

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    d.abi_version = 99;
    return i == 0 ? &d : NULL;
}
