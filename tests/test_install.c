/* test_install.c — the installed kpf works for someone outside the tree.
 *
 * Each test installs this build into a fresh temporary prefix
 * (`cmake --install KPF_BINARY_DIR --prefix TMP`) and then, using only what
 * was installed:
 *   - builds examples/plugin-leaky with its Makefile (pkg-config only) and
 *     runs the installed `kpf check-plugin` on it;
 *   - runs the installed `kpf plugins` with KPF_PLUGIN_PATH unset and finds
 *     the installed rnn plugin where pkg-config's plugindir says;
 *   - builds the same plugin with its CMakeLists.txt through find_package(kpf).
 *   - builds examples/task-go-nogo (a task) both ways, checks it with the installed
 *     `kpf check-plugin` and trains an RNN on it from YAML via KPF_PLUGIN_PATH.
 *   - builds examples/analysis-state-norm (an analysis) with its Makefile and
 *     runs it from YAML with the installed `kpf run` and KPF_PLUGIN_PATH.
 *
 * Skipped under sanitizers: the installed libkpf would carry ASan while the
 * example plugin and the tools that build it do not. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <glob.h>
#include <math.h>
#include <limits.h>
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

static char tmp[256];     /* the temporary root            */
static char prefix[512];  /* TMP/prefix: the install       */
static char libdir[1024]; /* the folder holding pkgconfig/ */
static char inst_log[1 << 14];

/* Run `cmd` with sh, stdout and stderr captured into *out (malloc'd, caller
 * frees).  Returns the exit status, or -1 if it could not run. */
static int run(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "( %s ) 2>&1", cmd);

    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    buf[0] = '\0';
    FILE *p = popen(full, "r");
    if (!p) {
        *out = buf;
        return -1;
    }
    size_t got;
    char chunk[4096];
    while ((got = fread(chunk, 1, sizeof chunk, p)) > 0) {
        if (len + got + 1 > cap) {
            while (len + got + 1 > cap)
                cap *= 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + len, chunk, got);
        len += got;
        buf[len] = '\0';
    }
    int st = pclose(p);
    *out = buf;
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

/* The last `keep` characters of s, for assertion messages. */
static const char *tail(const char *s, size_t keep)
{
    size_t n = strlen(s);
    return n > keep ? s + n - keep : s;
}

/* `word` appears in s delimited by non-[a-z0-9_] characters. */
static int has_word(const char *s, const char *word)
{
    size_t w = strlen(word);
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
        int before = p == s || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                 (p[-1] >= '0' && p[-1] <= '9'));
        char c = p[w];
        int after = !(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
        if (before && after)
            return 1;
    }
    return 0;
}

static void install_prefix(void)
{
#ifdef KPF_TEST_SANITIZED
    cr_skip_test("built with sanitizers: the installed libkpf would need ASan in every "
                 "consumer; scripts/test.sh runs this test in the plain build");
#endif
    /* The installed kpf must find its plugins by itself, and make must not
     * inherit a jobserver from whatever runs the tests. */
    unsetenv("KPF_PLUGIN_PATH");
    unsetenv("MAKEFLAGS");
    unsetenv("MFLAGS");
    unsetenv("MAKELEVEL");

    snprintf(tmp, sizeof tmp, "/tmp/kpf-test-install-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp), "mkdtemp failed");
    snprintf(prefix, sizeof prefix, "%s/prefix", tmp);

    char *out;
    int rc = run(&out, "cmake --install '%s' --prefix '%s'", KPF_BINARY_DIR, prefix);
    snprintf(inst_log, sizeof inst_log, "%s", tail(out, sizeof inst_log - 1));
    free(out);
    cr_assert_eq(rc, 0, "cmake --install %s --prefix %s failed (exit %d):\n%s",
                 KPF_BINARY_DIR, prefix, rc, inst_log);

    /* GNUInstallDirs may have chosen lib, lib64 or lib/<multiarch>. */
    char pattern[640];
    const char *globs[] = {"%s/lib/pkgconfig/kpf.pc", "%s/lib64/pkgconfig/kpf.pc",
                           "%s/lib/*/pkgconfig/kpf.pc"};
    libdir[0] = '\0';
    for (size_t i = 0; i < sizeof globs / sizeof *globs && !libdir[0]; i++) {
        snprintf(pattern, sizeof pattern, globs[i], prefix);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            snprintf(libdir, sizeof libdir, "%s", g.gl_pathv[0]);
            *strstr(libdir, "/pkgconfig/kpf.pc") = '\0';
        }
        globfree(&g);
    }
    cr_assert(libdir[0], "no kpf.pc installed under %s/lib*/…/pkgconfig; install log:\n%s",
              prefix, inst_log);

    struct stat st;
    char kpf[600];
    snprintf(kpf, sizeof kpf, "%s/bin/kpf", prefix);
    cr_assert(stat(kpf, &st) == 0 && (st.st_mode & S_IXUSR),
              "%s was not installed; install log:\n%s", kpf, inst_log);

    /* A private copy of the example: nothing is built in the source tree. */
    rc = run(&out, "cp -R '%s/examples/plugin-leaky' '%s/leaky' && rm -rf '%s/leaky/build' "
                   "'%s/leaky/leaky.so'",
             KPF_SOURCE_DIR, tmp, tmp, tmp);
    cr_assert_eq(rc, 0, "copying examples/plugin-leaky failed:\n%s", out);
    free(out);
}

