/* Private helpers shared by the files that wrap plugin ops. */
#ifndef KPF_MODEL_INTERNAL_H
#define KPF_MODEL_INTERNAL_H

#include "kpf/instance.h"

/* Copy `in` to `out` with the model's scratch attached, after checking that
 * in->R rows fit in what kpf_model_reserve set aside. */
int kpf_internal_attach_rows(kpf_model *m, const kpf_rows *in, kpf_rows *out,
                             kpf_error *err);

#endif
