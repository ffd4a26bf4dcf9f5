/* Flip-flop memory tasks: remember the sign of the last pulse on a channel.
 *
 * Two generators share this file because they share the idea, not the code:
 *
 * flip_flop — KPFlow's 3-bit flip-flop (seeds/000_kpflow.txt, App. A;
 *   reference custom_tasks/flip_flop.py, notes/anchors.md §1.5).  Every step
 *   is scored; time is in steps.
 *     inputs  x = [u_1 … u_n (, a)] + white noise on every channel,
 *             u_i(t) ∈ {−1, 0, +1} a pulse, a = ±1 the anti cue (mix_anti)
 *     targets y_i(t) = a · (sign of the last pulse on channel i at or before
 *             t), 0 before the first pulse;  a = +1 without mix_anti.
 *   Pulse statistics.  The reference fills, for every step and channel, a
 *   Poisson(n_samples / n_spike) number of randomly chosen trials of the whole
 *   data set with a ±1 pulse, so one trial's channel pulses at a step with
 *   probability ≈ 1/n_spike: n_spike is the mean gap between pulses in steps
 *   (T/n_spike = 4.5 pulses per channel per trial at the defaults), not a
 *   count per trial.  We draw that per-trial Bernoulli(1/n_spike) directly,
 *   so trials are independent and a batch does not depend on its size.
 *
 *   Random draws, in this order for each trial b = 0 … B−1:
 *     1. with mix_anti: gsl_rng_uniform_int(2) → a = −1 (0) or +1 (1),
 *        as the reference's 2·randint(2) − 1;
 *     2. for each step t, for each channel i: gsl_rng_uniform < 1/n_spike
 *        decides a pulse, and only then gsl_rng_uniform_int(2) its sign
 *        (0 → −1, 1 → +1);
 *     3. T·n_in noise values gsl_ran_gaussian(σ), step-major (t outer,
 *        channel inner), drawn even when σ = 0.
 *
 * flip_flop_schuessler — the flip-flop of Schuessler et al. (2020)
 *   (seeds/003_randomness_structure.txt, Table S1, §S2; notes/
 *   seed-schuessler.md §3.1).  Durations are in time units, steps =
 *   int(d/dt).  A pulse of sign s on one random channel c; after the
 *   decision delay the target is s·target_amp on channel c and 0 on every
 *   other channel until the next pulse; only those decision periods are
 *   scored.  The paper's introduction says each channel keeps its own sign,
 *   §S2 and the code force the other channels to 0: we follow the notes,
 *   which follow the code (it produced the figures).
 *
 *   The reference loop, followed exactly: idx = steps(t_fix); while idx < T:
 *   draw an interval d = U(t_sd_min, t_sd_max) + t_delay and n = steps(d);
 *   pick c and s; x[idx, idx+steps(t_stim)) on c = s·input_amp;
 *   y and mask on [idx + steps(t_delay), idx + n) (clipped at T);
 *   idx += n.  (The reference loops while idx ≤ T; its last pass at
 *   idx = T writes nothing, so we stop one draw earlier.)
 *
 *   Random draws, in this order for each trial, for each pulse:
 *     1. gsl_rng_uniform → the interval;
 *     2. gsl_rng_uniform_int(n_channels) → the channel;
 *     3. gsl_rng_uniform_int(2) → the sign (0 → −1, 1 → +1).
 *   There is no noise. */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>

#include "kpf/task.h"
#include "timing.h"

/* Generous caps so that T·channels cannot overflow. */
#define FF_MAX_STEPS ((size_t)1 << 24)
#define FF_MAX_CHANNELS ((size_t)1024)

/* ---- flip_flop (KPFlow) --------------------------------------------------- */

typedef struct ff_task {
    size_t T, n_channels;
    double n_spike, noise;
    double noise_scale; /* 1, or 0 for evaluation sets */
    int mix_anti;
} ff_task;

static const char *const ff_period_names[] = {"trial", NULL};

static int ff_create(const kpf_node *node, void **self, kpf_error *err)
{
    ff_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the flip_flop task");
    s->noise_scale = 1.0;
    int rc = kpf_cfg_size(node, "T", KPF_CFG_OPTIONAL, 90, 1, FF_MAX_STEPS, &s->T, err);
    if (!rc)
        rc = kpf_cfg_size(node, "n_channels", KPF_CFG_OPTIONAL, 3, 1, FF_MAX_CHANNELS,
                          &s->n_channels, err);
    /* n_spike ≥ 1: the pulse probability 1/n_spike is at most 1. */
    if (!rc)
        rc = kpf_cfg_double(node, "n_spike", KPF_CFG_OPTIONAL, 20.0, 1.0, HUGE_VAL,
                            &s->n_spike, err);
    /* Reference default: input noise 0.03·√2. */
    if (!rc)
        rc = kpf_cfg_double(node, "noise", KPF_CFG_OPTIONAL, 0.03 * M_SQRT2, 0.0, HUGE_VAL,
                            &s->noise, err);
    if (!rc)
        rc = kpf_cfg_bool(node, "mix_anti", KPF_CFG_OPTIONAL, 0, &s->mix_anti, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->mix_anti = s->mix_anti != 0;
    *self = s;
    return KPF_OK;
}

static void ff_set_noise_scale(void *self, double scale)
{
    ((ff_task *)self)->noise_scale = scale;
}

static void ff_destroy(void *self)
{
    free(self);
}

static void ff_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    const ff_task *s = self;
    *n_in = s->n_channels + (size_t)s->mix_anti;
    *n_out = s->n_channels;
    *T = s->T;
}