static void remove_prefix(void)
{
    if (tmp[0] && strncmp(tmp, "/tmp/kpf-test-install-", 22) == 0) {
        char *out;
        run(&out, "rm -rf '%s'", tmp);
        free(out);
    }
}

TestSuite(install, .init = install_prefix, .fini = remove_prefix);

Test(install, pkgconfig_plugin_passes_installed_check)
{
    char *out;
    int rc = run(&out, "cd '%s/leaky' && PKG_CONFIG_PATH='%s/pkgconfig' make", tmp, libdir);
    cr_assert_eq(rc, 0,
                 "building examples/plugin-leaky with its Makefile and "
                 "PKG_CONFIG_PATH=%s/pkgconfig failed (exit %d):\n%s",
                 libdir, rc, tail(out, 6000));
    free(out);

    rc = run(&out, "'%s/bin/kpf' check-plugin '%s/leaky/leaky.so'", prefix, tmp);
    cr_assert_eq(rc, 0, "installed `kpf check-plugin leaky.so` exited %d:\n%s", rc,
                 tail(out, 8000));
    cr_assert(has_word(out, "leaky"),
              "`kpf check-plugin` output does not name the plugin 'leaky':\n%s",
              tail(out, 8000));
    free(out);
}

Test(install, installed_kpf_finds_installed_plugins)
{
    char *out;
    int rc = run(&out, "PKG_CONFIG_PATH='%s/pkgconfig' pkg-config --variable=plugindir kpf",
                 libdir);
    cr_assert_eq(rc, 0, "pkg-config --variable=plugindir kpf failed:\n%s", out);
    char plugindir[1024];
    snprintf(plugindir, sizeof plugindir, "%s", out);
    plugindir[strcspn(plugindir, "\n")] = '\0';
    free(out);
    char rnn[1100];
    snprintf(rnn, sizeof rnn, "%s/rnn.so", plugindir);
    cr_assert(access(rnn, R_OK) == 0,
              "pkg-config's plugindir %s holds no rnn.so; install log:\n%s", plugindir,
              inst_log);

    rc = run(&out, "env -u KPF_PLUGIN_PATH '%s/bin/kpf' plugins", prefix);
    cr_assert_eq(rc, 0, "installed `kpf plugins` exited %d:\n%s", rc, tail(out, 8000));
    cr_assert(has_word(out, "rnn"),
              "installed `kpf plugins` (KPF_PLUGIN_PATH unset) does not list rnn:\n%s",
              tail(out, 8000));
    free(out);
}

Test(install, cmake_package_builds_plugin)
{
    char *out;
    int rc = run(&out,
                 "cmake -S '%s/leaky' -B '%s/leaky/build' -DCMAKE_PREFIX_PATH='%s' "
                 "-DCMAKE_BUILD_TYPE=Release && cmake --build '%s/leaky/build'",
                 tmp, tmp, prefix, tmp);
    cr_assert_eq(rc, 0,
                 "building examples/plugin-leaky with find_package(kpf) and "
                 "CMAKE_PREFIX_PATH=%s failed (exit %d):\n%s",
                 prefix, rc, tail(out, 8000));
    free(out);

    /* Its ctest runs kpf::cli (the installed kpf) check-plugin on it. */
    rc = run(&out, "cd '%s/leaky/build' && ctest --output-on-failure", tmp);
    cr_assert_eq(rc, 0, "ctest in the find_package(kpf) build failed (exit %d):\n%s", rc,
                 tail(out, 8000));
    free(out);
}

