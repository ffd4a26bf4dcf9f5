/* kpf_bench — the kpf side of the benchmark suite (bench/run.sh drives it).
 *
 *   kpf_bench run --plugins DIR --out DIR [--models rnn,gru] [--reps N]
 *                 [--spec-reps N] [--n N] [--T-long T]
 *       For every model and case (B ∈ {30, 200} at T = 90, and the same B at
 *       T = T-long for the linear-scaling check) times, with one warm-up and
 *       the median of N runs: forward simulation, one training iteration
 *       (kpf_loss_grad + Adam step), K·q, P·q, P*·q and (T = 90 only) the
 *       top-20 consensus spectrum of K.  Writes
 *         OUT/kpf_times.tsv          model B T row median_s min_s reps flops
 *                                    dgemm_gflops (1024³, sampled before the case)
 *         OUT/roofline.tsv           dgemm GFLOP/s (1024³ and the shapes used)
 *         OUT/<model>_B<B>_T<T>.h5   inputs, θ, probe q, and kpf's results
 *       so that bench/torch_bench.py computes on identical inputs and checks
 *       agreement.
 *
 *       When the hh plugin is in DIR (and --hh-n is not 0), also times the
 *       forward simulation of a Hodgkin–Huxley network, a reference with no
 *       PyTorch side: N = --hh-n (100) neurons, B = 30, RK4 at the default
 *       dt, T = --hh-T (1000) steps; writes
 *         OUT/hh_times.tsv           model N B T stepper median_s min_s reps
 *                                    steps_per_s
 *
 *   kpf_bench mem --plugins DIR MODEL B T OP      (OP: Kq | Pq | Pstarq)
 *       In a fresh process: create, simulate, build the operator, apply it
 *       once; prints "MEM model B T op base_kB peak_kB" (VmHWM after model
 *       creation, and at the end).
 *
 * FLOP counts are analytic (multiply–adds × 2 of the matrix products that
 * the computation cannot avoid; element-wise work is not counted), R = B·T
 * rows, n state, n_i inputs, n_o outputs:
 *   rnn  forward 2Rn(n+n_i)            gru  forward 6Rn(n+n_i)
 *        K·q     4Rn(n+n_i)                 K·q     12Rn(n+n_i)
 *        P·q     2(T−1)Bn²                  P·q     6(T−1)Bn²
 *        P*·q    2(T−1)Bn²                  P*·q    6(T−1)Bn²
 *        train   4Rn(n+n_i)+2Rn²+6Rn·n_o    train   12Rn(n+n_i)+6Rn²+6Rn·n_o
 *        spectrum: (K applications counted during the solve) × K·q.
 * See docs/performance.md. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/blas.h"
#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/gradient.h"
#include "kpf/h5io.h"
#include "kpf/instance.h"
#include "kpf/kpflow.h"
#include "kpf/operator.h"
#include "kpf/optim.h"
#include "kpf/plugin.h"
#include "kpf/propagate.h"
#include "kpf/rng.h"
#include "kpf/spectral.h"
#include "kpf/task.h"
#include "kpf/trajectory.h"

extern int openblas_get_num_threads(void);

#define N_IN 4
#define N_OUT 3
#define K_SPEC 20
#define SPEC_TOL 1e-8
#define LR 1e-3
#define SEED_MODEL 1
#define SEED_DATA 2

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long vm_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void die(const char *what, const kpf_error *err)
{
    fprintf(stderr, "kpf_bench: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

#define CHECK(call, what)                                                                 \
    do {                                                                                  \
        if ((call) != KPF_OK)                                                             \
            die(what, &err);                                                              \
    } while (0)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- the analytic FLOP counts ----------------------------------------- */

typedef struct flops {
    double fwd, train, kq, pq, psq;
} flops;

static flops count_flops(const char *model, size_t n, size_t B, size_t T)
{
    double R = (double)B * (double)T, N = (double)n, ni = N_IN, no = N_OUT;
    double g = strcmp(model, "gru") == 0 ? 3.0 : strcmp(model, "rnn") == 0 ? 1.0 : 0.0;
    flops f;
    f.fwd = g * 2 * R * N * (N + ni);
    f.kq = g * 4 * R * N * (N + ni);
    f.pq = g * 2 * (double)(T - 1) * (double)B * N * N;
    f.psq = f.pq;
    f.train = g * (4 * R * N * (N + ni) + 2 * R * N * N) + (g > 0 ? 6 * R * N * no : 0);
    return f;
}

