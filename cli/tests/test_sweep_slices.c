/* Sweeps in pieces, in one process (no MPI needed): job-array slices
 * (--points K/N, --points slurm) merged by `kpf sweep-collect` equal the
 * whole sweep; collect lists what is missing and failed; a sweep killed
 * mid-point resumes (`kpf run --resume DIR`) to the uninterrupted sweep's
 * results; bad --points are exit 2 before anything is written.  The MPI
 * versions are in tests/mpi/test_mpi_sweep.c. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <signal.h>
#include <unistd.h>

#include "test_util.h"
#include "sweep_fixture.h"

#define KPF KPF_CLI_PATH

static void setup(void) { tu_mktmp(); }
static void teardown(void) { tu_rmtmp(); }
TestSuite(sweep_slices, .init = setup, .fini = teardown, .timeout = 300);

static void same_file(const char *a, const char *b)
{
    int rc = tu_sh("cmp %s/%s %s/%s", tu_tmp, a, tu_tmp, b);
    cr_assert_eq(rc, 0, "%s and %s differ:\n%s", a, b, tu_out);
}

/* sweep.csv and every point's scalars (printed %.17g: exact) the same. */
static void same_results(const char *a, const char *b)
{
    char x[128], y[128];
    snprintf(x, sizeof x, "%s/sweep.csv", a);
    snprintf(y, sizeof y, "%s/sweep.csv", b);
    same_file(x, y);
    for (int i = 0; i < 6; i++) {
        snprintf(x, sizeof x, "%s/point_%04d/scalars.txt", a, i);
        snprintf(y, sizeof y, "%s/point_%04d/scalars.txt", b, i);
        same_file(x, y);
    }
}

Test(sweep_slices, slices_and_collect_equal_the_whole_sweep)
{
    write_tiny(30);
    cr_assert_eq(tu_sh(KPF " run %s/tiny.yaml -o %s/whole -q", tu_tmp, tu_tmp), 0, "%s", tu_out);
    for (int k = 0; k < 3; k++) {
        int rc = tu_sh(KPF " run %s/tiny.yaml -o %s/sliced --points %d/3 -q", tu_tmp, tu_tmp, k);
        cr_assert_eq(rc, 0, "slice %d/3:\n%s", k, tu_out);
        if (k == 0) { /* slice 0 of 3 is points 0 and 3 */
            cr_assert(!tu_exists("sliced/sweep.csv"), "a slice writes no sweep.csv");
            cr_assert(tu_exists("sliced/point_0000/status") && tu_exists("sliced/point_0003/status"));
            cr_assert(!tu_exists("sliced/point_0001"));
            rc = tu_sh(KPF " sweep-collect %s/sliced", tu_tmp);
            cr_assert_eq(rc, 1, "points are missing:\n%s", tu_out);
            cr_assert(strstr(tu_out, "point 1: missing") && strstr(tu_out, "point 5: missing"),
                      "%s", tu_out);
            cr_assert(strstr(tu_out, "2 ok, 0 failed, 4 missing"), "%s", tu_out);
        }
    }
    int rc = tu_sh(KPF " sweep-collect %s/sliced", tu_tmp);
    cr_log_info("%s", tu_out);
    cr_assert_eq(rc, 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "6 ok, 0 failed, 0 missing"), "%s", tu_out);
    cr_assert(tu_exists("sliced/sweep_effrank_K_initial_vs_model.g.png"), "the plot");
    same_results("whole", "sliced");
    /* a slice run again finds its points done and runs nothing */
    rc = tu_sh(KPF " run %s/tiny.yaml -o %s/sliced --points 1/3", tu_tmp, tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "nothing to run"), "%s", tu_out);
}

