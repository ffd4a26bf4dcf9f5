/* Forward Euler, F = z + h f(z, t), and its exact linearisation. */
#include "kpf/stepper.h"
#include "stepper_internal.h"

static int euler_step(kpf_model *m, const kpf_step_rows *s, const double *z,
                      double *z_next, kpf_error *err)
{
    int rc = kpf_internal_stage_set(m, s, 0, s->t, z, err);
    if (rc)
        return rc;
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    if ((rc = kpf_model_f(m, &r, z_next, err)))
        return rc;
    kpf_internal_axpby(s->R * m->n, 1.0, z, m->dt, z_next);
    return KPF_OK;
}

static int euler_tangent(kpf_model *m, const kpf_step_rows *s, const double *v,
                         double *out, kpf_error *err)
{
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    int rc = kpf_model_jz(m, &r, v, out, err);
    if (!rc)
        kpf_internal_axpby(s->R * m->n, 1.0, v, m->dt, out);
    return rc;
}

static int euler_adjoint(kpf_model *m, const kpf_step_rows *s, const double *w,
                         double *out, kpf_error *err)
{
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    int rc = kpf_model_jzT(m, &r, w, out, err);
    if (!rc)
        kpf_internal_axpby(s->R * m->n, 1.0, w, m->dt, out);
    return rc;
}

static int euler_jth(kpf_model *m, const kpf_step_rows *s, const double *dth, double *out,
                     kpf_error *err)
{
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    int rc = kpf_model_jth(m, &r, dth, out, err);
    if (!rc && m->dt != 1.0) /* ×1 is exact: skip the pass over R·n values */
        kpf_internal_axpby(s->R * m->n, 0.0, out, m->dt, out);
    return rc;
}

static int euler_jthT(kpf_model *m, const kpf_step_rows *s, const double *w, double *g,
                      kpf_error *err)
{
    /* g accumulates, so the step size goes on w rather than on the result;
     * with dt = 1 (exact) w is used as it is, saving a copy of R·n values. */
    const double *hw = w;
    if (m->dt != 1.0) {
        double *scaled = kpf_internal_step_block(m, s->R, 0);
        kpf_internal_axpby(s->R * m->n, m->dt, w, 0.0, scaled);
        hw = scaled;
    }
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    return kpf_model_jthT(m, &r, hw, g, err);
}

const kpf_stepper_type kpf_stepper_euler = {
    "euler", 1, 1, euler_step, euler_tangent, euler_adjoint, euler_jth, euler_jthT,
};
