/* PyTorch GRU weights from .safetensors (model.init.from, kpf/param_safetensors.h)
 * against an independent reference: gru_torch_ref.py (numpy and json only)
 * writes the files by the published format and computes nn.GRUCell's step in
 * float64 from the same weights; kpf's f from the loaded θ must equal it to
 * 1e-12 — for a GRUCell's names, an nn.GRU's "_l0" names under a prefix
 * beside tensors of another module, names mapped in YAML, and float32
 * weights.  Every fault is refused naming the tensor; the export writes
 * PyTorch's names that the same script reads back value for value. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf/config.h"
#include "kpf/instance.h"
#include "kpf/param_safetensors.h"
#include "kpf/plugin.h"

#define SCRIPT KPF_SOURCE_DIR "/plugins/gru/tests/gru_torch_ref.py"
#define UNITS 5
#define INPUTS 3
#define ROWS 4

static kpf_registry *reg;
static const kpf_plugin *P;
static char dir[64], python[256], out[65536];
static kpf_error err;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048], full[2200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t k = fread(out, 1, sizeof out - 1, p);
    out[k] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void)
{
    const char *env = getenv("KPF_PYTHON3");
    const char *cand[] = {env, "python3", "/usr/bin/python3"};
    python[0] = '\0';
    for (size_t i = 0; i < 3 && !python[0]; i++)
        if (cand[i] && *cand[i] && sh("'%s' -c 'import numpy'", cand[i]) == 0)
            snprintf(python, sizeof python, "%s", cand[i]);
    cr_assert(python[0], "no python3 with numpy (scripts/deps.sh installs python3-numpy)");
    snprintf(dir, sizeof dir, "/tmp/kpf-gru-st-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(sh("'%s' '%s' make '%s'", python, SCRIPT, dir), 0, "%s", out);
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "gru", &P, &err), KPF_OK, "%s", err.msg);
}

static void teardown(void)
{
    if (!strncmp(dir, "/tmp/kpf-gru-st-", 16))
        sh("rm -rf '%s'", dir);
    kpf_registry_free(reg);
}

TestSuite(gru_safetensors, .init = setup, .fini = teardown);

static void read_txt(const char *name, double *v, size_t count)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq(fscanf(fp, "%lf", &v[i]), 1, "%s: value %zu", path, i);
    fclose(fp);
}

/* A gru of UNITS units from `init` (the YAML of model.init), or NULL with err. */
static kpf_model *model_from(const char *init, kpf_config **cfg)
{
    char text[1024];
    snprintf(text, sizeof text, "model:\n  plugin: gru\n  n: %d\n  init: %s\n", UNITS, init);
    cr_assert_eq(kpf_config_load_string(text, "t.yaml", cfg, &err), KPF_OK, "%s", err.msg);
    const kpf_node *mn = kpf_node_get(kpf_config_root(*cfg), "model");
    kpf_node_get(mn, "plugin");
    kpf_model *m = NULL;
    kpf_error_clear(&err);
    if (kpf_model_create(P, mn, INPUTS, 2, ROWS, 7, &m, &err))
        return NULL;
    return m;
}

/* max |f(h, x) − reference| over the rows. */
static double step_error(kpf_model *m, const char *ref_name)
{
    double h[ROWS * UNITS], x[ROWS * INPUTS], ref[ROWS * UNITS], y[ROWS * UNITS], t[ROWS] = {0};
    size_t trial[ROWS] = {0, 1, 2, 3};
    read_txt("h.txt", h, ROWS * UNITS);
    read_txt("x.txt", x, ROWS * INPUTS);
    read_txt(ref_name, ref, ROWS * UNITS);
    cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_reserve(m, ROWS, &err), KPF_OK, "%s", err.msg);
    kpf_rows rows = {.R = ROWS, .z = h, .x = x, .trial = trial, .t = t};
    cr_assert_eq(kpf_model_f(m, &rows, y, &err), KPF_OK, "%s", err.msg);
    double e = 0;
    for (size_t i = 0; i < ROWS * UNITS; i++)
        e = fmax(e, fabs(y[i] - ref[i]));
    return e;
}

static void expect_step(const char *init, const char *ref_name)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, init, dir);
    kpf_config *cfg = NULL;
    kpf_model *m = model_from(yaml, &cfg);
    cr_assert_not_null(m, "%s: %s", yaml, err.msg);
    double e = step_error(m, ref_name);
    cr_expect_leq(e, 1e-12, "%s: max |f - nn.GRUCell| = %.3g", yaml, e);
    kpf_model_free(m);
    kpf_config_free(cfg);
}

Test(gru_safetensors, a_grucell_state_dict_gives_pytorchs_step)
{
    expect_step("{from: %s/cell.safetensors}", "ref.txt");
}

