/* LD_PRELOAD fault injector for the fault-injection suite (test_faults.c).
 *
 * It watches the files whose path matches a glob and, at the N-th watched
 * call of one kind, either fails that call and every later one of the kind
 * (errno ENOSPC: a disk that filled up while that file was written) or
 * kills the process with SIGKILL (a kill -9 at an exact point of the run,
 * with no timing involved).  Settings, read once at load and then removed
 * from the environment so that children (gnuplot) run without the shim:
 *
 *   KPF_FAULT_PATH    glob over the path as the program passes it ('*'
 *                     matches '/' too): "*" "/summary.json.partial"
 *   KPF_FAULT_OP      open   | opening such a file for writing (open, creat,
 *                            fopen with w/a/x/+)
 *                     write  | write, pwrite, ftruncate, fsync, fdatasync,
 *                            and the stdio flushes fflush/fclose, on a file
 *                            opened under a matching path
 *                     rename | rename or link with a matching source
 *   KPF_FAULT_NTH     which matching call fires (1 = the first)
 *   KPF_FAULT_ACTION  fail | kill | count
 *   KPF_FAULT_COUNTS  count: at exit, append "<op> <calls>" for each kind
 *                     to this file (how many calls a whole run makes).
 *
 * stdio writes go through glibc's internal write, which no preload can
 * see, so a FILE's failure shows at its flush or close — as ENOSPC often
 * does on a real disk. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_OPEN, OP_WRITE, OP_RENAME, N_OPS };
enum { ACT_NONE, ACT_FAIL, ACT_KILL, ACT_COUNT };
static const char *const op_names[N_OPS] = {"open", "write", "rename"};

#define MAX_FD 65536
static char pattern[4096];
static int op = -1, action = ACT_NONE;
static long nth = 1;
static long calls[N_OPS];
static int fired;
static char counts_file[4096];
static unsigned char watched[MAX_FD];

/* real_NAME: the next definition of NAME (libc's), looked up once. */
#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static void write_counts(void)
{
    if (action != ACT_COUNT || !counts_file[0])
        return;
    FILE *(*real_fopen)(const char *, const char *) =
        (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
    FILE *fp = real_fopen(counts_file, "a");
    if (!fp)
        return;
    for (int i = 0; i < N_OPS; i++)
        fprintf(fp, "%s %ld\n", op_names[i], calls[i]);
    fclose(fp);
}

__attribute__((constructor)) static void load(void)
{
    const char *p = getenv("KPF_FAULT_PATH"), *o = getenv("KPF_FAULT_OP");
    const char *n = getenv("KPF_FAULT_NTH"), *a = getenv("KPF_FAULT_ACTION");
    const char *c = getenv("KPF_FAULT_COUNTS");
    if (p)
        snprintf(pattern, sizeof pattern, "%s", p);
    for (int i = 0; o && i < N_OPS; i++)
        if (!strcmp(o, op_names[i]))
            op = i;
    if (n)
        nth = atol(n);
    if (a)
        action = !strcmp(a, "fail") ? ACT_FAIL : !strcmp(a, "kill") ? ACT_KILL
                 : !strcmp(a, "count") ? ACT_COUNT : ACT_NONE;
    if (c)
        snprintf(counts_file, sizeof counts_file, "%s", c);
    const char *vars[] = {"LD_PRELOAD", "KPF_FAULT_PATH", "KPF_FAULT_OP", "KPF_FAULT_NTH",
                          "KPF_FAULT_ACTION", "KPF_FAULT_COUNTS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    atexit(write_counts);
}

static int matches(const char *path)
{
    return pattern[0] && path && fnmatch(pattern, path, 0) == 0;
}

/* A watched call of kind k: 1 when it must fail (errno set); never returns
 * when it must kill. */
static int hit(int k)
{
    long c = __atomic_add_fetch(&calls[k], 1, __ATOMIC_SEQ_CST);
    if (k != op || (action != ACT_FAIL && action != ACT_KILL))
        return 0;
    if (c == nth || (fired && action == ACT_FAIL)) {
        fired = 1;
        if (action == ACT_KILL)
            raise(SIGKILL);
        errno = ENOSPC;
        return 1;
    }
    return 0;
}

static void watch(int fd, const char *path)
{
    if (fd >= 0 && fd < MAX_FD)
        watched[fd] = matches(path);
}

static int is_watched(int fd) { return fd >= 0 && fd < MAX_FD && watched[fd]; }

static int writing(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT); }

static int do_open(const char *path, int flags, mode_t mode, int at, int dirfd)
{
    REAL(open);
    REAL(openat);
    if (matches(path) && writing(flags) && hit(OP_OPEN))
        return -1;
    int fd = at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
    watch(fd, path);
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_open(path, flags, m, 0, 0);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_open(path, flags, m, 0, 0);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return do_open(path, flags, m, 1, dirfd);
}

int creat(const char *path, mode_t mode)
{
    return do_open(path, O_WRONLY | O_CREAT | O_TRUNC, mode, 0, 0);
}

static FILE *do_fopen(const char *path, const char *mode, const char *sym)
{
    FILE *(*real)(const char *, const char *) =
        (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, sym);
    int w = mode && strpbrk(mode, "wax+") != NULL;
    if (w && matches(path) && hit(OP_OPEN))
        return NULL;
    FILE *fp = real(path, mode);
    if (fp)
        watch(fileno(fp), w ? path : NULL);
    return fp;
}

FILE *fopen(const char *path, const char *mode) { return do_fopen(path, mode, "fopen"); }
FILE *fopen64(const char *path, const char *mode) { return do_fopen(path, mode, "fopen64"); }

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    if (is_watched(fd) && hit(OP_WRITE))
        return -1;
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    if (is_watched(fd) && hit(OP_WRITE))
        return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64);
    if (is_watched(fd) && hit(OP_WRITE))
        return -1;
    return real_pwrite64(fd, buf, n, off);
}

int ftruncate(int fd, off_t len)
{
    REAL(ftruncate);
    if (is_watched(fd) && hit(OP_WRITE))
        return -1;
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
    REAL(ftruncate64);
    if (is_watched(fd) && hit(OP_WRITE))
        return -1;
    return real_ftruncate64(fd, len);
}

int fsync(int fd)
{
    REAL(fsync);
    if (is_watched(fd) && hit(OP_WRITE))
        return -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (is_watched(fd) && hit(OP_WRITE))
        return -1;
    return real_fdatasync(fd);
}

int fflush(FILE *fp)
{
    REAL(fflush);
    if (fp && is_watched(fileno(fp)) && hit(OP_WRITE)) {
        /* keep the stream consistent: the data is dropped as a full disk would */
        real_fflush(fp);
        errno = ENOSPC;
        return EOF;
    }
    return real_fflush(fp);
}

int fclose(FILE *fp)
{
    REAL(fclose);
    int fd = fp ? fileno(fp) : -1, bad = is_watched(fd) && hit(OP_WRITE);
    if (fd >= 0 && fd < MAX_FD)
        watched[fd] = 0;
    int rc = real_fclose(fp);
    if (bad) {
        errno = ENOSPC;
        return EOF;
    }
    return rc;
}

int close(int fd)
{
    REAL(close);
    if (fd >= 0 && fd < MAX_FD)
        watched[fd] = 0;
    return real_close(fd);
}

int rename(const char *from, const char *to)
{
    REAL(rename);
    if (matches(from) && hit(OP_RENAME))
        return -1;
    return real_rename(from, to);
}

int link(const char *from, const char *to)
{
    REAL(link);
    if (matches(from) && hit(OP_RENAME))
        return -1;
    return real_link(from, to);
}
