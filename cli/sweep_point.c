/* One sweep point: its config (the file, the --set overrides, the point's
 * values), its run in a child process (a crash or failure is recorded and
 * the sweep goes on), and its outcome, recorded last in point_NNNN/status
 * so that a point is either finished or visibly not (resume, collect). */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "kpf/experiment.h"
#include "sweep_internal.h"

#define MAX_SCALARS 32

void kpf_cli_point_dir(const char *dir, size_t i, char *buf, size_t size)
{
    snprintf(buf, size, "%s/point_%04zu", dir, i);
}

int kpf_cli_point_outcome(const char *pdir, char *status, size_t size)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/status", pdir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    int ok = fgets(status, (int)size, fp) != NULL;
    fclose(fp);
    if (ok)
        status[strcspn(status, "\n")] = '\0';
    return ok && status[0];
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int kpf_cli_point_prepare(const char *pdir, int *resume, char *msg, size_t size)
{
    char path[4400], done[4400];
    struct stat st;
    snprintf(path, sizeof path, "%s/checkpoint.h5", pdir);
    snprintf(done, sizeof done, "%s/summary.json", pdir);
    /* summary.json without status: killed in the instant between the run's
     * end and its outcome; the run is redone rather than guessed at */
    *resume = stat(path, &st) == 0 && stat(done, &st) != 0;
    if (*resume || stat(pdir, &st) != 0)
        return 0;
    /* An attempt that left no checkpoint left nothing worth keeping, and a
     * new run needs the folder empty (results are created exclusively). */
    if (nftw(pdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        snprintf(msg, size, "%s: cannot clear what an interrupted attempt left (%s)", pdir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The config of point i: the file, the command-line overrides, the point. */
static int point_config(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                        kpf_config **cfg, kpf_error *err)
{
    int rc = kpf_config_load_file(a->config, cfg, err);
    for (int k = 0; !rc && k < a->n_sets; k++)
        rc = kpf_config_set(*cfg, a->sets[k], err);
    if (!rc)
        rc = kpf_sweep_apply(sw, i, *cfg, err);
    return rc;
}

static void write_scalars(const char *pdir, const kpf_experiment *ex, int rc,
                          const kpf_error *err)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/scalars.txt", pdir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return;
    const char *names[MAX_SCALARS];
    double v[MAX_SCALARS];
    size_t n = rc ? 0 : kpf_experiment_scalars(ex, names, v, MAX_SCALARS);
    for (size_t k = 0; k < n && k < MAX_SCALARS; k++)
        fprintf(fp, "%s %.17g\n", names[k], v[k]);
    if (rc)
        fprintf(fp, "# error: %s\n", err->msg);
    fclose(fp);
}

/* In the child: run point i into pdir and write its scalars. */
static int run_child(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                     kpf_registry *reg, const char *pdir, int resume)
{
    kpf_config *cfg = NULL;
    kpf_experiment *ex = NULL;
    kpf_error err;
    kpf_error_clear(&err);
    int rc = point_config(a, sw, i, &cfg, &err);
    if (!rc && mkdir(pdir, 0777) && errno != EEXIST)
        rc = kpf_error_set(&err, KPF_EIO, "%s: cannot create folder", pdir);
    if (!rc)
        rc = kpf_experiment_load(cfg, reg, &ex, &err);
    if (!rc)
        rc = kpf_experiment_run(ex, pdir, resume, &err);
    write_scalars(pdir, ex, rc, &err);
    if (rc)
        fprintf(stderr, "kpf: sweep point %zu: %s\n", i, err.msg);
    kpf_experiment_free(ex);
    kpf_config_free(cfg);
    return rc ? KPF_EXIT_FAIL : KPF_EXIT_OK;
}

pid_t kpf_cli_point_start(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                          kpf_registry *reg, const char *pdir, int resume)
{
    fflush(NULL);
    pid_t parent = getpid(), pid = fork();
    if (pid != 0)
        return pid;
#ifdef __linux__
    /* A point dies with the process that runs it (a killed MPI rank), so
     * nothing writes into its folder after the sweep has lost track of it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(KPF_EXIT_FAIL);
#endif
    _exit(run_child(a, sw, i, reg, pdir, resume));
}

void kpf_cli_point_finish(const char *pdir, int st, char *status, size_t size)
{
    if (WIFEXITED(st))
        snprintf(status, size, WEXITSTATUS(st) ? "failed" : "ok");
    else
        snprintf(status, size, "killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    char tmp[4400], path[4400];
    snprintf(tmp, sizeof tmp, "%s/status.tmp", pdir);
    snprintf(path, sizeof path, "%s/status", pdir);
    mkdir(pdir, 0777); /* a child that died before making it */
    FILE *fp = fopen(tmp, "w");
    int ok = fp && fprintf(fp, "%s\n", status) > 0;
    if (fp && fclose(fp))
        ok = 0;
    if (!ok || rename(tmp, path))
        fprintf(stderr, "kpf: %s: cannot record the point's outcome (%s)\n", path,
                strerror(errno));
}

void kpf_cli_point_run(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                       kpf_registry *reg, const char *dir, char *status, size_t size)
{
    char pdir[4300], msg[4600];
    int resume = 0, st = 0;
    kpf_cli_point_dir(dir, i, pdir, sizeof pdir);
    if (kpf_cli_point_prepare(pdir, &resume, msg, sizeof msg)) {
        fprintf(stderr, "kpf: %s\n", msg);
        snprintf(status, size, "failed");
        return;
    }
    pid_t pid = kpf_cli_point_start(a, sw, i, reg, pdir, resume);
    if (pid < 0) {
        snprintf(status, size, "fork failed");
        return;
    }
    pid_t w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (w < 0) { /* no outcome to record: the point stays unfinished */
        snprintf(status, size, "lost");
        return;
    }
    kpf_cli_point_finish(pdir, st, status, size);
}
