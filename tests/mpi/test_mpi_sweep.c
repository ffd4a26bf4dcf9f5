/* Sweeps on MPI, three ranks on loopback: the task farm's sweep.csv and
 * every point's scalars equal the one-process sweep's; a worker rank killed
 * with SIGKILL loses no finished point and --resume completes the sweep to
 * the same results; the two scripts of docs/cluster.md, extracted from the
 * page, run (the array script with Slurm's variables exported by hand, the
 * MPI script with mpirun); bad usage is exit 2 on every rank, no hang. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <unistd.h>

#include "test_util.h"
#include "sweep_fixture.h"

#define KPF KPF_CLI_PATH
#define MPIRUN KPF_MPIEXEC " --oversubscribe --allow-run-as-root -np 3 "

static void setup(void) { tu_mktmp(); }
static void teardown(void) { tu_rmtmp(); }
TestSuite(mpi_sweep, .init = setup, .fini = teardown, .timeout = 300);

static void same_results(const char *a, const char *b)
{
    int rc = tu_sh("cmp %s/%s/sweep.csv %s/%s/sweep.csv", tu_tmp, a, tu_tmp, b);
    cr_assert_eq(rc, 0, "sweep.csv differs:\n%s", tu_out);
    for (int i = 0; i < 6; i++) {
        rc = tu_sh("cmp %s/%s/point_%04d/scalars.txt %s/%s/point_%04d/scalars.txt", tu_tmp, a, i,
                   tu_tmp, b, i);
        cr_assert_eq(rc, 0, "point %d differs:\n%s", i, tu_out);
    }
}

Test(mpi_sweep, task_farm_equals_the_one_process_sweep)
{
    write_tiny(30);
    cr_assert_eq(tu_sh(KPF " run %s/tiny.yaml -o %s/serial -q", tu_tmp, tu_tmp), 0, "%s", tu_out);
    int rc = tu_sh("timeout 300 " MPIRUN KPF " run %s/tiny.yaml -o %s/mpi", tu_tmp, tu_tmp);
    cr_log_info("%s", tu_out);
    cr_assert_eq(rc, 0, "%s", tu_out);
    for (int r = 0; r < 3; r++) { /* every rank ran points */
        char needle[32];
        snprintf(needle, sizeof needle, "rank %d)", r);
        cr_expect(strstr(tu_out, needle), "no point ran on rank %d:\n%s", r, tu_out);
    }
    same_results("serial", "mpi");
}

/* Rank 2 killed mid-point: mpirun ends the job; the points that finished
 * keep their outcome, and --resume (itself on three ranks) runs the rest. */
Test(mpi_sweep, killed_worker_loses_no_finished_point)
{
    write_tiny(600); /* points of a second or more: the job outlives the kill */
    cr_assert_eq(tu_sh(KPF " run %s/tiny.yaml -o %s/serial -q", tu_tmp, tu_tmp), 0, "%s", tu_out);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && (timeout 300 " MPIRUN KPF " run %s/tiny.yaml -o %s/cut > %s/cut.log 2>&1 "
             "& echo $! > %s/pid; wait)",
             KPF_SOURCE_DIR, tu_tmp, tu_tmp, tu_tmp, tu_tmp);
    FILE *bg = popen(cmd, "r");
    cr_assert_not_null(bg);
    int done = 0;
    for (int k = 0; k < 6000 && done < 2; k++) {
        done = 0;
        for (int i = 0; i < 6; i++) {
            char p[64];
            snprintf(p, sizeof p, "cut/point_%04d/status", i);
            done += tu_exists(p);
        }
        if (done < 2)
            usleep(10000);
    }
    cr_assert_geq(done, 2, "no points finished");
    /* rank 2 is the process whose environment says so (mpirun starts the
     * ranks; `timeout` is the recorded pid's process) */
    int rc = tu_sh("for p in $(pgrep -f '" KPF " run %s/tiny.yaml'); do "
                   "  if tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | "
                   "     grep -qx OMPI_COMM_WORLD_RANK=2; then kill -9 $p && echo killed $p; fi; "
                   "done",
                   tu_tmp);
    cr_assert(strstr(tu_out, "killed"), "rank 2 not found:\n%s", tu_out);
    pclose(bg);
    int finished = 0;
    for (int i = 0; i < 6; i++) {
        char p[64];
        snprintf(p, sizeof p, "cut/point_%04d/status", i);
        finished += tu_exists(p);
    }
    cr_log_info("%d points finished before the kill", finished);
    cr_assert_geq(finished, done, "a finished point was lost");
    rc = tu_sh("timeout 300 " MPIRUN KPF " run --resume %s/cut", tu_tmp);
    cr_log_info("%s", tu_out);
    cr_assert_eq(rc, 0, "%s", tu_out);
    same_results("serial", "cut");
}

