/* Mixtures of sub-tasks (kpf/task.h): multitask4 names its four sub-tasks,
 * and its matched-stimulus trials share every draw across sub-tasks, so two
 * sub-tasks' trials r differ exactly where the sub-tasks differ (the context
 * cue; the stimulus during memory for delay; the sign of the response for
 * anti).  Refusals: a batch that is not a multiple of S, a task that is not
 * a mixture, a descriptor with matched trials but no sub-tasks. */
#include <math.h>

#include "task_fixture.h"

TestSuite(task_matched);

#define MX "task: {name: multitask4, t_context: 3, t_stim: 4, t_memory: 3, t_response: 5}\n"
enum { TC = 3, TS = 4, TM = 3, TR = 5, T = TC + TS + TM + TR, NIN = 7, NOUT = 3 };

static void matched(const char *yaml, size_t B, unsigned long seed, fixture *f)
{
    kpf_error err = {0};
    cr_assert_eq(try_task(yaml, f, &err), KPF_OK, "create: %s", err.msg);
    cr_assert_eq(kpf_task_batch_alloc(f->task, B, &f->bt, &err), KPF_OK, "%s", err.msg);
    f->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(f->rng, seed);
    cr_assert_eq(kpf_task_generate_matched(f->task, f->rng, f->bt, &err), KPF_OK, "%s",
                 err.msg);
}

static double xv(const kpf_task_batch *bt, size_t t, size_t b, size_t i)
{
    return bt->x[(t * bt->B + b) * bt->n_in + i];
}
static double yv(const kpf_task_batch *bt, size_t t, size_t b, size_t i)
{
    return bt->y[(t * bt->B + b) * bt->n_out + i];
}

Test(task_matched, multitask4_names_its_subtasks_and_single_tasks_none)
{
    fixture f;
    make(MX, 8, 1, &f);
    const char *const *names = NULL;
    cr_assert_eq(kpf_task_subtasks(f.task, &names), 4);
    const char *want[4] = {"MP", "MA", "DP", "DA"};
    for (int g = 0; g < 4; g++)
        cr_expect_str_eq(names[g], want[g]);
    for (size_t b = 0; b < 8; b++) /* generate's cond is the sub-task */
        cr_expect_eq(f.bt->cond[b], (int)(b / 2));
    drop(&f);
    make("task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n", 4, 1, &f);
    cr_expect_eq(kpf_task_subtasks(f.task, &names), 0);
    cr_expect_null(names);
    drop(&f);
}

/* With noise on: trials r of MP and MA see the same inputs except the cue;
 * MA's response target is MP's negated; DP's stimulus stays on through the
 * memory period with MP's values plus the same noise. */
Test(task_matched, matched_trials_differ_only_where_the_subtasks_do)
{
    const size_t R = 3, B = 4 * R;
    fixture f;
    matched(MX, B, 7, &f);
    const kpf_task_batch *bt = f.bt;
    for (size_t r = 0; r < R; r++) {
        const size_t mp = r, ma = R + r, dp = 2 * R + r, da = 3 * R + r;
        cr_expect_eq(bt->cond[mp], 0);
        cr_expect_eq(bt->cond[ma], 1);
        cr_expect_eq(bt->cond[dp], 2);
        cr_expect_eq(bt->cond[da], 3);
        for (size_t t = 0; t < T; t++) {
            for (size_t i = 0; i < NIN; i++) {
                int cue = i >= 3 && t < TC;
                double d = xv(bt, t, mp, i) - xv(bt, t, ma, i);
                if (!cue)
                    cr_assert_eq(d, 0.0, "MP and MA inputs differ at t=%zu i=%zu", t, i);
                else /* the cue: +1 on its own channel, the same noise */
                    cr_assert_float_eq(d, i == 3 ? 1.0 : i == 4 ? -1.0 : 0.0, 1e-12);
            }
            int stim_period = t >= TC && t < TC + TS;
            for (size_t i = 1; i < 3; i++) {
                if (stim_period) /* both show the stimulus, with the same noise */
                    cr_assert_eq(xv(bt, t, dp, i), xv(bt, t, mp, i), "t=%zu", t);
                cr_assert_eq(yv(bt, t, ma, i), -yv(bt, t, mp, i));
                cr_assert_eq(yv(bt, t, da, i), -yv(bt, t, dp, i));
            }
        }
        /* During memory the stimulus DP adds over MP is the stimulus itself:
         * what MP saw in the stimulus period, less its noise there. */
        double a = yv(bt, T - 1, mp, 1), b = yv(bt, T - 1, mp, 2);
        cr_expect_gt(a * a + b * b, 0.99, "response amplitude %g", sqrt(a * a + b * b));
        for (size_t i = 1; i < 3; i++) {
            size_t t = TC + TS; /* first memory step */
            double extra = xv(bt, t, dp, i) - xv(bt, t, mp, i);
            cr_expect_float_eq(extra, yv(bt, T - 1, mp, i), 1e-12,
                               "DP's memory-period stimulus %g is not MP's direction %g",
                               extra, yv(bt, T - 1, mp, i));
        }
    }
    /* Different r: different angles. */
    cr_expect_neq(yv(bt, T - 1, 0, 1), yv(bt, T - 1, 1, 1));
    /* Deterministic. */
    fixture g;
    matched(MX, B, 7, &g);
    cr_expect_arr_eq(g.bt->x, bt->x, B * T * NIN * sizeof(double));
    cr_expect_arr_eq(g.bt->y, bt->y, B * T * NOUT * sizeof(double));
    drop(&g);
    drop(&f);
}

Test(task_matched, refusals)
{
    fixture f;
    kpf_error err = {0};
    make(MX, 6, 1, &f);
    cr_expect_eq(kpf_task_generate_matched(f.task, f.rng, f.bt, &err), KPF_EINVAL);
    cr_expect(strstr(err.msg, "multiple of the 4 sub-tasks"), "%s", err.msg);
    drop(&f);
    make("task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n", 4, 1, &f);
    cr_expect_eq(kpf_task_generate_matched(f.task, f.rng, f.bt, &err), KPF_EUNSUPPORTED);
    cr_expect(strstr(err.msg, "memory_pro"), "%s", err.msg);
    drop(&f);
    kpf_task_desc d = *kpf_task_type_find("multitask4");
    cr_expect_eq(kpf_task_desc_validate(&d, "x.so", &err), KPF_OK, "%s", err.msg);
    d.subtasks = NULL;
    cr_expect_eq(kpf_task_desc_validate(&d, "x.so", &err), KPF_EPLUGIN);
    cr_expect(strstr(err.msg, "implement subtasks"), "%s", err.msg);
}
