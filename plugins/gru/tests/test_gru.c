/* The gru plugin (PyTorch nn.GRUCell convention) and θ from HDF5 files
 * (model.init.from, core/src/param_io.c): ops against a naive per-row
 * implementation of the GRUCell equations, a hand-computed step of a
 * 2-unit GRU, that step reproduced from a weight file in PyTorch's layout
 * (float32, as h5py writes a state dict), and the exact error messages for
 * missing, extra and mis-shaped datasets. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <hdf5.h>

#include "kpf/config.h"
#include "kpf/instance.h"
#include "kpf/model.h"
#include "kpf/param_io.h"
#include "kpf/plugin.h"

static kpf_registry *reg;
static const kpf_plugin *P;
static const kpf_model_desc *D;
static char tmpdir[64];

static void load(void)
{
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "gru", &P, &err), KPF_OK, "%s", err.msg);
    D = P->desc;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kpf_test_gru_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void unload(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    (void)!system(cmd);
    kpf_registry_free(reg);
    reg = NULL;
    D = NULL;
}

TestSuite(gru, .init = load, .fini = unload);

static double maxdiff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static double *randv(gsl_rng *r, size_t n, double s)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_gaussian(r, s);
    return v;
}

/* ---- a naive GRUCell, one row at a time -------------------------------- */

typedef struct naive {
    size_t n, n_in;
    int bias;
} naive;

static double sg(double a) { return 1.0 / (1.0 + exp(-a)); }

/* Gates of one row: pre-activations gi = W_ih x + b_ih, gh = W_hh h + b_hh. */
static void nv_gates(const naive *G, const double *th, const double *x, const double *h,
                     double *gi, double *gh)
{
    size_t n = G->n, n_in = G->n_in;
    const double *Wih = th, *Whh = th + 3 * n * n_in;
    const double *bih = th + 3 * n * n_in + 3 * n * n, *bhh = bih + 3 * n;
    for (size_t k = 0; k < 3 * n; k++) {
        double a = G->bias ? bih[k] : 0.0, b = G->bias ? bhh[k] : 0.0;
        for (size_t j = 0; j < n_in; j++)
            a += Wih[k * n_in + j] * x[j];
        for (size_t j = 0; j < n; j++)
            b += Whh[k * n + j] * h[j];
        gi[k] = a;
        gh[k] = b;
    }
}

static void nv_f(const naive *G, const double *th, const double *x, const double *h,
                 double *out)
{
    size_t n = G->n;
    double gi[96], gh[96];
    nv_gates(G, th, x, h, gi, gh);
    for (size_t i = 0; i < n; i++) {
        double r = sg(gi[i] + gh[i]), u = sg(gi[n + i] + gh[n + i]);
        double c = tanh(gi[2 * n + i] + r * gh[2 * n + i]);
        out[i] = (1 - u) * c + u * h[i];
    }
}

/* Directional derivative of f at (x, h) along (dh, dθ), forward mode. */
static void nv_dir(const naive *G, const double *th, const double *x, const double *h,
                   const double *dh, const double *dth, double *out)
{
    size_t n = G->n, n_in = G->n_in;
    double gi[96], gh[96], dgi[96], dgh[96];
    nv_gates(G, th, x, h, gi, gh);
    const double *Whh = th + 3 * n * n_in;
    for (size_t k = 0; k < 3 * n; k++) {
        double a = 0, b = 0;
        for (size_t j = 0; j < n; j++)
            b += Whh[k * n + j] * dh[j];
        if (dth) {
            const double *dWih = dth, *dWhh = dth + 3 * n * n_in;
            const double *dbih = dth + 3 * n * n_in + 3 * n * n, *dbhh = dbih + 3 * n;
            for (size_t j = 0; j < n_in; j++)
                a += dWih[k * n_in + j] * x[j];
            for (size_t j = 0; j < n; j++)
                b += dWhh[k * n + j] * h[j];
            if (G->bias) {
                a += dbih[k];
                b += dbhh[k];
            }
        }
        dgi[k] = a;
        dgh[k] = b;
    }
    for (size_t i = 0; i < n; i++) {
        double r = sg(gi[i] + gh[i]), u = sg(gi[n + i] + gh[n + i]);
        double c = tanh(gi[2 * n + i] + r * gh[2 * n + i]);
        double dr = r * (1 - r) * (dgi[i] + dgh[i]);
        double du = u * (1 - u) * (dgi[n + i] + dgh[n + i]);
        double dc = (1 - c * c) * (dgi[2 * n + i] + dr * gh[2 * n + i] + r * dgh[2 * n + i]);
        out[i] = -du * c + (1 - u) * dc + du * h[i] + u * dh[i];
    }
}