/* `ldd FILE` with LD_LIBRARY_PATH unset: libkpf must resolve to the install
 * prefix's library folder (the same file, however the run path spells it),
 * by the run path recorded in FILE alone. */
static void expect_libkpf_from_prefix(const char *file, const char *how)
{
    char *out;
    int rc = run(&out, "env -u LD_LIBRARY_PATH ldd '%s'", file);
    cr_assert_eq(rc, 0, "ldd %s failed (exit %d):\n%s", file, rc, tail(out, 4000));
    char found[1200] = "", *at = strstr(out, "libkpf.so.0 => ");
    if (at) /* "PATH (0x…)" or "not found" */
        sscanf(at + strlen("libkpf.so.0 => "), "%1199[^\n(]", found);
    for (size_t n = strlen(found); n && found[n - 1] == ' '; n--)
        found[n - 1] = '\0';
    char want[1200], real_found[PATH_MAX], real_want[PATH_MAX];
    snprintf(want, sizeof want, "%s/libkpf.so.0", libdir);
    cr_expect(realpath(want, real_want) && realpath(found, real_found) &&
                  strcmp(real_found, real_want) == 0,
              "%s: with LD_LIBRARY_PATH unset, libkpf resolves to '%s', not %s (%s):\n%s",
              file, found, want, how, tail(out, 4000));
    free(out);
}

/* A plugin built against kpf installed outside the system folders finds
 * libkpf at run time without LD_LIBRARY_PATH: kpf.pc's Libs carries
 * -Wl,-rpath,${libdir}, kpf_add_plugin (from find_package(kpf)) sets the
 * build and install run paths, and the installed built-in plugins find the
 * libkpf beside them through $ORIGIN. */
Test(install, plugins_find_libkpf_from_a_non_system_prefix)
{
    char *out;
    int rc = run(&out, "PKG_CONFIG_PATH='%s/pkgconfig' pkg-config --libs kpf", libdir);
    cr_assert_eq(rc, 0, "pkg-config --libs kpf failed:\n%s", out);
    char rpath[1100];
    snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", libdir);
    cr_expect(strstr(out, rpath) != NULL, "pkg-config --libs kpf lacks %s: %s", rpath, out);
    free(out);

    /* pkg-config: examples/plugin-leaky's Makefile. */
    rc = run(&out, "cd '%s/leaky' && PKG_CONFIG_PATH='%s/pkgconfig' make", tmp, libdir);
    cr_assert_eq(rc, 0, "make (pkg-config) failed (exit %d):\n%s", rc, tail(out, 6000));
    free(out);
    char so[1100];
    snprintf(so, sizeof so, "%s/leaky/leaky.so", tmp);
    expect_libkpf_from_prefix(so, "built with pkg-config --libs kpf");

    /* CMake: kpf_add_plugin after find_package(kpf), built and installed. */
    rc = run(&out,
             "mkdir -p '%s/viacmake' && printf '%%s\\n' 'cmake_minimum_required(VERSION 3.22)' "
             "'project(leaky_via_cmake LANGUAGES C)' 'find_package(kpf 0.1 REQUIRED)' "
             "'kpf_add_plugin(leaky2 ../leaky/leaky.c)' > '%s/viacmake/CMakeLists.txt' && "
             "cmake -S '%s/viacmake' -B '%s/viacmake/build' -DCMAKE_PREFIX_PATH='%s' "
             "-DCMAKE_BUILD_TYPE=Release && cmake --build '%s/viacmake/build' && "
             "cmake --install '%s/viacmake/build'",
             tmp, tmp, tmp, tmp, prefix, tmp, tmp);
    cr_assert_eq(rc, 0, "a find_package(kpf) project with kpf_add_plugin failed (exit %d):\n%s",
                 rc, tail(out, 6000));
    free(out);
    snprintf(so, sizeof so, "%s/viacmake/build/leaky2.so", tmp);
    expect_libkpf_from_prefix(so, "kpf_add_plugin, build tree");
    snprintf(so, sizeof so, "%s/kpf/plugins/leaky2.so", libdir);
    cr_assert(access(so, R_OK) == 0, "kpf_add_plugin's install did not put leaky2.so in %s",
              so);
    expect_libkpf_from_prefix(so, "kpf_add_plugin, installed into kpf_PLUGIN_DIR");

    /* kpf's own plugins, installed beside libkpf. */
    snprintf(so, sizeof so, "%s/kpf/plugins/rnn.so", libdir);
    expect_libkpf_from_prefix(so, "installed built-in plugin, $ORIGIN/../..");
}

