/* KPFlow's four-task mixture (§3.2, App. E Experiment 2; reference
 * custom_tasks/mix_multi_tasks.py, notes/anchors.md §1.5): a context period
 * of t_context steps announces one of four memory-pro variants, then that
 * variant's trial follows (tasks/memory_pro.c fills it).
 *
 *   inputs  x = [fixation, A cos θ, A sin θ, MP, MA, DP, DA] + white noise
 *           on all 7 channels at every step (the reference adds it to the
 *           context period's first three channels and to the four context
 *           channels over the whole trial, memory_pro the rest)
 *   targets y = [fixation, A cos φ, A sin φ] as memory_pro; in the context
 *           period fixation 1 and 0, 0
 *   periods context | stimulus | memory | response
 *   mask    1 everywhere; with mask_response_only, the response period only
 *
 * The context one-hot (channel 3 + variant) is on during the context period
 * only: the paper says "after this duration, the context input is turned off,
 * instead of being on for the whole trial, as in prior work", and the
 * reference does so.  `context_throughout: true` keeps it on all trial (the
 * prior-work setting).  During the context period the fixation input is 1
 * and the stimulus channels are 0.
 *
 * Variants, cond[b] = variant id in the reference's order: 0 memory_pro
 * (MP), 1 memory_anti (MA), 2 delay_pro (DP), 3 delay_anti (DA).  Trials are
 * split evenly in contiguous blocks, as the reference concatenates its four
 * sub-batches: cond[b] = ⌊4b/B⌋ (block sizes differ by at most one when B is
 * not a multiple of 4; the reference would drop the remainder).
 *
 * Keys: t_context [30] and context_throughout [false], and memory_pro's
 * t_stim, t_memory, t_response [30 each], amplitude [1], noise [0.1·√2],
 * n_conditions [0], mask_response_only [false]; not anti / delay, which the
 * variant sets.
 *
 * Sub-tasks (kpf/task.h): S = 4, named MP, MA, DP, DA after cond.  Matched
 * trials (generate_matched, KPFlow Fig. 4B): B = 4R, trial g·R + r is variant
 * g with the r-th draws below, shared by the four variants.
 *
 * Random draws, in this order for each trial b = 0 … B−1 (none for the
 * variant, which b fixes; for matched trials, for each r = 0 … R−1):
 *   1. the angle, as memory_pro's draw 1;
 *   2. T·7 noise values gsl_ran_gaussian(σ), step-major (t outer, channel
 *      inner), drawn even when σ = 0. */
#include <stdlib.h>

#include <gsl/gsl_randist.h>

#include "kpf/task.h"
#include "memory_pro_internal.h"

enum { MX_N_VARIANTS = 4, MX_N_IN = KPF_MP_N_IN + MX_N_VARIANTS, MX_N_OUT = KPF_MP_N_OUT };
enum { MX_CONTEXT = 0 };

#define MX_MAX_STEPS ((size_t)1 << 24)

static const char *const mx_period_names[] = {"context", "stimulus", "memory", "response",
                                              NULL};

typedef struct mx_task {
    size_t t_context;
    int context_throughout;
    kpf_mp_task variant[MX_N_VARIANTS]; /* MP, MA, DP, DA */
    double noise_scale;                 /* 1, or 0 for evaluation sets */
} mx_task;

static size_t mx_T(const mx_task *s)
{
    return s->t_context + kpf_internal_mp_steps(&s->variant[0]);
}

static int mx_create(const kpf_node *node, void **self, kpf_error *err)
{
    mx_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the multitask4 task");
    s->noise_scale = 1.0;
    kpf_mp_task mp;
    int rc = kpf_cfg_size(node, "t_context", KPF_CFG_OPTIONAL, 30, 1, MX_MAX_STEPS,
                          &s->t_context, err);
    if (!rc)
        rc = kpf_cfg_bool(node, "context_throughout", KPF_CFG_OPTIONAL, 0,
                          &s->context_throughout, err);
    if (!rc)
        rc = kpf_internal_mp_read(node, &mp, err);
    if (!rc && mp.t_memory_min < mp.t_memory)
        rc = kpf_node_error(kpf_node_get(node, "t_memory_min"), err,
                            "multitask4 keeps the memory length fixed; drop t_memory_min");
    if (rc) {
        free(s);
        return rc;
    }
    for (int k = 0; k < MX_N_VARIANTS; k++) {
        s->variant[k] = mp;
        s->variant[k].anti = k & 1;         /* MA, DA */
        s->variant[k].delay = (k >> 1) & 1; /* DP, DA */
    }
    *self = s;
    return KPF_OK;
}

static void mx_set_noise_scale(void *self, double scale)
{
    ((mx_task *)self)->noise_scale = scale;
}

static void mx_destroy(void *self)
{
    free(self);
}

static void mx_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    *n_in = MX_N_IN;
    *n_out = MX_N_OUT;
    *T = mx_T(self);
}

/* Noise-free trial b of variant k: the context period, the context channels
 * everywhere, then memory_pro's steps after the context. */
