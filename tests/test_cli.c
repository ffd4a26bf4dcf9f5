/* The kpf command: exit statuses (0 ok, 1 runtime failure, 2 bad usage or
 * config), config errors located before any output is written, and runs
 * that never overwrite an earlier run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[65536];

/* Run a shell command line (stdout+stderr captured into `out`); exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8400];
    snprintf(full, sizeof full, "cd %s && %s 2>&1", KPF_SOURCE_DIR, cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t k = fread(out, 1, sizeof out - 1, p);
    out[k] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char tmp[64];

static void mktmp(void)
{
    strcpy(tmp, "/tmp/kpf-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rmtmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli, .init = mktmp, .fini = rmtmp);

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int exists(const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return stat(path, &st) == 0;
}

static const char *small_cfg = "seed: 3\n"
                               "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                               "model:\n"
                               "  plugin: rnn\n"
                               "  n: 16\n"
                               "simulate: {trials: 4}\n";

Test(cli, version_help_and_usage)
{
    cr_assert_eq(sh("%s --version", KPF_CLI_PATH), 0, "%s", out);
    cr_assert(strstr(out, "kpf 0."), "%s", out);
    cr_assert_eq(sh("%s --help", KPF_CLI_PATH), 0);
    cr_assert(strstr(out, "check-plugin"), "%s", out);
    cr_assert_eq(sh("%s", KPF_CLI_PATH), 2);
    cr_assert_eq(sh("%s frobnicate", KPF_CLI_PATH), 2);
    cr_assert(strstr(out, "unknown command 'frobnicate'"), "%s", out);
    cr_assert_eq(sh("%s run", KPF_CLI_PATH), 2);
    cr_assert_eq(sh("%s run a.yaml --bogus", KPF_CLI_PATH), 2);
}

Test(cli, run_writes_summary_and_trajectory)
{
    write_file("ok.yaml", small_cfg);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/out", KPF_CLI_PATH, tmp, tmp), 0, "%s", out);
    cr_assert(exists("out/summary.json"));
    cr_assert(exists("out/trajectory.h5"));
}

Test(cli, same_seed_same_numbers)
{
    write_file("ok.yaml", small_cfg);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/a", KPF_CLI_PATH, tmp, tmp), 0, "%s", out);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/b", KPF_CLI_PATH, tmp, tmp), 0, "%s", out);
    cr_assert_eq(sh("cmp %s/a/summary.json %s/b/summary.json", tmp, tmp), 0, "%s", out);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/c --set seed=4", KPF_CLI_PATH, tmp, tmp), 0);
    cr_assert_neq(sh("cmp %s/a/summary.json %s/c/summary.json", tmp, tmp), 0);
}

Test(cli, unknown_key_is_located_and_nothing_is_written)
{
    write_file("bad.yaml", "task: {name: memory_pro}\n"
                           "model:\n"
                           "  plugin: rnn\n"
                           "  gg: 1.5\n");
    cr_assert_eq(sh("%s run %s/bad.yaml -o %s/out", KPF_CLI_PATH, tmp, tmp), 2, "%s", out);
    char want[256];
    snprintf(want, sizeof want, "%s/bad.yaml:4:3: model.gg: unknown key", tmp);
    cr_assert(strstr(out, want), "expected '%s' in: %s", want, out);
    cr_assert_not(exists("out"), "output folder created for a bad config");
}

Test(cli, out_of_range_value_and_bad_set)
{
    write_file("ok.yaml", small_cfg);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/o1 --set model.g=-1", KPF_CLI_PATH, tmp, tmp), 2);
    cr_assert(strstr(out, "--set model.g=-1:1:9: model.g: -1 is out of range"), "%s", out);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/o2 --set model.activation=sigmoid", KPF_CLI_PATH,
                    tmp, tmp),
                 2);
    cr_assert(strstr(out, "model.activation: unknown value 'sigmoid'"), "%s", out);
    cr_assert_not(exists("o1") || exists("o2"));
}

Test(cli, unknown_plugin_names_the_fix)
{
    write_file("p.yaml", "task: {name: memory_pro}\nmodel: {plugin: nosuch}\n");
    cr_assert_eq(sh("%s run %s/p.yaml -o %s/out", KPF_CLI_PATH, tmp, tmp), 2, "%s", out);
    cr_assert(strstr(out, "p.yaml:2:17: model.plugin: no plugin named 'nosuch'"), "%s", out);
    cr_assert(strstr(out, "KPF_PLUGIN_PATH"), "%s", out);
}

Test(cli, missing_config_file)
{
    cr_assert_eq(sh("%s run %s/nope.yaml", KPF_CLI_PATH, tmp), 2, "%s", out);
    cr_assert(strstr(out, "nope.yaml"), "%s", out);
}

Test(cli, never_overwrites_an_earlier_run)
{
    write_file("ok.yaml", small_cfg);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/out", KPF_CLI_PATH, tmp, tmp), 0, "%s", out);
    cr_assert_eq(sh("cp %s/out/summary.json %s/keep.json", tmp, tmp), 0);
    cr_assert_eq(sh("%s run %s/ok.yaml -o %s/out --set seed=9", KPF_CLI_PATH, tmp, tmp), 2);
    cr_assert(strstr(out, "not empty"), "%s", out);
    cr_assert_eq(sh("cmp %s/out/summary.json %s/keep.json", tmp, tmp), 0, "earlier run changed");
    /* Without -o: runs/<stem>, then runs/<stem>-2. */
    cr_assert_eq(sh("cd %s && %s run ok.yaml && %s run ok.yaml", tmp, KPF_CLI_PATH, KPF_CLI_PATH),
                 0, "%s", out);
    cr_assert(exists("runs/ok/summary.json") && exists("runs/ok-2/summary.json"));
}

Test(cli, diverging_run_fails_with_status_1)
{
    write_file("div.yaml", "task: {name: memory_pro}\n"
                           "model: {plugin: rnn, n: 8, g: 100000, activation: linear}\n");
    cr_assert_eq(sh("%s run %s/div.yaml -o %s/out", KPF_CLI_PATH, tmp, tmp), 1, "%s", out);
    cr_assert(strstr(out, "non-finite state at step"), "%s", out);
}

Test(cli, plugins_and_check_plugin)
{
    cr_assert_eq(sh("%s plugins", KPF_CLI_PATH), 0, "%s", out);
    cr_assert(strstr(out, "rnn"), "%s", out);
    cr_assert_eq(sh("%s check-plugin rnn", KPF_CLI_PATH), 0, "%s", out);
    cr_assert(strstr(out, " 0 failed"), "%s", out);
    cr_assert_eq(sh("%s check-plugin %s/broken_jzT.so", KPF_CLI_PATH, KPF_TEST_PLUGIN_DIR), 1,
                 "%s", out);
    cr_assert(strstr(out, "FAIL"), "%s", out);
    cr_assert_eq(sh("%s check-plugin %s/bad_abi.so", KPF_CLI_PATH, KPF_TEST_PLUGIN_DIR), 1);
    cr_assert(strstr(out, "ABI version 99"), "%s", out);
    cr_assert_eq(sh("%s check-plugin nosuch", KPF_CLI_PATH), 1, "%s", out);
    cr_assert_eq(sh("%s check-plugin rnn --set activation=relu --set bias=true", KPF_CLI_PATH),
                 0, "%s", out);
    cr_assert_eq(sh("%s check-plugin rnn --set nosuchkey=1", KPF_CLI_PATH), 2, "%s", out);
}
