/* mpi_bench — trial-parallel kpf on N ranks (bench/mpi_scaling.sh drives it
 * under mpirun -np 1 and -np 2; docs/performance.md, "Scale-out on MPI").
 *
 *   mpirun -np N mpi_bench --plugins DIR [--model gru] [--n 64] [--B 64]
 *                          [--T 60] [--reps 5] [--ordered 0|1]
 *
 * --ordered 1: the sums in rank order (KPF_REDUCE_ORDERED), to price it.
 *
 * The B trials are split over the N ranks (kpf_traj_alloc_part).  Times,
 * each the median over reps of the slowest rank (a barrier before each):
 *   simulate   the forward simulation of this rank's trials
 *   Kq         one K·q (local J_θᵀ pass, Allreduce of m values, local J_θ)
 *   Pq         one P·q (local; no communication)
 *   train      one data-parallel training step (kpf_train over 10 steps:
 *              whole-batch draw, local loss and gradient, one Allreduce
 *              of m + 3 values per step; its two tiny evaluations included)
 * and for each: the payload this rank handed to MPI per application
 * (kpf_comm_traffic) and, at the end, every rank's peak resident memory
 * (VmHWM), of which the largest is printed, and the largest growth since
 * before the trajectory was allocated (what the run's data take: the part
 * that scales with B/N).  One TSV line per row on rank 0:
 *   ranks model n m B T row median_s min_s cpu_s bytes_per_op peak_rss_kB grown_kB
 * (cpu_s: the median of the busiest rank's CPU time, the work per rank
 * whatever else the machine runs; MPI's busy-waiting in a collective counts
 * as CPU time too)
 * (peak and growth so far: rows come in order simulate, Kq, Pq, train). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/comm.h"
#include "kpf/kpflow.h"
#include "kpf/plugin.h"
#include "kpf/train.h"

/* Steps per timed kpf_train call: its set-up and its two evaluations (at 0
 * and at the end, on N trials) are then a small share of the time. */
#define TRAIN_STEPS 10

typedef struct opts {
    const char *plugins, *model;
    size_t n, B, T;
    int reps, ordered;
} opts;

typedef struct bench {
    opts o;
    kpf_comm *world;
    kpf_registry *reg;
    kpf_config *cfg;
    kpf_task *task;
    kpf_model *M;
    kpf_traj *tr;
    double base_kb; /* VmHWM before the trajectory: MPI, libraries, model */
    kpf_error err;
} bench;

static void die(bench *b, const char *what)
{
    fprintf(stderr, "mpi_bench rank %d: %s: %s\n", kpf_comm_rank(b->world), what, b->err.msg);
    exit(1);
}
#define OK(call, what) \
    do { \
        if ((call) != KPF_OK) \
            die(b, what); \
    } while (0)

static double clock_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) { return clock_of(CLOCK_MONOTONIC); }

/* This process's CPU time (all its threads): the work a rank does,
 * whatever else the machine is running. */
static double cpu_now(void) { return clock_of(CLOCK_PROCESS_CPUTIME_ID); }

