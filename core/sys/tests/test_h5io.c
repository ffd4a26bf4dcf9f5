/* HDF5 files under faults: a full disk ends writing with an error naming
 * the file and never crashes (HDF5 1.10 used to segfault at exit after a
 * failed close); files written through kpf's driver read back exactly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf/h5io.h"
#include "test_util.h"

static kpf_error err;
static char mnt[128];

static void setup(void)
{
    tu_mktmp();
    mnt[0] = '\0';
}

static void teardown(void)
{
    if (mnt[0])
        umount(mnt);
    tu_rmtmp();
}

TestSuite(h5io, .init = setup, .fini = teardown);

/* A tmpfs of `size` under the scratch folder (CI runs as root); the test
 * is skipped, visibly, where mounting is not allowed. */
static void full_disk(const char *size)
{
    snprintf(mnt, sizeof mnt, "%s/disk", tu_tmp);
    cr_assert_eq(mkdir(mnt, 0755), 0);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, opts) != 0) {
        int e = errno;
        mnt[0] = '\0';
        cr_skip_test("cannot mount a %s tmpfs (%s): full-disk test skipped; run as root",
                     size, geteuid() ? "not root" : strerror(e));
    }
}

Test(h5io, round_trip_through_kpf_driver)
{
    char path[256];
    snprintf(path, sizeof path, "%s/a.h5", tu_tmp);
    kpf_h5 *h = NULL;
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    size_t dims[2] = {2, 3}, n;
    cr_assert_eq(kpf_h5_create(path, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_write(h, "/g/x", 2, dims, x, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_attr_string(h, "/g/x", "unit", "s", &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_flush(h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_close(h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_create(path, &h, &err), KPF_EIO, "an existing file was overwritten");
    cr_assert_eq(kpf_h5_open_rw(path, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_write(h, "/y", 1, &dims[1], x, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_close(h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_open(path, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_count(h, "/y", &n, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(n, 3);
    cr_assert_eq(kpf_h5_read(h, "/g/x", 6, y, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(memcmp(x, y, sizeof x), 0);
    cr_assert_eq(kpf_h5_close(h, &err), KPF_OK, "%s", err.msg);
}

/* In a child, because the failure mode being ruled out is a crash in
 * HDF5's exit handler: writes 8 KB datasets until the disk is full, then
 * closes; the messages go to `log`.  Exit 3: refused cleanly. */
static void fill_disk_child(const char *file, const char *log)
{
    FILE *out = fopen(log, "w");
    kpf_h5 *h = NULL;
    if (!out || kpf_h5_create(file, &h, &err))
        _exit(5);
    static double block[1024];
    size_t n = 1024;
    int rc = KPF_OK;
    for (int i = 0; i < 1000 && !rc; i++) {
        char name[32];
        snprintf(name, sizeof name, "/d%d", i);
        rc = kpf_h5_write(h, name, 1, &n, block, &err);
        if (!rc)
            rc = kpf_h5_flush(h, &err);
    }
    fprintf(out, "write: %s\n", err.msg);
    /* Writing on after the failure must stay an error, not a crash. */
    int again = kpf_h5_write(h, "/after", 1, &n, block, &err);
    fprintf(out, "again: %s\n", err.msg);
    int crc = kpf_h5_close(h, &err);
    fprintf(out, "close: %s\n", err.msg);
    fclose(out);
    exit(rc == KPF_EIO && again == KPF_EIO && crc == KPF_EIO ? 3 : 4);
}

Test(h5io, full_disk_is_an_error_naming_the_file_not_a_crash, .timeout = 60)
{
    full_disk("64k");
    char file[256], log[256];
    snprintf(file, sizeof file, "%s/out.h5", mnt);
    snprintf(log, sizeof log, "%s/log.txt", tu_tmp);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        fill_disk_child(file, log);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(!WIFSIGNALED(st), "the writer died of signal %d", WTERMSIG(st));
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "writer exit %d", WEXITSTATUS(st));
    char text[4096] = "";
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    size_t k = fread(text, 1, sizeof text - 1, f);
    text[k] = '\0';
    fclose(f);
    char want[300];
    snprintf(want, sizeof want, "write: %s: cannot write dataset", file);
    cr_assert(strstr(text, want), "%s", text);
    cr_assert(strstr(text, "No space left on device"), "%s", text);
    snprintf(want, sizeof want, "close: %s: closing failed", file);
    cr_assert(strstr(text, want), "%s", text);
}

/* The whole command: exit 1, the failing file named, never a signal. */
Test(h5io, full_disk_run_exits_1_naming_the_file, .timeout = 120)
{
    full_disk("128k");
    tu_write("q.yaml", "seed: 5\n"
                       "task: {name: memory_pro, t_stim: 5, t_memory: 5, t_response: 5}\n"
                       "model: {plugin: rnn, n: 24}\n"
                       "train: {iterations: 200, batch: 8, eval_every: 50, eval_trials: 8, "
                       "checkpoint_every: 10}\n"
                       "simulate: {trials: 2}\n");
    const char *sizes[] = {"16k", "64k", "128k"};
    for (int i = 0; i < 3; i++) {
        char opts[64];
        snprintf(opts, sizeof opts, "size=%s", sizes[i]);
        umount(mnt);
        cr_assert_eq(mount("tmpfs", mnt, "tmpfs", 0, opts), 0, "%s", strerror(errno));
        /* 139 here was HDF5's exit-time segfault. */
        int rc = tu_sh("%s run %s/q.yaml -o %s/run", KPF_CLI_PATH, tu_tmp, mnt);
        cr_assert_eq(rc, 1, "%s disk: %s", sizes[i], tu_out);
        cr_assert(strstr(tu_out, "No space left on device"), "%s disk: %s", sizes[i], tu_out);
        cr_assert(strstr(tu_out, mnt) && strstr(tu_out, ".h5"), "%s disk: %s", sizes[i], tu_out);
    }
}
