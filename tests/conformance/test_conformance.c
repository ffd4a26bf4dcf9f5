/* Conformance: kpf_check_plugin over every plugin the build produced, the
 * rnn plugin in each of its configurations, and two deliberately broken
 * fixtures (tests/plugins/broken_*.c) that the checks must catch. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kpf/check.h"
#include "kpf/config.h"
#include "kpf/plugin.h"

/* All failing items, one per line, for assertion messages. */
static const char *failures(const kpf_check_report *r)
{
    static char buf[8192];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_items && len < sizeof buf - 1; i++) {
        const kpf_check_item *it = &r->items[i];
        if (it->pass)
            continue;
        int k = snprintf(buf + len, sizeof buf - len, "\n  FAIL %s: %.3e > %.1e  %s",
                         it->name, it->value, it->tol, it->detail);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    return buf;
}

static const kpf_check_item *item(const kpf_check_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_items; i++)
        if (strcmp(r->items[i].name, name) == 0)
            return &r->items[i];
    return NULL;
}

static void check_one(const kpf_plugin *p, const kpf_node *model, const char *label)
{
    kpf_check_opts o;
    kpf_check_opts_default(&o);
    o.model = model;
    kpf_check_report rep;
    kpf_error err = {0};
    int rc = kpf_check_plugin(p, &o, &rep, &err);
    cr_assert_eq(rc, KPF_OK, "%s (%s): checks could not run: %s", p->desc->name, label,
                 err.msg);
    cr_assert_gt(rep.n_items, 10, "%s (%s): only %zu checks ran", p->desc->name, label,
                 rep.n_items);
    cr_expect_eq(rep.n_failed, 0, "%s (%s): %zu of %zu checks failed:%s", p->desc->name,
                 label, rep.n_failed, rep.n_items, failures(&rep));
    kpf_check_report_free(&rep);
}

Test(conformance, every_built_plugin)
{
    kpf_registry *reg = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    size_t n = kpf_registry_count(reg);
    cr_assert_geq(n, 1, "no plugin found in %s", KPF_BUILD_PLUGIN_DIR);
    for (size_t i = 0; i < kpf_registry_problem_count(reg); i++)
        cr_expect_fail("plugin problem: %s", kpf_registry_problem(reg, i));
    int have_rnn = 0;
    for (size_t i = 0; i < n; i++) {
        const kpf_plugin *p = kpf_registry_at(reg, i);
        have_rnn |= strcmp(p->desc->name, "rnn") == 0;
        check_one(p, NULL, "defaults");
    }
    cr_expect(have_rnn, "the rnn plugin was not found in %s", KPF_BUILD_PLUGIN_DIR);
    kpf_registry_free(reg);
}

static void check_rnn_with(const char *yaml)
{
    kpf_registry *reg = NULL;
    kpf_config *cfg = NULL;
    const kpf_plugin *p = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "rnn", &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_load_string(yaml, "(test)", &cfg, &err), KPF_OK, "%s", err.msg);
    check_one(p, kpf_config_root(cfg), yaml);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
}

Test(conformance, rnn_tanh) { check_rnn_with("{n: 16, activation: tanh, g: 1.5}"); }
Test(conformance, rnn_relu) { check_rnn_with("{n: 16, activation: relu}"); }
Test(conformance, rnn_linear) { check_rnn_with("{n: 16, activation: linear, g: 0.9}"); }
Test(conformance, rnn_bias) { check_rnn_with("{n: 12, bias: true, input_scale: 2.0}"); }
Test(conformance, rnn_rk4_dt) { check_rnn_with("{n: 10, step: rk4, dt: 0.5, bias: true}"); }

static void run_fixture(const char *file, kpf_check_report *rep)
{
    kpf_registry *reg = NULL;
    kpf_error err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", KPF_TEST_PLUGIN_DIR, file);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_add_file(reg, path, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_count(reg), 1);
    kpf_check_opts o;
    kpf_check_opts_default(&o);
    int rc = kpf_check_plugin(kpf_registry_at(reg, 0), &o, rep, &err);
    cr_assert_eq(rc, KPF_OK, "%s: checks could not run: %s", file, err.msg);
    kpf_registry_free(reg);
}

