/* Parametric working memory (Romo et al. 1999) as set up by Schuessler et al.
 * (2020) (seeds/003_randomness_structure.txt, Table S1, §S2; reference
 * task_generators.py `romo` with generate_nonlinear.ipynb's parameters;
 * notes/seed-schuessler.md §3.3).  Durations are in time units, steps =
 * int(d/dt).
 *
 *   input   one channel: a pulse of height f1 for t_stim after the fixation,
 *           a second of height f2 a random t_sd later; 0 elsewhere; no noise
 *   targets two outputs (default): target_amp on output 0 when f1 > f2, on
 *           output 1 otherwise, during the decision period, 0 elsewhere;
 *           with one_output: true (the reference's `original_variant`), one
 *           output target_amp·sign(f1 − f2) (+ when f1 > f2)
 *   periods fixation | stim1 | delay | stim2 | decision_delay | decision |
 *           after (the steps left when t_sd < t_sd_max)
 *   mask    decision, plus (fixate, default) every step up to the end of
 *           stim2, where the outputs must stay at 0 (eq. 19); decision_delay
 *           and after are unscored.
 *
 * T follows the code, not Table S1: int((t_fix + 2·t_stim + t_sd_max +
 * t_delay + t_dec)/dt) = 56 steps (28 time units; the table says 30).
 *
 * Random draws, in this order for each trial b = 0 … B−1 (the reference's):
 *   1. gsl_rng_uniform → t_sd = t_sd_min + (t_sd_max − t_sd_min)·u;
 *   2. pairs gsl_rng_uniform, gsl_rng_uniform → f1, f2 uniform on
 *      [amp_min, amp_max), redrawn (both) until |f1 − f2| ≥ min_diff.
 * cond[b] = 0 when f1 > f2, 1 otherwise (the index of the larger; ties,
 * possible only with min_diff = 0, count as f1 like numpy's argmax). */
#include <math.h>
#include <stdlib.h>

#include "kpf/task.h"
#include "timing.h"

enum { RM_N_IN = 1 };
enum { RM_FIXATION, RM_STIM1, RM_DELAY, RM_STIM2, RM_DECISION_DELAY, RM_DECISION, RM_AFTER };

static const char *const rm_period_names[] = {
    "fixation", "stim1", "delay", "stim2", "decision_delay", "decision", "after", NULL};

typedef struct rm_task {
    double dt, t_sd_min, t_sd_max, amp_min, amp_max, min_diff, target_amp;
    size_t T, n_fix, n_stim, n_delay, n_dec;
    int fixate, one_output;
} rm_task;

/* Table S1, Romo column. */
static int rm_read_times(const kpf_node *node, rm_task *s, kpf_error *err)
{
    double t_fix, t_stim, t_delay, t_dec;
    size_t ignored;
    int rc = kpf_internal_read_dt(node, 0.5, &s->dt, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_fix", 3.0, s->dt, 0, &t_fix, &s->n_fix, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_stim", 1.0, s->dt, 1, &t_stim, &s->n_stim,
                                        err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_delay", 5.0, s->dt, 0, &t_delay,
                                        &s->n_delay, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_dec", 10.0, s->dt, 1, &t_dec, &s->n_dec, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_sd_min", 2.0, s->dt, 0, &s->t_sd_min,
                                        &ignored, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_sd_max", 8.0, s->dt, 0, &s->t_sd_max,
                                        &ignored, err);
    if (rc)
        return rc;
    if (s->t_sd_max < s->t_sd_min)
        return kpf_node_error(kpf_internal_key_node(node, "t_sd_max"), err,
                              "t_sd_max = %g is below t_sd_min = %g", s->t_sd_max,
                              s->t_sd_min);
    /* Each part is ≤ KPF_TASK_MAX_STEPS steps, so the sum is < 6 times that. */
    s->T = kpf_internal_steps(t_fix + 2.0 * t_stim + s->t_sd_max + t_delay + t_dec, s->dt);
    return KPF_OK;
}

/* f1, f2 ~ U(amp_min, amp_max) with |f1 − f2| ≥ min_diff. */
static int rm_read_amps(const kpf_node *node, rm_task *s, kpf_error *err)
{
    int rc = kpf_cfg_double(node, "amp_min", KPF_CFG_OPTIONAL, 0.5, -HUGE_VAL, HUGE_VAL,
                            &s->amp_min, err);
    if (!rc)
        rc = kpf_cfg_double(node, "amp_max", KPF_CFG_OPTIONAL, 1.5, -HUGE_VAL, HUGE_VAL,
                            &s->amp_max, err);
    if (!rc)
        rc = kpf_cfg_double(node, "min_diff", KPF_CFG_OPTIONAL, 0.2, 0.0, HUGE_VAL,
                            &s->min_diff, err);
    if (rc)
        return rc;
    if (s->amp_max < s->amp_min)
        return kpf_node_error(kpf_internal_key_node(node, "amp_max"), err,
                              "amp_max = %g is below amp_min = %g", s->amp_max, s->amp_min);
    /* The redraw loop must be able to end. */
    if (s->min_diff > 0.0 && !(s->min_diff < s->amp_max - s->amp_min))
        return kpf_node_error(kpf_internal_key_node(node, "min_diff"), err,
                              "min_diff = %g must be below amp_max − amp_min = %g",
                              s->min_diff, s->amp_max - s->amp_min);
    return KPF_OK;
}

