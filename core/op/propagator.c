/* The propagation operators along a trajectory: P (linear form), P*, the
 * direct form, P⁻¹, and the fundamental operator U with U*.  P, P* and U are
 * the tangent/adjoint sweeps of propagate.c; nothing here steps Jacobians
 * on its own except P⁻¹'s single-step products and the direct form's
 * nonlinear re-simulation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/propagate.h"
#include "kpf/stepper.h"
#include "kpflow_internal.h"

/* A trajectory split over ranks gives split spaces with the whole batch's
 * weight (kpf/operator.h). */
kpf_space kpf_traj_space(const kpf_traj *tr)
{
    return (kpf_space){tr->B, tr->T, tr->n, tr->dt / (double)tr->B_total, tr->comm};
}

kpf_space kpf_init_space(const kpf_traj *tr)
{
    return (kpf_space){tr->B, 1, tr->n, 1.0 / (double)tr->B_total, tr->comm};
}

kpf_space kpf_output_space(const kpf_model *m, const kpf_traj *tr)
{
    return (kpf_space){tr->B, tr->T, m->n_out, tr->dt / (double)tr->B_total, tr->comm};
}

int kpf_internal_traj_check_rows(kpf_model *m, const kpf_traj *tr, size_t rows,
                                 const char *who, kpf_error *err)
{
    if (!m || !tr)
        return kpf_error_set(err, KPF_EINVAL, "%s: NULL model or trajectory", who);
    if (tr->n != m->n || tr->n_in != m->n_in || tr->n_stages != m->stepper->n_stages ||
        tr->tape_width != m->layout.tape_width)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: the trajectory was allocated for another model or stepper",
                             who);
    if (!(tr->dt > 0))
        return kpf_error_set(err, KPF_EINVAL, "%s: trajectory step dt = %g must be > 0", who,
                             tr->dt);
    return kpf_model_reserve(m, rows, err);
}

int kpf_internal_traj_check(kpf_model *m, const kpf_traj *tr, const char *who,
                            kpf_error *err)
{
    return kpf_internal_traj_check_rows(m, tr, tr ? tr->B * tr->T : 0, who, err);
}

/* ---- state shared by the sweep operators ------------------------------- */

typedef struct prop_st {
    kpf_model *m;
    const kpf_traj *tr;
    double *lam;        /* U*: the adjoint sweep's λ (B·T·n)            */
    double *stage_z;    /* direct form: one step's stages (n_stages·B·n) */
    double *stage_tape; /* direct form: their tapes, or NULL             */
} prop_st;

static void prop_free_state(void *p)
{
    prop_st *s = p;
    if (s) {
        free(s->lam);
        free(s->stage_z);
        free(s->stage_tape);
    }
    free(s);
}

static void prop_destroy(kpf_op *op) { prop_free_state(op->state); }

static size_t step_size(const kpf_traj *tr) { return tr->B * tr->n; }

/* ---- P and P* ------------------------------------------------------------ */

static int tangent_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    prop_st *s = op->state;
    return kpf_propagate_tangent(s->m, s->tr, in, NULL, out, err);
}

static int adjoint_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    prop_st *s = op->state;
    return kpf_propagate_adjoint(s->m, s->tr, in, out, NULL, err);
}

/* 𝕋's weights are uniform, so the Euclidean transpose of the sweep is the
 * adjoint in 𝕋. */
static const kpf_op_type P_type = {"P", tangent_apply, adjoint_apply, prop_destroy};
static const kpf_op_type Pstar_type = {"P*", adjoint_apply, tangent_apply, prop_destroy};

/* The state every sweep op needs, checked and with scratch reserved.  The
 * sweeps step B rows at a time, so B rows of scratch suffice (B·T would be
 * n_stages + 3 trajectory-sized arrays of address space never touched). */
static int new_state(kpf_model *m, const kpf_traj *tr, const char *who, prop_st **out,
                     kpf_error *err)
{
    int rc = kpf_internal_traj_check_rows(m, tr, tr ? tr->B : 0, who, err);
    if (rc)
        return rc;
    prop_st *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", who);
    s->m = m;
    s->tr = tr;
    *out = s;
    return KPF_OK;
}

static int make(const kpf_op_type *type, kpf_space in, kpf_space out, prop_st *s,
                kpf_op **op, kpf_error *err)
{
    int rc = kpf_op_new(type, in, out, s, op, err);
    if (rc)
        prop_free_state(s);
    return rc;
}

static int make_sweep_op(kpf_model *m, const kpf_traj *tr, const kpf_op_type *type,
                         kpf_op **out, kpf_error *err)
{
    prop_st *s = NULL; /* set by new_state on success; NULL quiets -Wmaybe-uninitialized */
    int rc = new_state(m, tr, type->name, &s, err);
    if (rc)
        return rc;
    kpf_space T = kpf_traj_space(tr);
    return make(type, T, T, s, out, err);
}

int kpf_op_propagator(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    return make_sweep_op(m, tr, &P_type, out, err);
}

int kpf_op_propagator_adjoint(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                              kpf_error *err)
{
    return make_sweep_op(m, tr, &Pstar_type, out, err);
}

/* ---- P, direct form ------------------------------------------------------ */

/* The rows of step k of tr, but with stage storage of our own: stepping
 * must not overwrite the trajectory's linearisation point. */
static kpf_step_rows private_rows(const prop_st *s, size_t k)
{
    kpf_step_rows r = kpf_traj_step_rows(s->tr, k);
    r.stage_z = s->stage_z;
    r.stage_tape = s->stage_tape;
    r.stage_ld = s->tr->B;
    return r;
}

