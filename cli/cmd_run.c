/* `kpf run CONFIG [-o DIR] [--set k=v]…`: load and validate, then create the
 * output folder, then run.  A bad config exits 2 before anything is written.
 * A config is either a study's (its top level holds a registered study's
 * name, kpf/study.h) or the general experiment's (kpf/experiment.h).
 *
 * Under an MPI launcher (kpf/comm.h) every rank runs this same command: a
 * sweep's points are dealt over the ranks (sweep_run.c), an experiment's
 * trials are split over them (kpf_experiment_set_comm), and a study, which
 * runs in one process, is refused.  Every rank validates the config and
 * they agree before anything is written, so a mistake is exit 2 on every
 * rank and nobody is left waiting. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "run_report.h"
#include "sweep_internal.h"
#include "kpf/atomic_file.h"
#include "kpf/experiment.h"
#include "kpf/study.h"
#include "kpf/sweep.h"

typedef struct run_args {
    const char *config;
    const char *out;
    const char *resume; /* DIR of an interrupted run */
    const char **sets;  /* --set values, or the lines of DIR/overrides.txt */
    int n_sets, cap_sets;
    char **owned;       /* the lines read back from overrides.txt (n_owned) */
    int n_owned;
    int verbosity;      /* KPF_CLI_QUIET, _NORMAL, _VERBOSE */
    int help;
    const char *points; /* --points K/N or slurm: one slice of a sweep */
    kpf_cli_slice slice;
    kpf_comm *comm;     /* the ranks running this command (one: alone) */
} run_args;

static void args_free(run_args *a)
{
    for (int i = 0; i < a->n_owned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->sets);
}

/* Any number of --set values, each of any length.  They are kept one per
 * line in DIR/overrides.txt for --resume, so a value with a newline (which
 * that file could not give back) is refused at once. */
static int add_set(run_args *a, const char *v)
{
    if (strchr(v, '\n'))
        return fprintf(stderr, "kpf run: a --set value cannot contain a newline (it is kept "
                               "one per line for --resume); write it in the config file\n"),
               -1;
    if (a->n_sets == a->cap_sets) {
        int cap = a->cap_sets ? 2 * a->cap_sets : 16;
        const char **s = realloc(a->sets, (size_t)cap * sizeof *s);
        if (!s)
            return fprintf(stderr, "kpf run: out of memory\n"), -1;
        a->sets = s;
        a->cap_sets = cap;
    }
    a->sets[a->n_sets++] = v;
    return 0;
}

static void run_usage(FILE *fp)
{
    fputs("usage: kpf run CONFIG [-o DIR] [--set key.path=value]... [-q | -v]\n"
          "       kpf run --resume DIR [-q | -v]\n"
          "  runs the experiment a YAML config describes (or the study its top-level key\n"
          "  names, or the sweep its sweep: section lays out).  The whole config is\n"
          "  checked first: a mistake is exit 2 with file:line:col, before anything is\n"
          "  written.\n"
          "\n"
          "options:\n"
          "  -o, --out DIR        the run folder; it must not exist or be empty (default:\n"
          "                       runs/<config name>, and for later runs of the same\n"
          "                       config runs/<config name>-2, -3, …: never an earlier run)\n"
          "  --set key.path=value override one config value (repeatable), e.g.\n"
          "                       --set train.iterations=100 --set model.n=32\n"
          "  --resume DIR         continue an interrupted run from DIR/checkpoint.h5 with\n"
          "                       the config and overrides saved in DIR; on a sweep, run\n"
          "                       the points that have no outcome yet\n"
          "  --points K/N|slurm   run slice K (0 … N−1) of a sweep: the points i with\n"
          "                       i mod N = K, into the shared folder -o DIR (slurm: the\n"
          "                       slice of this array task); points that already have\n"
          "                       an outcome are skipped, so a requeued task finishes\n"
          "                       its share; merge the slices with kpf sweep-collect DIR\n"
          "                       (docs/cluster.md)\n"
          "  -q, --quiet          print nothing but errors\n"
          "  -v, --verbose        more detail: every phase, each analysis's time, every\n"
          "                       evaluation kept on screen, timings in the results\n"
          "  -h, --help           this text\n"
          "\n"
          "While it runs: on a terminal one line with iteration/total, the minibatch loss,\n"
          "the last evaluation loss, elapsed time and ETA; elsewhere one line per\n"
          "evaluation (KPF_PROGRESS=plain or live chooses).  At the end: the results\n"
          "(eval loss, convergence, effective ranks, wall time) and where the files are\n"
          "(docs/outputs.md).\n"
          "\n"
          "Under mpirun (or srun), a sweep's points are dealt over the ranks, and a run\n"
          "without a sweep splits its trials over them (docs/cluster.md).\n"
          "exit status: 0 success, 1 the run failed, 2 bad usage or bad config\n",
          fp);
}