/* Draws 1–2 of trial b: inputs and targets, noise-free. */
static void ff_fill_trial(const ff_task *s, gsl_rng *rng, kpf_task_batch *bt, size_t b)
{
    const size_t B = bt->B, nc = s->n_channels;
    double a = 1.0;
    if (s->mix_anti)
        a = gsl_rng_uniform_int(rng, 2) ? 1.0 : -1.0;
    bt->cond[b] = a < 0.0;
    const double p = 1.0 / s->n_spike;
    for (size_t t = 0; t < bt->T; t++) {
        double *x = bt->x + (t * B + b) * bt->n_in;
        double *y = bt->y + (t * B + b) * bt->n_out;
        const double *y_prev = t ? bt->y + ((t - 1) * B + b) * bt->n_out : NULL;
        for (size_t i = 0; i < nc; i++) {
            x[i] = 0.0;
            if (gsl_rng_uniform(rng) < p)
                x[i] = gsl_rng_uniform_int(rng, 2) ? 1.0 : -1.0;
            /* The target holds a·(last pulse); a² = 1 recovers the pulse. */
            y[i] = x[i] != 0.0 ? a * x[i] : (y_prev ? y_prev[i] : 0.0);
        }
        if (s->mix_anti)
            x[nc] = a;
        bt->mask[t * B + b] = 1.0;
        bt->period[t * B + b] = 0;
    }
}

static int ff_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const ff_task *s = self;
    size_t n_in, n_out, T;
    ff_dims(s, &n_in, &n_out, &T);
    if (bt->T != T || bt->n_in != n_in || bt->n_out != n_out)
        return kpf_error_set(err, KPF_EINVAL,
                             "flip_flop: batch is T=%zu n_in=%zu n_out=%zu, task needs "
                             "T=%zu n_in=%zu n_out=%zu",
                             bt->T, bt->n_in, bt->n_out, T, n_in, n_out);
    for (size_t b = 0; b < bt->B; b++) {
        bt->trial[b] = b;
        ff_fill_trial(s, rng, bt, b);
        /* Draw 3: white noise on every input channel, the anti cue included
         * (as the reference, which adds it after appending the cue). */
        for (size_t t = 0; t < T; t++) {
            double *x = bt->x + (t * bt->B + b) * n_in;
            for (size_t i = 0; i < n_in; i++)
                x[i] += gsl_ran_gaussian(rng, s->noise * s->noise_scale);
        }
    }
    return KPF_OK;
}

extern const kpf_task_type kpf_task_flip_flop;
const kpf_task_type kpf_task_flip_flop = {
    KPF_TASK_DESC_HEAD,
    .name = "flip_flop",
    .summary = "KPFlow's 3-bit flip-flop: hold the sign of the last pulse per channel",
    .period_names = ff_period_names,
    .create = ff_create,
    .destroy = ff_destroy,
    .dims = ff_dims,
    .generate = ff_generate,
    .set_noise_scale = ff_set_noise_scale,
};

/* ---- flip_flop_schuessler -------------------------------------------------- */

enum { FS_FIXATION = 0, FS_PULSE = 1, FS_DELAY = 2, FS_DECISION = 3 };

typedef struct fs_task {
    double dt, t_sd_min, t_sd_max, t_delay, input_amp, target_amp;
    size_t T, n_fix, n_stim, n_delay, n_channels;
    int fixate;
} fs_task;

static const char *const fs_period_names[] = {"fixation", "pulse", "delay", "decision",
                                              NULL};

/* Table S1, flip-flop column; T = t_max. */
static int fs_read(const kpf_node *node, fs_task *s, kpf_error *err)
{
    double t_max;
    int rc = kpf_internal_read_dt(node, 0.5, &s->dt, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_max", 50.0, s->dt, 1, &t_max, &s->T, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_fix", 1.0, s->dt, 0, NULL, &s->n_fix, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_stim", 1.0, s->dt, 1, NULL, &s->n_stim,
                                        err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_delay", 5.0, s->dt, 0, &s->t_delay,
                                        &s->n_delay, err);
    size_t ignored;
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_sd_min", 5.0, s->dt, 0, &s->t_sd_min,
                                        &ignored, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_sd_max", 25.0, s->dt, 0, &s->t_sd_max,
                                        &ignored, err);
    if (rc)
        return rc;
    if (s->t_sd_max < s->t_sd_min)
        return kpf_node_error(kpf_internal_key_node(node, "t_sd_max"), err,
                              "t_sd_max = %g is below t_sd_min = %g", s->t_sd_max,
                              s->t_sd_min);
    /* Every interval must advance the pulse index, or the loop never ends. */
    if (kpf_internal_steps(s->t_sd_min + s->t_delay, s->dt) == 0)
        return kpf_node_error(node, err,
                              "t_sd_min + t_delay = %g is shorter than one step of dt = %g",
                              s->t_sd_min + s->t_delay, s->dt);
    return KPF_OK;
}