/* ---- a K that counts its applications ---------------------------------- */

typedef struct count_st {
    kpf_op *inner;
    size_t n_apply;
} count_st;

static int count_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    count_st *s = op->state;
    s->n_apply++;
    return kpf_op_apply(s->inner, in, out, err);
}

static const kpf_op_type count_type = {"K_counted", count_apply, NULL, NULL};

/* ---- one case ------------------------------------------------------------ */

typedef struct bcase {
    const char *name;
    size_t B, T, n;
    kpf_model *m;
    kpf_traj *tr;
    kpf_task_batch batch;
    kpf_grad_ws *ws;
    kpf_optim *opt;
    kpf_op *K, *P, *Ps, *Kc;
    count_st cst;
    double *q, *out, *grad;
    double loss;
    double spec[K_SPEC];
} bcase;

typedef int (*bench_fn)(bcase *c, kpf_error *err);

static int f_forward(bcase *c, kpf_error *err) { return kpf_simulate(c->m, c->tr, err); }
static int f_kq(bcase *c, kpf_error *err) { return kpf_op_apply(c->K, c->q, c->out, err); }
static int f_pq(bcase *c, kpf_error *err) { return kpf_op_apply(c->P, c->q, c->out, err); }
static int f_psq(bcase *c, kpf_error *err) { return kpf_op_apply(c->Ps, c->q, c->out, err); }

static int f_train(bcase *c, kpf_error *err)
{
    int rc = kpf_loss_grad(c->m, &c->batch, 0, c->ws, &c->loss, c->grad, err);
    if (!rc)
        rc = kpf_optim_step(c->opt, c->m->theta, c->grad, err);
    if (!rc)
        rc = kpf_model_theta_changed(c->m, err);
    return rc;
}

static size_t spec_ncv = 0; /* 0: kpf's default, min(dim, max(2k+1, 20)) */

static int f_spectrum(bcase *c, kpf_error *err)
{
    kpf_eig_opts o = kpf_eig_opts_default();
    o.tol = SPEC_TOL;
    o.ncv = spec_ncv;
    o.seed = 7;
    return kpf_consensus_gram(c->Kc, KPF_AXIS_TRIAL | KPF_AXIS_TIME, K_SPEC, &o, c->spec,
                              NULL, err);
}

/* warm warm-up calls, then timed calls: at least min_reps, at most reps, and
 * no new one once the timed calls have used `budget` seconds.  Returns the
 * number of timed calls. */
static int time_it(bench_fn fn, bcase *c, int warm, int reps, int min_reps, double budget,
                   double *med, double *mn)
{
    kpf_error err = {0};
    for (int i = 0; i < warm; i++)
        if (fn(c, &err))
            die("warm-up", &err);
    double *t = malloc((size_t)reps * sizeof *t), used = 0;
    int k = 0;
    while (k < reps && (k < min_reps || used < budget)) {
        double t0 = now();
        if (fn(c, &err))
            die("timed run", &err);
        t[k] = now() - t0;
        used += t[k++];
    }
    *mn = t[0];
    for (int i = 1; i < k; i++)
        if (t[i] < *mn)
            *mn = t[i];
    *med = median(t, k);
    free(t);
    return k;
}

#define ROW_BUDGET 10.0  /* seconds of timed calls per row (at least 3 calls) */
#define SPEC_BUDGET 30.0 /* the spectrum: at least 1 solve                    */

static const kpf_plugin *find_plugin(kpf_registry *reg, const char *name)
{
    kpf_error err = {0};
    const kpf_plugin *p = NULL;
    CHECK(kpf_registry_find(reg, name, &p, &err), "plugin lookup");
    return p;
}