static int unknown(const char *what, const char *s)
{
    fprintf(stderr, "kpf run: %s '%s' (see 'kpf run --help')\n", what, s);
    return -1;
}

static int parse(int argc, char **argv, run_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int has_value = i + 1 < argc;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            a->help = 1;
            return 0;
        } else if (!strcmp(s, "-q") || !strcmp(s, "--quiet")) {
            a->verbosity = KPF_CLI_QUIET;
        } else if (!strcmp(s, "-v") || !strcmp(s, "--verbose")) {
            a->verbosity = KPF_CLI_VERBOSE;
        } else if ((!strcmp(s, "-o") || !strcmp(s, "--out")) && has_value) {
            a->out = argv[++i];
        } else if (!strcmp(s, "--resume") && has_value) {
            a->resume = argv[++i];
        } else if (!strcmp(s, "--points") && has_value) {
            char msg[512];
            a->points = argv[++i];
            if (kpf_cli_slice_parse(a->points, &a->slice, msg, sizeof msg))
                return fprintf(stderr, "kpf run: %s\n", msg), -1;
        } else if (!strcmp(s, "--set") && has_value) {
            if (add_set(a, argv[++i]))
                return -1;
        } else if (!strncmp(s, "--set=", 6)) {
            if (add_set(a, s + 6))
                return -1;
        } else if (!strcmp(s, "-o") || !strcmp(s, "--out") || !strcmp(s, "--resume") ||
                   !strcmp(s, "--set") || !strcmp(s, "--points")) {
            return unknown("missing the value after", s);
        } else if (s[0] == '-' && s[1]) {
            return unknown("unknown option", s);
        } else if (!a->config) {
            a->config = s;
        } else {
            return fprintf(stderr, "kpf run: more than one config given ('%s')\n", s), -1;
        }
    }
    if (a->resume && (a->config || a->out || a->n_sets))
        return fprintf(stderr, "kpf run --resume DIR takes no config, -o or --set: the run's "
                               "own copies in DIR are used\n"),
               -1;
    if (!a->config && !a->resume)
        return fprintf(stderr, "usage: kpf run CONFIG [-o DIR] [--set key.path=value]...\n"
                               "       kpf run --resume DIR\n"
                               "(see 'kpf run --help')\n"),
               -1;
    if (a->points && !a->out && !a->resume)
        return fprintf(stderr, "kpf run --points %s needs -o DIR: every slice writes into the "
                               "same sweep folder\n",
                       a->points),
               -1;
    if (!a->points)
        a->slice = (kpf_cli_slice){0, 1};
    return 0;
}

/* A run keeps copies of its config and overrides so --resume can rebuild it. */
/* The run's copy of the config lives in DIR, so a relative weights file
 * (model.init.from, relative to the config's folder) is pinned to an
 * absolute path among the overrides the resumed run re-applies. */
