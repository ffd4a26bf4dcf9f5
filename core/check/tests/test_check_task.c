/* The task conformance checks (kpf_check_task, `kpf check-plugin TASK`).
 *
 * Every built-in task and every model plugin passes through the command;
 * the fixtures of tests/plugins/broken_tasks.c each break one rule of
 * kpf/task.h and must fail the check that names it (tf_ok, the same task
 * without a defect, passes everything, so a failure is the defect's). */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "kpf/check.h"
#include "test_util.h"

#define FIXTURE KPF_TEST_PLUGIN_DIR "/broken_tasks.so"

static const kpf_check_item *item(const kpf_check_report *rep, const char *name)
{
    for (size_t i = 0; i < rep->n_items; i++)
        if (!strcmp(rep->items[i].name, name))
            return &rep->items[i];
    return NULL;
}

/* "name: detail" of every failed item, for assertion messages. */
static const char *failures(const kpf_check_report *rep)
{
    static char buf[8192];
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < rep->n_items && k < sizeof buf; i++)
        if (!rep->items[i].pass)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "\n  %s: %s", rep->items[i].name,
                                  rep->items[i].detail);
    return buf;
}

/* Check task `name` of the fixture file with optional YAML task keys. */
static int check_fixture(const char *name, const char *keys, kpf_check_report *rep,
                         kpf_error *err)
{
    kpf_registry *reg = NULL;
    kpf_config *cfg = NULL;
    const kpf_extension *e = NULL;
    cr_assert_eq(kpf_registry_alloc(&reg, err), KPF_OK, "%s", err->msg);
    cr_assert_eq(kpf_registry_add_file(reg, FIXTURE, err), KPF_OK, "%s", err->msg);
    cr_assert_eq(kpf_registry_ext_find(reg, KPF_KIND_TASK, name, &e, err), KPF_OK, "%s",
                 err->msg);
    kpf_task_check_opts o;
    kpf_task_check_opts_default(&o);
    if (keys) {
        cr_assert_eq(kpf_config_load_string(keys, "(test)", &cfg, err), KPF_OK, "%s",
                     err->msg);
        o.task = kpf_config_root(cfg);
    }
    int rc = kpf_check_task((const kpf_task_desc *)e->desc, &o, rep, err);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
    return rc;
}

/* The fixture `name` fails exactly the checks in `expected` (NULL-ended). */
static void expect_failures(const char *name, const char *const *expected)
{
    kpf_check_report rep;
    kpf_error err = {0};
    cr_assert_eq(check_fixture(name, NULL, &rep, &err), KPF_OK, "%s: %s", name, err.msg);
    size_t n = 0;
    for (; expected[n]; n++) {
        const kpf_check_item *it = item(&rep, expected[n]);
        cr_assert_not_null(it, "%s: no check named '%s'", name, expected[n]);
        cr_assert(!it->pass, "%s: '%s' passed; failures:%s", name, expected[n],
                  failures(&rep));
        cr_assert(it->detail[0], "%s: '%s' failed without saying why", name, expected[n]);
    }
    cr_assert_eq(rep.n_failed, n, "%s: expected %zu failures, got %zu:%s", name, n,
                 rep.n_failed, failures(&rep));
    kpf_check_report_free(&rep);
}

/* ---- the library call ---------------------------------------------------------- */

Test(check_task, every_core_task_passes)
{
    size_t n = 0;
    for (const kpf_task_desc *d; (d = kpf_builtin_task_descriptor((uint32_t)n)); n++) {
        kpf_check_report rep;
        kpf_error err = {0};
        cr_assert_eq(kpf_check_task(d, NULL, &rep, &err), KPF_OK, "%s: %s", d->name, err.msg);
        cr_assert_eq(rep.n_failed, 0, "%s fails:%s", d->name, failures(&rep));
        /* The noise checks run exactly for the tasks that declare noise. */
        const int noisy = d->set_noise_scale != NULL;
        cr_assert_eq(item(&rep, "noise: scale 0 makes the same rng draws as scale 1") != NULL,
                     noisy, "%s: noise checks %s", d->name, noisy ? "missing" : "present");
        kpf_check_report_free(&rep);
    }
    cr_assert_eq(n, 10, "the core has %zu built-in tasks, this test expects 10", n);
}