/* Model, data and trajectory of one case. */
static void case_setup(bcase *c, const kpf_plugin *pl, const char *name, size_t n, size_t B,
                       size_t T)
{
    kpf_error err = {0};
    memset(c, 0, sizeof *c);
    c->name = name;
    c->B = B;
    c->T = T;
    c->n = n;
    char yaml[64];
    snprintf(yaml, sizeof yaml, "n: %zu\n", n);
    kpf_config *cfg = NULL;
    CHECK(kpf_config_load_string(yaml, "bench", &cfg, &err), "model config");
    CHECK(kpf_model_create(pl, kpf_config_root(cfg), N_IN, N_OUT, B, SEED_MODEL, &c->m, &err),
          "model create");
    kpf_config_free(cfg);
    CHECK(kpf_model_theta_changed(c->m, &err), "prepare");

    size_t R = B * T;
    gsl_rng *rng = NULL;
    CHECK(kpf_rng_alloc(SEED_DATA, KPF_RNG_DATA, &rng, &err), "rng");
    kpf_task_batch *bt = &c->batch;
    bt->B = B;
    bt->T = T;
    bt->n_in = N_IN;
    bt->n_out = N_OUT;
    bt->x = malloc(R * N_IN * sizeof(double));
    bt->y = malloc(R * N_OUT * sizeof(double));
    bt->mask = malloc(R * sizeof(double));
    bt->trial = malloc(B * sizeof(size_t));
    for (size_t i = 0; i < R * N_IN; i++)
        bt->x[i] = gsl_ran_gaussian(rng, 1.0);
    for (size_t i = 0; i < R * N_OUT; i++)
        bt->y[i] = gsl_ran_gaussian(rng, 0.5);
    for (size_t i = 0; i < R; i++)
        bt->mask[i] = 1.0;
    for (size_t b = 0; b < B; b++)
        bt->trial[b] = b;
    c->q = malloc(R * n * sizeof(double));
    c->out = malloc(R * n * sizeof(double));
    c->grad = malloc(c->m->m * sizeof(double));
    for (size_t i = 0; i < R * n; i++)
        c->q[i] = gsl_ran_gaussian(rng, 1.0);
    gsl_rng_free(rng);

    CHECK(kpf_traj_alloc(c->m, B, T, &c->tr, &err), "traj alloc");
    memcpy(c->tr->x, bt->x, R * N_IN * sizeof(double));
    CHECK(kpf_simulate(c->m, c->tr, &err), "simulate");
}

static void case_free(bcase *c)
{
    kpf_op_free(c->Kc);
    kpf_op_free(c->K);
    kpf_op_free(c->P);
    kpf_op_free(c->Ps);
    kpf_optim_free(c->opt);
    kpf_grad_ws_free(c->ws);
    kpf_traj_free(c->tr);
    kpf_model_free(c->m);
    free(c->batch.x);
    free(c->batch.y);
    free(c->batch.mask);
    free(c->batch.trial);
    free(c->q);
    free(c->out);
    free(c->grad);
}

static void write_inputs(kpf_h5 *h, bcase *c)
{
    kpf_error err = {0};
    kpf_model *m = c->m;
    size_t B = c->B, T = c->T, n = c->n;
    CHECK(kpf_h5_attr_string(h, "/", "model", c->name, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "n", (double)n, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "n_in", N_IN, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "n_out", N_OUT, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "B", (double)B, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "T", (double)T, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "dt", m->dt, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "lr", LR, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "spec_tol", SPEC_TOL, &err), "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "spec_ncv",
                             (double)(spec_ncv ? spec_ncv : 2 * K_SPEC + 1), &err),
          "h5 attr");
    CHECK(kpf_h5_attr_double(h, "/", "continuous",
                             (m->desc->flags & KPF_MODEL_CONTINUOUS) ? 1.0 : 0.0, &err),
          "h5 attr");
    size_t dm = m->m;
    CHECK(kpf_h5_write(h, "/theta", 1, &dm, m->theta, &err), "h5 theta");
    for (size_t i = 0; i < m->n_blocks; i++) {
        const kpf_param_block *b = &m->blocks[i];
        char path[128];
        snprintf(path, sizeof path, "/blocks/%s", b->name);
        size_t dims[2] = {b->rows, b->cols};
        CHECK(kpf_h5_write(h, path, b->cols == 1 ? 1 : 2, dims, m->theta + b->offset, &err),
              "h5 block");
        CHECK(kpf_h5_attr_double(h, path, "offset", (double)b->offset, &err), "h5 attr");
    }
    CHECK(kpf_h5_write_traj(h, "/x", B, T, N_IN, c->batch.x, &err), "h5 x");
    CHECK(kpf_h5_write_traj(h, "/y_target", B, T, N_OUT, c->batch.y, &err), "h5 y");
    CHECK(kpf_h5_write_traj(h, "/mask", B, T, 0, c->batch.mask, &err), "h5 mask");
    CHECK(kpf_h5_write_traj(h, "/q", B, T, n, c->q, &err), "h5 q");
}