static void pin_weights_path(const kpf_config *cfg, const char *config, FILE *ov)
{
    const kpf_node *init = kpf_node_get(kpf_node_get(kpf_config_root(cfg), "model"), "init");
    const char *from = kpf_node_scalar(kpf_node_get(init, "from"));
    if (!from || from[0] == '/' || strchr(from, '='))
        return;
    char cdir[4096], abs[PATH_MAX];
    snprintf(cdir, sizeof cdir, "%s", config);
    char *slash = strrchr(cdir, '/');
    snprintf(slash ? slash + 1 : cdir, sizeof cdir - (size_t)(slash ? slash + 1 - cdir : 0), "%s",
             from);
    if (realpath(cdir, abs))
        fprintf(ov, "model.init.from=%s\n", abs);
}

/* DIR/overrides.txt, then DIR/config.yaml, each written whole or not at
 * all (kpf/atomic_file.h): a folder with config.yaml has both.  On failure
 * neither is left, nor the folder when that leaves it empty. */
static int save_inputs(const run_args *a, const kpf_config *cfg, const char *dir,
                       kpf_error *err)
{
    char path[4200], cfg_path[4200];
    snprintf(path, sizeof path, "%s/overrides.txt", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.yaml", dir);
    kpf_atomic_file *af = NULL;
    FILE *ov = NULL, *out = NULL, *in = NULL;
    int rc = kpf_atomic_open(path, &af, &ov, err);
    /* The header keeps the file from being empty when there is nothing to
     * re-apply (a run folder holds no empty files). */
    if (!rc)
        fprintf(ov, "# --set overrides of this run, one per line; kpf run --resume re-applies "
                    "them\n");
    for (int i = 0; !rc && i < a->n_sets; i++)
        fprintf(ov, "%s\n", a->sets[i]);
    if (!rc) {
        pin_weights_path(cfg, a->config, ov);
        rc = kpf_atomic_commit(af, 0, err);
    }
    if (!rc && !(in = fopen(a->config, "rb")))
        rc = kpf_error_set(err, KPF_EIO, "%s: cannot read it again to keep a copy (%s)",
                           a->config, strerror(errno));
    if (!rc)
        rc = kpf_atomic_open(cfg_path, &af, &out, err);
    char buf[8192];
    size_t k;
    while (!rc && (k = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, k, out); /* a failed write is caught by the commit */
    if (!rc && ferror(in)) {
        kpf_atomic_abort(af);
        rc = kpf_error_set(err, KPF_EIO, "%s: read failed while keeping a copy", a->config);
    } else if (!rc) {
        rc = kpf_atomic_commit(af, 0, err);
    }
    if (in)
        fclose(in);
    if (rc) {
        unlink(path);
        rmdir(dir); /* only when empty: a folder of ours that holds nothing */
        return kpf_error_prefix(err, rc, "cannot keep a copy of the config in %s: ", dir);
    }
    return KPF_OK;
}

/* The --set values of the interrupted run, one per line, of any length
 * ('#' lines are comments). */
static int load_resume_sets(run_args *a, kpf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", a->resume);
    if (access(path, F_OK) != 0)
        return kpf_error_set(err, KPF_EIO,
                             "%s: missing, so %s holds no run to resume (is it a kpf run "
                             "folder? a run killed before it kept its config had not "
                             "begun: start it again with kpf run CONFIG -o NEW_DIR)",
                             path, a->resume);
    snprintf(path, sizeof path, "%s/overrides.txt", a->resume);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return kpf_error_set(err, KPF_EIO, "%s: missing; is %s a kpf run folder?", path,
                             a->resume);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = KPF_OK;
    while (!rc && (len = getline(&line, &cap, fp)) >= 0) {
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        char **owned = realloc(a->owned, (size_t)(a->n_owned + 1) * sizeof *owned);
        if (owned)
            a->owned = owned;
        if (!owned || !(owned[a->n_owned] = strdup(line))) {
            rc = kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", path);
            break;
        }
        if (add_set(a, owned[a->n_owned++]))
            rc = kpf_error_set(err, KPF_EIO, "%s: cannot be read back", path);
    }
    free(line);
    fclose(fp);
    return rc;
}

/* A run that failed leaves its partial outputs for inspection, marked by
 * DIR/FAILED (the message), so nobody takes the folder for a result; a
 * folder whose run had already finished is left alone. */
static void mark_failed(const char *dir, const kpf_error *err, int resumable)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if (access(path, F_OK) == 0)
        return;
    snprintf(path, sizeof path, "%s/FAILED", dir);
    FILE *fp = fopen(path, "w");
    int ok = fp != NULL;
    if (fp) {
        fprintf(fp, "%s\n", err->msg);
        ok = fclose(fp) == 0;
    }
    fprintf(stderr, "kpf: the run failed; what it wrote stays in %s, %s%s", dir,
            ok ? "marked by " : "(FAILED could not be written there)", ok ? path : "");
    if (resumable)
        fprintf(stderr, "; when the cause lies outside the config (disk space, memory, a "
                        "killed job), kpf run --resume %s retries it",
                dir);
    fputc('\n', stderr);
}

/* A resumed run is a new attempt: an earlier failure's mark goes. */
static void clear_failed(const char *dir)
{
    char failed[4200];
    snprintf(failed, sizeof failed, "%s/FAILED", dir);
    remove(failed);
}

/* The study's check before any output exists (a bad config: exit 2, nothing
 * written), then its run, or its resume op when resuming. */
static int run_study(const run_args *a, const kpf_study_desc *st, kpf_config *cfg,
                     const kpf_registry *reg)
{
    kpf_error err;
    kpf_error_clear(&err);
    char dir[4096];
    int rc = KPF_OK;
    if (a->resume && !KPF_STUDY_OP(st, resume))
        rc = kpf_error_set(&err, KPF_EUNSUPPORTED,
                           "`%s:` runs cannot be resumed (the study has no resume op); start "
                           "a new run",
                           st->name);
    if (!rc)
        rc = st->check(cfg, reg, &err);
    if (!rc && a->resume)
        snprintf(dir, sizeof dir, "%s", a->resume);
    else if (!rc && !(rc = kpf_output_dir_prepare(a->out, a->config, dir, sizeof dir, &err)))
        rc = save_inputs(a, cfg, dir, &err);
    if (rc) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        return rc == KPF_ENOMEM ? KPF_EXIT_FAIL : KPF_EXIT_USAGE;
    }
    if (a->verbosity >= KPF_CLI_NORMAL)
        fprintf(stderr, "kpf: %s %s\n", a->resume ? "resuming in" : "writing to", dir);
    rc = a->resume ? st->resume(cfg, reg, dir, &err) : st->run(cfg, reg, dir, &err);
    if (rc) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        mark_failed(dir, &err, KPF_STUDY_OP(st, resume) != NULL);
        return KPF_EXIT_FAIL;
    }
    clear_failed(dir); /* a resumed run that now succeeded */
    return KPF_EXIT_OK;
}

