/* The fault-injection suite (issue 13; docs/reliability.md): a small run is
 * killed (SIGKILL) at every phase and made to fail writing each of its
 * files in turn, by a preloaded shim (fault_shim.c) that fires at an exact
 * call — no timing anywhere.  Every case must end in one of two ways:
 *   - resumed (kpf run --resume, without the fault) to a folder that
 *     kpf_run_compare finds equal to an uninterrupted run's: the same files,
 *     every HDF5 dataset bit for bit, summary.json apart from timings, the
 *     figures byte for byte;
 *   - or a clear refusal: exit 1 or 2 with a message naming the file, and a
 *     folder marked FAILED (holding that message) or removed.
 * Never a crash (any exit other than 0, 1, 2, or the injected kill), never
 * a folder that is neither finished, nor failed, nor resumable. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

#define REF_DIR KPF_BINARY_DIR "/tests/fault/ref"

/* Five snapshots (0, 1, 3, 4, 6) around checkpoints at 2, 4, 6, every
 * analysis with state across snapshots (ΔW's W₀, CP's weight tensor,
 * Lyapunov), figures, a trajectory. */
static const char *const plain_cfg =
    "seed: 3\n"
    "task: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
    "model: {plugin: rnn, n: 5}\n"
    "train: {iterations: 6, batch: 4, lr: 0.01, eval_trials: 4, eval_every: 2, "
    "checkpoint_every: 2}\n"
    "analysis: {at: [0, 1, 3, 4, 6], trials: 3, k: 2, delta_w: {block: W, r_max: 2}, "
    "cp: {r_max: 2}, lyapunov: 2}\n"
    "simulate: {trials: 3}\n";

/* The same with a pretraining stage on another task (its own checkpoints,
 * pretrain.h5, W* − W₀ and the comparison at every main snapshot). */
static const char *const pretrain_cfg =
    "seed: 4\n"
    "task: {name: memory_pro, t_stim: 3, t_memory: 3, t_response: 3}\n"
    "model: {plugin: rnn, n: 5}\n"
    "pretrain:\n"
    "  task: {name: memory_pro, t_stim: 2, t_memory: 4, t_response: 2}\n"
    "  train: {iterations: 4, batch: 4, lr: 0.02, eval_trials: 4, eval_every: 2, "
    "checkpoint_every: 2}\n"
    "train: {iterations: 4, batch: 4, lr: 0.01, eval_trials: 4, eval_every: 2, "
    "checkpoint_every: 2}\n"
    "analysis: {at: [0, 2, 4], trials: 3, k: 2, delta_w: {block: W, r_max: 2}}\n"
    "simulate: {trials: 3}\n";

enum { PLAIN, PRETRAIN, N_CFG };
static const char *const cfg_text[N_CFG] = {plain_cfg, pretrain_cfg};
static const char *const cfg_name[N_CFG] = {"plain", "pretrain"};

/* Environment that preloads the shim (sanitizer builds: ASan need not come
 * first, the shim only wraps libc's file calls). */
#define SHIM_ENV                                                                            \
    "ASAN_OPTIONS=verify_asan_link_order=0:$ASAN_OPTIONS LD_PRELOAD=" KPF_FAULT_SHIM " "

/* ---- the uninterrupted references, made once before the tests ------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

/* REF_DIR/<cfg>.yaml and REF_DIR/<cfg>/, and REF_DIR/<cfg>.counts: how many
 * writes a whole run makes to analysis.h5 and to any file of its folder
 * (the kill and full-disk points below are fractions of these). */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    sh("rm -rf '%s' && mkdir -p '%s'", REF_DIR, REF_DIR);
    for (int c = 0; c < N_CFG; c++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, "%s/%s.yaml", REF_DIR, cfg_name[c]);
        write_file(cfg, cfg_text[c]);
        sh("%s run -q %s -o %s/%s > %s/%s.log 2>&1", KPF_CLI_PATH, cfg, REF_DIR, cfg_name[c],
           REF_DIR, cfg_name[c]);
        sh(SHIM_ENV "KPF_FAULT_PATH='*/count/analysis.h5' KPF_FAULT_ACTION=count "
                    "KPF_FAULT_COUNTS=%s/%s.analysis.counts %s run -q %s -o %s/count "
                    "> /dev/null 2>&1",
           REF_DIR, cfg_name[c], KPF_CLI_PATH, cfg, REF_DIR);
        sh("rm -rf %s/count", REF_DIR);
        sh(SHIM_ENV "KPF_FAULT_PATH='*/count/*' KPF_FAULT_ACTION=count "
                    "KPF_FAULT_COUNTS=%s/%s.all.counts %s run -q %s -o %s/count > /dev/null 2>&1",
           REF_DIR, cfg_name[c], KPF_CLI_PATH, cfg, REF_DIR);
        sh("rm -rf %s/count", REF_DIR);
    }
}

