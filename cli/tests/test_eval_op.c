/* `kpf eval-op`: an op evaluated by the command on arrays in an HDF5 file is
 * bit for bit what kpf_model_* gives when called directly on the same
 * model, θ and rows (rnn's f, jzT, jthT and the core readout; with θ₀ from
 * the seed and with θ given in the file), and bad inputs are refused with a
 * message naming the dataset. */
#include <criterion/criterion.h>

#include <gsl/gsl_randist.h>
#include <string.h>

#include "kpf/h5io.h"
#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "kpf/rng.h"
#include "test_util.h"

#define KPF "'" KPF_CLI_PATH "'"

enum { R = 6, N = 5, N_IN = 3, N_OUT = 2, TRIALS = 4, SEED = 7 };

static kpf_registry *reg;
static kpf_model *model;
static double z[R * N], x[R * N_IN], w[R * N], wy[R * N_OUT], t[R], trial_d[R];
static size_t trial[R];

static void setup(void)
{
    tu_mktmp();
    kpf_error err = {0};
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_alloc(&reg, &err), 0, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), 0, "%s", err.msg);
    cr_assert_eq(kpf_registry_resolve(reg, "rnn", &p, &err), 0, "%s", err.msg);
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string("{n: 5}", "test", &cfg, &err), 0, "%s", err.msg);
    int rc = kpf_model_create(p, kpf_config_root(cfg), N_IN, N_OUT, TRIALS, SEED, &model, &err);
    kpf_config_free(cfg);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(kpf_model_reserve(model, R, &err), 0, "%s", err.msg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    for (size_t i = 0; i < R * N; i++) {
        z[i] = gsl_ran_gaussian(rng, 1.0);
        w[i] = gsl_ran_gaussian(rng, 1.0);
    }
    for (size_t i = 0; i < R * N_IN; i++)
        x[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < R * N_OUT; i++)
        wy[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t r = 0; r < R; r++) {
        trial[r] = r % TRIALS;
        trial_d[r] = (double)trial[r];
        t[r] = 0.5 * (double)r;
    }
    gsl_rng_free(rng);
}

static void teardown(void)
{
    kpf_model_free(model);
    kpf_registry_free(reg);
    tu_rmtmp();
}

TestSuite(eval_op, .init = setup, .fini = teardown);

/* in.h5 with z, x, w (R×w_cols), trial, t, and θ when theta != NULL. */
static void write_input_w(const char *name, const double *theta, size_t m, const double *wv,
                          size_t w_cols)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    kpf_h5 *h = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_h5_create(path, &h, &err), 0, "%s", err.msg);
    size_t dz[2] = {R, N}, dx[2] = {R, N_IN}, dw[2] = {R, w_cols}, dr[1] = {R}, dm[1] = {m};
    int rc = kpf_h5_write(h, "/z", 2, dz, z, &err);
    rc = rc ? rc : kpf_h5_write(h, "/x", 2, dx, x, &err);
    rc = rc ? rc : kpf_h5_write(h, "/w", 2, dw, wv, &err);
    rc = rc ? rc : kpf_h5_write(h, "/trial", 1, dr, trial_d, &err);
    rc = rc ? rc : kpf_h5_write(h, "/t", 1, dr, t, &err);
    rc = rc ? rc : (theta ? kpf_h5_write(h, "/theta", 1, dm, theta, &err) : 0);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(kpf_h5_close(h, &err), 0, "%s", err.msg);
}

static void write_input(const char *name, const double *theta, size_t m)
{
    write_input_w(name, theta, m, w, N);
}

/* /out of out.h5, `count` values. */
static void read_output(const char *name, double *out, size_t count)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    kpf_h5 *h = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_h5_open(path, &h, &err), 0, "%s", err.msg);
    size_t c = 0;
    cr_assert_eq(kpf_h5_count(h, "/out", &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c, count, "/out has %zu values, expected %zu", c, count);
    cr_assert_eq(kpf_h5_read(h, "/out", count, out, &err), 0, "%s", err.msg);
    kpf_h5_close(h, NULL);
}