/* The config with its overrides, the registry, and what the config runs: a
 * study (*study) or else the experiment (*ex, loaded and validated). */
static int load(const run_args *a, kpf_config **cfg, kpf_registry **reg,
                const kpf_study_desc **study, kpf_experiment **ex, kpf_error *err)
{
    int rc = kpf_config_load_file(a->config, cfg, err);
    for (int i = 0; !rc && i < a->n_sets; i++)
        rc = kpf_config_set(*cfg, a->sets[i], err);
    if (!rc)
        rc = kpf_cli_registry(reg, err);
    if (!rc)
        rc = kpf_study_select(*reg, *cfg, study, NULL, err);
    if (!rc && !*study)
        rc = kpf_experiment_load(*cfg, *reg, ex, err);
    return rc;
}

typedef struct save_ctx {
    const run_args *a;
    const kpf_config *cfg;
} save_ctx;

static int save_to(void *ctx, const char *dir, kpf_error *err)
{
    const save_ctx *s = ctx;
    return save_inputs(s->a, s->cfg, dir, err);
}

/* A sweep, whole, resumed or one slice, alone or over MPI ranks
 * (sweep_run.c validates, makes the folder and runs). */
static int run_sweep(const run_args *a, const kpf_config *cfg, const kpf_sweep *sw,
                     kpf_registry *reg)
{
    int root = kpf_comm_rank(a->comm) == 0;
    kpf_cli_sweep_args sa = {.config = a->config, .sets = a->sets, .n_sets = a->n_sets,
                             .comm = a->comm, .slice_k = a->slice.k, .slice_n = a->slice.n,
                             .resume = a->resume != NULL};
    save_ctx sc = {a, cfg};
    kpf_cli_sweep_plan p = {a->config, a->out, a->resume, save_to, &sc,
                            a->verbosity < KPF_CLI_NORMAL};
    kpf_cli_progress pr;
    kpf_cli_progress_init(&pr, root ? a->verbosity : KPF_CLI_QUIET);
    kpf_progress listener = kpf_cli_progress_listener(&pr);
    sa.progress = root ? &listener : NULL;
    int rc = kpf_cli_run_sweep(&sa, sw, reg, &p);
    kpf_cli_progress_end(&pr);
    return rc;
}

