/* mpi_trials CHECK: trial-parallel results against the one-process ones,
 * run under mpirun by test_mpi.c (one CHECK per test).  Every rank builds
 * the whole problem alone (the reference, comm NULL) and its own share of
 * it (split over the world communicator), applies both, and compares its
 * block of the split result with the same trials of the whole one; the
 * worst relative difference over the ranks is printed by rank 0 as
 *     NAME rel=<max|split − whole| / max|whole|>
 * and the program exits 0 when every difference is within its bound, 1
 * otherwise, 2 on bad usage (every rank alike).
 *
 * CHECK: ops (K·q, K_j·q, P·q, P*·q, P K P*·q, ⟨Kq, q⟩), spectra (top-k of
 * K by PARPACK, consensus spectra over time on the split space and over
 * trials, whole on every rank), train (one step and a short run, θ identical
 * on every rank, KPF_REDUCE_ORDERED bitwise reproducible), toofew (fewer
 * trials than ranks: an error naming both, exit 2 on every rank). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/comm.h"
#include "kpf/kpflow.h"
#include "kpf/plugin.h"
#include "kpf/spectral.h"
#include "kpf/train.h"

#define B_TRIALS 7 /* uneven over 3 ranks: 3, 2, 2 */
#define T_STEPS 12

/* A GRU: the rnn plugin's K is (ΦΦᵀ + XXᵀ) ⊗ I_n, every eigenvalue n-fold,
 * so its eigenvectors are not unique and could not be compared. */
static const char *yaml = "model: {n: 10}\n"
                          "task: {name: memory_pro, t_stim: 4, t_memory: 4, t_response: 4,\n"
                          "       n_conditions: 4}\n";

typedef struct fx {
    kpf_comm *world;
    kpf_registry *reg;
    kpf_config *cfg;
    kpf_task *task;
    kpf_model *M;
    kpf_traj *whole, *part;
    size_t lo; /* this rank's first trial */
    int failed;
    kpf_error err;
} fx;

static int me(const fx *f) { return kpf_comm_rank(f->world); }

/* A failed call: say so on this rank and stop everywhere (nothing here can
 * recover; the exit status tells the test). */
static void die(fx *f, const char *what)
{
    fprintf(stderr, "rank %d: %s: %s\n", me(f), what, f->err.msg);
    exit(1);
}
#define OK(call, what) \
    do { \
        if ((call) != KPF_OK) \
            die(f, what); \
    } while (0)

static void report(fx *f, const char *name, double rel, double bound)
{
    if (kpf_comm_max(f->world, &rel, &f->err))
        die(f, "max over ranks");
    int pass = rel <= bound;
    f->failed |= !pass;
    if (me(f) == 0)
        printf("%-28s rel=%.3e (bound %.0e) %s\n", name, rel, bound, pass ? "ok" : "FAIL");
}

/* max|loc − whole's trials lo… | and max|whole| for a [T][B][n] vector. */
static double slice_rel(const fx *f, const double *loc, const double *whole, size_t T, size_t n)
{
    size_t Bl = f->part->B, B = f->whole->B;
    double d = 0, s = 0;
    for (size_t i = 0; i < T * B * n; i++)
        s = fmax(s, fabs(whole[i]));
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < Bl; b++)
            for (size_t i = 0; i < n; i++)
                d = fmax(d, fabs(loc[(t * Bl + b) * n + i] - whole[(t * B + f->lo + b) * n + i]));
    return s > 0 ? d / s : d;
}

static void take_slice(const fx *f, const double *whole, double *loc, size_t T, size_t n)
{
    size_t Bl = f->part->B, B = f->whole->B;
    for (size_t t = 0; t < T; t++)
        memcpy(loc + t * Bl * n, whole + (t * B + f->lo) * n, Bl * n * sizeof(double));
}

