/* go_nogo.c — an out-of-tree kpf task: Go/No-Go with a delayed response.
 *
 * A trial shows one of two cues, holds it through a delay while fixating,
 * then asks for a response: lift the output to 1 after a "go" cue, keep it
 * at 0 after a "no-go" cue (the classic Go/No-Go of rodent and primate
 * inhibition studies, here in the memory-guided form).
 *
 *   periods  fixation | stimulus | delay | response
 *   inputs   x = [fixation, go cue, no-go cue] + white noise σ on every
 *            channel;  fixation = 1 until the response period, the cue
 *            lit (= amplitude) during the stimulus only
 *   target   y = [respond]: 1 in the response period of go trials, else 0
 *   mask     1 on every step but the first t_grace steps of the response
 *            (the network may take a moment to decide)
 *   cond     1 = go, 0 = no-go
 *
 * YAML (task: {name: go_nogo, ...}), durations in steps:
 *   t_fix [5]  t_stim [5]  t_delay [10]  t_response [10]  t_grace [2]
 *   p_go [0.5]       probability of a go trial
 *   amplitude [1.0]  cue height, > 0
 *   noise [0.1]      σ of the input noise, ≥ 0
 *
 * Random draws, in this order for each trial b = 0 … B−1:
 *   1. gsl_rng_uniform < p_go decides go;
 *   2. T·3 values gsl_ran_gaussian(σ·scale), step-major, drawn even when
 *      σ·scale = 0, so noise-free evaluation sets (set_noise_scale(0)) have
 *      the same trials as noisy ones.
 *
 * Build:  make            (pkg-config --cflags --libs kpf)
 * Check:  kpf check-plugin ./go_nogo.so
 * Run:    KPF_PLUGIN_PATH=$PWD kpf run go_nogo.yaml
 *
 * docs/writing-a-plugin.md ("Writing a task") walks through this file. */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_randist.h>

#include <kpf/task.h>

enum { GN_N_IN = 3, GN_N_OUT = 1 };
enum { GN_FIXATION, GN_STIMULUS, GN_DELAY, GN_RESPONSE };

/* period labels index into this list, in the enum's order */
static const char *const gn_period_names[] = {"fixation", "stimulus", "delay", "response",
                                              NULL};

/* Generous cap on each period so that T·B·3 cannot overflow. */
#define GN_MAX_STEPS ((size_t)1 << 20)

typedef struct go_nogo {
    size_t t_fix, t_stim, t_delay, t_response, t_grace;
    double p_go, amplitude, noise;
    double noise_scale; /* 1, or 0 while kpf draws a noise-free evaluation set */
} go_nogo;

/* ---- create / destroy / dims ------------------------------------------------- */

static int read_steps(const kpf_node *node, go_nogo *s, kpf_error *err)
{
    /* Each getter reports a bad value at its file:line:col. */
    int rc = kpf_cfg_size(node, "t_fix", KPF_CFG_OPTIONAL, 5, 0, GN_MAX_STEPS, &s->t_fix, err);
    if (!rc)
        rc = kpf_cfg_size(node, "t_stim", KPF_CFG_OPTIONAL, 5, 1, GN_MAX_STEPS, &s->t_stim, err);
    if (!rc)
        rc = kpf_cfg_size(node, "t_delay", KPF_CFG_OPTIONAL, 10, 0, GN_MAX_STEPS, &s->t_delay,
                          err);
    if (!rc)
        rc = kpf_cfg_size(node, "t_response", KPF_CFG_OPTIONAL, 10, 1, GN_MAX_STEPS,
                          &s->t_response, err);
    if (!rc)
        rc = kpf_cfg_size(node, "t_grace", KPF_CFG_OPTIONAL, 2, 0, GN_MAX_STEPS, &s->t_grace,
                          err);
    /* A grace period as long as the response would leave nothing to score. */
    if (!rc && s->t_grace >= s->t_response)
        rc = kpf_node_error(kpf_node_get(node, "t_grace") ? kpf_node_get(node, "t_grace")
                                                          : node,
                            err, "must be shorter than t_response (%zu steps; got %zu)",
                            s->t_response, s->t_grace);
    return rc;
}