static double case_dgemm; /* dgemm 1024³ GFLOP/s sampled just before the case */

static void put_row(FILE *tsv, bcase *c, const char *row, double med, double mn, int reps,
                    double fl)
{
    fprintf(tsv, "%s\t%zu\t%zu\t%s\t%.6e\t%.6e\t%d\t%.6e\t%.3f\n", c->name, c->B, c->T, row,
            med, mn, reps, fl, case_dgemm);
    fflush(tsv);
    fprintf(stderr, "  %-4s B=%-3zu T=%-3zu %-9s median %9.3f ms  (%s%.1f GFLOP/s)\n", c->name,
            c->B, c->T, row, 1e3 * med, fl > 0 ? "" : "n/a ", fl > 0 ? fl / med * 1e-9 : 0.0);
}

static double dgemm_rate(int M, int N, int Kd, int reps);

static void run_case(FILE *tsv, const char *outdir, const kpf_plugin *pl, const char *name,
                     size_t n, size_t B, size_t T, int reps, int spec_reps, int do_spec)
{
    kpf_error err = {0};
    /* The roofline beside this case's rows: on a shared machine the rate
     * drifts, so it is sampled again for every case. */
    case_dgemm = dgemm_rate(1024, 1024, 1024, 3);
    bcase c;
    case_setup(&c, pl, name, n, B, T);
    flops fl = count_flops(name, n, B, T);
    size_t R = B * T;
    char path[512];
    snprintf(path, sizeof path, "%s/%s_B%zu_T%zu.h5", outdir, name, B, T);
    kpf_h5 *h = NULL;
    CHECK(kpf_h5_create_trunc(path, &h, &err), "h5 create");
    write_inputs(h, &c);

    double med, mn;
    /* forward simulation (tape included) */
    int k = time_it(f_forward, &c, 1, reps, 3, ROW_BUDGET, &med, &mn);
    put_row(tsv, &c, "forward", med, mn, k, fl.fwd);
    CHECK(kpf_h5_write_traj(h, "/kpf/z", B, T, n, c.tr->z, &err), "h5 z");

    /* operators along the simulated trajectory */
    CHECK(kpf_op_param(c.m, c.tr, &c.K, &err), "K");
    CHECK(kpf_op_propagator(c.m, c.tr, &c.P, &err), "P");
    CHECK(kpf_op_propagator_adjoint(c.m, c.tr, &c.Ps, &err), "P*");
    k = time_it(f_kq, &c, 1, reps, 3, ROW_BUDGET, &med, &mn);
    put_row(tsv, &c, "Kq", med, mn, k, fl.kq);
    CHECK(kpf_h5_write_traj(h, "/kpf/Kq", B, T, n, c.out, &err), "h5 Kq");
    k = time_it(f_pq, &c, 1, reps, 3, ROW_BUDGET, &med, &mn);
    put_row(tsv, &c, "Pq", med, mn, k, fl.pq);
    CHECK(kpf_h5_write_traj(h, "/kpf/Pq", B, T, n, c.out, &err), "h5 Pq");
    k = time_it(f_psq, &c, 1, reps, 3, ROW_BUDGET, &med, &mn);
    put_row(tsv, &c, "Pstarq", med, mn, k, fl.psq);
    CHECK(kpf_h5_write_traj(h, "/kpf/Pstarq", B, T, n, c.out, &err), "h5 P*q");

    if (do_spec) {
        c.cst.inner = c.K;
        kpf_space sp = c.K->in;
        CHECK(kpf_op_new(&count_type, sp, sp, &c.cst, &c.Kc, &err), "counted K");
        c.cst.n_apply = 0;
        k = time_it(f_spectrum, &c, 0, spec_reps, 1, SPEC_BUDGET, &med, &mn);
        double per_solve = (double)c.cst.n_apply / k;
        put_row(tsv, &c, "spectrum", med, mn, k, per_solve * fl.kq);
        size_t k = K_SPEC;
        CHECK(kpf_h5_write(h, "/kpf/spectrum", 1, &k, c.spec, &err), "h5 spectrum");
        CHECK(kpf_h5_attr_double(h, "/kpf/spectrum", "K_applications", per_solve, &err),
              "h5 attr");
        fprintf(stderr, "  (spectrum: %.0f K applications per solve, ncv %zu)\n", per_solve,
                spec_ncv ? spec_ncv : (size_t)(2 * K_SPEC + 1));
    }

    /* training: the first (warm-up) iteration is the exported one */
    CHECK(kpf_grad_ws_alloc(c.m, B, T, &c.ws, &err), "grad ws");
    CHECK(kpf_optim_alloc(KPF_OPTIM_ADAM, c.m->m, LR, &c.opt, &err), "optim");
    CHECK(kpf_loss_grad(c.m, &c.batch, 0, c.ws, &c.loss, c.grad, &err), "loss_grad");
    size_t dm = c.m->m;
    CHECK(kpf_h5_write(h, "/kpf/grad", 1, &dm, c.grad, &err), "h5 grad");
    size_t one = 1;
    CHECK(kpf_h5_write(h, "/kpf/loss", 1, &one, &c.loss, &err), "h5 loss");
    CHECK(kpf_optim_step(c.opt, c.m->theta, c.grad, &err), "optim step");
    CHECK(kpf_model_theta_changed(c.m, &err), "prepare");
    CHECK(kpf_h5_write(h, "/kpf/theta_after", 1, &dm, c.m->theta, &err), "h5 theta'");
    k = time_it(f_train, &c, 0, reps, 3, ROW_BUDGET, &med, &mn);
    put_row(tsv, &c, "train", med, mn, k, fl.train);
    (void)R;

    CHECK(kpf_h5_close(h, &err), "h5 close");
    case_free(&c);
}

