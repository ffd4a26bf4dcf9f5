/* `reach_curl`: centre-out reaching under a curl field (Pellegrino et al.
 * 2023, §5 and Supp. C, eq. C.0.1; Perich et al. 2018's force-field task),
 * in miniature and posed as inverse dynamics.
 *
 * Plant (the hand): a point mass m in the plane driven by the network's
 * two outputs u(t) (a force) and a velocity-dependent curl field,
 *     m ÿ = u + B ẏ,   B = b·R,   R = [[0, 1], [−1, 0]]
 * (R turns a vector 90° clockwise, the paper's c R ẏ with c = b and m = 1).
 *
 * Why inverse dynamics.  The task ABI scores the readout against a target
 * per step (masked MSE); it cannot run a plant between the readout and the
 * loss.  So the target is the force that makes the hand follow a desired
 * reach exactly: a minimum-jerk straight reach y*(t) from the origin to
 * the target at distance `distance` in direction θ_k = 2πk/targets, which
 * starts t_react after the go cue and lasts t_move.  Then
 *     u*(t) = m a*(t) − B v*(t)
 * (m ÿ = m a* + B(ẏ − v*) keeps ẏ = v*), zero before the movement (the
 * hand holds still) and after it (the hand rests on the target).  The loss
 * is the force error ‖u − u*‖², NOT the paper's position error ∫‖y − v‖²:
 * the two share their minimiser (u = u* puts the hand on y*), but they
 * weigh errors differently, and the paper's network chooses its own
 * (fastest) path while this one must produce y*.  Under the curl field the
 * required change of output is exactly −ΔB v*(t), a force along the
 * velocity turned 90°: the learning signal the paper's network also sees,
 * without the freedom to reshape the path.
 *
 * Units: time in the network's time constant (the rnn's τ = 1; the paper's
 * T_go = 2, T_end = 4), length in target distances, force in m·distance/τ².
 * With the defaults the peak target force is 5.77 (min-jerk peak
 * acceleration 5.77·d/t_move²) and the peak curl force b·1.875 (peak speed
 * 1.875·d/t_move).
 *
 * Steps.  T = int(t_end/dt) (as the Schuessler tasks count).  Step t stands
 * for the interval [t·dt, (t+1)·dt): its inputs and period are those of the
 * midpoint (t + ½)·dt, and its target force is the mean of u* over the
 * interval, u_t = [m Δv* − B Δy*]/dt (Δ over the interval), so that a plant
 * that holds u_t over the step (zero-order hold) has exactly the reach's
 * velocity change across it without the field, and follows y* within
 * O(dt²) with or without it (tests/test_reach_task.c integrates it).  The
 * midpoint value would be off by dt²/24 of the jerk, which jumps at the
 * reach's ends: 0.025 distances at dt = 0.1, against 0.005 for the mean.
 *
 * Inputs (3, as eq. C.0.1): cos θ_k, sin θ_k and a hold cue 1 while the
 * midpoint is before t_go; all three 0 afterwards (the network then runs
 * autonomously and must remember the target).  Outputs (2): the force.
 * Periods: hold | react | reach | stay.  Mask: every step (a still hand
 * before the go cue is part of the task).  cond[b] = k, the target index.
 *
 * Keys: dt [0.1], t_go [2], t_end [4], t_react [0], t_move [1],
 *   targets [8], distance [1], mass [1], curl [0] (b; b > 0 is clockwise).
 * Random draws, per trial b = 0 … B−1: one gsl_rng_uniform_int(rng,
 * targets) → k.  No noise. */
#include "reach_task.h"

#include <math.h>
#include <stdlib.h>

/* Cap on T so that T·B·dim overflow is left to kpf_task_batch_alloc. */
#define REACH_MAX_STEPS ((size_t)1 << 20)

enum { R_N_IN = 3, R_N_OUT = 2 };
enum { R_HOLD, R_REACT, R_REACH, R_STAY };

static const char *const reach_period_names[] = {"hold", "react", "reach", "stay", NULL};

typedef struct reach_task {
    double dt, t_go, t_end, t_react, t_move, distance, mass, curl;
    size_t T, targets;
    /* Per step, along the target direction: the changes of y*'s position
     * and velocity across the step's interval over dt (the interval's mean
     * velocity and acceleration), and the period — the same for every
     * target. */
    double *speed, *accel;
    int *period;
} reach_task;

