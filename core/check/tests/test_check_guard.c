/* check-plugin surrounds every buffer it hands a plugin with guard zones
 * and names the op that overran (issue 13, item 11): overrun.so holds a
 * model that uses work, tape and outputs correctly and copies of it that
 * each write one double outside one buffer.  Without the guards these were
 * heap corruption (an abort with no hint, or nothing at all). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kpf/check.h"
#include "kpf/plugin.h"
#include "test_util.h"

#define OVERRUN KPF_TEST_PLUGIN_DIR "/overrun.so"

static kpf_registry *reg;
static kpf_error err;

static void setup(void)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
    cr_assert_eq(kpf_registry_add_file(reg, OVERRUN, &err), KPF_OK, "%s", err.msg);
}

static void teardown(void) { kpf_registry_free(reg); }

TestSuite(check_guard, .init = setup, .fini = teardown);

static void check(const char *name, kpf_check_report *rep)
{
    const kpf_plugin *pl = NULL;
    cr_assert_eq(kpf_registry_resolve(reg, name, &pl, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_check_plugin(pl, NULL, rep, &err), KPF_OK, "%s: %s", name, err.msg);
}

static const kpf_check_item *item(const kpf_check_report *rep, const char *name)
{
    for (size_t i = 0; i < rep->n_items; i++)
        if (!strcmp(rep->items[i].name, name))
            return &rep->items[i];
    return NULL;
}

Test(check_guard, a_plugin_that_keeps_to_its_buffers_passes_every_guard)
{
    kpf_check_report rep;
    check("ov_ok", &rep);
    const char *ops[] = {"tape", "f", "jz", "jzT", "jth", "jthT"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char nm[128];
        snprintf(nm, sizeof nm, "guards: %s writes only inside its output and work", ops[i]);
        const kpf_check_item *it = item(&rep, nm);
        cr_assert_not_null(it, "no item '%s'", nm);
        cr_expect(it->pass, "%s: %s", nm, it->detail);
    }
    cr_expect_eq(rep.n_failed, 0, "%zu checks failed", rep.n_failed);
    cr_expect_gt(rep.n_items, 20, "the other checks ran too");
    kpf_check_report_free(&rep);
}

/* `name` fails exactly its op's guard item, whose detail says `detail`,
 * and the check stops there (the heap is never reached). */
static void expect_overrun(const char *name, const char *op, const char *detail)
{
    kpf_check_report rep;
    check(name, &rep);
    char nm[128];
    snprintf(nm, sizeof nm, "guards: %s writes only inside its output and work", op);
    const kpf_check_item *it = item(&rep, nm);
    cr_assert_not_null(it, "no item '%s'", nm);
    cr_expect_not(it->pass, "%s: the overrun went unseen", name);
    cr_expect(strstr(it->detail, detail), "%s: detail lacks '%s': %s", name, detail, it->detail);
    cr_expect_eq(rep.n_failed, 1, "%s: %zu failures, expected only the guard's", name,
                 rep.n_failed);
    for (size_t i = 0; i < rep.n_items; i++)
        cr_expect(!strncmp(rep.items[i].name, "guards: ", 8),
                  "%s: '%s' ran after an overrun", name, rep.items[i].name);
    kpf_check_report_free(&rep);
}

Test(check_guard, writing_past_work_is_named)
{
    expect_overrun("ov_work_f", "f",
                   "f wrote 1 double past the end of work (work_fixed 0 + work_per_row 2 × 7 "
                   "rows = 14 doubles)");
}

Test(check_guard, writing_past_out_is_named)
{
    expect_overrun("ov_out_jz", "jz",
                   "jz wrote 1 double past the end of out (14 doubles for 7 rows)");
}

Test(check_guard, writing_past_the_tape_is_named)
{
    expect_overrun("ov_tape", "tape", "tape wrote 1 double past the end of the tape");
}

Test(check_guard, writing_into_the_read_only_tape_is_named)
{
    expect_overrun("ov_tape_jzt", "jzT", "jzT changed 1 double of the tape, which it may only read");
}

Test(check_guard, writing_before_g_is_named)
{
    expect_overrun("ov_before_jtht", "jthT", "jthT wrote 1 double before the start of g");
}

Test(check_guard, the_command_names_the_op_and_exits_1)
{
    tu_mktmp();
    cr_assert_eq(tu_sh("%s check-plugin -v %s", KPF_CLI_PATH, OVERRUN), 1, "%s", tu_out);
    cr_expect(strstr(tu_out, "f wrote 1 double past the end of work"), "%s", tu_out);
    cr_expect(strstr(tu_out, "jthT wrote 1 double before the start of g"), "%s", tu_out);
    tu_rmtmp();
}
