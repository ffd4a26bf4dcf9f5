/* Loss and adjoint gradient of one batch. */
#include "kpf/gradient.h"

#include <stdlib.h>
#include <string.h>

#include "kpf/loss.h"
#include "kpf/propagate.h"

int kpf_grad_ws_alloc(const kpf_model *m, size_t B, size_t T, kpf_grad_ws **out,
                      kpf_error *err)
{
    kpf_grad_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = kpf_traj_alloc(m, B, T, &ws->tr, err);
    size_t R = B * T;
    if (!rc) {
        ws->y = malloc(R * m->n_out * sizeof(double) + 1);
        ws->dy = malloc(R * m->n_out * sizeof(double) + 1);
        ws->err = malloc(R * m->n * sizeof(double));
        ws->lambda = malloc(R * m->n * sizeof(double));
        ws->lambda0 = malloc(B * m->n * sizeof(double));
        if (!ws->y || !ws->dy || !ws->err || !ws->lambda || !ws->lambda0)
            rc = kpf_error_set(err, KPF_ENOMEM, "cannot allocate gradient buffers for %zu rows",
                               R);
    }
    if (rc) {
        kpf_grad_ws_free(ws);
        return rc;
    }
    *out = ws;
    return KPF_OK;
}

void kpf_grad_ws_free(kpf_grad_ws *ws)
{
    if (!ws)
        return;
    kpf_traj_free(ws->tr);
    free(ws->y);
    free(ws->dy);
    free(ws->err);
    free(ws->lambda);
    free(ws->lambda0);
    free(ws);
}

static int check_shapes(const kpf_model *m, const kpf_task_batch *bt, const kpf_grad_ws *ws,
                        kpf_error *err)
{
    if (bt->B != ws->tr->B || bt->T != ws->tr->T || bt->n_in != m->n_in ||
        bt->n_out != m->n_out)
        return kpf_error_set(err, KPF_EINVAL,
                             "batch [B=%zu, T=%zu, in=%zu, out=%zu] does not fit the model "
                             "and workspace [B=%zu, T=%zu, in=%zu, out=%zu]",
                             bt->B, bt->T, bt->n_in, bt->n_out, ws->tr->B, ws->tr->T, m->n_in,
                             m->n_out);
    return KPF_OK;
}

/* All B·T rows of the simulated trajectory, for readout ops. */
static kpf_rows all_rows(const kpf_traj *tr)
{
    return (kpf_rows){.R = tr->B * tr->T, .z = tr->z, .x = tr->x, .trial = tr->row_trial,
                      .t = tr->t};
}

int kpf_loss_eval(kpf_model *m, const kpf_task_batch *bt, kpf_grad_ws *ws, double *loss,
                  kpf_error *err)
{
    int rc = check_shapes(m, bt, ws, err);
    if (rc)
        return rc;
    kpf_traj *tr = ws->tr;
    memcpy(tr->x, bt->x, bt->B * bt->T * bt->n_in * sizeof(double));
    memcpy(tr->trial, bt->trial, bt->B * sizeof(size_t));
    if ((rc = kpf_simulate(m, tr, err)))
        return rc;
    if ((rc = kpf_model_reserve(m, tr->B * tr->T, err)))
        return rc;
    kpf_rows rows = all_rows(tr);
    if ((rc = kpf_readout(m, &rows, ws->y, err)))
        return rc;
    *loss = kpf_loss_mse(rows.R, m->n_out, ws->y, bt->y, bt->mask, ws->dy);
    return KPF_OK;
}

int kpf_loss_grad(kpf_model *m, const kpf_task_batch *bt, size_t window, kpf_grad_ws *ws,
                  double *loss, double *grad, kpf_error *err)
{
    int rc = kpf_loss_eval(m, bt, ws, loss, err);
    if (rc)
        return rc;
    kpf_traj *tr = ws->tr;
    kpf_rows rows = all_rows(tr);
    memset(grad, 0, m->m * sizeof(double));
    if ((rc = kpf_readout_jzT(m, &rows, ws->dy, ws->err, err)))
        return rc;
    if ((rc = kpf_readout_jthT(m, &rows, ws->dy, grad, err)))
        return rc;
    if ((rc = kpf_propagate_adjoint_window(m, tr, ws->err, window, ws->lambda, ws->lambda0,
                                           err)))
        return rc;
    if ((rc = kpf_propagate_jthT(m, tr, ws->lambda, grad, err)))
        return rc;
    return kpf_init_state_jthT(m, tr->B, tr->trial, ws->lambda0, grad, err);
}
