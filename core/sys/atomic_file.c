/* Files that exist whole or not at all (kpf/atomic_file.h): write a
 * temporary beside the target, fsync it, link or rename it into place, fsync
 * the folder. */
#include "kpf/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kpf_atomic_file {
    FILE *fp;
    char *path; /* the name it gets          */
    char *tmp;  /* PATH.partial while written */
};

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

static void atomic_free(kpf_atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

int kpf_atomic_open(const char *path, kpf_atomic_file **out, FILE **fp, kpf_error *err)
{
    *out = NULL;
    *fp = NULL;
    kpf_atomic_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = join(path, "")) || !(f->tmp = join(path, KPF_PARTIAL_SUFFIX))) {
        if (f)
            atomic_free(f);
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", path);
    }
    if (!(f->fp = fopen(f->tmp, "w"))) {
        int e = errno;
        atomic_free(f);
        return kpf_error_set(err, KPF_EIO, "%s: cannot create %s%s (%s)", path, path,
                             KPF_PARTIAL_SUFFIX, strerror(e));
    }
    *out = f;
    *fp = f->fp;
    return KPF_OK;
}

void kpf_atomic_abort(kpf_atomic_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    unlink(f->tmp);
    atomic_free(f);
}

int kpf_fsync_parent(const char *path, kpf_error *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Some file systems refuse fsync on a folder (EINVAL): nothing to make
     * durable there beyond what rename already did. */
    int bad = fd < 0 || (fsync(fd) && errno != EINVAL && errno != EROFS);
    int e = errno;
    if (fd >= 0)
        close(fd);
    return bad ? kpf_error_set(err, KPF_EIO, "%s: cannot sync its folder %s (%s)", path, dir,
                               strerror(e))
               : KPF_OK;
}

static int fsync_path(const char *tmp)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* tmp → path; without `replace` an existing path is an error (EEXIST).
 * link(2) refuses an existing name atomically; where the file system has no
 * hard links, fall back to checking and renaming. */
static int give_name(const char *tmp, const char *path, int replace)
{
    if (replace)
        return rename(tmp, path);
    if (link(tmp, path) == 0) {
        unlink(tmp);
        return 0;
    }
    if (errno == EEXIST)
        return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(tmp, path);
}

int kpf_atomic_publish(const char *tmp, const char *path, int replace, kpf_error *err)
{
    const char *what = "sync";
    int rc = fsync_path(tmp);
    if (!rc) {
        what = "name";
        rc = give_name(tmp, path, replace);
    }
    if (rc) {
        int e = errno;
        unlink(tmp);
        if (e == EEXIST)
            return kpf_error_set(err, KPF_EIO,
                                 "%s: already exists; kpf never replaces an earlier output",
                                 path);
        return kpf_error_set(err, KPF_EIO, "%s: cannot %s the finished file (%s); nothing "
                                           "was left under its name",
                             path, what, strerror(e));
    }
    return kpf_fsync_parent(path, err);
}

int kpf_atomic_commit(kpf_atomic_file *f, int replace, kpf_error *err)
{
    /* ferror catches a write that failed earlier and was buffered away */
    int bad = ferror(f->fp) || fflush(f->fp) || fsync(fileno(f->fp));
    int e = errno;
    int closed = fclose(f->fp);
    f->fp = NULL;
    if (bad || closed) {
        if (!bad)
            e = errno;
        unlink(f->tmp);
        int rc = kpf_error_set(err, KPF_EIO, "%s: write failed (%s); nothing was left under "
                                             "its name",
                               f->path, e ? strerror(e) : "stream error");
        atomic_free(f);
        return rc;
    }
    int rc = kpf_atomic_publish(f->tmp, f->path, replace, err);
    atomic_free(f);
    return rc;
}