static void expect_bit_equal(const double *a, const double *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(&a[i], &b[i], sizeof *a) == 0, "%s[%zu]: eval-op %.17g, direct %.17g",
                  what, i, a[i], b[i]);
}

/* The rows as eval-op builds them, with the tape filled first (as the core
 * does before f and the J ops). */
static double tape[R * 4 * N];
static kpf_rows taped_rows(void)
{
    kpf_rows rows = {.R = R, .z = z, .x = x, .trial = trial, .t = t};
    kpf_error err = {0};
    cr_assert_leq(model->layout.tape_width, 4 * N);
    cr_assert_eq(kpf_model_tape(model, &rows, tape, &err), 0, "%s", err.msg);
    rows.tape = model->layout.tape_width ? tape : NULL;
    return rows;
}

static void run_eval(const char *op, const char *in, const char *out, const char *extra)
{
    int rc = tu_sh(KPF " eval-op rnn %s --in %s/%s --out %s/%s --set n=5 --seed %d "
                   "--n-out %d --trials %d %s",
                   op, tu_tmp, in, tu_tmp, out, SEED, N_OUT, TRIALS, extra);
    cr_assert_eq(rc, 0, "kpf eval-op %s exited %d:\n%s", op, rc, tu_out);
}

Test(eval_op, f_and_jzT_match_direct_calls_with_seeded_theta)
{
    write_input("in.h5", NULL, 0);
    run_eval("f", "in.h5", "f.h5", "");
    run_eval("jzT", "in.h5", "jzT.h5", "");
    double got[R * N], want[R * N];
    kpf_rows rows = taped_rows();
    kpf_error err = {0};

    read_output("f.h5", got, R * N);
    cr_assert_eq(kpf_model_f(model, &rows, want, &err), 0, "%s", err.msg);
    expect_bit_equal(got, want, R * N, "f");

    read_output("jzT.h5", got, R * N);
    cr_assert_eq(kpf_model_jzT(model, &rows, w, want, &err), 0, "%s", err.msg);
    expect_bit_equal(got, want, R * N, "jzT");
}

/* θ given in the file is the θ used (and written back as /theta). */
Test(eval_op, theta_from_the_file_and_jthT)
{
    size_t m = model->m;
    double *theta = malloc(m * sizeof *theta);
    for (size_t i = 0; i < m; i++)
        theta[i] = model->theta[i] * 1.5 + 0.01 * (double)(i % 7);
    write_input("in.h5", theta, m);
    run_eval("f", "in.h5", "f.h5", "");
    run_eval("jthT", "in.h5", "g.h5", "");
    memcpy(model->theta, theta, m * sizeof *theta);
    kpf_error err = {0};
    cr_assert_eq(kpf_model_theta_changed(model, &err), 0);
    kpf_rows rows = taped_rows();

    double got[R * N], want[R * N];
    read_output("f.h5", got, R * N);
    cr_assert_eq(kpf_model_f(model, &rows, want, &err), 0, "%s", err.msg);
    expect_bit_equal(got, want, R * N, "f with θ from the file");

    double *g = calloc(m, sizeof *g), *gw = calloc(m, sizeof *gw);
    read_output("g.h5", g, m);
    cr_assert_eq(kpf_model_jthT(model, &rows, w, gw, &err), 0, "%s", err.msg);
    expect_bit_equal(g, gw, m, "jthT");
    free(g);
    free(gw);

    /* out.h5 carries the θ it used. */
    char path[256];
    snprintf(path, sizeof path, "%s/f.h5", tu_tmp);
    kpf_h5 *h = NULL;
    cr_assert_eq(kpf_h5_open(path, &h, &err), 0, "%s", err.msg);
    double *back = malloc(m * sizeof *back);
    cr_assert_eq(kpf_h5_read(h, "/theta", m, back, &err), 0, "%s", err.msg);
    cr_assert(kpf_h5_is_dataset(h, "/theta_blocks/W"));
    kpf_h5_close(h, NULL);
    expect_bit_equal(back, theta, m, "/theta written back");
    free(back);
    free(theta);
}

