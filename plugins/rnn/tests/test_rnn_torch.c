/* The rnn plugin's PyTorch form (rnn_torch) and the init keys both forms
 * share: ops against naive per-row loops, kpf check-plugin (finite
 * differences, dot-product tests, batching, gradients) on several
 * configurations, PyTorch's uniform initialisation and its gain, located
 * errors for bad init values, and PyTorch's names through safetensors. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/check.h"
#include "kpf/config.h"
#include "kpf/instance.h"
#include "kpf/model.h"
#include "kpf/param_safetensors.h"
#include "kpf/plugin.h"

static kpf_registry *reg;
static const kpf_plugin *PT, *PZ; /* rnn_torch, rnn */

static void load(void)
{
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "rnn_torch", &PT, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "rnn", &PZ, &err), KPF_OK, "%s", err.msg);
}

static void unload(void)
{
    kpf_registry_free(reg);
    reg = NULL;
}

TestSuite(rnn_torch, .init = load, .fini = unload);

typedef struct inst {
    kpf_config *cfg;
    gsl_rng *rng;
    void *self;
    kpf_model_layout L;
    const kpf_model_desc *D;
} inst;

static int make(inst *in, const kpf_plugin *p, const char *yaml, size_t n_in, kpf_error *err)
{
    memset(in, 0, sizeof *in);
    in->D = p->desc;
    cr_assert_eq(kpf_config_load_string(yaml, "test.yaml", &in->cfg, err), KPF_OK, "%s",
                 err->msg);
    in->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(in->rng, 42);
    kpf_model_args a = {sizeof a, kpf_config_root(in->cfg), n_in, 2, 3, in->rng, NULL};
    int rc = in->D->create(&a, &in->self, err);
    if (rc == KPF_OK)
        cr_assert_eq(in->D->params(in->self, &in->L, err), KPF_OK, "%s", err->msg);
    return rc;
}

static void drop(inst *in)
{
    if (in->self)
        in->D->destroy(in->self);
    kpf_config_free(in->cfg);
    gsl_rng_free(in->rng);
}