static void mx_fill_trial(const mx_task *s, kpf_task_batch *bt, size_t b, int k,
                          double theta)
{
    const size_t B = bt->B;
    const int response_only = s->variant[k].response_only;
    for (size_t t = 0; t < bt->T; t++) {
        double *x = bt->x + (t * B + b) * MX_N_IN;
        const int cue = t < s->t_context || s->context_throughout;
        for (int v = 0; v < MX_N_VARIANTS; v++)
            x[KPF_MP_N_IN + v] = cue && v == k ? 1.0 : 0.0;
        if (t >= s->t_context)
            continue;
        double *y = bt->y + (t * B + b) * MX_N_OUT;
        x[0] = y[0] = 1.0;
        x[1] = x[2] = y[1] = y[2] = 0.0;
        bt->mask[t * B + b] = response_only ? 0.0 : 1.0;
        bt->period[t * B + b] = MX_CONTEXT;
    }
    kpf_internal_mp_fill_trial(&s->variant[k], bt, b, theta, s->variant[k].t_memory,
                               s->t_context, MX_CONTEXT + 1);
}

static int mx_check(const mx_task *s, const kpf_task_batch *bt, kpf_error *err)
{
    if (bt->T != mx_T(s) || bt->n_in != MX_N_IN || bt->n_out != MX_N_OUT)
        return kpf_error_set(err, KPF_EINVAL,
                             "multitask4: batch is T=%zu n_in=%zu n_out=%zu, task needs "
                             "T=%zu n_in=7 n_out=3",
                             bt->T, bt->n_in, bt->n_out, mx_T(s));
    return KPF_OK;
}

/* Draw 2 of one stimulus: T·7 noise values, added to each of the n_copies
 * trials b0, b0 + stride, … (one trial for generate; the S matched copies
 * for generate_matched, which share the draw). */
static void mx_add_noise(const mx_task *s, gsl_rng *rng, kpf_task_batch *bt, size_t b0,
                         size_t stride, size_t n_copies)
{
    const double sigma = s->variant[0].noise * s->noise_scale;
    for (size_t t = 0; t < bt->T; t++)
        for (size_t i = 0; i < MX_N_IN; i++) {
            const double e = gsl_ran_gaussian(rng, sigma);
            for (size_t c = 0; c < n_copies; c++)
                bt->x[(t * bt->B + b0 + c * stride) * MX_N_IN + i] += e;
        }
}

static int mx_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const mx_task *s = self;
    int rc = mx_check(s, bt, err);
    if (rc)
        return rc;
    for (size_t b = 0; b < bt->B; b++) {
        const int k = (int)(MX_N_VARIANTS * b / bt->B);
        int angle_cond;
        const double theta = kpf_internal_mp_draw_angle(&s->variant[k], rng, &angle_cond);
        bt->cond[b] = k;
        bt->trial[b] = b;
        mx_fill_trial(s, bt, b, k, theta);
        mx_add_noise(s, rng, bt, b, 0, 1);
    }
    return KPF_OK;
}

static const char *const mx_subtask_names[MX_N_VARIANTS] = {"MP", "MA", "DP", "DA"};

static size_t mx_subtasks(const void *self, const char *const **names)
{
    (void)self;
    *names = mx_subtask_names;
    return MX_N_VARIANTS;
}

/* Trial g·R + r is variant g with the r-th angle and noise draw, the same
 * draws (in generate's per-trial order: angle, then noise) for all four. */
static int mx_generate_matched(const void *self, gsl_rng *rng, kpf_task_batch *bt,
                               kpf_error *err)
{
    const mx_task *s = self;
    int rc = mx_check(s, bt, err);
    if (!rc && bt->B % MX_N_VARIANTS)
        rc = kpf_error_set(err, KPF_EINVAL,
                           "multitask4: %zu matched trials is not a multiple of the 4 "
                           "sub-tasks", bt->B);
    if (rc)
        return rc;
    const size_t R = bt->B / MX_N_VARIANTS;
    for (size_t r = 0; r < R; r++) {
        int angle_cond;
        const double theta = kpf_internal_mp_draw_angle(&s->variant[0], rng, &angle_cond);
        for (int k = 0; k < MX_N_VARIANTS; k++) {
            const size_t b = (size_t)k * R + r;
            bt->cond[b] = k;
            bt->trial[b] = b;
            mx_fill_trial(s, bt, b, k, theta);
        }
        mx_add_noise(s, rng, bt, r, R, MX_N_VARIANTS);
    }
    return KPF_OK;
}

extern const kpf_task_type kpf_task_multitask4;
const kpf_task_type kpf_task_multitask4 = {
    KPF_TASK_DESC_HEAD,
    .name = "multitask4",
    .summary = "KPFlow's mixture: a context cue, then memory/delay pro/anti",
    .period_names = mx_period_names,
    .create = mx_create,
    .destroy = mx_destroy,
    .dims = mx_dims,
    .generate = mx_generate,
    .set_noise_scale = mx_set_noise_scale,
    .subtasks = mx_subtasks,
    .generate_matched = mx_generate_matched,
};
