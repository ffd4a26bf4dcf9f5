/* The simple task of Schuessler et al. (2020) used for their linear theory
 * (seeds/003_randomness_structure.txt, §3 and Table S1 "Simple"; reference
 * task_generators.py `input_driven_fp`, generate_linear.ipynb; notes/
 * seed-schuessler.md §3.4): a constant input drives the network to a fixed
 * point whose readout must equal target_amp.  Durations are in time units,
 * steps = int(d/dt).
 *
 *   input   u = input_amp from step steps(t_fix) on, 0 before
 *   target  y = target_amp on the last steps(t_dec) steps, 0 before
 *   periods fixation | input | decision (the decision label wins where the
 *           last steps(t_dec) steps overlap the fixation)
 *   mask    the decision period only.
 *
 * Defaults follow Table S1 (T = 101, t_fix = 1, t_dec = 1, u_amp = 1,
 * ẑ = 0.5; the paper also uses ẑ = 2) with dt = 0.5, i.e. the code's 202
 * steps with the input on from step 2 and the last 2 steps scored.  There is
 * nothing random: generate draws nothing from the RNG and every trial is the
 * same (cond 0). */
#include <math.h>
#include <stdlib.h>

#include "kpf/task.h"
#include "timing.h"

enum { CI_FIXATION = 0, CI_INPUT = 1, CI_DECISION = 2 };

static const char *const ci_period_names[] = {"fixation", "input", "decision", NULL};

typedef struct ci_task {
    double dt, input_amp, target_amp;
    size_t T, n_fix, n_dec;
} ci_task;

static int ci_create(const kpf_node *node, void **self, kpf_error *err)
{
    ci_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the constant_input task");
    int rc = kpf_internal_read_dt(node, 0.5, &s->dt, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_max", 101.0, s->dt, 1, NULL, &s->T, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_fix", 1.0, s->dt, 0, NULL, &s->n_fix, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_dec", 1.0, s->dt, 1, NULL, &s->n_dec, err);
    if (!rc && s->n_fix >= s->T)
        rc = kpf_node_error(kpf_internal_key_node(node, "t_fix"), err,
                            "t_fix (%zu steps) leaves no input step in t_max (%zu steps)",
                            s->n_fix, s->T);
    if (!rc && s->n_dec > s->T)
        rc = kpf_node_error(kpf_internal_key_node(node, "t_dec"), err,
                            "t_dec (%zu steps) is longer than t_max (%zu steps)", s->n_dec,
                            s->T);
    if (!rc)
        rc = kpf_cfg_double(node, "input_amp", KPF_CFG_OPTIONAL, 1.0, -HUGE_VAL, HUGE_VAL,
                            &s->input_amp, err);
    if (!rc)
        rc = kpf_cfg_double(node, "target_amp", KPF_CFG_OPTIONAL, 0.5, -HUGE_VAL, HUGE_VAL,
                            &s->target_amp, err);
    if (rc) {
        free(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static void ci_destroy(void *self)
{
    free(self);
}

static void ci_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    *n_in = 1;
    *n_out = 1;
    *T = ((const ci_task *)self)->T;
}

static int ci_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const ci_task *s = self;
    if (bt->T != s->T || bt->n_in != 1 || bt->n_out != 1)
        return kpf_error_set(err, KPF_EINVAL,
                             "constant_input: batch is T=%zu n_in=%zu n_out=%zu, task needs "
                             "T=%zu n_in=1 n_out=1",
                             bt->T, bt->n_in, bt->n_out, s->T);
    const size_t B = bt->B, dec_begin = s->T - s->n_dec;
    for (size_t b = 0; b < B; b++) {
        bt->cond[b] = 0;
        bt->trial[b] = b;
    }
    for (size_t t = 0; t < s->T; t++) {
        const int decide = t >= dec_begin;
        const int p = decide ? CI_DECISION : t < s->n_fix ? CI_FIXATION : CI_INPUT;
        for (size_t b = 0; b < B; b++) {
            bt->x[t * B + b] = t >= s->n_fix ? s->input_amp : 0.0;
            bt->y[t * B + b] = decide ? s->target_amp : 0.0;
            bt->mask[t * B + b] = decide ? 1.0 : 0.0;
            bt->period[t * B + b] = p;
        }
    }
    return KPF_OK;
}

extern const kpf_task_type kpf_task_constant_input;
const kpf_task_type kpf_task_constant_input = {
    KPF_TASK_DESC_HEAD,
    .name = "constant_input",
    .summary = "Schuessler et al.'s simple task: constant input, fixed target at the end",
    .period_names = ci_period_names,
    .create = ci_create,
    .destroy = ci_destroy,
    .dims = ci_dims,
    .generate = ci_generate,
};
