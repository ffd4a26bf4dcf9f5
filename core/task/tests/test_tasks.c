/* Task generators: the task table, kpf_task_create from YAML, batches, and the
 * memory-pro family (inputs, targets, masks and noise per period). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/task.h"

#include "task_fixture.h"

static const double *X(const kpf_task_batch *bt, size_t b, size_t t)
{
    return bt->x + (t * bt->B + b) * bt->n_in;
}

static const double *Y(const kpf_task_batch *bt, size_t b, size_t t)
{
    return bt->y + (t * bt->B + b) * bt->n_out;
}

/* Periods used by the noise-free tests: 4 stimulus, 3 memory, 5 response. */
#define PERIODS "t_stim: 4, t_memory: 3, t_response: 5"
enum { TS = 4, TM = 3, TR = 5, TT = TS + TM + TR };

static int period_at(size_t t)
{
    return t < TS ? 0 : t < TS + TM ? 1 : 2;
}

/* ---- the table and kpf_task_create ---------------------------------------- */

Test(tasks, table_lists_the_four_variants)
{
    const char *want[] = {"memory_pro", "memory_anti", "delay_pro", "delay_anti"};
    const kpf_task_type *const *types = kpf_task_types();
    size_t n = 0;
    while (types[n])
        n++;
    /* More task types follow; tests/test_tasks_more.c checks the whole table. */
    cr_assert_geq(n, 4);
    for (size_t i = 0; i < 4; i++) {
        const kpf_task_type *t = kpf_task_type_find(want[i]);
        cr_assert_not_null(t, "%s not found", want[i]);
        cr_assert_str_eq(t->name, want[i]);
        cr_assert_str_eq(t->period_names[2], "response");
        cr_assert_null(t->period_names[3]);
    }
    cr_assert_null(kpf_task_type_find("memory_po"));
    cr_assert_null(kpf_task_type_find(NULL));
}

Test(tasks, unknown_name_lists_known_tasks)
{
    fixture f;
    kpf_error err = {0};
    int rc = try_task("task:\n  name: memory_po\n", &f, &err);
    cr_assert_eq(rc, KPF_ECONFIG);
    cr_assert_null(f.task);
    const char *want[] = {"memory_po'", "memory_pro", "memory_anti", "delay_pro",
                          "delay_anti", "test.yaml:2:"};
    for (size_t i = 0; i < 6; i++)
        cr_assert_not_null(strstr(err.msg, want[i]), "'%s' not in: %s", want[i],
                           err.msg);
    drop(&f);
}

Test(tasks, missing_name_lists_known_tasks)
{
    fixture f;
    kpf_error err = {0};
    cr_assert_eq(try_task("task:\n  t_stim: 3\n", &f, &err), KPF_ECONFIG);
    cr_assert_not_null(strstr(err.msg, "delay_anti"), "%s", err.msg);
    drop(&f);
    cr_assert_eq(kpf_task_create(NULL, &f.task, &err), KPF_ECONFIG);
    cr_assert_not_null(strstr(err.msg, "memory_pro"), "%s", err.msg);
}

Test(tasks, dims_and_batch_shape)
{
    fixture f;
    make("task: {name: memory_pro}\n", 5, 1, &f);
    cr_assert_eq(f.task->n_in, 3);
    cr_assert_eq(f.task->n_out, 3);
    cr_assert_eq(f.task->T, 90);
    cr_assert_eq(f.bt->B, 5);
    cr_assert_eq(f.bt->T, 90);
    cr_assert_eq(f.bt->n_in, 3);
    cr_assert_eq(f.bt->n_out, 3);
    for (size_t b = 0; b < 5; b++)
        cr_assert_eq(f.bt->trial[b], b);
    drop(&f);
    make("task: {name: delay_anti, t_stim: 2, t_memory: 0, t_response: 7}\n", 2, 1, &f);
    cr_assert_eq(f.task->T, 9);
    drop(&f);
}

