/* The initial state z₀(θ, trial): the plugin's op when it learns one, else
 * zeros (whose θ-derivative is zero). */
#include <string.h>

#include "kpf/instance.h"
#include "model_internal.h"

/* Rows for initial-state ops: trial indices only (no z, no x). */
static int z0_rows(kpf_model *m, size_t R, const size_t *trial, kpf_rows *r,
                   kpf_error *err)
{
    const kpf_rows in = {.R = R, .trial = trial};
    return kpf_internal_attach_rows(m, &in, r, err);
}

int kpf_init_state(kpf_model *m, size_t R, const size_t *trial, double *z0,
                   kpf_error *err)
{
    kpf_op_eval op = KPF_DESC_OP(m->desc, init_state);
    if (!op) {
        memset(z0, 0, R * m->n * sizeof(double));
        return KPF_OK;
    }
    kpf_rows r;
    int rc = z0_rows(m, R, trial, &r, err);
    return rc ? rc : op(m->self, m->theta, &r, z0, err);
}

int kpf_init_state_jth(kpf_model *m, size_t R, const size_t *trial, const double *dth,
                       double *out, kpf_error *err)
{
    kpf_op_jth op = KPF_DESC_OP(m->desc, init_state_jth);
    if (!op) {
        memset(out, 0, R * m->n * sizeof(double));
        return KPF_OK;
    }
    kpf_rows r;
    int rc = z0_rows(m, R, trial, &r, err);
    return rc ? rc : op(m->self, m->theta, &r, dth, out, err);
}

int kpf_init_state_jthT(kpf_model *m, size_t R, const size_t *trial, const double *w,
                        double *g, kpf_error *err)
{
    kpf_op_jthT op = KPF_DESC_OP(m->desc, init_state_jthT);
    if (!op)
        return KPF_OK;
    kpf_rows r;
    int rc = z0_rows(m, R, trial, &r, err);
    return rc ? rc : op(m->self, m->theta, &r, w, g, err);
}
