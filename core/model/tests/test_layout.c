/* The layout a plugin reports is untrusted (issue 13, items 8 and 9): each
 * fault is refused by kpf_model_create with one line naming the plugin —
 * never a crash, never a run on a wrapped size — and a descriptor that
 * physically ends at its required ops loads, runs and passes check-plugin,
 * because the host reads optional fields only through KPF_DESC_OP. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "test_util.h"

#define TP(name) KPF_TEST_PLUGIN_DIR "/" name ".so"

static kpf_registry *reg;
static kpf_error err;

static void setup(void)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
}

static void teardown(void) { kpf_registry_free(reg); }

TestSuite(layout, .init = setup, .fini = teardown);

static const kpf_plugin *plugin(const char *file, const char *name)
{
    const kpf_plugin *pl = NULL;
    cr_assert_eq(kpf_registry_add_file(reg, file, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_resolve(reg, name, &pl, &err), KPF_OK, "%s", err.msg);
    return pl;
}

/* Creating `name` (3 inputs, 2 outputs) fails with KPF_EPLUGIN, one line
 * naming the plugin and saying `needle`. */
static void expect_refused(const char *name, const char *needle)
{
    kpf_model *m = NULL;
    int rc = kpf_model_create_default(plugin(TP("bad_layout"), name), 3, 2, 4, 1, &m, &err);
    cr_expect_eq(rc, KPF_EPLUGIN, "%s: status %d (%s)", name, rc, err.msg);
    cr_expect_null(m);
    char who[64];
    snprintf(who, sizeof who, "plugin '%s'", name);
    cr_expect(strstr(err.msg, who), "the message does not name the plugin: %s", err.msg);
    cr_expect(strstr(err.msg, needle), "%s: message lacks '%s': %s", name, needle, err.msg);
    cr_expect_null(strchr(err.msg, '\n'), "not one line: %s", err.msg);
    kpf_model_free(m);
}

Test(layout, a_sound_layout_creates)
{
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create_default(plugin(TP("bad_layout"), "bl_ok"), 3, 2, 4, 1, &m,
                                          &err),
                 KPF_OK, "%s", err.msg);
    cr_expect_eq(m->m, 1 + 2 * 2 + 2, "w plus the core readout");
    kpf_model_free(m);
}

Test(layout, null_block_table_with_blocks_is_refused)
{
    expect_refused("bl_null_blocks", "reports 1 parameter blocks but no block table");
}

Test(layout, block_sizes_whose_product_overflows_are_refused)
{
    expect_refused("bl_product_overflow", "(size_t overflow)");
}

Test(layout, block_sizes_whose_sum_overflows_are_refused)
{
    expect_refused("bl_sum_overflow", "(size_t overflow)");
}

Test(layout, n_theta_disagreeing_with_the_blocks_is_refused)
{
    expect_refused("bl_n_theta", "blocks cover 1 parameters but n_theta = 2");
}

Test(layout, a_tape_width_without_a_tape_op_is_refused)
{
    expect_refused("bl_tape_without_op", "declares tape_width = 3 but has no tape op");
}

Test(layout, a_readout_of_another_width_than_the_task_is_refused)
{
    expect_refused("bl_readout_n_out", "readout of n_out = 3 outputs but the task has 2");
}

Test(layout, a_non_finite_initial_theta_is_refused)
{
    expect_refused("bl_nan_theta0", "initial θ entry 0 is not finite");
}

/* short_desc.so ends its descriptor at the last byte before a PROT_NONE
 * page: any read of an optional field beyond struct_size faults. */
Test(layout, a_physically_short_descriptor_creates_and_runs)
{
    kpf_model *m = NULL;
    const kpf_plugin *pl = plugin(TP("short_desc"), "short_desc");
    cr_assert_eq(pl->desc->struct_size, KPF_MODEL_DESC_MIN_SIZE);
    cr_assert_eq(kpf_model_create_default(pl, 3, 2, 4, 1, &m, &err), KPF_OK, "%s", err.msg);
    cr_expect(m->core_readout, "no readout op within struct_size: the core's readout");
    cr_expect_null(kpf_model_extension(m, "kpf.activation/1"));
    cr_assert_eq(kpf_model_reserve(m, 2, &err), KPF_OK, "%s", err.msg);
    double z[4] = {1, 2, 3, 4}, x[6] = {0}, t[2] = {0}, y[4];
    size_t tr[2] = {0, 1};
    kpf_rows rows = {.R = 2, .z = z, .x = x, .trial = tr, .t = t};
    cr_expect_eq(kpf_readout(m, &rows, y, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(kpf_model_tape(m, &rows, NULL, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(kpf_model_theta_changed(m, &err), KPF_OK, "%s", err.msg);
    kpf_model_free(m);
}

Test(layout, a_physically_short_descriptor_passes_check_plugin)
{
    tu_mktmp();
    cr_assert_eq(tu_sh("%s check-plugin %s", KPF_CLI_PATH, TP("short_desc")), 0, "%s", tu_out);
    cr_expect(strstr(tu_out, "short_desc"), "%s", tu_out);
    tu_rmtmp();
}

/* The same refusals through the command: exit 2 before any output. */
Test(layout, kpf_run_refuses_a_bad_layout_before_writing)
{
    tu_mktmp();
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s/c.yaml", tu_tmp);
    tu_write("c.yaml", "task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n"
                       "model: {plugin: bl_null_blocks}\n");
    cr_assert_eq(tu_sh("KPF_PLUGIN_PATH=%s %s run %s -o %s/out", KPF_TEST_PLUGIN_DIR,
                       KPF_CLI_PATH, cfg, tu_tmp),
                 2, "%s", tu_out);
    cr_expect(strstr(tu_out, "plugin 'bl_null_blocks' reports 1 parameter blocks"), "%s",
              tu_out);
    cr_expect_not(tu_exists("out"), "a folder was made for a refused config");
    tu_rmtmp();
}
