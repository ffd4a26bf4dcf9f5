/* Loader test: a required op (jzT) left NULL. */
#include "minimal_ops.h"

static kpf_model_desc d = MINIMAL_DESC("null_op");

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    d.jzT = NULL;
    return i == 0 ? &d : NULL;
}
