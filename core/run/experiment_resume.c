/* Resuming a run folder that an interrupted process left behind, so that the
 * finished folder equals an uninterrupted run's.
 *
 * What a folder holds when the process is killed:
 *   - checkpoint.h5 (absent before the first one): training restarts there,
 *     or from the beginning when there is none (nothing of value is lost:
 *     no snapshot can be older than the first checkpoint's iteration
 *     without being redone identically);
 *   - one θ record per snapshot taken, .kpf-resume/snapshot-<iteration>.h5,
 *     written whole (temporary + rename) before the next checkpoint can be:
 *     the resumed process recreates analysis.h5 and replays every snapshot
 *     before its checkpoint from these, so the analyses see the run's whole
 *     history (their scalars in summary.json, W₀, the figures), then goes
 *     on;
 *   - outputs named only when whole (*.partial otherwise), so train.h5 and
 *     trajectory.h5 are kept when present and written when not;
 *   - figures (and files analyses write with them), possibly torn: all
 *     made again.
 * The records go when summary.json, the completion marker, exists. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment_internal.h"
#include "kpf/atomic_file.h"
#include "kpf/param_io.h"
#include "kpf/plot.h"

#define RECORDS ".kpf-resume"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* Files a killed process may have left half-made and a resumed one makes
 * again: figures (gnuplot's tables, scripts, logs, PNGs), temporaries, and
 * any HDF5 file but the run's own state and finished outputs (an analysis
 * may write one with its figures). */
static int redone_file(const char *name)
{
    static const char *const tails[] = {".png", ".gp", ".dat", ".log", KPF_PARTIAL_SUFFIX,
                                        ".tmp", NULL};
    static const char *const kept[] = {"checkpoint.h5", "pretrain_checkpoint.h5", "train.h5",
                                       "pretrain.h5", "trajectory.h5", "analysis.h5", NULL};
    for (size_t i = 0; tails[i]; i++)
        if (ends_with(name, tails[i]))
            return 1;
    for (size_t i = 0; kept[i]; i++)
        if (!strcmp(name, kept[i]))
            return 0;
    return ends_with(name, ".h5");
}

/* Remove the regular files of `dir` that `pick` selects (all when NULL). */
static int remove_files(const char *dir, int (*pick)(const char *), kpf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? KPF_OK
                               : kpf_error_set(err, KPF_EIO, "%s: cannot list (%s)", dir,
                                               strerror(errno));
    int rc = KPF_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        char path[4400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) || !S_ISREG(st.st_mode) || (pick && !pick(e->d_name)))
            continue;
        if (unlink(path))
            rc = kpf_error_set(err, KPF_EIO, "%s: cannot remove what the interrupted run "
                                             "left (%s)",
                               path, strerror(errno));
    }
    closedir(d);
    return rc;
}

static int make_records_dir(const kpf_experiment *ex, kpf_error *err)
{
    if (mkdir(ex->records, 0777) && errno != EEXIST)
        return kpf_error_set(err, KPF_EIO, "%s: cannot create (%s)", ex->records,
                             strerror(errno));
    return KPF_OK;
}

int kpf_internal_resume_prepare(kpf_experiment *ex, const char *dir, int resume,
                                kpf_error *err)
{
    char ckpt[4200];
    struct stat st;
    snprintf(ex->records, sizeof ex->records, "%s/" RECORDS, dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
    int keep = ex->an && ex->train_node; /* snapshots worth replaying */
    ex->replay = 0;
    if (resume) {
        int have_ckpt = access(ckpt, F_OK) == 0;
        int have_records = stat(ex->records, &st) == 0 && S_ISDIR(st.st_mode);
        /* Without a checkpoint training starts over, and so does analysis.h5
         * (it may be torn); with records, earlier snapshots come back from
         * them.  Only a folder of an older kpf has neither: its analysis.h5
         * is continued as it is. */
        ex->replay = !have_ckpt || have_records;
        int rc = remove_files(dir, redone_file, err);
#ifdef KPF_PLOT_SRC_DIR /* the figures' sources have a folder of their own */
        char src[4400];
        snprintf(src, sizeof src, "%s/%s", dir, KPF_PLOT_SRC_DIR);
        if (!rc)
            rc = remove_files(src, redone_file, err);
#endif
        if (rc)
            return rc;
    }
    return keep ? make_records_dir(ex, err) : KPF_OK;
}

static void record_path(const kpf_experiment *ex, size_t iter, char *buf, size_t size)
{
    snprintf(buf, size, "%s/snapshot-%zu.h5", ex->records, iter);
}

/* θ of the snapshot just taken, whole or not at all, before training goes
 * on (so before the next checkpoint).  A record of the same iteration left
 * by an interrupted process holds the same θ and is replaced. */
int kpf_internal_record_snapshot(kpf_experiment *ex, size_t iter, kpf_error *err)
{
    char path[4400], tmp[4500];
    record_path(ex, iter, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s%s", path, KPF_PARTIAL_SUFFIX);
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create_trunc(tmp, &h, err);
    if (!rc)
        rc = kpf_params_write(h, ex->model, NULL, "", 1, err);
    if (h) {
        int rc2 = kpf_h5_close(h, rc ? NULL : err);
        rc = rc ? rc : rc2;
    }
    if (!rc)
        return kpf_atomic_publish(tmp, path, 1, err);
    unlink(tmp);
    return rc;
}

/* Every scheduled snapshot before `bound` again, at its recorded θ, in
 * order; θ is then put back as it was. */
int kpf_internal_replay_snapshots(kpf_experiment *ex, size_t bound, kpf_error *err)
{
    kpf_model *m = ex->model;
    double *now = malloc(m->m * sizeof *now + 1);
    if (!now)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    memcpy(now, m->theta, m->m * sizeof *now);
    size_t it;
    int rc = KPF_OK;
    while (!rc && kpf_analyses_next(ex->an, &it) && it < bound) {
        char path[4400];
        record_path(ex, it, path, sizeof path);
        if (access(path, R_OK) != 0)
            rc = kpf_error_set(err, KPF_EIO,
                               "%s: missing, so the snapshot at iteration %zu cannot be "
                               "replayed; start the run again (kpf run CONFIG -o NEW_DIR)",
                               path, it);
        if (!rc) rc = kpf_params_load_h5(m, path, err);
        if (!rc) rc = kpf_model_theta_changed(m, err);
        if (!rc) rc = kpf_internal_analyse(ex, it, err);
    }
    memcpy(m->theta, now, m->m * sizeof *now);
    free(now);
    int rc2 = kpf_model_theta_changed(m, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* After summary.json: the records have served. */
void kpf_internal_resume_done(kpf_experiment *ex)
{
    if (!ex->records[0] || remove_files(ex->records, NULL, NULL) == KPF_OK)
        rmdir(ex->records);
}
