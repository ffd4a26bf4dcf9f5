/* The parameter operators: K (KPFlow's NTK of the tangents), K_j for one θ
 * block (Thm 1), K₀ on initial states, and the initial-state term U K₀ U*.
 *
 * K q = J_{F,θ} g with g = (dt/B) Σ_rows J_{F,θ}ᵀ q: the dt/B is 𝕋's weight,
 * so ⟨Kq, r⟩ = (dt/B)² (J_{F,θ}ᵀ r)·(J_{F,θ}ᵀ q) is symmetric and ⟨Kq, q⟩ ≥ 0.
 * Each application is one all-rows J_θᵀ pass and one all-rows J_θ pass
 * (batched GEMMs over B·T rows in the plugin) and needs only g (m values)
 * beside the caller's buffers.
 *
 * On a trajectory split over ranks (kpf_traj_alloc_part) the J_θᵀ pass sums
 * this rank's rows only; the m-vector g is then summed over the ranks
 * (kpf_comm_sum: one Allreduce of m doubles per application) before the
 * local J_θ pass, so every rank applies the same global K to its block. */
#include <stdlib.h>
#include <string.h>

#include "kpf/propagate.h"
#include "kpflow_internal.h"

typedef struct param_st {
    kpf_model *m;
    const kpf_traj *tr;
    size_t lo, hi; /* the θ entries g keeps: one block, or all of θ */
    double wt;     /* the input space's weight                      */
    double *g;     /* m values                                      */
} param_st;

static void param_free_state(void *p)
{
    param_st *s = p;
    if (s)
        free(s->g);
    free(s);
}

static void param_destroy(kpf_op *op) { param_free_state(op->state); }

/* g ← wt·g on [lo, hi), 0 elsewhere: the weight of the parameter sum and the
 * block selection of K_j in one pass. */
static void weight_and_mask(param_st *s)
{
    size_t m = s->m->m;
    for (size_t i = 0; i < m; i++)
        s->g[i] = (i >= s->lo && i < s->hi) ? s->wt * s->g[i] : 0.0;
}

/* g summed over the ranks sharing the trajectory.  Entered even after a
 * local failure (rc), since the other ranks wait in the sum; the failure is
 * returned and agreed on by the caller (an eigensolver, the training step). */
static int reduce(param_st *s, int rc, kpf_error *err)
{
    kpf_error mine;
    int sum = kpf_comm_sum(s->tr->comm, s->g, s->m->m, rc ? &mine : err);
    return rc ? rc : sum;
}

static int K_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    param_st *s = op->state;
    memset(s->g, 0, s->m->m * sizeof(double));
    int rc = kpf_propagate_jthT(s->m, s->tr, in, s->g, err);
    if ((rc = reduce(s, rc, err)))
        return rc;
    weight_and_mask(s);
    return kpf_propagate_jth(s->m, s->tr, s->g, out, err);
}

static int K0_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    param_st *s = op->state;
    const kpf_traj *tr = s->tr;
    memset(s->g, 0, s->m->m * sizeof(double));
    int rc = kpf_init_state_jthT(s->m, tr->B, tr->trial, in, s->g, err);
    if ((rc = reduce(s, rc, err)))
        return rc;
    weight_and_mask(s);
    return kpf_init_state_jth(s->m, tr->B, tr->trial, s->g, out, err);
}

static const kpf_op_type K_type = {"K", K_apply, NULL, param_destroy};
static const kpf_op_type Kj_type = {"K_j", K_apply, NULL, param_destroy};
static const kpf_op_type K0_type = {"K0", K0_apply, NULL, param_destroy};

static int make_param(kpf_model *m, const kpf_traj *tr, const kpf_op_type *type,
                      kpf_space sp, size_t lo, size_t hi, kpf_op **out, kpf_error *err)
{
    int rc = kpf_internal_traj_check(m, tr, type->name, err);
    if (rc)
        return rc;
    param_st *s = calloc(1, sizeof *s);
    if (!s || !(s->g = malloc((m->m ? m->m : 1) * sizeof(double)))) {
        param_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", type->name);
    }
    *s = (param_st){m, tr, lo, hi, sp.weight, s->g};
    if ((rc = kpf_op_new(type, sp, sp, s, out, err)))
        param_free_state(s);
    return rc;
}

int kpf_op_param(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    if (!m || !tr)
        return kpf_error_set(err, KPF_EINVAL, "K: NULL model or trajectory");
    return make_param(m, tr, &K_type, kpf_traj_space(tr), 0, m->m, out, err);
}

int kpf_op_param_block(kpf_model *m, const kpf_traj *tr, const char *block, kpf_op **out,
                       kpf_error *err)
{
    if (!m || !tr || !block)
        return kpf_error_set(err, KPF_EINVAL, "K_j: NULL model, trajectory or block name");
    const kpf_param_block *b = kpf_model_block(m, block);
    if (!b)
        return kpf_error_set(err, KPF_EINVAL, "K_j: model '%s' has no parameter block '%s'",
                             m->desc->name, block);
    size_t len = b->rows * b->cols;
    return make_param(m, tr, &Kj_type, kpf_traj_space(tr), b->offset, b->offset + len, out,
                      err);
}

int kpf_op_param_init(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    if (!m || !tr)
        return kpf_error_set(err, KPF_EINVAL, "K0: NULL model or trajectory");
    return make_param(m, tr, &K0_type, kpf_init_space(tr), 0, m->m, out, err);
}

int kpf_op_init_term(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    kpf_op *ops[3] = {NULL, NULL, NULL};
    int rc = kpf_op_fundamental(m, tr, &ops[0], err);
    if (!rc)
        rc = kpf_op_param_init(m, tr, &ops[1], err);
    if (!rc)
        rc = kpf_op_fundamental_adjoint(m, tr, &ops[2], err);
    if (rc) {
        kpf_internal_op_free_all(ops, 3);
        return rc;
    }
    return kpf_internal_op_chain("U K0 U*", ops, 3, 1, out, err);
}