Test(tasks, every_key_is_read)
{
    /* make() runs kpf_config_check_unused: a key the task forgot fails it. */
    fixture f;
    make("task: {name: memory_pro, t_stim: 2, t_memory: 1, t_response: 2,"
         " amplitude: 0.5, noise: 0.2, anti: true, delay: true, n_conditions: 3,"
         " mask_response_only: true}\n", 3, 1, &f);
    drop(&f);
}

Test(tasks, bad_values_are_refused)
{
    const char *bad[] = {
        "task: {name: memory_pro, t_stim: 0}\n",
        "task: {name: memory_pro, t_response: 0}\n",
        "task: {name: memory_pro, noise: -0.1}\n",
        "task: {name: memory_pro, amplitude: 0}\n",
        "task: {name: memory_pro, amplitude: -1}\n",
        "task: {name: memory_anti, anti: false}\n",
        "task: {name: delay_pro, delay: false}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fixture f;
        kpf_error err = {0};
        cr_assert_eq(try_task(bad[i], &f, &err), KPF_ECONFIG, "accepted: %s", bad[i]);
        cr_assert_null(f.task);
        cr_assert_not_null(strstr(err.msg, "test.yaml:1:"), "%s", err.msg);
        drop(&f);
    }
    fixture f;
    make("task: {name: memory_anti, anti: true, t_memory: 0}\n", 1, 1, &f);
    drop(&f);
}

Test(tasks, generate_rejects_a_foreign_batch)
{
    fixture f, g;
    make("task: {name: memory_pro}\n", 2, 1, &f);
    make("task: {name: memory_pro, t_stim: 3}\n", 2, 1, &g);
    kpf_error err = {0};
    cr_assert_eq(kpf_task_generate(f.task, f.rng, g.bt, &err), KPF_EINVAL);
    kpf_task_batch *none = f.bt;
    cr_assert_eq(kpf_task_batch_alloc(f.task, 0, &none, &err), KPF_EINVAL);
    cr_assert_null(none);
    drop(&f);
    drop(&g);
}

/* ---- memory_pro values, noise-free ---------------------------------------- */

/* Stimulus direction of trial b, read at its first step. */
static void stimulus(const kpf_task_batch *bt, size_t b, double *c, double *s)
{
    *c = X(bt, b, 0)[1];
    *s = X(bt, b, 0)[2];
}

Test(tasks, memory_pro_periods_exact)
{
    fixture f;
    make("task: {name: memory_pro, noise: 0, amplitude: 2, " PERIODS "}\n", 6, 7, &f);
    for (size_t b = 0; b < 6; b++) {
        double c, s;
        stimulus(f.bt, b, &c, &s);
        cr_assert_float_eq(c * c + s * s, 4.0, 1e-12, "amplitude of trial %zu", b);
        cr_assert_eq(f.bt->cond[b], 0);
        for (size_t t = 0; t < TT; t++) {
            const double *x = X(f.bt, b, t), *y = Y(f.bt, b, t);
            const int p = period_at(t);
            cr_assert_eq(f.bt->period[t * 6 + b], p);
            cr_assert_eq(f.bt->mask[t * 6 + b], 1.0);
            cr_assert_eq(x[0], p < 2 ? 1.0 : 0.0, "fixation b=%zu t=%zu", b, t);
            cr_assert_eq(y[0], p < 2 ? 1.0 : 0.0, "fixation target b=%zu t=%zu", b, t);
            cr_assert_eq(x[1], p == 0 ? c : 0.0, "stimulus b=%zu t=%zu", b, t);
            cr_assert_eq(x[2], p == 0 ? s : 0.0, "stimulus b=%zu t=%zu", b, t);
            cr_assert_eq(y[1], p == 2 ? c : 0.0, "target b=%zu t=%zu", b, t);
            cr_assert_eq(y[2], p == 2 ? s : 0.0, "target b=%zu t=%zu", b, t);
        }
    }
    drop(&f);
}

