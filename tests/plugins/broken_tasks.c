/* Task fixtures for the task conformance checks (core/check/tests/
 * test_check_task.c): one small task, `tf_ok`, that passes every check, and
 * variants that each break one rule of kpf/task.h, so the check that names
 * the rule — and only the checks that follow from it — fails.
 *
 *   tf_ok            2 inputs (cue ± noise, fixation), 1 output, T = 8;
 *                    cond ~ U{0, 1}, then T·2 noise draws σ·scale
 *   tf_bad_mask      scores the response with mask 2.0
 *   tf_bad_period    labels the response period 2 of 2 names
 *   tf_no_cond       never writes cond
 *   tf_overrun       writes one value past the end of x
 *   tf_hidden_state  adds a call counter kept in a static to x
 *   tf_skips_noise   draws no noise when σ·scale = 0
 *   tf_noise_squared multiplies σ by scale² instead of scale */
#include <stdlib.h>

#include <gsl/gsl_randist.h>

#include "kpf/task.h"

enum { TF_OK, TF_BAD_MASK, TF_BAD_PERIOD, TF_NO_COND, TF_OVERRUN, TF_HIDDEN_STATE,
       TF_SKIPS_NOISE, TF_NOISE_SQUARED };

enum { T_STEPS = 8, N_IN = 2, N_OUT = 1, T_CUE = 3, T_RESPONSE = 6 };

typedef struct tf_task {
    int defect;
    double noise, scale;
} tf_task;

static const char *const tf_periods[] = {"cue", "response", NULL};

/* The defect of tf_hidden_state: state that outlives an instance. */
static unsigned long tf_calls;

static int tf_create_with(const kpf_node *node, int defect, void **self, kpf_error *err)
{
    tf_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "tf: out of memory");
    int rc = kpf_cfg_double(node, "noise", KPF_CFG_OPTIONAL, 0.1, 0.0, 1e3, &s->noise, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->defect = defect;
    s->scale = 1.0;
    *self = s;
    return KPF_OK;
}

static void tf_destroy(void *self) { free(self); }

static void tf_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    *n_in = N_IN;
    *n_out = N_OUT;
    *T = T_STEPS;
}

static void tf_set_noise_scale(void *self, double scale)
{
    ((tf_task *)self)->scale = scale;
}

static void tf_trial(const tf_task *s, gsl_rng *rng, kpf_task_batch *bt, size_t b)
{
    const size_t B = bt->B;
    const int go = (int)gsl_rng_uniform_int(rng, 2);
    if (s->defect != TF_NO_COND)
        bt->cond[b] = go;
    bt->trial[b] = b;
    const double sigma = s->noise * (s->defect == TF_NOISE_SQUARED ? s->scale * s->scale
                                                                     : s->scale);
    for (size_t t = 0; t < T_STEPS; t++) {
        double *x = bt->x + (t * B + b) * N_IN;
        const int respond = t >= T_RESPONSE;
        x[0] = t < T_CUE ? (go ? 1.0 : -1.0) : 0.0;
        x[1] = respond ? 0.0 : 1.0;
        if (s->defect == TF_HIDDEN_STATE)
            x[1] += 1e-3 * (double)tf_calls;
        bt->y[t * B + b] = respond ? (double)go : 0.0;
        bt->mask[t * B + b] = respond ? (s->defect == TF_BAD_MASK ? 2.0 : 1.0) : 0.0;
        bt->period[t * B + b] = respond ? (s->defect == TF_BAD_PERIOD ? 2 : 1) : 0;
        for (size_t i = 0; i < N_IN; i++)
            if (s->defect != TF_SKIPS_NOISE || sigma > 0.0)
                x[i] += gsl_ran_gaussian(rng, sigma);
    }
}

static int tf_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const tf_task *s = self;
    if (bt->T != T_STEPS || bt->n_in != N_IN || bt->n_out != N_OUT)
        return kpf_error_set(err, KPF_EINVAL, "tf: batch does not fit the task");
    tf_calls++;
    for (size_t b = 0; b < bt->B; b++)
        tf_trial(s, rng, bt, b);
    if (s->defect == TF_OVERRUN)
        bt->x[bt->B * T_STEPS * N_IN] = 0.0;
    return KPF_OK;
}

#define TF_CREATE(fn, defect)                                                  \
    static int fn(const kpf_node *node, void **self, kpf_error *err)           \
    {                                                                          \
        return tf_create_with(node, defect, self, err);                        \
    }
TF_CREATE(create_ok, TF_OK)
TF_CREATE(create_bad_mask, TF_BAD_MASK)
TF_CREATE(create_bad_period, TF_BAD_PERIOD)
TF_CREATE(create_no_cond, TF_NO_COND)
TF_CREATE(create_overrun, TF_OVERRUN)
TF_CREATE(create_hidden_state, TF_HIDDEN_STATE)
TF_CREATE(create_skips_noise, TF_SKIPS_NOISE)
TF_CREATE(create_noise_squared, TF_NOISE_SQUARED)

#define TF_DESC(tname, create_fn)                                              \
    {KPF_TASK_DESC_HEAD,                                                       \
     .name = tname,                                                            \
     .summary = "task-check fixture",                                          \
     .period_names = tf_periods,                                               \
     .create = create_fn,                                                      \
     .destroy = tf_destroy,                                                    \
     .dims = tf_dims,                                                          \
     .generate = tf_generate,                                                  \
     .set_noise_scale = tf_set_noise_scale}

static const kpf_task_desc tf_descs[] = {
    TF_DESC("tf_ok", create_ok),
    TF_DESC("tf_bad_mask", create_bad_mask),
    TF_DESC("tf_bad_period", create_bad_period),
    TF_DESC("tf_no_cond", create_no_cond),
    TF_DESC("tf_overrun", create_overrun),
    TF_DESC("tf_hidden_state", create_hidden_state),
    TF_DESC("tf_skips_noise", create_skips_noise),
    TF_DESC("tf_noise_squared", create_noise_squared),
};

KPF_EXPORT const kpf_task_desc *kpf_task_descriptor(uint32_t index)
{
    return index < sizeof tf_descs / sizeof tf_descs[0] ? &tf_descs[index] : NULL;
}
