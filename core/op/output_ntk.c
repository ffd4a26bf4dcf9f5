/* The readout Jacobian W: 𝕋 → Y and the products built from the KPFlow
 * operators: P K P*, P P* (parameter-free learning, App. B.4) and the output
 * NTK Θ = W P K P* W* (Cor. 1).  Each product owns its parts. */
#include <stdlib.h>

#include "kpflow_internal.h"

typedef struct readout_st {
    kpf_model *m;
    const kpf_traj *tr;
} readout_st;

static void readout_destroy(kpf_op *op) { free(op->state); }

/* All B·T rows of the trajectory, as the training loss reads them: row
 * (k, b) is z_{k+1} with the step's input, trial and start time.  No tape:
 * plugin readouts compute what they need from z. */
static kpf_rows readout_rows(const kpf_traj *tr)
{
    return (kpf_rows){.R = tr->B * tr->T, .z = tr->z, .x = tr->x, .trial = tr->row_trial,
                      .t = tr->t};
}

static int readout_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    readout_st *s = op->state;
    kpf_rows r = readout_rows(s->tr);
    return kpf_readout_jz(s->m, &r, in, out, err);
}

/* 𝕋 and Y carry the same weight dt/B, so the transpose is the adjoint. */
static int readout_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    readout_st *s = op->state;
    kpf_rows r = readout_rows(s->tr);
    return kpf_readout_jzT(s->m, &r, in, out, err);
}

static const kpf_op_type readout_type = {"W_out", readout_apply, readout_adjoint,
                                         readout_destroy};

int kpf_op_readout(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    int rc = kpf_internal_traj_check(m, tr, "W_out", err);
    if (rc)
        return rc;
    if (m->n_out == 0)
        return kpf_error_set(err, KPF_EINVAL, "W_out: model '%s' has no outputs (n_out = 0)",
                             m->desc->name);
    readout_st *s = malloc(sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "W_out: out of memory");
    *s = (readout_st){m, tr};
    if ((rc = kpf_op_new(&readout_type, kpf_traj_space(tr), kpf_output_space(m, tr), s, out,
                         err)))
        free(s);
    return rc;
}

/* P K P*, built from its own P, K and P*. */
static int pkp_ops(kpf_model *m, const kpf_traj *tr, kpf_op **ops, kpf_error *err)
{
    int rc = kpf_op_propagator(m, tr, &ops[0], err);
    if (!rc)
        rc = kpf_op_param(m, tr, &ops[1], err);
    if (!rc)
        rc = kpf_op_propagator_adjoint(m, tr, &ops[2], err);
    return rc;
}

int kpf_op_pkp(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    kpf_op *ops[3] = {NULL, NULL, NULL};
    int rc = pkp_ops(m, tr, ops, err);
    if (rc) {
        kpf_internal_op_free_all(ops, 3);
        return rc;
    }
    return kpf_internal_op_chain("P K P*", ops, 3, 1, out, err);
}

int kpf_op_pp(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    kpf_op *ops[2] = {NULL, NULL};
    int rc = kpf_op_propagator(m, tr, &ops[0], err);
    if (!rc)
        rc = kpf_op_propagator_adjoint(m, tr, &ops[1], err);
    if (rc) {
        kpf_internal_op_free_all(ops, 2);
        return rc;
    }
    return kpf_internal_op_chain("P P*", ops, 2, 1, out, err);
}

int kpf_op_output_ntk(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    /* ops[4] = W* borrows ops[0] = W; the bundle frees parts in reverse, so
     * the wrapper goes first. */
    kpf_op *ops[5] = {NULL, NULL, NULL, NULL, NULL};
    int rc = kpf_op_readout(m, tr, &ops[0], err);
    if (!rc)
        rc = pkp_ops(m, tr, ops + 1, err);
    if (!rc)
        rc = kpf_op_adjoint(ops[0], &ops[4], err);
    if (rc) {
        kpf_internal_op_free_all(ops, 5);
        return rc;
    }
    return kpf_internal_op_chain("Theta", ops, 5, 1, out, err);
}