/* The count of `op` calls in REF_DIR/<cfg>.<which>.counts. */
static long ref_count(int cfg, const char *which, const char *op)
{
    char path[512], name[32];
    long v, found = -1;
    snprintf(path, sizeof path, "%s/%s.%s.counts", REF_DIR, cfg_name[cfg], which);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "no counts in %s: the reference run failed", path);
    while (fscanf(fp, "%31s %ld", name, &v) == 2)
        if (!strcmp(name, op))
            found = v;
    fclose(fp);
    cr_assert_gt(found, 0, "%s: no '%s' calls counted", path, op);
    return found;
}

static void setup(void)
{
    tu_mktmp();
    char p[512];
    struct stat st;
    for (int c = 0; c < N_CFG; c++) {
        snprintf(p, sizeof p, "%s/%s/summary.json", REF_DIR, cfg_name[c]);
        cr_assert_eq(stat(p, &st), 0, "the reference run %s did not finish (see %s/%s.log)",
                     cfg_name[c], REF_DIR, cfg_name[c]);
    }
}

TestSuite(faults, .init = setup, .fini = tu_rmtmp, .timeout = 120);

/* ---- one case --------------------------------------------------------------------- */

/* Arrays, not pointers: Criterion hands each parameter by value to a fresh
 * process, where the parent's addresses mean nothing. */
typedef struct fault_case {
    char what[96];   /* the phase or the file, for messages */
    int cfg;         /* PLAIN or PRETRAIN */
    char path[64];   /* glob under the run folder ("*" + "/run/…") */
    char op[8];      /* open | write | rename */
    long nth;        /* > 0: this call; < 0: −percent of the counted calls */
    char counts[12]; /* for nth < 0: "analysis" or "all"; else "" */
    char action[8];  /* kill | fail */
} fault_case;

/* Run the config of c under the fault; returns the exit status (137: killed). */
static int run_faulted(const fault_case *c)
{
    long nth = c->nth;
    if (nth < 0)
        nth = ref_count(c->cfg, c->counts, c->op) * -nth / 100;
    if (nth < 1)
        nth = 1;
    return tu_sh(SHIM_ENV "KPF_FAULT_PATH='*%s' KPF_FAULT_OP=%s KPF_FAULT_NTH=%ld "
                 "KPF_FAULT_ACTION=%s %s run -q %s/%s.yaml -o %s/run",
                 c->path, c->op, nth, c->action, KPF_CLI_PATH, REF_DIR, cfg_name[c->cfg],
                 tu_tmp);
}

static int resume(void)
{
    return tu_sh("%s run -q --resume %s/run", KPF_CLI_PATH, tu_tmp);
}

/* The folder finished and equals the uninterrupted run's. */
static void expect_same(const fault_case *c)
{
    int rc = tu_sh("%s %s/%s %s/run", KPF_RUN_COMPARE, REF_DIR, cfg_name[c->cfg], tu_tmp);
    cr_expect_eq(rc, 0, "%s: the resumed run differs from the uninterrupted one:\n%s", c->what,
                 tu_out);
}

/* A folder that is not finished is either gone, or marked FAILED with the
 * message, or resumable (a config and no summary); `failed_msg` is what
 * the failing run printed. */
static void expect_refusal_marked(const fault_case *c, const char *failed_msg)
{
    if (!tu_exists("run"))
        return;
    cr_expect_not(tu_exists("run/summary.json"), "%s: a failed run left summary.json",
                  c->what);
    /* marked, or — when even FAILED could not be written — resumable and
     * saying so */
    cr_expect(tu_exists("run/FAILED") || !tu_exists("run/config.yaml") ||
                  strstr(failed_msg, "FAILED could not be written there"),
              "%s: the failed folder is not marked FAILED: %s", c->what, failed_msg);
    if (tu_exists("run/FAILED")) {
        char p[256], text[2048] = "";
        snprintf(p, sizeof p, "%s/run/FAILED", tu_tmp);
        FILE *fp = fopen(p, "r");
        if (fp) {
            size_t k = fread(text, 1, sizeof text - 1, fp);
            text[k] = '\0';
            fclose(fp);
        }
        text[strcspn(text, "\n")] = '\0';
        cr_expect(text[0] && strstr(failed_msg, text),
                  "%s: FAILED does not hold the message printed (%s): %s", c->what, text,
                  failed_msg);
    }
    /* nothing that failed carries a valid-looking name */
    const char *outputs[] = {"run/train.h5", "run/trajectory.h5", "run/pretrain.h5"};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        if (tu_exists(outputs[i]))
            cr_expect_eq(tu_sh("%s %s/%s %s/%s/%s", KPF_RUN_COMPARE, tu_tmp, outputs[i],
                               REF_DIR, cfg_name[c->cfg], outputs[i] + 4),
                         0, "%s: %s is there but not whole: %s", c->what, outputs[i], tu_out);
}

