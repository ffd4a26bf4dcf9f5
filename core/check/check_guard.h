/* Guard zones around the buffers check-plugin hands a plugin
 * (check_guard.c). */
#ifndef KPF_CHECK_GUARD_H
#define KPF_CHECK_GUARD_H

#include "kpf/check.h"
#include "kpf/instance.h"

/* Call every op the plugin provides (f, tape, jz, jzT, jth, jthT, its
 * readout and initial-state ops) on `rows` (R rows, and the first row
 * alone) with work, output, tape and inputs each between guard zones, and
 * add one report item per op: "guards: OP writes only inside its output
 * and work", failing with which buffer it overran and by how much.
 * *overran says whether any op wrote outside its buffers (the caller then
 * stops: the same op on the model's own scratch would corrupt the heap).
 * Op errors are not judged here; θ is not changed.  An error status only
 * for out-of-memory. */
int kpf_internal_check_guards(kpf_model *m, const kpf_rows *rows, kpf_check_report *rep,
                              int *overran, kpf_error *err);

#endif