static void naive_ops(const char *yaml, int bias)
{
    kpf_error err = {0};
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "test.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    const size_t n_in = 3, R = 5;
    kpf_model_args a = {sizeof a, kpf_config_root(cfg), n_in, 2, 3, rng, NULL};
    void *self = NULL;
    kpf_model_layout L;
    cr_assert_eq(D->create(&a, &self, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(D->params(self, &L, &err), KPF_OK, "%s", err.msg);
    const size_t n = L.n, m = L.n_theta;
    cr_assert_eq(L.tape_width, 4 * n);
    naive G = {n, n_in, bias};
    /* θ with a larger spread than θ₀ so every gate term matters */
    double *th = randv(rng, m, 0.8);
    double *z = randv(rng, R * n, 1.0), *x = randv(rng, R * n_in, 1.0);
    double *v = randv(rng, R * n, 1.0), *d = randv(rng, m, 1.0);
    size_t trial[5] = {0, 1, 2, 0, 1};
    double t[5] = {0, 1, 2, 3, 4};
    double *work = calloc(L.work_fixed + L.work_per_row * R, sizeof(double));
    double *tape = calloc(R * L.tape_width, sizeof(double));
    double *out = calloc(R * n, sizeof(double)), *ref = calloc(R * n, sizeof(double));
    double *g = calloc(m, sizeof(double)), *gref = calloc(m, sizeof(double));
    double *e = calloc(m > n ? m : n, sizeof(double)), *col = calloc(n, sizeof(double));
    kpf_rows rows = {R, z, x, trial, t, NULL, work};
    cr_assert_eq(D->tape(self, th, &rows, tape, &err), KPF_OK, "%s", err.msg);
    /* the tape holds the gates r, u, c and W_hn h + b_hn */
    for (size_t r = 0; r < R; r++) {
        double gi[96], gh[96];
        nv_gates(&G, th, x + r * n_in, z + r * n, gi, gh);
        for (size_t i = 0; i < n; i++) {
            double rr = sg(gi[i] + gh[i]);
            cr_expect_float_eq(tape[r * 4 * n + i], rr, 1e-14);
            cr_expect_float_eq(tape[r * 4 * n + n + i], sg(gi[n + i] + gh[n + i]), 1e-14);
            cr_expect_float_eq(tape[r * 4 * n + 2 * n + i],
                               tanh(gi[2 * n + i] + rr * gh[2 * n + i]), 1e-14);
            cr_expect_float_eq(tape[r * 4 * n + 3 * n + i], gh[2 * n + i], 1e-14);
        }
    }
    for (int use_tape = 0; use_tape < 2; use_tape++) {
        kpf_rows rw = rows;
        rw.tape = use_tape ? tape : NULL;
        for (size_t r = 0; r < R; r++)
            nv_f(&G, th, x + r * n_in, z + r * n, ref + r * n);
        cr_assert_eq(D->f(self, th, &rw, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-14, "f (tape %d)", use_tape);

        for (size_t r = 0; r < R; r++)
            nv_dir(&G, th, x + r * n_in, z + r * n, v + r * n, NULL, ref + r * n);
        cr_assert_eq(D->jz(self, th, &rw, v, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-13, "jz (tape %d)", use_tape);

        memset(e, 0, n * sizeof *e);
        for (size_t r = 0; r < R; r++)
            nv_dir(&G, th, x + r * n_in, z + r * n, e, d, ref + r * n);
        cr_assert_eq(D->jth(self, th, &rw, d, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-13, "jth (tape %d)", use_tape);

        /* transposes from the naive Jacobian's columns: (J_zᵀ w)_j = col_j · w */
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < n; j++) {
                memset(e, 0, n * sizeof *e);
                e[j] = 1;
                nv_dir(&G, th, x + r * n_in, z + r * n, e, NULL, col);
                double s = 0;
                for (size_t i = 0; i < n; i++)
                    s += col[i] * v[r * n + i];
                ref[r * n + j] = s;
            }
        cr_assert_eq(D->jzT(self, th, &rw, v, out, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(out, ref, R * n), 1e-13, "jzT (tape %d)", use_tape);

        for (size_t p = 0; p < m; p++)
            g[p] = gref[p] = 0.5 + (double)p;
        double zero[32] = {0};
        for (size_t p = 0; p < m; p++) {
            memset(e, 0, m * sizeof *e);
            e[p] = 1;
            for (size_t r = 0; r < R; r++) {
                nv_dir(&G, th, x + r * n_in, z + r * n, zero, e, col);
                for (size_t i = 0; i < n; i++)
                    gref[p] += col[i] * v[r * n + i];
            }
        }
        cr_assert_eq(D->jthT(self, th, &rw, v, g, &err), KPF_OK, "%s", err.msg);
        cr_expect_lt(maxdiff(g, gref, m), 1e-12, "jthT (tape %d)", use_tape);
    }
    free(th), free(z), free(x), free(v), free(d), free(work), free(tape), free(out);
    free(ref), free(g), free(gref), free(e), free(col);
    D->destroy(self);
    gsl_rng_free(rng);
    kpf_config_free(cfg);
}

Test(gru, ops_match_naive_gru_cell) { naive_ops("{n: 5}", 1); }
Test(gru, ops_match_naive_gru_cell_without_bias) { naive_ops("{n: 4, bias: false}", 0); }

Test(gru, descriptor_keys_and_pytorch_init)
{
    cr_assert_str_eq(D->name, "gru");
    cr_assert_eq(D->flags, KPF_MODEL_DISCRETE);
    cr_assert_null(D->readout);
    kpf_error err = {0};
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string("{n: 8, g: 3}", "t.yaml", &cfg, &err), KPF_OK);
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create(P, kpf_config_root(cfg), 2, 1, 1, 3, &m, &err), KPF_OK,
                 "%s", err.msg);
    const char *names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "W_out", "b_out"};
    const size_t rows[] = {24, 24, 24, 24, 1, 1}, cols[] = {2, 8, 1, 1, 8, 1};
    cr_assert_eq(m->n_blocks, 6);
    for (size_t i = 0; i < 6; i++) {
        cr_expect_str_eq(m->blocks[i].name, names[i]);
        cr_expect_eq(m->blocks[i].rows, rows[i], "%s", names[i]);
        cr_expect_eq(m->blocks[i].cols, cols[i], "%s", names[i]);
    }
    /* U(−1/√n, 1/√n), and weight_hh scaled by g = 3 */
    const double k = 1 / sqrt(8.0);
    double mx[2] = {0, 0};
    for (size_t i = 0; i < m->m_model; i++) {
        int hh = i >= 48 && i < 48 + 192;
        mx[hh] = fmax(mx[hh], fabs(m->theta[i]));
    }
    cr_expect(mx[0] <= k && mx[0] > 0.9 * k, "max |θ| off weight_hh = %g (1/√n = %g)", mx[0], k);
    cr_expect(mx[1] <= 3 * k && mx[1] > 2.7 * k, "max |weight_hh| = %g (g/√n = %g)", mx[1],
              3 * k);
    kpf_model_free(m);
    kpf_config_free(cfg);
}

/* ---- a 2-unit GRU by hand ------------------------------------------------ */

/* PyTorch layouts: weight_ih [6,1], weight_hh [6,2], rows (r, z, n). All
 * values are exact in float32. */
static const double H_Wih[6] = {0.5, -0.25, 0.75, 1.0, -0.5, 0.25};
static const double H_Whh[12] = {0.25, -0.5,  0.125, 0.375, -0.25, 0.5,
                                  0.5,  0.25, 0.75,  -0.125, -0.375, 0.625};
static const double H_bih[6] = {0.125, -0.125, 0.25, 0, -0.25, 0.5};
static const double H_bhh[6] = {0, 0.25, -0.125, 0.125, 0.375, -0.5};
static const double H_x = 1.0, H_h[2] = {0.5, -1.0};
/* By hand, with x = 1, h = (0.5, −1):
 *   W_ih x + b_ih = (0.625, −0.375 | 1, 1 | −0.75, 0.75)
 *   W_hh h + b_hh = (0.625, −0.0625 | −0.75, 0.125 | 0.875, −1.3125)
 *   r = σ(1.25, −0.4375)        = (0.77729986117469, 0.39233683016711)
 *   u = σ(0.25, 1.125)          = (0.56217650088580, 0.75491498686763)
 *   c = tanh(−0.75 + 0.875 r₁, 0.75 − 1.3125 r₂)
 *                               = (−0.06974918143882, 0.23082233851511)
 *   h' = (1 − u) c + u h        = (0.25055041976500, −0.69834389100141) */
static const double H_expect[2] = {0.2505504197650029, -0.6983438910014083};

static void hand_theta(double *th)
{
    memcpy(th, H_Wih, sizeof H_Wih);
    memcpy(th + 6, H_Whh, sizeof H_Whh);
    memcpy(th + 18, H_bih, sizeof H_bih);
    memcpy(th + 24, H_bhh, sizeof H_bhh);
}

static void step_of(kpf_model *m, double *out)
{
    kpf_error err = {0};
    size_t trial = 0;
    double t = 0;
    cr_assert_eq(kpf_model_reserve(m, 1, &err), KPF_OK);
    kpf_rows rows = {1, H_h, &H_x, &trial, &t, NULL, NULL};
    cr_assert_eq(kpf_model_f(m, &rows, out, &err), KPF_OK, "%s", err.msg);
}

Test(gru, hand_computed_step_of_a_2_unit_gru)
{
    kpf_error err = {0};
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string("{n: 2}", "t.yaml", &cfg, &err), KPF_OK);
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create(P, kpf_config_root(cfg), 1, 1, 1, 0, &m, &err), KPF_OK,
                 "%s", err.msg);
    cr_assert_eq(m->m_model, 30);
    hand_theta(m->theta);
    cr_assert_eq(kpf_model_theta_changed(m, &err), KPF_OK);
    double out[2];
    step_of(m, out);
    cr_expect_float_eq(out[0], H_expect[0], 1e-15, "h'_1 = %.17g", out[0]);
    cr_expect_float_eq(out[1], H_expect[1], 1e-15, "h'_2 = %.17g", out[1]);
    kpf_model_free(m);
    kpf_config_free(cfg);
}