/* ---- kills: every phase ------------------------------------------------------------- */

static fault_case kills[] = {
    {"killed while keeping the config (before the run began)", PLAIN, "/run/config.yaml.partial",
     "open", 1, "", "kill"},
    {"killed before the first checkpoint (snapshots 0 and 1 taken)", PLAIN,
     "/run/checkpoint.h5.tmp", "open", 1, "", "kill"},
    {"killed during the first analysis, before any checkpoint", PLAIN, "/run/analysis.h5",
     "write", 3, "", "kill"},
    {"killed mid-analysis, a quarter through analysis.h5", PLAIN, "/run/analysis.h5", "write",
     -25, "analysis", "kill"},
    {"killed mid-analysis, half-way through analysis.h5", PLAIN, "/run/analysis.h5", "write",
     -50, "analysis", "kill"},
    {"killed mid-analysis, three quarters through analysis.h5", PLAIN, "/run/analysis.h5",
     "write", -75, "analysis", "kill"},
    {"killed while writing the first checkpoint", PLAIN, "/run/checkpoint.h5.tmp", "write", 5,
     "", "kill"},
    {"killed between checkpoints (before the second)", PLAIN, "/run/checkpoint.h5.tmp", "open",
     2, "", "kill"},
    {"killed between checkpoints (snapshot 3 just recorded)", PLAIN,
     "/run/.kpf-resume/snapshot-3.h5.partial", "rename", 1, "", "kill"},
    {"killed with train.h5 written, not yet named", PLAIN, "/run/train.h5.partial", "rename", 1,
     "", "kill"},
    {"killed after train.h5", PLAIN, "/run/plot-src/loss.dat", "open", 1, "", "kill"},
    {"killed while drawing the figures", PLAIN, "/run/plot-src/pca_iter6.gp", "open", 1, "",
     "kill"},
    {"killed while writing trajectory.h5", PLAIN, "/run/trajectory.h5.partial", "write", 5, "",
     "kill"},
    {"killed before summary.json", PLAIN, "/run/summary.json.partial", "open", 1, "", "kill"},
    {"killed with summary.json written, not yet named", PLAIN, "/run/summary.json.partial",
     "rename", 1, "", "kill"},
    {"killed during pretraining", PRETRAIN, "/run/pretrain_checkpoint.h5.tmp", "open", 2, "",
     "kill"},
    {"killed with pretrain.h5 written, not yet named", PRETRAIN, "/run/pretrain.h5.partial",
     "rename", 1, "", "kill"},
    {"killed after pretraining, before the main run's first checkpoint", PRETRAIN,
     "/run/analysis.h5", "write", 3, "", "kill"},
    {"killed between the main run's checkpoints after pretraining", PRETRAIN,
     "/run/checkpoint.h5.tmp", "open", 2, "", "kill"},
};

ParameterizedTestParameters(faults, kill_then_resume)
{
    return cr_make_param_array(fault_case, kills, sizeof kills / sizeof kills[0]);
}

ParameterizedTest(fault_case *c, faults, kill_then_resume)
{
    int rc = run_faulted(c);
    cr_assert_eq(rc, 128 + 9, "%s: the run was not killed (status %d): %s", c->what, rc, tu_out);
    cr_expect_not(tu_exists("run/summary.json"), "%s: killed, yet summary.json exists", c->what);
    rc = resume();
    if (!tu_exists("run/config.yaml")) { /* killed before it began: a clear refusal */
        cr_expect_eq(rc, 2, "%s: resume status %d: %s", c->what, rc, tu_out);
        cr_expect(strstr(tu_out, "holds no run to resume"), "%s: %s", c->what, tu_out);
        cr_expect(strstr(tu_out, "start it again with kpf run CONFIG -o"), "%s: %s", c->what,
                  tu_out);
        return;
    }
    cr_assert_eq(rc, 0, "%s: resume failed (status %d): %s", c->what, rc, tu_out);
    expect_same(c);
    rc = resume();
    cr_expect_eq(rc, 1, "%s: a finished run resumed again (status %d)", c->what, rc);
    cr_expect(strstr(tu_out, "already finished"), "%s: %s", c->what, tu_out);
    cr_expect_not(tu_exists("run/FAILED"), "%s: a finished run marked FAILED", c->what);
}