static long peak_rss_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (!strncmp(line, "VmHWM:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (fp)
        fclose(fp);
    return kb;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef int (*step_fn)(bench *b, void *ctx);

/* Median and minimum over reps of the slowest rank's time; payload bytes
 * per call to fn; each divided by `per` (the steps one call makes). */
static void measure(bench *b, const char *row, step_fn fn, void *ctx, int per)
{
    double t[64], c[64];
    int reps = b->o.reps < 64 ? b->o.reps : 64;
    uint64_t b0, b1;
    OK(fn(b, ctx), row); /* warm-up */
    kpf_comm_traffic(b->world, NULL, &b0);
    for (int r = 0; r < reps; r++) {
        OK(kpf_comm_barrier(b->world, &b->err), "barrier");
        double t0 = now(), c0 = cpu_now();
        OK(fn(b, ctx), row);
        t[r] = now() - t0;
        c[r] = cpu_now() - c0;
        OK(kpf_comm_max(b->world, &t[r], &b->err), "max");
        OK(kpf_comm_max(b->world, &c[r], &b->err), "max");
    }
    kpf_comm_traffic(b->world, NULL, &b1);
    /* the barrier and the two maxima of each rep are the benchmark's */
    uint64_t own = (uint64_t)reps * (kpf_comm_size(b->world) > 1 ? 16 : 0);
    double bytes = (double)(b1 - b0 - own) / reps / per;
    for (int r = 0; r < reps; r++)
        t[r] /= per, c[r] /= per;
    qsort(t, (size_t)reps, sizeof t[0], cmp);
    qsort(c, (size_t)reps, sizeof c[0], cmp);
    double rss = (double)peak_rss_kb(), grown = rss - b->base_kb;
    OK(kpf_comm_max(b->world, &rss, &b->err), "max");
    OK(kpf_comm_max(b->world, &grown, &b->err), "max");
    if (kpf_comm_rank(b->world) == 0)
        printf("%d\t%s\t%zu\t%zu\t%zu\t%zu\t%s\t%.6g\t%.6g\t%.6g\t%.0f\t%.0f\t%.0f\n",
               kpf_comm_size(b->world), b->o.model, b->o.n, b->M->m, b->o.B, b->o.T, row,
               t[reps / 2], t[0], c[reps / 2], bytes, rss, grown);
    fflush(stdout);
}

static int do_simulate(bench *b, void *ctx) { return kpf_simulate(b->M, b->tr, &b->err); }

static int do_apply(bench *b, void *ctx)
{
    kpf_op *op = ((void **)ctx)[0];
    return kpf_op_apply(op, ((void **)ctx)[1], ((void **)ctx)[2], &b->err);
}

static int do_train(bench *b, void *ctx)
{
    kpf_train_opts *o = ctx;
    kpf_train_history h = {0};
    int rc = kpf_train(b->M, b->task, o, NULL, NULL, &h, &b->err);
    kpf_train_history_free(&h);
    return rc;
}

static void setup(bench *b)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "model: {n: %zu}\n"
             "task: {name: memory_pro, t_stim: %zu, t_memory: %zu, t_response: %zu}\n",
             b->o.n, b->o.T / 3, b->o.T / 3, b->o.T - 2 * (b->o.T / 3));
    const kpf_plugin *p = NULL;
    OK(kpf_registry_alloc(&b->reg, &b->err), "registry");
    OK(kpf_registry_scan(b->reg, b->o.plugins, &b->err), "scan");
    OK(kpf_registry_find(b->reg, b->o.model, &p, &b->err), "model");
    OK(kpf_config_load_string(yaml, "mpi_bench.yaml", &b->cfg, &b->err), "config");
    const kpf_node *root = kpf_config_root(b->cfg);
    OK(kpf_task_create(kpf_node_get(root, "task"), &b->task, &b->err), "task");
    OK(kpf_model_create(p, kpf_node_get(root, "model"), b->task->n_in, b->task->n_out, b->o.B, 1,
                        &b->M, &b->err),
       "model");
    b->base_kb = (double)peak_rss_kb();
    OK(kpf_traj_alloc_part(b->M, b->world, b->o.B, b->task->T, &b->tr, &b->err), "trajectory");
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 1 + (unsigned long)b->tr->trial[0]);
    for (size_t i = 0; i < b->tr->B * b->tr->T * b->M->n_in; i++)
        b->tr->x[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
}

static void run(bench *b)
{
    setup(b);
    measure(b, "simulate", do_simulate, NULL, 1);
    kpf_op *K = NULL, *P = NULL;
    OK(kpf_op_param(b->M, b->tr, &K, &b->err), "K");
    OK(kpf_op_propagator(b->M, b->tr, &P, &b->err), "P");
    size_t N = kpf_space_size(&K->in);
    double *q = malloc(N * sizeof(double)), *y = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++)
        q[i] = sin(0.1 * (double)i);
    void *kctx[3] = {K, q, y}, *pctx[3] = {P, q, y};
    measure(b, "Kq", do_apply, kctx, 1);
    measure(b, "Pq", do_apply, pctx, 1);
    kpf_op_free(K);
    kpf_op_free(P);
    free(q);
    free(y);
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    o.iterations = TRAIN_STEPS;
    o.batch = b->o.B;
    o.eval_trials = (size_t)kpf_comm_size(b->world); /* the smallest split */
    o.eval_every = 1000000;
    o.comm = b->world;
    measure(b, "train", do_train, &o, TRAIN_STEPS);
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){NULL, "gru", 64, 64, 60, 5, 0};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--plugins")) o->plugins = v;
        else if (!strcmp(k, "--model")) o->model = v;
        else if (!strcmp(k, "--n")) o->n = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--B")) o->B = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--T")) o->T = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--reps")) o->reps = atoi(v);
        else if (!strcmp(k, "--ordered")) o->ordered = atoi(v);
        else return -1;
    }
    return o->plugins && o->n && o->B && o->T >= 3 && o->reps > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    bench B = {0}, *b = &B;
    if (kpf_comm_init(&argc, &argv, &b->world, &b->err))
        die(b, "MPI");
    if (parse(argc, argv, &b->o)) {
        fprintf(stderr, "usage: mpi_bench --plugins DIR [--model gru] [--n 64] [--B 64] "
                        "[--T 60] [--reps 5] [--ordered 0|1]\n");
        kpf_comm_finalize(b->world);
        return 2;
    }
    if (b->o.ordered)
        kpf_comm_set_order(b->world, KPF_REDUCE_ORDERED);
    run(b);
    kpf_traj_free(b->tr);
    kpf_model_free(b->M);
    kpf_task_free(b->task);
    kpf_config_free(b->cfg);
    kpf_registry_free(b->reg);
    kpf_comm_finalize(b->world);
    return 0;
}