Test(gru_safetensors, an_nn_gru_under_a_prefix_beside_other_tensors)
{
    expect_step("{from: %s/layer.safetensors, prefix: rnn.}", "ref.txt");
}

Test(gru_safetensors, names_mapped_in_yaml)
{
    expect_step("{from: %s/mapped.safetensors, names: {weight_ih: enc.Wx, weight_hh: enc.Wh, "
                "bias_ih: enc.bx, bias_hh: enc.bh}}",
                "ref.txt");
}

Test(gru_safetensors, float32_weights_load_exactly)
{
    expect_step("{from: %s/cell32.safetensors}", "ref32.txt");
}

static void expect_refused(const char *init, const char *words1, const char *words2)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, init, dir);
    kpf_config *cfg = NULL;
    kpf_model *m = model_from(yaml, &cfg);
    cr_expect_null(m, "%s loaded", yaml);
    cr_expect(strstr(err.msg, words1) && strstr(err.msg, words2), "%s: '%s'", yaml, err.msg);
    cr_expect(strstr(err.msg, "t.yaml:"), "not located: %s", err.msg);
    kpf_model_free(m);
    kpf_config_free(cfg);
}

Test(gru_safetensors, faults_are_refused_naming_the_tensor)
{
    expect_refused("{from: %s/shape.safetensors}", "'weight_hh' has shape [15, 4]",
                   "needs [15, 5]");
    expect_refused("{from: %s/missing.safetensors}", "no tensor for block 'bias_hh'",
                   "'bias_hh' or 'bias_hh_l0'");
    expect_refused("{from: %s/nan.safetensors}", "bias_hh", "");
    expect_refused("{from: %s/stray.safetensors}", "tensor 'weight_hr' is not a block",
                   "weight_hh");
    expect_refused("{from: %s/layer.safetensors}", "no tensor for block 'weight_ih'",
                   "model.init.prefix");
    expect_refused("{from: %s/mapped.safetensors, names: {W: enc.Wh}}",
                   "'W' is not a parameter block of plugin 'gru'", "init.names");
}

/* Export: PyTorch's names, read back by the independent reader value for
 * value; and loaded back into kpf bit for bit. */
Test(gru_safetensors, export_round_trip)
{
    char yaml[512], path[128], path2[128];
    snprintf(yaml, sizeof yaml, "{from: %s/cell.safetensors}", dir);
    kpf_config *cfg = NULL;
    kpf_model *m = model_from(yaml, &cfg);
    cr_assert_not_null(m, "%s", err.msg);
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    kpf_st_names nm = {.prefix = "rnn.", .layer = 1};
    cr_assert_eq(kpf_params_save_safetensors(m, path, KPF_ST_F64, &nm, &err), KPF_OK, "%s",
                 err.msg);
    cr_assert_neq(kpf_params_save_safetensors(m, path, KPF_ST_F64, &nm, &err), KPF_OK,
                  "an existing file was overwritten");
    /* both files through the reference reader: the same four tensors */
    snprintf(path2, sizeof path2, "%s/cell.safetensors", dir);
    cr_assert_eq(sh("'%s' '%s' read '%s'", python, SCRIPT, path2), 0, "%s", out);
    char *cell = strdup(out);
    cr_assert_eq(sh("'%s' '%s' read '%s'", python, SCRIPT, path), 0, "%s", out);
    cr_expect(strstr(out, "meta kpf_plugin gru") && strstr(out, "meta torch_module nn.GRUCell"),
              "%s", out);
    const char *names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (size_t i = 0; i < 4; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%s F64", names[i]);
        snprintf(b, sizeof b, "rnn.%s_l0 F64", names[i]);
        const char *pa = strstr(cell, a), *pb = strstr(out, b);
        cr_assert(pa && pb, "%s / %s missing:\n%s", a, b, out);
        pa = strchr(pa, '\n') + 1; /* the values line */
        pb = strchr(pb, '\n') + 1;
        size_t la = strcspn(pa, "\n"), lb = strcspn(pb, "\n");
        cr_expect(la == lb && !strncmp(pa, pb, la), "%s differs after export", names[i]);
    }
    cr_expect(strstr(out, "rnn.W_out F64 2x5") && strstr(out, "rnn.b_out F64 2\n"), "%s", out);
    free(cell);
    /* and back into kpf */
    kpf_config *cfg2 = NULL;
    snprintf(yaml, sizeof yaml, "{from: %s, prefix: rnn.}", path);
    kpf_model *m2 = model_from(yaml, &cfg2);
    cr_assert_not_null(m2, "%s", err.msg);
    cr_expect_eq(memcmp(m->theta, m2->theta, m->m * sizeof(double)), 0,
                 "θ changed on the way out and back");
    kpf_model_free(m2);
    kpf_config_free(cfg2);
    kpf_model_free(m);
    kpf_config_free(cfg);
}
