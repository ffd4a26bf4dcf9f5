/* Loader: every way a plugin file can be wrong gives one clear line naming
 * the file and the fix, and never a crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpf/instance.h"
#include "kpf/plugin.h"

#define TP(name) KPF_TEST_PLUGIN_DIR "/" name ".so"

static kpf_registry *reg;
static kpf_error err;

static void setup(void)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
}

static void teardown(void) { kpf_registry_free(reg); }

TestSuite(loader, .init = setup, .fini = teardown);

static void expect_add_fails(const char *path, int code, const char *needle)
{
    int rc = kpf_registry_add_file(reg, path, &err);
    cr_assert_eq(rc, code, "%s: status %d, expected %d (%s)", path, rc, code, err.msg);
    cr_assert(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    cr_assert(strstr(err.msg, needle), "message lacks '%s': %s", needle, err.msg);
    cr_assert_null(strchr(err.msg, '\n'), "message is not one line: %s", err.msg);
    cr_assert_eq(kpf_registry_count(reg), 0);
}

Test(loader, missing_file)
{
    expect_add_fails(KPF_TEST_PLUGIN_DIR "/does_not_exist.so", KPF_EPLUGIN,
                     "no such plugin file");
}

Test(loader, not_a_shared_object)
{
    char dir[] = "/tmp/kpf-loader-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/fake.so", dir);
    FILE *fp = fopen(path, "w");
    fputs("this is text, not ELF\n", fp);
    fclose(fp);
    expect_add_fails(path, KPF_EPLUGIN, "cannot load as a shared object");
    cr_assert(strstr(err.msg, "-shared -fPIC"), "no fix suggested: %s", err.msg);
    unlink(path);
    rmdir(dir);
}

Test(loader, missing_entry_symbol)
{
    expect_add_fails(TP("no_symbol"), KPF_EPLUGIN, "does not export 'kpf_model_descriptor'");
}

Test(loader, abi_version_mismatch)
{
    expect_add_fails(TP("bad_abi"), KPF_EABI, "plugin ABI version 99, this kpf speaks 1");
}

Test(loader, struct_size_too_small)
{
    expect_add_fails(TP("small_struct"), KPF_EABI, "struct_size 16 is smaller");
}

Test(loader, required_op_null)
{
    expect_add_fails(TP("null_op"), KPF_EPLUGIN, "leaves the required op 'jzT' NULL");
}

Test(loader, two_plugins_one_name)
{
    cr_assert_eq(kpf_registry_add_file(reg, TP("dup_a"), &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_add_file(reg, TP("dup_b"), &err), KPF_OK, "%s", err.msg);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "dup", &p, &err), KPF_EPLUGIN);
    cr_assert(strstr(err.msg, "two plugins are named 'dup'"), "%s", err.msg);
    cr_assert(strstr(err.msg, TP("dup_a")) && strstr(err.msg, TP("dup_b")), "%s", err.msg);
}

Test(loader, enumerates_descriptors_and_honours_short_struct)
{
    cr_assert_eq(kpf_registry_add_file(reg, TP("two_models"), &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_count(reg), 2);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "pair_second", &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(p->index, 1);
    /* The short descriptor has no optional ops: the core must fall back
     * (zero initial state, core readout) without reading past struct_size. */
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create_default(p, 1, 1, 1, 0, &m, &err), KPF_OK, "%s", err.msg);
    cr_assert(m->core_readout);
    cr_assert_not_null(kpf_model_block(m, "W_out"));
    kpf_model_free(m);
}

Test(loader, scan_reports_bad_files_and_keeps_good_ones)
{
    cr_assert_eq(kpf_registry_scan(reg, "/nonexistent/dir:" KPF_TEST_PLUGIN_DIR, &err), KPF_OK,
                 "%s", err.msg);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "pair_first", &p, &err), KPF_OK, "%s", err.msg);
    const char *bad[] = {"bad_abi.so", "small_struct.so", "null_op.so", "no_symbol.so"};
    for (size_t b = 0; b < 4; b++) {
        int seen = 0;
        for (size_t i = 0; i < kpf_registry_problem_count(reg); i++)
            seen |= strstr(kpf_registry_problem(reg, i), bad[b]) != NULL;
        cr_assert(seen, "scan did not report %s", bad[b]);
    }
}

Test(loader, unknown_name_says_where_it_looked)
{
    cr_assert_eq(kpf_registry_scan(reg, KPF_TEST_PLUGIN_DIR, &err), KPF_OK);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "nosuch", &p, &err), KPF_EPLUGIN);
    cr_assert(strstr(err.msg, "no plugin named 'nosuch'"), "%s", err.msg);
    cr_assert(strstr(err.msg, KPF_TEST_PLUGIN_DIR), "%s", err.msg);
    cr_assert(strstr(err.msg, "KPF_PLUGIN_PATH"), "%s", err.msg);
}

Test(loader, resolve_by_path_and_by_name)
{
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_resolve(reg, TP("dup_a"), &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_str_eq(p->desc->name, "dup");
    cr_assert_eq(kpf_registry_resolve(reg, "dup", &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_str_eq(p->path, TP("dup_a"));
}

Test(loader, build_tree_has_rnn)
{
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "rnn", &p, &err), KPF_OK, "%s", err.msg);
    cr_assert(p->desc->flags & KPF_MODEL_CONTINUOUS);
    cr_assert_eq(kpf_registry_problem_count(reg), 0, "%s", kpf_registry_problem(reg, 0));
}

/* An enumerator that never ends is capped and reported, quickly, without
 * exhausting memory, and takes nothing of its file into the registry. */
Test(loader, endless_enumeration_is_capped_and_named, .timeout = 10)
{
    expect_add_fails(TP("endless"), KPF_EPLUGIN, "more than 1024 descriptors");
    cr_assert(strstr(err.msg, "NULL after the last"), "%s", err.msg);
}

/* In a scanned folder it is one problem line; the good files still load. */
Test(loader, endless_file_never_hides_the_good_ones, .timeout = 10)
{
    cr_assert_eq(kpf_registry_scan(reg, KPF_TEST_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_find(reg, "pair_first", &p, &err), KPF_OK, "%s", err.msg);
    int named = 0;
    for (size_t i = 0; i < kpf_registry_problem_count(reg); i++)
        named += strstr(kpf_registry_problem(reg, i), "endless.so") != NULL;
    cr_assert_eq(named, 1);
    cr_assert_neq(kpf_registry_find(reg, "endless", &p, &err), KPF_OK);
}