static void setup(fx *f, size_t B)
{
    const kpf_plugin *p = NULL;
    OK(kpf_registry_alloc(&f->reg, &f->err), "registry");
    OK(kpf_registry_scan(f->reg, KPF_BUILD_PLUGIN_DIR, &f->err), "plugin scan");
    OK(kpf_registry_find(f->reg, "gru", &p, &f->err), "find gru");
    OK(kpf_config_load_string(yaml, "mpi_trials.yaml", &f->cfg, &f->err), "config");
    const kpf_node *root = kpf_config_root(f->cfg);
    OK(kpf_task_create(kpf_node_get(root, "task"), &f->task, &f->err), "task");
    OK(kpf_model_create(p, kpf_node_get(root, "model"), f->task->n_in, f->task->n_out, B, 5,
                        &f->M, &f->err),
       "model");
    OK(kpf_traj_alloc(f->M, B, T_STEPS, &f->whole, &f->err), "whole trajectory");
    int rc = kpf_traj_alloc_part(f->M, f->world, B, T_STEPS, &f->part, &f->err);
    if (rc) { /* the same on every rank: no one waits */
        fprintf(stderr, "kpf: rank %d: %s\n", me(f), f->err.msg);
        kpf_comm_finalize(f->world);
        exit(2);
    }
    f->lo = f->part->trial[0];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    for (size_t i = 0; i < B * T_STEPS * f->M->n_in; i++)
        f->whole->x[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    take_slice(f, f->whole->x, f->part->x, T_STEPS, f->M->n_in);
    OK(kpf_simulate(f->M, f->whole, &f->err), "simulate whole");
    OK(kpf_simulate(f->M, f->part, &f->err), "simulate part");
    report(f, "simulation z", slice_rel(f, f->part->z, f->whole->z, T_STEPS, f->M->n), 0);
}

typedef int (*op_ctor)(kpf_model *, const kpf_traj *, kpf_op **, kpf_error *);

static int make_Kj(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err)
{
    return kpf_op_param_block(m, tr, "weight_hh", out, err);
}

/* The operator built on both trajectories, applied to the same vector. */
static void compare_op(fx *f, const char *name, op_ctor make, int adjoint)
{
    kpf_op *W = NULL, *S = NULL;
    OK(make(f->M, f->whole, &W, &f->err), name);
    OK(make(f->M, f->part, &S, &f->err), name);
    const kpf_space *wi = adjoint ? &W->out : &W->in, *wo = adjoint ? &W->in : &W->out;
    const kpf_space *si = adjoint ? &S->out : &S->in, *so = adjoint ? &S->in : &S->out;
    size_t nwi = kpf_space_size(wi), nwo = kpf_space_size(wo);
    double *q = malloc(nwi * sizeof(double)), *y = malloc(nwo * sizeof(double));
    double *ql = malloc(kpf_space_size(si) * sizeof(double));
    double *yl = malloc(kpf_space_size(so) * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    for (size_t i = 0; i < nwi; i++)
        q[i] = gsl_ran_gaussian(r, 1.0);
    take_slice(f, q, ql, wi->T, wi->n);
    int (*ap)(kpf_op *, const double *, double *, kpf_error *) =
        adjoint ? kpf_op_apply_adjoint : kpf_op_apply;
    OK(ap(W, q, y, &f->err), name);
    OK(ap(S, ql, yl, &f->err), name);
    report(f, name, slice_rel(f, yl, y, wo->T, wo->n), 1e-12);
    if (!adjoint && kpf_space_equal(wi, wo)) { /* the inner product sums over ranks */
        double dw = kpf_space_dot(wo, y, q), ds = kpf_space_dot(so, yl, ql);
        char what[64];
        snprintf(what, sizeof what, "<%s, q>", name);
        report(f, what, fabs(ds - dw) / fabs(dw), 1e-12);
    }
    free(q), free(y), free(ql), free(yl);
    gsl_rng_free(r);
    kpf_op_free(W);
    kpf_op_free(S);
}

static void check_ops(fx *f)
{
    setup(f, B_TRIALS);
    compare_op(f, "K q", kpf_op_param, 0);
    compare_op(f, "K_hh q", make_Kj, 0);
    compare_op(f, "P q", kpf_op_propagator, 0);
    compare_op(f, "P* q", kpf_op_propagator, 1);
    compare_op(f, "P K P* q", kpf_op_pkp, 0);
    compare_op(f, "W (readout) q", kpf_op_readout, 0);
}

static double vals_rel(const double *a, const double *b, size_t k)
{
    double d = 0;
    for (size_t i = 0; i < k; i++)
        d = fmax(d, fabs(a[i] - b[i]) / fabs(b[i]));
    return d;
}

static void check_spectra(fx *f)
{
    setup(f, B_TRIALS);
    enum { K = 4 };
    kpf_op *W = NULL, *S = NULL, *PW = NULL, *PS = NULL;
    OK(kpf_op_param(f->M, f->whole, &W, &f->err), "K");
    OK(kpf_op_param(f->M, f->part, &S, &f->err), "K");
    size_t nw = kpf_space_size(&W->in), ns = kpf_space_size(&S->in);
    double vw[K], vs[K], *Vw = malloc(K * nw * sizeof(double)), *Vs = malloc(K * ns * sizeof(double));
    kpf_eig_opts o = kpf_eig_opts_default();
    o.seed = 9;
    OK(kpf_eigsh(W, K, &o, vw, Vw, NULL, &f->err), "eigsh whole");
    OK(kpf_eigsh(S, K, &o, vs, Vs, NULL, &f->err), "eigsh split (PARPACK)");
    report(f, "eigsh(K) values", vals_rel(vs, vw, K), 1e-12);
    double vrel = 0;
    for (size_t i = 0; i < K; i++)
        vrel = fmax(vrel, slice_rel(f, Vs + i * ns, Vw + i * nw, T_STEPS, f->M->n));
    report(f, "eigsh(K) vectors", vrel, 1e-11);
    /* over time: the reduced space is still split (PARPACK) */
    double sw[K], ss[K];
    OK(kpf_consensus_svds(W, KPF_AXIS_TIME, K, &o, sw, NULL, NULL, &f->err), "consensus whole");
    OK(kpf_consensus_svds(S, KPF_AXIS_TIME, K, &o, ss, NULL, NULL, &f->err), "consensus split");
    report(f, "consensus svds(K; time)", vals_rel(ss, sw, K), 1e-12);
    /* over trials: whole on every rank; the trial mean is summed over ranks */
    OK(kpf_op_propagator(f->M, f->whole, &PW, &f->err), "P");
    OK(kpf_op_propagator(f->M, f->part, &PS, &f->err), "P");
    OK(kpf_consensus_gram(PW, KPF_AXIS_TRIAL, K, &o, sw, NULL, &f->err), "gram whole");
    OK(kpf_consensus_gram(PS, KPF_AXIS_TRIAL, K, &o, ss, NULL, &f->err), "gram split");
    report(f, "consensus gram(P; trials)", vals_rel(ss, sw, K), 1e-12);
    OK(kpf_consensus_svds(S, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, 2, &o, ss, NULL, NULL, &f->err),
       "consensus split trials+units");
    OK(kpf_consensus_svds(W, KPF_AXIS_TRIAL | KPF_AXIS_UNIT, 2, &o, sw, NULL, NULL, &f->err),
       "consensus whole trials+units");
    report(f, "consensus svds(K; trials,units)", vals_rel(ss, sw, 2), 1e-12);
    free(Vw), free(Vs);
    kpf_op_free(W), kpf_op_free(S), kpf_op_free(PW), kpf_op_free(PS);
}

/* A fresh model trained for `iters` iterations, alone or data-parallel. */
static kpf_model *trained(fx *f, size_t iters, const kpf_comm *comm, kpf_train_history *h)
{
    const kpf_plugin *p = NULL;
    kpf_model *m = NULL;
    OK(kpf_registry_find(f->reg, "gru", &p, &f->err), "find gru");
    OK(kpf_model_create(p, kpf_node_get(kpf_config_root(f->cfg), "model"), f->task->n_in,
                        f->task->n_out, B_TRIALS, 5, &m, &f->err),
       "model");
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    o.iterations = iters;
    o.batch = B_TRIALS;
    o.eval_trials = 5;
    o.eval_every = 5;
    o.lr = 0.01;
    o.seed = 21;
    o.comm = comm;
    memset(h, 0, sizeof *h);
    OK(kpf_train(m, f->task, &o, NULL, NULL, h, &f->err), comm ? "train split" : "train whole");
    return m;
}

static double theta_rel(const kpf_model *a, const kpf_model *b)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < a->m; i++) {
        d = fmax(d, fabs(a->theta[i] - b->theta[i]));
        s = fmax(s, fabs(b->theta[i]));
    }
    return d / s;
}

