/* Running a sweep: validate every point, then run the points this
 * invocation owns — all of them, one job-array slice, and under --resume
 * only those without an outcome — one after the other, or dealt out over
 * MPI ranks, and write sweep.csv and the plot from the point folders.  The
 * pieces are in sweep_point.c, sweep_select.c, sweep_farm.c and
 * sweep_table.c (sweep_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/experiment.h"
#include "sweep_internal.h"

/* The config of point i: the file, the command-line overrides, the point. */
static int point_config(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                        kpf_config **cfg, kpf_error *err)
{
    int rc = kpf_config_load_file(a->config, cfg, err);
    for (int k = 0; !rc && k < a->n_sets; k++)
        rc = kpf_config_set(*cfg, a->sets[k], err);
    if (!rc)
        rc = kpf_sweep_apply(sw, i, *cfg, err);
    return rc;
}

static int validate_point(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                          kpf_registry *reg, kpf_error *err)
{
    kpf_config *cfg = NULL;
    kpf_experiment *ex = NULL;
    int rc = point_config(a, sw, i, &cfg, err);
    if (!rc && (rc = kpf_experiment_load(cfg, reg, &ex, err)))
        kpf_sweep_blame(sw, i, err);
    kpf_experiment_free(ex);
    kpf_config_free(cfg);
    return rc;
}

int kpf_cli_sweep_validate(const kpf_cli_sweep_args *a, const kpf_sweep *sw,
                           kpf_registry *reg, kpf_error *err)
{
    for (size_t i = 0; i < sw->n_points; i++) {
        int rc = validate_point(a, sw, i, reg, err);
        if (rc)
            return rc;
    }
    return KPF_OK;
}

/* One process: the points in order, a POINT event after each. */
static size_t run_here(const kpf_cli_sweep_args *a, const kpf_sweep *sw, kpf_registry *reg,
                       const char *dir, const size_t *todo, size_t n)
{
    size_t failed = 0;
    for (size_t j = 0; j < n; j++) {
        char status[64], label[96];
        kpf_cli_point_run(a, sw, todo[j], reg, dir, status, sizeof status);
        failed += strcmp(status, "ok") != 0;
        snprintf(label, sizeof label, "%zu: %s", todo[j], status);
        kpf_progress_send(a->progress, (kpf_progress_event){.kind = KPF_PROGRESS_POINT,
                                                            .name = label, .iteration = j + 1,
                                                            .total = n, .failed = failed});
        if (!a->progress)
            fprintf(stderr, "kpf: sweep point %zu (%zu/%zu done): %s\n", todo[j], j + 1, n,
                    status);
    }
    return failed;
}

/* After a whole sweep (or its resumption): the table from every point. */
static int finish_whole(const kpf_cli_sweep_args *a, const kpf_sweep *sw, const char *dir)
{
    kpf_cli_tally t;
    if (kpf_cli_sweep_table(sw, dir, &t, stderr))
        return KPF_EXIT_FAIL;
    printf("%s/sweep.csv\n", dir);
    if (!a->progress || t.failed || t.missing)
        fprintf(stderr, "kpf: sweep done: %zu points, %zu failed%s\n", sw->n_points,
                t.failed + t.missing, t.missing ? " (some never ran: kpf run --resume DIR)" : "");
    return t.failed || t.missing ? KPF_EXIT_FAIL : KPF_EXIT_OK;
}

int kpf_cli_sweep(const kpf_cli_sweep_args *a, const kpf_sweep *sw, kpf_registry *reg,
                  const char *dir)
{
    kpf_cli_slice s = {a->slice_k, a->slice_n ? a->slice_n : 1};
    size_t *todo = malloc((sw->n_points + 1) * sizeof *todo), failed = 0;
    if (!todo) {
        fprintf(stderr, "kpf: out of memory\n");
        return KPF_EXIT_FAIL;
    }
    /* a slice never runs a point again that has an outcome: a requeued
     * array task finishes its share */
    size_t n = kpf_cli_points_todo(sw, s, dir, a->resume || s.n > 1, todo);
    int rank = kpf_comm_rank(a->comm), rc = KPF_EXIT_OK;
    if (rank == 0 && !n)
        fprintf(stderr, "kpf: every point of %s has an outcome: nothing to run\n",
                s.n > 1 ? "this slice" : "the sweep");
    if (kpf_comm_size(a->comm) > 1) {
        rc = kpf_cli_sweep_farm(a->comm, a, sw, reg, dir, todo, n, &failed) ? KPF_EXIT_FAIL
                                                                            : KPF_EXIT_OK;
        if (rc) /* MPI itself failed: the other ranks may wait for this one */
            kpf_comm_abort(a->comm, KPF_EXIT_FAIL);
    } else
        failed = run_here(a, sw, reg, dir, todo, n);
    free(todo);
    if (rank != 0 || rc)
        return rc;
    if (s.n == 1)
        return finish_whole(a, sw, dir);
    fprintf(stderr, "kpf: slice %zu/%zu: %zu point%s run, %zu failed; when every slice has "
                    "finished: kpf sweep-collect %s\n",
            s.k, s.n, n, n == 1 ? "" : "s", failed, dir);
    return failed ? KPF_EXIT_FAIL : KPF_EXIT_OK;
}

/* Rank 0's folder for this invocation: the one resumed, the slice's shared
 * one (claimed), or a new one with the inputs recorded. */
static int make_dir(const kpf_cli_sweep_args *a, const kpf_cli_sweep_plan *p, char *dir,
                    size_t size, kpf_error *err)
{
    if (p->resume) {
        snprintf(dir, size, "%s", p->resume);
        return KPF_OK;
    }
    if (a->slice_n > 1) {
        snprintf(dir, size, "%s", p->out);
        return kpf_cli_sweep_dir_claim(dir, p->save, p->save_ctx, err);
    }
    int rc = kpf_output_dir_prepare(p->out, p->config, dir, size, err);
    return rc ? rc : p->save(p->save_ctx, dir, err);
}

int kpf_cli_run_sweep(const kpf_cli_sweep_args *a, const kpf_sweep *sw, kpf_registry *reg,
                      const kpf_cli_sweep_plan *p)
{
    const kpf_comm *c = a->comm;
    int rank = kpf_comm_rank(c);
    kpf_error err;
    kpf_error_clear(&err);
    char dir[4096] = "";
    int own = kpf_cli_sweep_validate(a, sw, reg, &err);
    int rc = kpf_comm_agree(c, own, &err); /* every rank validated the same config */
    if (!rc && rank == 0)
        own = rc = make_dir(a, p, dir, sizeof dir, &err);
    int shared[1] = {rc};
    if (kpf_comm_bcast(c, shared, sizeof shared, 0, &err) ||
        (!shared[0] && kpf_comm_bcast(c, dir, sizeof dir, 0, &err))) {
        fprintf(stderr, "kpf: rank %d: %s\n", rank, err.msg);
        return KPF_EXIT_FAIL;
    }
    rc = shared[0] ? shared[0] : rc;
    if (rc) { /* rank 0 says why, and any rank that saw the problem itself */
        if (rank == 0 || own)
            fprintf(stderr, "kpf: %s\n", err.msg);
        return rc == KPF_ENOMEM ? KPF_EXIT_FAIL : KPF_EXIT_USAGE;
    }
    if (rank == 0 && !p->quiet)
        fprintf(stderr, "kpf: sweep of %zu points into %s%s\n", sw->n_points, dir,
                kpf_comm_size(c) > 1 ? " (task farm over MPI ranks)" : "");
    return kpf_cli_sweep(a, sw, reg, dir);
}