/* The adjoint checks that read jzT: the model's own pair, the tangent/adjoint
 * pair of both steppers, and RK4's parameter adjoint (its stages chain
 * through J_zᵀ).  Euler's parameter adjoint does not use jzT. */
static const char *const jzT_checks[] = {
    "f: adjoint <J_z v,w> = <v,J_z^T w> (jz, jzT)",
    "euler: adjoint <J_F v,w> = <v,J_F^T w> (tangent, adjoint)",
    "rk4: adjoint <J_F v,w> = <v,J_F^T w> (tangent, adjoint)",
    "rk4: adjoint <J_F,th d,w> = <d,J_F,th^T w> (jth, jthT)",
    NULL};

Test(conformance, broken_jzT_fails_exactly_the_jzT_adjoints)
{
    kpf_check_report rep;
    run_fixture("broken_jzT.so", &rep);
    for (const char *const *nm = jzT_checks; *nm; nm++) {
        const kpf_check_item *it = item(&rep, *nm);
        cr_assert_not_null(it, "no check named '%s'", *nm);
        cr_expect(!it->pass, "'%s' passed with a wrong jzT (value %.3e)", *nm, it->value);
    }
    /* The loss gradient back-propagates through jzT, so its checks for the
     * dynamics blocks A and B (full and truncated BPTT) fail too; the
     * readout blocks' gradients do not pass through jzT. */
    size_t n_grad_fail = 0;
    for (size_t i = 0; i < rep.n_items; i++) {
        const kpf_check_item *g = &rep.items[i];
        if (!strstr(g->name, "of loss"))
            continue;
        int dyn = strstr(g->name, "block A") || strstr(g->name, "block B");
        cr_expect(dyn ? !g->pass : g->pass, "'%s' %s", g->name, g->pass ? "passed" : "failed");
        n_grad_fail += !g->pass;
    }
    cr_expect_eq(n_grad_fail, 4);
    cr_expect_eq(rep.n_failed, 8, "expected 8 failures, got %zu:%s", rep.n_failed,
                 failures(&rep));
    size_t n_fd = 0;
    for (size_t i = 0; i < rep.n_items; i++)
        if (strstr(rep.items[i].name, "FD") && !strstr(rep.items[i].name, "of loss")) {
            n_fd++;
            cr_expect(rep.items[i].pass, "FD check '%s' failed: %s", rep.items[i].name,
                      rep.items[i].detail);
        }
    cr_expect_geq(n_fd, 6);
    kpf_check_report_free(&rep);
}

Test(conformance, broken_accum_fails_accumulation)
{
    kpf_check_report rep;
    run_fixture("broken_accum.so", &rep);
    const kpf_check_item *it = item(&rep, "accumulate: jthT adds into g");
    cr_assert_not_null(it);
    cr_expect(!it->pass, "accumulation check passed with an overwriting jthT");
    cr_expect(strstr(it->detail, "overwrite") != NULL, "detail: %s", it->detail);
    for (size_t i = 0; i < rep.n_items; i++)
        if (strstr(rep.items[i].name, "FD") || strstr(rep.items[i].name, "(jz, jzT)"))
            cr_expect(rep.items[i].pass, "'%s' failed: %s", rep.items[i].name,
                      rep.items[i].detail);
    kpf_check_report_free(&rep);
}

Test(conformance, report_values_are_small_for_rnn)
{
    /* Not a tolerance test: the measured errors sit far below the tolerances,
     * which is what makes the checks discriminating. */
    kpf_registry *reg = NULL;
    const kpf_plugin *p = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "rnn", &p, &err), KPF_OK, "%s", err.msg);
    kpf_check_report rep;
    cr_assert_eq(kpf_check_plugin(p, NULL, &rep, &err), KPF_OK, "%s", err.msg);
    for (size_t i = 0; i < rep.n_items; i++) {
        const kpf_check_item *it = &rep.items[i];
        if (strstr(it->name, "FD"))
            cr_expect_lt(it->value, 1e-7, "%s: %.3e", it->name, it->value);
        else if (strstr(it->name, "adjoint"))
            cr_expect_lt(it->value, 1e-14, "%s: %.3e", it->name, it->value);
    }
    kpf_check_report_free(&rep);
    kpf_registry_free(reg);
}
