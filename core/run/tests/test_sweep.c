/* Sweeps: grid expansion, seeds, located errors, failed points recorded
 * while the sweep goes on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "kpf/config.h"
#include "kpf/sweep.h"
#include "test_util.h"

static kpf_error err;

static kpf_config *load(const char *yaml)
{
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "s.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    return cfg;
}

Test(sweep, grid_values_and_seeds)
{
    kpf_config *cfg = load("sweep:\n"
                           "  values:\n"
                           "    model.g: {linspace: [0, 1, 3]}\n"
                           "    train.lr: {logspace: [-3, -1, 2]}\n"
                           "    task.name: [memory_pro, memory_anti]\n"
                           "  repeats: 2\n");
    kpf_sweep sw;
    cr_assert_eq(kpf_sweep_parse(kpf_node_get(kpf_config_root(cfg), "sweep"), 10, &sw, &err),
                 KPF_OK, "%s", err.msg);
    cr_assert_eq(sw.n_points, 3 * 2 * 2 * 2);
    cr_assert_str_eq(sw.keys[0].values[1], "0.5");
    cr_assert_str_eq(sw.keys[1].values[0], "0.001");
    cr_assert_str_eq(sw.keys[1].values[1], "0.1");
    size_t idx[3], rep;
    uint64_t seed;
    kpf_sweep_point(&sw, 5, idx, &rep, &seed); /* last key fastest, then repeat */
    cr_assert_eq(rep, 1);
    cr_assert_eq(seed, 11);
    cr_assert(idx[0] == 0 && idx[1] == 1 && idx[2] == 0, "%zu %zu %zu", idx[0], idx[1], idx[2]);
    kpf_config *base = load("model: {g: 9}\n");
    cr_assert_eq(kpf_sweep_apply(&sw, 5, base, &err), KPF_OK, "%s", err.msg);
    cr_assert_str_eq(kpf_node_scalar(kpf_node_get(kpf_node_get(kpf_config_root(base), "model"),
                                                  "g")),
                     "0");
    kpf_sweep_clear(&sw);
    kpf_config_free(base);
    kpf_config_free(cfg);
}

static void expect_parse_error(const char *yaml, const char *want)
{
    kpf_config *cfg = load(yaml);
    kpf_sweep sw;
    int rc = kpf_sweep_parse(kpf_node_get(kpf_config_root(cfg), "sweep"), 0, &sw, &err);
    cr_assert_eq(rc, KPF_ECONFIG, "accepted: %s", yaml);
    cr_assert(strstr(err.msg, want), "expected '%s' in: %s", want, err.msg);
    kpf_config_free(cfg);
}

Test(sweep, bad_specs_are_located)
{
    expect_parse_error("sweep:\n  values:\n    model.g: 3\n",
                       "s.yaml:3:14: sweep.values.model.g: expected a list of values");
    expect_parse_error("sweep:\n  values:\n    model.g: {linspace: [0, 1]}\n",
                       "s.yaml:3:25: sweep.values.model.g.linspace: expected three numbers");
    expect_parse_error("sweep:\n  values:\n    model.g: {linspace: [0, 1, 2.5]}\n",
                       "s.yaml:3:32: sweep.values.model.g.linspace[2]: expected a whole number");
    expect_parse_error("sweep:\n  values:\n    model.g: {range: [0, 1, 2]}\n",
                       "unknown range 'range'");
    expect_parse_error("sweep:\n  repeats: 2\n", "s.yaml:2:3: sweep.values: missing required key");
    expect_parse_error("sweep:\n  values: {model.g: [1]}\n  plot: {x: model.n, y: effrank_K}\n",
                       "sweep.plot.x: 'model.n' is not a swept key");
}

/* ---- bounds ------------------------------------------------------------------ */

static char *sweep_of(size_t n_keys, const char *spec, const char *extra)
{
    size_t cap = 256 + n_keys * (strlen(spec) + 32) + strlen(extra);
    char *y = malloc(cap);
    cr_assert_not_null(y);
    size_t used = (size_t)snprintf(y, cap, "sweep:\n  values:\n");
    for (size_t k = 0; k < n_keys; k++)
        used += (size_t)snprintf(y + used, cap - used, "    model.k%zu: %s\n", k, spec);
    snprintf(y + used, cap - used, "%s", extra);
    return y;
}

/* 4 axes × 65536 points used to wrap the count to 0 and run as one plain
 * run; it is refused at sweep.values after the second key. */
/* Seconds since an earlier now_s(): the refusals below are timed in the
 * test itself, since Criterion's .timeout also counts the worker's start,
 * which a loaded machine under ASan has made take longer than the bound
 * (a "Timed out (0.11s)" in CI).  .timeout stays as a guard against a hang. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

Test(sweep, point_count_is_capped_never_wrapped, .timeout = 60)
{
    char *y = sweep_of(4, "{linspace: [0, 1, 65536]}", "");
    double t0 = now_s();
    expect_parse_error(y, "s.yaml:3:5: sweep.values: the sweep has at least 4294967296 points "
                          "(65536 × 65536 × 1 repeat, from its first keys); at most 100000 are "
                          "allowed");
    cr_expect_leq(now_s() - t0, 10.0, "the refusal took %.1f s", now_s() - t0);
    free(y);
}

/* 10^15 points used to hang while every point was validated. */
Test(sweep, huge_grid_refused_at_once, .timeout = 60)
{
    char *y = sweep_of(3, "{logspace: [0, 1, 100000]}", "");
    double t0 = now_s();
    expect_parse_error(y, "at most 100000 are allowed");
    cr_expect_leq(now_s() - t0, 5.0, "the refusal took %.1f s", now_s() - t0);
    free(y);
}

