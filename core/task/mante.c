/* Context-dependent integration (Mante et al. 2013) as set up by Schuessler
 * et al. (2020) (seeds/003_randomness_structure.txt, Table S1, §S2; reference
 * task_generators.py `mante` with generate_nonlinear.ipynb's parameters;
 * notes/seed-schuessler.md §3.2).  Durations are in time units, steps =
 * int(d/dt).
 *
 *   inputs  x = [context 0, context 1, sensory 0, sensory 1]
 *     sensory i = input_amp·(c_i during the stimulus + noise/√dt·η),
 *                 η ~ N(0, 1) at every step of the trial
 *     context j = context_amp during the stimulus for the cued context j,
 *                 0 otherwise; no noise
 *   target  y = target_amp·sign(c_j) in the decision period, 0 before
 *   periods fixation | stimulus | delay | decision
 *   mask    decision period, plus (fixate, default) fixation and stimulus,
 *           where the output must stay at 0 (eq. 19); the delay is unscored.
 *
 * Where paper and code disagree we follow the notes, i.e. the code that made
 * the figures:
 *   - channel order: contexts first (code), not sensory first (paper);
 *   - coherences c_i ∈ {±1/8, ±1/4, ±1/2, ±1} drawn independently per
 *     channel (code, `coherences: graded`); the paper's s_i ∈ {±1} is
 *     `coherences: binary`;
 *   - the context input is on during the stimulus only (code; the paper
 *     does not say);
 *   - noise η/√dt (the paper prints /√η, a typo).
 *
 * Random draws, in this order for each trial b = 0 … B−1:
 *   1. gsl_rng_uniform_int(K) for sensory channel 0, then for channel 1:
 *      indices into the coherence list (K = 8 graded, 2 binary), listed
 *      from most negative to most positive;
 *   2. gsl_rng_uniform_int(2): the context j;
 *   3. T·2 noise values gsl_ran_gaussian(input_amp·noise/√dt), step-major
 *      (t outer, sensory channel inner), drawn even when noise = 0.
 * cond[b] is the context j. */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_randist.h>

#include "kpf/task.h"
#include "timing.h"

enum { MT_N_IN = 4, MT_N_OUT = 1, MT_CTX = 0, MT_SENS = 2 };
enum { MT_FIXATION = 0, MT_STIMULUS = 1, MT_DELAY = 2, MT_DECISION = 3 };

static const char *const mt_period_names[] = {"fixation", "stimulus", "delay", "decision",
                                              NULL};

static const char *const mt_coherence_names[] = {"graded", "binary", NULL};
static const double mt_graded[] = {-1.0, -0.5, -0.25, -0.125, 0.125, 0.25, 0.5, 1.0};
static const double mt_binary[] = {-1.0, 1.0};

typedef struct mt_task {
    double dt, input_amp, target_amp, context_amp, noise;
    double noise_scale; /* 1, or 0 for evaluation sets */
    size_t n_fix, n_stim, n_delay, n_dec;
    int fixate, coherences; /* index into mt_coherence_names */
} mt_task;

static size_t mt_T(const mt_task *s)
{
    return s->n_fix + s->n_stim + s->n_delay + s->n_dec;
}

/* Table S1, Mante column: fixation 3, stimulus 20, delay 5, decision 20. */
static int mt_read_times(const kpf_node *node, mt_task *s, kpf_error *err)
{
    int rc = kpf_internal_read_dt(node, 0.5, &s->dt, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_fix", 3.0, s->dt, 0, NULL, &s->n_fix, err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_stim", 20.0, s->dt, 1, NULL, &s->n_stim,
                                        err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_delay", 5.0, s->dt, 0, NULL, &s->n_delay,
                                        err);
    if (!rc)
        rc = kpf_internal_read_duration(node, "t_dec", 20.0, s->dt, 1, NULL, &s->n_dec, err);
    return rc;
}