/* The fenced block after `<!-- script: NAME` in docs/cluster.md, to a file. */
static void extract_script(const char *name)
{
    int rc = tu_sh("awk '/<!-- script: %s/ {on = 1; next} on && /^```bash/ {inside = 1; next} "
                   "inside && /^```/ {exit} inside {print}' docs/cluster.md > %s/%s && "
                   "test -s %s/%s && grep -c . %s/%s",
                   name, tu_tmp, name, tu_tmp, name, tu_tmp, name);
    cr_assert_eq(rc, 0, "no script %s in docs/cluster.md:\n%s", name, tu_out);
}

Test(mpi_sweep, cluster_md_scripts_run)
{
    write_tiny(30);
    cr_assert_eq(tu_sh(KPF " run %s/tiny.yaml -o %s/serial -q", tu_tmp, tu_tmp), 0, "%s", tu_out);
    extract_script("kpf_sweep_array.sbatch");
    extract_script("kpf_sweep_mpi.sbatch");
    for (int task = 0; task < 3; task++) {
        int rc = tu_sh("KPF=" KPF " CONFIG=%s/tiny.yaml OUT=%s/array SLURM_ARRAY_TASK_ID=%d "
                       "SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=3 "
                       "bash %s/kpf_sweep_array.sbatch",
                       tu_tmp, tu_tmp, task, tu_tmp);
        cr_assert_eq(rc, 0, "array task %d:\n%s", task, tu_out);
    }
    int rc = tu_sh(KPF " sweep-collect %s/array", tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    same_results("serial", "array");
    rc = tu_sh("KPF=" KPF " CONFIG=%s/tiny.yaml OUT=%s/mpi MPIRUN='timeout 300 " MPIRUN "' "
               "bash %s/kpf_sweep_mpi.sbatch",
               tu_tmp, tu_tmp, tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    same_results("serial", "mpi");
    /* resubmitted after it finished: the resume branch, nothing left to run */
    rc = tu_sh("KPF=" KPF " CONFIG=%s/tiny.yaml OUT=%s/mpi MPIRUN='timeout 300 " MPIRUN "' "
               "bash %s/kpf_sweep_mpi.sbatch",
               tu_tmp, tu_tmp, tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    same_results("serial", "mpi");
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(mpi_sweep, bad_usage_is_exit_2_on_every_rank)
{
    write_tiny(30);
    int rc = tu_sh("timeout 120 " MPIRUN KPF " run %s/tiny.yaml -o %s/x --points 5/4", tu_tmp,
                   tu_tmp);
    cr_assert_eq(rc, 2, "%s", tu_out);
    cr_assert_eq(count(tu_out, "slice 5 of 4 does not exist"), 3, "%s", tu_out);
    cr_assert(!tu_exists("x"));
    tu_write("bad.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: -4}\n"
                         "sweep: {values: {model.g: [1, 2]}}\n");
    rc = tu_sh("timeout 120 " MPIRUN KPF " run %s/bad.yaml -o %s/x", tu_tmp, tu_tmp);
    cr_assert_eq(rc, 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "bad.yaml:2:"), "located: %s", tu_out);
    cr_assert(!tu_exists("x"));
}

/* ---- trial-parallel runs of the kpf command ---------------------------------- */

static const char *split_cfg =
    "seed: 5\n"
    "threads: 1\n"
    "task: {name: memory_pro, n_conditions: 4, t_stim: 4, t_memory: 4, t_response: 4}\n"
    "model: {plugin: gru, n: 12}\n"
    "train: {iterations: %d, batch: 10, lr: 0.01, eval_every: 5, eval_trials: 7,\n"
    "        checkpoint_every: 5}\n"
    "analysis: {trials: 5, k: 3, operators: [K, P]}\n"
    "simulate: {trials: 6}\n";

/* Every number in two summary.json files within rel (timings and paths
 * aside); python3 reads them (scripts/deps.sh installs it). */
static void summaries_agree(const char *a, const char *b, double rel)
{
    tu_write("agree.py",
             "import json, math, sys\n"
             "a, b, rel = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), "
             "float(sys.argv[3])\n"
             "skip = {'timings', 'threads', 'config', 'path', 'plugin_path'}\n"
             "worst = [0.0, '']\n"
             "def walk(x, y, at):\n"
             "    if isinstance(x, dict):\n"
             "        assert set(x) == set(y), (at, set(x) ^ set(y))\n"
             "        for k in x:\n"
             "            if k not in skip: walk(x[k], y[k], at + '.' + k)\n"
             "    elif isinstance(x, list):\n"
             "        assert len(x) == len(y), at\n"
             "        for i, (u, v) in enumerate(zip(x, y)): walk(u, v, f'{at}[{i}]')\n"
             "    elif isinstance(x, (int, float)) and not isinstance(x, bool):\n"
             "        if math.isnan(x) and math.isnan(y): return\n"
             "        d = abs(x - y) / max(abs(x), abs(y), 1e-300)\n"
             "        if d > worst[0]: worst[:] = [d, at]\n"
             "walk(a, b, '')\n"
             "print(f'worst relative difference {worst[0]:.3e} at {worst[1]}')\n"
             "sys.exit(0 if worst[0] <= rel else 1)\n");
    int rc = tu_sh("python3 %s/agree.py %s/%s/summary.json %s/%s/summary.json %g", tu_tmp, tu_tmp,
                   a, tu_tmp, b, rel);
    cr_log_info("%s vs %s: %s", a, b, tu_out);
    cr_assert_eq(rc, 0, "%s and %s disagree:\n%s", a, b, tu_out);
}

Test(mpi_sweep, trial_parallel_run_equals_the_one_process_run)
{
    char text[2048];
    snprintf(text, sizeof text, split_cfg, 20);
    tu_write("split.yaml", text);
    cr_assert_eq(tu_sh(KPF " run %s/split.yaml -o %s/one -q", tu_tmp, tu_tmp), 0, "%s", tu_out);
    int rc = tu_sh("timeout 300 " MPIRUN KPF " run %s/split.yaml -o %s/three", tu_tmp, tu_tmp);
    cr_log_info("%s", tu_out);
    cr_assert_eq(rc, 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "trials split over the MPI ranks"), "%s", tu_out);
    summaries_agree("one", "three", 1e-12);
    cr_assert(tu_exists("three/checkpoint.h5") && tu_exists("three/train.h5"),
              "rank 0 wrote the run folder");
}

Test(mpi_sweep, trial_parallel_run_resumes_after_a_killed_rank)
{
    char text[2048];
    snprintf(text, sizeof text, split_cfg, 3000); /* long enough to be cut */
    tu_write("split.yaml", text);
    cr_assert_eq(tu_sh(KPF " run %s/split.yaml -o %s/one -q", tu_tmp, tu_tmp), 0, "%s", tu_out);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && (timeout 300 " MPIRUN KPF " run %s/split.yaml -o %s/cut -q > %s/cut.log "
             "2>&1 & wait)",
             KPF_SOURCE_DIR, tu_tmp, tu_tmp, tu_tmp);
    FILE *bg = popen(cmd, "r");
    cr_assert_not_null(bg);
    int seen = 0;
    for (int k = 0; k < 6000 && !seen; k++) {
        seen = tu_exists("cut/checkpoint.h5");
        if (!seen)
            usleep(10000);
    }
    cr_assert(seen, "no checkpoint was written");
    int rc = tu_sh("for p in $(pgrep -f '" KPF " run %s/split.yaml'); do "
                   "  if tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | "
                   "     grep -qx OMPI_COMM_WORLD_RANK=1; then kill -9 $p && echo killed $p; fi; "
                   "done",
                   tu_tmp);
    cr_assert(strstr(tu_out, "killed"), "rank 1 not found:\n%s", tu_out);
    pclose(bg);
    cr_assert(!tu_exists("cut/summary.json"), "the run was cut before it finished");
    rc = tu_sh("timeout 300 " MPIRUN KPF " run --resume %s/cut -q", tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    summaries_agree("one", "cut", 1e-12);
}

Test(mpi_sweep, fewer_trials_than_ranks_is_exit_2_on_every_rank)
{
    char text[2048];
    snprintf(text, sizeof text, split_cfg, 20);
    tu_write("split.yaml", text);
    int rc = tu_sh("timeout 120 " MPIRUN KPF " run %s/split.yaml -o %s/x --set train.batch=2",
                   tu_tmp, tu_tmp);
    cr_assert_eq(rc, 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "train.batch: batch = 2 trials cannot be split over 3 ranks"),
              "%s", tu_out);
    cr_assert(!tu_exists("x"), "nothing written");
    /* the spectra analysis takes its share of the analysis trials too */
    rc = tu_sh("timeout 120 " MPIRUN KPF " run %s/split.yaml -o %s/x --set analysis.trials=2",
               tu_tmp, tu_tmp);
    cr_assert_eq(rc, 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "analysis.trials = 2 trials cannot be split over 3 ranks"), "%s",
              tu_out);
    cr_assert(!tu_exists("x"), "nothing written");
    tu_write("study.yaml", "linear_theory: {g: [0.5]}\n");
    rc = tu_sh("timeout 120 " MPIRUN KPF " run %s/study.yaml -o %s/x", tu_tmp, tu_tmp);
    cr_assert_eq(rc, 2, "%s", tu_out);
    cr_assert(!tu_exists("x"), "nothing written");
}