/* The readout path (the core's W_out z + b_out for rnn) and --no-tape. */
Test(eval_op, readout_and_untaped_f)
{
    write_input("in.h5", NULL, 0);
    run_eval("readout", "in.h5", "y.h5", "");
    run_eval("f", "in.h5", "f.h5", "--no-tape");
    kpf_rows rows = {.R = R, .z = z, .x = x, .trial = trial, .t = t};
    kpf_error err = {0};
    double got[R * N], want[R * N];
    read_output("y.h5", got, R * N_OUT);
    cr_assert_eq(kpf_readout(model, &rows, want, &err), 0, "%s", err.msg);
    expect_bit_equal(got, want, R * N_OUT, "readout");
    read_output("f.h5", got, R * N);
    cr_assert_eq(kpf_model_f(model, &rows, want, &err), 0, "%s", err.msg);
    expect_bit_equal(got, want, R * N, "f without a tape");

    /* The tape op gives the tape; rnn has no initial-state op, so z₀ = 0. */
    run_eval("tape", "in.h5", "tape.h5", "");
    size_t tw = model->layout.tape_width;
    double got_tape[R * 4 * N];
    read_output("tape.h5", got_tape, R * tw);
    taped_rows();
    expect_bit_equal(got_tape, tape, R * tw, "tape");
    run_eval("init_state", "in.h5", "z0.h5", "");
    read_output("z0.h5", got, R * N);
    for (size_t i = 0; i < R * N; i++)
        cr_assert_eq(got[i], 0.0);

    /* readout_jzT takes w as [R, n_out]. */
    write_input_w("iny.h5", NULL, 0, wy, N_OUT);
    run_eval("readout_jzT", "iny.h5", "yT.h5", "");
    read_output("yT.h5", got, R * N);
    cr_assert_eq(kpf_readout_jzT(model, &rows, wy, want, &err), 0, "%s", err.msg);
    expect_bit_equal(got, want, R * N, "readout_jzT");
}

Test(eval_op, refusals_name_the_problem)
{
    write_input("in.h5", NULL, 0);
    /* /z is 5 wide; the default rnn is 64. */
    int rc = tu_sh(KPF " eval-op rnn f --in %s/in.h5 --out %s/o1.h5", tu_tmp, tu_tmp);
    cr_assert_eq(rc, 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "/z has 5 columns") && strstr(tu_out, "--set n=5"), "%s",
              tu_out);
    cr_assert(!tu_exists("o1.h5"), "a refused eval-op wrote its output");
    /* jz needs /v. */
    rc = tu_sh(KPF " eval-op rnn jz --in %s/in.h5 --out %s/o2.h5 --set n=5", tu_tmp, tu_tmp);
    cr_assert_eq(rc, 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "no dataset /v"), "%s", tu_out);
    /* Unknown op, unknown option, missing --out: usage errors. */
    cr_assert_eq(tu_sh(KPF " eval-op rnn fz --in %s/in.h5 --out %s/o3.h5", tu_tmp, tu_tmp), 2);
    cr_assert(strstr(tu_out, "unknown op 'fz'") && strstr(tu_out, "jzT"), "%s", tu_out);
    cr_assert_eq(tu_sh(KPF " eval-op rnn f --in %s/in.h5 --bogus", tu_tmp), 2, "%s", tu_out);
    cr_assert_eq(tu_sh(KPF " eval-op rnn f --in %s/in.h5", tu_tmp), 2, "%s", tu_out);
    /* A bad plugin key is a config error (exit 2). */
    rc = tu_sh(KPF " eval-op rnn f --in %s/in.h5 --out %s/o4.h5 --set nn=5", tu_tmp, tu_tmp);
    cr_assert_eq(rc, 2, "%s", tu_out);
    /* The output is never overwritten. */
    run_eval("f", "in.h5", "f.h5", "");
    rc = tu_sh(KPF " eval-op rnn f --in %s/in.h5 --out %s/f.h5 --set n=5", tu_tmp, tu_tmp);
    cr_assert_eq(rc, 1, "%s", tu_out);
    cr_assert_eq(tu_sh(KPF " eval-op --help"), 0);
    cr_assert(strstr(tu_out, "/dtheta"), "%s", tu_out);
}
