/* Checkpoints are untrusted input.  A real checkpoint is written by a short
 * training run; each test alters one stored field with the HDF5 C API and
 * resumes from it: the resume must be refused with one line naming the file
 * and the field, leave θ untouched, and never crash (a tampered RNG state
 * used to crash inside GSL).  Criterion runs every test in its own process,
 * so a crash fails only its test. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "kpf/checkpoint.h"
#include "kpf/config.h"
#include "kpf/h5io.h"
#include "kpf/plugin.h"
#include "kpf/task.h"
#include "kpf/train.h"
#include "test_util.h"

static kpf_error err;
static kpf_registry *reg;
static kpf_config *cfg;
static kpf_task *task;
static char ck[256], bad[256];

#define OK(call) cr_assert_eq((call), KPF_OK, "%s", err.msg)

static kpf_model *new_model(void)
{
    const kpf_plugin *p = NULL;
    OK(kpf_registry_find(reg, "rnn", &p, &err));
    kpf_model *m = NULL;
    OK(kpf_model_create(p, kpf_node_get(kpf_config_root(cfg), "model"), task->n_in,
                        task->n_out, 4, 7, &m, &err));
    return m;
}

static kpf_train_opts opts(const char *path, int resume)
{
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    o.iterations = 20;
    o.batch = 4;
    o.eval_trials = 4;
    o.eval_every = 5;
    o.checkpoint_every = 10;
    o.seed = 3;
    o.checkpoint_path = path;
    o.resume = resume;
    return o;
}

/* Trains 20 iterations (checkpoints at 10 and 20) and copies the result to
 * `bad`, the file each test alters. */
static void setup(void)
{
    tu_mktmp();
    kpf_error_clear(&err);
    OK(kpf_registry_alloc(&reg, &err));
    OK(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err));
    OK(kpf_config_load_string("task: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
                              "model: {n: 6}\n",
                              "ck.yaml", &cfg, &err));
    OK(kpf_task_create(kpf_node_get(kpf_config_root(cfg), "task"), &task, &err));
    snprintf(ck, sizeof ck, "%s/ck.h5", tu_tmp);
    snprintf(bad, sizeof bad, "%s/bad.h5", tu_tmp);
    kpf_model *m = new_model();
    kpf_train_opts o = opts(ck, 0);
    kpf_train_history h = {0};
    OK(kpf_train(m, task, &o, NULL, NULL, &h, &err));
    kpf_train_history_free(&h);
    kpf_model_free(m);
    cr_assert_eq(tu_sh("cp %s %s", ck, bad), 0, "%s", tu_out);
}

static void teardown(void)
{
    kpf_task_free(task);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
    tu_rmtmp();
}

TestSuite(checkpoint, .init = setup, .fini = teardown, .timeout = 60);

/* ---- altering one field ---------------------------------------------------- */

static hid_t open_rw(void)
{
    hid_t f = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0, "cannot open %s", bad);
    return f;
}

/* Closes the altered file and seals it again, as someone who edits a
 * checkpoint on purpose would: the field checks, not the seal, must then
 * refuse it. */
static void close_rw(hid_t f)
{
    cr_assert_geq(H5Fclose(f), 0);
    cr_assert_eq(kpf_h5_seal(bad, &err), KPF_OK, "%s", err.msg);
}

static void read_raw(hid_t f, const char *ds, hid_t type, void *buf)
{
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    cr_assert_geq(d, 0, "no dataset %s", ds);
    cr_assert_geq(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Dclose(d);
}

static void write_raw(hid_t f, const char *ds, hid_t type, const void *buf)
{
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    cr_assert_geq(d, 0, "no dataset %s", ds);
    cr_assert_geq(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Dclose(d);
}

static size_t count(hid_t f, const char *ds)
{
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT), s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    H5Sclose(s);
    H5Dclose(d);
    return (size_t)n;
}

/* Entry i of a dataset of doubles becomes v. */
static void set_double(const char *ds, size_t i, double v)
{
    hid_t f = open_rw();
    size_t n = count(f, ds);
    cr_assert_lt(i, n);
    double *a = malloc(n * sizeof *a);
    read_raw(f, ds, H5T_NATIVE_DOUBLE, a);
    a[i] = v;
    write_raw(f, ds, H5T_NATIVE_DOUBLE, a);
    free(a);
    close_rw(f);
}

/* The dataset is replaced by n doubles (its own values, then v). */
static void resize_double(const char *ds, size_t n, double v)
{
    hid_t f = open_rw();
    size_t have = count(f, ds);
    double *a = malloc((n > have ? n : have) * sizeof *a);
    read_raw(f, ds, H5T_NATIVE_DOUBLE, a);
    for (size_t i = have; i < n; i++)
        a[i] = v;
    cr_assert_geq(H5Ldelete(f, ds, H5P_DEFAULT), 0);
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, ds, H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a), 0);
    H5Dclose(d);
    H5Sclose(s);
    free(a);
    close_rw(f);
}

