/* Reading a kpf_traj through functions, and simulating from a given initial
 * state (kpf/traj_access.h). */
#include "kpf/traj_access.h"

#include <math.h>
#include <string.h>

#include "kpf/stepper.h"

void kpf_traj_shape(const kpf_traj *tr, size_t *B, size_t *T, size_t *n, size_t *n_in)
{
    if (B)
        *B = tr->B;
    if (T)
        *T = tr->T;
    if (n)
        *n = tr->n;
    if (n_in)
        *n_in = tr->n_in;
}

double kpf_traj_step_size(const kpf_traj *tr) { return tr->dt; }
double *kpf_traj_inputs(kpf_traj *tr) { return tr->x; }
size_t *kpf_traj_trial_ids(kpf_traj *tr) { return tr->trial; }
const double *kpf_traj_states(const kpf_traj *tr) { return tr->z; }
const double *kpf_traj_initial_states(const kpf_traj *tr) { return tr->z0; }
const double *kpf_traj_times(const kpf_traj *tr) { return tr->t; }

/* The first trial of a B×n block with a non-finite entry, or B. */
static size_t first_nonfinite_trial(const double *z, size_t B, size_t n)
{
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(z[b * n + i]))
                return b;
    return B;
}

/* kpf_simulate's loop with z0 taken from the caller; kpf_simulate stays the
 * one that asks the model for z₀(θ, trial). */
int kpf_simulate_from(kpf_model *m, kpf_traj *tr, const double *z0, kpf_error *err)
{
    if (!z0)
        return kpf_simulate(m, tr, err);
    if (tr->n != m->n || tr->n_in != m->n_in || tr->n_stages != m->stepper->n_stages ||
        tr->tape_width != m->layout.tape_width)
        return kpf_error_set(err, KPF_EINVAL,
                             "trajectory was allocated for another model or stepper");
    size_t B = tr->B, n = tr->n;
    int rc = kpf_model_reserve(m, B, err);
    if (rc)
        return rc;
    size_t bad = first_nonfinite_trial(z0, B, n);
    if (bad < B)
        return kpf_error_set(err, KPF_EINVAL, "initial state of trial %zu is not finite", bad);
    tr->dt = m->dt;
    for (size_t k = 0; k < tr->T; k++)
        for (size_t b = 0; b < B; b++) {
            tr->row_trial[k * B + b] = tr->trial[b];
            tr->t[k * B + b] = (double)k * m->dt;
        }
    memcpy(tr->z0, z0, B * n * sizeof(double));
    for (size_t k = 0; k < tr->T; k++) {
        kpf_step_rows s = kpf_traj_step_rows(tr, k);
        double *next = tr->z + k * B * n;
        if ((rc = kpf_step(m, &s, kpf_traj_state_before(tr, k), next, err)))
            return kpf_error_prefix(err, rc, "step %zu: ", k);
        if ((bad = first_nonfinite_trial(next, B, n)) < B)
            return kpf_error_set(err, KPF_ENUMERIC,
                                 "simulation diverged: non-finite state at step %zu of trial "
                                 "%zu",
                                 k, tr->trial[bad]);
    }
    return KPF_OK;
}
