/* Task generators beyond memory_pro: multitask4, flip_flop,
 * flip_flop_schuessler, mante, romo and constant_input (shapes, masks,
 * determinism, hand-checked targets, parameter errors). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/task.h"

#include "task_fixture.h"

/* The task must be refused with exactly this message. */
static void refused(const char *yaml, const char *want)
{
    fixture f;
    kpf_error err = {0};
    cr_assert_eq(try_task(yaml, &f, &err), KPF_ECONFIG, "accepted: %s", yaml);
    cr_assert_null(f.task);
    cr_assert_str_eq(err.msg, want, "for: %s\n got: %s\nwant: %s", yaml, err.msg, want);
    drop(&f);
}

static const double *X(const kpf_task_batch *bt, size_t b, size_t t)
{
    return bt->x + (t * bt->B + b) * bt->n_in;
}

static const double *Y(const kpf_task_batch *bt, size_t b, size_t t)
{
    return bt->y + (t * bt->B + b) * bt->n_out;
}

static double M(const kpf_task_batch *bt, size_t b, size_t t)
{
    return bt->mask[t * bt->B + b];
}

static int P(const kpf_task_batch *bt, size_t b, size_t t)
{
    return bt->period[t * bt->B + b];
}

static void check_dims(const char *yaml, size_t n_in, size_t n_out, size_t T)
{
    fixture f;
    make(yaml, 3, 1, &f);
    cr_assert_eq(f.task->n_in, n_in, "%s: n_in %zu", yaml, f.task->n_in);
    cr_assert_eq(f.task->n_out, n_out, "%s: n_out %zu", yaml, f.task->n_out);
    cr_assert_eq(f.task->T, T, "%s: T %zu", yaml, f.task->T);
    cr_assert_eq(f.bt->T, T);
    for (size_t b = 0; b < 3; b++)
        cr_assert_eq(f.bt->trial[b], b);
    drop(&f);
}

/* The default YAML of every new task, for the generic tests. */
static const char *const all_tasks[] = {
    "task: {name: multitask4, t_context: 3, t_stim: 4, t_memory: 3, t_response: 5}\n",
    "task: {name: multitask4, n_conditions: 8, context_throughout: true}\n",
    "task: {name: flip_flop}\n",
    "task: {name: flip_flop, mix_anti: true, n_channels: 2, T: 40}\n",
    "task: {name: flip_flop_schuessler}\n",
    "task: {name: mante}\n",
    "task: {name: romo}\n",
    "task: {name: romo, one_output: true}\n",
    "task: {name: constant_input}\n",
};
#define N_ALL (sizeof all_tasks / sizeof *all_tasks)

/* ---- the table ------------------------------------------------------------- */

Test(tasks_more, table_lists_every_task_in_order)
{
    const char *want[] = {"memory_pro", "memory_anti", "delay_pro",
                          "delay_anti", "multitask4", "flip_flop",
                          "flip_flop_schuessler", "mante", "romo",
                          "constant_input"};
    const size_t nw = sizeof want / sizeof *want;
    kpf_error err = {0};
    const kpf_task_type *const *types = kpf_task_types();
    size_t n = 0;
    while (types[n])
        n++;
    cr_assert_eq(n, nw);
    for (size_t i = 0; i < nw; i++) {
        cr_assert_str_eq(types[i]->name, want[i]);
        cr_assert_eq(kpf_task_type_find(want[i]), types[i]);
        cr_assert_not_null(types[i]->summary);
        cr_assert_not_null(types[i]->period_names[0]);
        cr_assert_eq(kpf_task_desc_validate(types[i], "built-in", &err), KPF_OK, "%s",
                     err.msg);
        cr_assert_eq(kpf_builtin_task_descriptor((uint32_t)i), types[i]);
    }
    cr_assert_null(kpf_builtin_task_descriptor((uint32_t)nw));
    /* The unknown-name message lists the new tasks too. */
    refused("task:\n  name: mantee\n",
            "test.yaml:2:9: task.name: unknown task 'mantee' (known tasks: memory_pro, "
            "memory_anti, delay_pro, delay_anti, multitask4, flip_flop, "
            "flip_flop_schuessler, mante, romo, constant_input)");
}

/* ---- generic: determinism, regeneration, foreign batches ----------------- */

static size_t nbytes_x(const kpf_task_batch *bt)
{
    return bt->B * bt->T * bt->n_in * sizeof(double);
}

static size_t nbytes_y(const kpf_task_batch *bt)
{
    return bt->B * bt->T * bt->n_out * sizeof(double);
}

static void same_batch(const kpf_task_batch *a, const kpf_task_batch *b, const char *yaml)
{
    const size_t n = a->B * a->T;
    cr_assert_eq(memcmp(a->x, b->x, nbytes_x(a)), 0, "x differs: %s", yaml);
    cr_assert_eq(memcmp(a->y, b->y, nbytes_y(a)), 0, "y differs: %s", yaml);
    cr_assert_eq(memcmp(a->mask, b->mask, n * sizeof(double)), 0, "mask: %s", yaml);
    cr_assert_eq(memcmp(a->period, b->period, n * sizeof(int)), 0, "period: %s", yaml);
    cr_assert_eq(memcmp(a->cond, b->cond, a->B * sizeof(int)), 0, "cond: %s", yaml);
    cr_assert_eq(memcmp(a->trial, b->trial, a->B * sizeof(size_t)), 0, "trial: %s", yaml);
}