/* ---- hh: steps per second of a Hodgkin–Huxley network ---------------------- */

#define HH_B 30

/* Times kpf_simulate (tape included) of hh with N neurons, B = 30 trials,
 * RK4, T steps; inputs N(0, 1).  Skipped when the plugin is absent. */
static void hh_row(kpf_registry *reg, const char *outdir, size_t N, size_t T, int reps)
{
    kpf_error err = {0};
    const kpf_plugin *pl = NULL;
    if (N == 0 || kpf_registry_find(reg, "hh", &pl, &err)) {
        fprintf(stderr, "  (hh row skipped)\n");
        return;
    }
    char yaml[64];
    snprintf(yaml, sizeof yaml, "n: %zu\nstep: rk4\n", N);
    kpf_config *cfg = NULL;
    bcase c;
    memset(&c, 0, sizeof c);
    CHECK(kpf_config_load_string(yaml, "bench hh", &cfg, &err), "hh config");
    CHECK(kpf_model_create(pl, kpf_config_root(cfg), N_IN, N_OUT, HH_B, SEED_MODEL, &c.m,
                           &err),
          "hh create");
    kpf_config_free(cfg);
    CHECK(kpf_model_theta_changed(c.m, &err), "hh prepare");
    CHECK(kpf_traj_alloc(c.m, HH_B, T, &c.tr, &err), "hh traj");
    gsl_rng *rng = NULL;
    CHECK(kpf_rng_alloc(SEED_DATA, KPF_RNG_DATA, &rng, &err), "rng");
    for (size_t i = 0; i < HH_B * T * N_IN; i++)
        c.tr->x[i] = gsl_ran_gaussian(rng, 1.0);
    gsl_rng_free(rng);
    double med, mn;
    int k = time_it(f_forward, &c, 1, reps, 3, ROW_BUDGET, &med, &mn);
    char path[512];
    snprintf(path, sizeof path, "%s/hh_times.tsv", outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "model\tN\tB\tT\tstepper\tmedian_s\tmin_s\treps\tsteps_per_s\n");
    fprintf(f, "hh\t%zu\t%d\t%zu\trk4\t%.6g\t%.6g\t%d\t%.6g\n", N, HH_B, T, med, mn, k,
            (double)T / med);
    fclose(f);
    fprintf(stderr, "  hh N=%zu B=%d T=%zu rk4: %.2f ms, %.0f steps/s\n", N, HH_B, T,
            1e3 * med, (double)T / med);
    kpf_traj_free(c.tr);
    kpf_model_free(c.m);
}

