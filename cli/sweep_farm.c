/* A sweep as a dynamic task farm over MPI ranks.  Rank 0 deals the points
 * out one at a time, to whichever rank asks next, and runs points itself
 * between answers; every rank runs each point in a child process exactly as
 * a one-process sweep does, so a point's outputs are the same bits
 * wherever it ran.  A point's outcome is on disk (point_NNNN/status) the
 * moment it finishes, so a rank that dies loses only the point it was
 * running: `kpf run --resume DIR` runs what is missing.
 *
 * Messages (three u64 each, kpf_comm_send_u64):
 *   worker → 0: {READY, 0, 0} once, then {DONE, point, failed} per point
 *   0 → worker: {RUN, point, 0} or {STOP, 0, 0} */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep_internal.h"

enum { MSG_READY = 1, MSG_DONE = 2, MSG_RUN = 3, MSG_STOP = 4 };

typedef struct dealer {
    const kpf_comm *comm;
    const kpf_cli_sweep_args *a;
    const kpf_sweep *sw;
    kpf_registry *reg;
    const char *dir;
    const size_t *todo;
    size_t n, next, done, failed;
    int stopped;          /* workers told to stop */
    pid_t child;          /* rank 0's own point, or 0 */
    size_t child_point;
    char child_dir[4300];
} dealer;

/* A POINT event (kpf/progress.h) when someone listens, else a line. */
static void say(const dealer *d, size_t point, const char *status, int rank)
{
    char label[128];
    snprintf(label, sizeof label, "%zu: %s (rank %d)", point, status, rank);
    kpf_progress_send(d->a->progress,
                      (kpf_progress_event){.kind = KPF_PROGRESS_POINT, .name = label,
                                           .iteration = d->done, .total = d->n,
                                           .failed = d->failed});
    if (!d->a->progress)
        fprintf(stderr, "kpf: sweep point %zu (%zu/%zu done, rank %d): %s\n", point, d->done,
                d->n, rank, status);
}

/* Rank 0's own point: start one when idle, collect it when it has ended. */
static int own_work(dealer *d)
{
    if (!d->child && d->next < d->n) {
        size_t i = d->todo[d->next++];
        char msg[4600];
        int resume = 0;
        kpf_cli_point_dir(d->dir, i, d->child_dir, sizeof d->child_dir);
        if (kpf_cli_point_prepare(d->child_dir, &resume, msg, sizeof msg) ||
            (d->child = kpf_cli_point_start(d->a, d->sw, i, d->reg, d->child_dir, resume)) < 0) {
            d->child = 0;
            d->done++, d->failed++;
            say(d, i, "could not be started", 0);
            return 1;
        }
        d->child_point = i;
        return 1;
    }
    int st;
    if (d->child && waitpid(d->child, &st, WNOHANG) == d->child) {
        char status[64];
        kpf_cli_point_finish(d->child_dir, st, status, sizeof status);
        d->child = 0;
        d->done++;
        d->failed += strcmp(status, "ok") != 0;
        say(d, d->child_point, status, 0);
        return 1;
    }
    return 0;
}

/* A worker's message: record what it finished, give it the next point. */
static int serve(dealer *d, int *busy, kpf_error *err)
{
    uint64_t msg[3];
    int got = 0, from = 0;
    int rc = kpf_comm_recv_u64(d->comm, KPF_COMM_ANY, msg, 3, 0, &got, &from, err);
    if (rc || !got)
        return rc;
    *busy = 1;
    if (msg[0] == MSG_DONE) {
        d->done++;
        d->failed += msg[2] != 0;
        say(d, (size_t)msg[1], msg[2] ? "failed" : "ok", from);
    }
    uint64_t reply[3] = {MSG_STOP, 0, 0};
    if (d->next < d->n) {
        reply[0] = MSG_RUN;
        reply[1] = d->todo[d->next++];
    } else {
        d->stopped++;
    }
    return kpf_comm_send_u64(d->comm, from, reply, 3, err);
}

static int deal(dealer *d, kpf_error *err)
{
    int workers = kpf_comm_size(d->comm) - 1;
    while (d->done < d->n || d->stopped < workers || d->child) {
        int busy = own_work(d);
        int rc = serve(d, &busy, err);
        if (rc)
            return rc;
        if (!busy) {
            struct timespec nap = {0, 2000000}; /* 2 ms: points take seconds */
            nanosleep(&nap, NULL);
        }
    }
    return KPF_OK;
}

static int work(const kpf_comm *comm, const kpf_cli_sweep_args *a, const kpf_sweep *sw,
                kpf_registry *reg, const char *dir, kpf_error *err)
{
    uint64_t msg[3] = {MSG_READY, 0, 0};
    for (;;) {
        int rc = kpf_comm_send_u64(comm, 0, msg, 3, err);
        if (!rc)
            rc = kpf_comm_recv_u64(comm, 0, msg, 3, 1, NULL, NULL, err);
        if (rc || msg[0] != MSG_RUN)
            return rc;
        char status[64];
        size_t i = (size_t)msg[1];
        kpf_cli_point_run(a, sw, i, reg, dir, status, sizeof status);
        msg[0] = MSG_DONE;
        msg[1] = i;
        msg[2] = strcmp(status, "ok") != 0;
    }
}

int kpf_cli_sweep_farm(const kpf_comm *comm, const kpf_cli_sweep_args *a, const kpf_sweep *sw,
                       kpf_registry *reg, const char *dir, const size_t *todo, size_t n,
                       size_t *failed)
{
    kpf_error err;
    kpf_error_clear(&err);
    int rc;
    if (kpf_comm_rank(comm) == 0) {
        dealer d = {.comm = comm, .a = a, .sw = sw, .reg = reg, .dir = dir, .todo = todo, .n = n};
        rc = deal(&d, &err);
        *failed = d.failed;
    } else {
        rc = work(comm, a, sw, reg, dir, &err);
        *failed = 0;
    }
    if (rc)
        fprintf(stderr, "kpf: rank %d: sweep: %s\n", kpf_comm_rank(comm), err.msg);
    return rc ? -1 : 0;
}