Test(tasks, continuous_angles_cover_the_circle)
{
    /* 400 uniform angles: every quadrant is hit (fails if θ is constant or
     * confined to [0, π/2)). */
    fixture f;
    make("task: {name: memory_pro, noise: 0, " PERIODS "}\n", 400, 3, &f);
    int quadrant[4] = {0};
    for (size_t b = 0; b < 400; b++) {
        double c, s;
        stimulus(f.bt, b, &c, &s);
        double th = atan2(s, c);
        if (th < 0)
            th += 2 * M_PI;
        quadrant[(int)(th / (M_PI / 2)) % 4]++;
    }
    for (int q = 0; q < 4; q++)
        cr_assert_gt(quadrant[q], 50, "quadrant %d: %d", q, quadrant[q]);
    drop(&f);
}

Test(tasks, anti_targets_negate_the_stimulus)
{
    fixture f, g;
    const char *tail = ", noise: 0, " PERIODS "}\n";
    char pro[128], anti[128];
    snprintf(pro, sizeof pro, "task: {name: memory_pro%s", tail);
    snprintf(anti, sizeof anti, "task: {name: memory_anti%s", tail);
    make(pro, 5, 11, &f);
    make(anti, 5, 11, &g);
    for (size_t b = 0; b < 5; b++) {
        double c, s;
        stimulus(g.bt, b, &c, &s);
        cr_assert(c != 0.0 || s != 0.0);
        for (size_t t = 0; t < TT; t++) {
            const double *y = Y(g.bt, b, t);
            cr_assert_eq(y[0], period_at(t) < 2 ? 1.0 : 0.0);
            cr_assert_eq(y[1], period_at(t) == 2 ? -c : 0.0, "b=%zu t=%zu", b, t);
            cr_assert_eq(y[2], period_at(t) == 2 ? -s : 0.0, "b=%zu t=%zu", b, t);
            /* Same seed: the same stimuli, opposite targets. */
            cr_assert_eq(X(g.bt, b, t)[1], X(f.bt, b, t)[1]);
            cr_assert_eq(y[1], -Y(f.bt, b, t)[1]);
            cr_assert_eq(y[2], -Y(f.bt, b, t)[2]);
        }
    }
    drop(&f);
    drop(&g);
}

/* Delay: the stimulus stays on in all three periods (see memory_pro.c). */
static void check_delay(const char *name, double sign)
{
    char yaml[160];
    snprintf(yaml, sizeof yaml, "task: {name: %s, noise: 0, " PERIODS "}\n", name);
    fixture f;
    make(yaml, 4, 5, &f);
    for (size_t b = 0; b < 4; b++) {
        double c, s;
        stimulus(f.bt, b, &c, &s);
        cr_assert(c != 0.0 || s != 0.0);
        for (size_t t = 0; t < TT; t++) {
            const double *x = X(f.bt, b, t), *y = Y(f.bt, b, t);
            const int p = period_at(t);
            cr_assert_eq(x[0], p < 2 ? 1.0 : 0.0, "%s fixation t=%zu", name, t);
            cr_assert_eq(x[1], c, "%s stimulus t=%zu", name, t);
            cr_assert_eq(x[2], s, "%s stimulus t=%zu", name, t);
            cr_assert_eq(y[1], p == 2 ? sign * c : 0.0, "%s target t=%zu", name, t);
            cr_assert_eq(y[2], p == 2 ? sign * s : 0.0, "%s target t=%zu", name, t);
        }
    }
    drop(&f);
}

Test(tasks, delay_keeps_the_stimulus_on)
{
    check_delay("delay_pro", 1.0);
    check_delay("delay_anti", -1.0);
}

