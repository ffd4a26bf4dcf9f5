/* `kpf new-plugin`: the scaffold builds against an INSTALLED kpf and passes
 * `kpf check-plugin` unchanged, in both flavours and with both build files.
 *
 * The suite installs this build into a fresh temporary prefix (as
 * tests/test_install.c does), then, as a plugin author would, runs
 * `kpf new-plugin demo`, `make -C demo` with PKG_CONFIG_PATH pointing into
 * the prefix, and the installed `kpf check-plugin demo/demo.so`.
 *
 * Skipped under sanitizers: the installed libkpf would carry ASan while the
 * scaffolded plugin and the tools that build it do not. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define KPF_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KPF_TEST_SANITIZED 1
#endif
#endif

static char tmp[256];    /* the temporary root                  */
static char prefix[512]; /* TMP/prefix: the install             */
static char pcdir[1024]; /* the folder holding kpf.pc           */
static char out[1 << 16];

/* Run a command in TMP (stdout and stderr into `out`); its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[4096], full[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && ( %s ) 2>&1", tmp, cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t len = 0, got;
    char chunk[4096];
    out[0] = '\0';
    while ((got = fread(chunk, 1, sizeof chunk, p)) > 0) {
        /* keep the last part: failures show at the end */
        if (len + got >= sizeof out) {
            size_t drop = len + got - sizeof out + 1;
            drop = drop > len ? len : drop;
            memmove(out, out + drop, len - drop);
            len -= drop;
        }
        size_t k = got < sizeof out - 1 - len ? got : sizeof out - 1 - len;
        memcpy(out + len, chunk, k);
        len += k;
        out[len] = '\0';
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void install_prefix(void)
{
#ifdef KPF_TEST_SANITIZED
    cr_skip_test("built with sanitizers: the installed libkpf would need ASan in every "
                 "consumer; scripts/test.sh runs this test in the plain build");
#endif
    unsetenv("KPF_PLUGIN_PATH");
    unsetenv("MAKEFLAGS");
    unsetenv("MFLAGS");
    unsetenv("MAKELEVEL");
    snprintf(tmp, sizeof tmp, "/tmp/kpf-test-new-plugin-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(prefix, sizeof prefix, "%s/prefix", tmp);
    int rc = run("cmake --install '%s' --prefix '%s'", KPF_BINARY_DIR, prefix);
    cr_assert_eq(rc, 0, "cmake --install failed:\n%s", out);
    const char *globs[] = {"%s/lib/pkgconfig/kpf.pc", "%s/lib64/pkgconfig/kpf.pc",
                           "%s/lib/*/pkgconfig/kpf.pc"};
    for (size_t i = 0; i < 3 && !pcdir[0]; i++) {
        char pattern[700];
        snprintf(pattern, sizeof pattern, globs[i], prefix);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            snprintf(pcdir, sizeof pcdir, "%s", g.gl_pathv[0]);
            *strrchr(pcdir, '/') = '\0';
        }
        globfree(&g);
    }
    cr_assert(pcdir[0], "no kpf.pc installed under %s", prefix);
}

static void remove_prefix(void)
{
    if (!strncmp(tmp, "/tmp/kpf-test-new-plugin-", 25))
        run("rm -rf '%s'", tmp);
}

TestSuite(new_plugin, .init = install_prefix, .fini = remove_prefix, .timeout = 300);

/* new-plugin NAME FLAGS, make, check-plugin: all with the installed kpf. */
static void scaffold_builds_and_passes(const char *name, const char *flags)
{
    int rc = run("'%s/bin/kpf' new-plugin %s %s", prefix, name, flags);
    cr_assert_eq(rc, 0, "kpf new-plugin %s %s exited %d:\n%s", name, flags, rc, out);
    const char *files[] = {".c", "Makefile", "CMakeLists.txt", "README.md", "example.yaml"};
    for (size_t i = 0; i < 5; i++) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s/%s%s", tmp, name, i ? "" : name, files[i]);
        cr_assert(stat(p, &st) == 0 && st.st_size > 0, "%s missing or empty:\n%s", p, out);
    }
    cr_assert_neq(run("grep -n '@[A-Z_]*@' %s/*", name), 0,
                  "a template placeholder was left in the scaffold:\n%s", out);

    rc = run("PKG_CONFIG_PATH='%s' make -C %s", pcdir, name);
    cr_assert_eq(rc, 0, "make -C %s (PKG_CONFIG_PATH=%s) failed:\n%s", name, pcdir, out);
    cr_assert(!strstr(out, "warning:"), "the scaffold compiles with warnings:\n%s", out);

    rc = run("'%s/bin/kpf' check-plugin %s/%s.so", prefix, name, name);
    cr_assert_eq(rc, 0, "kpf check-plugin %s/%s.so exited %d:\n%s", name, name, rc, out);
    cr_assert(strstr(out, " 0 failed"), "check-plugin did not report 0 failed:\n%s", out);
    char want[128];
    snprintf(want, sizeof want, "'%s'", name);
    cr_assert(strstr(out, want), "check-plugin does not name the plugin %s:\n%s", want, out);
}