static int fs_create(const kpf_node *node, void **self, kpf_error *err)
{
    fs_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the flip_flop_schuessler task");
    int rc = fs_read(node, s, err);
    if (!rc)
        rc = kpf_cfg_double(node, "input_amp", KPF_CFG_OPTIONAL, 1.0, -HUGE_VAL, HUGE_VAL,
                            &s->input_amp, err);
    if (!rc)
        rc = kpf_cfg_double(node, "target_amp", KPF_CFG_OPTIONAL, 0.5, -HUGE_VAL, HUGE_VAL,
                            &s->target_amp, err);
    if (!rc)
        rc = kpf_cfg_size(node, "n_channels", KPF_CFG_OPTIONAL, 2, 1, FF_MAX_CHANNELS,
                          &s->n_channels, err);
    if (!rc)
        rc = kpf_cfg_bool(node, "fixate", KPF_CFG_OPTIONAL, 0, &s->fixate, err);
    if (rc) {
        free(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static void fs_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    const fs_task *s = self;
    *n_in = s->n_channels;
    *n_out = s->n_channels;
    *T = s->T;
}

/* One pulse at step idx: its draws, inputs, targets, mask and periods.
 * Returns the next pulse's step. */
static size_t fs_pulse(const fs_task *s, gsl_rng *rng, kpf_task_batch *bt, size_t b,
                       size_t idx)
{
    const size_t B = bt->B, T = bt->T, nc = s->n_channels;
    const double interval =
        s->t_sd_min + (s->t_sd_max - s->t_sd_min) * gsl_rng_uniform(rng) + s->t_delay;
    const size_t n = kpf_internal_steps(interval, s->dt);
    const size_t c = (size_t)gsl_rng_uniform_int(rng, (unsigned long)nc);
    const double sign = gsl_rng_uniform_int(rng, 2) ? 1.0 : -1.0;
    for (size_t t = idx; t < idx + s->n_stim && t < T; t++)
        bt->x[(t * B + b) * nc + c] = sign * s->input_amp;
    for (size_t t = idx; t < idx + n && t < T; t++) {
        const int p = t < idx + s->n_stim    ? FS_PULSE
                      : t < idx + s->n_delay ? FS_DELAY
                                             : FS_DECISION;
        bt->period[t * B + b] = p;
        if (t < idx + s->n_delay)
            continue;
        double *y = bt->y + (t * B + b) * nc;
        for (size_t i = 0; i < nc; i++)
            y[i] = i == c ? sign * s->target_amp : 0.0;
        bt->mask[t * B + b] = 1.0;
    }
    return idx + n;
}

static int fs_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const fs_task *s = self;
    const size_t B = bt->B, T = s->T, nc = s->n_channels;
    if (bt->T != T || bt->n_in != nc || bt->n_out != nc)
        return kpf_error_set(err, KPF_EINVAL,
                             "flip_flop_schuessler: batch is T=%zu n_in=%zu n_out=%zu, "
                             "task needs T=%zu n_in=%zu n_out=%zu",
                             bt->T, bt->n_in, bt->n_out, T, nc, nc);
    for (size_t b = 0; b < B; b++) {
        bt->trial[b] = b;
        bt->cond[b] = 0;
        for (size_t t = 0; t < T; t++) {
            for (size_t i = 0; i < nc; i++) {
                bt->x[(t * B + b) * nc + i] = 0.0;
                bt->y[(t * B + b) * nc + i] = 0.0;
            }
            /* fixate: the reference scores the initial fixation (target 0). */
            bt->mask[t * B + b] = s->fixate && t < s->n_fix ? 1.0 : 0.0;
            bt->period[t * B + b] = FS_FIXATION;
        }
        for (size_t idx = s->n_fix; idx < T;)
            idx = fs_pulse(s, rng, bt, b, idx);
    }
    return KPF_OK;
}

extern const kpf_task_type kpf_task_flip_flop_schuessler;
const kpf_task_type kpf_task_flip_flop_schuessler = {
    KPF_TASK_DESC_HEAD,
    .name = "flip_flop_schuessler",
    .summary = "Schuessler et al.'s flip-flop: report the last pulse's sign after a delay",
    .period_names = fs_period_names,
    .create = fs_create,
    .destroy = ff_destroy,
    .dims = fs_dims,
    .generate = fs_generate,
};