/* Killed, then killed again while resuming, then resumed. */
Test(faults, a_resume_killed_in_turn_resumes)
{
    fault_case first = {"first kill", PLAIN, "/run/checkpoint.h5.tmp", "open", 2, "", "kill"};
    cr_assert_eq(run_faulted(&first), 137, "%s", tu_out);
    cr_assert_eq(tu_sh(SHIM_ENV "KPF_FAULT_PATH='*/run/plot-src/loss.dat' KPF_FAULT_OP=open "
                                "KPF_FAULT_ACTION=kill %s run -q --resume %s/run",
                       KPF_CLI_PATH, tu_tmp),
                 137, "%s", tu_out);
    cr_assert_eq(resume(), 0, "%s", tu_out);
    expect_same(&first);
}

/* ---- write failures: each file in turn --------------------------------------------- */

static fault_case full[] = {
    {"overrides.txt cannot be written", PLAIN, "/run/overrides.txt.partial", "write", 1, "",
     "fail"},
    {"config.yaml cannot be written", PLAIN, "/run/config.yaml.partial", "write", 1, "",
     "fail"},
    {"checkpoint.h5 cannot be written", PLAIN, "/run/checkpoint.h5.tmp", "write", 1, "",
     "fail"},
    {"the second checkpoint cannot be written", PLAIN, "/run/checkpoint.h5.tmp", "open", 2, "",
     "fail"},
    {"analysis.h5 fills the disk mid-run", PLAIN, "/run/analysis.h5", "write", -50, "analysis",
     "fail"},
    {"a snapshot's θ record cannot be written", PLAIN, "/run/.kpf-resume/snapshot-3.h5.partial",
     "write", 1, "", "fail"},
    {"train.h5 cannot be written", PLAIN, "/run/train.h5.partial", "write", 1, "", "fail"},
    {"train.h5 cannot be created", PLAIN, "/run/train.h5.partial", "open", 1, "", "fail"},
    {"trajectory.h5 cannot be written", PLAIN, "/run/trajectory.h5.partial", "write", 3, "",
     "fail"},
    {"summary.json cannot be written", PLAIN, "/run/summary.json.partial", "write", 1, "",
     "fail"},
    {"summary.json cannot be named", PLAIN, "/run/summary.json.partial", "rename", 1, "",
     "fail"},
    {"the disk fills half-way and stays full (FAILED cannot be written either)", PLAIN,
     "/run/*", "write", -50, "all", "fail"},
    {"pretrain.h5 cannot be written", PRETRAIN, "/run/pretrain.h5.partial", "write", 1, "",
     "fail"},
};

ParameterizedTestParameters(faults, write_failure_then_resume)
{
    return cr_make_param_array(fault_case, full, sizeof full / sizeof full[0]);
}

ParameterizedTest(fault_case *c, faults, write_failure_then_resume)
{
    int rc = run_faulted(c);
    char msg[sizeof tu_out];
    memcpy(msg, tu_out, sizeof msg);
    cr_assert(rc == 1 || rc == 2, "%s: status %d (expected a refusal, 1 or 2): %s", c->what, rc,
              msg);
    /* the cause, or at least the file (HDF5's create does not pass errno on) */
    char file[64];
    snprintf(file, sizeof file, "%s", strrchr(c->path, '/') + 1);
    if (strchr(file, '*'))
        file[0] = '\0';
    if (!strcmp(c->op, "open"))
        cr_expect(strstr(msg, file), "%s: the message does not name %s: %s", c->what, file, msg);
    else
        cr_expect(strstr(msg, "No space left on device"),
                  "%s: the message hides the cause: %s", c->what, msg);
    expect_refusal_marked(c, msg);
    rc = resume(); /* the disk has room again */
    if (!tu_exists("run/config.yaml")) {
        cr_expect_eq(rc, 2, "%s: resume status %d: %s", c->what, rc, tu_out);
        cr_expect(strstr(tu_out, "holds no run to resume"), "%s: %s", c->what, tu_out);
        return;
    }
    cr_assert_eq(rc, 0, "%s: resume after freeing the disk failed (%d): %s", c->what, rc,
                 tu_out);
    cr_expect_not(tu_exists("run/FAILED"), "%s: FAILED stayed after a good resume", c->what);
    expect_same(c);
}

/* A figure that cannot be written costs the figure, not the run: the run
 * finishes and summary.json names what is missing. */
Test(faults, a_figure_that_cannot_be_written_is_named_in_the_summary)
{
    fault_case c = {"loss.dat", PLAIN, "/run/plot-src/loss.dat", "write", 1, "", "fail"};
    cr_assert_eq(run_faulted(&c), 0, "%s", tu_out);
    cr_assert_eq(tu_sh("grep '\"plot_error\"' %s/run/summary.json", tu_tmp), 0,
                 "no plot_error in the summary");
    cr_expect(strstr(tu_out, "loss.dat"), "plot_error does not name the file: %s", tu_out);
    cr_expect_not(tu_exists("run/FAILED"));
    cr_expect_not(tu_exists("run/loss.png"), "a figure drawn from a torn table");
}