Test(tasks, n_conditions_gives_only_k_angles)
{
    fixture f;
    make("task: {name: memory_pro, noise: 0, n_conditions: 4, amplitude: 1.5, "
         PERIODS "}\n", 200, 9, &f);
    int seen[4] = {0};
    for (size_t b = 0; b < 200; b++) {
        int j = f.bt->cond[b];
        cr_assert(j >= 0 && j < 4, "cond %d", j);
        seen[j]++;
        double c, s;
        stimulus(f.bt, b, &c, &s);
        cr_assert_float_eq(c, 1.5 * cos(M_PI / 2 * j), 1e-12, "b=%zu j=%d", b, j);
        cr_assert_float_eq(s, 1.5 * sin(M_PI / 2 * j), 1e-12, "b=%zu j=%d", b, j);
    }
    for (int j = 0; j < 4; j++)
        cr_assert_gt(seen[j], 20, "condition %d drawn %d times", j, seen[j]);
    drop(&f);
}

Test(tasks, mask_response_only)
{
    fixture f;
    make("task: {name: memory_pro, mask_response_only: true, " PERIODS "}\n", 3, 2, &f);
    for (size_t t = 0; t < TT; t++)
        for (size_t b = 0; b < 3; b++)
            cr_assert_eq(f.bt->mask[t * 3 + b], period_at(t) == 2 ? 1.0 : 0.0,
                         "t=%zu", t);
    drop(&f);
}

/* ---- randomness ------------------------------------------------------------ */

Test(tasks, same_seed_same_batch_other_seed_differs)
{
    fixture f, g, h;
    const char *yaml = "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n";
    make(yaml, 8, 42, &f);
    make(yaml, 8, 42, &g);
    make(yaml, 8, 43, &h);
    size_t n = 8 * 15;
    cr_assert_eq(memcmp(f.bt->x, g.bt->x, n * 3 * sizeof(double)), 0);
    cr_assert_eq(memcmp(f.bt->y, g.bt->y, n * 3 * sizeof(double)), 0);
    cr_assert_eq(memcmp(f.bt->mask, g.bt->mask, n * sizeof(double)), 0);
    cr_assert_eq(memcmp(f.bt->period, g.bt->period, n * sizeof(int)), 0);
    cr_assert_eq(memcmp(f.bt->x, h.bt->x, n * 3 * sizeof(double)) != 0, 1);
    cr_assert_eq(memcmp(f.bt->y, h.bt->y, n * 3 * sizeof(double)) != 0, 1);
    drop(&f);
    drop(&g);
    drop(&h);
}

/* Sample std of (noisy − clean) per input channel; same seed gives the same
 * angles (noise is drawn even at σ = 0), so the difference is the noise. */
static void check_noise_std(const char *noisy, const char *clean, double sigma)
{
    enum { B = 2000 };
    fixture f, g;
    make(noisy, B, 17, &f);
    make(clean, B, 17, &g);
    const size_t T = f.bt->T;
    for (size_t i = 0; i < 3; i++) {
        double sum = 0, sq = 0;
        for (size_t t = 0; t < T; t++)
            for (size_t b = 0; b < B; b++) {
                double d = X(f.bt, b, t)[i] - X(g.bt, b, t)[i];
                sum += d;
                sq += d * d;
            }
        double n = (double)(B * T), mean = sum / n;
        double sd = sqrt((sq - n * mean * mean) / (n - 1));
        cr_assert(fabs(sd / sigma - 1) < 0.03, "channel %zu: std %g, want %g", i, sd,
                  sigma);
        cr_assert(fabs(mean) < 0.05 * sigma, "channel %zu: mean %g", i, mean);
    }
    /* Targets carry no noise. */
    cr_assert_eq(memcmp(f.bt->y, g.bt->y, B * T * 3 * sizeof(double)), 0);
    drop(&f);
    drop(&g);
}

Test(tasks, noise_std_matches_setting)
{
    check_noise_std("task: {name: memory_pro, noise: 0.3, " PERIODS "}\n",
                    "task: {name: memory_pro, noise: 0, " PERIODS "}\n", 0.3);
    /* Default: the reference's 0.1·√2. */
    check_noise_std("task: {name: delay_anti, " PERIODS "}\n",
                    "task: {name: delay_anti, noise: 0, " PERIODS "}\n", 0.1 * M_SQRT2);
}
