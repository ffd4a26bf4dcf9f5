/* The descriptor's appended `default_stepper` (kpf/model.h), with hh as the
 * plugin that declares one ("rk4"):
 *   - hh without a `step:` key runs RK4, bit for bit the run with `step: rk4`;
 *     `step: euler` still selects Euler;
 *   - a descriptor too short to hold the field still loads and gets the
 *     core's default (Euler), even when the bytes past its struct_size would
 *     name a stepper: the host never reads beyond struct_size;
 *   - a default_stepper the core does not have, or one on a discrete map, is
 *     refused when the descriptor is registered, naming the field;
 *   - `kpf plugins` shows each continuous model's default step. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kpf/config.h"
#include "kpf/instance.h"
#include "kpf/model.h"
#include "kpf/model_access.h"
#include "kpf/plugin.h"
#include "kpf/trajectory.h"

static kpf_registry *reg;
static const kpf_plugin *P;

static void load(void)
{
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "hh", &P, &err), KPF_OK, "%s", err.msg);
}

static void unload(void)
{
    kpf_registry_free(reg);
    reg = NULL;
}

TestSuite(hh_stepper, .init = load, .fini = unload);

static kpf_model *make(const kpf_plugin *pl, const char *yaml)
{
    kpf_error err = {0};
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "hh.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create(pl, kpf_config_root(cfg), 2, 1, 2, 5, &m, &err), KPF_OK,
                 "%s", err.msg);
    kpf_config_free(cfg);
    return m;
}

/* 2 trials × T steps of a driven, spiking network (constant input). */
static kpf_traj *run(kpf_model *m, size_t T)
{
    kpf_error err = {0};
    kpf_traj *tr = NULL;
    const double xb[4] = {1.0, -0.5, 0.3, 0.8};
    cr_assert_eq(kpf_traj_alloc(m, 2, T, &tr, &err), KPF_OK, "%s", err.msg);
    for (size_t k = 0; k < T; k++)
        memcpy(tr->x + k * 4, xb, sizeof xb);
    cr_assert_eq(kpf_simulate(m, tr, &err), KPF_OK, "%s", err.msg);
    return tr;
}

#define NET "n: 5, g: 10, input_scale: 10, I_app: 4"

Test(hh_stepper, hh_without_step_runs_rk4_identical_to_explicit_rk4)
{
    kpf_model *def = make(P, "{" NET "}"), *rk4 = make(P, "{" NET ", step: rk4}"),
              *eul = make(P, "{" NET ", step: euler}");
    cr_assert_str_eq(kpf_model_stepper_name(def), "rk4");
    cr_assert_str_eq(kpf_model_stepper_name(eul), "euler");
    const size_t T = 1000; /* 10 ms: several spikes */
    kpf_traj *a = run(def, T), *b = run(rk4, T), *c = run(eul, T);
    const size_t len = T * 2 * def->n;
    cr_assert_eq(memcmp(a->z, b->z, len * sizeof *a->z), 0,
                 "no step key and step: rk4 must give the same trajectory bit for bit");
    double d = 0;
    for (size_t i = 0; i < len; i++)
        d = fmax(d, fabs(a->z[i] - c->z[i]));
    cr_assert_gt(d, 0.1, "Euler should differ from RK4 during spikes (max |dz| = %g)", d);
    kpf_traj_free(a);
    kpf_traj_free(b);
    kpf_traj_free(c);
    kpf_model_free(def);
    kpf_model_free(rk4);
    kpf_model_free(eul);
}

/* Copies of hh's descriptor, edited per test, registered under other names. */
static kpf_model_desc edited;
static const void *edited_fn(uint32_t i) { return i == 0 ? &edited : NULL; }

Test(hh_stepper, short_descriptor_loads_and_gets_the_core_default)
{
    edited = *P->desc;
    edited.name = "hh_short";
    edited.default_stepper = "rk4"; /* past struct_size: must not be read */
    edited.struct_size = (uint32_t)offsetof(kpf_model_desc, default_stepper);
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_add_descriptors(reg, KPF_KIND_MODEL, edited_fn, "test: short",
                                              &err),
                 KPF_OK, "%s", err.msg);
    const kpf_plugin *sp = NULL;
    cr_assert_eq(kpf_registry_find(reg, "hh_short", &sp, &err), KPF_OK, "%s", err.msg);
    kpf_model *m = make(sp, "{" NET "}");
    cr_assert_str_eq(kpf_model_stepper_name(m), "euler");
    kpf_model_free(m);
}

Test(hh_stepper, unknown_or_discrete_default_stepper_is_refused)
{
    kpf_error err = {0};
    edited = *P->desc;
    edited.name = "hh_midpoint";
    edited.default_stepper = "midpoint";
    cr_assert_neq(kpf_plugin_validate(&edited, "test.so", &err), KPF_OK);
    cr_assert(strstr(err.msg, "default_stepper 'midpoint'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "test.so"), "%s", err.msg);
    edited.default_stepper = "rk4";
    edited.flags = 0; /* a discrete map */
    cr_assert_neq(kpf_plugin_validate(&edited, "test.so", &err), KPF_OK);
    cr_assert(strstr(err.msg, "discrete map"), "%s", err.msg);
    edited.default_stepper = NULL; /* NULL = absent: accepted */
    cr_assert_eq(kpf_plugin_validate(&edited, "test.so", &err), KPF_OK, "%s", err.msg);
}

/* `kpf plugins` says which stepper a config without `step:` gets. */
Test(hh_stepper, kpf_plugins_shows_the_default_step)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "KPF_PLUGIN_PATH=%s %s plugins 2>/dev/null", KPF_BUILD_PLUGIN_DIR,
             KPF_CLI_PATH);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    static char out[65536];
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = 0;
    cr_assert_eq(pclose(p), 0, "%s", out);
    const char *hh = strstr(out, "\n  hh "), *rnn = strstr(out, "\n  rnn ");
    cr_assert(hh && rnn, "%s", out);
    const char *hh_end = strchr(strchr(hh + 1, '\n') + 1, '\n');
    const char *rk4 = strstr(hh, "[continuous, default step: rk4 (the plugin's choice)]");
    cr_expect(rk4 && rk4 < hh_end, "hh's entry does not show rk4:\n%s", out);
    cr_expect(strstr(rnn, "[continuous, default step: euler (the core's default)]"),
              "rnn's entry does not show the core's Euler:\n%s", out);
}
