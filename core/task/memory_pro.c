/* The memory-pro family of KPFlow (§3.1, App. E; reference
 * custom_tasks/memory_pro.py): memorise a direction θ shown during the
 * stimulus period, hold it through the memory period while fixating, then
 * reproduce it (pro) or its opposite (anti) in the response period.
 *
 *   inputs  x = [fixation, A cos θ, A sin θ] + white noise on every channel
 *   targets y = [fixation, A cos φ, A sin φ],  φ = θ (pro) or θ + π (anti)
 *
 * Four names share this code: memory_pro, memory_anti, delay_pro and
 * delay_anti.  The variants preset the `anti` / `delay` flags; a YAML may
 * repeat a preset flag but not contradict it.
 *
 * Variable memory (t_memory_min < t_memory): each trial's memory period
 * lasts m steps, m uniform in t_memory_min … t_memory, and its response
 * period the remaining t_response + t_memory − m, so T is fixed and the
 * fixation cue — not the clock — says when to respond.  A network that must
 * hold a direction for an unknown time cannot use a timed trajectory; it
 * needs a persistent (attractor) memory.
 *
 * Random draws, in this order for each trial b = 0 … B−1:
 *   1. the angle: gsl_rng_uniform_int(k) when n_conditions = k > 0,
 *      else 2π·gsl_rng_uniform (uniform on [0, 2π));
 *   1b. only with t_memory_min < t_memory: m − t_memory_min =
 *      gsl_rng_uniform_int(t_memory − t_memory_min + 1);
 *   2. T·3 noise values gsl_ran_gaussian(σ), step-major (t outer, channel
 *      inner).  They are drawn even when σ = 0, so the angles of a noisy and
 *      a noise-free batch from the same seed coincide. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>

#include "kpf/task.h"
#include "memory_pro_internal.h"

enum { MP_N_IN = KPF_MP_N_IN, MP_N_OUT = KPF_MP_N_OUT };
enum { MP_STIMULUS = 0, MP_MEMORY = 1, MP_RESPONSE = 2 };

/* Generous cap on each period so that T and B·T·3 cannot overflow. */
#define MP_MAX_STEPS ((size_t)1 << 24)

/* The settings; defined in memory_pro_internal.h for tasks/multitask.c. */
typedef kpf_mp_task mp_task;

/* Flags implied by the task name; `fixed` forbids contradicting them. */
typedef struct mp_preset {
    int anti, delay, fixed;
} mp_preset;

static const char *const mp_period_names[] = {"stimulus", "memory", "response", NULL};

static size_t mp_T(const mp_task *s)
{
    return s->t_stim + s->t_memory + s->t_response;
}

/* ---- configuration -------------------------------------------------------- */

static int mp_read_steps(const kpf_node *node, mp_task *s, kpf_error *err)
{
    int rc = kpf_cfg_size(node, "t_stim", KPF_CFG_OPTIONAL, 30, 1, MP_MAX_STEPS,
                          &s->t_stim, err);
    if (!rc)
        rc = kpf_cfg_size(node, "t_memory", KPF_CFG_OPTIONAL, 30, 0, MP_MAX_STEPS,
                          &s->t_memory, err);
    if (!rc)
        rc = kpf_cfg_size(node, "t_memory_min", KPF_CFG_OPTIONAL, s->t_memory, 0, s->t_memory,
                          &s->t_memory_min, err);
    if (!rc)
        rc = kpf_cfg_size(node, "t_response", KPF_CFG_OPTIONAL, 30, 1, MP_MAX_STEPS,
                          &s->t_response, err);
    return rc;
}

static int mp_read_signal(const kpf_node *node, mp_task *s, kpf_error *err)
{
    int rc = kpf_cfg_double(node, "amplitude", KPF_CFG_OPTIONAL, 1.0, 0.0, DBL_MAX,
                            &s->amplitude, err);
    if (rc)
        return rc;
    /* The getter's bounds are inclusive; amplitude 0 would make the task
     * carry no information, so it is refused here. */
    if (!(s->amplitude > 0.0))
        return kpf_node_error(kpf_node_get(node, "amplitude"), err,
                              "expected a number > 0 (got %g)", s->amplitude);
    /* Reference default: input noise 0.1·√2. */
    rc = kpf_cfg_double(node, "noise", KPF_CFG_OPTIONAL, 0.1 * M_SQRT2, 0.0, DBL_MAX,
                        &s->noise, err);
    if (!rc)
        rc = kpf_cfg_size(node, "n_conditions", KPF_CFG_OPTIONAL, 0, 0, INT_MAX,
                          &s->n_conditions, err);
    if (!rc)
        rc = kpf_cfg_bool(node, "mask_response_only", KPF_CFG_OPTIONAL, 0,
                          &s->response_only, err);
    return rc;
}