/* ---- an out-of-tree task: examples/task-go-nogo -------------------------------- */

/* The number after "key": in a summary.json text, or NAN. */
static double json_number(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* A private copy of examples/task-go-nogo, built with its Makefile. */
static void build_go_nogo(void)
{
    char *out;
    int rc = run(&out, "cp -R '%s/examples/task-go-nogo' '%s/go_nogo' && "
                       "rm -rf '%s/go_nogo/build' '%s/go_nogo/go_nogo.so'",
                 KPF_SOURCE_DIR, tmp, tmp, tmp);
    cr_assert_eq(rc, 0, "copying examples/task-go-nogo failed:\n%s", out);
    free(out);
    rc = run(&out, "cd '%s/go_nogo' && PKG_CONFIG_PATH='%s/pkgconfig' make", tmp, libdir);
    cr_assert_eq(rc, 0, "building examples/task-go-nogo with its Makefile failed (exit %d):\n%s",
                 rc, tail(out, 6000));
    free(out);
}

/* The installed kpf checks the task and trains on it from YAML, finding it
 * only through KPF_PLUGIN_PATH. */
Test(install, out_of_tree_task_is_checked_and_trained_on)
{
    build_go_nogo();
    char *out;
    int rc = run(&out, "'%s/bin/kpf' check-plugin '%s/go_nogo/go_nogo.so'", prefix, tmp);
    cr_assert_eq(rc, 0, "installed `kpf check-plugin go_nogo.so` exited %d:\n%s", rc,
                 tail(out, 8000));
    cr_assert(strstr(out, "checking task 'go_nogo'") && strstr(out, " 0 failed") &&
                  strstr(out, "ok    noise: scale 0 keeps cond, mask, period, trial"),
              "`kpf check-plugin go_nogo.so` did not run the task checks:\n%s",
              tail(out, 8000));
    free(out);

    /* By name on the path, with task keys. */
    rc = run(&out, "KPF_PLUGIN_PATH='%s/go_nogo' '%s/bin/kpf' check-plugin go_nogo "
                   "--task-set t_delay=2 --task-set p_go=0.9",
             tmp, prefix);
    cr_assert_eq(rc, 0, "`kpf check-plugin go_nogo` on KPF_PLUGIN_PATH exited %d:\n%s", rc,
                 tail(out, 8000));
    free(out);

    /* Not on the path: a config error, and no output folder. */
    rc = run(&out, "cd '%s/go_nogo' && '%s/bin/kpf' run go_nogo.yaml -o '%s/run0'", tmp,
             prefix, tmp);
    cr_assert_eq(rc, 2, "kpf run without KPF_PLUGIN_PATH exited %d:\n%s", rc, tail(out, 4000));
    cr_assert(strstr(out, "unknown task 'go_nogo'"), "%s", tail(out, 4000));
    free(out);

    /* On the path: trained (fewer iterations than the example's 150). */
    rc = run(&out, "cd '%s/go_nogo' && KPF_PLUGIN_PATH='%s/go_nogo' '%s/bin/kpf' run "
                   "go_nogo.yaml -o '%s/run1' --set train.iterations=100",
             tmp, tmp, prefix, tmp);
    cr_assert_eq(rc, 0, "KPF_PLUGIN_PATH=… kpf run go_nogo.yaml exited %d:\n%s", rc,
                 tail(out, 8000));
    free(out);
    rc = run(&out, "cat '%s/run1/summary.json'", tmp);
    cr_assert_eq(rc, 0, "no summary.json:\n%s", out);
    /* The task's own dims (3 inputs, 1 output, 3+4+6+6 steps) reached the run. */
    cr_assert(strstr(out, "\"task\": \"go_nogo\""), "%s", out);
    cr_expect_eq(json_number(out, "n_in"), 3.0, "%s", out);
    cr_expect_eq(json_number(out, "n_out"), 1.0, "%s", out);
    cr_expect_eq(json_number(out, "steps"), 19.0, "%s", out);
    /* And the network learned it: the noise-free evaluation loss falls by
     * more than ten times (about 1 → 1e-3 in 100 iterations). */
    double l0 = json_number(out, "eval_loss_initial"), l1 = json_number(out, "eval_loss_final");
    cr_expect(l0 > 0.1 && l1 < 0.1 * l0,
              "eval loss %g → %g: the RNN did not learn go_nogo:\n%s", l0, l1, out);
    free(out);
}

/* The same task built through find_package(kpf); its ctest runs the
 * installed kpf check-plugin on it. */
Test(install, out_of_tree_task_builds_with_cmake_package)
{
    char *out;
    int rc = run(&out, "cp -R '%s/examples/task-go-nogo' '%s/gn' && rm -rf '%s/gn/build' && "
                       "cmake -S '%s/gn' -B '%s/gn/build' -DCMAKE_PREFIX_PATH='%s' "
                       "-DCMAKE_BUILD_TYPE=Release && cmake --build '%s/gn/build' && "
                       "cd '%s/gn/build' && ctest --output-on-failure",
                 KPF_SOURCE_DIR, tmp, tmp, tmp, tmp, prefix, tmp, tmp);
    cr_assert_eq(rc, 0, "examples/task-go-nogo with find_package(kpf) failed (exit %d):\n%s",
                 rc, tail(out, 8000));
    free(out);
}

/* The number after "key": in a JSON text (its first occurrence), NaN if absent. */
static double summary_number(const char *text, const char *key)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"%s\": ", key);
    const char *at = strstr(text, needle);
    return at ? strtod(at + strlen(needle), NULL) : NAN;
}

