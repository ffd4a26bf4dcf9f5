/* The MPI implementation of the communicator (compiled only when the build
 * finds MPI).  The world communicator is duplicated, so kpf's messages never
 * meet a host program's, and set to return errors instead of aborting: each
 * failure becomes a kpf status with MPI's own message. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "comm_internal.h"

#define FARM_TAG 7301

typedef struct mpi_state {
    MPI_Comm comm;
    int owns_init; /* MPI_Init was called here: finalize calls MPI_Finalize */
    uint64_t calls, bytes; /* kpf_comm_traffic */
} mpi_state;

static MPI_Comm comm_of(const kpf_comm *c) { return ((const mpi_state *)c->impl)->comm; }

/* Count one call handing `bytes` to MPI (the state is the communicator's
 * own, reached through its handle, so counting is allowed on a const one). */
static void count(const kpf_comm *c, size_t bytes)
{
    mpi_state *s = c->impl;
    s->calls++;
    s->bytes += bytes;
}

static void mpi_traffic(const kpf_comm *c, uint64_t *calls, uint64_t *bytes)
{
    const mpi_state *s = c->impl;
    *calls = s ? s->calls : 0;
    *bytes = s ? s->bytes : 0;
}

static int fail(kpf_error *err, int mpi_rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", mpi_rc);
    return kpf_error_set(err, KPF_EIO, "MPI %s failed: %s", what, msg);
}

/* MPI counts are ints: long vectors go in pieces. */
#define CHUNK ((size_t)1 << 28)

static int mpi_sum(const kpf_comm *c, double *buf, size_t n, kpf_error *err)
{
    count(c, n * sizeof(double));
    for (size_t off = 0; off < n; off += CHUNK) {
        int k = (int)(n - off < CHUNK ? n - off : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, k, MPI_DOUBLE, MPI_SUM, comm_of(c));
        if (rc != MPI_SUCCESS)
            return fail(err, rc, "Allreduce (sum)");
    }
    return KPF_OK;
}

static int mpi_max(const kpf_comm *c, double *v, kpf_error *err)
{
    count(c, sizeof *v);
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_DOUBLE, MPI_MAX, comm_of(c));
    return rc == MPI_SUCCESS ? KPF_OK : fail(err, rc, "Allreduce (max)");
}

static int mpi_bcast(const kpf_comm *c, void *buf, size_t bytes, int root, kpf_error *err)
{
    count(c, bytes);
    for (size_t off = 0; off < bytes; off += CHUNK) {
        int k = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
        int rc = MPI_Bcast((char *)buf + off, k, MPI_BYTE, root, comm_of(c));
        if (rc != MPI_SUCCESS)
            return fail(err, rc, "Bcast");
    }
    return KPF_OK;
}

static int mpi_allgather(const kpf_comm *c, const void *send, size_t bytes, void *recv,
                         kpf_error *err)
{
    if (bytes > (size_t)INT_MAX)
        return kpf_error_set(err, KPF_EINVAL, "allgather of %zu bytes per rank: too large",
                             bytes);
    count(c, bytes);
    int rc = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, comm_of(c));
    return rc == MPI_SUCCESS ? KPF_OK : fail(err, rc, "Allgather");
}

static int mpi_gather(const kpf_comm *c, const double *send, const size_t *n, double *recv,
                      kpf_error *err)
{
    int N = c->size;
    int *cnt = malloc((size_t)N * sizeof(int)), *disp = malloc((size_t)N * sizeof(int));
    if (!cnt || !disp) {
        free(cnt);
        free(disp);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    }
    size_t off = 0;
    int rc = KPF_OK;
    for (int r = 0; r < N && !rc; r++) {
        if (n[r] > (size_t)INT_MAX || off > (size_t)INT_MAX)
            rc = kpf_error_set(err, KPF_EINVAL, "gather of %zu values: too large for MPI",
                               off + n[r]);
        cnt[r] = (int)n[r];
        disp[r] = (int)off;
        off += n[r];
    }
    if (!rc) {
        count(c, n[c->rank] * sizeof(double));
        int mrc = MPI_Gatherv(send, cnt[c->rank], MPI_DOUBLE, recv, cnt, disp, MPI_DOUBLE, 0,
                              comm_of(c));
        if (mrc != MPI_SUCCESS)
            rc = fail(err, mrc, "Gatherv");
    }
    free(cnt);
    free(disp);
    return rc;
}

static int mpi_barrier(const kpf_comm *c, kpf_error *err)
{
    count(c, 0);
    int rc = MPI_Barrier(comm_of(c));
    return rc == MPI_SUCCESS ? KPF_OK : fail(err, rc, "Barrier");
}

static int mpi_send(const kpf_comm *c, int dest, const uint64_t *msg, size_t n, kpf_error *err)
{
    count(c, n * sizeof *msg);
    int rc = MPI_Send(msg, (int)n, MPI_UINT64_T, dest, FARM_TAG, comm_of(c));
    return rc == MPI_SUCCESS ? KPF_OK : fail(err, rc, "Send");
}

static int mpi_recv(const kpf_comm *c, int source, uint64_t *msg, size_t n, int wait, int *got,
                    int *from, kpf_error *err)
{
    int src = source == KPF_COMM_ANY ? MPI_ANY_SOURCE : source;
    MPI_Status st;
    if (!wait) {
        int flag = 0;
        int rc = MPI_Iprobe(src, FARM_TAG, comm_of(c), &flag, &st);
        if (rc != MPI_SUCCESS)
            return fail(err, rc, "Iprobe");
        *got = flag;
        if (!flag)
            return KPF_OK;
        src = st.MPI_SOURCE;
    }
    int rc = MPI_Recv(msg, (int)n, MPI_UINT64_T, src, FARM_TAG, comm_of(c), &st);
    if (rc != MPI_SUCCESS)
        return fail(err, rc, "Recv");
    *got = 1;
    *from = st.MPI_SOURCE;
    return KPF_OK;
}

static void mpi_finalize(kpf_comm *c)
{
    mpi_state *s = c->impl;
    if (!s)
        return;
    MPI_Comm_free(&s->comm);
    int done = 0;
    MPI_Finalized(&done);
    if (s->owns_init && !done)
        MPI_Finalize();
    free(s);
    c->impl = NULL;
}

static void mpi_abort(const kpf_comm *c, int code) { MPI_Abort(comm_of(c), code); }

static const kpf_comm_ops mpi_ops = {mpi_sum,     mpi_max,     mpi_bcast, mpi_allgather,
                                     mpi_gather,  mpi_barrier, mpi_send,  mpi_recv,
                                     mpi_finalize, mpi_traffic, mpi_abort};

int kpf_internal_comm_mpi_init(int *argc, char ***argv, kpf_comm *c, kpf_error *err)
{
    mpi_state *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    /* Compute threads (OpenBLAS, OpenMP) never call MPI: funneled is enough. */
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        free(s);
        return kpf_error_set(err, KPF_EIO, "MPI_Init_thread failed");
    }
    s->owns_init = !inited;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &s->comm);
    if (rc != MPI_SUCCESS) {
        if (s->owns_init)
            MPI_Finalize();
        free(s);
        return fail(err, rc, "Comm_dup");
    }
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(s->comm, &c->rank);
    MPI_Comm_size(s->comm, &c->size);
    c->ops = &mpi_ops;
    c->impl = s;
    return KPF_OK;
}

int kpf_internal_comm_fortran(const kpf_comm *c) { return (int)MPI_Comm_c2f(comm_of(c)); }
