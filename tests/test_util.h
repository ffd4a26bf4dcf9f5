/* Helpers shared by the suites that drive the `kpf` command: a scratch
 * folder per test, config files written into it, and shell commands run
 * from the source tree with their output captured. */
#ifndef KPF_TEST_UTIL_H
#define KPF_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tu_tmp[64];      /* this test's scratch folder */
static char tu_out[65536];   /* output of the last tu_sh   */

/* Run a command line from the source tree (stdout+stderr into tu_out);
 * returns its exit status, or −1 when it did not exit normally. */
static inline int tu_sh(const char *fmt, ...)
{
    char cmd[8192], full[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd %s && %s 2>&1", KPF_SOURCE_DIR, cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t k = fread(tu_out, 1, sizeof tu_out - 1, p);
    tu_out[k] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void tu_mktmp(void)
{
    strcpy(tu_tmp, "/tmp/kpf-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tu_tmp));
}

static inline void tu_rmtmp(void)
{
    char c[128];
    snprintf(c, sizeof c, "rm -rf %s", tu_tmp);
    cr_assert_eq(system(c), 0);
}

static inline void tu_write(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tu_tmp, name);
    FILE *fp = fopen(p, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static inline int tu_exists(const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", tu_tmp, name);
    return stat(p, &st) == 0;
}

#endif