/* Bytes [off, off+len) of a byte dataset (a stored GSL state). */
static void set_bytes(const char *ds, size_t off, const void *v, size_t len)
{
    hid_t f = open_rw();
    size_t n = count(f, ds);
    cr_assert_leq(off + len, n);
    unsigned char *a = malloc(n);
    read_raw(f, ds, H5T_NATIVE_UCHAR, a);
    memcpy(a + off, v, len);
    write_raw(f, ds, H5T_NATIVE_UCHAR, a);
    free(a);
    close_rw(f);
}

/* ---- resuming from it ------------------------------------------------------ */

/* Resumes from `file` through kpf_train, as `kpf run --resume` does. */
static int resume(const char *file, kpf_model *m)
{
    kpf_train_opts o = opts(file, 1);
    kpf_train_history h = {0};
    kpf_error_clear(&err);
    int rc = kpf_train(m, task, &o, NULL, NULL, &h, &err);
    kpf_train_history_free(&h);
    return rc;
}

static void expect_refused(const char *field, const char *why)
{
    kpf_model *m = new_model();
    double *theta0 = malloc(m->m * sizeof(double));
    memcpy(theta0, m->theta, m->m * sizeof(double));
    int rc = resume(bad, m);
    cr_assert_eq(rc, KPF_EIO, "accepted (rc %d): %s", rc, err.msg);
    char want[512];
    snprintf(want, sizeof want, "%s: %s: %s", bad, field, why);
    cr_assert(strstr(err.msg, want), "expected '%s' in: %s", want, err.msg);
    cr_assert(!strchr(err.msg, '\n'), "not one line: %s", err.msg);
    cr_assert_eq(memcmp(theta0, m->theta, m->m * sizeof(double)), 0,
                 "a refused checkpoint changed θ");
    free(theta0);
    kpf_model_free(m);
}

Test(checkpoint, intact_one_resumes)
{
    kpf_model *m = new_model();
    OK(resume(bad, m));
    kpf_model_free(m);
}

/* ---- the seal: damage is refused before HDF5 reads the file ---------------- */

static void expect_seal_refusal(const char *why)
{
    kpf_model *m = new_model();
    cr_assert_eq(resume(bad, m), KPF_EIO, "accepted: %s", err.msg);
    char want[600];
    snprintf(want, sizeof want, "resuming from checkpoint: %s: %s", bad, why);
    cr_assert(strstr(err.msg, want), "expected '%s' in: %s", want, err.msg);
    kpf_model_free(m);
}

Test(checkpoint, one_flipped_byte_is_refused)
{
    FILE *f = fopen(bad, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, -100, SEEK_END), 0);
    int c = fgetc(f);
    cr_assert_eq(fseek(f, -100, SEEK_END), 0);
    fputc(c ^ 0x20, f);
    fclose(f);
    expect_seal_refusal("contents do not match its seal");
}

Test(checkpoint, cut_short_is_refused)
{
    FILE *f = fopen(bad, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(bad, n - 1000), 0);
    char why[200];
    snprintf(why, sizeof why, "%ld bytes where its seal says %ld (the file was cut short", n - 1000,
             n);
    expect_seal_refusal(why);
}

Test(checkpoint, edited_without_resealing_is_refused)
{
    hid_t f = open_rw();
    double one = 1;
    write_raw(f, "/optim/t", H5T_NATIVE_DOUBLE, &one);
    H5Fclose(f);
    expect_seal_refusal("contents do not match its seal");
}

Test(checkpoint, unsealed_file_is_refused)
{
    FILE *f = fopen(bad, "r+b");
    cr_assert_not_null(f);
    fputs("not a seal", f);
    fclose(f);
    expect_seal_refusal("no kpf seal");
}

/* mt19937: 624 unsigned longs, then the position (an int). */
enum { MTI_OFFSET = 624 * sizeof(unsigned long) };

Test(checkpoint, rng_position_out_of_range)
{
    int mti = 100000;
    set_bytes("/rng/data", MTI_OFFSET, &mti, sizeof mti);
    expect_refused("/rng/data", "not a valid mt19937 state (position 100000 outside [0, 624])");
}

Test(checkpoint, rng_position_negative)
{
    int mti = -7;
    set_bytes("/rng/batch", MTI_OFFSET, &mti, sizeof mti);
    expect_refused("/rng/batch", "not a valid mt19937 state (position -7 outside [0, 624])");
}

Test(checkpoint, rng_word_beyond_32_bits)
{
    unsigned long w = 1ul << 40;
    set_bytes("/rng/batch", 7 * sizeof w, &w, sizeof w);
    expect_refused("/rng/batch", "not a valid mt19937 state (word 7 = 1099511627776 exceeds 32 bits)");
}

