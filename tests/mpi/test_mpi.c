/* kpf on MPI, three ranks on loopback.  Trial-parallel operators, spectra
 * and training against the one-process results (mpi_trials.c prints one
 * line per comparison; every line must say ok), and bad usage refused on
 * every rank with exit 2 and no hang.  The sweep tests (task farm, slices,
 * resume after a killed rank) are in test_mpi_sweep.c. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "test_util.h"

#define MPIRUN KPF_MPIEXEC " --oversubscribe --allow-run-as-root -np 3 "

/* Run one mpi_trials check; every comparison line must pass. */
static void trials(const char *check, int min_lines)
{
    int st = tu_sh("timeout 300 " MPIRUN "%s %s", KPF_MPI_TRIALS, check);
    cr_log_info("mpi_trials %s:\n%s", check, tu_out);
    int lines = 0;
    for (const char *p = tu_out; (p = strstr(p, " rel=")); p++)
        lines++;
    cr_assert_eq(st, 0, "mpi_trials %s exited %d:\n%s", check, st, tu_out);
    cr_assert_null(strstr(tu_out, "FAIL"), "%s", tu_out);
    cr_assert_geq(lines, min_lines, "only %d comparisons ran:\n%s", lines, tu_out);
}

Test(mpi_trials, operators_equal_the_one_process_ones) { trials("ops", 11); }

Test(mpi_trials, spectra_by_parpack_equal_the_one_process_ones) { trials("spectra", 6); }

Test(mpi_trials, training_step_and_short_run_equal_the_one_process_ones)
{
    trials("train", 11);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(mpi_trials, fewer_trials_than_ranks_is_exit_2_on_every_rank)
{
    int st = tu_sh("timeout 120 " MPIRUN "%s toofew", KPF_MPI_TRIALS);
    cr_assert_eq(st, 2, "exit %d:\n%s", st, tu_out);
    cr_assert_eq(count(tu_out, "2 trials cannot be split over 3 ranks"), 3,
                 "each rank says why:\n%s", tu_out);
}
