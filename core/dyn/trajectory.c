/* Trajectories: storage, forward simulation, and row views for the
 * linearised ops. */
#include "kpf/trajectory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int kpf_traj_alloc(const kpf_model *m, size_t B, size_t T, kpf_traj **out, kpf_error *err)
{
    if (B == 0 || T == 0)
        return kpf_error_set(err, KPF_EINVAL, "a trajectory needs B ≥ 1 and T ≥ 1 (got %zu, %zu)",
                             B, T);
    kpf_traj *tr = calloc(1, sizeof *tr);
    if (!tr)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a trajectory");
    *tr = (kpf_traj){.B = B, .T = T, .n = m->n, .n_in = m->n_in,
                     .n_stages = m->stepper->n_stages, .tape_width = m->layout.tape_width,
                     .dt = m->dt, .B_total = B};
    size_t BT = B * T, n = m->n;
    tr->x = calloc(BT * (m->n_in ? m->n_in : 1), sizeof(double));
    tr->trial = calloc(B, sizeof(size_t));
    tr->row_trial = calloc(BT, sizeof(size_t));
    tr->t = calloc(BT, sizeof(double));
    tr->z0 = calloc(B * n, sizeof(double));
    tr->z = calloc(BT * n, sizeof(double));
    tr->stage_z = calloc(tr->n_stages * BT * n, sizeof(double));
    if (tr->tape_width)
        tr->stage_tape = calloc(tr->n_stages * BT * tr->tape_width, sizeof(double));
    if (!tr->x || !tr->trial || !tr->row_trial || !tr->t || !tr->z0 || !tr->z ||
        !tr->stage_z || (tr->tape_width && !tr->stage_tape)) {
        kpf_traj_free(tr);
        return kpf_error_set(err, KPF_ENOMEM,
                             "cannot allocate a trajectory of %zu trials × %zu steps × %zu "
                             "states",
                             B, T, n);
    }
    for (size_t b = 0; b < B; b++)
        tr->trial[b] = b;
    *out = tr;
    return KPF_OK;
}

int kpf_traj_alloc_part(const kpf_model *m, const kpf_comm *comm, size_t B_total, size_t T,
                        kpf_traj **out, kpf_error *err)
{
    int N = kpf_comm_size(comm);
    if (B_total < (size_t)N)
        return kpf_error_set(err, KPF_EINVAL,
                             "%zu trials cannot be split over %d ranks: every rank needs at "
                             "least one (use more trials or fewer ranks)",
                             B_total, N);
    size_t lo, hi;
    kpf_comm_share(comm, kpf_comm_rank(comm), B_total, &lo, &hi);
    int rc = kpf_traj_alloc(m, hi - lo, T, out, err);
    if (rc)
        return rc;
    for (size_t b = 0; b < hi - lo; b++)
        (*out)->trial[b] = lo + b;
    (*out)->B_total = B_total;
    (*out)->comm = N > 1 ? comm : NULL;
    return KPF_OK;
}

void kpf_traj_free(kpf_traj *tr)
{
    if (!tr)
        return;
    free(tr->x);
    free(tr->trial);
    free(tr->row_trial);
    free(tr->t);
    free(tr->z0);
    free(tr->z);
    free(tr->stage_z);
    free(tr->stage_tape);
    free(tr);
}

kpf_step_rows kpf_traj_step_rows(const kpf_traj *tr, size_t k)
{
    size_t off = k * tr->B;
    return (kpf_step_rows){
        .R = tr->B,
        .x = tr->x + off * tr->n_in,
        .trial = tr->row_trial + off,
        .t = tr->t + off,
        .stage_z = tr->stage_z + off * tr->n,
        .stage_tape = tr->stage_tape ? tr->stage_tape + off * tr->tape_width : NULL,
        .stage_ld = tr->B * tr->T,
    };
}

kpf_step_rows kpf_traj_all_rows(const kpf_traj *tr)
{
    kpf_step_rows s = kpf_traj_step_rows(tr, 0);
    s.R = tr->B * tr->T;
    return s;
}

const double *kpf_traj_state_before(const kpf_traj *tr, size_t k)
{
    return k == 0 ? tr->z0 : tr->z + (k - 1) * tr->B * tr->n;
}

static int first_nonfinite(const double *z, size_t B, size_t n, size_t *trial)
{
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(z[b * n + i])) {
                *trial = b;
                return 1;
            }
    return 0;
}

int kpf_simulate(kpf_model *m, kpf_traj *tr, kpf_error *err)
{
    if (tr->n != m->n || tr->n_in != m->n_in || tr->n_stages != m->stepper->n_stages ||
        tr->tape_width != m->layout.tape_width)
        return kpf_error_set(err, KPF_EINVAL,
                             "trajectory was allocated for another model or stepper");
    size_t B = tr->B, n = tr->n;
    int rc = kpf_model_reserve(m, B, err);
    if (rc)
        return rc;
    tr->dt = m->dt;
    for (size_t k = 0; k < tr->T; k++)
        for (size_t b = 0; b < B; b++) {
            tr->row_trial[k * B + b] = tr->trial[b];
            tr->t[k * B + b] = (double)k * m->dt;
        }
    if ((rc = kpf_init_state(m, B, tr->trial, tr->z0, err)))
        return rc;
    for (size_t k = 0; k < tr->T; k++) {
        kpf_step_rows s = kpf_traj_step_rows(tr, k);
        double *next = tr->z + k * B * n;
        if ((rc = kpf_step(m, &s, kpf_traj_state_before(tr, k), next, err)))
            return kpf_error_prefix(err, rc, "step %zu: ", k);
        size_t bad;
        if (first_nonfinite(next, B, n, &bad))
            return kpf_error_set(err, KPF_ENUMERIC,
                                 "simulation diverged: non-finite state at step %zu of trial "
                                 "%zu",
                                 k, tr->trial[bad]);
    }
    return KPF_OK;
}