Test(sweep_slices, slurm_variables_pick_the_slice)
{
    write_tiny(20);
    /* --array=2-8:3 has tasks 2, 5, 8: task 5 is slice 1 of 3 (points 1, 4) */
    int rc = tu_sh("SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=2 SLURM_ARRAY_TASK_STEP=3 "
                   "SLURM_ARRAY_TASK_COUNT=3 " KPF " run %s/tiny.yaml -o %s/s --points slurm -q",
                   tu_tmp, tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    cr_assert(tu_exists("s/point_0001/status") && tu_exists("s/point_0004/status"));
    cr_assert(!tu_exists("s/point_0000") && !tu_exists("s/point_0002"));
}

Test(sweep_slices, another_config_in_the_folder_is_refused)
{
    write_tiny(20);
    cr_assert_eq(tu_sh(KPF " run %s/tiny.yaml -o %s/s --points 0/3 -q", tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    int rc = tu_sh(KPF " run %s/tiny.yaml -o %s/s --points 1/3 --set train.lr=0.02", tu_tmp,
                   tu_tmp);
    cr_assert_eq(rc, 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "another sweep"), "%s", tu_out);
    cr_assert(!tu_exists("s/point_0001"), "nothing ran");
}

Test(sweep_slices, bad_points_are_exit_2_before_anything_is_written)
{
    write_tiny(20);
    struct {
        const char *args, *says;
    } cases[] = {
        {"--points 5/4 -o %s/x", "slice 5 of 4 does not exist"},
        {"--points 4/4 -o %s/x", "slice 4 of 4 does not exist"},
        {"--points 1/0 -o %s/x", "does not exist"},
        {"--points 1-3 -o %s/x", "expected K/N"},
        {"--points -1/3 -o %s/x", "whole numbers"},
        {"--points slurm -o %s/x", "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set"},
        {"--points 0/2", "needs -o DIR"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, cases[i].args, tu_tmp);
        int rc = tu_sh("env -u SLURM_ARRAY_TASK_ID " KPF " run %s/tiny.yaml %s", tu_tmp, args);
        cr_expect_eq(rc, 2, "%s: exit %d\n%s", args, rc, tu_out);
        cr_expect(strstr(tu_out, cases[i].says), "%s: no '%s' in:\n%s", args, cases[i].says,
                  tu_out);
        cr_expect(!tu_exists("x"), "%s: nothing written", args);
    }
    tu_write("plain.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 4}\n");
    int rc = tu_sh(KPF " run %s/plain.yaml -o %s/x --points 0/2", tu_tmp, tu_tmp);
    cr_expect_eq(rc, 2, "%s", tu_out);
    cr_expect(strstr(tu_out, "no sweep"), "%s", tu_out);
}

/* The sweep process killed (SIGKILL) while a point is training: the points
 * that finished stay, the interrupted one has a checkpoint and no status,
 * and --resume finishes the sweep with the uninterrupted results. */
Test(sweep_slices, killed_sweep_resumes_to_the_same_results)
{
    write_tiny(600); /* points of a second or more: the kill lands inside one */
    cr_assert_eq(tu_sh(KPF " run %s/tiny.yaml -o %s/whole -q", tu_tmp, tu_tmp), 0, "%s", tu_out);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd %s && (" KPF " run %s/tiny.yaml -o %s/cut -q > %s/cut.log 2>&1 & echo $! > "
             "%s/pid; wait)",
             KPF_SOURCE_DIR, tu_tmp, tu_tmp, tu_tmp, tu_tmp);
    FILE *bg = popen(cmd, "r");
    cr_assert_not_null(bg);
    /* wait for point 2 to have a checkpoint but no outcome yet */
    int seen = 0;
    for (int k = 0; k < 3000 && !seen; k++) {
        seen = tu_exists("cut/point_0002/checkpoint.h5") && !tu_exists("cut/point_0002/status");
        if (!seen)
            usleep(10000);
    }
    cr_assert(seen, "point 2 never started");
    int rc = tu_sh("kill -9 $(cat %s/pid)", tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    pclose(bg);
    usleep(200000); /* the point's child dies with its parent */
    cr_assert(tu_exists("cut/point_0000/status") && tu_exists("cut/point_0001/status"),
              "finished points are kept");
    cr_assert(!tu_exists("cut/point_0002/status"), "the interrupted point is not finished");
    cr_assert(!tu_exists("cut/sweep.csv"));
    rc = tu_sh(KPF " run --resume %s/cut", tu_tmp);
    cr_log_info("%s", tu_out);
    cr_assert_eq(rc, 0, "%s", tu_out);
    same_results("whole", "cut");
}