static int rm_create(const kpf_node *node, void **self, kpf_error *err)
{
    rm_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the romo task");
    int rc = rm_read_times(node, s, err);
    if (!rc)
        rc = rm_read_amps(node, s, err);
    if (!rc)
        rc = kpf_cfg_double(node, "target_amp", KPF_CFG_OPTIONAL, 0.5, -HUGE_VAL, HUGE_VAL,
                            &s->target_amp, err);
    if (!rc)
        rc = kpf_cfg_bool(node, "fixate", KPF_CFG_OPTIONAL, 1, &s->fixate, err);
    if (!rc)
        rc = kpf_cfg_bool(node, "one_output", KPF_CFG_OPTIONAL, 0, &s->one_output, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->one_output = s->one_output != 0;
    *self = s;
    return KPF_OK;
}

static void rm_destroy(void *self)
{
    free(self);
}

static void rm_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    const rm_task *s = self;
    *n_in = RM_N_IN;
    *n_out = s->one_output ? 1 : 2;
    *T = s->T;
}

/* Boundaries of one trial, in steps. */
typedef struct rm_times {
    size_t stim1_end, stim2_begin, stim2_end, resp_begin, resp_end;
} rm_times;

static int rm_period_of(const rm_times *w, size_t n_fix, size_t t)
{
    if (t < n_fix)
        return RM_FIXATION;
    if (t < w->stim1_end)
        return RM_STIM1;
    if (t < w->stim2_begin)
        return RM_DELAY;
    if (t < w->stim2_end)
        return RM_STIM2;
    if (t < w->resp_begin)
        return RM_DECISION_DELAY;
    return t < w->resp_end ? RM_DECISION : RM_AFTER;
}

static void rm_fill_trial(const rm_task *s, kpf_task_batch *bt, size_t b, const rm_times *w,
                          double f1, double f2)
{
    const size_t B = bt->B, n_out = bt->n_out;
    const int larger = f1 >= f2 ? 0 : 1; /* numpy argmax: a tie gives 0 */
    bt->cond[b] = larger;
    for (size_t t = 0; t < bt->T; t++) {
        const int p = rm_period_of(w, s->n_fix, t);
        bt->x[t * B + b] = p == RM_STIM1 ? f1 : p == RM_STIM2 ? f2 : 0.0;
        double *y = bt->y + (t * B + b) * n_out;
        for (size_t k = 0; k < n_out; k++)
            y[k] = 0.0;
        if (p == RM_DECISION) {
            if (s->one_output)
                y[0] = larger ? -s->target_amp : s->target_amp;
            else
                y[larger] = s->target_amp;
        }
        bt->mask[t * B + b] = p == RM_DECISION || (s->fixate && p <= RM_STIM2) ? 1.0 : 0.0;
        bt->period[t * B + b] = p;
    }
}

static int rm_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const rm_task *s = self;
    const size_t n_out = s->one_output ? 1 : 2;
    if (bt->T != s->T || bt->n_in != RM_N_IN || bt->n_out != n_out)
        return kpf_error_set(err, KPF_EINVAL,
                             "romo: batch is T=%zu n_in=%zu n_out=%zu, task needs T=%zu "
                             "n_in=1 n_out=%zu",
                             bt->T, bt->n_in, bt->n_out, s->T, n_out);
    for (size_t b = 0; b < bt->B; b++) {
        const double t_sd = s->t_sd_min + (s->t_sd_max - s->t_sd_min) * gsl_rng_uniform(rng);
        rm_times w;
        w.stim1_end = s->n_fix + s->n_stim;
        w.stim2_begin = w.stim1_end + kpf_internal_steps(t_sd, s->dt);
        w.stim2_end = w.stim2_begin + s->n_stim;
        w.resp_begin = w.stim2_end + s->n_delay;
        w.resp_end = w.resp_begin + s->n_dec;
        const double span = s->amp_max - s->amp_min;
        double f1, f2;
        do {
            f1 = s->amp_min + span * gsl_rng_uniform(rng);
            f2 = s->amp_min + span * gsl_rng_uniform(rng);
        } while (!(fabs(f1 - f2) >= s->min_diff));
        bt->trial[b] = b;
        rm_fill_trial(s, bt, b, &w, f1, f2);
    }
    return KPF_OK;
}

extern const kpf_task_type kpf_task_romo;
const kpf_task_type kpf_task_romo = {
    KPF_TASK_DESC_HEAD,
    .name = "romo",
    .summary = "parametric working memory: which of two pulses f1, f2 was larger",
    .period_names = rm_period_names,
    .create = rm_create,
    .destroy = rm_destroy,
    .dims = rm_dims,
    .generate = rm_generate,
};