Test(tasks_more, same_seed_same_batch_other_seed_differs)
{
    for (size_t k = 0; k < N_ALL; k++) {
        fixture f, g, h;
        make(all_tasks[k], 6, 42, &f);
        make(all_tasks[k], 6, 42, &g);
        make(all_tasks[k], 6, 43, &h);
        same_batch(f.bt, g.bt, all_tasks[k]);
        const int differs = memcmp(f.bt->x, h.bt->x, nbytes_x(f.bt)) != 0 ||
                            memcmp(f.bt->y, h.bt->y, nbytes_y(f.bt)) != 0;
        /* constant_input is not random (see constant_input_draws_nothing). */
        const int random = strstr(all_tasks[k], "constant_input") == NULL;
        cr_assert_eq(differs, random, "seeds 42 and 43: %s", all_tasks[k]);
        drop(&f);
        drop(&g);
        drop(&h);
    }
}

/* Generating into a used batch overwrites every entry: the result equals a
 * fresh batch from the same seed (catches entries a generator leaves alone). */
Test(tasks_more, regenerating_overwrites_everything)
{
    for (size_t k = 0; k < N_ALL; k++) {
        fixture f, g;
        make(all_tasks[k], 5, 1, &f);
        make(all_tasks[k], 5, 2, &g);
        /* Poison f's batch, then regenerate it from seed 2. */
        const size_t n = f.bt->B * f.bt->T;
        for (size_t i = 0; i < n * f.bt->n_in; i++)
            f.bt->x[i] = 7.0;
        for (size_t i = 0; i < n * f.bt->n_out; i++)
            f.bt->y[i] = 7.0;
        for (size_t i = 0; i < n; i++) {
            f.bt->mask[i] = 7.0;
            f.bt->period[i] = 77;
        }
        for (size_t b = 0; b < f.bt->B; b++) {
            f.bt->cond[b] = 77;
            f.bt->trial[b] = 77;
        }
        gsl_rng_set(f.rng, 2);
        kpf_error err = {0};
        cr_assert_eq(kpf_task_generate(f.task, f.rng, f.bt, &err), KPF_OK, "%s", err.msg);
        same_batch(f.bt, g.bt, all_tasks[k]);
        drop(&f);
        drop(&g);
    }
}

Test(tasks_more, masks_are_0_or_1_and_periods_named)
{
    for (size_t k = 0; k < N_ALL; k++) {
        fixture f;
        make(all_tasks[k], 7, 3, &f);
        size_t n_periods = 0;
        while (f.task->type->period_names[n_periods])
            n_periods++;
        size_t scored = 0;
        for (size_t i = 0; i < f.bt->B * f.bt->T; i++) {
            cr_assert(f.bt->mask[i] == 0.0 || f.bt->mask[i] == 1.0, "%s", all_tasks[k]);
            cr_assert(f.bt->period[i] >= 0 && (size_t)f.bt->period[i] < n_periods, "%s",
                      all_tasks[k]);
            scored += f.bt->mask[i] == 1.0;
        }
        cr_assert_gt(scored, 0, "nothing scored: %s", all_tasks[k]);
        for (size_t i = 0; i < f.bt->B * f.bt->T * f.bt->n_in; i++)
            cr_assert(isfinite(f.bt->x[i]));
        drop(&f);
    }
}

Test(tasks_more, generate_rejects_a_foreign_batch)
{
    for (size_t k = 0; k < N_ALL; k++) {
        fixture f, g;
        make(all_tasks[k], 2, 1, &f);
        /* constant_input with another length: a batch no other task fits. */
        make("task: {name: constant_input, t_max: 3}\n", 2, 1, &g);
        kpf_error err = {0};
        cr_assert_eq(kpf_task_generate(f.task, f.rng, g.bt, &err), KPF_EINVAL, "%s",
                     all_tasks[k]);
        /* And the type's own generate checks too (called without task.c). */
        cr_assert_eq(f.task->type->generate(f.task->self, f.rng, g.bt, &err), KPF_EINVAL,
                     "%s", all_tasks[k]);
        drop(&f);
        drop(&g);
    }
}

/* ---- multitask4 ------------------------------------------------------------ */

#define MX_PERIODS "t_context: 3, t_stim: 4, t_memory: 3, t_response: 5"
enum { MC = 3, MS = 4, MM = 3, MR = 5, MT = MC + MS + MM + MR };

static int mx_period_at(size_t t)
{
    return t < MC ? 0 : t < MC + MS ? 1 : t < MC + MS + MM ? 2 : 3;
}

