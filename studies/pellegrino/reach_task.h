/* reach_task.h — the Pellegrino et al. (2023) study's task: centre-out
 * reaching with a curl-field perturbation (§5, Supp. C), posed as inverse
 * dynamics of a point-mass hand (reach_task.c; docs/tasks.md, `reach_curl`). */
#ifndef KPF_PELLEGRINO_REACH_TASK_H
#define KPF_PELLEGRINO_REACH_TASK_H

#include "kpf/task.h"

/* The study's tasks (`reach_curl`), enumerated like a shared object's
 * kpf_task_descriptor: index 0, then NULL. */
const kpf_task_desc *kpf_pellegrino_task_descriptor(uint32_t index);

/* The minimum-jerk profile s(τ) = 10τ³ − 15τ⁴ + 6τ⁵ on τ ∈ [0, 1] (0 before,
 * 1 after) and its first two derivatives with respect to τ; any of the
 * outputs may be NULL.  The reach's position is distance·s((t − t_start)/
 * t_move) along the target direction. */
void kpf_reach_min_jerk(double tau, double *s, double *ds, double *dds);

#endif