Test(rnn_torch, descriptor_is_a_discrete_map_with_pytorch_blocks)
{
    cr_assert_eq(PT->desc->flags & KPF_MODEL_CONTINUOUS, 0u);
    cr_assert_eq(PZ->desc->flags & KPF_MODEL_CONTINUOUS, KPF_MODEL_CONTINUOUS);
    kpf_error err = {0};
    inst in;
    cr_assert_eq(make(&in, PT, "{n: 4}", 3, &err), KPF_OK, "%s", err.msg);
    const char *names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    const size_t rows[] = {4, 4, 4, 4}, cols[] = {3, 4, 1, 1};
    cr_assert_eq(in.L.n_blocks, 4);
    size_t off = 0;
    for (size_t b = 0; b < 4; b++) {
        cr_expect_str_eq(in.L.blocks[b].name, names[b]);
        cr_expect_eq(in.L.blocks[b].offset, off);
        cr_expect_eq(in.L.blocks[b].rows, rows[b]);
        cr_expect_eq(in.L.blocks[b].cols, cols[b]);
        off += rows[b] * cols[b];
    }
    cr_expect_eq(in.L.n_theta, off);
    const kpf_torch_names *t = in.D->extension(in.self, KPF_TORCH_NAMES_INTERFACE);
    cr_assert_not_null(t);
    cr_expect_eq(t->n, 4);
    cr_expect_null(t->stepper, "a discrete map needs no stepper");
    drop(&in);
    inst nb;
    cr_assert_eq(make(&nb, PT, "{n: 4, bias: false}", 3, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(nb.L.n_blocks, 2);
    cr_expect_eq(nb.L.n_theta, 28);
    drop(&nb);
}

/* h' = tanh(W_ih x + b_ih + W_hh h + b_hh) and its products, row by row. */
static void naive_pre(const inst *in, const double *th, const double *h, const double *x,
                      double *a)
{
    const size_t n = in->L.n, n_in = in->L.n_in;
    const double *Wih = th, *Whh = th + n * n_in, *b1 = Whh + n * n, *b2 = b1 + n;
    for (size_t i = 0; i < n; i++) {
        double s = b1[i] + b2[i];
        for (size_t j = 0; j < n_in; j++)
            s += Wih[i * n_in + j] * x[j];
        for (size_t j = 0; j < n; j++)
            s += Whh[i * n + j] * h[j];
        a[i] = s;
    }
}

static void ops_vs_naive(int with_tape)
{
    kpf_error err = {0};
    inst in;
    const size_t n = 5, n_in = 3, R = 4;
    cr_assert_eq(make(&in, PT, "{n: 5, g: 2.0}", n_in, &err), KPF_OK, "%s", err.msg);
    const size_t m = in.L.n_theta;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 7);
    double *th = malloc(m * sizeof *th), *dth = malloc(m * sizeof *dth);
    double *g = calloc(m, sizeof *g), *gref = calloc(m, sizeof *gref);
    double H[20], X[12], V[20], out[20], ref[20], A[5];
    double tape[40], work[40];
    for (size_t i = 0; i < m; i++) {
        th[i] = in.L.theta0[i] + gsl_ran_gaussian(r, 0.1);
        dth[i] = gsl_ran_gaussian(r, 1.0);
    }
    for (size_t i = 0; i < R * n; i++) {
        H[i] = gsl_ran_gaussian(r, 0.8);
        V[i] = gsl_ran_gaussian(r, 1.0);
    }
    for (size_t i = 0; i < R * n_in; i++)
        X[i] = gsl_ran_gaussian(r, 1.0);
    kpf_rows rows = {.R = R, .z = H, .x = X, .work = work};
    if (with_tape) {
        cr_assert_eq(in.D->tape(in.self, th, &rows, tape, &err), KPF_OK, "%s", err.msg);
        rows.tape = tape;
    }
    const double *Whh = th + n * n_in;
    const double *dWih = dth, *dWhh = dth + n * n_in, *db1 = dWhh + n * n, *db2 = db1 + n;
    double fd = 0, jz = 0, jzT = 0, jth = 0;
    cr_assert_eq(in.D->f(in.self, th, &rows, out, &err), KPF_OK, "%s", err.msg);
    for (size_t q = 0; q < R; q++) {
        naive_pre(&in, th, H + q * n, X + q * n_in, A);
        for (size_t i = 0; i < n; i++)
            fd = fmax(fd, fabs(out[q * n + i] - tanh(A[i])));
    }
    cr_assert_eq(in.D->jz(in.self, th, &rows, V, out, &err), KPF_OK, "%s", err.msg);
    for (size_t q = 0; q < R; q++) {
        naive_pre(&in, th, H + q * n, X + q * n_in, A);
        for (size_t i = 0; i < n; i++) {
            double d = 1 - tanh(A[i]) * tanh(A[i]), s = 0;
            for (size_t j = 0; j < n; j++)
                s += Whh[i * n + j] * V[q * n + j];
            ref[q * n + i] = d * s;
        }
    }
    for (size_t i = 0; i < R * n; i++)
        jz = fmax(jz, fabs(out[i] - ref[i]));
    cr_assert_eq(in.D->jzT(in.self, th, &rows, V, out, &err), KPF_OK, "%s", err.msg);
    for (size_t q = 0; q < R; q++) {
        naive_pre(&in, th, H + q * n, X + q * n_in, A);
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += Whh[i * n + j] * (1 - tanh(A[i]) * tanh(A[i])) * V[q * n + i];
            ref[q * n + j] = s;
        }
    }
    for (size_t i = 0; i < R * n; i++)
        jzT = fmax(jzT, fabs(out[i] - ref[i]));
    cr_assert_eq(in.D->jth(in.self, th, &rows, dth, out, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(in.D->jthT(in.self, th, &rows, V, g, &err), KPF_OK, "%s", err.msg);
    for (size_t q = 0; q < R; q++) {
        naive_pre(&in, th, H + q * n, X + q * n_in, A);
        for (size_t i = 0; i < n; i++) {
            double d = 1 - tanh(A[i]) * tanh(A[i]), s = db1[i] + db2[i];
            for (size_t j = 0; j < n_in; j++)
                s += dWih[i * n_in + j] * X[q * n_in + j];
            for (size_t j = 0; j < n; j++)
                s += dWhh[i * n + j] * H[q * n + j];
            jth = fmax(jth, fabs(out[q * n + i] - d * s));
            double u = d * V[q * n + i];
            for (size_t j = 0; j < n_in; j++)
                gref[i * n_in + j] += u * X[q * n_in + j];
            for (size_t j = 0; j < n; j++)
                gref[n * n_in + i * n + j] += u * H[q * n + j];
            gref[n * n_in + n * n + i] += u;
            gref[n * n_in + n * n + n + i] += u;
        }
    }
    double jthT = 0;
    for (size_t i = 0; i < m; i++)
        jthT = fmax(jthT, fabs(g[i] - gref[i]));
    cr_expect_lt(fd, 1e-13, "f: %g", fd);
    cr_expect_lt(jz, 1e-13, "jz: %g", jz);
    cr_expect_lt(jzT, 1e-13, "jzT: %g", jzT);
    cr_expect_lt(jth, 1e-13, "jth: %g", jth);
    cr_expect_lt(jthT, 1e-13, "jthT: %g", jthT);
    free(th);
    free(dth);
    free(g);
    free(gref);
    gsl_rng_free(r);
    drop(&in);
}

Test(rnn_torch, ops_match_naive_loops_with_tape) { ops_vs_naive(1); }
Test(rnn_torch, ops_match_naive_loops_without_tape) { ops_vs_naive(0); }

/* kpf check-plugin's machinery: FD Jacobians, ⟨J v, w⟩ = ⟨v, Jᵀ w⟩,
 * batching and gradients, on several configurations. */
static void check_with(const char *yaml)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_config_load_string(yaml, "(test)", &cfg, &err), KPF_OK, "%s", err.msg);
    kpf_check_opts o;
    kpf_check_opts_default(&o);
    o.model = kpf_config_root(cfg);
    kpf_check_report rep;
    cr_assert_eq(kpf_check_plugin(PT, &o, &rep, &err), KPF_OK, "%s: %s", yaml, err.msg);
    cr_expect_gt(rep.n_items, 10, "%s: only %zu checks", yaml, rep.n_items);
    for (size_t i = 0; i < rep.n_items; i++)
        cr_expect(rep.items[i].pass, "%s: %s failed (%g, tol %g) %s", yaml, rep.items[i].name,
                  rep.items[i].value, rep.items[i].tol, rep.items[i].detail);
    kpf_check_report_free(&rep);
    kpf_config_free(cfg);
}