static int run_command(run_args *a);

/* Trial-parallel run: rank 0's folder (or its failure) to every rank, and a
 * scratch folder for each other rank (cli/run_ranks.c). */
static int share_dir(const run_args *a, int rc, char *dir, size_t size, char *scratch,
                     size_t scratch_size, kpf_error *err)
{
    int st = rc;
    if (kpf_comm_bcast(a->comm, &st, sizeof st, 0, err) ||
        (!st && kpf_comm_bcast(a->comm, dir, size, 0, err)))
        return KPF_EIO;
    if (st)
        return kpf_comm_rank(a->comm) == 0 ? rc : kpf_error_set(err, st, "rank 0 failed");
    int mine = kpf_comm_rank(a->comm) == 0
                   ? KPF_OK
                   : kpf_cli_rank_scratch(dir, a->resume != NULL, scratch, scratch_size, err);
    return kpf_comm_agree(a->comm, mine, err);
}

int kpf_cmd_run(int argc, char **argv)
{
    kpf_comm *world = NULL;
    kpf_error err;
    if (kpf_comm_init(&argc, &argv, &world, &err)) {
        fprintf(stderr, "kpf: %s\n", err.msg);
        return KPF_EXIT_FAIL;
    }
    run_args a;
    int status, bad = parse(argc, argv, &a);
    if (bad || a.help) {
        if (!bad)
            run_usage(stdout);
        status = bad ? KPF_EXIT_USAGE : KPF_EXIT_OK;
    } else {
        a.comm = world;
        status = run_command(&a);
    }
    args_free(&a);
    /* A mistake in the usage or the config is found by every rank alike:
     * each says so before any of them exits, since the launcher ends the
     * rest of the job when the first rank exits with an error. */
    if (status == KPF_EXIT_USAGE) {
        fflush(NULL);
        kpf_comm_barrier(world, NULL);
    }
    kpf_comm_finalize(world);
    return status;
}

/* What each rank says: rank 0 always; another rank only about a problem it
 * found itself (its config or files differ from rank 0's). */
static void say_error(const run_args *a, int own, const kpf_error *err)
{
    if (kpf_comm_rank(a->comm) == 0 || own)
        fprintf(stderr, "kpf: %s\n", err->msg);
}

