/* The communicator: the one-rank implementation (every operation is the
 * identity or a copy), the generic parts (ordered sums, agreement, block
 * shares), and the choice between it and MPI at initialisation. */
#include <stdlib.h>
#include <string.h>

#include "comm_internal.h"

/* ---- one rank ------------------------------------------------------------ */

static int self_sum(const kpf_comm *c, double *buf, size_t n, kpf_error *err) { return KPF_OK; }
static int self_max(const kpf_comm *c, double *v, kpf_error *err) { return KPF_OK; }
static int self_bcast(const kpf_comm *c, void *buf, size_t bytes, int root, kpf_error *err)
{
    return KPF_OK;
}
static int self_barrier(const kpf_comm *c, kpf_error *err) { return KPF_OK; }

static int self_allgather(const kpf_comm *c, const void *send, size_t bytes, void *recv,
                          kpf_error *err)
{
    if (bytes && recv != send)
        memmove(recv, send, bytes);
    return KPF_OK;
}

static int self_gather(const kpf_comm *c, const double *send, const size_t *n, double *recv,
                       kpf_error *err)
{
    if (n[0] && recv != send)
        memmove(recv, send, n[0] * sizeof(double));
    return KPF_OK;
}

/* One rank has no one to talk to: a message could only be to itself, which
 * the task farm never sends. */
static int self_send(const kpf_comm *c, int dest, const uint64_t *msg, size_t n, kpf_error *err)
{
    return kpf_error_set(err, KPF_EINVAL, "send to rank %d: this communicator has one rank",
                         dest);
}

static int self_recv(const kpf_comm *c, int source, uint64_t *msg, size_t n, int wait, int *got,
                     int *from, kpf_error *err)
{
    if (!wait) {
        *got = 0;
        return KPF_OK;
    }
    return kpf_error_set(err, KPF_EINVAL, "receive: this communicator has one rank");
}

static void self_finalize(kpf_comm *c) {}

static void self_traffic(const kpf_comm *c, uint64_t *calls, uint64_t *bytes)
{
    *calls = 0;
    *bytes = 0;
}

static void self_abort(const kpf_comm *c, int code) {}

static const kpf_comm_ops self_ops = {self_sum,     self_max,  self_bcast,
                                      self_allgather, self_gather, self_barrier,
                                      self_send,    self_recv, self_finalize,
                                      self_traffic, self_abort};

static const kpf_comm self_comm = {0, 1, KPF_REDUCE_FAST, &self_ops, NULL};

const kpf_comm *kpf_comm_self(void) { return &self_comm; }

static const kpf_comm *or_self(const kpf_comm *c) { return c ? c : &self_comm; }

/* ---- choosing the implementation ----------------------------------------- */