/* ---- weight files ---------------------------------------------------------- */

/* A float32 dataset, as h5py writes torch tensors' numpy arrays. */
static void put_f32(hid_t f, const char *name, int rank, const hsize_t *dims,
                    const double *v, size_t count)
{
    float buf[64];
    for (size_t i = 0; i < count; i++)
        buf[i] = (float)v[i];
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(ds, 0, "cannot create %s", name);
    cr_assert_geq(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Dclose(ds);
    H5Sclose(sp);
}

enum { DEF_NONE, DEF_MISSING, DEF_EXTRA, DEF_SHAPE, DEF_WOUT_ONLY, DEF_READOUT, DEF_GROUP };

/* The hand GRU's state dict in PyTorch layout, with one defect. */
static void write_state_dict(const char *path, int defect)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0, "cannot create %s", path);
    hsize_t d_ih[2] = {6, 1}, d_hh[2] = {6, 2}, d_b[1] = {6}, d_bad[2] = {6, 3};
    double pad[18] = {0};
    put_f32(f, "weight_ih", 2, d_ih, H_Wih, 6);
    if (defect == DEF_SHAPE)
        put_f32(f, "weight_hh", 2, d_bad, pad, 18);
    else
        put_f32(f, "weight_hh", 2, d_hh, H_Whh, 12);
    put_f32(f, "bias_ih", 1, d_b, H_bih, 6);
    if (defect != DEF_MISSING)
        put_f32(f, "bias_hh", 1, d_b, H_bhh, 6);
    if (defect == DEF_EXTRA)
        put_f32(f, "weight_ih_l1", 2, d_ih, H_Wih, 6);
    if (defect == DEF_WOUT_ONLY || defect == DEF_READOUT) {
        hsize_t d_w[2] = {1, 2};
        double w[2] = {0.5, -2.0};
        put_f32(f, "W_out", 2, d_w, w, 2);
    }
    if (defect == DEF_READOUT) {
        hsize_t d_bo[1] = {1};
        double b = 0.25;
        put_f32(f, "b_out", 1, d_bo, &b, 1);
    }
    if (defect == DEF_GROUP) {
        hid_t g = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
    }
    H5Fclose(f);
}