/* 1 when θ is the same bits on every rank (rank 0's θ broadcast). */
static int same_everywhere(fx *f, const kpf_model *m)
{
    double *t0 = malloc(m->m * sizeof(double));
    memcpy(t0, m->theta, m->m * sizeof(double));
    OK(kpf_comm_bcast(f->world, t0, m->m * sizeof(double), 0, &f->err), "bcast");
    double differs = memcmp(t0, m->theta, m->m * sizeof(double)) != 0;
    OK(kpf_comm_max(f->world, &differs, &f->err), "max");
    free(t0);
    return differs == 0;
}

static void check_train(fx *f)
{
    setup(f, B_TRIALS);
    kpf_train_history hw, hs;
    for (size_t iters = 1; iters <= 15; iters += 14) {
        kpf_model *W = trained(f, iters, NULL, &hw), *S = trained(f, iters, f->world, &hs);
        char name[64];
        snprintf(name, sizeof name, "train %zu iteration%s: theta", iters, iters > 1 ? "s" : "");
        report(f, name, theta_rel(S, W), 1e-12);
        report(f, "  train loss history", vals_rel(hs.loss, hw.loss, hw.n_iter), 1e-12);
        report(f, "  eval loss history", vals_rel(hs.eval_loss, hw.eval_loss, hw.n_eval), 1e-12);
        report(f, "  theta identical on all ranks", same_everywhere(f, S) ? 0 : 1, 0);
        kpf_train_history_free(&hw), kpf_train_history_free(&hs);
        kpf_model_free(W), kpf_model_free(S);
    }
    kpf_comm_set_order(f->world, KPF_REDUCE_ORDERED);
    kpf_model *A = trained(f, 15, f->world, &hw), *B = trained(f, 15, f->world, &hs);
    report(f, "ordered: two runs bitwise", memcmp(A->theta, B->theta, A->m * sizeof(double)) != 0,
           0);
    kpf_model *W = trained(f, 15, NULL, &hw);
    report(f, "ordered: vs one process", theta_rel(A, W), 1e-12);
    kpf_comm_set_order(f->world, KPF_REDUCE_FAST);
    kpf_model_free(A), kpf_model_free(B), kpf_model_free(W);
    kpf_train_history_free(&hw), kpf_train_history_free(&hs);
}

int main(int argc, char **argv)
{
    fx F = {0}, *f = &F;
    if (kpf_comm_init(&argc, &argv, &f->world, &f->err))
        die(f, "MPI");
    const char *check = argc > 1 ? argv[1] : "";
    if (!strcmp(check, "ops"))
        check_ops(f);
    else if (!strcmp(check, "spectra"))
        check_spectra(f);
    else if (!strcmp(check, "train"))
        check_train(f);
    else if (!strcmp(check, "toofew"))
        setup(f, (size_t)kpf_comm_size(f->world) - 1);
    else {
        fprintf(stderr, "usage: mpi_trials ops|spectra|train|toofew\n");
        kpf_comm_finalize(f->world);
        return 2;
    }
    kpf_traj_free(f->whole);
    kpf_traj_free(f->part);
    kpf_model_free(f->M);
    kpf_task_free(f->task);
    kpf_config_free(f->cfg);
    kpf_registry_free(f->reg);
    kpf_comm_finalize(f->world);
    return f->failed;
}
