/* What tasks/memory_pro.c shares with tasks/multitask.c (not installed).
 *
 * A memory-pro trial occupies KPF_MP_N_IN = 3 input channels (fixation,
 * A cos θ, A sin θ) and KPF_MP_N_OUT = 3 output channels, always the first
 * three of a batch; a caller with more channels (multitask4's context) fills
 * the others itself. */
#ifndef KPF_TASKS_MEMORY_PRO_INTERNAL_H
#define KPF_TASKS_MEMORY_PRO_INTERNAL_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "kpf/task.h"

enum { KPF_MP_N_IN = 3, KPF_MP_N_OUT = 3 };

/* Settings of one memory-pro variant; the period lengths are in steps. */
typedef struct kpf_mp_task {
    size_t t_stim, t_memory, t_response;
    size_t t_memory_min; /* memory lengths drawn in [t_memory_min, t_memory] */
    double amplitude, noise;
    double noise_scale; /* 1, or 0 for noise-free evaluation sets */
    int anti, delay, response_only;
    size_t n_conditions; /* 0: continuous angles */
} kpf_mp_task;

/* Steps of one memory-pro trial: t_stim + t_memory + t_response. */
size_t kpf_internal_mp_steps(const kpf_mp_task *s);

/* Read t_stim, t_memory, t_response, amplitude, noise, n_conditions and
 * mask_response_only from `node` with memory_pro's defaults and checks
 * (not `anti` / `delay`, which are left 0). */
int kpf_internal_mp_read(const kpf_node *node, kpf_mp_task *s, kpf_error *err);

/* Draw 1 of memory_pro's per-trial order: the angle θ, *cond its index. */
double kpf_internal_mp_draw_angle(const kpf_mp_task *s, gsl_rng *rng, int *cond);

/* The noise-free trial b at steps t0 … t0 + steps − 1: input channels 0–2
 * (row stride bt->n_in), outputs 0–2 (stride bt->n_out), mask and period
 * (period0 + stimulus/memory/response index), with a memory period of
 * t_mem ≤ s->t_memory steps (the response takes the rest).  Other channels
 * and steps are left alone. */
void kpf_internal_mp_fill_trial(const kpf_mp_task *s, kpf_task_batch *bt, size_t b,
                                double theta, size_t t_mem, size_t t0, int period0);

#endif