Test(rnn_torch, check_plugin_passes)
{
    check_with("{n: 16}");
    check_with("{n: 12, g: 3.0}");
    check_with("{n: 10, bias: false}");
    check_with("{n: 16, init: {dist: gaussian, gain: 1.5}}");
}

static double sample_std(const double *a, size_t n, double *maxabs)
{
    double mu = 0, s = 0;
    *maxabs = 0;
    for (size_t i = 0; i < n; i++) {
        mu += a[i];
        *maxabs = fmax(*maxabs, fabs(a[i]));
    }
    mu /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - mu) * (a[i] - mu);
    return sqrt(s / (double)(n - 1));
}

/* U(−1/√n, 1/√n) everywhere, weight_hh × gain: std gain/√(3n), i.e. the
 * Gaussian gain g/√3. */
Test(rnn_torch, uniform_pytorch_init_and_gain)
{
    kpf_error err = {0};
    inst in;
    const size_t n = 400, n_in = 3;
    const double a = 1 / sqrt(400.0);
    cr_assert_eq(make(&in, PT, "{n: 400, init: {dist: uniform_pytorch, gain: 3}}", n_in, &err),
                 KPF_OK, "%s", err.msg);
    const double *th = in.L.theta0;
    double mx, s;
    s = sample_std(th, n * n_in, &mx);
    cr_expect_leq(mx, a, "weight_ih beyond 1/sqrt(n): %g", mx);
    cr_expect_gt(mx, 0.95 * a, "weight_ih does not fill U(±1/sqrt(n)): %g", mx);
    s = sample_std(th + n * n_in, n * n, &mx);
    cr_expect_leq(mx, 3 * a);
    cr_expect(fabs(s / (3 / sqrt(3.0 * n)) - 1) < 0.02, "std(weight_hh) = %g", s);
    s = sample_std(th + n * n_in + n * n, 2 * n, &mx);
    cr_expect_leq(mx, a, "biases beyond 1/sqrt(n): %g", mx);
    cr_expect(fabs(s / (1 / sqrt(3.0 * n)) - 1) < 0.1, "std(biases) = %g", s);
    drop(&in);
    /* uniform_pytorch is rnn_torch's default; `g` is the same gain. */
    inst d, e;
    cr_assert_eq(make(&d, PT, "{n: 30, g: 3}", 2, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(make(&e, PT, "{n: 30, init: {gain: 3}}", 2, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(memcmp(d.L.theta0, e.L.theta0, d.L.n_theta * sizeof(double)), 0);
    drop(&d);
    drop(&e);
    /* the z-form draws the same U(±1/√n) with init.dist */
    inst z;
    cr_assert_eq(make(&z, PZ, "{n: 400, init: {dist: uniform_pytorch, gain: 2}}", n_in, &err),
                 KPF_OK, "%s", err.msg);
    s = sample_std(z.L.theta0, n * n, &mx);
    cr_expect_leq(mx, 2 * a);
    cr_expect(fabs(s / (2 / sqrt(3.0 * n)) - 1) < 0.02, "z-form std(W) = %g", s);
    s = sample_std(z.L.theta0 + n * n, n * n_in, &mx);
    cr_expect_leq(mx, a, "z-form W_in beyond 1/sqrt(n): %g", mx);
    drop(&z);
}

/* "test.yaml:LINE:COL: model.init.dist: …" */
static void expect_located(const kpf_plugin *p, const char *yaml, const char *path)
{
    kpf_error err = {0};
    inst in;
    cr_expect_eq(make(&in, p, yaml, 2, &err), KPF_ECONFIG, "%s: %s", yaml, err.msg);
    const char *s = strstr(err.msg, "test.yaml:");
    cr_expect(s && isdigit((unsigned char)s[10]), "%s: not located: %s", yaml, err.msg);
    cr_expect(strstr(err.msg, path) != NULL, "%s: '%s' does not name %s", yaml, err.msg, path);
    drop(&in);
}

Test(rnn_torch, bad_init_values_are_located_errors)
{
    expect_located(PT, "n: 4\ninit: {dist: xavier}\n", "init.dist");
    expect_located(PT, "n: 4\ninit: {gain: -1}\n", "init.gain");
    expect_located(PT, "n: 4\ng: 2\ninit: {gain: 2}\n", "init.gain");
    expect_located(PZ, "n: 4\ninit: {dist: normal}\n", "init.dist");
    expect_located(PZ, "n: 4\ninput_scale: 2\ninit: {dist: uniform_pytorch}\n", "input_scale");
}

/* Through the core: init without `from` reaches the plugin, and a plugin
 * that does not read init.dist reports it as an unknown key. */
Test(rnn_torch, init_without_from_goes_to_the_plugin)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    kpf_model *m = NULL;
    cr_assert_eq(kpf_config_load_string("model: {n: 6, init: {dist: uniform_pytorch, gain: 2}}",
                                        "t.yaml", &cfg, &err),
                 KPF_OK, "%s", err.msg);
    const kpf_node *model = kpf_node_get(kpf_config_root(cfg), "model");
    cr_assert_eq(kpf_model_create(PT, model, 2, 1, 1, 0, &m, &err), KPF_OK, "%s", err.msg);
    kpf_model_free(m);
    kpf_config_free(cfg);
    const kpf_plugin *gru = NULL;
    cr_assert_eq(kpf_registry_find(reg, "gru", &gru, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_load_string("model: {n: 6, init: {dist: uniform_pytorch}}", "t.yaml",
                                        &cfg, &err),
                 KPF_OK, "%s", err.msg);
    model = kpf_node_get(kpf_config_root(cfg), "model");
    m = NULL;
    cr_expect_eq(kpf_model_create(gru, model, 2, 1, 1, 0, &m, &err), KPF_ECONFIG);
    cr_expect(strstr(err.msg, "model.init.dist: unknown key") != NULL, "%s", err.msg);
    kpf_model_free(m);
    kpf_config_free(cfg);
}

/* PyTorch's nn.RNN names ("rnn.weight_hh_l0" …) out and back in, θ bit for
 * bit. */
Test(rnn_torch, safetensors_round_trip_with_nn_rnn_names)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    kpf_model *m = NULL, *m2 = NULL;
    char dir[] = "/tmp/kpf-rnn-torch-XXXXXX", path[96], yaml[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    cr_assert_eq(kpf_config_load_string("model: {n: 5}", "t.yaml", &cfg, &err), KPF_OK);
    cr_assert_eq(kpf_model_create(PT, kpf_node_get(kpf_config_root(cfg), "model"), 3, 2, 1, 9,
                                  &m, &err),
                 KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
    kpf_st_names nm = {.prefix = "rnn.", .layer = 1};
    cr_assert_eq(kpf_params_save_safetensors(m, path, KPF_ST_F64, &nm, &err), KPF_OK, "%s",
                 err.msg);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    char head[4096] = {0};
    size_t got = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    const char *names[] = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                           "rnn.bias_hh_l0"};
    for (size_t i = 0; i < 4; i++)
        cr_expect(memmem(head, got, names[i], strlen(names[i])) != NULL, "%s not in the header",
                  names[i]);
    snprintf(yaml, sizeof yaml, "model: {n: 5, init: {from: %s, prefix: rnn.}}", path);
    cr_assert_eq(kpf_config_load_string(yaml, "t.yaml", &cfg, &err), KPF_OK);
    cr_assert_eq(kpf_model_create(PT, kpf_node_get(kpf_config_root(cfg), "model"), 3, 2, 1, 1,
                                  &m2, &err),
                 KPF_OK, "%s", err.msg);
    cr_expect_eq(memcmp(m->theta, m2->theta, m->m * sizeof(double)), 0,
                 "θ changed on the way out and back");
    kpf_model_free(m);
    kpf_model_free(m2);
    kpf_config_free(cfg);
    unlink(path);
    rmdir(dir);
}
