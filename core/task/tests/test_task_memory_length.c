/* memory_pro's variable memory length (t_memory_min): each trial's memory
 * period lasts m ∈ [t_memory_min, t_memory] steps and the response takes the
 * rest of the fixed T; fixation goes off exactly when the response starts;
 * every m occurs; without the key (or with t_memory_min = t_memory) nothing
 * is drawn, so batches are bit for bit those of before; multitask4 refuses
 * the key. */
#include "task_fixture.h"

TestSuite(task_memory_length);

#define MP_FIXED "task: {name: memory_pro, t_stim: 2, t_memory: 5, t_response: 2}\n"

Test(task_memory_length, fixed_length_draws_nothing_new)
{
    fixture a, b;
    make(MP_FIXED, 16, 3, &a);
    make("task: {name: memory_pro, t_stim: 2, t_memory: 5, t_response: 2, t_memory_min: 5}\n",
         16, 3, &b);
    cr_expect_arr_eq(a.bt->x, b.bt->x, 16 * 9 * 3 * sizeof(double));
    cr_expect_arr_eq(a.bt->period, b.bt->period, 16 * 9 * sizeof(int));
    drop(&a);
    drop(&b);
}

Test(task_memory_length, memory_periods_vary_and_the_response_takes_the_rest)
{
    const size_t B = 200, T = 9;
    fixture f;
    make("task: {name: memory_pro, t_stim: 2, t_memory: 5, t_memory_min: 1, t_response: 2}\n",
         B, 5, &f);
    cr_assert_eq(f.task->T, T);
    int seen[6] = {0};
    for (size_t b = 0; b < B; b++) {
        size_t m = 0, resp = 0;
        for (size_t t = 0; t < T; t++) {
            int p = f.bt->period[t * B + b];
            double fix = f.bt->y[(t * B + b) * 3];
            m += p == 1;
            resp += p == 2;
            cr_assert_eq(fix, p == 2 ? 0.0 : 1.0, "fixation target at t=%zu, period %d", t, p);
            if (t > 0)
                cr_assert_geq(p, f.bt->period[(t - 1) * B + b], "periods out of order");
        }
        cr_assert(m >= 1 && m <= 5, "memory of %zu steps", m);
        cr_assert_eq(resp, T - 2 - m);
        seen[m]++;
    }
    for (int m = 1; m <= 5; m++)
        cr_expect_gt(seen[m], 0, "memory length %d never drawn", m);
    drop(&f);
}

Test(task_memory_length, refusals)
{
    fixture f;
    kpf_error err = {0};
    cr_expect_eq(try_task("task: {name: memory_pro, t_memory: 5, t_memory_min: 6}\n", &f, &err),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "t_memory_min"), "%s", err.msg);
    kpf_config_free(f.cfg);
    cr_expect_eq(try_task("task: {name: multitask4, t_memory: 5, t_memory_min: 2}\n", &f, &err),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "test.yaml:1:") && strstr(err.msg, "drop t_memory_min"), "%s",
              err.msg);
    kpf_config_free(f.cfg);
}
