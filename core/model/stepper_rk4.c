/* Classical RK4 with the input held over the step, and the exact tangent,
 * adjoint and parameter products of that discrete map.
 *
 *   k1 = f(s0 = z),            k2 = f(s1 = z + h/2 k1),
 *   k3 = f(s2 = z + h/2 k2),   k4 = f(s3 = z + h k3),
 *   F  = z + h/6 (k1 + 2 k2 + 2 k3 + k4).
 *
 * The adjoint runs the stages backwards: k̄4 = h/6 w, then
 * k̄3 = h/3 w + h J4ᵀk̄4, k̄2 = h/3 w + h/2 J3ᵀk̄3, k̄1 = h/6 w + h/2 J2ᵀk̄2,
 * and J_Fᵀw = w + Σ Jiᵀ k̄i; the parameter adjoint is Σ J_θ,iᵀ k̄i. */
#include "kpf/stepper.h"
#include "model_internal.h"
#include "stepper_internal.h"

static const double c_off[4] = {0.0, 0.5, 0.5, 1.0};  /* stage time offsets / h */
static const double a_in[4] = {0.0, 0.5, 0.5, 1.0};   /* s_i = z + a_i h k_{i−1}  */
static const double b_out[4] = {1.0, 2.0, 2.0, 1.0};  /* weights of k_i (× h/6)   */

static const double *stage_time(kpf_model *m, const kpf_step_rows *s, size_t i)
{
    if (c_off[i] == 0.0)
        return s->t;
    double *t = m->scratch->step_t;
    for (size_t r = 0; r < s->R; r++)
        t[r] = s->t[r] + c_off[i] * m->dt;
    return t;
}

static kpf_rows stage(kpf_model *m, const kpf_step_rows *s, size_t i)
{
    return kpf_internal_stage_rows(m, s, i, stage_time(m, s, i));
}

static int rk4_step(kpf_model *m, const kpf_step_rows *s, const double *z, double *z_next,
                    kpf_error *err)
{
    size_t N = s->R * m->n;
    double h = m->dt;
    double *k = kpf_internal_step_block(m, s->R, 0);
    double *si = kpf_internal_step_block(m, s->R, 1);
    int rc;
    for (size_t i = 0; i < 4; i++) {
        const double *t = stage_time(m, s, i);
        if (i == 0) {
            rc = kpf_internal_stage_set(m, s, 0, t, z, err);
        } else {
            for (size_t j = 0; j < N; j++)
                si[j] = z[j] + a_in[i] * h * k[j];
            rc = kpf_internal_stage_set(m, s, i, t, si, err);
        }
        kpf_rows r = kpf_internal_stage_rows(m, s, i, t);
        if (rc || (rc = kpf_model_f(m, &r, k, err)))
            return rc;
        kpf_internal_axpby(N, b_out[i], k, i ? 1.0 : 0.0, z_next);
    }
    kpf_internal_axpby(N, 1.0, z, h / 6.0, z_next);
    return KPF_OK;
}

static int rk4_tangent(kpf_model *m, const kpf_step_rows *s, const double *v, double *out,
                       kpf_error *err)
{
    size_t N = s->R * m->n;
    double h = m->dt;
    double *d = kpf_internal_step_block(m, s->R, 0);
    double *arg = kpf_internal_step_block(m, s->R, 1);
    for (size_t i = 0; i < 4; i++) {
        /* arg = v + a_i h d_{i−1}: the tangent of stage state s_i. */
        if (i == 0)
            kpf_internal_axpby(N, 1.0, v, 0.0, arg);
        else
            for (size_t j = 0; j < N; j++)
                arg[j] = v[j] + a_in[i] * h * d[j];
        kpf_rows r = stage(m, s, i);
        int rc = kpf_model_jz(m, &r, arg, d, err);
        if (rc)
            return rc;
        kpf_internal_axpby(N, b_out[i], d, i ? 1.0 : 0.0, out);
    }
    kpf_internal_axpby(N, 1.0, v, h / 6.0, out);
    return KPF_OK;
}

/* The backward stage sweep shared by the state and parameter adjoints:
 * for i = 3 … 0, kbar = k̄_i; then mu = J_iᵀ k̄_i is added to out (state
 * adjoint, when out != NULL) and J_θ,iᵀ k̄_i to g (when g != NULL). */
static int rk4_backward(kpf_model *m, const kpf_step_rows *s, const double *w,
                        double *out, double *g, kpf_error *err)
{
    size_t N = s->R * m->n;
    double h = m->dt;
    double *kbar = kpf_internal_step_block(m, s->R, 0);
    double *mu = kpf_internal_step_block(m, s->R, 1);
    if (out)
        kpf_internal_axpby(N, 1.0, w, 0.0, out);
    for (size_t ii = 4; ii-- > 0;) {
        double wb = b_out[ii] * h / 6.0;
        if (ii == 3)
            kpf_internal_axpby(N, wb, w, 0.0, kbar);
        else
            for (size_t j = 0; j < N; j++)
                kbar[j] = wb * w[j] + a_in[ii + 1] * h * mu[j];
        kpf_rows r = stage(m, s, ii);
        int rc = KPF_OK;
        if (g)
            rc = kpf_model_jthT(m, &r, kbar, g, err);
        /* mu feeds the next (earlier) stage and the state adjoint. */
        if (!rc && (out || ii > 0))
            rc = kpf_model_jzT(m, &r, kbar, mu, err);
        if (rc)
            return rc;
        if (out)
            kpf_internal_axpby(N, 1.0, mu, 1.0, out);
    }
    return KPF_OK;
}

static int rk4_adjoint(kpf_model *m, const kpf_step_rows *s, const double *w, double *out,
                       kpf_error *err)
{
    return rk4_backward(m, s, w, out, NULL, err);
}

static int rk4_jthT(kpf_model *m, const kpf_step_rows *s, const double *w, double *g,
                    kpf_error *err)
{
    return rk4_backward(m, s, w, NULL, g, err);
}

static int rk4_jth(kpf_model *m, const kpf_step_rows *s, const double *dth, double *out,
                   kpf_error *err)
{
    size_t N = s->R * m->n;
    double h = m->dt;
    double *e = kpf_internal_step_block(m, s->R, 0);
    double *arg = kpf_internal_step_block(m, s->R, 1);
    double *tmp = kpf_internal_step_block(m, s->R, 2);
    for (size_t i = 0; i < 4; i++) {
        kpf_rows r = stage(m, s, i);
        int rc = kpf_model_jth(m, &r, dth, tmp, err);
        if (!rc && i > 0) {
            /* e_i = J_θ,i dθ + J_i (a_i h e_{i−1}) */
            kpf_internal_axpby(N, a_in[i] * h, e, 0.0, arg);
            rc = kpf_model_jz(m, &r, arg, e, err);
            if (!rc)
                kpf_internal_axpby(N, 1.0, tmp, 1.0, e);
        } else if (!rc) {
            kpf_internal_axpby(N, 1.0, tmp, 0.0, e);
        }
        if (rc)
            return rc;
        kpf_internal_axpby(N, b_out[i], e, i ? 1.0 : 0.0, out);
    }
    kpf_internal_axpby(N, 0.0, out, h / 6.0, out);
    return KPF_OK;
}

const kpf_stepper_type kpf_stepper_rk4 = {
    "rk4", 4, 3, rk4_step, rk4_tangent, rk4_adjoint, rk4_jth, rk4_jthT,
};