static int run_command(run_args *ap)
{
    run_args a = *ap; /* the caller frees what it owns */
    static char resume_cfg[4200];
    kpf_config *cfg = NULL;
    kpf_registry *reg = NULL;
    const kpf_study_desc *study = NULL;
    kpf_experiment *ex = NULL;
    kpf_error err;
    kpf_error_clear(&err);
    int status = KPF_EXIT_OK;
    int rc = KPF_OK;
    if (a.resume) {
        snprintf(resume_cfg, sizeof resume_cfg, "%s/config.yaml", a.resume);
        a.config = resume_cfg;
        rc = load_resume_sets(&a, &err);
    }
    if (!rc)
        rc = load(&a, &cfg, &reg, &study, &ex, &err);
    kpf_sweep sw = {0};
    uint64_t seed = 0;
    if (!rc)
        kpf_cfg_u64(kpf_config_root(cfg), "seed", 0, 0, &seed, NULL);
    if (!rc && !study)
        rc = kpf_sweep_parse(kpf_node_get(kpf_config_root(cfg), "sweep"), seed, &sw, &err);
    int ranks = kpf_comm_size(a.comm);
    if (!rc && study && ranks > 1)
        rc = kpf_error_set(&err, KPF_EUNSUPPORTED,
                           "`%s:` runs in one process; start it without mpirun (or with "
                           "-np 1)",
                           study->name);
    if (!rc && a.points && !sw.n_points)
        rc = kpf_error_set(&err, KPF_EINVAL,
                           "--points %s slices a sweep, and %s has no sweep: section", a.points,
                           a.config);
    if (!rc && !sw.n_points && ranks > 1)
        rc = kpf_experiment_set_comm(ex, a.comm, &err);
    int own = rc;
    rc = kpf_comm_agree(a.comm, rc, &err); /* every rank read the same config */
    if (rc) {
        say_error(&a, own, &err);
        status = rc == KPF_ENOMEM ? KPF_EXIT_FAIL : KPF_EXIT_USAGE;
        kpf_sweep_clear(&sw);
        goto done;
    }
    if (study) {
        status = run_study(&a, study, cfg, reg);
        goto done;
    }
    if (sw.n_points) {
        status = run_sweep(&a, cfg, &sw, reg);
        kpf_sweep_clear(&sw);
        goto done;
    }
    char dir[4096] = "", scratch[4096] = "";
    int root = kpf_comm_rank(a.comm) == 0;
    if (root && a.resume)
        snprintf(dir, sizeof dir, "%s", a.resume);
    else if (root && !(rc = kpf_output_dir_prepare(a.out, a.config, dir, sizeof dir, &err)))
        rc = save_inputs(&a, cfg, dir, &err);
    own = rc;
    if (ranks > 1)
        rc = share_dir(&a, rc, dir, sizeof dir, scratch, sizeof scratch, &err);
    if (rc) {
        say_error(&a, own, &err);
        status = KPF_EXIT_USAGE;
        goto done;
    }
    if (root && a.verbosity >= KPF_CLI_NORMAL)
        fprintf(stderr, "kpf: %s %s%s\n", a.resume ? "resuming in" : "writing to", dir,
                ranks > 1 ? " (trials split over the MPI ranks)" : "");
    const char *mine = scratch[0] ? scratch : dir;
    kpf_cli_progress pr;
    kpf_cli_progress_init(&pr, root ? a.verbosity : KPF_CLI_QUIET);
    kpf_progress listener = kpf_cli_progress_listener(&pr);
    kpf_experiment_set_progress(ex, &listener);
    /* a new attempt: without summary.json the folder is resumable until it
     * fails again (FAILED) or finishes */
    if (a.resume && root)
        clear_failed(dir);
    rc = kpf_experiment_run(ex, mine, a.resume != NULL, &err);
    kpf_cli_progress_end(&pr);
    kpf_experiment_set_progress(ex, NULL);
    kpf_cli_rank_scratch_remove(scratch);
    if (rc) {
        fprintf(stderr, "kpf: %s%s\n", ranks > 1 && !root ? "a rank: " : "", err.msg);
        if (root)
            mark_failed(dir, &err, 1);
        /* the other ranks may be waiting in a sum for this one: end them */
        kpf_comm_abort(a.comm, KPF_EXIT_FAIL);
        status = KPF_EXIT_FAIL;
        goto done;
    }
    if (root)
        kpf_cli_print_results(dir, a.verbosity);
done:
    kpf_experiment_free(ex);
    kpf_registry_free(reg);
    kpf_config_free(cfg);
    *ap = a; /* with what --resume read back, for the caller to free */
    return status;
}
