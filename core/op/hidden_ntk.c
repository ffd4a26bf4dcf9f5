/* The full hidden-state NTK, formed without P or K: the Jacobian
 * J = dz/dθ (B·T·n × m_model) of the whole simulated trajectory, built
 * column by column in forward mode through the unrolled stepper,
 *
 *     J e_i = tangent sweep with forcing J_{F,θ} e_i and δz₀ = J_{z₀,θ} e_i,
 *
 * then NTK q = J ((dt/B) Jᵀ q), the weighting of K, so that NTK equals
 * P K P* + U K₀ U* (when dynamics and initial-state parameters are
 * disjoint).  Cost: m_model sweeps and B·T·n·m_model doubles at
 * construction; two GEMVs per apply.  A validation tool for tiny cases:
 * refuses above KPF_HIDDEN_NTK_MAX_ENTRIES.  The readout blocks W_out/b_out
 * do not move z, so their (zero) columns are skipped. */
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"
#include "kpf/propagate.h"
#include "kpflow_internal.h"

typedef struct ntk_st {
    size_t N, mm; /* B·T·n rows, m_model columns  */
    double wt;    /* dt/B                          */
    double *Jt;   /* mm × N, row i = column i of J */
    double *g;    /* mm                            */
} ntk_st;

static void ntk_free_state(ntk_st *s)
{
    if (s) {
        free(s->Jt);
        free(s->g);
    }
    free(s);
}

static void ntk_destroy(kpf_op *op) { ntk_free_state(op->state); }

static int ntk_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    ntk_st *s = op->state;
    int N = (int)s->N, mm = (int)s->mm;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, mm, N, s->wt, s->Jt, N, in, 1, 0.0, s->g, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, mm, N, 1.0, s->Jt, N, s->g, 1, 0.0, out, 1);
    return KPF_OK;
}

static const kpf_op_type ntk_type = {"hidden_NTK", ntk_apply, NULL, ntk_destroy};

/* Column i of J: the trajectory's response to θ ← θ + e_i, to first order. */
static int jacobian_column(kpf_model *m, const kpf_traj *tr, double *e, double *forcing,
                           double *dz0, double *col, kpf_error *err)
{
    int rc = kpf_propagate_jth(m, tr, e, forcing, err);
    if (!rc)
        rc = kpf_init_state_jth(m, tr->B, tr->trial, e, dz0, err);
    if (!rc)
        rc = kpf_propagate_tangent(m, tr, forcing, dz0, col, err);
    return rc;
}

static int fill_jacobian(kpf_model *m, const kpf_traj *tr, ntk_st *s, kpf_error *err)
{
    double *e = calloc(m->m ? m->m : 1, sizeof(double));
    double *forcing = malloc(s->N * sizeof(double));
    double *dz0 = malloc(tr->B * tr->n * sizeof(double));
    int rc = (e && forcing && dz0) ? KPF_OK
                                   : kpf_error_set(err, KPF_ENOMEM, "hidden NTK: out of memory");
    for (size_t i = 0; !rc && i < s->mm; i++) {
        e[i] = 1.0;
        rc = jacobian_column(m, tr, e, forcing, dz0, s->Jt + i * s->N, err);
        e[i] = 0.0;
    }
    free(e);
    free(forcing);
    free(dz0);
    return rc;
}

int kpf_op_hidden_ntk(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    int rc = kpf_internal_traj_check(m, tr, "hidden NTK", err);
    if (rc)
        return rc;
    kpf_space sp = kpf_traj_space(tr);
    if ((rc = kpf_internal_refuse_split(&sp, "the hidden NTK", err)))
        return rc;
    size_t N = kpf_space_size(&sp), mm = m->m_model;
    if (mm == 0)
        return kpf_error_set(err, KPF_EINVAL, "hidden NTK: model '%s' has no parameters",
                             m->desc->name);
    if (mm > KPF_HIDDEN_NTK_MAX_ENTRIES / N)
        return kpf_error_set(err, KPF_EINVAL,
                             "hidden NTK stores the full Jacobian (%zu × %zu) and is for tiny "
                             "validation cases only (at most %zu entries); use P K P* + U K0 "
                             "U* instead",
                             N, mm, (size_t)KPF_HIDDEN_NTK_MAX_ENTRIES);
    ntk_st *s = calloc(1, sizeof *s);
    if (!s || !(s->Jt = malloc(N * mm * sizeof(double))) ||
        !(s->g = malloc(mm * sizeof(double)))) {
        ntk_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "hidden NTK: out of memory");
    }
    *s = (ntk_st){N, mm, sp.weight, s->Jt, s->g};
    if ((rc = fill_jacobian(m, tr, s, err)) || (rc = kpf_op_new(&ntk_type, sp, sp, s, out, err)))
        ntk_free_state(s);
    return rc;
}