static int direct_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    prop_st *s = op->state;
    const kpf_traj *tr = s->tr;
    size_t N = step_size(tr), T = tr->T;
    int rc = KPF_OK;
    /* out holds the perturbed trajectory first, then the difference. */
    for (size_t k = 0; !rc && k < T; k++) {
        kpf_step_rows r = private_rows(s, k);
        const double *prev = k ? out + (k - 1) * N : tr->z0;
        rc = kpf_step(s->m, &r, prev, out + k * N, err);
        for (size_t i = 0; !rc && i < N; i++)
            out[k * N + i] += in[k * N + i];
    }
    for (size_t i = 0; !rc && i < N * T; i++) {
        out[i] -= tr->z[i];
        if (!isfinite(out[i]))
            rc = kpf_error_set(err, KPF_ENUMERIC,
                               "P (direct form): the perturbed simulation diverged at step "
                               "%zu",
                               i / N);
    }
    return rc;
}

/* Only approximately linear, so its "adjoint" is the linear P*. */
static const kpf_op_type Pdir_type = {"P_direct", direct_apply, adjoint_apply, prop_destroy};

int kpf_op_propagator_direct(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    prop_st *s = NULL; /* set by new_state on success; NULL quiets -Wmaybe-uninitialized */
    int rc = new_state(m, tr, "P_direct", &s, err);
    if (rc)
        return rc;
    size_t ns = tr->n_stages, tw = tr->tape_width;
    s->stage_z = malloc(ns * step_size(tr) * sizeof(double));
    if (tw)
        s->stage_tape = malloc(ns * tr->B * tw * sizeof(double));
    if (!s->stage_z || (tw && !s->stage_tape)) {
        prop_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "P_direct: out of memory");
    }
    kpf_space T = kpf_traj_space(tr);
    return make(&Pdir_type, T, T, s, out, err);
}

/* ---- P⁻¹ ----------------------------------------------------------------- */

/* (P⁻¹q)_k = q_k − J_F(k) q_{k−1} */
static int inverse_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    prop_st *s = op->state;
    size_t N = step_size(s->tr);
    memcpy(out, in, N * sizeof(double));
    for (size_t k = 1; k < s->tr->T; k++) {
        kpf_step_rows r = kpf_traj_step_rows(s->tr, k);
        double *dst = out + k * N;
        int rc = kpf_step_tangent(s->m, &r, in + (k - 1) * N, dst, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < N; i++)
            dst[i] = in[k * N + i] - dst[i];
    }
    return KPF_OK;
}

/* (P⁻*w)_k = w_k − J_F(k+1)ᵀ w_{k+1} */
static int inverse_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    prop_st *s = op->state;
    size_t N = step_size(s->tr), T = s->tr->T;
    memcpy(out + (T - 1) * N, in + (T - 1) * N, N * sizeof(double));
    for (size_t k = 0; k + 1 < T; k++) {
        kpf_step_rows r = kpf_traj_step_rows(s->tr, k + 1);
        double *dst = out + k * N;
        int rc = kpf_step_adjoint(s->m, &r, in + (k + 1) * N, dst, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < N; i++)
            dst[i] = in[k * N + i] - dst[i];
    }
    return KPF_OK;
}

static const kpf_op_type Pinv_type = {"P_inverse", inverse_apply, inverse_adjoint,
                                      prop_destroy};

int kpf_op_propagator_inverse(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                              kpf_error *err)
{
    return make_sweep_op(m, tr, &Pinv_type, out, err);
}

/* ---- U and U* -------------------------------------------------------------- */

static int fund_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    prop_st *s = op->state;
    return kpf_propagate_tangent(s->m, s->tr, NULL, in, out, err);
}

/* U* r = (w_𝕋 / w_Z₀) · λ_{−1}(r): the sweep gives the Euclidean transpose;
 * the ratio of the two spaces' weights (dt/B over 1/B = dt) makes it the
 * adjoint in their inner products. */
static int fund_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    prop_st *s = op->state;
    const kpf_traj *tr = s->tr;
    int rc = kpf_propagate_adjoint(s->m, tr, in, s->lam, out, err);
    kpf_space T = kpf_traj_space(tr), Z = kpf_init_space(tr);
    double c = T.weight / Z.weight;
    for (size_t i = 0; !rc && i < step_size(tr); i++)
        out[i] *= c;
    return rc;
}

static const kpf_op_type U_type = {"U", fund_apply, fund_adjoint, prop_destroy};
static const kpf_op_type Ustar_type = {"U*", fund_adjoint, fund_apply, prop_destroy};

static int make_fund(kpf_model *m, const kpf_traj *tr, int star, kpf_op **out,
                     kpf_error *err)
{
    prop_st *s = NULL; /* set by new_state on success; NULL quiets -Wmaybe-uninitialized */
    const kpf_op_type *type = star ? &Ustar_type : &U_type;
    int rc = new_state(m, tr, type->name, &s, err);
    if (rc)
        return rc;
    if (!(s->lam = malloc(tr->T * step_size(tr) * sizeof(double)))) {
        prop_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", type->name);
    }
    kpf_space T = kpf_traj_space(tr), Z = kpf_init_space(tr);
    return star ? make(type, T, Z, s, out, err) : make(type, Z, T, s, out, err);
}

int kpf_op_fundamental(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    return make_fund(m, tr, 0, out, err);
}

int kpf_op_fundamental_adjoint(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                               kpf_error *err)
{
    return make_fund(m, tr, 1, out, err);
}