/* ---- dgemm roofline -------------------------------------------------------- */

static double dgemm_rate(int M, int N, int Kd, int reps)
{
    double *A = malloc((size_t)M * Kd * sizeof(double));
    double *Bm = malloc((size_t)Kd * N * sizeof(double));
    double *C = malloc((size_t)M * N * sizeof(double));
    for (size_t i = 0; i < (size_t)M * Kd; i++)
        A[i] = (double)(i % 7) * 0.1 - 0.3;
    for (size_t i = 0; i < (size_t)Kd * N; i++)
        Bm[i] = (double)(i % 5) * 0.2 - 0.4;
    memset(C, 0, (size_t)M * N * sizeof(double));
    double *t = malloc((size_t)reps * sizeof *t);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, Kd, 1.0, A, Kd, Bm, N, 0.0, C,
                N);
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, Kd, 1.0, A, Kd, Bm, N,
                    0.0, C, N);
        t[i] = now() - t0;
    }
    double rate = 2.0 * M * N * (double)Kd / median(t, reps) * 1e-9;
    free(A);
    free(Bm);
    free(C);
    free(t);
    return rate;
}

static void roofline(const char *outdir, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/roofline.tsv", outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    struct {
        const char *label;
        int M, N, K, reps;
    } shapes[] = {
        {"dgemm_1024", 1024, 1024, 1024, 7},
        {"dgemm_step_B30", 30, (int)n, (int)n, 200},
        {"dgemm_step_B200", 200, (int)n, (int)n, 50},
        {"dgemm_allrows_B30", (int)n, (int)n, 30 * 90, 20},
        {"dgemm_allrows_B200", (int)n, (int)n, 200 * 90, 7},
    };
    fprintf(f, "label\tM\tN\tK\tgflops\tthreads\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        double r = dgemm_rate(shapes[i].M, shapes[i].N, shapes[i].K, shapes[i].reps);
        fprintf(f, "%s\t%d\t%d\t%d\t%.3f\t%d\n", shapes[i].label, shapes[i].M, shapes[i].N,
                shapes[i].K, r, openblas_get_num_threads());
        fprintf(stderr, "  %-20s %5d x %5d x %5d  %7.1f GFLOP/s\n", shapes[i].label,
                shapes[i].M, shapes[i].N, shapes[i].K, r);
    }
    fclose(f);
}

/* ---- memory mode ----------------------------------------------------------- */

static int mem_mode(kpf_registry *reg, const char *name, size_t n, size_t B, size_t T,
                    const char *op)
{
    kpf_error err = {0};
    const kpf_plugin *pl = find_plugin(reg, name);
    long base = vm_kb("VmRSS");
    bcase c;
    case_setup(&c, pl, name, n, B, T);
    kpf_op *A = NULL;
    if (strcmp(op, "Kq") == 0)
        CHECK(kpf_op_param(c.m, c.tr, &A, &err), "K");
    else if (strcmp(op, "Pq") == 0)
        CHECK(kpf_op_propagator(c.m, c.tr, &A, &err), "P");
    else if (strcmp(op, "Pstarq") == 0)
        CHECK(kpf_op_propagator_adjoint(c.m, c.tr, &A, &err), "P*");
    else {
        fprintf(stderr, "kpf_bench mem: unknown op '%s'\n", op);
        return 2;
    }
    CHECK(kpf_op_apply(A, c.q, c.out, &err), "apply");
    long peak = vm_kb("VmHWM");
    printf("MEM\t%s\t%zu\t%zu\t%s\t%ld\t%ld\n", name, B, T, op, base, peak);
    kpf_op_free(A);
    case_free(&c);
    return 0;
}

