/* kpf/comm.h in one process: the serial communicator is the identity, the
 * trial shares tile [0, count) in rank order, and a process that no MPI
 * launcher started gets one rank without MPI being touched.  (The MPI
 * implementation is tested under mpirun by tests/mpi/.) */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "kpf/comm.h"

Test(comm, self_is_one_rank_and_reductions_are_identities)
{
    const kpf_comm *c = kpf_comm_self();
    cr_assert_eq(kpf_comm_rank(c), 0);
    cr_assert_eq(kpf_comm_size(c), 1);
    cr_assert_eq(kpf_comm_size(NULL), 1, "NULL means this process alone");
    double v[3] = {1.5, -2, 1e300};
    kpf_error err;
    cr_assert_eq(kpf_comm_sum(c, v, 3, &err), KPF_OK);
    cr_assert(v[0] == 1.5 && v[1] == -2 && v[2] == 1e300);
    cr_assert_eq(kpf_comm_sum_ordered(c, v, 3, &err), KPF_OK);
    cr_assert(v[0] == 1.5 && v[1] == -2 && v[2] == 1e300, "ordered: also the identity");
    uint64_t calls = 9, bytes = 9;
    kpf_comm_traffic(c, &calls, &bytes);
    cr_assert(calls == 0 && bytes == 0, "one rank hands nothing to MPI");
    kpf_comm_abort(c, 1); /* returns: one rank has nobody to end */
    double m = 4;
    cr_assert_eq(kpf_comm_max(NULL, &m, &err), KPF_OK);
    cr_assert(m == 4);
    double src[2] = {3, 4}, dst[2] = {0, 0};
    size_t n = 2;
    cr_assert_eq(kpf_comm_gather(c, src, &n, dst, &err), KPF_OK);
    cr_assert(dst[0] == 3 && dst[1] == 4, "a gather over one rank is a copy");
    int s = 7, all = 0;
    cr_assert_eq(kpf_comm_allgather(c, &s, sizeof s, &all, &err), KPF_OK);
    cr_assert_eq(all, 7);
    cr_assert_eq(kpf_comm_bcast(c, &s, sizeof s, 0, &err), KPF_OK);
    cr_assert_eq(kpf_comm_bcast(c, &s, sizeof s, 1, &err), KPF_EINVAL, "no rank 1");
    cr_assert_eq(kpf_comm_barrier(c, &err), KPF_OK);
}

Test(comm, agree_passes_the_own_status_through_on_one_rank)
{
    kpf_error err;
    cr_assert_eq(kpf_comm_agree(NULL, KPF_OK, &err), KPF_OK);
    cr_assert_eq(kpf_comm_agree(NULL, KPF_ECONFIG, &err), KPF_ECONFIG);
}

Test(comm, messages_need_another_rank)
{
    kpf_error err;
    uint64_t msg[2] = {1, 2};
    int got = 1, from = 5;
    cr_assert_eq(kpf_comm_send_u64(NULL, 0, msg, 2, &err), KPF_EINVAL, "no sending to oneself");
    cr_assert_eq(kpf_comm_recv_u64(NULL, KPF_COMM_ANY, msg, 2, 0, &got, &from, &err), KPF_OK);
    cr_assert_eq(got, 0, "a non-blocking receive on one rank finds nothing");
    cr_assert_neq(kpf_comm_recv_u64(NULL, KPF_COMM_ANY, msg, 2, 1, &got, &from, &err), KPF_OK,
                  "a blocking one would wait forever: refused");
}

/* A 3-rank communicator is needed to see other ranks' shares; the arithmetic
 * is the same, so it is checked on the serial one against the definition. */
Test(comm, share_covers_all_items_once)
{
    size_t lo, hi;
    kpf_comm_share(NULL, 0, 10, &lo, &hi);
    cr_assert(lo == 0 && hi == 10);
    kpf_comm_share(NULL, 0, 0, &lo, &hi);
    cr_assert(lo == 0 && hi == 0);
}

Test(comm, init_without_a_launcher_is_serial)
{
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_RANK");
    unsetenv("PMI_RANK");
    unsetenv("MV2_COMM_WORLD_SIZE");
    cr_assert_eq(kpf_comm_launched(), 0);
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    setenv("KPF_MPI", "0", 1);
    cr_assert_eq(kpf_comm_launched(), 0, "KPF_MPI=0 turns MPI off");
    unsetenv("KPF_MPI");
    cr_assert_eq(kpf_comm_launched(), 1);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    kpf_comm *c = NULL;
    kpf_error err;
    cr_assert_eq(kpf_comm_init(NULL, NULL, &c, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_comm_size(c), 1);
    kpf_comm_set_order(c, KPF_REDUCE_ORDERED);
    cr_assert_eq(kpf_comm_order(c), KPF_REDUCE_ORDERED);
    double v = 2.5;
    cr_assert_eq(kpf_comm_sum(c, &v, 1, &err), KPF_OK);
    cr_assert(v == 2.5);
    kpf_comm_finalize(c);
}