Test(checkpoint, rng_all_zero)
{
    static unsigned char zero[MTI_OFFSET];
    set_bytes("/rng/data", 0, zero, sizeof zero);
    expect_refused("/rng/data", "not a valid mt19937 state (all zero)");
}

Test(checkpoint, rng_wrong_size)
{
    hid_t f = open_rw();
    cr_assert_geq(H5Ldelete(f, "/rng/data", H5P_DEFAULT), 0);
    hsize_t dim = 100;
    unsigned char b[100] = {0};
    hid_t s = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(f, "/rng/data", H5T_NATIVE_UCHAR, s, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, b);
    H5Dclose(d);
    H5Sclose(s);
    close_rw(f);
    kpf_model *m = new_model();
    cr_assert_eq(resume(bad, m), KPF_EIO);
    char want[600];
    snprintf(want, sizeof want, "%s: dataset /rng/data has 100 elements, expected", bad);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    kpf_model_free(m);
}

Test(checkpoint, iteration_not_a_count)
{
    set_double("/iteration", 0, 2.5);
    expect_refused("/iteration", "2.5 is not an iteration count");
}

Test(checkpoint, iteration_negative_or_huge)
{
    set_double("/iteration", 0, -1);
    expect_refused("/iteration", "-1 is not an iteration count");
    set_double("/iteration", 0, 1e300);
    expect_refused("/iteration", "1e+300 is not an iteration count");
    set_double("/iteration", 0, NAN);
    expect_refused("/iteration", "nan is not an iteration count");
}

Test(checkpoint, iteration_disagrees_with_history)
{
    set_double("/iteration", 0, 15);
    expect_refused("/history/loss", "20 entries for 15 iterations");
}

Test(checkpoint, optimiser_step_count)
{
    set_double("/optim/t", 0, 7);
    expect_refused("/optim/t", "7 steps for 20 iterations");
}

Test(checkpoint, optimiser_moments_not_finite)
{
    set_double("/optim/mom", 3, NAN);
    expect_refused("/optim/mom", "entry 3 is nan (expected a finite number)");
}

Test(checkpoint, optimiser_velocity_negative)
{
    set_double("/optim/vel", 0, -1e-3);
    expect_refused("/optim/vel", "entry 0 is -0.001 (expected a finite non-negative number)");
}

Test(checkpoint, optimiser_moments_wrong_length)
{
    resize_double("/optim/vel", 5, 0);
    kpf_model *m = new_model();
    cr_assert_eq(resume(bad, m), KPF_EIO);
    char want[600];
    snprintf(want, sizeof want, "%s: dataset /optim/vel has 5 elements, expected", bad);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    kpf_model_free(m);
}

Test(checkpoint, theta_not_finite)
{
    set_double("/theta", 11, INFINITY);
    expect_refused("/theta", "entry 11 is inf");
}

Test(checkpoint, theta_wrong_shape)
{
    hid_t f = open_rw();
    size_t n = count(f, "/theta");
    H5Fclose(f);
    resize_double("/theta", n + 1, 0.5);
    kpf_model *m = new_model();
    cr_assert_eq(resume(bad, m), KPF_EIO);
    char want[600];
    snprintf(want, sizeof want, "%s: dataset /theta has %zu elements, expected %zu", bad, n + 1,
             n);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    kpf_model_free(m);
}

Test(checkpoint, loss_history_not_finite)
{
    set_double("/history/loss", 4, NAN);
    expect_refused("/history/loss", "entry 4 is nan");
}

Test(checkpoint, grad_norm_negative)
{
    set_double("/history/grad_norm", 2, -3);
    expect_refused("/history/grad_norm", "entry 2 is -3");
}

Test(checkpoint, history_longer_than_the_run)
{
    resize_double("/history/loss", 25, 0.1);
    expect_refused("/history/loss", "25 entries for 20 iterations");
}

Test(checkpoint, evaluations_out_of_order)
{
    set_double("/history/eval_iter", 2, 3); /* 0, 5, 3, … */
    expect_refused("/history/eval_iter", "entry 2 is 3");
    set_double("/history/eval_iter", 0, 1);
    expect_refused("/history/eval_iter", "entry 0 is 1 (expected 0)");
}

Test(checkpoint, too_many_evaluations)
{
    resize_double("/history/eval_loss", 40, 0.5);
    resize_double("/history/eval_iter", 40, 0);
    expect_refused("/history/eval_loss", "40 evaluations for 20 iterations (expected 1 to 21)");
}

Test(checkpoint, converged_at_an_unevaluated_iteration)
{
    set_double("/history/converged_at", 0, 3);
    expect_refused("/history/converged_at", "3 is neither -1 nor an evaluated iteration");
}

Test(checkpoint, evaluation_loss_not_finite)
{
    set_double("/history/eval_loss", 1, -INFINITY);
    expect_refused("/history/eval_loss", "entry 1 is -inf");
}