void kpf_reach_min_jerk(double tau, double *s, double *ds, double *dds)
{
    double p = 1.0, v = 0.0, a = 0.0;
    if (tau <= 0.0)
        p = 0.0;
    else if (tau < 1.0) {
        const double t2 = tau * tau, t3 = t2 * tau;
        p = t3 * (10.0 - 15.0 * tau + 6.0 * t2);
        v = 30.0 * t2 * (1.0 - 2.0 * tau + t2);
        a = 60.0 * tau * (1.0 - 3.0 * tau + 2.0 * t2);
    }
    if (s) *s = p;
    if (ds) *ds = v;
    if (dds) *dds = a;
}

/* floor(d/dt) with a quotient within 1e-9 of an integer counted as that
 * integer (0.3/0.1 is 3 steps), like the core's Schuessler tasks. */
static size_t steps_of(double d, double dt)
{
    const double q = d / dt, r = nearbyint(q);
    const double f = fabs(q - r) <= 1e-9 * fmax(1.0, fabs(q)) ? r : floor(q);
    return f > (double)REACH_MAX_STEPS ? REACH_MAX_STEPS + 1 : (size_t)f;
}

static const kpf_node *at_key(const kpf_node *node, const char *key)
{
    const kpf_node *v = kpf_node_get(node, key);
    return v ? v : node;
}

static int read_times(const kpf_node *node, reach_task *s, kpf_error *err)
{
    int rc = kpf_cfg_double(node, "dt", KPF_CFG_OPTIONAL, 0.1, 1e-12, HUGE_VAL, &s->dt, err);
    if (!rc)
        rc = kpf_cfg_double(node, "t_go", KPF_CFG_OPTIONAL, 2.0, 0.0, HUGE_VAL, &s->t_go, err);
    if (!rc)
        rc = kpf_cfg_double(node, "t_end", KPF_CFG_OPTIONAL, 4.0, 0.0, HUGE_VAL, &s->t_end,
                            err);
    if (!rc)
        rc = kpf_cfg_double(node, "t_react", KPF_CFG_OPTIONAL, 0.0, 0.0, HUGE_VAL,
                            &s->t_react, err);
    if (!rc)
        rc = kpf_cfg_double(node, "t_move", KPF_CFG_OPTIONAL, 1.0, 1e-12, HUGE_VAL,
                            &s->t_move, err);
    if (rc)
        return rc;
    s->T = steps_of(s->t_end, s->dt);
    if (s->T > REACH_MAX_STEPS)
        return kpf_node_error(at_key(node, "t_end"), err,
                              "t_end/dt = %g steps is more than the %zu allowed",
                              s->t_end / s->dt, (size_t)REACH_MAX_STEPS);
    if (steps_of(s->t_go, s->dt) < 1)
        return kpf_node_error(at_key(node, "t_go"), err,
                              "t_go = %g is less than one step (dt = %g): the target would "
                              "never be shown",
                              s->t_go, s->dt);
    /* The reach must end inside the trial, or the hand never arrives. */
    if (s->t_go + s->t_react + s->t_move > s->t_end)
        return kpf_node_error(at_key(node, "t_move"), err,
                              "the reach ends at t_go + t_react + t_move = %g, after t_end = %g",
                              s->t_go + s->t_react + s->t_move, s->t_end);
    return KPF_OK;
}

static int read_plant(const kpf_node *node, reach_task *s, kpf_error *err)
{
    int rc = kpf_cfg_size(node, "targets", KPF_CFG_OPTIONAL, 8, 1, 360, &s->targets, err);
    if (!rc)
        rc = kpf_cfg_double(node, "distance", KPF_CFG_OPTIONAL, 1.0, 0.0, HUGE_VAL,
                            &s->distance, err);
    if (!rc)
        rc = kpf_cfg_double(node, "mass", KPF_CFG_OPTIONAL, 1.0, 1e-12, HUGE_VAL, &s->mass,
                            err);
    if (!rc)
        rc = kpf_cfg_double(node, "curl", KPF_CFG_OPTIONAL, 0.0, -HUGE_VAL, HUGE_VAL,
                            &s->curl, err);
    return rc;
}

