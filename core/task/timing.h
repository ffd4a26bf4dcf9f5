/* Durations in time units, for the tasks of Schuessler et al. (2020) (not
 * installed).  Their generators take every duration d in units of the neuron
 * time constant and use int(d/Δt) steps; tasks/flip_flop.c, mante.c, romo.c
 * and constant_input.c read `dt` and their durations through these helpers. */
#ifndef KPF_TASKS_TIMING_H
#define KPF_TASKS_TIMING_H

#include <stddef.h>

#include "kpf/config.h"
#include "kpf/error.h"

/* Cap on any one duration, in steps, so that sums of a few cannot overflow
 * and B·T·dim overflow is left to kpf_task_batch_alloc. */
#define KPF_TASK_MAX_STEPS ((size_t)1 << 24)

/* floor(d/dt) — the reference's int(d/dt) — except that a quotient within
 * 1e-9 (relative) of an integer counts as that integer, so that 0.3 / 0.1
 * gives 3 steps, not 2.  d ≥ 0, dt > 0; saturates at KPF_TASK_MAX_STEPS + 1. */
size_t kpf_internal_steps(double d, double dt);

/* `dt`: a number > 0 (default dflt). */
int kpf_internal_read_dt(const kpf_node *node, double dflt, double *dt, kpf_error *err);

/* Duration `key` in time units (a number ≥ 0, default dflt) into *d and its
 * step count into *steps.  Refused, at the key (or at the task map when the
 * key is absent), when it gives fewer than min_steps or more than
 * KPF_TASK_MAX_STEPS steps.  d may be NULL. */
int kpf_internal_read_duration(const kpf_node *node, const char *key, double dflt,
                               double dt, size_t min_steps, double *d, size_t *steps,
                               kpf_error *err);

/* The value under `key`, or the task map itself when the key is absent (its
 * default is in use), for locating a complaint about it. */
const kpf_node *kpf_internal_key_node(const kpf_node *node, const char *key);

#endif