Test(check_task, draws_decide_the_seed_check)
{
    kpf_check_report rep;
    kpf_error err = {0};
    /* constant_input draws nothing: another seed must give the same batch. */
    cr_assert_eq(kpf_check_task(kpf_task_type_find("constant_input"), NULL, &rep, &err),
                 KPF_OK, "%s", err.msg);
    cr_assert_not_null(item(&rep, "determinism: draws nothing, so another seed gives the "
                                   "same batch"));
    cr_assert_null(item(&rep, "determinism: another seed gives another batch"));
    kpf_check_report_free(&rep);
    cr_assert_eq(kpf_check_task(kpf_task_type_find("mante"), NULL, &rep, &err), KPF_OK);
    cr_assert_not_null(item(&rep, "determinism: another seed gives another batch"));
    kpf_check_report_free(&rep);
}

Test(check_task, fixture_without_defect_passes)
{
    kpf_check_report rep;
    kpf_error err = {0};
    cr_assert_eq(check_fixture("tf_ok", NULL, &rep, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(rep.n_failed, 0, "tf_ok fails:%s", failures(&rep));
    const kpf_check_item *size = item(&rep, "noise: its size, max |x(1) - x(0)| (information)");
    cr_assert_not_null(size);
    cr_assert(size->value > 0.05, "tf_ok has noise 0.1, measured size %g", size->value);
    kpf_check_report_free(&rep);
}

Test(check_task, task_keys_reach_the_task)
{
    kpf_check_report rep;
    kpf_error err = {0};
    cr_assert_eq(check_fixture("tf_ok", "{noise: 0}", &rep, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(rep.n_failed, 0, "%s", failures(&rep));
    cr_assert_eq(item(&rep, "noise: its size, max |x(1) - x(0)| (information)")->value, 0.0);
    kpf_check_report_free(&rep);
}

Test(check_task, unknown_task_key_is_a_located_config_error)
{
    kpf_check_report rep;
    kpf_error err = {0};
    cr_assert_eq(check_fixture("tf_ok", "{noize: 0.2}", &rep, &err), KPF_ECONFIG);
    cr_assert(strstr(err.msg, "noize") && strstr(err.msg, "unknown key"), "%s", err.msg);
    cr_assert(strstr(err.msg, "(test):1:"), "not located: %s", err.msg);
    cr_assert_eq(check_fixture("tf_ok", "{noise: -1}", &rep, &err), KPF_ECONFIG);
    cr_assert(strstr(err.msg, "create"), "%s", err.msg);
}

Test(check_task, mask_above_one_fails_the_mask_check)
{
    expect_failures("tf_bad_mask", (const char *const[]){"mask: every entry in [0, 1]", NULL});
}

Test(check_task, period_label_past_the_names_fails)
{
    expect_failures("tf_bad_period",
                    (const char *const[]){"period: every label indexes period_names", NULL});
}

Test(check_task, unwritten_cond_fails)
{
    expect_failures("tf_no_cond",
                    (const char *const[]){"cond: every trial's condition >= 0", NULL});
}

Test(check_task, write_past_x_fails_bounds)
{
    expect_failures("tf_overrun",
                    (const char *const[]){"bounds: nothing written outside the arrays", NULL});
}

Test(check_task, noise_not_proportional_to_scale_fails)
{
    expect_failures("tf_noise_squared",
                    (const char *const[]){
                        "noise: x, y affine in the scale: x(1/2) = (x(0) + x(1))/2", NULL});
}

Test(check_task, skipped_noise_draws_fail)
{
    /* Skipping the draws at scale 0 shifts every later trial's condition;
     * the midpoint then compares different trials too. */
    expect_failures("tf_skips_noise",
                    (const char *const[]){
                        "noise: scale 0 makes the same rng draws as scale 1",
                        "noise: scale 0 keeps cond, mask, period, trial",
                        "noise: x, y affine in the scale: x(1/2) = (x(0) + x(1))/2", NULL});
}

Test(check_task, hidden_state_fails_determinism)
{
    kpf_check_report rep;
    kpf_error err = {0};
    cr_assert_eq(check_fixture("tf_hidden_state", NULL, &rep, &err), KPF_OK, "%s", err.msg);
    const char *const det[] = {"determinism: same seed, same instance: identical batch",
                               "determinism: same seed, new instance: identical batch"};
    for (size_t i = 0; i < 2; i++) {
        const kpf_check_item *it = item(&rep, det[i]);
        cr_assert(it && !it->pass, "'%s' did not fail:%s", det[i], failures(&rep));
        cr_assert(strstr(it->detail, "'x'"), "%s", it->detail);
    }
    kpf_check_report_free(&rep);
}

/* ---- the command ------------------------------------------------------------------ */

Test(check_task_cli, every_builtin_and_study_task_passes)
{
    const char *study[] = {"lrnn_svd", "lrnn_rotation", "lrnn_integration"};
    size_t n_core = 0;
    while (kpf_builtin_task_descriptor((uint32_t)n_core))
        n_core++;
    for (size_t i = 0; i < n_core + 3; i++) {
        const char *nm = i < n_core ? kpf_builtin_task_descriptor((uint32_t)i)->name
                                    : study[i - n_core];
        cr_assert_eq(tu_sh("%s check-plugin %s", KPF_CLI_PATH, nm), 0, "%s:\n%s", nm, tu_out);
        char head[128];
        snprintf(head, sizeof head, "checking task '%s'", nm);
        cr_assert(strstr(tu_out, head), "%s", tu_out);
        cr_assert(strstr(tu_out, " 0 failed"), "%s", tu_out);
        cr_assert(strstr(tu_out, "ok    determinism: same seed, new instance"), "%s", tu_out);
    }
}

Test(check_task_cli, every_model_plugin_passes)
{
    const char *models[] = {"rnn", "gru", "lrnn", "hh", "ltr"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(tu_sh("%s check-plugin %s", KPF_CLI_PATH, models[i]), 0, "%s:\n%s",
                     models[i], tu_out);
        cr_assert(strstr(tu_out, " 0 failed"), "%s", tu_out);
        cr_assert(!strstr(tu_out, "FAIL"), "%s", tu_out);
    }
}

Test(check_task_cli, fixture_file_fails_with_the_defect_named)
{
    cr_assert_eq(tu_sh("%s check-plugin %s", KPF_CLI_PATH, FIXTURE), 1, "%s", tu_out);
    /* Every task the file exports is checked, each under its own heading. */
    cr_assert(strstr(tu_out, "checking task 'tf_ok'"), "%s", tu_out);
    cr_assert(strstr(tu_out, "checking task 'tf_noise_squared'"), "%s", tu_out);
    cr_assert(strstr(tu_out, "0 models and 8 tasks checked"), "%s", tu_out);
    const char *line = strstr(tu_out, "FAIL  mask: every entry in [0, 1]");
    cr_assert(line, "%s", tu_out);
    cr_assert(strstr(line, "mask[b=0, t=6] = 2"), "%.300s", line);
}

Test(check_task_cli, study_task_too_small_a_batch_says_trials)
{
    /* lrnn_svd whitens T·n_in = 24 directions exactly: B must be ≥ 24. */
    cr_assert_eq(tu_sh("%s check-plugin lrnn_svd --trials 8", KPF_CLI_PATH), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "--trials"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin lrnn_svd --trials 24 --task-set T=2 --task-set n_in=3",
                       KPF_CLI_PATH),
                 0, "%s", tu_out);
}

Test(check_task_cli, keys_go_to_the_kind_they_belong_to)
{
    cr_assert_eq(tu_sh("%s check-plugin memory_pro --task-set t_stim=3 --task-set noise=0",
                       KPF_CLI_PATH),
                 0, "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin memory_pro --task-set t_stimm=3", KPF_CLI_PATH), 2,
                 "%s", tu_out);
    cr_assert(strstr(tu_out, "t_stimm") && strstr(tu_out, "unknown key"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin memory_pro --set n=3", KPF_CLI_PATH), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "--task-set"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn --task-set T=3", KPF_CLI_PATH), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "no task"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin nosuch_thing", KPF_CLI_PATH), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "no model or task named 'nosuch_thing'"), "%s", tu_out);
}

Test(check_task_cli, many_sets_and_bad_options)
{
    /* 70 assignments: there is no fixed limit. */
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "%s check-plugin rnn", KPF_CLI_PATH);
    for (int i = 0; i < 70; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --set n=%d", 3 + i % 2);
    cr_assert_eq(tu_sh("%s", cmd), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn --bogus", KPF_CLI_PATH), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "unknown option '--bogus'"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin rnn --task-set", KPF_CLI_PATH), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "missing the value after '--task-set'"), "%s", tu_out);
    cr_assert_eq(tu_sh("%s check-plugin memory_pro --trials 0", KPF_CLI_PATH), 2, "%s",
                 tu_out);
}
