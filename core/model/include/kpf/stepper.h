/* kpf/stepper.h — the discrete step z_{k+1} = F(z_k, x_k; θ) and its exact
 * linearisation.
 *
 * A discrete-map plugin's F is its f.  A continuous plugin's F is one step of
 * the chosen method with fixed dt, the input held at x_k over the step:
 *   euler:  F = z + h f(z, t)
 *   rk4:    classical Runge–Kutta 4 (stages at t, t+h/2, t+h/2, t+h).
 * Each stepper gives F, its tangent J_F·v, adjoint J_Fᵀ·w, and parameter
 * products J_{F,θ}·dθ and J_{F,θ}ᵀ·w (accumulating) — exact derivatives of
 * the discrete map, not of the ODE, so the adjoint gradient is the gradient
 * of the loss the simulation actually computed.
 *
 * Stage storage.  `step` records, for each stage s, the state at which f was
 * evaluated (stage_z) and the plugin's tape there (stage_tape).  The
 * linearised ops read them back: nothing is recomputed except J products.
 * Stage s of the R rows starts at stage_z + s·stage_ld·n; stage_ld ≥ R lets
 * a trajectory lay stages out as [stage][T·B] so that all B·T rows of one
 * stage are contiguous for the K operator.
 *
 * Outputs never alias inputs.  Every op needs kpf_model_reserve(m, R). */
#ifndef KPF_STEPPER_H
#define KPF_STEPPER_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"
#include "kpf/instance.h"

KPF_BEGIN_DECLS

typedef struct kpf_step_rows {
    size_t R;
    const double *x;     /* R×n_in                          */
    const size_t *trial; /* R                               */
    const double *t;     /* R: time at the start of the step */
    double *stage_z;     /* n_stages blocks of R×n           */
    double *stage_tape;  /* n_stages blocks of R×tape_width (NULL if none) */
    size_t stage_ld;     /* rows from one stage block to the next */
} kpf_step_rows;

typedef struct kpf_stepper_type {
    const char *name;
    size_t n_stages;
    /* Scratch the stepper needs: this many R×n blocks (the model reserves
     * enough for every stepper, so a model's stepper may be swapped). */
    size_t work_blocks;
    /* z_next = F(z); fills stage_z and stage_tape. */
    int (*step)(kpf_model *m, const kpf_step_rows *s, const double *z, double *z_next,
                kpf_error *err);
    int (*tangent)(kpf_model *m, const kpf_step_rows *s, const double *v, double *out,
                   kpf_error *err);
    int (*adjoint)(kpf_model *m, const kpf_step_rows *s, const double *w, double *out,
                   kpf_error *err);
    int (*jth)(kpf_model *m, const kpf_step_rows *s, const double *dth, double *out,
               kpf_error *err);
    int (*jthT)(kpf_model *m, const kpf_step_rows *s, const double *w, double *g,
                kpf_error *err);
} kpf_stepper_type;

extern const kpf_stepper_type kpf_stepper_discrete;
extern const kpf_stepper_type kpf_stepper_euler;
extern const kpf_stepper_type kpf_stepper_rk4;

/* "euler" or "rk4" (continuous models), NULL otherwise. */
const kpf_stepper_type *kpf_stepper_by_name(const char *name);

/* Dispatch through m->stepper. */
int kpf_step(kpf_model *m, const kpf_step_rows *s, const double *z, double *z_next,
             kpf_error *err);
int kpf_step_tangent(kpf_model *m, const kpf_step_rows *s, const double *v, double *out,
                     kpf_error *err);
int kpf_step_adjoint(kpf_model *m, const kpf_step_rows *s, const double *w, double *out,
                     kpf_error *err);
int kpf_step_jth(kpf_model *m, const kpf_step_rows *s, const double *dth, double *out,
                 kpf_error *err);
int kpf_step_jthT(kpf_model *m, const kpf_step_rows *s, const double *w, double *g,
                  kpf_error *err);

KPF_END_DECLS
#endif
