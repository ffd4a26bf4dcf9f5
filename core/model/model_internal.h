/* Private helpers shared by the files that wrap plugin ops. */
#ifndef KPF_MODEL_INTERNAL_H
#define KPF_MODEL_INTERNAL_H

#include "kpf/instance.h"

/* The scratch behind kpf_model.scratch, sized by kpf_model_reserve for
 * blocks of up to rows_cap rows.  Only core/model touches it. */
struct kpf_model_scratch {
    size_t rows_cap;   /* buffers sized for this many rows          */
    double *work;      /* plugin scratch (the layout's work sizes)  */
    double *step_work; /* stepper scratch: work_blocks R×n blocks   */
    double *step_t;    /* per-row stage times (RK4)                 */
};

/* Copy `in` to `out` with the model's scratch attached, after checking that
 * in->R rows fit in what kpf_model_reserve set aside. */
int kpf_internal_attach_rows(kpf_model *m, const kpf_rows *in, kpf_rows *out,
                             kpf_error *err);

#endif
