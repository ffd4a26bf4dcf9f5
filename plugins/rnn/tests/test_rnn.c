/* Unit tests of the rnn plugin's ops, called directly through its
 * descriptor with our own buffers, against naive per-row loops. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/activation.h"
#include "kpf/config.h"
#include "kpf/model.h"
#include "kpf/plugin.h"

static kpf_registry *reg;
static const kpf_model_desc *D;

static void load(void)
{
    kpf_error err = {0};
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "rnn", &p, &err), KPF_OK, "%s", err.msg);
    D = p->desc;
}

static void unload(void)
{
    kpf_registry_free(reg);
    reg = NULL;
    D = NULL;
}

TestSuite(rnn, .init = load, .fini = unload);

/* A created instance with its layout, config and generator. */
typedef struct inst {
    kpf_config *cfg;
    gsl_rng *rng;
    void *self;
    kpf_model_layout L;
} inst;

static int make(inst *in, const char *yaml, size_t n_in, kpf_error *err)
{
    memset(in, 0, sizeof *in);
    int rc = kpf_config_load_string(yaml, "test.yaml", &in->cfg, err);
    cr_assert_eq(rc, KPF_OK, "%s", err->msg);
    in->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(in->rng, 42);
    kpf_model_args a = {sizeof a, kpf_config_root(in->cfg), n_in, 2, 3, in->rng, NULL};
    rc = D->create(&a, &in->self, err);
    if (rc == KPF_OK)
        cr_assert_eq(D->params(in->self, &in->L, err), KPF_OK, "%s", err->msg);
    return rc;
}

static void drop(inst *in)
{
    if (in->self)
        D->destroy(in->self);
    gsl_rng_free(in->rng);
    kpf_config_free(in->cfg);
}

static double *randv(gsl_rng *r, size_t n)
{
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_gaussian(r, 1.0);
    return v;
}

static double maxdiff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

Test(rnn, descriptor)
{
    cr_assert_eq(D->abi_version, KPF_ABI_VERSION);
    cr_assert_eq(D->struct_size, sizeof(kpf_model_desc));
    cr_assert_str_eq(D->name, "rnn");
    cr_assert_eq(D->flags, KPF_MODEL_CONTINUOUS);
    cr_assert_not_null(D->tape);
    cr_assert_null(D->readout);
    cr_assert_null(D->init_state);
}

