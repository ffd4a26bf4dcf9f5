/* kpf/trajectory.h — B trials × T steps of a model, simulated and linearised.
 *
 * Shapes are written [B,T,n] (trials, steps, units) as in the papers, but
 * storage is step-major: element (b, t, i) of a trajectory tensor lives at
 * ((t·B) + b)·n + i.  That keeps the B rows of one step contiguous (one GEMM
 * per step in simulation, P and P*) and all B·T rows contiguous (one GEMM
 * for J_θ over a whole trajectory in K).  Output files transpose to
 * [B,T,n].
 *
 * Time.  Step k = 0 … T−1 maps z_k to z_{k+1} with input x_k at time k·dt;
 * z_0 = z₀(θ, trial) is kept apart, and z[k] stores z_{k+1}.  The stage
 * states and tapes of every step are kept (layout [stage][T·B] rows), so the
 * linearisation is computed once per trajectory and reused by every
 * operator application.
 *
 * Trial-parallel runs.  A trajectory made by kpf_traj_alloc_part holds one
 * rank's block of a batch split over a communicator's ranks: B is the
 * local count, trial[] the global trial indices, B_total the whole batch.
 * Simulation and every sweep stay local (trials never interact); the
 * operators of kpf/kpflow.h put such a trajectory's comm into their spaces
 * and reduce what mixes trials (K's parameter sum, inner products). */
#ifndef KPF_TRAJECTORY_H
#define KPF_TRAJECTORY_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/comm.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/stepper.h"

KPF_BEGIN_DECLS

typedef struct kpf_traj {
    size_t B, T, n, n_in, n_stages, tape_width;
    double dt;
    double *x;          /* [T][B][n_in]   inputs (filled by the caller) */
    size_t *trial;      /* [B]            trial indices (caller)        */
    size_t *row_trial;  /* [T][B]         trial index of every row      */
    double *t;          /* [T][B]         time at the start of step k   */
    double *z0;         /* [B][n]         initial states                */
    double *z;          /* [T][B][n]      z[k] = z_{k+1}                */
    double *stage_z;    /* [n_stages][T][B][n]                          */
    double *stage_tape; /* [n_stages][T][B][tape_width], NULL if none   */
    size_t B_total;     /* trials over every rank (B when not split)    */
    const kpf_comm *comm; /* the ranks sharing the batch; NULL: none    */
} kpf_traj;

/* Buffers for model m; trial indices default to 0 … B−1, inputs to 0. */
int kpf_traj_alloc(const kpf_model *m, size_t B, size_t T, kpf_traj **out,
                   kpf_error *err);
void kpf_traj_free(kpf_traj *tr);

/* This rank's share of a batch of B_total trials split over comm's ranks
 * (kpf_comm_share: contiguous blocks in rank order), with trial indices
 * lo … hi−1.  comm is borrowed.  Every rank needs at least one trial:
 * KPF_EINVAL when B_total < the rank count. */
int kpf_traj_alloc_part(const kpf_model *m, const kpf_comm *comm, size_t B_total, size_t T,
                        kpf_traj **out, kpf_error *err);

/* Simulate from z₀(θ, trial): fills t, z0, z, stage_z, stage_tape.  Stops
 * with KPF_ENUMERIC naming the step and trial at the first non-finite state.
 * Reserves model scratch for B rows (allocation happens there, once). */
int kpf_simulate(kpf_model *m, kpf_traj *tr, kpf_error *err);

/* The rows of step k (B rows) and of all steps at once (B·T rows), pointing
 * into the trajectory's stage storage. */
kpf_step_rows kpf_traj_step_rows(const kpf_traj *tr, size_t k);
kpf_step_rows kpf_traj_all_rows(const kpf_traj *tr);

/* State before step k: z0 for k = 0, else z[k−1] (B×n). */
const double *kpf_traj_state_before(const kpf_traj *tr, size_t k);

KPF_END_DECLS
#endif
