/* The kpf command: exit statuses (0 ok, 1 runtime failure, 2 bad usage or
 * config), config errors located before any output is written, and runs
 * that never overwrite an earlier run. */
#include <criterion/criterion.h>

#include "test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(cli, .init = tu_mktmp, .fini = tu_rmtmp);

static const char *small_cfg = "seed: 3\n"
                               "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                               "model:\n"
                               "  plugin: rnn\n"
                               "  n: 16\n"
                               "simulate: {trials: 4}\n";

Test(cli, version_help_and_usage)
{
    cr_assert_eq(tu_sh("%s --version", KPF_CLI_PATH), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "kpf 0."), "%s", tu_out);
    cr_assert_eq(tu_sh("%s --help", KPF_CLI_PATH), 0);
    cr_assert(strstr(tu_out, "check-plugin"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s", KPF_CLI_PATH), 2);
    cr_assert_eq(tu_sh("%s frobnicate", KPF_CLI_PATH), 2);
    cr_assert(strstr(tu_out, "unknown command 'frobnicate'"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s run", KPF_CLI_PATH), 2);
    cr_assert_eq(tu_sh("%s run a.yaml --bogus", KPF_CLI_PATH), 2);
}

Test(cli, run_writes_summary_and_trajectory)
{
    tu_write("ok.yaml", small_cfg);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s", tu_out);
    cr_assert(tu_exists("out/summary.json"));
    cr_assert(tu_exists("out/trajectory.h5"));
}

Test(cli, same_seed_same_numbers)
{
    tu_write("ok.yaml", small_cfg);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/a", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/b", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("cmp %s/a/summary.json %s/b/summary.json", tu_tmp, tu_tmp), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/c --set seed=4", KPF_CLI_PATH, tu_tmp, tu_tmp), 0);
    cr_assert_neq(tu_sh("cmp %s/a/summary.json %s/c/summary.json", tu_tmp, tu_tmp), 0);
}

Test(cli, unknown_key_is_located_and_nothing_is_written)
{
    tu_write("bad.yaml", "task: {name: memory_pro}\n"
                           "model:\n"
                           "  plugin: rnn\n"
                           "  gg: 1.5\n");
    cr_assert_eq(tu_sh("%s run %s/bad.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s", tu_out);
    char want[256];
    snprintf(want, sizeof want, "%s/bad.yaml:4:3: model.gg: unknown key", tu_tmp);
    cr_assert(strstr(tu_out, want), "expected '%s' in: %s", want, tu_out);
    cr_assert_not(tu_exists("out"), "output folder created for a bad config");
}

Test(cli, out_of_range_value_and_bad_set)
{
    tu_write("ok.yaml", small_cfg);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/o1 --set model.g=-1", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "--set model.g=-1:1:9: model.g: -1 is out of range"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/o2 --set model.activation=sigmoid", KPF_CLI_PATH,
                    tu_tmp, tu_tmp),
                 2);
    cr_assert(strstr(tu_out, "model.activation: unknown value 'sigmoid'"), "%s", tu_out);
    cr_assert_not(tu_exists("o1") || tu_exists("o2"));
}

Test(cli, unknown_plugin_names_the_fix)
{
    tu_write("p.yaml", "task: {name: memory_pro}\nmodel: {plugin: nosuch}\n");
    cr_assert_eq(tu_sh("%s run %s/p.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "p.yaml:2:17: model.plugin: no plugin named 'nosuch'"), "%s", tu_out);
    cr_assert(strstr(tu_out, "KPF_PLUGIN_PATH"), "%s", tu_out);
}

Test(cli, missing_config_file)
{
    cr_assert_eq(tu_sh("%s run %s/nope.yaml", KPF_CLI_PATH, tu_tmp), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "nope.yaml"), "%s", tu_out);
}

Test(cli, never_overwrites_an_earlier_run)
{
    tu_write("ok.yaml", small_cfg);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("cp %s/out/summary.json %s/keep.json", tu_tmp, tu_tmp), 0);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/out --set seed=9", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "not empty"), "%s", tu_out);
    cr_assert_eq(tu_sh("cmp %s/out/summary.json %s/keep.json", tu_tmp, tu_tmp), 0, "earlier run changed");
    /* Without -o: runs/<stem>, then runs/<stem>-2. */
    cr_assert_eq(tu_sh("cd %s && %s run ok.yaml && %s run ok.yaml", tu_tmp, KPF_CLI_PATH, KPF_CLI_PATH),
                 0, "%s", tu_out);
    cr_assert(tu_exists("runs/ok/summary.json") && tu_exists("runs/ok-2/summary.json"));
}

Test(cli, diverging_run_fails_with_status_1)
{
    tu_write("div.yaml", "task: {name: memory_pro}\n"
                           "model: {plugin: rnn, n: 8, g: 100000, activation: linear}\n");
    cr_assert_eq(tu_sh("%s run %s/div.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "non-finite state at step"), "%s", tu_out);
}

Test(cli, plugins_and_check_plugin)
{
    cr_assert_eq(tu_sh("%s plugins", KPF_CLI_PATH), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "rnn"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn", KPF_CLI_PATH), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, " 0 failed"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin %s/broken_jzT.so", KPF_CLI_PATH, KPF_TEST_PLUGIN_DIR), 1,
                 "%s", tu_out);
    cr_assert(strstr(tu_out, "FAIL"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin %s/bad_abi.so", KPF_CLI_PATH, KPF_TEST_PLUGIN_DIR), 1);
    cr_assert(strstr(tu_out, "ABI version 99"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin nosuch", KPF_CLI_PATH), 1, "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn --set activation=relu --set bias=true", KPF_CLI_PATH),
                 0, "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn --set nosuchkey=1", KPF_CLI_PATH), 2, "%s", tu_out);
}

/* A study whose runner validates as it goes (lrnn) still leaves nothing
 * behind on a config error; a folder the user made stays, empty. */
Test(cli, study_config_error_leaves_nothing)
{
    tu_write("l.yaml", "seed: 0\nlrnn:\n  figure: phase\n  T: [3]\n");
    cr_assert_eq(tu_sh("%s run %s/l.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_assert(strstr(tu_out, "l.yaml:3:3: lrnn: panels"), "%s", tu_out);
    cr_assert_not(tu_exists("o"), "the failed run's folder was kept");
    cr_assert_eq(tu_sh("mkdir %s/mine", tu_tmp), 0);
    cr_assert_eq(tu_sh("%s run %s/l.yaml -o %s/mine", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(tu_exists("mine"), "the user's folder was removed");
    cr_assert_not(tu_exists("mine/config.yaml"), "the failed run's files were kept");
}
