/* kpf/comm.h — the communicator: which ranks share a run, and the few
 * collective operations kpf needs from them.
 *
 * Without MPI (or when a process is not started by an MPI launcher) there is
 * one rank, and every operation here is the identity: a sum over one rank is
 * the value itself, a broadcast or gather is a copy.  So code written against
 * this header runs unchanged in one process; only comm_mpi.c, compiled when
 * the build finds MPI, knows about MPI.
 *
 * A NULL communicator means "this process alone" everywhere (the serial
 * communicator, kpf_comm_self()).
 *
 * Reductions.  kpf_comm_sum adds a vector over the ranks.  By default it is
 * MPI_Allreduce, whose summation order is the MPI library's (fast; equal on
 * every rank; equal to a one-process sum up to rounding).  A communicator
 * set to KPF_REDUCE_ORDERED instead gathers every rank's vector and adds
 * them in rank order on each rank: the result is bitwise the same from run to
 * run at a fixed rank count, at the cost of N·len values received per rank
 * instead of ~2·len (docs/performance.md).
 *
 * Errors.  MPI errors are returned (MPI_ERRORS_RETURN), never fatal: every
 * fallible call returns a kpf status and a message naming the operation.
 * Collective calls must be made by every rank in the same order; a rank that
 * fails before a collective must still take part in it or the others wait.
 * kpf_comm_agree turns "some rank failed" into one status on every rank. */
#ifndef KPF_COMM_H
#define KPF_COMM_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

typedef struct kpf_comm kpf_comm;

typedef enum kpf_reduce_order {
    KPF_REDUCE_FAST = 0,   /* MPI_Allreduce                               */
    KPF_REDUCE_ORDERED = 1 /* gather, then add in rank order on each rank */
} kpf_reduce_order;

/* Any source, for kpf_comm_recv_u64. */
#define KPF_COMM_ANY (-1)

/* The one-rank communicator (static; never freed). */
const kpf_comm *kpf_comm_self(void);

/* 1 when this libkpf was built with MPI. */
int kpf_comm_mpi_built(void);

/* 1 when the environment says an MPI launcher (mpirun, mpiexec, srun with
 * PMI/PMIx) started this process, and KPF_MPI is not 0. */
int kpf_comm_launched(void);

/* The world communicator.  Initialises MPI when the build has it and the
 * process was launched by an MPI launcher; otherwise a one-rank
 * communicator, without touching MPI.  Call once, from the main thread,
 * before other threads start.  Free with kpf_comm_finalize, which also
 * finalises MPI when this call initialised it. */
int kpf_comm_init(int *argc, char ***argv, kpf_comm **out, kpf_error *err);
void kpf_comm_finalize(kpf_comm *c);

int kpf_comm_rank(const kpf_comm *c);
int kpf_comm_size(const kpf_comm *c);

/* Reduction order for kpf_comm_sum on c (default KPF_REDUCE_FAST). */
void kpf_comm_set_order(kpf_comm *c, kpf_reduce_order order);
kpf_reduce_order kpf_comm_order(const kpf_comm *c);

/* buf[0 … n) ← the sum over ranks, on every rank. */
int kpf_comm_sum(const kpf_comm *c, double *buf, size_t n, kpf_error *err);

/* kpf_comm_sum in rank order whatever c's setting: the same bits on every
 * rank by construction, for a result that every rank then acts on alike
 * (a vector replicated on all ranks inside an eigensolver). */
int kpf_comm_sum_ordered(const kpf_comm *c, double *buf, size_t n, kpf_error *err);

/* v ← the largest v over ranks, on every rank. */
int kpf_comm_max(const kpf_comm *c, double *v, kpf_error *err);

/* Each rank's status in, one status out on every rank: KPF_OK when all were
 * KPF_OK.  Otherwise a failed rank returns its own status with its message
 * untouched, and a rank that did not fail returns the status of the lowest
 * failing rank with a message naming that rank. */
int kpf_comm_agree(const kpf_comm *c, int status, kpf_error *err);

/* buf (bytes) from rank root to every rank. */
int kpf_comm_bcast(const kpf_comm *c, void *buf, size_t bytes, int root, kpf_error *err);

/* Every rank's `bytes` bytes of send, in rank order, into recv (size·bytes)
 * on every rank. */
int kpf_comm_allgather(const kpf_comm *c, const void *send, size_t bytes, void *recv,
                       kpf_error *err);

/* Rank r's n[r] doubles of send into recv on rank 0, in rank order (recv is
 * Σ n[r] values, read only on rank 0; n is known on every rank). */
int kpf_comm_gather(const kpf_comm *c, const double *send, const size_t *n, double *recv,
                    kpf_error *err);

int kpf_comm_barrier(const kpf_comm *c, kpf_error *err);

/* End every rank of the job with `code` (MPI_Abort), for a program that
 * cannot go on after one rank failed while the others may be waiting in a
 * collective.  The library itself never calls it.  On one rank it returns,
 * and the caller exits as usual. */
void kpf_comm_abort(const kpf_comm *c, int code);

/* Small messages between two ranks (task farms).  recv waits for a message
 * from `source` (or KPF_COMM_ANY) when wait is 1; with wait 0 it returns at
 * once and sets *got to 0 when none has arrived.  *from gets the sender. */
int kpf_comm_send_u64(const kpf_comm *c, int dest, const uint64_t *msg, size_t n,
                      kpf_error *err);
int kpf_comm_recv_u64(const kpf_comm *c, int source, uint64_t *msg, size_t n, int wait,
                      int *got, int *from, kpf_error *err);

/* What this rank has handed to MPI so far: collective and point-to-point
 * calls, and their payload in bytes (a sum of n doubles counts 8n; what
 * crosses the network depends on MPI's algorithm: ≈ 2·8n·(N−1)/N each way
 * for a ring Allreduce).  Zero on one rank, which communicates nothing. */
void kpf_comm_traffic(const kpf_comm *c, uint64_t *calls, uint64_t *bytes);

/* The block of `count` items (trials) that rank r owns: [*lo, *hi), ranks in
 * order, the first count % size ranks one item more. */
void kpf_comm_share(const kpf_comm *c, int rank, size_t count, size_t *lo, size_t *hi);

KPF_END_DECLS
#endif
