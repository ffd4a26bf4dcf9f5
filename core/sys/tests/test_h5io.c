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

#include <hdf5.h>

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
    cr_expect(strstr(err.msg, "it may already exist"), "%s", err.msg);
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

/* A file that cannot be created says why (the open's errno), where HDF5's
 * silenced error stack would leave only "cannot create". */
Test(h5io, a_failed_create_gives_the_reason)
{
    char path[256];
    snprintf(path, sizeof path, "%s/no/such/folder/a.h5", tu_tmp);
    kpf_h5 *h = NULL;
    cr_assert_eq(kpf_h5_create(path, &h, &err), KPF_EIO);
    cr_assert_null(h);
    cr_expect(strstr(err.msg, "a.h5: cannot create HDF5 file: No such file or directory"), "%s",
              err.msg);
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

/* HDF5 sizes its buffers from what the file declares: a file whose
 * "number" is 4 GB wide made HDF5 allocate 4 GB for one value (found by
 * fuzz_h5).  Such datasets are refused before HDF5 reads them. */
Test(h5io, datasets_kpf_cannot_hold_are_refused_before_reading)
{
    char path[256];
    snprintf(path, sizeof path, "%s/odd.h5", tu_tmp);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hsize_t one = 1, unlimited = H5S_UNLIMITED, chunk = (hsize_t)1 << 26;
    hid_t sp = H5Screate_simple(1, &one, NULL);
    hid_t wide = H5Tcopy(H5T_STD_I64LE), blob = H5Tcreate(H5T_OPAQUE, 8);
    cr_assert_geq(H5Tset_size(wide, 32), 0);
    hid_t d1 = H5Dcreate2(f, "/wide", wide, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d2 = H5Dcreate2(f, "/blob", blob, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp2 = H5Screate_simple(1, &one, &unlimited), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    cr_assert_geq(H5Pset_chunk(dcpl, 1, &chunk), 0);
    hid_t d3 = H5Dcreate2(f, "/bigchunk", H5T_NATIVE_DOUBLE, sp2, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    cr_assert(d1 >= 0 && d2 >= 0 && d3 >= 0);
    H5Dclose(d1);
    H5Dclose(d2);
    H5Dclose(d3);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Sclose(sp2);
    H5Tclose(wide);
    H5Tclose(blob);
    H5Fclose(f);
    kpf_h5 *h = NULL;
    double x;
    cr_assert_eq(kpf_h5_open(path, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_read(h, "/wide", 1, &x, &err), KPF_EIO);
    cr_assert(strstr(err.msg, "dataset /wide has 32-byte elements (at most 16)"), "%s", err.msg);
    cr_assert_eq(kpf_h5_read(h, "/blob", 1, &x, &err), KPF_EIO);
    cr_assert(strstr(err.msg, "dataset /blob does not hold numbers"), "%s", err.msg);
    cr_assert_eq(kpf_h5_read(h, "/bigchunk", 1, &x, &err), KPF_EIO);
    cr_assert(strstr(err.msg, "dataset /bigchunk is stored in chunks over 256 MiB"), "%s",
              err.msg);
    kpf_h5_close(h, NULL);
}

/* Files fuzz_h5 found (fuzz/crashes/h5/): each made HDF5 1.10 allocate 4 GB,
 * overrun a heap buffer or copy from NULL while reading one number. */
static void expect_read_refused(const char *file, const char *dataset, const char *why)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz/crashes/h5/%s", KPF_SOURCE_DIR, file);
    kpf_h5 *h = NULL;
    double x[8];
    cr_assert_eq(kpf_h5_open(path, &h, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_h5_read(h, dataset, 1, x, &err), KPF_EIO, "%s read: %s", file, err.msg);
    char want[256];
    snprintf(want, sizeof want, "dataset %s %s", dataset, why);
    cr_assert(strstr(err.msg, want), "expected '%s' in: %s", want, err.msg);
    kpf_h5_close(h, NULL);
}

Test(h5io, fuzz_found_files_are_refused)
{
    expect_read_refused("huge_element_type_oom.h5", "/history/converged_at",
                        "has 4127195144-byte elements (at most 16)");
    expect_read_refused("compact_storage_overflow.h5", "/iteration",
                        "is damaged (its storage holds 1 bytes of the 8 it needs)");
    expect_read_refused("compact_storage_missing.h5", "/iteration",
                        "is damaged (its storage holds 0 bytes of the 8 it needs)");
}