/* ---- main -------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: kpf_bench run --plugins DIR --out DIR [--models rnn,gru] [--reps N]\n"
            "                     [--spec-reps N] [--n N] [--T-long T] [--B-list 30,200]\n"
            "                     [--ncv N] [--spec-B-max B] [--hh-n N] [--hh-T T]\n"
            "       kpf_bench mem --plugins DIR MODEL B T Kq|Pq|Pstarq [--n N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    const char *plugdir = NULL, *outdir = NULL, *models = "rnn";
    const char *blist = "30,200";
    int reps = 5, spec_reps = 3;
    size_t n = 256, T = 90, T_long = 360, spec_B_max = (size_t)-1;
    size_t hh_n = 100, hh_T = 1000;
    const char *pos[8];
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--plugins") && v) plugdir = v, i++;
        else if (!strcmp(a, "--out") && v) outdir = v, i++;
        else if (!strcmp(a, "--models") && v) models = v, i++;
        else if (!strcmp(a, "--reps") && v) reps = atoi(v), i++;
        else if (!strcmp(a, "--spec-reps") && v) spec_reps = atoi(v), i++;
        else if (!strcmp(a, "--n") && v) n = (size_t)atol(v), i++;
        else if (!strcmp(a, "--T-long") && v) T_long = (size_t)atol(v), i++;
        else if (!strcmp(a, "--B-list") && v) blist = v, i++;
        else if (!strcmp(a, "--ncv") && v) spec_ncv = (size_t)atol(v), i++;
        else if (!strcmp(a, "--spec-B-max") && v) spec_B_max = (size_t)atol(v), i++;
        else if (!strcmp(a, "--hh-n") && v) hh_n = (size_t)atol(v), i++;
        else if (!strcmp(a, "--hh-T") && v) hh_T = (size_t)atol(v), i++;
        else if (a[0] != '-' && npos < 8) pos[npos++] = a;
        else usage();
    }
    if (!plugdir || reps < 1 || spec_reps < 1)
        usage();
    kpf_error err = {0};
    kpf_registry *reg = NULL;
    CHECK(kpf_registry_alloc(&reg, &err), "registry");
    CHECK(kpf_registry_scan(reg, plugdir, &err), "plugin scan");

    if (!strcmp(mode, "mem")) {
        if (npos != 4)
            usage();
        int rc = mem_mode(reg, pos[0], n, (size_t)atol(pos[1]), (size_t)atol(pos[2]), pos[3]);
        kpf_registry_free(reg);
        return rc;
    }
    if (strcmp(mode, "run") || !outdir)
        usage();

    fprintf(stderr, "kpf_bench: OpenBLAS threads %d\n", openblas_get_num_threads());
    roofline(outdir, n);
    char path[512];
    snprintf(path, sizeof path, "%s/kpf_times.tsv", outdir);
    FILE *tsv = fopen(path, "w");
    if (!tsv) {
        perror(path);
        return 1;
    }
    fprintf(tsv, "model\tB\tT\trow\tmedian_s\tmin_s\treps\tflops\tdgemm_gflops\n");
    size_t Bs[8];
    int nB = 0;
    for (char *s = (char *)blist; *s && nB < 8;) {
        Bs[nB++] = (size_t)strtoul(s, &s, 10);
        if (*s == ',')
            s++;
    }
    char *mlist = strdup(models);
    for (char *save = NULL, *name = strtok_r(mlist, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        const kpf_plugin *pl = find_plugin(reg, name);
        for (int i = 0; i < nB; i++)
            run_case(tsv, outdir, pl, name, n, Bs[i], T, reps, spec_reps,
                     Bs[i] <= spec_B_max);
        for (int i = 0; i < nB; i++)
            run_case(tsv, outdir, pl, name, n, Bs[i], T_long, reps, spec_reps, 0);
    }
    free(mlist);
    fclose(tsv);
    hh_row(reg, outdir, hh_n, hh_T, reps);
    kpf_registry_free(reg);
    return 0;
}