/* The per-step profile along the reach direction (see the top comment). */
static void fill_profile(reach_task *s)
{
    const double start = s->t_go + s->t_react, d = s->distance, tm = s->t_move;
    for (size_t t = 0; t < s->T; t++) {
        const double t0 = (double)t * s->dt, t1 = (double)(t + 1) * s->dt;
        const double mid = ((double)t + 0.5) * s->dt;
        double p0, p1, v0, v1;
        kpf_reach_min_jerk((t0 - start) / tm, &p0, &v0, NULL);
        kpf_reach_min_jerk((t1 - start) / tm, &p1, &v1, NULL);
        s->speed[t] = d * (p1 - p0) / s->dt;
        s->accel[t] = d * (v1 - v0) / (tm * s->dt);
        s->period[t] = mid < s->t_go ? R_HOLD
                       : mid < start ? R_REACT
                       : mid < start + tm ? R_REACH
                                      : R_STAY;
    }
}

static void reach_destroy(void *self)
{
    reach_task *s = self;
    if (!s)
        return;
    free(s->speed);
    free(s->accel);
    free(s->period);
    free(s);
}

static int reach_create(const kpf_node *node, void **self, kpf_error *err)
{
    reach_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "reach_curl: out of memory");
    int rc = read_times(node, s, err);
    if (!rc)
        rc = read_plant(node, s, err);
    if (!rc) {
        s->speed = malloc(s->T * sizeof *s->speed + 1);
        s->accel = malloc(s->T * sizeof *s->accel + 1);
        s->period = malloc(s->T * sizeof *s->period + 1);
        if (!s->speed || !s->accel || !s->period)
            rc = kpf_error_set(err, KPF_ENOMEM, "reach_curl: out of memory");
    }
    if (rc) {
        reach_destroy(s);
        return rc;
    }
    fill_profile(s);
    *self = s;
    return KPF_OK;
}

static void reach_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    const reach_task *s = self;
    *n_in = R_N_IN;
    *n_out = R_N_OUT;
    *T = s->T;
}

/* Trial b towards target k: u_t = m ā e − B v̄ e with e = (cos θ, sin θ),
 * ā, v̄ the step's mean acceleration and velocity, and B v = b (v_y, −v_x). */
static void fill_trial(const reach_task *s, kpf_task_batch *bt, size_t b, size_t k)
{
    const size_t B = bt->B;
    const double th = 2.0 * M_PI * (double)k / (double)s->targets;
    const double ex = cos(th), ey = sin(th), m = s->mass, c = s->curl;
    bt->cond[b] = (int)k;
    bt->trial[b] = b;
    for (size_t t = 0; t < s->T; t++) {
        const size_t tb = t * B + b;
        const int hold = s->period[t] == R_HOLD;
        double *x = bt->x + tb * R_N_IN, *y = bt->y + tb * R_N_OUT;
        x[0] = hold ? ex : 0.0;
        x[1] = hold ? ey : 0.0;
        x[2] = hold ? 1.0 : 0.0;
        const double a = s->accel[t], v = s->speed[t];
        y[0] = m * a * ex - c * v * ey;
        y[1] = m * a * ey + c * v * ex;
        bt->mask[tb] = 1.0;
        bt->period[tb] = s->period[t];
    }
}

static int reach_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const reach_task *s = self;
    if (bt->T != s->T || bt->n_in != R_N_IN || bt->n_out != R_N_OUT)
        return kpf_error_set(err, KPF_EINVAL,
                             "reach_curl: batch is T=%zu n_in=%zu n_out=%zu, task needs T=%zu "
                             "n_in=3 n_out=2",
                             bt->T, bt->n_in, bt->n_out, s->T);
    for (size_t b = 0; b < bt->B; b++)
        fill_trial(s, bt, b, (size_t)gsl_rng_uniform_int(rng, s->targets));
    return KPF_OK;
}

static const kpf_task_desc reach_curl = {
    KPF_TASK_DESC_HEAD,
    .name = "reach_curl",
    .summary = "Pellegrino et al. 2023 §5: centre-out reach of a point mass under a curl "
               "field; target = the force (inverse dynamics) of a minimum-jerk reach",
    .period_names = reach_period_names,
    .create = reach_create,
    .destroy = reach_destroy,
    .dims = reach_dims,
    .generate = reach_generate,
};

const kpf_task_desc *kpf_pellegrino_task_descriptor(uint32_t index)
{
    return index == 0 ? &reach_curl : NULL;
}