int kpf_comm_mpi_built(void)
{
#ifdef KPF_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

/* Variables the common launchers set in every process they start (Open MPI,
 * MPICH/Hydra and Intel MPI, PMIx as under srun --mpi=pmix, MVAPICH). */
int kpf_comm_launched(void)
{
    const char *off = getenv("KPF_MPI");
    if (off && !strcmp(off, "0"))
        return 0;
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "PMI_RANK", "MV2_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int kpf_comm_init(int *argc, char ***argv, kpf_comm **out, kpf_error *err)
{
    kpf_comm *c = malloc(sizeof *c);
    if (!c)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *c = self_comm;
#ifdef KPF_HAVE_MPI
    if (kpf_comm_launched()) {
        int rc = kpf_internal_comm_mpi_init(argc, argv, c, err);
        if (rc) {
            free(c);
            return rc;
        }
    }
#endif
    *out = c;
    return KPF_OK;
}

void kpf_comm_finalize(kpf_comm *c)
{
    if (!c || c == &self_comm)
        return;
    c->ops->finalize(c);
    free(c);
}

/* ---- operations ---------------------------------------------------------- */

int kpf_comm_rank(const kpf_comm *c) { return or_self(c)->rank; }
int kpf_comm_size(const kpf_comm *c) { return or_self(c)->size; }

void kpf_comm_set_order(kpf_comm *c, kpf_reduce_order order)
{
    if (c && c != &self_comm)
        c->order = order;
}

kpf_reduce_order kpf_comm_order(const kpf_comm *c) { return or_self(c)->order; }

/* Every rank's vector, then the sum in rank order: the same bits on every
 * rank and in every run at this rank count. */
static int ordered_sum(const kpf_comm *c, double *buf, size_t n, kpf_error *err)
{
    size_t N = (size_t)c->size;
    double *all = malloc(N * n * sizeof(double));
    if (!all)
        return kpf_error_set(err, KPF_ENOMEM, "ordered reduction: cannot allocate %zu values",
                             N * n);
    int rc = c->ops->allgather(c, buf, n * sizeof(double), all, err);
    for (size_t i = 0; !rc && i < n; i++) {
        double s = all[i];
        for (size_t r = 1; r < N; r++)
            s += all[r * n + i];
        buf[i] = s;
    }
    free(all);
    return rc;
}

int kpf_comm_sum(const kpf_comm *c, double *buf, size_t n, kpf_error *err)
{
    c = or_self(c);
    if (c->size == 1 || n == 0)
        return KPF_OK;
    if (c->order == KPF_REDUCE_ORDERED)
        return ordered_sum(c, buf, n, err);
    return c->ops->sum(c, buf, n, err);
}

int kpf_comm_sum_ordered(const kpf_comm *c, double *buf, size_t n, kpf_error *err)
{
    c = or_self(c);
    return c->size == 1 || n == 0 ? KPF_OK : ordered_sum(c, buf, n, err);
}

int kpf_comm_max(const kpf_comm *c, double *v, kpf_error *err)
{
    c = or_self(c);
    return c->size == 1 ? KPF_OK : c->ops->max(c, v, err);
}

int kpf_comm_agree(const kpf_comm *c, int status, kpf_error *err)
{
    c = or_self(c);
    if (c->size == 1)
        return status;
    int *all = malloc((size_t)c->size * sizeof(int));
    if (!all)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = c->ops->allgather(c, &status, sizeof status, all, err);
    int first = -1;
    for (int r = 0; !rc && r < c->size && first < 0; r++)
        if (all[r] != KPF_OK)
            first = r;
    if (!rc && first >= 0)
        rc = status != KPF_OK ? status
                              : kpf_error_set(err, all[first], "rank %d failed (%s; its message "
                                                               "is in its own output)",
                                              first, kpf_status_string(all[first]));
    free(all);
    return rc;
}

int kpf_comm_bcast(const kpf_comm *c, void *buf, size_t bytes, int root, kpf_error *err)
{
    c = or_self(c);
    if (root < 0 || root >= c->size)
        return kpf_error_set(err, KPF_EINVAL, "broadcast from rank %d of %d", root, c->size);
    return c->size == 1 || !bytes ? KPF_OK : c->ops->bcast(c, buf, bytes, root, err);
}

int kpf_comm_allgather(const kpf_comm *c, const void *send, size_t bytes, void *recv,
                       kpf_error *err)
{
    c = or_self(c);
    return c->ops->allgather(c, send, bytes, recv, err);
}

int kpf_comm_gather(const kpf_comm *c, const double *send, const size_t *n, double *recv,
                    kpf_error *err)
{
    c = or_self(c);
    return c->ops->gather(c, send, n, recv, err);
}

int kpf_comm_barrier(const kpf_comm *c, kpf_error *err)
{
    c = or_self(c);
    return c->ops->barrier(c, err);
}

void kpf_comm_abort(const kpf_comm *c, int code)
{
    c = or_self(c);
    if (c->size > 1)
        c->ops->abort(c, code);
}

int kpf_comm_send_u64(const kpf_comm *c, int dest, const uint64_t *msg, size_t n, kpf_error *err)
{
    c = or_self(c);
    if (dest < 0 || dest >= c->size || dest == c->rank)
        return kpf_error_set(err, KPF_EINVAL, "send from rank %d to rank %d of %d", c->rank,
                             dest, c->size);
    return c->ops->send(c, dest, msg, n, err);
}

int kpf_comm_recv_u64(const kpf_comm *c, int source, uint64_t *msg, size_t n, int wait,
                      int *got, int *from, kpf_error *err)
{
    c = or_self(c);
    int g = 1, f = source;
    int rc = c->ops->recv(c, source, msg, n, wait, &g, &f, err);
    if (got)
        *got = g;
    if (from)
        *from = f;
    return rc;
}

void kpf_comm_traffic(const kpf_comm *c, uint64_t *calls, uint64_t *bytes)
{
    uint64_t k, b;
    c = or_self(c);
    c->ops->traffic(c, &k, &b);
    if (calls)
        *calls = k;
    if (bytes)
        *bytes = b;
}

void kpf_comm_share(const kpf_comm *c, int rank, size_t count, size_t *lo, size_t *hi)
{
    size_t N = (size_t)or_self(c)->size, r = (size_t)rank;
    size_t base = count / N, extra = count % N;
    *lo = r * base + (r < extra ? r : extra);
    *hi = *lo + base + (r < extra);
}