/* All ops against naive per-row loops, with bias, with and without tape. */
static void naive_ops(const char *yaml, double (*sig)(double), double (*dsig)(double))
{
    kpf_error err = {0};
    inst in;
    const size_t n_in = 3, R = 4;
    cr_assert_eq(make(&in, yaml, n_in, &err), KPF_OK, "%s", err.msg);
    const size_t n = in.L.n, m = in.L.n_theta;
    cr_assert_eq(in.L.dt_default, 1.0);
    cr_assert_eq(in.L.tape_width, 2 * n);
    /* θ with a nonzero bias */
    double *th = randv(in.rng, m);
    for (size_t i = 0; i < m; i++)
        th[i] *= 0.5;
    const double *W = th, *Win = th + n * n, *b = th + n * n + n * n_in;
    double *z = randv(in.rng, R * n), *x = randv(in.rng, R * n_in);
    double *v = randv(in.rng, R * n), *d = randv(in.rng, m);
    size_t trial[4] = {0, 1, 2, 0};
    double t[4] = {0, 1, 2, 3};
    double *work = calloc(in.L.work_fixed + in.L.work_per_row * R + 1, sizeof(double));
    double *tape = calloc(R * 2 * n, sizeof(double));
    double *out = calloc(R * n, sizeof(double)), *ref = calloc(R * n, sizeof(double));
    double *g = calloc(m, sizeof(double)), *gref = calloc(m, sizeof(double));
    kpf_rows rows = {R, z, x, trial, t, NULL, work};
    cr_assert_eq(D->tape(in.self, th, &rows, tape, &err), KPF_OK, "%s", err.msg);
    for (size_t k = 0; k < R * n; k++) {
        cr_assert_float_eq(tape[(k / n) * 2 * n + k % n], sig(z[k]), 1e-15);
        cr_assert_float_eq(tape[(k / n) * 2 * n + n + k % n], dsig(z[k]), 1e-15);
    }
    for (int use_tape = 0; use_tape < 2; use_tape++) {
        kpf_rows rw = rows;
        rw.tape = use_tape ? tape : NULL;
        /* f */
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++) {
                double s = -z[r * n + i] + b[i];
                for (size_t j = 0; j < n; j++)
                    s += W[i * n + j] * sig(z[r * n + j]);
                for (size_t j = 0; j < n_in; j++)
                    s += Win[i * n_in + j] * x[r * n_in + j];
                ref[r * n + i] = s;
            }
        cr_assert_eq(D->f(in.self, th, &rw, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-13, "f (tape %d)", use_tape);
        /* jz */
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++) {
                double s = -v[r * n + i];
                for (size_t j = 0; j < n; j++)
                    s += W[i * n + j] * dsig(z[r * n + j]) * v[r * n + j];
                ref[r * n + i] = s;
            }
        cr_assert_eq(D->jz(in.self, th, &rw, v, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-13, "jz (tape %d)", use_tape);
        /* jzT */
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t i = 0; i < n; i++)
                    s += W[i * n + j] * v[r * n + i];
                ref[r * n + j] = -v[r * n + j] + dsig(z[r * n + j]) * s;
            }
        cr_assert_eq(D->jzT(in.self, th, &rw, v, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-13, "jzT (tape %d)", use_tape);
        /* jth */
        const double *dW = d, *dWin = d + n * n, *db = d + n * n + n * n_in;
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++) {
                double s = db[i];
                for (size_t j = 0; j < n; j++)
                    s += dW[i * n + j] * sig(z[r * n + j]);
                for (size_t j = 0; j < n_in; j++)
                    s += dWin[i * n_in + j] * x[r * n_in + j];
                ref[r * n + i] = s;
            }
        cr_assert_eq(D->jth(in.self, th, &rw, d, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-13, "jth (tape %d)", use_tape);
        /* jthT, accumulating onto a prefilled g */
        for (size_t k = 0; k < m; k++)
            g[k] = gref[k] = 1.0 + (double)k;
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++) {
                double wi = v[r * n + i];
                for (size_t j = 0; j < n; j++)
                    gref[i * n + j] += wi * sig(z[r * n + j]);
                for (size_t j = 0; j < n_in; j++)
                    gref[n * n + i * n_in + j] += wi * x[r * n_in + j];
                gref[n * n + n * n_in + i] += wi;
            }
        cr_assert_eq(D->jthT(in.self, th, &rw, v, g, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(g, gref, m), 1e-12, "jthT (tape %d)", use_tape);
    }
    free(th), free(z), free(x), free(v), free(d), free(work), free(tape);
    free(out), free(ref), free(g), free(gref);
    drop(&in);
}

static double s_tanh(double z) { return tanh(z); }
static double d_tanh(double z) { return 1 - tanh(z) * tanh(z); }
static double s_relu(double z) { return z > 0 ? z : 0; }
static double d_relu(double z) { return z > 0 ? 1 : 0; }
static double s_lin(double z) { return z; }
static double d_lin(double z) { return 1; }

Test(rnn, ops_match_naive_loops_tanh) { naive_ops("{n: 6, bias: true}", s_tanh, d_tanh); }
Test(rnn, ops_match_naive_loops_relu)
{
    naive_ops("{n: 5, bias: true, activation: relu}", s_relu, d_relu);
}
Test(rnn, ops_match_naive_loops_linear)
{
    naive_ops("{n: 7, bias: true, activation: linear, g: 0.3}", s_lin, d_lin);
}

Test(rnn, relu_derivative_at_negative_and_positive_points)
{
    kpf_error err = {0};
    inst in;
    cr_assert_eq(make(&in, "{n: 4, activation: relu}", 1, &err), KPF_OK, "%s", err.msg);
    double z[4] = {-2.0, -1e-9, 1e-9, 3.0}, x[1] = {0};
    double tape[8], work[4], v[4] = {1, 1, 1, 1}, out[4], ref[4];
    size_t trial = 0;
    double t = 0;
    kpf_rows rows = {1, z, x, &trial, &t, NULL, work};
    cr_assert_eq(D->tape(in.self, in.L.theta0, &rows, tape, &err), KPF_OK);
    double ds[4] = {0, 0, 1, 1}, s[4] = {0, 0, 1e-9, 3.0};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(tape[4 + i], ds[i], "sigma'(%g) = %g", z[i], tape[4 + i]);
        cr_expect_eq(tape[i], s[i], "sigma(%g) = %g", z[i], tape[i]);
    }
    /* J_z v = −v + W (σ' ⊙ v): only the positive units pass through W. */
    const double *W = in.L.theta0;
    for (int i = 0; i < 4; i++)
        ref[i] = -1.0 + W[i * 4 + 2] + W[i * 4 + 3];
    cr_assert_eq(D->jz(in.self, in.L.theta0, &rows, v, out, &err), KPF_OK);
    cr_expect_lt(maxdiff(out, ref, 4), 1e-15);
    drop(&in);
}

