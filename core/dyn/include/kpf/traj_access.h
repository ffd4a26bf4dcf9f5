/* kpf/traj_access.h — a trajectory read through functions, not fields, and
 * simulated from a given initial state.
 *
 * The companion of kpf/model_access.h for kpf_traj: a caller that only sees
 * libkpf's exported symbols (a language binding over dlopen, python/kpf)
 * reaches the arrays of a trajectory here, so a change of the struct cannot
 * make it read the wrong bytes.  Arrays are step-major as in
 * kpf/trajectory.h and live as long as the trajectory.  Nothing allocates
 * or fails. */
#ifndef KPF_TRAJ_ACCESS_H
#define KPF_TRAJ_ACCESS_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

/* B trials, T steps, state size n, input size n_in (any pointer may be NULL). */
void kpf_traj_shape(const kpf_traj *tr, size_t *B, size_t *T, size_t *n, size_t *n_in);
double kpf_traj_step_size(const kpf_traj *tr);

/* What the caller fills before kpf_simulate: inputs [T][B][n_in] and the
 * trial index of each of the B trials. */
double *kpf_traj_inputs(kpf_traj *tr);
size_t *kpf_traj_trial_ids(kpf_traj *tr);

/* What kpf_simulate fills: z [T][B][n] (z[k] = z_{k+1}), z0 [B][n], and the
 * time at the start of every step [T][B]. */
const double *kpf_traj_states(const kpf_traj *tr);
const double *kpf_traj_initial_states(const kpf_traj *tr);
const double *kpf_traj_times(const kpf_traj *tr);

/* kpf_simulate from the initial states z0 (B×n, copied into the trajectory)
 * instead of the model's z₀(θ, trial); z0 == NULL is kpf_simulate.  The
 * operators built on such a trajectory linearise around it as usual; only
 * those that differentiate the initial state through θ (U K₀ U*, the hidden
 * NTK) still use the model's J_{z₀,θ}, i.e. they describe the model's own
 * z₀, not the given one. */
int kpf_simulate_from(kpf_model *m, kpf_traj *tr, const double *z0, kpf_error *err);

KPF_END_DECLS
#endif
