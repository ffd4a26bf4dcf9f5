/* Private helpers for the stepper implementations. */
#ifndef KPF_STEPPER_INTERNAL_H
#define KPF_STEPPER_INTERNAL_H

#include "kpf/stepper.h"

/* The plugin rows of stage `stage` of s, with per-row times t. */
kpf_rows kpf_internal_stage_rows(const kpf_model *m, const kpf_step_rows *s, size_t stage,
                                 const double *t);
/* Store z as stage `stage` of s and fill the plugin's tape there. */
int kpf_internal_stage_set(kpf_model *m, const kpf_step_rows *s, size_t stage,
                           const double *t, const double *z, kpf_error *err);
/* Scratch block i (R×n) of the model's stepper work area. */
double *kpf_internal_step_block(kpf_model *m, size_t R, size_t i);
/* y = a·x + b·y over N values. */
void kpf_internal_axpby(size_t N, double a, const double *x, double b, double *y);

#endif