static int mp_read_flag(const kpf_node *node, const char *key, int preset, int fixed,
                        int *out, kpf_error *err)
{
    int rc = kpf_cfg_bool(node, key, KPF_CFG_OPTIONAL, preset, out, err);
    if (rc)
        return rc;
    *out = *out != 0;
    if (fixed && *out != preset)
        return kpf_node_error(kpf_node_get(node, key), err,
                              "contradicts the task name, which implies %s: %s", key,
                              preset ? "true" : "false");
    return KPF_OK;
}

static int mp_create_preset(const kpf_node *node, mp_preset p, void **self,
                            kpf_error *err)
{
    mp_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the memory_pro task");
    s->noise_scale = 1.0;
    int rc = mp_read_steps(node, s, err);
    if (!rc)
        rc = mp_read_signal(node, s, err);
    if (!rc)
        rc = mp_read_flag(node, "anti", p.anti, p.fixed, &s->anti, err);
    if (!rc)
        rc = mp_read_flag(node, "delay", p.delay, p.fixed, &s->delay, err);
    if (rc) {
        free(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static int mp_create_memory_pro(const kpf_node *node, void **self, kpf_error *err)
{
    return mp_create_preset(node, (mp_preset){0, 0, 0}, self, err);
}

static int mp_create_memory_anti(const kpf_node *node, void **self, kpf_error *err)
{
    return mp_create_preset(node, (mp_preset){1, 0, 1}, self, err);
}

static int mp_create_delay_pro(const kpf_node *node, void **self, kpf_error *err)
{
    return mp_create_preset(node, (mp_preset){0, 1, 1}, self, err);
}

static int mp_create_delay_anti(const kpf_node *node, void **self, kpf_error *err)
{
    return mp_create_preset(node, (mp_preset){1, 1, 1}, self, err);
}

static void mp_set_noise_scale(void *self, double scale)
{
    ((mp_task *)self)->noise_scale = scale;
}

static void mp_destroy(void *self)
{
    free(self);
}

static void mp_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    *n_in = MP_N_IN;
    *n_out = MP_N_OUT;
    *T = mp_T(self);
}

/* ---- generation ----------------------------------------------------------- */

static int mp_period_of(const mp_task *s, size_t t, size_t t_mem)
{
    if (t < s->t_stim)
        return MP_STIMULUS;
    return t < s->t_stim + t_mem ? MP_MEMORY : MP_RESPONSE;
}

/* Draw 1b: this trial's memory length (no draw when it is fixed). */
static size_t mp_draw_memory(const mp_task *s, gsl_rng *rng)
{
    if (s->t_memory_min >= s->t_memory)
        return s->t_memory;
    return s->t_memory_min +
           gsl_rng_uniform_int(rng, (unsigned long)(s->t_memory - s->t_memory_min + 1));
}

/* Draw 1 of the per-trial order; *cond gets the condition index. */
static double mp_draw_angle(const mp_task *s, gsl_rng *rng, int *cond)
{
    if (s->n_conditions == 0) {
        *cond = 0;
        return 2.0 * M_PI * gsl_rng_uniform(rng);
    }
    unsigned long j = gsl_rng_uniform_int(rng, (unsigned long)s->n_conditions);
    *cond = (int)j;
    return 2.0 * M_PI * (double)j / (double)s->n_conditions;
}

/* Noise-free inputs, targets, mask and period of one trial, written at steps
 * t0 … t0 + mp_T − 1 with period labels offset by period0 (both 0 here;
 * tasks/multitask.c puts a context period first), rows of stride n_in/n_out.
 * Delay variants follow the paper (App. E, Experiment 2): "Delay-Pro (DP),
 * where there is no memory period and the stimulus is present throughout the
 * task" — so with `delay` the stimulus stays on in every period, response
 * included; the memory period (if t_memory > 0) keeps its label and its
 * fixation but is then only a longer wait with the stimulus visible. */
static void mp_fill_trial(const mp_task *s, kpf_task_batch *bt, size_t b, double theta,
                          size_t t_mem, size_t t0, int period0)
{
    const double c = s->amplitude * cos(theta), sn = s->amplitude * sin(theta);
    /* Anti: cos(θ+π) = −cos θ, sin(θ+π) = −sin θ; negating is exact. */
    const double sign = s->anti ? -1.0 : 1.0;
    const size_t B = bt->B;
    for (size_t t = t0; t < t0 + mp_T(s); t++) {
        const int p = mp_period_of(s, t - t0, t_mem);
        const int stim_on = p == MP_STIMULUS || s->delay;
        const int respond = p == MP_RESPONSE;
        double *x = bt->x + (t * B + b) * bt->n_in;
        double *y = bt->y + (t * B + b) * bt->n_out;
        x[0] = respond ? 0.0 : 1.0;
        x[1] = stim_on ? c : 0.0;
        x[2] = stim_on ? sn : 0.0;
        y[0] = x[0];
        y[1] = respond ? sign * c : 0.0;
        y[2] = respond ? sign * sn : 0.0;
        bt->mask[t * B + b] = (!s->response_only || respond) ? 1.0 : 0.0;
        bt->period[t * B + b] = period0 + p;
    }
}

/* Draw 2 of the per-trial order: white noise on every input channel. */
static void mp_add_noise(const mp_task *s, gsl_rng *rng, kpf_task_batch *bt, size_t b)
{
    for (size_t t = 0; t < bt->T; t++) {
        double *x = bt->x + (t * bt->B + b) * MP_N_IN;
        for (size_t i = 0; i < MP_N_IN; i++)
            x[i] += gsl_ran_gaussian(rng, s->noise * s->noise_scale);
    }
}

static int mp_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt,
                       kpf_error *err)
{
    const mp_task *s = self;
    if (bt->T != mp_T(s) || bt->n_in != MP_N_IN || bt->n_out != MP_N_OUT)
        return kpf_error_set(err, KPF_EINVAL,
                             "memory_pro: batch is T=%zu n_in=%zu n_out=%zu, "
                             "task needs T=%zu n_in=3 n_out=3",
                             bt->T, bt->n_in, bt->n_out, mp_T(s));
    for (size_t b = 0; b < bt->B; b++) {
        int cond;
        const double theta = mp_draw_angle(s, rng, &cond);
        const size_t t_mem = mp_draw_memory(s, rng);
        bt->cond[b] = cond;
        bt->trial[b] = b;
        mp_fill_trial(s, bt, b, theta, t_mem, 0, 0);
        mp_add_noise(s, rng, bt, b);
    }
    return KPF_OK;
}

/* ---- shared with tasks/multitask.c (memory_pro_internal.h) ---------------- */

size_t kpf_internal_mp_steps(const kpf_mp_task *s)
{
    return mp_T(s);
}

int kpf_internal_mp_read(const kpf_node *node, kpf_mp_task *s, kpf_error *err)
{
    *s = (kpf_mp_task){0};
    int rc = mp_read_steps(node, s, err);
    return rc ? rc : mp_read_signal(node, s, err);
}

double kpf_internal_mp_draw_angle(const kpf_mp_task *s, gsl_rng *rng, int *cond)
{
    return mp_draw_angle(s, rng, cond);
}

void kpf_internal_mp_fill_trial(const kpf_mp_task *s, kpf_task_batch *bt, size_t b,
                                double theta, size_t t_mem, size_t t0, int period0)
{
    mp_fill_trial(s, bt, b, theta, t_mem, t0, period0);
}

/* ---- the four registered names ------------------------------------------- */

/* Exported for tasks/registry.c, which declares them extern too. */
#define MP_TYPE(ident, tname, tsummary, create_fn)                                     \
    extern const kpf_task_type ident;                                                  \
    const kpf_task_type ident = {KPF_TASK_DESC_HEAD,                                  \
                                 .name = tname,                                        \
                                 .summary = tsummary,                                  \
                                 .period_names = mp_period_names,                      \
                                 .create = create_fn,                                  \
                                 .destroy = mp_destroy,                                \
                                 .dims = mp_dims,                                      \
                                 .generate = mp_generate,                              \
                                 .set_noise_scale = mp_set_noise_scale}

MP_TYPE(kpf_task_memory_pro, "memory_pro",
        "remember a direction through a memory period, then report it",
        mp_create_memory_pro);
MP_TYPE(kpf_task_memory_anti, "memory_anti",
        "memory_pro reporting the opposite direction (anti: true)",
        mp_create_memory_anti);
MP_TYPE(kpf_task_delay_pro, "delay_pro",
        "memory_pro with the stimulus on throughout (delay: true)", mp_create_delay_pro);
MP_TYPE(kpf_task_delay_anti, "delay_anti",
        "delay_pro reporting the opposite direction (anti, delay: true)",
        mp_create_delay_anti);
