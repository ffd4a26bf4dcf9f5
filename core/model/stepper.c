/* Stepper dispatch, lookup, stage bookkeeping, and the discrete-map
 * "stepper" (F = f), whose linearisation is the plugin's own. */
#include <string.h>

#include "kpf/stepper.h"
#include "model_internal.h"
#include "stepper_internal.h"

kpf_rows kpf_internal_stage_rows(const kpf_model *m, const kpf_step_rows *s, size_t stage,
                                 const double *t)
{
    size_t tw = m->layout.tape_width;
    return (kpf_rows){
        .R = s->R,
        .z = s->stage_z + stage * s->stage_ld * m->n,
        .x = s->x,
        .trial = s->trial,
        .t = t,
        .tape = tw && s->stage_tape ? s->stage_tape + stage * s->stage_ld * tw : NULL,
    };
}

int kpf_internal_stage_set(kpf_model *m, const kpf_step_rows *s, size_t stage,
                           const double *t, const double *z, kpf_error *err)
{
    double *dst = s->stage_z + stage * s->stage_ld * m->n;
    if (dst != z)
        memcpy(dst, z, s->R * m->n * sizeof(double));
    size_t tw = m->layout.tape_width;
    if (!tw || !s->stage_tape)
        return KPF_OK;
    kpf_rows r = kpf_internal_stage_rows(m, s, stage, t);
    r.tape = NULL; /* being filled */
    return kpf_model_tape(m, &r, s->stage_tape + stage * s->stage_ld * tw, err);
}

double *kpf_internal_step_block(kpf_model *m, size_t R, size_t i)
{
    return m->scratch->step_work + i * R * m->n;
}

void kpf_internal_axpby(size_t N, double a, const double *x, double b, double *y)
{
    /* b == 0 must not read y: scratch may hold NaN bit patterns. */
    if (b == 0.0) {
        for (size_t i = 0; i < N; i++)
            y[i] = a * x[i];
        return;
    }
    for (size_t i = 0; i < N; i++)
        y[i] = a * x[i] + b * y[i];
}

/* ---- discrete maps: F = f ------------------------------------------------ */

static int disc_step(kpf_model *m, const kpf_step_rows *s, const double *z, double *z_next,
                     kpf_error *err)
{
    int rc = kpf_internal_stage_set(m, s, 0, s->t, z, err);
    if (rc)
        return rc;
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    return kpf_model_f(m, &r, z_next, err);
}

static int disc_tangent(kpf_model *m, const kpf_step_rows *s, const double *v, double *out,
                        kpf_error *err)
{
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    return kpf_model_jz(m, &r, v, out, err);
}

static int disc_adjoint(kpf_model *m, const kpf_step_rows *s, const double *w, double *out,
                        kpf_error *err)
{
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    return kpf_model_jzT(m, &r, w, out, err);
}

static int disc_jth(kpf_model *m, const kpf_step_rows *s, const double *dth, double *out,
                    kpf_error *err)
{
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    return kpf_model_jth(m, &r, dth, out, err);
}

static int disc_jthT(kpf_model *m, const kpf_step_rows *s, const double *w, double *g,
                     kpf_error *err)
{
    kpf_rows r = kpf_internal_stage_rows(m, s, 0, s->t);
    return kpf_model_jthT(m, &r, w, g, err);
}

const kpf_stepper_type kpf_stepper_discrete = {
    "discrete", 1, 0, disc_step, disc_tangent, disc_adjoint, disc_jth, disc_jthT,
};

const kpf_stepper_type *kpf_stepper_by_name(const char *name)
{
    if (strcmp(name, kpf_stepper_euler.name) == 0)
        return &kpf_stepper_euler;
    if (strcmp(name, kpf_stepper_rk4.name) == 0)
        return &kpf_stepper_rk4;
    return NULL;
}

int kpf_step(kpf_model *m, const kpf_step_rows *s, const double *z, double *z_next,
             kpf_error *err)
{
    return m->stepper->step(m, s, z, z_next, err);
}

int kpf_step_tangent(kpf_model *m, const kpf_step_rows *s, const double *v, double *out,
                     kpf_error *err)
{
    return m->stepper->tangent(m, s, v, out, err);
}

int kpf_step_adjoint(kpf_model *m, const kpf_step_rows *s, const double *w, double *out,
                     kpf_error *err)
{
    return m->stepper->adjoint(m, s, w, out, err);
}

int kpf_step_jth(kpf_model *m, const kpf_step_rows *s, const double *dth, double *out,
                 kpf_error *err)
{
    return m->stepper->jth(m, s, dth, out, err);
}

int kpf_step_jthT(kpf_model *m, const kpf_step_rows *s, const double *w, double *g,
                  kpf_error *err)
{
    return m->stepper->jthT(m, s, w, g, err);
}
