/* Loader test: a shared object that forgot to export kpf_model_descriptor. */
#include "minimal_ops.h"

static const kpf_model_desc d = MINIMAL_DESC("no_symbol");

KPF_EXPORT const kpf_model_desc *kpf_model_descriptr(uint32_t i) /* misspelt */
{
    return i == 0 ? &d : NULL;
}