Test(tasks_more, multitask4_dims)
{
    check_dims("task: {name: multitask4}\n", 7, 3, 120);
    check_dims("task: {name: multitask4, " MX_PERIODS "}\n", 7, 3, MT);
    const kpf_task_type *t = kpf_task_type_find("multitask4");
    const char *want[] = {"context", "stimulus", "memory", "response"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_str_eq(t->period_names[i], want[i]);
    cr_assert_null(t->period_names[4]);
}

Test(tasks_more, multitask4_splits_trials_in_four_blocks)
{
    fixture f;
    make("task: {name: multitask4, noise: 0, " MX_PERIODS "}\n", 8, 1, &f);
    const int want8[] = {0, 0, 1, 1, 2, 2, 3, 3};
    for (size_t b = 0; b < 8; b++)
        cr_assert_eq(f.bt->cond[b], want8[b], "b=%zu", b);
    drop(&f);
    make("task: {name: multitask4, noise: 0, " MX_PERIODS "}\n", 5, 1, &f);
    const int want5[] = {0, 0, 1, 2, 3};
    for (size_t b = 0; b < 5; b++)
        cr_assert_eq(f.bt->cond[b], want5[b], "b=%zu", b);
    drop(&f);
}

/* Noise-free, θ forced to 0 (n_conditions: 1), amplitude 2: the stimulus is
 * (2, 0); variant k = cond: anti for k = 1, 3; stimulus on throughout for
 * k = 2, 3; the cue on channel 3 + k during the context only. */
Test(tasks_more, multitask4_hand_checked_variants)
{
    fixture f;
    make("task: {name: multitask4, noise: 0, n_conditions: 1, amplitude: 2, " MX_PERIODS
         "}\n", 4, 5, &f);
    for (size_t b = 0; b < 4; b++) {
        const int k = (int)b;
        cr_assert_eq(f.bt->cond[b], k);
        const double sign = (k == 1 || k == 3) ? -1.0 : 1.0;
        const int delay = k >= 2;
        for (size_t t = 0; t < MT; t++) {
            const double *x = X(f.bt, b, t), *y = Y(f.bt, b, t);
            const int p = mx_period_at(t);
            cr_assert_eq(P(f.bt, b, t), p, "b=%zu t=%zu", b, t);
            cr_assert_eq(M(f.bt, b, t), 1.0);
            const int stim_on = p == 1 || (delay && p > 0);
            const double want_x[7] = {p < 3 ? 1.0 : 0.0, stim_on ? 2.0 : 0.0, 0.0,
                                      p == 0 && k == 0, p == 0 && k == 1,
                                      p == 0 && k == 2, p == 0 && k == 3};
            for (size_t i = 0; i < 7; i++)
                cr_assert_eq(x[i], want_x[i], "x[%zu] b=%zu t=%zu: %g", i, b, t, x[i]);
            cr_assert_eq(y[0], p < 3 ? 1.0 : 0.0, "fixation target b=%zu t=%zu", b, t);
            cr_assert_eq(y[1], p == 3 ? sign * 2.0 : 0.0, "target b=%zu t=%zu", b, t);
            cr_assert_eq(y[2], 0.0);
        }
    }
    drop(&f);
}

/* Continuous angles: targets are ±the stimulus shown after the context. */
Test(tasks_more, multitask4_continuous_angles)
{
    fixture f;
    make("task: {name: multitask4, noise: 0, " MX_PERIODS "}\n", 12, 9, &f);
    for (size_t b = 0; b < 12; b++) {
        const double c = X(f.bt, b, MC)[1], s = X(f.bt, b, MC)[2];
        cr_assert_float_eq(c * c + s * s, 1.0, 1e-12);
        const double sign = (f.bt->cond[b] & 1) ? -1.0 : 1.0;
        const double *y = Y(f.bt, b, MT - 1);
        cr_assert_eq(y[1], sign * c, "b=%zu", b);
        cr_assert_eq(y[2], sign * s, "b=%zu", b);
    }
    drop(&f);
}

Test(tasks_more, multitask4_context_throughout_and_response_mask)
{
    fixture f;
    make("task: {name: multitask4, noise: 0, context_throughout: true, "
         "mask_response_only: true, " MX_PERIODS "}\n", 4, 5, &f);
    for (size_t b = 0; b < 4; b++)
        for (size_t t = 0; t < MT; t++) {
            for (int v = 0; v < 4; v++)
                cr_assert_eq(X(f.bt, b, t)[3 + v], v == (int)b ? 1.0 : 0.0, "b=%zu t=%zu",
                             b, t);
            cr_assert_eq(M(f.bt, b, t), mx_period_at(t) == 3 ? 1.0 : 0.0, "t=%zu", t);
        }
    drop(&f);
}

/* White noise of the configured σ on all seven input channels at every step
 * (same seed: noise is drawn even at σ = 0, so the difference is the noise). */
Test(tasks_more, multitask4_noise_on_every_channel)
{
    enum { B = 400 };
    fixture f, g;
    make("task: {name: multitask4, noise: 0.2, " MX_PERIODS "}\n", B, 17, &f);
    make("task: {name: multitask4, noise: 0, " MX_PERIODS "}\n", B, 17, &g);
    for (size_t i = 0; i < 7; i++) {
        double sq = 0;
        for (size_t t = 0; t < MT; t++)
            for (size_t b = 0; b < B; b++) {
                const double d = X(f.bt, b, t)[i] - X(g.bt, b, t)[i];
                sq += d * d;
            }
        const double sd = sqrt(sq / (B * MT));
        cr_assert(fabs(sd / 0.2 - 1) < 0.05, "channel %zu: std %g", i, sd);
    }
    cr_assert_eq(memcmp(f.bt->y, g.bt->y, nbytes_y(f.bt)), 0);
    drop(&f);
    drop(&g);
    /* Default σ: the reference's 0.1·√2. */
    make("task: {name: multitask4, " MX_PERIODS "}\n", B, 17, &f);
    make("task: {name: multitask4, noise: 0, " MX_PERIODS "}\n", B, 17, &g);
    double sq = 0;
    for (size_t i = 0; i < B * MT * 7; i++)
        sq += (f.bt->x[i] - g.bt->x[i]) * (f.bt->x[i] - g.bt->x[i]);
    cr_assert(fabs(sqrt(sq / (B * MT * 7)) / (0.1 * M_SQRT2) - 1) < 0.03);
    drop(&f);
    drop(&g);
}

Test(tasks_more, multitask4_bad_parameters)
{
    refused("task:\n  name: multitask4\n  t_context: 0\n",
            "test.yaml:3:14: task.t_context: 0 is out of range (expected an integer in "
            "[1, 16777216])");
    refused("task:\n  name: multitask4\n  amplitude: 0\n",
            "test.yaml:3:14: task.amplitude: expected a number > 0 (got 0)");
    /* anti / delay are set by the variant: an unread key. */
    fixture f;
    kpf_error err = {0};
    cr_assert_eq(try_task("task:\n  name: multitask4\n  anti: true\n", &f, &err), KPF_OK);
    cr_assert_eq(kpf_config_check_unused(f.cfg, &err), KPF_ECONFIG);
    cr_assert(strncmp(err.msg, "test.yaml:3:3: task.anti: unknown key", 37) == 0, "%s",
              err.msg);
    drop(&f);
}

/* ---- flip_flop (KPFlow) ---------------------------------------------------- */

Test(tasks_more, flip_flop_dims)
{
    check_dims("task: {name: flip_flop}\n", 3, 3, 90);
    check_dims("task: {name: flip_flop, n_channels: 5, T: 12, mix_anti: true}\n", 6, 5, 12);
}

/* Noise-free: pulses are ±1, the target holds the last pulse per channel (0
 * before the first), every step is scored. */
static void check_flip_flop_holds(const kpf_task_batch *bt, size_t nc, int anti_cue)
{
    for (size_t b = 0; b < bt->B; b++) {
        const double a = anti_cue ? X(bt, b, 0)[nc] : 1.0;
        cr_assert(a == 1.0 || a == -1.0);
        cr_assert_eq(bt->cond[b], a < 0);
        for (size_t i = 0; i < nc; i++) {
            double held = 0.0;
            for (size_t t = 0; t < bt->T; t++) {
                const double u = X(bt, b, t)[i];
                cr_assert(u == 0.0 || u == 1.0 || u == -1.0, "u=%g", u);
                if (u != 0.0)
                    held = u;
                cr_assert_eq(Y(bt, b, t)[i], a * held, "b=%zu i=%zu t=%zu", b, i, t);
                cr_assert_eq(M(bt, b, t), 1.0);
                cr_assert_eq(P(bt, b, t), 0);
                if (anti_cue)
                    cr_assert_eq(X(bt, b, t)[nc], a);
            }
        }
    }
}

Test(tasks_more, flip_flop_targets_hold_the_last_pulse)
{
    fixture f;
    make("task: {name: flip_flop, noise: 0}\n", 20, 4, &f);
    check_flip_flop_holds(f.bt, 3, 0);
    drop(&f);
    make("task: {name: flip_flop, noise: 0, mix_anti: true, T: 30}\n", 40, 4, &f);
    check_flip_flop_holds(f.bt, 3, 1);
    int anti = 0;
    for (size_t b = 0; b < 40; b++)
        anti += f.bt->cond[b];
    cr_assert(anti > 5 && anti < 35, "anti trials: %d of 40", anti);
    drop(&f);
}

/* Forced: n_spike 1 pulses at every step, so the target is the input. */
Test(tasks_more, flip_flop_pulse_every_step)
{
    fixture f;
    make("task: {name: flip_flop, noise: 0, n_spike: 1, T: 10}\n", 4, 8, &f);
    for (size_t b = 0; b < 4; b++)
        for (size_t t = 0; t < 10; t++)
            for (size_t i = 0; i < 3; i++) {
                const double u = X(f.bt, b, t)[i];
                cr_assert(u == 1.0 || u == -1.0);
                cr_assert_eq(Y(f.bt, b, t)[i], u);
            }
    drop(&f);
}

/* n_spike is the mean gap between pulses: T/n_spike pulses per channel per
 * trial (4.5 at the defaults), half of each sign. */
Test(tasks_more, flip_flop_pulse_rate)
{
    enum { B = 2000 };
    fixture f;
    make("task: {name: flip_flop, noise: 0}\n", B, 6, &f);
    double pos = 0, neg = 0;
    for (size_t i = 0; i < B * 90 * 3; i++) {
        pos += f.bt->x[i] == 1.0;
        neg += f.bt->x[i] == -1.0;
    }
    const double per = (pos + neg) / (B * 3);
    cr_assert(fabs(per / 4.5 - 1) < 0.03, "pulses per channel per trial: %g", per);
    cr_assert(fabs(pos / (pos + neg) - 0.5) < 0.02, "positive fraction %g",
              pos / (pos + neg));
    drop(&f);
}

Test(tasks_more, flip_flop_noise)
{
    enum { B = 500 };
    fixture f, g;
    make("task: {name: flip_flop, mix_anti: true}\n", B, 3, &f);
    make("task: {name: flip_flop, mix_anti: true, noise: 0}\n", B, 3, &g);
    double sq = 0;
    const size_t n = B * 90 * 4;
    for (size_t i = 0; i < n; i++)
        sq += (f.bt->x[i] - g.bt->x[i]) * (f.bt->x[i] - g.bt->x[i]);
    /* Default σ: the reference's 0.03·√2, the anti cue included. */
    cr_assert(fabs(sqrt(sq / n) / (0.03 * M_SQRT2) - 1) < 0.03, "std %g", sqrt(sq / n));
    cr_assert_eq(memcmp(f.bt->y, g.bt->y, nbytes_y(f.bt)), 0);
    drop(&f);
    drop(&g);
}

Test(tasks_more, flip_flop_bad_parameters)
{
    refused("task:\n  name: flip_flop\n  n_spike: 0.5\n",
            "test.yaml:3:12: task.n_spike: 0.5 is out of range (expected a number >= 1)");
    refused("task: {name: flip_flop, T: 0}\n",
            "test.yaml:1:28: task.T: 0 is out of range (expected an integer in "
            "[1, 16777216])");
}

/* ---- flip_flop_schuessler --------------------------------------------------- */

Test(tasks_more, flip_flop_schuessler_dims)
{
    /* Table S1: T = 50 at dt = 0.5. */
    check_dims("task: {name: flip_flop_schuessler}\n", 2, 2, 100);
    check_dims("task: {name: flip_flop_schuessler, dt: 1, t_max: 30, n_channels: 3}\n", 3,
               3, 30);
}

/* Forced: t_sd_min = t_sd_max = 5 gives pulses every int((5 + 5)/0.5) = 20
 * steps from step 2, each 2 steps long; the decision periods are
 * [onset + 10, onset + 20) and the only scored steps. */
Test(tasks_more, flip_flop_schuessler_hand_checked)
{
    fixture f;
    make("task: {name: flip_flop_schuessler, t_sd_min: 5, t_sd_max: 5}\n", 6, 2, &f);
    for (size_t b = 0; b < 6; b++) {
        cr_assert_eq(f.bt->cond[b], 0);
        for (size_t t = 0; t < 100; t++) {
            const size_t onset = t < 2 ? 0 : 2 + (t - 2) / 20 * 20, k = t - onset;
            const int before = t < 2;
            const double *x = X(f.bt, b, t), *y = Y(f.bt, b, t);
            /* The pulse of this interval: its channel and sign. */
            const double *xo = X(f.bt, b, before ? 2 : onset);
            const size_t c = xo[0] != 0.0 ? 0 : 1;
            const double s = xo[c];
            cr_assert(s == 1.0 || s == -1.0, "b=%zu onset %zu", b, onset);
            cr_assert_eq(xo[1 - c], 0.0);
            const int pulse = !before && k < 2, decide = !before && k >= 10;
            cr_assert_eq(x[c], pulse ? s : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(x[1 - c], 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(y[c], decide ? 0.5 * s : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(y[1 - c], 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(M(f.bt, b, t), decide ? 1.0 : 0.0, "mask b=%zu t=%zu", b, t);
            cr_assert_eq(P(f.bt, b, t), before ? 0 : pulse ? 1 : decide ? 3 : 2,
                         "period b=%zu t=%zu", b, t);
        }
    }
    drop(&f);
}

/* Random intervals: onsets int((U(5, 25) + 5)/0.5) ∈ [20, 59] steps apart; a
 * decision starts 10 steps after each onset and lasts to the next onset. */
Test(tasks_more, flip_flop_schuessler_random_intervals)
{
    enum { B = 200, T = 100 };
    fixture f;
    make("task: {name: flip_flop_schuessler, input_amp: 2, target_amp: 0.25}\n", B, 11, &f);
    size_t min_gap = T, max_gap = 0;
    for (size_t b = 0; b < B; b++) {
        size_t last = 0, n_onsets = 0;
        double sign = 0;
        size_t chan = 0;
        for (size_t t = 0; t < T; t++) {
            const double *x = X(f.bt, b, t);
            const int on = x[0] != 0.0 || x[1] != 0.0;
            const int onset = on && (t == 0 || (X(f.bt, b, t - 1)[0] == 0.0 &&
                                                X(f.bt, b, t - 1)[1] == 0.0));
            if (onset) {
                if (n_onsets) {
                    min_gap = t - last < min_gap ? t - last : min_gap;
                    max_gap = t - last > max_gap ? t - last : max_gap;
                } else {
                    cr_assert_eq(t, 2, "first onset of trial %zu at %zu", b, t);
                }
                chan = x[0] != 0.0 ? 0 : 1;
                sign = x[chan] / 2.0;
                cr_assert(sign == 1.0 || sign == -1.0);
                last = t;
                n_onsets++;
            }
            const int decide = n_onsets && t >= last + 10;
            cr_assert_eq(M(f.bt, b, t), decide ? 1.0 : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(Y(f.bt, b, t)[chan], decide ? 0.25 * sign : 0.0);
            cr_assert_eq(Y(f.bt, b, t)[1 - chan], 0.0);
        }
        cr_assert(n_onsets >= 2 && n_onsets <= 5, "trial %zu: %zu pulses", b, n_onsets);
    }
    cr_assert_geq(min_gap, 20);
    cr_assert_leq(max_gap, 59);
    cr_assert_lt(min_gap, 25, "gaps never short: %zu", min_gap);
    cr_assert_gt(max_gap, 54, "gaps never long: %zu", max_gap);
    drop(&f);
}

Test(tasks_more, flip_flop_schuessler_fixate_scores_the_start)
{
    fixture f;
    make("task: {name: flip_flop_schuessler, fixate: true, t_fix: 2}\n", 3, 1, &f);
    /* Fixation [0, 4) scored; the first pulse's delay [4, 14) is not. */
    for (size_t b = 0; b < 3; b++)
        for (size_t t = 0; t < 14; t++) {
            cr_assert_eq(M(f.bt, b, t), t < 4 ? 1.0 : 0.0, "t=%zu", t);
            cr_assert_eq(Y(f.bt, b, t)[0], 0.0);
            cr_assert_eq(Y(f.bt, b, t)[1], 0.0);
            cr_assert_eq(P(f.bt, b, t), t < 4 ? 0 : t < 6 ? 1 : 2, "t=%zu", t);
        }
    drop(&f);
}

Test(tasks_more, flip_flop_schuessler_bad_parameters)
{
    refused("task:\n  name: flip_flop_schuessler\n  t_sd_min: 9\n  t_sd_max: 8\n",
            "test.yaml:4:13: task.t_sd_max: t_sd_max = 8 is below t_sd_min = 9");
    refused("task:\n  name: flip_flop_schuessler\n  dt: 0\n",
            "test.yaml:3:7: task.dt: expected a number > 0 (got 0)");
    refused("task:\n  name: flip_flop_schuessler\n  t_stim: 0.4\n",
            "test.yaml:3:11: task.t_stim: t_stim = 0.4 is 0 steps of dt = 0.5; at least 1 "
            "needed");
    /* A default too short for the dt set is reported at the task map. */
    refused("task:\n  name: flip_flop_schuessler\n  dt: 2\n",
            "test.yaml:2:3: task: t_stim = 1 is 0 steps of dt = 2; at least 1 needed");
    refused("task:\n  name: flip_flop_schuessler\n  t_sd_min: 0\n  t_delay: 0.2\n",
            "test.yaml:2:3: task: t_sd_min + t_delay = 0.2 is shorter than one step of "
            "dt = 0.5");
}

/* ---- mante ------------------------------------------------------------------ */

/* Code defaults at dt 0.5: fixation [0,6), stimulus [6,46), delay [46,56),
 * decision [56,96). */
static int mt_period_at(size_t t)
{
    return t < 6 ? 0 : t < 46 ? 1 : t < 56 ? 2 : 3;
}

Test(tasks_more, mante_dims)
{
    check_dims("task: {name: mante}\n", 4, 1, 96);
    check_dims("task: {name: mante, dt: 1}\n", 4, 1, 48);
}

static int graded(double c)
{
    const double set[] = {-1, -0.5, -0.25, -0.125, 0.125, 0.25, 0.5, 1};
    for (size_t i = 0; i < 8; i++)
        if (c == set[i])
            return (int)i;
    return -1;
}

/* Noise-free: the cued context on its channel during the stimulus, constant
 * coherences on the sensory channels, target 0.5·sign(c_j) in the decision;
 * mask everywhere but the delay. */
Test(tasks_more, mante_hand_checked)
{
    enum { B = 400 };
    fixture f;
    make("task: {name: mante, noise: 0}\n", B, 21, &f);
    int seen[8] = {0}, ctx[2] = {0};
    for (size_t b = 0; b < B; b++) {
        const int j = f.bt->cond[b];
        cr_assert(j == 0 || j == 1);
        ctx[j]++;
        const double c0 = X(f.bt, b, 6)[2], c1 = X(f.bt, b, 6)[3];
        cr_assert_geq(graded(c0), 0, "c0 = %g", c0);
        cr_assert_geq(graded(c1), 0, "c1 = %g", c1);
        seen[graded(c0)]++;
        const double z = 0.5 * ((j ? c1 : c0) < 0 ? -1.0 : 1.0);
        for (size_t t = 0; t < 96; t++) {
            const int p = mt_period_at(t);
            const double *x = X(f.bt, b, t);
            cr_assert_eq(P(f.bt, b, t), p);
            cr_assert_eq(x[0], p == 1 && j == 0 ? 1.0 : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(x[1], p == 1 && j == 1 ? 1.0 : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(x[2], p == 1 ? c0 : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(x[3], p == 1 ? c1 : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(Y(f.bt, b, t)[0], p == 3 ? z : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(M(f.bt, b, t), p == 2 ? 0.0 : 1.0, "b=%zu t=%zu", b, t);
        }
    }
    for (int i = 0; i < 8; i++)
        cr_assert_gt(seen[i], 20, "coherence %d drawn %d times", i, seen[i]);
    cr_assert(ctx[0] > 150 && ctx[1] > 150);
    drop(&f);
}

/* A trial whose two coherences have opposite signs: the context picks the
 * answer (a forced condition read back from the batch). */
Test(tasks_more, mante_context_decides)
{
    fixture f;
    make("task: {name: mante, noise: 0, coherences: binary, fixate: false, "
         "target_amp: 2}\n", 64, 5, &f);
    int conflicts = 0;
    for (size_t b = 0; b < 64; b++) {
        const double c0 = X(f.bt, b, 10)[2], c1 = X(f.bt, b, 10)[3];
        cr_assert(fabs(c0) == 1.0 && fabs(c1) == 1.0, "binary: %g %g", c0, c1);
        const double want = 2.0 * (f.bt->cond[b] ? c1 : c0);
        cr_assert_eq(Y(f.bt, b, 95)[0], want);
        conflicts += c0 != c1;
        for (size_t t = 0; t < 96; t++)
            cr_assert_eq(M(f.bt, b, t), mt_period_at(t) == 3 ? 1.0 : 0.0);
    }
    cr_assert_gt(conflicts, 10);
    drop(&f);
}

/* Sensory noise of std noise/√dt at every step; none on the context. */
Test(tasks_more, mante_noise)
{
    enum { B = 500 };
    fixture f, g;
    make("task: {name: mante}\n", B, 13, &f);
    make("task: {name: mante, noise: 0}\n", B, 13, &g);
    double sq[4] = {0};
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < 96; t++)
            for (size_t i = 0; i < 4; i++) {
                const double d = X(f.bt, b, t)[i] - X(g.bt, b, t)[i];
                sq[i] += d * d;
            }
    cr_assert_eq(sq[0], 0.0);
    cr_assert_eq(sq[1], 0.0);
    for (size_t i = 2; i < 4; i++) {
        const double sd = sqrt(sq[i] / (B * 96));
        cr_assert(fabs(sd / (0.05 / sqrt(0.5)) - 1) < 0.03, "channel %zu std %g", i, sd);
    }
    cr_assert_eq(memcmp(f.bt->y, g.bt->y, nbytes_y(f.bt)), 0);
    drop(&f);
    drop(&g);
}

Test(tasks_more, mante_bad_parameters)
{
    refused("task:\n  name: mante\n  coherences: fine\n",
            "test.yaml:3:15: task.coherences: unknown value 'fine' (expected one of: "
            "graded, binary)");
    refused("task:\n  name: mante\n  t_dec: 0.25\n",
            "test.yaml:3:10: task.t_dec: t_dec = 0.25 is 0 steps of dt = 0.5; at least 1 "
            "needed");
    refused("task:\n  name: mante\n  noise: -1\n",
            "test.yaml:3:10: task.noise: -1 is out of range (expected a number >= 0)");
}

/* ---- romo ------------------------------------------------------------------- */

Test(tasks_more, romo_dims)
{
    /* The code's T = 28 (56 steps at dt 0.5), not Table S1's 30. */
    check_dims("task: {name: romo}\n", 1, 2, 56);
    check_dims("task: {name: romo, one_output: true, dt: 1}\n", 1, 1, 28);
}

/* Random trials: f1 on [6, 8), f2 on [8 + k, 10 + k) with k = int(t_sd/0.5)
 * ∈ [4, 16]; the decision window [f2 end + 10, f2 end + 30); mask on
 * [0, f2 end) and the decision; 0.5 on the larger pulse's output. */
Test(tasks_more, romo_trials)
{
    enum { B = 300, T = 56 };
    fixture f;
    make("task: {name: romo}\n", B, 31, &f);
    size_t kmin = 100, kmax = 0;
    int larger[2] = {0};
    for (size_t b = 0; b < B; b++) {
        const double f1 = X(f.bt, b, 6)[0];
        size_t s2 = 8;
        while (s2 < T && X(f.bt, b, s2)[0] == 0.0)
            s2++;
        cr_assert_lt(s2, T);
        const double f2 = X(f.bt, b, s2)[0];
        const size_t k = s2 - 8, e2 = s2 + 2;
        kmin = k < kmin ? k : kmin;
        kmax = k > kmax ? k : kmax;
        cr_assert(f1 >= 0.5 && f1 < 1.5 && f2 >= 0.5 && f2 < 1.5, "%g %g", f1, f2);
        cr_assert_geq(fabs(f1 - f2), 0.2);
        const int big = f1 > f2 ? 0 : 1;
        larger[big]++;
        cr_assert_eq(f.bt->cond[b], big);
        for (size_t t = 0; t < T; t++) {
            const double want_x = (t == 6 || t == 7) ? f1 : (t == s2 || t == s2 + 1) ? f2 : 0;
            cr_assert_eq(X(f.bt, b, t)[0], want_x, "b=%zu t=%zu", b, t);
            const int decide = t >= e2 + 10 && t < e2 + 30;
            cr_assert_eq(M(f.bt, b, t), (t < e2 || decide) ? 1.0 : 0.0, "b=%zu t=%zu", b,
                         t);
            cr_assert_eq(Y(f.bt, b, t)[big], decide ? 0.5 : 0.0);
            cr_assert_eq(Y(f.bt, b, t)[1 - big], 0.0);
            const int p = t < 6 ? 0 : t < 8 ? 1 : t < s2 ? 2 : t < e2 ? 3 : t < e2 + 10 ? 4
                        : decide ? 5 : 6;
            cr_assert_eq(P(f.bt, b, t), p, "b=%zu t=%zu", b, t);
        }
    }
    cr_assert_eq(kmin, 4);
    cr_assert_eq(kmax, 15); /* int(U(2, 8)/0.5) < 16 */
    cr_assert(larger[0] > 100 && larger[1] > 100);
    drop(&f);
}

/* Forced: fixed delay (t_sd 3 → stim2 at [14, 16)), f1 = f2 = 1 (a tie
 * counts as f1); one output, sign(f1 − f2) with ties +. */
Test(tasks_more, romo_hand_checked)
{
    fixture f;
    make("task: {name: romo, t_sd_min: 3, t_sd_max: 3, amp_min: 1, amp_max: 1, "
         "min_diff: 0, one_output: true, fixate: false}\n", 2, 1, &f);
    cr_assert_eq(f.task->T, 46);
    for (size_t b = 0; b < 2; b++) {
        cr_assert_eq(f.bt->cond[b], 0);
        for (size_t t = 0; t < 46; t++) {
            const int stim = t == 6 || t == 7 || t == 14 || t == 15;
            const int decide = t >= 26 && t < 46;
            cr_assert_eq(X(f.bt, b, t)[0], stim ? 1.0 : 0.0, "t=%zu", t);
            cr_assert_eq(Y(f.bt, b, t)[0], decide ? 0.5 : 0.0, "t=%zu", t);
            cr_assert_eq(M(f.bt, b, t), decide ? 1.0 : 0.0, "t=%zu", t);
        }
    }
    drop(&f);
    /* One output, random amplitudes: +0.5 when f1 > f2, −0.5 otherwise. */
    make("task: {name: romo, one_output: true}\n", 50, 3, &f);
    for (size_t b = 0; b < 50; b++) {
        const double want = f.bt->cond[b] ? -0.5 : 0.5;
        double got = 0;
        for (size_t t = 0; t < 56; t++)
            if (Y(f.bt, b, t)[0] != 0.0)
                got = Y(f.bt, b, t)[0];
        cr_assert_eq(got, want, "b=%zu", b);
    }
    drop(&f);
}

Test(tasks_more, romo_bad_parameters)
{
    refused("task:\n  name: romo\n  min_diff: 1.5\n",
            "test.yaml:3:13: task.min_diff: min_diff = 1.5 must be below amp_max − amp_min "
            "= 1");
    refused("task:\n  name: romo\n  amp_max: 0.4\n",
            "test.yaml:3:12: task.amp_max: amp_max = 0.4 is below amp_min = 0.5");
    refused("task:\n  name: romo\n  t_sd_max: 1\n",
            "test.yaml:3:13: task.t_sd_max: t_sd_max = 1 is below t_sd_min = 2");
}

/* ---- constant_input --------------------------------------------------------- */

Test(tasks_more, constant_input_dims)
{
    /* Table S1: T = 101 at dt = 0.5, the code's 202 steps. */
    check_dims("task: {name: constant_input}\n", 1, 1, 202);
    check_dims("task: {name: constant_input, t_max: 201}\n", 1, 1, 402);
    /* int(d/dt) with the quotient's rounding error forgiven: 0.3/0.1 is
     * 2.9999999999999996 in doubles but 3 steps. */
    check_dims("task: {name: constant_input, dt: 0.1, t_max: 0.3, t_fix: 0.1, t_dec: 0.1}\n",
               1, 1, 3);
    check_dims("task: {name: constant_input, dt: 0.1, t_max: 0.35, t_fix: 0.1, t_dec: "
               "0.1}\n", 1, 1, 3);
}

Test(tasks_more, constant_input_hand_checked)
{
    fixture f;
    make("task: {name: constant_input, target_amp: 2, t_max: 10, dt: 1, t_fix: 3, "
         "t_dec: 2}\n", 3, 1, &f);
    for (size_t b = 0; b < 3; b++) {
        cr_assert_eq(f.bt->cond[b], 0);
        for (size_t t = 0; t < 10; t++) {
            cr_assert_eq(X(f.bt, b, t)[0], t >= 3 ? 1.0 : 0.0, "t=%zu", t);
            cr_assert_eq(Y(f.bt, b, t)[0], t >= 8 ? 2.0 : 0.0, "t=%zu", t);
            cr_assert_eq(M(f.bt, b, t), t >= 8 ? 1.0 : 0.0, "t=%zu", t);
            cr_assert_eq(P(f.bt, b, t), t < 3 ? 0 : t < 8 ? 1 : 2, "t=%zu", t);
        }
    }
    drop(&f);
    /* Defaults: input from step 2, the last 2 of 202 steps scored at 0.5. */
    make("task: {name: constant_input}\n", 1, 1, &f);
    for (size_t t = 0; t < 202; t++) {
        cr_assert_eq(X(f.bt, 0, t)[0], t >= 2 ? 1.0 : 0.0);
        cr_assert_eq(Y(f.bt, 0, t)[0], t >= 200 ? 0.5 : 0.0);
        cr_assert_eq(M(f.bt, 0, t), t >= 200 ? 1.0 : 0.0);
    }
    drop(&f);
}

/* Nothing random: the RNG is left untouched. */
Test(tasks_more, constant_input_draws_nothing)
{
    fixture f;
    make("task: {name: constant_input}\n", 2, 99, &f);
    gsl_rng *fresh = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(fresh, 99);
    cr_assert_eq(gsl_rng_get(f.rng), gsl_rng_get(fresh));
    gsl_rng_free(fresh);
    drop(&f);
}

Test(tasks_more, constant_input_bad_parameters)
{
    refused("task:\n  name: constant_input\n  t_max: 10\n  t_dec: 11\n",
            "test.yaml:4:10: task.t_dec: t_dec (22 steps) is longer than t_max (20 steps)");
    /* t_fix's default, so the complaint is located at the task map. */
    refused("task:\n  name: constant_input\n  t_max: 1\n",
            "test.yaml:2:3: task: t_fix (2 steps) leaves no input step in t_max (2 steps)");
}

/* Evaluation sets switch noise off without changing the conditions drawn. */
Test(tasks_more, noise_scale_zero_gives_clean_inputs_with_same_conditions)
{
    const char *names[] = {"memory_pro", "multitask4", "flip_flop", "mante"};
    for (size_t k = 0; k < 4; k++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "name: %s\n", names[k]);
        kpf_config *cfg = NULL;
        kpf_task *task = NULL;
        kpf_task_batch *a = NULL, *b = NULL;
        kpf_error e = {0};
        cr_assert_eq(kpf_config_load_string(yaml, "t.yaml", &cfg, &e), KPF_OK, "%s", e.msg);
        cr_assert_eq(kpf_task_create(kpf_config_root(cfg), &task, &e), KPF_OK, "%s", e.msg);
        cr_assert_eq(kpf_task_batch_alloc(task, 8, &a, &e), KPF_OK);
        cr_assert_eq(kpf_task_batch_alloc(task, 8, &b, &e), KPF_OK);
        gsl_rng *r1 = gsl_rng_alloc(gsl_rng_mt19937), *r2 = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(r1, 11);
        gsl_rng_set(r2, 11);
        cr_assert_eq(kpf_task_generate(task, r1, a, &e), KPF_OK, "%s", e.msg);
        kpf_task_set_noise_scale(task, 0.0);
        cr_assert_eq(kpf_task_generate(task, r2, b, &e), KPF_OK, "%s", e.msg);
        kpf_task_set_noise_scale(task, 1.0);
        size_t nx = a->B * a->T * a->n_in, ny = a->B * a->T * a->n_out;
        double dx = 0;
        for (size_t i = 0; i < nx; i++)
            dx = fmax(dx, fabs(a->x[i] - b->x[i]));
        cr_assert_gt(dx, 0.0, "%s: noise scale 0 changed nothing", names[k]);
        cr_assert_eq(memcmp(a->y, b->y, ny * sizeof(double)), 0, "%s: targets changed",
                     names[k]);
        cr_assert_eq(memcmp(a->cond, b->cond, a->B * sizeof(int)), 0, "%s", names[k]);
        kpf_task_batch_free(a);
        kpf_task_batch_free(b);
        gsl_rng_free(r1);
        gsl_rng_free(r2);
        kpf_task_free(task);
        kpf_config_free(cfg);
    }
}
