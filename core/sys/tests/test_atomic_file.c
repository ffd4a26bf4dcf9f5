/* Files that exist whole or not at all (kpf/atomic_file.h): a committed file
 * has its name and all its bytes; a failed or abandoned one leaves neither
 * the name nor the temporary behind; an existing file is never replaced
 * unless asked. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf/atomic_file.h"
#include "test_util.h"

static kpf_error err;

TestSuite(atomic_file, .init = tu_mktmp, .fini = tu_rmtmp);

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tu_tmp, name);
}

static void slurp(const char *name, char *buf, size_t size)
{
    char p[256];
    path_of(p, sizeof p, name);
    FILE *fp = fopen(p, "r");
    cr_assert_not_null(fp, "%s missing", p);
    size_t k = fread(buf, 1, size - 1, fp);
    buf[k] = '\0';
    fclose(fp);
}

Test(atomic_file, a_committed_file_has_its_name_and_no_temporary_is_left)
{
    char p[256], text[64];
    path_of(p, sizeof p, "s.json");
    kpf_atomic_file *f = NULL;
    FILE *fp = NULL;
    cr_assert_eq(kpf_atomic_open(p, &f, &fp, &err), KPF_OK, "%s", err.msg);
    fputs("{\"a\": 1}\n", fp);
    cr_assert_not(tu_exists("s.json"), "the name appeared before the commit");
    cr_assert(tu_exists("s.json.partial"));
    cr_assert_eq(kpf_atomic_commit(f, 0, &err), KPF_OK, "%s", err.msg);
    slurp("s.json", text, sizeof text);
    cr_expect_str_eq(text, "{\"a\": 1}\n");
    cr_expect_not(tu_exists("s.json.partial"));
}

Test(atomic_file, an_existing_file_is_kept_unless_replacing_is_asked)
{
    char p[256], text[64];
    path_of(p, sizeof p, "s.json");
    tu_write("s.json", "old\n");
    kpf_atomic_file *f = NULL;
    FILE *fp = NULL;
    cr_assert_eq(kpf_atomic_open(p, &f, &fp, &err), KPF_OK, "%s", err.msg);
    fputs("new\n", fp);
    cr_assert_eq(kpf_atomic_commit(f, 0, &err), KPF_EIO);
    cr_expect(strstr(err.msg, "s.json: already exists"), "%s", err.msg);
    slurp("s.json", text, sizeof text);
    cr_expect_str_eq(text, "old\n");
    cr_expect_not(tu_exists("s.json.partial"));

    cr_assert_eq(kpf_atomic_open(p, &f, &fp, &err), KPF_OK, "%s", err.msg);
    fputs("new\n", fp);
    cr_assert_eq(kpf_atomic_commit(f, 1, &err), KPF_OK, "%s", err.msg);
    slurp("s.json", text, sizeof text);
    cr_expect_str_eq(text, "new\n");
}

Test(atomic_file, abort_leaves_nothing_and_a_killed_writers_leftover_is_truncated)
{
    char p[256], text[64];
    path_of(p, sizeof p, "x.txt");
    tu_write("x.txt.partial", "a leftover of a killed process that is much longer\n");
    kpf_atomic_file *f = NULL;
    FILE *fp = NULL;
    cr_assert_eq(kpf_atomic_open(p, &f, &fp, &err), KPF_OK, "%s", err.msg);
    fputs("short\n", fp);
    fflush(fp);
    slurp("x.txt.partial", text, sizeof text);
    cr_expect_str_eq(text, "short\n");
    kpf_atomic_abort(f);
    cr_expect_not(tu_exists("x.txt"));
    cr_expect_not(tu_exists("x.txt.partial"));
    kpf_atomic_abort(NULL);
}

/* A file size limit makes writes fail with EFBIG, as a full disk fails
 * them with ENOSPC: the commit reports it and no name is left at all. */
Test(atomic_file, a_failed_write_leaves_neither_the_name_nor_the_temporary)
{
    char p[256];
    path_of(p, sizeof p, "big.json");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        kpf_atomic_file *f = NULL;
        FILE *fp = NULL;
        if (kpf_atomic_open(p, &f, &fp, &err))
            _exit(10);
        for (int i = 0; i < 10000; i++)
            fputs("0123456789", fp);
        int rc = kpf_atomic_commit(f, 0, &err);
        _exit(rc == KPF_EIO && strstr(err.msg, "big.json: write failed") ? 0 : 11);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    cr_expect_not(tu_exists("big.json"), "a torn file carries the name");
    cr_expect_not(tu_exists("big.json.partial"), "the failed temporary stayed");
}

Test(atomic_file, publish_names_a_closed_temporary_and_refuses_to_replace)
{
    char tmp[256], p[256], text[64];
    path_of(tmp, sizeof tmp, "t.h5.partial");
    path_of(p, sizeof p, "t.h5");
    tu_write("t.h5.partial", "bytes\n");
    cr_assert_eq(kpf_atomic_publish(tmp, p, 0, &err), KPF_OK, "%s", err.msg);
    slurp("t.h5", text, sizeof text);
    cr_expect_str_eq(text, "bytes\n");
    cr_expect_not(tu_exists("t.h5.partial"));
    tu_write("t.h5.partial", "other\n");
    cr_assert_eq(kpf_atomic_publish(tmp, p, 0, &err), KPF_EIO);
    cr_expect(strstr(err.msg, "t.h5: already exists"), "%s", err.msg);
    slurp("t.h5", text, sizeof text);
    cr_expect_str_eq(text, "bytes\n");
    cr_expect_not(tu_exists("t.h5.partial"));
    /* a temporary that vanished: an error naming the file, nothing created */
    cr_assert_eq(kpf_atomic_publish(tmp, p, 1, &err), KPF_EIO);
    cr_expect(strstr(err.msg, "t.h5: cannot sync the finished file"), "%s", err.msg);
}
