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

/* With no operator asked for, the spectra analysis draws no figure, where
 * it used to hand gnuplot an empty plot and record a plot_error. */
Test(cli, spectra_without_operators_draws_nothing_and_records_no_error)
{
    tu_write("e.yaml", "task: {name: memory_pro}\n"
                       "model: {plugin: rnn, n: 8}\n"
                       "simulate: {trials: 2}\n"
                       "analysis: {trials: 4, spectra: {operators: []}}\n");
    cr_assert_eq(tu_sh("%s run %s/e.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_expect_not(tu_exists("out/cumvar_iter0.png"));
    cr_expect_neq(tu_sh("grep -q plot_error %s/out/summary.json", tu_tmp), 0,
                  "a plot error was recorded");
}

/* Two summary.json files are equal, text and all, once their "timings"
 * entries (wall seconds) are cut out. */
#define SAME_BUT_TIMINGS                                                                    \
    "python3 -c \"import re, sys; t = [re.sub(r'\\\"timings\\\": \\{[^}]*\\},?', '', "    \
    "open(p).read()) for p in sys.argv[1:]]; sys.exit(t[0] != t[1] or 'timings' in t[0])\" " \
    "%s/a/summary.json %s/b/summary.json"

Test(cli, same_seed_same_numbers)
{
    tu_write("ok.yaml", small_cfg);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/a", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("%s run %s/ok.yaml -o %s/b", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s", tu_out);
    /* every byte but the wall times ("timings", which no two runs share) */
    cr_assert_eq(tu_sh(SAME_BUT_TIMINGS, tu_tmp, tu_tmp), 0, "%s", tu_out);
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

/* ---- studies as extensions (kpf/study.h) ------------------------------------- */

/* Copy test plugins into a folder of their own under the scratch folder, so
 * KPF_PLUGIN_PATH sees exactly them. */
static void plugin_dir(const char *dir, const char *const *files)
{
    cr_assert_eq(tu_sh("mkdir -p %s/%s", tu_tmp, dir), 0);
    for (; *files; files++)
        cr_assert_eq(tu_sh("cp %s/%s.so %s/%s/", KPF_TEST_PLUGIN_DIR, *files, tu_tmp, dir), 0,
                     "%s", tu_out);
}

/* Run kpf with KPF_PLUGIN_PATH at tu_tmp/p (the fixture study). */
#define KPF_P "KPF_PLUGIN_PATH=%s/p " KPF_CLI_PATH

Test(cli, study_from_a_file_is_checked_then_run)
{
    plugin_dir("p", (const char *const[]){"study_fixture", NULL});
    tu_write("s.yaml", "fixture_study:\n  value: 3\n  plugin: rnn\n");
    cr_assert_eq(tu_sh(KPF_P " run %s/s.yaml -o %s/out", tu_tmp, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("cat %s/out/fixture.txt", tu_tmp), 0);
    cr_assert_str_eq(tu_out, "value 3\n");
    cr_assert(tu_exists("out/config.yaml") && tu_exists("out/overrides.txt"));
    cr_assert_not(tu_exists("out/FAILED"));
    /* --set reaches the study's config like any other */
    cr_assert_eq(tu_sh(KPF_P " run %s/s.yaml -o %s/o2 --set fixture_study.value=7", tu_tmp,
                       tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    cr_assert_eq(tu_sh("cat %s/o2/fixture.txt", tu_tmp), 0);
    cr_assert_str_eq(tu_out, "value 7\n");
    /* this study has a resume op: --resume calls it */
    cr_assert_eq(tu_sh(KPF_P " run --resume %s/out", tu_tmp, tu_tmp), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("cat %s/out/fixture.txt", tu_tmp), 0);
    cr_assert_str_eq(tu_out, "value 3\nresumed\n");
}

Test(cli, study_check_errors_are_located_and_write_nothing)
{
    plugin_dir("p", (const char *const[]){"study_fixture", NULL});
    const struct {
        const char *yaml, *want;
    } bad[] = {
        {"fixture_study:\n  value: 300\n", "b.yaml:2:10: fixture_study.value: 300 is out of range"},
        {"fixture_study:\n  value: 3\n  vaule: 4\n", "b.yaml:3:3: fixture_study.vaule: unknown key"},
        {"fixture_study:\n  value: 3\n  plugin: nosuch\n",
         "b.yaml:3:11: fixture_study.plugin: no plugin named 'nosuch'"},
        {"fixture_study: {value: 3}\nmodle: {n: 2}\n", "b.yaml:2:1: modle: unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_write("b.yaml", bad[i].yaml);
        cr_assert_eq(tu_sh(KPF_P " run %s/b.yaml -o %s/out", tu_tmp, tu_tmp, tu_tmp), 2, "%s",
                     tu_out);
        cr_assert(strstr(tu_out, bad[i].want), "expected '%s' in: %s", bad[i].want, tu_out);
        cr_assert_not(tu_exists("out"), "a folder was created for a bad config (%zu)", i);
    }
    /* without the .so the key is no study: the experiment complains instead */
    tu_write("b.yaml", "fixture_study:\n  value: 3\n");
    cr_assert_eq(tu_sh("%s run %s/b.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_assert_not(tu_exists("out"));
}

Test(cli, study_runtime_failure_is_status_1_and_marked)
{
    plugin_dir("p", (const char *const[]){"study_fixture", NULL});
    tu_write("f.yaml", "fixture_study: {value: 1, fail: true}\n");
    cr_assert_eq(tu_sh(KPF_P " run %s/f.yaml -o %s/out", tu_tmp, tu_tmp, tu_tmp), 1, "%s",
                 tu_out);
    cr_assert(strstr(tu_out, "failing as asked"), "%s", tu_out);
    cr_assert(tu_exists("out/fixture.txt"), "the partial output was not kept");
    cr_assert_eq(tu_sh("cat %s/out/FAILED", tu_tmp), 0, "no FAILED marker");
    cr_assert(strstr(tu_out, "failing as asked"), "%s", tu_out);
}

Test(cli, two_studies_in_one_config_is_a_located_error)
{
    tu_write("two.yaml", "seed: 0\n"
                         "lrnn:\n"
                         "  figure: phase\n"
                         "linear_theory:\n"
                         "  N: 10\n");
    cr_assert_eq(tu_sh("%s run %s/two.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_assert(strstr(tu_out, "two.yaml:5:3: linear_theory: a second study in one config "
                             "(`lrnn:` is one too)"),
              "%s", tu_out);
    cr_assert_not(tu_exists("out"));
}

/* The lrnn study's check covers what its figures read, so a mistake is
 * exit 2 with a located message and no folder, as for every other config. */
Test(cli, lrnn_study_config_errors_come_before_any_folder)
{
    const char *modes = "task: {name: lrnn_svd, n_in: 2, T: 3}\n"
                        "model: {plugin: lrnn, alignment: aligned, n: 2}\n";
    const struct {
        const char *tail, *want;
    } bad[] = {
        {"lrnn:\n  figure: modes\n  stpe: 0.1\n", "l.yaml:5:3: lrnn.stpe: unknown key"},
        {"lrnn:\n  figure: modse\n", "l.yaml:4:11: lrnn.figure: unknown value 'modse'"},
        {"lrnn:\n  figure: modes\n  record_every: 0\n", "l.yaml:5:17: lrnn.record_every: 0 is out"},
        {"lrnn:\n  figure: ntk\n  T: [1, 2.5]\n  scale: [1]\n",
         "l.yaml:5:6: lrnn.T: T must be whole numbers"},
        {"lrnn:\n  figure: ntk\n  T: [1]\n  scale: [-1]\n",
         "l.yaml:6:10: lrnn.scale: scale -1 is out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s", modes, bad[i].tail);
        tu_write("l.yaml", text);
        cr_assert_eq(tu_sh("%s run %s/l.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                     tu_out);
        cr_assert(strstr(tu_out, bad[i].want), "expected '%s' in: %s", bad[i].want, tu_out);
        cr_assert_not(tu_exists("o"), "a folder was created for a bad config (%zu)", i);
    }
    /* a task the figure cannot use, and a model key the plugin rejects */
    tu_write("l.yaml", "task: {name: lrnn_integration, n_in: 2, T: 3}\n"
                       "model: {plugin: lrnn, n: 2}\nlrnn: {figure: modes}\n");
    cr_assert_eq(tu_sh("%s run %s/l.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "l.yaml:1:14: task.name: figure modes needs task lrnn_svd"), "%s",
              tu_out);
    tu_write("l.yaml", "task: {name: lrnn_svd, n_in: 2, T: 3}\n"
                       "model: {plugin: lrnn, n: 2, sigmaa: 1}\nlrnn: {figure: ntk, T: [1], "
                       "scale: [1]}\n");
    cr_assert_eq(tu_sh("%s run %s/l.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "l.yaml:2:") && strstr(tu_out, "model.sigmaa"), "%s", tu_out);
    cr_assert_not(tu_exists("o"));
}

Test(cli, study_without_resume_op_refuses_resume)
{
    cr_assert_eq(tu_sh("mkdir -p %s/run && touch %s/run/overrides.txt", tu_tmp, tu_tmp), 0);
    tu_write("run/config.yaml", "lrnn: {figure: phase, T: [3], time: 1, panels: [{dynamics: "
                                "dirac, sweep: beta, from: 0.2, to: 1, n: 2, kappa: 1}]}\n");
    cr_assert_eq(tu_sh("%s run --resume %s/run", KPF_CLI_PATH, tu_tmp), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "`lrnn:` runs cannot be resumed"), "%s", tu_out);
    cr_assert_not(tu_exists("run/fig4.dat") || tu_exists("run/plot-src/fig4.dat"),
                  "the refused resume ran the study");
}

/* `kpf plugins` lists all four kinds in order, built-ins saying so. */
Test(cli, plugins_lists_every_kind)
{
    plugin_dir("p", (const char *const[]){"study_fixture", NULL});
    cr_assert_eq(tu_sh(KPF_P " plugins", tu_tmp), 0, "%s", tu_out);
    const char *models = strstr(tu_out, "models ("), *tasks = strstr(tu_out, "tasks ("),
               *analyses = strstr(tu_out, "analyses ("), *studies = strstr(tu_out, "studies (");
    cr_assert(models && tasks && analyses && studies, "%s", tu_out);
    cr_assert(models < tasks && tasks < analyses && analyses < studies, "%s", tu_out);
    cr_assert(strstr(models, "rnn ") && strstr(models, "discrete") < tasks, "%s", tu_out);
    cr_assert(strstr(tasks, "memory_pro") < analyses, "%s", tu_out);
    cr_assert(strstr(tasks, "built-in tasks") < analyses, "%s", tu_out);
    const char *const names[] = {"lrnn", "ltr_fit", "linear_theory", "fixture_study"};
    for (int i = 0; i < 4; i++)
        cr_assert(strstr(studies, names[i]), "study %s not listed:\n%s", names[i], tu_out);
    cr_assert(strstr(studies, "built-in study lrnn"), "%s", tu_out);
    char path[512];
    snprintf(path, sizeof path, "%s/p/study_fixture.so", tu_tmp);
    cr_assert(strstr(studies, path), "the fixture's file is not shown:\n%s", tu_out);
    cr_assert_eq(tu_sh("%s --help", KPF_CLI_PATH), 0);
    cr_assert(strstr(tu_out, "studies"), "%s", tu_out);
}

/* A broken study file is one line naming the file and the fix; the good
 * ones beside it still load. */
Test(cli, broken_study_files_are_one_line_each)
{
    plugin_dir("p", (const char *const[]){"study_fixture", "study_bad_abi", "study_small_struct",
                                          "study_null_run", NULL});
    cr_assert_eq(tu_sh(KPF_P " plugins", tu_tmp), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "fixture_study"), "%s", tu_out);
    const struct {
        const char *file, *want;
    } bad[] = {
        {"study_bad_abi.so", ": study ABI version 99, this kpf speaks 1; rebuild"},
        {"study_small_struct.so", ": study descriptor struct_size 32 is smaller than the"},
        {"study_null_run.so", ": study 'null_run_study' leaves the required op 'run' NULL"},
    };
    for (size_t i = 0; i < 3; i++) {
        char want[512];
        snprintf(want, sizeof want, "kpf: skipped: %s/p/%s%s", tu_tmp, bad[i].file, bad[i].want);
        cr_assert(strstr(tu_out, want), "expected '%s' in:\n%s", want, tu_out);
        int seen = 0;
        for (const char *at = tu_out; (at = strstr(at, bad[i].file)); at++)
            seen++;
        cr_assert_eq(seen, 1, "%s named on %d lines:\n%s", bad[i].file, seen, tu_out);
    }
}

/* ---- what a run tells its user, and the folder it leaves (issue 16) ------- */

static const char *train_cfg = "seed: 1\n"
                               "task: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
                               "model: {plugin: rnn, n: 8}\n"
                               "train: {iterations: 40, batch: 8, eval_every: 10, "
                               "eval_trials: 8}\n"
                               "analysis: {trials: 4, k: 4}\n"
                               "simulate: {trials: 4}\n";

/* Off a terminal: one plain line per evaluation with iteration/total and
 * both losses, the analyses saying what they compute, then the results
 * block on stdout. */
Test(cli, run_reports_progress_and_results)
{
    tu_write("t.yaml", train_cfg);
    cr_assert_eq(tu_sh("(KPF_PROGRESS=plain %s run %s/t.yaml -o %s/out 2>%s/err.txt)",
                       KPF_CLI_PATH, tu_tmp, tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    /* stdout: the results block */
    cr_assert(strstr(tu_out, "results in "), "%s", tu_out);
    cr_assert(strstr(tu_out, "eval loss") && strstr(tu_out, " → "), "%s", tu_out);
    cr_assert(strstr(tu_out, "effective rank K "), "%s", tu_out);
    cr_assert(strstr(tu_out, "PCA dimension"), "%s", tu_out);
    cr_assert(strstr(tu_out, "plots          cumvar_iter0.png"), "%s", tu_out);
    cr_assert(strstr(tu_out, "data           summary.json analysis.h5"), "%s", tu_out);
    cr_assert(strstr(tu_out, "plot-src/"), "%s", tu_out);
    cr_assert_eq(tu_sh("cat %s/err.txt", tu_tmp), 0);
    for (int it = 0; it <= 40; it += 10) {
        char want[64];
        snprintf(want, sizeof want, "kpf: train %d/40", it);
        cr_assert(strstr(tu_out, want), "no line '%s' in:\n%s", want, tu_out);
    }
    cr_assert(strstr(tu_out, "train 40/40  train loss "), "%s", tu_out);
    cr_assert(strstr(tu_out, "eval loss "), "%s", tu_out);
    cr_assert(strstr(tu_out, "ETA"), "%s", tu_out);
    cr_assert(strstr(tu_out, "analysis spectra at iteration 40: consensus spectra"), "%s",
              tu_out);
    /* one line per evaluation, not per iteration */
    cr_assert_eq(tu_sh("grep -c 'kpf: train [0-9]*/40' %s/err.txt", tu_tmp), 0);
    cr_assert_eq(atoi(tu_out), 5, "%s", tu_out);
}

/* On a terminal (forced): one line redrawn in place with a bar. */
Test(cli, run_live_line_on_a_terminal)
{
    tu_write("t.yaml", train_cfg);
    cr_assert_eq(tu_sh("(KPF_PROGRESS=live %s run %s/t.yaml -o %s/out >/dev/null)",
                       KPF_CLI_PATH, tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "\r\033[Ktrain 40/40 [####################]"), "%s", tu_out);
}

/* -q: nothing but errors; -v: every phase and each analysis's time. */
Test(cli, run_quiet_and_verbose)
{
    tu_write("t.yaml", train_cfg);
    cr_assert_eq(tu_sh("%s run %s/t.yaml -o %s/q -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_str_eq(tu_out, "");
    cr_assert(tu_exists("q/summary.json"));
    tu_write("bad.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, nn: 3}\n");
    cr_assert_eq(tu_sh("%s run %s/bad.yaml -o %s/b -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "model.nn: unknown key"), "errors still show with -q: %s", tu_out);
    cr_assert_eq(tu_sh("KPF_PROGRESS=plain %s run %s/t.yaml -o %s/v -v", KPF_CLI_PATH, tu_tmp,
                       tu_tmp),
                 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "kpf: plots\n") && strstr(tu_out, "kpf: simulate\n"), "%s", tu_out);
    cr_assert(strstr(tu_out, "pca at iteration 0 took "), "%s", tu_out);
    cr_assert(strstr(tu_out, "time train "), "%s", tu_out);
}

/* summary.json: wall time per phase, the thread count, the version. */
Test(cli, summary_records_timings_threads_and_version)
{
    tu_write("t.yaml", train_cfg);
    cr_assert_eq(tu_sh("%s run %s/t.yaml -o %s/out -q --set threads=1", KPF_CLI_PATH, tu_tmp,
                       tu_tmp),
                 0, "%s", tu_out);
    cr_assert_eq(tu_sh("python3 -c \"import json; s = json.load(open('%s/out/summary.json')); "
                       "t = s['timings']; print(sorted(t), s['threads'], s['kpf_version']); "
                       "assert all(v >= 0 for v in t.values()); "
                       "assert abs(sum(v for k, v in t.items() if k != 'total') - t['total']) "
                       "< 0.05 * t['total'] + 0.01\"",
                       tu_tmp),
                 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "['analysis', 'plots', 'simulate', 'total', 'train'] 1 0."), "%s",
              tu_out);
}

/* The run folder: results on top, plot sources in plot-src/, nothing empty. */
Test(cli, run_folder_is_tidy)
{
    tu_write("t.yaml", train_cfg);
    cr_assert_eq(tu_sh("%s run %s/t.yaml -o %s/out -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("find %s/out -empty", tu_tmp), 0);
    cr_assert_str_eq(tu_out, "", "empty files or folders: %s", tu_out);
    cr_assert_eq(tu_sh("cd %s/out && ls *.dat *.gp *.log 2>/dev/null | wc -l", tu_tmp), 0);
    cr_assert_eq(atoi(tu_out), 0, "plot sources on top: %s", tu_out);
    const char *top[] = {"summary.json", "train.h5", "trajectory.h5", "analysis.h5",
                         "checkpoint.h5", "loss.png", "cumvar_iter0.png", "pca_iter40.png",
                         "plot-src/loss.dat", "plot-src/loss.gp", "plot-src/pca_iter40.dat"};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) {
        char p[64];
        snprintf(p, sizeof p, "out/%s", top[i]);
        cr_assert(tu_exists(p), "%s missing", p);
    }
    /* a resumed run still finds its overrides (the file is never empty) */
    cr_assert_neq(tu_sh("%s run --resume %s/out -q", KPF_CLI_PATH, tu_tmp), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "already finished"), "%s", tu_out);
}

/* ---- subcommand help (issue 16) ------------------------------------------------- */

/* Every command `kpf --help` lists answers `kpf CMD --help` with its usage
 * and options on stdout, and names that help when given an unknown option. */
Test(cli, every_subcommand_has_help)
{
    cr_assert_eq(tu_sh("%s --help", KPF_CLI_PATH), 0);
    cr_assert(strstr(tu_out, "run --resume DIR"), "%s", tu_out);
    char help[65536], cmds[32][64];
    snprintf(help, sizeof help, "%s", tu_out);
    size_t n = 0;
    for (char *line = strtok(help, "\n"); line && n < 32; line = strtok(NULL, "\n")) {
        char word[64];
        /* a synopsis line: "  NAME …"; not an option, not another program
         * running kpf ("  mpirun -np N kpf run …") */
        if (strncmp(line, "  ", 2) || line[2] == ' ' || line[2] == '-' ||
            strstr(line, " kpf ") || sscanf(line + 2, "%63s", word) != 1)
            continue;
        int seen = 0;
        for (size_t i = 0; i < n; i++)
            seen |= !strcmp(cmds[i], word);
        if (!seen)
            snprintf(cmds[n++], sizeof cmds[0], "%s", word);
    }
    const char *must[] = {"run", "show", "plugins", "check-plugin", "new-plugin", "eval-op",
                          "export-safetensors"};
    for (size_t k = 0; k < sizeof must / sizeof *must; k++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= !strcmp(cmds[i], must[k]);
        cr_assert(found, "kpf --help does not list %s", must[k]);
    }
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(tu_sh("(%s %s --help 2>/dev/null)", KPF_CLI_PATH, cmds[i]), 0,
                     "kpf %s --help", cmds[i]);
        char want[96];
        snprintf(want, sizeof want, "usage: kpf %s", cmds[i]);
        cr_assert(strstr(tu_out, want), "kpf %s --help: %s", cmds[i], tu_out);
        cr_assert_neq(tu_sh("%s %s --no-such-option", KPF_CLI_PATH, cmds[i]), 0);
        snprintf(want, sizeof want, "kpf %s --help", cmds[i]);
        cr_assert(strstr(tu_out, want), "kpf %s --no-such-option: %s", cmds[i], tu_out);
    }
    cr_assert_eq(tu_sh("%s run --help", KPF_CLI_PATH), 0);
    cr_assert(strstr(tu_out, "--resume DIR") && strstr(tu_out, "-q, --quiet") &&
                  strstr(tu_out, "-v, --verbose") && strstr(tu_out, "runs/<config name>-2"),
              "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin --help", KPF_CLI_PATH), 0);
    cr_assert(strstr(tu_out, "--only PATTERN") && strstr(tu_out, "--task-set"), "%s", tu_out);
}

/* ---- check-plugin's report (issue 16) -------------------------------------------- */

/* Grouped by op; the failures a wrong jzT causes collapse into one line
 * naming it; every line gives both magnitudes (the adjoint-gradient lines
 * too) and the relative error; -v lists the failures under the cause. */
Test(cli, check_plugin_groups_and_names_the_cause)
{
    cr_assert_eq(tu_sh("%s check-plugin %s/broken_jzT.so", KPF_CLI_PATH, KPF_TEST_PLUGIN_DIR), 1,
                 "%s", tu_out);
    cr_assert(strstr(tu_out, "\n  jz\n") && strstr(tu_out, "\n  jzT\n") &&
                  strstr(tu_out, "\n  gradient\n"),
              "%s", tu_out);
    cr_assert(strstr(tu_out, "FAIL  likely cause: jzT is not the transpose of jz — 8 checks fail"),
              "%s", tu_out);
    cr_assert(strstr(tu_out, "1 likely cause (jzT is not the transpose of jz)"), "%s", tu_out);
    /* collapsed: the stepper's adjoint line is not printed on its own */
    cr_assert_null(strstr(tu_out, "    FAIL  euler: adjoint <J_F v,w>"), "%s", tu_out);
    cr_assert(strstr(tu_out, "<dL/dth,d> ") && strstr(tu_out, "  FD "), "%s", tu_out);
    cr_assert(strstr(tu_out, "|J d| ") && strstr(tu_out, "|FD| "), "%s", tu_out);
    cr_assert(strstr(tu_out, "<J v,w> ") && strstr(tu_out, "<v,J^T w> "), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin %s/broken_jzT.so -v", KPF_CLI_PATH, KPF_TEST_PLUGIN_DIR),
                 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "      FAIL  euler: adjoint <J_F v,w>"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin %s/broken_accum.so", KPF_CLI_PATH, KPF_TEST_PLUGIN_DIR),
                 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "likely cause: jthT overwrites g instead of adding into it"), "%s",
              tu_out);
}

/* --only runs a subset: only matching checks are reported, and the
 * gradient (the slow part) is not run when nothing of it is asked for. */
Test(cli, check_plugin_only_runs_a_subset)
{
    cr_assert_eq(tu_sh("%s check-plugin rnn --only jzT", KPF_CLI_PATH), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "\n  jzT\n") && !strstr(tu_out, "\n  jz\n") &&
                  !strstr(tu_out, "\n  gradient\n") && !strstr(tu_out, "determinism"),
              "%s", tu_out);
    cr_assert(strstr(tu_out, "f: adjoint <J_z v,w> = <v,J_z^T w> (jz, jzT)"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn --only 'loss*block W_in'", KPF_CLI_PATH), 0, "%s",
                 tu_out);
    cr_assert(strstr(tu_out, "adjoint gradient: FD of loss, block W_in") &&
                  strstr(tu_out, "truncated BPTT (window 3): FD of loss, block W_in") &&
                  strstr(tu_out, "2 passed, 0 failed"),
              "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin %s/broken_jzT.so --only 'accumulate'", KPF_CLI_PATH,
                       KPF_TEST_PLUGIN_DIR),
                 0, "the failing checks were not skipped: %s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin memory_pro --only dims", KPF_CLI_PATH), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "dims") && strstr(tu_out, " 0 failed") && !strstr(tu_out, "noise"),
              "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn --only", KPF_CLI_PATH), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "missing the value after '--only'"), "%s", tu_out);
}

/* ---- the observed part of the state (issue 16) ------------------------------------ */

/* summary.json's n_observed and the PCA dimension of one run of the fixture
 * (z_0 follows an input, z_1 stays 0, z_2 and z_3 are large and
 * independent); -1 when the run failed. */
static double observed_run(const char *mode, double *n_observed)
{
    plugin_dir("p", (const char *const[]){"observed_fixture", NULL});
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "seed: 2\ntask: {name: memory_pro, t_stim: 4, t_memory: 4, t_response: 4}\n"
             "model: {plugin: observed_fixture, observed: %s}\n"
             "analysis: {trials: 16, k: 3}\nsimulate: {trials: 4}\n",
             mode);
    tu_write("o.yaml", cfg);
    if (tu_sh(KPF_P " run %s/o.yaml -o %s/o_%s -q", tu_tmp, tu_tmp, tu_tmp, mode))
        return -1;
    cr_assert_eq(tu_sh("python3 -c \"import json; s = json.load(open('%s/o_%s/summary.json')); "
                       "print(s['model']['n'], s['model']['n_observed'], "
                       "s['analysis'][0]['pca_effdim'])\"",
                       tu_tmp, mode),
                 0, "%s", tu_out);
    double n, dim;
    cr_assert_eq(sscanf(tu_out, "%lf %lf %lf", &n, n_observed, &dim), 3, "%s", tu_out);
    cr_assert_eq(n, 4.0);
    return dim;
}

Test(cli, pca_and_summary_use_the_observed_components)
{
    double n_obs;
    double dim = observed_run("first_two", &n_obs);
    cr_assert_eq(n_obs, 2.0);
    cr_assert_leq(dim, 1.0, "PCA saw the unobserved components: dimension %g", dim);
    dim = observed_run("all", &n_obs);
    cr_assert_eq(n_obs, 4.0);
    cr_assert_gt(dim, 1.5, "every component observed: dimension %g", dim);
    /* a list naming a component beyond n is the plugin's fault, before any output */
    cr_assert_lt(observed_run("out_of_range", &n_obs), 0);
    cr_assert(strstr(tu_out, "plugin 'observed_fixture': observed component 1 is 7"), "%s",
              tu_out);
    cr_assert_not(tu_exists("o_out_of_range"));
}

/* hh observes its voltages: n = 4N, n_observed = N. */
Test(cli, hh_observes_its_voltages)
{
    tu_write("hh.yaml", "task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n"
                        "model: {plugin: hh, n: 3, dt: 0.05, step: rk4}\n"
                        "analysis: {trials: 4, k: 2}\nsimulate: {trials: 2}\n");
    cr_assert_eq(tu_sh("%s run %s/hh.yaml -o %s/out -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("python3 -c \"import json; m = json.load(open('%s/out/summary.json'))"
                       "['model']; print(m['n'], m['n_observed'])\"",
                       tu_tmp),
                 0, "%s", tu_out);
    cr_assert_str_eq(tu_out, "12 3\n");
    /* the sizes kpf show and the results block give */
    cr_assert_eq(tu_sh("%s show %s/out", KPF_CLI_PATH, tu_tmp), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "n = 12 (observed 3)"), "%s", tu_out);
    cr_assert_eq(tu_sh("(%s run %s/hh.yaml -o %s/out2 2>/dev/null)", KPF_CLI_PATH, tu_tmp,
                       tu_tmp),
                 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "  state          n = 12, observed 3\n"), "%s", tu_out);
}

/* ---- PyTorch weights: export from a run, back into a run (issue 16) -------------- */

Test(cli, export_safetensors_round_trip)
{
    tu_write("g.yaml", "seed: 5\ntask: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
                       "model: {plugin: gru, n: 6}\n"
                       "train: {iterations: 5, batch: 4, eval_every: 5, eval_trials: 4}\n"
                       "simulate: {trials: 4}\n");
    cr_assert_eq(tu_sh("%s run %s/g.yaml -o %s/run -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("%s export-safetensors %s/run %s/w.safetensors --prefix rnn. --layer",
                       KPF_CLI_PATH, tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    /* PyTorch's names, read with numpy and json only */
    cr_assert_eq(tu_sh("python3 -c \"import json, struct; b = open('%s/w.safetensors', 'rb')"
                       ".read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); "
                       "print(sorted(k for k in h if k != '__metadata__'), "
                       "h['rnn.weight_hh_l0']['shape'], h['__metadata__']['torch_module'])\"",
                       tu_tmp),
                 0, "%s", tu_out);
    cr_assert_str_eq(tu_out, "['rnn.W_out', 'rnn.b_out', 'rnn.bias_hh_l0', 'rnn.bias_ih_l0', "
                             "'rnn.weight_hh_l0', 'rnn.weight_ih_l0'] [18, 6] nn.GRUCell\n");
    cr_assert_neq(tu_sh("%s export-safetensors %s/run %s/w.safetensors", KPF_CLI_PATH, tu_tmp,
                        tu_tmp),
                  0, "an existing file was overwritten");
    /* the trained θ, loaded into a new run, gives the trained run's numbers */
    tu_write("h.yaml", "seed: 5\ntask: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
                       "model: {plugin: gru, n: 6, init: {from: w.safetensors, prefix: rnn.}}\n"
                       "simulate: {trials: 4}\n");
    cr_assert_eq(tu_sh("%s run %s/h.yaml -o %s/again -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("python3 -c \"import json; a = json.load(open('%s/run/summary.json')); "
                       "b = json.load(open('%s/again/summary.json')); "
                       "print(a['readout_mse'] == b['readout_mse'], a['state_rms'] == "
                       "b['state_rms'])\"",
                       tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    cr_assert_str_eq(tu_out, "True True\n");
    /* rnn: the two PyTorch biases; only with an Euler step of 1 */
    tu_write("r.yaml", "task: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
                       "model: {plugin: rnn, n: 5, bias: true, step: rk4}\nsimulate: {trials: 2}\n");
    cr_assert_eq(tu_sh("%s run %s/r.yaml -o %s/r -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("%s export-safetensors %s/r %s/r.safetensors", KPF_CLI_PATH, tu_tmp,
                       tu_tmp),
                 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "only with step euler and dt 1"), "%s", tu_out);
}

/* rnn: nn.RNNCell's two biases sum into b on load; export writes b as
 * bias_ih and a zero bias_hh (numpy writes and reads the files). */
/* A python3 that imports numpy ($KPF_PYTHON3, python3 on PATH, /usr/bin's). */
static const char *numpy_python(void)
{
    static char py[256];
    const char *cand[] = {getenv("KPF_PYTHON3"), "python3", "/usr/bin/python3"};
    for (size_t i = 0; i < 3 && !py[0]; i++)
        if (cand[i] && *cand[i] && tu_sh("cd %s && '%s' -c 'import numpy'", tu_tmp, cand[i]) == 0)
            snprintf(py, sizeof py, "%s", cand[i]);
    cr_assert(py[0], "no python3 with numpy (scripts/deps.sh installs python3-numpy)");
    return py;
}

Test(cli, rnn_biases_sum_on_load_and_split_on_export)
{
    const char *py = numpy_python();
    cr_assert_eq(tu_sh("cd %s && '%s' -c \"import json, struct, numpy as np\n"
                       "t = {'weight_hh': np.eye(2), 'weight_ih': np.ones((2, 3)), "
                       "'bias_ih': np.array([0.25, -1.0]), 'bias_hh': np.array([0.5, 2.0])}\n"
                       "h, blobs, o = {}, [], 0\n"
                       "for k, v in t.items():\n"
                       "    b = v.astype('<f4').tobytes(); h[k] = {'dtype': 'F32', 'shape': "
                       "list(v.shape), 'data_offsets': [o, o + len(b)]}; blobs.append(b); "
                       "o += len(b)\n"
                       "j = json.dumps(h).encode(); j += b' ' * (-len(j) %% 8)\n"
                       "open('cell.safetensors', 'wb').write(struct.pack('<Q', len(j)) + j + "
                       "b''.join(blobs))\"",
                       tu_tmp, py),
                 0, "%s", tu_out);
    tu_write("r.yaml", "task: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
                       "model: {plugin: rnn, n: 2, bias: true, step: euler, dt: 1,\n"
                       "        init: {from: cell.safetensors}}\nsimulate: {trials: 2}\n");
    cr_assert_eq(tu_sh("%s run %s/r.yaml -o %s/r -q", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_assert_eq(tu_sh("%s export-safetensors %s/r %s/out.safetensors", KPF_CLI_PATH, tu_tmp,
                       tu_tmp),
                 0, "%s", tu_out);
    cr_assert_eq(tu_sh("cd %s && '%s' -c \"import json, struct, numpy as np\n"
                       "b = open('out.safetensors', 'rb').read(); n = struct.unpack('<Q', "
                       "b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]\n"
                       "g = lambda k: np.frombuffer(d[slice(*h[k]['data_offsets'])], '<f8')\n"
                       "print(g('bias_ih'), g('bias_hh'), g('weight_hh'), g('weight_ih').sum())\"",
                       tu_tmp, py),
                 0, "%s", tu_out);
    cr_assert_str_eq(tu_out, "[0.75 1.  ] [0. 0.] [1. 0. 0. 1.] 6.0\n");
}