/* Create a 2-unit GRU from `model:` of a YAML text; returns the status. */
static int create_from(const char *yaml, const char *name, kpf_model **m, kpf_error *err)
{
    kpf_config *cfg = NULL;
    int rc = kpf_config_load_string(yaml, name, &cfg, err);
    cr_assert_eq(rc, KPF_OK, "%s", err->msg);
    const kpf_node *model = kpf_node_get(kpf_config_root(cfg), "model");
    *m = NULL;
    rc = kpf_model_create(P, model, 1, 1, 1, 0, m, err);
    kpf_config_free(cfg);
    return rc;
}

static int create_with_file(const char *path, kpf_model **m, kpf_error *err)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "model:\n  n: 2\n  init:\n    from: %s\n", path);
    return create_from(yaml, "exp.yaml", m, err);
}

Test(gru, pytorch_state_dict_reproduces_the_hand_step)
{
    char path[128];
    snprintf(path, sizeof path, "%s/gru_cell.h5", tmpdir);
    write_state_dict(path, DEF_NONE);
    kpf_error err = {0};
    kpf_model *m = NULL;
    cr_assert_eq(create_with_file(path, &m, &err), KPF_OK, "%s", err.msg);
    double th[30];
    hand_theta(th);
    cr_expect_eq(maxdiff(m->theta, th, 30), 0.0, "θ from the file differs from the weights");
    double out[2];
    step_of(m, out);
    cr_expect_float_eq(out[0], H_expect[0], 1e-15, "h'_1 = %.17g", out[0]);
    cr_expect_float_eq(out[1], H_expect[1], 1e-15, "h'_2 = %.17g", out[1]);
    /* the core readout keeps its drawn values when the file has none */
    kpf_model *m0 = NULL;
    cr_assert_eq(create_from("model: {n: 2}", "t.yaml", &m0, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(maxdiff(m->theta + 30, m0->theta + 30, 3), 0.0);
    kpf_model_free(m0);
    kpf_model_free(m);

    /* with W_out and b_out in the file they load too */
    snprintf(path, sizeof path, "%s/gru_readout.h5", tmpdir);
    write_state_dict(path, DEF_READOUT);
    cr_assert_eq(create_with_file(path, &m, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(m->theta[30], 0.5);
    cr_expect_eq(m->theta[31], -2.0);
    cr_expect_eq(m->theta[32], 0.25);
    kpf_model_free(m);
}

Test(gru, save_then_load_round_trip)
{
    kpf_error err = {0};
    kpf_model *a = NULL, *b = NULL;
    cr_assert_eq(create_from("model: {n: 3}", "t.yaml", &a, &err), KPF_OK, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/roundtrip.h5", tmpdir);
    cr_assert_eq(kpf_params_save_h5(a, path, &err), KPF_OK, "%s", err.msg);
    /* never overwritten */
    cr_expect_neq(kpf_params_save_h5(a, path, &err), KPF_OK);
    char yaml[256];
    snprintf(yaml, sizeof yaml, "model: {n: 3, init: {from: %s}}", path);
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "t.yaml", &cfg, &err), KPF_OK);
    cr_assert_eq(kpf_model_create(P, kpf_node_get(kpf_config_root(cfg), "model"), 1, 1, 1, 99,
                                  &b, &err),
                 KPF_OK, "%s", err.msg);
    cr_assert_eq(a->m, b->m);
    cr_expect_eq(memcmp(a->theta, b->theta, a->m * sizeof(double)), 0,
                 "θ differs after save and load (seed 0 vs 99 before loading)");
    kpf_model_free(a);
    kpf_model_free(b);
    kpf_config_free(cfg);
}

static void expect_file_error(int defect, const char *tail)
{
    char path[128], want[1024];
    snprintf(path, sizeof path, "%s/bad%d.h5", tmpdir, defect);
    write_state_dict(path, defect);
    kpf_error err = {0};
    kpf_model *m = NULL;
    cr_assert_eq(create_with_file(path, &m, &err), KPF_ECONFIG, "defect %d: %s", defect,
                 err.msg);
    cr_assert_null(m);
    snprintf(want, sizeof want, "exp.yaml:4:11: model.init.from: %s: %s", path, tail);
    cr_expect_str_eq(err.msg, want);
}

Test(gru, missing_dataset_is_a_config_error)
{
    expect_file_error(DEF_MISSING, "missing dataset 'bias_hh' (parameter block of plugin 'gru', "
                                 "expected shape [6] or [6, 1])");
}

Test(gru, extra_dataset_is_a_config_error)
{
    expect_file_error(DEF_EXTRA,
                      "dataset 'weight_ih_l1' is not a parameter block of plugin 'gru' "
                      "(expected exactly: weight_ih [6], weight_hh [6, 2], bias_ih [6], "
                      "bias_hh [6], W_out [1, 2], b_out [1])");
    expect_file_error(DEF_GROUP,
                      "object 'optimizer' is not a parameter block of plugin 'gru' "
                      "(expected exactly: weight_ih [6], weight_hh [6, 2], bias_ih [6], "
                      "bias_hh [6], W_out [1, 2], b_out [1])");
}

Test(gru, misshaped_dataset_is_a_config_error)
{
    expect_file_error(DEF_SHAPE, "dataset 'weight_hh' has shape [6, 3], expected [6, 2]");
}

Test(gru, core_readout_blocks_load_together)
{
    expect_file_error(DEF_WOUT_ONLY, "missing dataset 'b_out' (core readout block, expected "
                                   "shape [1] or [1, 1]; 'W_out' is given, and the two load together)");
}

Test(gru, missing_file_and_bad_init_keys)
{
    kpf_error err = {0};
    kpf_model *m = NULL;
    cr_assert_eq(create_from("model: {n: 2, init: {from: /nonexistent/w.h5}}", "t.yaml", &m,
                             &err),
                 KPF_ECONFIG);
    cr_expect_str_eq(err.msg, "t.yaml:1:28: model.init.from: /nonexistent/w.h5: cannot open "
                              "as an HDF5 file");
    cr_assert_eq(create_from("model: {n: 2, init: {form: w.h5}}", "t.yaml", &m, &err),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "model.init.from: missing required key") != NULL, "%s",
              err.msg);
}

/* A relative `from` is resolved against the config file's folder. */
Test(gru, relative_path_is_relative_to_the_config_file)
{
    char sub[128], path[160], cfgpath[160];
    snprintf(sub, sizeof sub, "%s/cfgdir", tmpdir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/weights.h5", sub);
    write_state_dict(path, DEF_NONE);
    snprintf(cfgpath, sizeof cfgpath, "%s/exp.yaml", sub);
    FILE *f = fopen(cfgpath, "w");
    cr_assert_not_null(f);
    fputs("model:\n  n: 2\n  init: {from: weights.h5}\n", f);
    fclose(f);
    kpf_error err = {0};
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_file(cfgpath, &cfg, &err), KPF_OK, "%s", err.msg);
    kpf_model *m = NULL;
    cr_assert_eq(kpf_model_create(P, kpf_node_get(kpf_config_root(cfg), "model"), 1, 1, 1, 0,
                                  &m, &err),
                 KPF_OK, "%s", err.msg);
    double out[2];
    step_of(m, out);
    cr_expect_float_eq(out[0], H_expect[0], 1e-15);
    cr_expect_float_eq(out[1], H_expect[1], 1e-15);
    kpf_model_free(m);
    kpf_config_free(cfg);
}