/* An out-of-tree analysis, built against the install and found by the
 * installed kpf through KPF_PLUGIN_PATH from a YAML config.  On
 * constant_input every trial is the same and nothing trains, so the
 * analysis trials at iteration 0 and the run's final simulation see one
 * trajectory: the analysis's whole-trial RMS of the hidden state must equal
 * the summary's own state_rms. */
Test(install, out_of_tree_analysis_runs_from_yaml, .timeout = 300)
{
    char *out;
    int rc = run(&out, "cp -R '%s/examples/analysis-state-norm' '%s/state_norm' && "
                       "rm -rf '%s/state_norm/build' '%s/state_norm/run' "
                       "'%s/state_norm/state_norm.so'",
                 KPF_SOURCE_DIR, tmp, tmp, tmp, tmp);
    cr_assert_eq(rc, 0, "copying examples/analysis-state-norm failed:\n%s", out);
    free(out);
    rc = run(&out, "cd '%s/state_norm' && PKG_CONFIG_PATH='%s/pkgconfig' make", tmp, libdir);
    cr_assert_eq(rc, 0, "building examples/analysis-state-norm with its Makefile failed "
                        "(exit %d):\n%s",
                 rc, tail(out, 6000));
    free(out);

    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/sn.yaml", tmp);
    FILE *fp = fopen(cfg, "w");
    cr_assert_not_null(fp);
    fputs("task: {name: constant_input}\n"
          "model: {plugin: rnn, n: 16, g: 1.5}\n"
          "analysis: {trials: 3, k: 2, operators: [K], state_norm: {}}\n"
          "simulate: {trials: 5}\n",
          fp);
    fclose(fp);
    rc = run(&out, "KPF_PLUGIN_PATH='%s/state_norm' '%s/bin/kpf' run '%s' -o '%s/sn_out'", tmp,
             prefix, cfg, tmp);
    cr_assert_eq(rc, 0, "installed `kpf run` with the state_norm analysis exited %d:\n%s", rc,
                 tail(out, 8000));
    free(out);

    char path[700], text[1 << 16];
    snprintf(path, sizeof path, "%s/sn_out/summary.json", tmp);
    fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s was not written", path);
    text[fread(text, 1, sizeof text - 1, fp)] = '\0';
    fclose(fp);
    double got = summary_number(text, "state_norm_rms"), want = summary_number(text, "state_rms");
    cr_assert(isfinite(got) && isfinite(want), "state_norm_rms %g, state_rms %g in:\n%s", got,
              want, tail(text, 4000));
    cr_expect_gt(want, 0.0, "the input never reached the network");
    cr_expect(fabs(got - want) <= 1e-12 * want,
              "the analysis's RMS of z (%.17g) is not the run's state_rms (%.17g)", got, want);
    cr_expect(isfinite(summary_number(text, "state_norm_last")), "%s", tail(text, 4000));
}