Test(sweep, cap_counts_repeats_and_is_inclusive)
{
    char *ok = sweep_of(2, "{linspace: [0, 1, 100]}", "  repeats: 10\n");
    kpf_config *cfg = load(ok);
    kpf_sweep sw;
    cr_assert_eq(kpf_sweep_parse(kpf_node_get(kpf_config_root(cfg), "sweep"), 0, &sw, &err),
                 KPF_OK, "%s", err.msg);
    cr_assert_eq(sw.n_points, 100000);
    kpf_sweep_clear(&sw);
    kpf_config_free(cfg);
    free(ok);
    char *y = sweep_of(2, "{linspace: [0, 1, 100]}", "  repeats: 11\n");
    expect_parse_error(y, "sweep.values: the sweep has 110000 points (100 × 100 × 11 repeats); "
                          "at most 100000 are allowed");
    free(y);
}

Test(sweep, too_many_keys_is_located)
{
    char *y = sweep_of(65, "[1]", "");
    expect_parse_error(y, "s.yaml:3:5: sweep.values: 65 keys swept; at most 64 may be");
    free(y);
    y = sweep_of(64, "[1, 2]", ""); /* 2^64 points: refused by count, not wrapped */
    expect_parse_error(y, "the sweep has at least 131072 points");
    free(y);
}

Test(sweep, long_value_list_refused_before_expansion)
{
    size_t n = 100001, cap = 64 + 2 * n;
    char *y = malloc(cap);
    size_t used = (size_t)snprintf(y, cap, "sweep:\n  values:\n    model.g: [");
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(y + used, cap - used, i + 1 < n ? "0," : "0]\n");
    expect_parse_error(y, "s.yaml:3:14: sweep.values.model.g: 100001 values; at most 100000");
    free(y);
}

Test(sweep, apply_refuses_points_that_do_not_exist)
{
    kpf_config *cfg = load("sweep: {values: {model.g: [1, 2]}}\n");
    kpf_sweep sw;
    cr_assert_eq(kpf_sweep_parse(kpf_node_get(kpf_config_root(cfg), "sweep"), 0, &sw, &err),
                 KPF_OK, "%s", err.msg);
    kpf_config *base = load("model: {g: 9}\n");
    cr_assert_eq(kpf_sweep_apply(&sw, 2, base, &err), KPF_EINVAL);
    cr_assert(strstr(err.msg, "sweep point 2 does not exist (the sweep has 2)"), "%s", err.msg);
    kpf_sweep_clear(&sw);
    kpf_config_free(base);
    kpf_config_free(cfg);
}

/* ---- through the CLI ------------------------------------------------------ */

TestSuite(sweep_cli, .init = tu_mktmp, .fini = tu_rmtmp);

Test(sweep_cli, bad_value_is_blamed_on_the_spec_before_anything_runs)
{
    tu_write("b.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 8}\n"
                        "sweep:\n  values:\n    model.g: [1.0, -2.0]\n");
    cr_assert_eq(tu_sh("%s run %s/b.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "b.yaml:5:14: sweep.values.model.g (point 1, value '-2.0')"), "%s",
              tu_out);
    struct stat st;
    char o[128];
    snprintf(o, sizeof o, "%s/o", tu_tmp);
    cr_assert_neq(stat(o, &st), 0, "output created for an invalid sweep");
}

Test(sweep_cli, failed_point_is_recorded_and_the_sweep_goes_on, .timeout = 300)
{
    /* g = 1e5 with a linear activation overflows: that point fails at run
     * time (not at validation), the other two succeed. */
    tu_write("f.yaml", "task: {name: memory_pro}\n"
                        "model: {plugin: rnn, n: 8, activation: linear}\n"
                        "simulate: {trials: 2}\n"
                        "sweep:\n  values:\n    model.g: [0.5, 100000, 0.9]\n"
                        "  plot: {x: model.g, y: readout_mse}\n");
    cr_assert_eq(tu_sh("%s run %s/f.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "3 points, 1 failed"), "%s", tu_out);
    cr_assert_eq(tu_sh("cat %s/o/sweep.csv", tu_tmp), 0);
    cr_assert(strstr(tu_out, "0,0,0,0.5,ok"), "%s", tu_out);
    cr_assert(strstr(tu_out, "1,0,0,100000,failed"), "%s", tu_out);
    cr_assert(strstr(tu_out, "2,0,0,0.9,ok"), "%s", tu_out);
    cr_assert_eq(tu_sh("test -f %s/o/point_0002/summary.json", tu_tmp), 0);
    /* the plot cannot draw the failed point, and its title says so */
    cr_assert_eq(tu_sh("cat %s/o/plot-src/sweep_readout_mse_vs_model.g.gp", tu_tmp), 0);
    cr_expect(strstr(tu_out, "(2 runs; 1 more without a value)"), "%s", tu_out);
}

/* The wrapped count used to run the config as one plain run (exit 0). */
Test(sweep_cli, oversized_sweep_is_a_config_error, .timeout = 60)
{
    tu_write("h.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 8}\n"
                        "sweep:\n  values:\n"
                        "    model.g: {linspace: [0.5, 1.5, 65536]}\n"
                        "    train.lr: {logspace: [-4, -2, 65536]}\n"
                        "    seed_offset_a: {linspace: [0, 1, 65536]}\n"
                        "    seed_offset_b: {linspace: [0, 1, 65536]}\n");
    cr_assert_eq(tu_sh("%s run %s/h.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "h.yaml:5:5: sweep.values: the sweep has at least"), "%s", tu_out);
    cr_assert_eq(tu_sh("test -e %s/o", tu_tmp), 1, "output created for a refused sweep");
}
