/* `lrnn_integration`: sensory integration of Proca et al. §3.6 / P.4.3 with
 * synthetic inputs (NeuroGym's multisensory task is not available here):
 * each trial has a per-channel signal μ_{p,j} = signal·U(−1, 1) and the
 * input is x_{p,t,j} = μ_{p,j} + noise·N(0, 1) at every step.  Inputs are
 * NOT whitened and the network starts unaligned, as in the paper.
 *   op: sum    y_T = Σ_{t≤T} x_t          (theory: b → 1, ac → 1)
 *       mean   y_T = (1/T) Σ_{t≤T} x_t    (b → 1, ac → 1/T)
 * outputs: all scores every step with the running sum / running mean
 * (1/t) Σ_{i≤t} x_i.
 *
 * Keys: n_in [4] (= n_out), T [10], op [sum | mean], outputs [last | all],
 *   signal [1], noise [0.5].
 * Draws per trial b: n_in uniforms (μ), then T·n_in Gaussians (t outer),
 * drawn also when noise is 0 or scaled off. */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_randist.h>

#include "lrnn_tasks.h"

static const char *const op_names[] = {"sum", "mean", NULL};

typedef struct integ_task {
    size_t n, T;
    int mean, all_outputs;
    double signal, noise, noise_scale;
} integ_task;

static int integ_create(const kpf_node *node, void **self, kpf_error *err)
{
    integ_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "lrnn_integration: out of memory");
    int rc = kpf_cfg_size(node, "n_in", 0, 4, 1, KPF_LRNN_MAX_DIM, &s->n, err);
    if (!rc) rc = kpf_cfg_size(node, "T", 0, 10, 1, 1u << 20, &s->T, err);
    if (!rc) rc = kpf_cfg_choice(node, "op", 0, op_names, 0, &s->mean, err);
    if (!rc) rc = kpf_cfg_choice(node, "outputs", 0, kpf_lrnn_output_names, 0,
                                 &s->all_outputs, err);
    if (!rc) rc = kpf_cfg_double(node, "signal", 0, 1.0, 0.0, HUGE_VAL, &s->signal, err);
    if (!rc) rc = kpf_cfg_double(node, "noise", 0, 0.5, 0.0, HUGE_VAL, &s->noise, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->noise_scale = 1.0;
    *self = s;
    return KPF_OK;
}

static void integ_destroy(void *self)
{
    free(self);
}

static void integ_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    const integ_task *s = self;
    *n_in = *n_out = s->n;
    *T = s->T;
}

static void integ_set_noise_scale(void *self, double scale)
{
    ((integ_task *)self)->noise_scale = scale;
}

static int integ_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt,
                          kpf_error *err)
{
    const integ_task *s = self;
    if (bt->T != s->T || bt->n_in != s->n || bt->n_out != s->n)
        return kpf_error_set(err, KPF_EINVAL,
                             "lrnn_integration: batch is T=%zu n_in=%zu n_out=%zu, task "
                             "needs T=%zu n_in=n_out=%zu",
                             bt->T, bt->n_in, bt->n_out, s->T, s->n);
    const size_t B = bt->B, T = s->T, n = s->n;
    const double sd = s->noise * s->noise_scale;
    for (size_t b = 0; b < B; b++) {
        double mu[KPF_LRNN_MAX_DIM];
        for (size_t j = 0; j < n; j++)
            mu[j] = s->signal * (2.0 * gsl_rng_uniform(rng) - 1.0);
        for (size_t t = 0; t < T; t++)
            for (size_t j = 0; j < n; j++)
                bt->x[(t * B + b) * n + j] = mu[j] + sd * gsl_ran_gaussian(rng, 1.0);
        for (size_t j = 0; j < n; j++) {
            double acc = 0;
            for (size_t t = 0; t < T; t++) {
                acc += bt->x[(t * B + b) * n + j];
                double scale = s->mean ? 1.0 / (double)(s->all_outputs ? t + 1 : T) : 1.0;
                bt->y[(t * B + b) * n + j] =
                    (s->all_outputs || t + 1 == T) ? scale * acc : 0.0;
            }
        }
    }
    kpf_lrnn_fill_mask(bt, s->all_outputs);
    return KPF_OK;
}

extern const kpf_task_type kpf_task_lrnn_integration;
const kpf_task_type kpf_task_lrnn_integration = {
    KPF_TASK_DESC_HEAD,
    .name = "lrnn_integration",
    .summary = "Proca et al. 3.6: sum or mean of noisy inputs over the trajectory "
               "(synthetic sensory integration)",
    .period_names = kpf_lrnn_period_names,
    .create = integ_create,
    .destroy = integ_destroy,
    .dims = integ_dims,
    .generate = integ_generate,
    .set_noise_scale = integ_set_noise_scale,
};