Test(new_plugin, discrete_scaffold_builds_and_passes_check_plugin)
{
    scaffold_builds_and_passes("demo", "");
    /* It is the discrete map it says it is. */
    cr_assert_eq(run("grep -q 'KPF_MODEL_DISCRETE' demo/demo.c"), 0);
    cr_assert_neq(run("grep -q 'KPF_MODEL_CONTINUOUS' demo/demo.c"), 0);
}

Test(new_plugin, continuous_scaffold_builds_and_passes_check_plugin)
{
    scaffold_builds_and_passes("cdemo", "--continuous");
    cr_assert_eq(run("grep -q 'KPF_MODEL_CONTINUOUS' cdemo/cdemo.c"), 0);
    cr_assert_neq(run("grep -q 'alpha' cdemo/example.yaml"), 0);
}

/* Its CMakeLists.txt configures through find_package(kpf) without a
 * warning, and its ctest (check-plugin) passes; the example config runs. */
Test(new_plugin, cmake_build_and_example_run)
{
    cr_assert_eq(run("'%s/bin/kpf' new-plugin cm --continuous -o cm_dir", prefix), 0, "%s",
                 out);
    int rc = run("cmake -S cm_dir -B cm_dir/build -DCMAKE_PREFIX_PATH='%s' "
                 "-DCMAKE_BUILD_TYPE=Release",
                 prefix);
    cr_assert_eq(rc, 0, "configuring the scaffold failed:\n%s", out);
    cr_assert(!strstr(out, "Warning"), "the scaffold's CMake configure warns:\n%s", out);
    cr_assert_eq(run("cmake --build cm_dir/build"), 0, "%s", out);
    rc = run("cd cm_dir/build && ctest --output-on-failure");
    cr_assert_eq(rc, 0, "the scaffold's ctest failed:\n%s", out);
    cr_assert(strstr(out, "100% tests passed"), "%s", out);

    rc = run("cd cm_dir && KPF_PLUGIN_PATH=$PWD/build '%s/bin/kpf' run example.yaml -o run "
             "--set train.iterations=20 --set analysis.trials=4 --set analysis.k=4",
             prefix);
    cr_assert_eq(rc, 0, "the scaffold's example.yaml does not run:\n%s", out);
}

Test(new_plugin, refusals_leave_existing_work_alone)
{
    cr_assert_eq(run("'%s/bin/kpf' new-plugin Bad-Name", prefix), 2, "%s", out);
    cr_assert(strstr(out, "not a plugin name"), "%s", out);
    cr_assert_eq(run("'%s/bin/kpf' new-plugin x --bogus", prefix), 2, "%s", out);
    cr_assert_eq(run("'%s/bin/kpf' new-plugin", prefix), 2, "%s", out);
    cr_assert_eq(run("mkdir busy && echo mine > busy/keep.txt"), 0);
    cr_assert_eq(run("'%s/bin/kpf' new-plugin busy", prefix), 1, "%s", out);
    cr_assert(strstr(out, "not empty"), "%s", out);
    cr_assert_eq(run("test \"$(cat busy/keep.txt)\" = mine && test ! -e busy/busy.c"), 0,
                 "a refused new-plugin touched the folder");
    cr_assert_eq(run("mkdir empty && '%s/bin/kpf' new-plugin e1 -o empty && test -s "
                     "empty/e1.c",
                     prefix),
                 0, "an empty folder is accepted:\n%s", out);
    cr_assert_eq(run("'%s/bin/kpf' new-plugin --help", prefix), 0, "%s", out);
    cr_assert(strstr(out, "--continuous"), "%s", out);
}