static int mt_create(const kpf_node *node, void **self, kpf_error *err)
{
    mt_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the mante task");
    s->noise_scale = 1.0;
    int rc = mt_read_times(node, s, err);
    if (!rc)
        rc = kpf_cfg_double(node, "input_amp", KPF_CFG_OPTIONAL, 1.0, -HUGE_VAL, HUGE_VAL,
                            &s->input_amp, err);
    if (!rc)
        rc = kpf_cfg_double(node, "target_amp", KPF_CFG_OPTIONAL, 0.5, -HUGE_VAL, HUGE_VAL,
                            &s->target_amp, err);
    if (!rc)
        rc = kpf_cfg_double(node, "context_amp", KPF_CFG_OPTIONAL, 1.0, -HUGE_VAL, HUGE_VAL,
                            &s->context_amp, err);
    /* The reference's rel_input_std = 0.05, the paper's a_noise. */
    if (!rc)
        rc = kpf_cfg_double(node, "noise", KPF_CFG_OPTIONAL, 0.05, 0.0, HUGE_VAL, &s->noise,
                            err);
    if (!rc)
        rc = kpf_cfg_choice(node, "coherences", KPF_CFG_OPTIONAL, mt_coherence_names, 0,
                            &s->coherences, err);
    if (!rc)
        rc = kpf_cfg_bool(node, "fixate", KPF_CFG_OPTIONAL, 1, &s->fixate, err);
    if (rc) {
        free(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static void mt_set_noise_scale(void *self, double scale)
{
    ((mt_task *)self)->noise_scale = scale;
}

static void mt_destroy(void *self)
{
    free(self);
}

static void mt_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    *n_in = MT_N_IN;
    *n_out = MT_N_OUT;
    *T = mt_T(self);
}

static int mt_period_of(const mt_task *s, size_t t)
{
    if (t < s->n_fix)
        return MT_FIXATION;
    if (t < s->n_fix + s->n_stim)
        return MT_STIMULUS;
    return t < s->n_fix + s->n_stim + s->n_delay ? MT_DELAY : MT_DECISION;
}

/* Trial b from its coherences c[2] and context j, then draw 3 (noise). */
static void mt_fill_trial(const mt_task *s, gsl_rng *rng, kpf_task_batch *bt, size_t b,
                          const double c[2], int j)
{
    const size_t B = bt->B;
    const double sigma = s->input_amp * s->noise * s->noise_scale / sqrt(s->dt);
    const double z = s->target_amp * (c[j] < 0.0 ? -1.0 : 1.0);
    for (size_t t = 0; t < bt->T; t++) {
        const int p = mt_period_of(s, t);
        const int stim = p == MT_STIMULUS;
        double *x = bt->x + (t * B + b) * MT_N_IN;
        for (int k = 0; k < 2; k++) {
            x[MT_CTX + k] = stim && k == j ? s->context_amp : 0.0;
            x[MT_SENS + k] = stim ? s->input_amp * c[k] : 0.0;
        }
        for (int k = 0; k < 2; k++)
            x[MT_SENS + k] += gsl_ran_gaussian(rng, sigma);
        bt->y[t * B + b] = p == MT_DECISION ? z : 0.0;
        bt->mask[t * B + b] =
            p == MT_DECISION || (s->fixate && p != MT_DELAY) ? 1.0 : 0.0;
        bt->period[t * B + b] = p;
    }
}

static int mt_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const mt_task *s = self;
    if (bt->T != mt_T(s) || bt->n_in != MT_N_IN || bt->n_out != MT_N_OUT)
        return kpf_error_set(err, KPF_EINVAL,
                             "mante: batch is T=%zu n_in=%zu n_out=%zu, task needs T=%zu "
                             "n_in=4 n_out=1",
                             bt->T, bt->n_in, bt->n_out, mt_T(s));
    const double *list = s->coherences ? mt_binary : mt_graded;
    const unsigned long K = s->coherences ? 2 : 8;
    for (size_t b = 0; b < bt->B; b++) {
        double c[2];
        for (int k = 0; k < 2; k++)
            c[k] = list[gsl_rng_uniform_int(rng, K)];
        const int j = (int)gsl_rng_uniform_int(rng, 2);
        bt->cond[b] = j;
        bt->trial[b] = b;
        mt_fill_trial(s, rng, bt, b, c, j);
    }
    return KPF_OK;
}

extern const kpf_task_type kpf_task_mante;
const kpf_task_type kpf_task_mante = {
    KPF_TASK_DESC_HEAD,
    .name = "mante",
    .summary = "context-dependent integration: report the sign of the cued coherence",
    .period_names = mt_period_names,
    .create = mt_create,
    .destroy = mt_destroy,
    .dims = mt_dims,
    .generate = mt_generate,
    .set_noise_scale = mt_set_noise_scale,
};