static double sample_std(const double *a, size_t n)
{
    double mu = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        mu += a[i];
    mu /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - mu) * (a[i] - mu);
    return sqrt(s / (double)(n - 1));
}

Test(rnn, weight_scales)
{
    kpf_error err = {0};
    inst in;
    const size_t n = 400, n_in = 50;
    cr_assert_eq(make(&in, "{n: 400, g: 1.5, input_scale: 0.7}", n_in, &err), KPF_OK, "%s",
                 err.msg);
    cr_assert_eq(in.L.n, n);
    double sW = sample_std(in.L.theta0, n * n);
    double sWin = sample_std(in.L.theta0 + n * n, n * n_in);
    cr_expect(fabs(sW / (1.5 / sqrt(400.0)) - 1) < 0.05, "std(W) = %g", sW);
    cr_expect(fabs(sWin / (0.7 / sqrt(50.0)) - 1) < 0.05, "std(W_in) = %g", sWin);
    drop(&in);
}

Test(rnn, g_zero_gives_zero_W)
{
    kpf_error err = {0};
    inst in;
    cr_assert_eq(make(&in, "{n: 8, g: 0}", 2, &err), KPF_OK, "%s", err.msg);
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(in.L.theta0[i], 0.0);
    drop(&in);
}

Test(rnn, blocks_and_bias)
{
    kpf_error err = {0};
    inst a, b;
    cr_assert_eq(make(&a, "{n: 5}", 2, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(a.L.n_blocks, 2);
    cr_assert_str_eq(a.L.blocks[0].name, "W");
    cr_assert_str_eq(a.L.blocks[1].name, "W_in");
    cr_assert_eq(a.L.blocks[1].offset, 25);
    cr_assert_eq(a.L.blocks[1].rows, 5);
    cr_assert_eq(a.L.blocks[1].cols, 2);
    cr_assert_eq(a.L.n_theta, 35);
    cr_assert_eq(make(&b, "{n: 5, bias: true}", 2, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(b.L.n_blocks, 3);
    cr_assert_str_eq(b.L.blocks[2].name, "b");
    cr_assert_eq(b.L.blocks[2].offset, 35);
    cr_assert_eq(b.L.blocks[2].rows, 5);
    cr_assert_eq(b.L.blocks[2].cols, 1);
    cr_assert_eq(b.L.n_theta, 40);
    for (size_t i = 35; i < 40; i++)
        cr_assert_eq(b.L.theta0[i], 0.0);
    /* Same stream, same W and W_in whether or not there is a bias. */
    cr_assert_eq(memcmp(a.L.theta0, b.L.theta0, 35 * sizeof(double)), 0);
    drop(&a);
    drop(&b);
}

Test(rnn, n_in_zero_is_an_error)
{
    kpf_error err = {0};
    inst in;
    cr_assert_eq(make(&in, "{n: 5}", 0, &err), KPF_EINVAL);
    cr_assert(strstr(err.msg, "n_in") != NULL, "%s", err.msg);
    cr_assert_null(in.self);
    drop(&in);
}

/* "test.yaml:LINE:COL: …" */
static int has_location(const char *msg)
{
    const char *p = strstr(msg, "test.yaml:");
    if (!p)
        return 0;
    p += strlen("test.yaml:");
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p++ != ':' || !isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p))
        p++;
    return *p == ':';
}

Test(rnn, unknown_activation_is_a_located_config_error)
{
    kpf_error err = {0};
    inst in;
    cr_assert_eq(make(&in, "n: 5\nactivation: sigmoid\n", 2, &err), KPF_ECONFIG, "%s",
                 err.msg);
    cr_assert(has_location(err.msg), "no file:line:col in '%s'", err.msg);
    cr_assert(strstr(err.msg, "test.yaml:2:") != NULL, "%s", err.msg);
    drop(&in);
}

Test(rnn, bad_values_are_config_errors)
{
    const char *bad[] = {"{n: 0}", "{n: 100001}", "{g: -1}", "{bias: maybe}",
                         "{input_scale: abc}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kpf_error err = {0};
        inst in;
        cr_expect_eq(make(&in, bad[i], 2, &err), KPF_ECONFIG, "%s: %s", bad[i], err.msg);
        cr_expect(has_location(err.msg), "%s: '%s'", bad[i], err.msg);
        drop(&in);
    }
}

Test(rnn, f_without_input_treats_x_as_zero)
{
    kpf_error err = {0};
    inst in;
    cr_assert_eq(make(&in, "{n: 3}", 2, &err), KPF_OK, "%s", err.msg);
    double z[3] = {0.1, -0.2, 0.3}, x[2] = {0, 0}, work[3], a[3], b[3];
    size_t tr = 0;
    double t = 0;
    kpf_rows r1 = {1, z, x, &tr, &t, NULL, work}, r2 = r1;
    r2.x = NULL;
    cr_assert_eq(D->f(in.self, in.L.theta0, &r1, a, &err), KPF_OK);
    cr_assert_eq(D->f(in.self, in.L.theta0, &r2, b, &err), KPF_OK);
    cr_expect_eq(memcmp(a, b, sizeof a), 0);
    drop(&in);
}

/* ---- extension data and the shared activation table --------------------- */

Test(rnn, activation_extension_names_phi_and_block_W)
{
    static const char *const yaml[] = {"{n: 4}", "{n: 4, activation: relu}",
                                       "{n: 4, activation: linear}",
                                       "{n: 4, activation: softplus}"};
    static const int want[] = {KPF_ACTIVATION_TANH, KPF_ACTIVATION_RELU,
                               KPF_ACTIVATION_LINEAR, KPF_ACTIVATION_SOFTPLUS};
    cr_assert_not_null(D->extension);
    for (int k = 0; k < 4; k++) {
        kpf_error err = {0};
        inst in;
        cr_assert_eq(make(&in, yaml[k], 2, &err), KPF_OK, "%s", err.msg);
        const kpf_activation_info *a = D->extension(in.self, KPF_ACTIVATION_INTERFACE);
        cr_assert_not_null(a);
        cr_expect_eq(a->activation, want[k], "%s", yaml[k]);
        cr_expect_str_eq(a->block, "W");
        /* the table is the instance's: the same pointer each time */
        cr_expect_eq(D->extension(in.self, KPF_ACTIVATION_INTERFACE), a);
        cr_expect_null(D->extension(in.self, "kpf.activation/2"));
        cr_expect_null(D->extension(in.self, "kpf.ltr.factors/1"));
        cr_expect_null(D->extension(in.self, ""));
        /* what the table claims: ∂f_i/∂W_ij = φ(z_j), here at i = 2, j = 1 */
        const size_t n = in.L.n, R = 3;
        double z[3 * 4] = {-1.5, -0.3, 0.2, 1.1, 0.4, 1.7, -0.8, 0.0, 2.0, -2.2, 0.6, -0.1};
        double x[3 * 2] = {0}, t[3] = {0}, out[3 * 4], work[3 * 4];
        double *th = calloc(in.L.n_theta, sizeof *th), *dth = calloc(in.L.n_theta, sizeof *dth);
        dth[2 * n + 1] = 1.0;
        size_t trial[3] = {0, 1, 2};
        kpf_rows rows = {R, z, x, trial, t, NULL, work};
        cr_assert_eq(D->jth(in.self, th, &rows, dth, out, &err), KPF_OK, "%s", err.msg);
        for (size_t r = 0; r < R; r++)
            for (size_t i = 0; i < n; i++) {
                double e = i == 2 ? kpf_activation_phi(want[k], z[r * n + 1]) : 0.0;
                cr_expect_float_eq(out[r * n + i], e, 1e-14, "%s row %zu unit %zu", yaml[k],
                                   r, i);
            }
        free(th);
        free(dth);
        drop(&in);
    }
}

Test(rnn, activation_error_lists_every_name)
{
    kpf_error err = {0};
    inst in;
    cr_assert_eq(make(&in, "activation: sigmoid\n", 2, &err), KPF_ECONFIG);
    for (int k = 0; k < KPF_ACTIVATION_COUNT; k++)
        cr_expect(strstr(err.msg, kpf_activation_name(k)) != NULL, "%s", err.msg);
    drop(&in);
}
