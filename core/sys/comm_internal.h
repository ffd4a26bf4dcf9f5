/* The communicator's innards: an ops table per implementation.  comm.c holds
 * the one-rank implementation (every operation the identity) and the
 * generic parts; comm_mpi.c, compiled only when the build found MPI, holds
 * the MPI one.  Nothing outside these two files sees MPI. */
#ifndef KPF_COMM_INTERNAL_H
#define KPF_COMM_INTERNAL_H

#include "kpf/comm.h"

typedef struct kpf_comm_ops {
    int (*sum)(const kpf_comm *c, double *buf, size_t n, kpf_error *err);
    int (*max)(const kpf_comm *c, double *v, kpf_error *err);
    int (*bcast)(const kpf_comm *c, void *buf, size_t bytes, int root, kpf_error *err);
    int (*allgather)(const kpf_comm *c, const void *send, size_t bytes, void *recv,
                     kpf_error *err);
    int (*gather)(const kpf_comm *c, const double *send, const size_t *n, double *recv,
                  kpf_error *err);
    int (*barrier)(const kpf_comm *c, kpf_error *err);
    int (*send)(const kpf_comm *c, int dest, const uint64_t *msg, size_t n, kpf_error *err);
    int (*recv)(const kpf_comm *c, int source, uint64_t *msg, size_t n, int wait, int *got,
                int *from, kpf_error *err);
    void (*finalize)(kpf_comm *c);
    void (*traffic)(const kpf_comm *c, uint64_t *calls, uint64_t *bytes);
    void (*abort)(const kpf_comm *c, int code);
} kpf_comm_ops;

struct kpf_comm {
    int rank, size;
    kpf_reduce_order order;
    const kpf_comm_ops *ops;
    void *impl; /* the implementation's state (comm_mpi.c: the MPI_Comm) */
};

#ifdef KPF_HAVE_MPI
/* Initialise MPI (comm_mpi.c) and fill c with MPI_COMM_WORLD's duplicate. */
int kpf_internal_comm_mpi_init(int *argc, char ***argv, kpf_comm *c, kpf_error *err);
/* The Fortran handle of c's MPI communicator, for PARPACK; c must be an MPI
 * communicator (c->impl non-NULL). */
int kpf_internal_comm_fortran(const kpf_comm *c);
#endif

#endif
