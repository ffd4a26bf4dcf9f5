/* Sweeps: grid expansion, seeds, located errors, failed points recorded
 * while the sweep goes on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
                        "sweep:\n  values:\n    model.g: [0.5, 100000, 0.9]\n");
    cr_assert_eq(tu_sh("%s run %s/f.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "3 points, 1 failed"), "%s", tu_out);
    cr_assert_eq(tu_sh("cat %s/o/sweep.csv", tu_tmp), 0);
    cr_assert(strstr(tu_out, "0,0,0,0.5,ok"), "%s", tu_out);
    cr_assert(strstr(tu_out, "1,0,0,100000,failed"), "%s", tu_out);
    cr_assert(strstr(tu_out, "2,0,0,0.9,ok"), "%s", tu_out);
    cr_assert_eq(tu_sh("test -f %s/o/point_0002/summary.json", tu_tmp), 0);
}
