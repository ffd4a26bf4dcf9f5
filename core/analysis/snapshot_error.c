/* Err at a snapshot: readout, masked MSE, readout adjoint, in 𝕋's scale. */
#include "snapshot_error.h"

#include "kpf/kpflow.h"
#include "kpf/loss.h"

int kpf_internal_snapshot_error(kpf_model *m, const kpf_traj *tr, const kpf_task_batch *bt,
                                double *y, double *dy, double *errv, double *loss,
                                kpf_error *err)
{
    if (bt->B != tr->B || bt->T != tr->T || bt->n_out != m->n_out)
        return kpf_error_set(err, KPF_EINVAL,
                             "Err: batch of %zu×%zu does not match the trajectory's %zu×%zu",
                             bt->B, bt->T, tr->B, tr->T);
    kpf_rows rows = {.R = tr->B * tr->T, .z = tr->z, .x = tr->x, .trial = tr->row_trial,
                     .t = tr->t};
    int rc = kpf_model_reserve(m, rows.R, err);
    if (!rc) rc = kpf_readout(m, &rows, y, err);
    if (rc)
        return rc;
    double L = kpf_loss_mse(rows.R, m->n_out, y, bt->y, bt->mask, dy);
    if (loss)
        *loss = L;
    if ((rc = kpf_readout_jzT(m, &rows, dy, errv, err)))
        return rc;
    const double w = kpf_traj_space(tr).weight;
    for (size_t i = 0; i < rows.R * tr->n; i++)
        errv[i] /= w;
    return KPF_OK;
}