static int read_signal(const kpf_node *node, go_nogo *s, kpf_error *err)
{
    int rc = kpf_cfg_double(node, "p_go", KPF_CFG_OPTIONAL, 0.5, 0.0, 1.0, &s->p_go, err);
    if (!rc)
        rc = kpf_cfg_double(node, "amplitude", KPF_CFG_OPTIONAL, 1.0, 0.0, HUGE_VAL,
                            &s->amplitude, err);
    /* The getter's bounds are inclusive; a zero cue carries no information. */
    if (!rc && !(s->amplitude > 0.0))
        rc = kpf_node_error(kpf_node_get(node, "amplitude"), err, "must be > 0 (got %g)",
                            s->amplitude);
    if (!rc)
        rc = kpf_cfg_double(node, "noise", KPF_CFG_OPTIONAL, 0.1, 0.0, HUGE_VAL, &s->noise,
                            err);
    return rc;
}

static int gn_create(const kpf_node *node, void **self, kpf_error *err)
{
    go_nogo *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "go_nogo: out of memory");
    s->noise_scale = 1.0;
    int rc = read_steps(node, s, err);
    if (!rc)
        rc = read_signal(node, s, err);
    if (rc) {
        free(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static void gn_destroy(void *self)
{
    free(self);
}

static size_t gn_T(const go_nogo *s)
{
    return s->t_fix + s->t_stim + s->t_delay + s->t_response;
}

static void gn_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    *n_in = GN_N_IN;
    *n_out = GN_N_OUT;
    *T = gn_T(self);
}

/* Multiplies every σ; the draws happen whatever the scale (see generate). */
static void gn_set_noise_scale(void *self, double scale)
{
    ((go_nogo *)self)->noise_scale = scale;
}

/* ---- generate ------------------------------------------------------------------ */

static int period_of(const go_nogo *s, size_t t)
{
    if (t < s->t_fix)
        return GN_FIXATION;
    if (t < s->t_fix + s->t_stim)
        return GN_STIMULUS;
    return t < s->t_fix + s->t_stim + s->t_delay ? GN_DELAY : GN_RESPONSE;
}

/* Trial b, noise-free: every array of the batch gets its value here (kpf
 * reuses batches, so nothing may be left from the previous one). */
static void fill_trial(const go_nogo *s, kpf_task_batch *bt, size_t b, int go)
{
    const size_t B = bt->B, resp0 = s->t_fix + s->t_stim + s->t_delay;
    bt->cond[b] = go;
    bt->trial[b] = b;
    for (size_t t = 0; t < bt->T; t++) {
        const int p = period_of(s, t);
        double *x = bt->x + (t * B + b) * GN_N_IN;
        x[0] = p == GN_RESPONSE ? 0.0 : 1.0;
        x[1] = p == GN_STIMULUS && go ? s->amplitude : 0.0;
        x[2] = p == GN_STIMULUS && !go ? s->amplitude : 0.0;
        bt->y[t * B + b] = p == GN_RESPONSE && go ? 1.0 : 0.0;
        bt->mask[t * B + b] = p == GN_RESPONSE && t < resp0 + s->t_grace ? 0.0 : 1.0;
        bt->period[t * B + b] = p;
    }
}

static int gn_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const go_nogo *s = self;
    if (bt->T != gn_T(s) || bt->n_in != GN_N_IN || bt->n_out != GN_N_OUT)
        return kpf_error_set(err, KPF_EINVAL,
                             "go_nogo: batch is T=%zu n_in=%zu n_out=%zu, task needs T=%zu "
                             "n_in=3 n_out=1",
                             bt->T, bt->n_in, bt->n_out, gn_T(s));
    const double sigma = s->noise * s->noise_scale;
    for (size_t b = 0; b < bt->B; b++) {
        fill_trial(s, bt, b, gsl_rng_uniform(rng) < s->p_go); /* draw 1 */
        for (size_t t = 0; t < bt->T; t++) {                  /* draw 2 */
            double *x = bt->x + (t * bt->B + b) * GN_N_IN;
            for (size_t i = 0; i < GN_N_IN; i++)
                x[i] += gsl_ran_gaussian(rng, sigma);
        }
    }
    return KPF_OK;
}

/* ---- the descriptor ------------------------------------------------------------ */

static const kpf_task_desc go_nogo_desc = {
    KPF_TASK_DESC_HEAD, /* abi_version, struct_size as this file compiled them */
    .name = "go_nogo",
    .summary = "Go/No-Go with a delay: respond after a go cue, withhold after a no-go cue",
    .period_names = gn_period_names,
    .create = gn_create,
    .destroy = gn_destroy,
    .dims = gn_dims,
    .generate = gn_generate,
    .set_noise_scale = gn_set_noise_scale,
};

KPF_EXPORT const kpf_task_desc *kpf_task_descriptor(uint32_t index)
{
    return index == 0 ? &go_nogo_desc : NULL;
}
