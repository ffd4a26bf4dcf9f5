/* Hostile configs: size, depth, anchors and alias expansion are refused
 * before libyaml builds a document, quickly and at small memory, each with
 * its place; libyaml's reader errors (NUL, invalid UTF-8, control
 * characters) get a line and column instead of a byte offset; a map of
 * 100 000 keys loads in linear-ish time.  The inputs are generated here. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf/config.h"

/* ---- building inputs ------------------------------------------------------- */

typedef struct buf {
    char *s;
    size_t n, cap;
} buf;

__attribute__((format(printf, 2, 3)))
static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)k + 1 > b->cap) {
        b->cap = 2 * (b->n + (size_t)k + 1);
        b->s = realloc(b->s, b->cap);
        cr_assert_not_null(b->s);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

static void repeat(buf *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        put(b, "%s", s);
}

static kpf_error err;

static int load_str(const char *yaml, kpf_config **cfg)
{
    *cfg = NULL;
    kpf_error_clear(&err);
    return kpf_config_load_string(yaml, "h.yaml", cfg, &err);
}

static void expect_refused(const char *yaml, const char *want)
{
    kpf_config *cfg;
    int rc = load_str(yaml, &cfg);
    cr_assert_eq(rc, KPF_ECONFIG, "accepted (rc %d): %s", rc, err.msg);
    cr_assert_null(cfg);
    cr_assert(strstr(err.msg, want), "expected '%s' in: %s", want, err.msg);
}

/* Writes n bytes to a temporary file and loads it. */
static int load_bytes(const void *bytes, size_t n, char *path, size_t size, kpf_config **cfg)
{
    snprintf(path, size, "/tmp/kpf-test-limits-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, bytes, n), (ssize_t)n);
    close(fd);
    kpf_error_clear(&err);
    int rc = kpf_config_load_file(path, cfg, &err);
    unlink(path);
    return rc;
}

static void expect_file_error(const void *bytes, size_t n, const char *where, const char *want)
{
    char path[64], full[512];
    kpf_config *cfg = NULL;
    int rc = load_bytes(bytes, n, path, sizeof path, &cfg);
    cr_assert_eq(rc, KPF_ECONFIG, "accepted (rc %d): %s", rc, err.msg);
    snprintf(full, sizeof full, "%s:%s: %s", path, where, want);
    cr_assert_str_eq(err.msg, full);
}

/* ---- reader errors located ---------------------------------------------------- */

Test(config_limits, nul_byte_is_located)
{
    static const char t[] = "a: 1\nb: x\0y\n";
    expect_file_error(t, sizeof t - 1, "2:5",
                      "YAML syntax error: control characters are not allowed (byte 0x00)");
}

Test(config_limits, invalid_utf8_is_located)
{
    static const char t[] = "a: 1\nbb: \xff\xfe\n";
    expect_file_error(t, sizeof t - 1, "2:5",
                      "YAML syntax error: invalid leading UTF-8 octet (byte 0xFF)");
    /* Columns count characters: é and € before the bad byte are one each. */
    static const char u[] = "a: \"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\" \x80\n";
    expect_file_error(u, sizeof u - 1, "1:12",
                      "YAML syntax error: invalid leading UTF-8 octet (byte 0x80)");
}

Test(config_limits, control_character_is_located)
{
    expect_refused("a: 1\n  b: \x01\n", "h.yaml:2:6: YAML syntax error: control characters "
                                        "are not allowed (byte 0x01)");
}

Test(config_limits, binary_garbage_is_located)
{
    unsigned char g[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof g; i++) {
        x = x * 1103515245u + 12345u;
        g[i] = (unsigned char)(x >> 16);
    }
    g[0] = 'a';
    g[1] = ':';
    g[2] = ' ';
    g[3] = 0xFF; /* never valid in UTF-8 */
    expect_file_error(g, sizeof g, "1:4", "YAML syntax error: invalid leading UTF-8 octet (byte 0xFF)");
}

/* ---- size ---------------------------------------------------------------------- */

Test(config_limits, oversized_text_refused_before_parsing, .timeout = 10)
{
    buf b = {0};
    put(&b, "a: [");
    while (b.n <= KPF_CONFIG_MAX_BYTES)
        put(&b, "1,\n");
    put(&b, "1]\n");
    /* Line 1 is "a: [1,\n" (7 bytes), then "1,\n" lines: the byte at the
     * limit is located where it lies. */
    char want[160];
    snprintf(want, sizeof want, "h.yaml:%d:%d: the config is larger than %d bytes",
             2 + (KPF_CONFIG_MAX_BYTES - 7) / 3, 1 + (KPF_CONFIG_MAX_BYTES - 7) % 3,
             KPF_CONFIG_MAX_BYTES);
    expect_refused(b.s, want);
    char path[64];
    kpf_config *cfg = NULL;
    cr_assert_eq(load_bytes(b.s, b.n, path, sizeof path, &cfg), KPF_ECONFIG, "%s", err.msg);
    cr_assert(strstr(err.msg, "the config is larger than"), "%s", err.msg);
    free(b.s);
}

/* ---- depth --------------------------------------------------------------------- */

/* libyaml's scanner is quadratic in flow depth: this used to take a minute. */
Test(config_limits, deep_flow_nesting_refused_at_once, .timeout = 5)
{
    buf b = {0};
    put(&b, "a: ");
    repeat(&b, "[", 100000);
    repeat(&b, "]", 100000);
    put(&b, "\n");
    expect_refused(b.s, "h.yaml:1:68: nested more than 64 levels deep (at most 64)");
    b.n = 0;
    put(&b, "a: ");
    repeat(&b, "{k: ", 100000);
    expect_refused(b.s, "nested more than 64 levels deep");
    free(b.s);
}

Test(config_limits, deep_block_nesting_refused_at_once, .timeout = 5)
{
    buf b = {0};
    put(&b, "a:\n  ");
    repeat(&b, "- ", 1000000);
    put(&b, "x\n");
    expect_refused(b.s, "h.yaml:2:131: nested more than 64 levels deep");
    free(b.s);
}

Test(config_limits, depth_limit_is_inclusive)
{
    buf b = {0};
    put(&b, "a: ");
    repeat(&b, "[", 63); /* a is level 1, the innermost scalar level 64 */
    put(&b, "x");
    repeat(&b, "]", 63);
    kpf_config *cfg;
    cr_assert_eq(load_str(b.s, &cfg), KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
    b.n = 0;
    put(&b, "a: ");
    repeat(&b, "[", 64);
    put(&b, "x");
    repeat(&b, "]", 64);
    expect_refused(b.s, "nested more than 64 levels deep");
    free(b.s);
}

Test(config_limits, aliases_count_toward_depth)
{
    buf b = {0};
    put(&b, "deep: &d ");
    repeat(&b, "[", 40);
    repeat(&b, "]", 40);
    put(&b, "\nuse: ");
    repeat(&b, "[", 30);
    put(&b, "*d");
    repeat(&b, "]", 30);
    put(&b, "\n");
    expect_refused(b.s, "nested more than 64 levels deep once the alias is expanded");
    free(b.s);
}

/* ---- aliases --------------------------------------------------------------------- */

/* Runs f in a child and returns its peak RSS in KiB (exit 0 required). */
static long child_peak_kib(void (*f)(void))
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        f();
        _exit(0);
    }
    int st;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    return ru.ru_maxrss;
}

/* 144 KB: a 100 KB scalar and 11 000 aliases of it (1.1 GB expanded, which
 * used to be built before anything objected). */
static void alias_bomb(void)
{
    buf b = {0};
    put(&b, "s: &a \"");
    repeat(&b, "x", 100000);
    put(&b, "\"\nl: [*a");
    repeat(&b, ", *a", 10999);
    put(&b, "]\n");
    kpf_config *cfg;
    int rc = load_str(b.s, &cfg);
    free(b.s);
    if (rc != KPF_ECONFIG || !strstr(err.msg, "h.yaml:2:") ||
        !strstr(err.msg, "the document expands to more than 64 MiB once its aliases are "
                         "expanded"))
        _exit(3);
}

Test(config_limits, alias_expansion_capped_by_bytes, .timeout = 10)
{
    long kib = child_peak_kib(alias_bomb);
    cr_assert_lt(kib, 64 * 1024, "peak RSS %ld KiB while refusing", kib);
}

Test(config_limits, billion_laughs_refused)
{
    buf b = {0};
    put(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
        put(&b, "a%d: &a%d [*a%d", i, i, i - 1);
        for (int k = 1; k < 10; k++)
            put(&b, ", *a%d", i - 1);
        put(&b, "]\n");
    }
    expect_refused(b.s, "the document expands to more than 64 MiB");
    free(b.s);
}

Test(config_limits, small_aliases_still_work)
{
    kpf_config *cfg;
    cr_assert_eq(load_str("base: &b {n: 4, g: 1.5}\nx: *b\ny: [*b, *b]\n", &cfg), KPF_OK, "%s",
                 err.msg);
    const kpf_node *y = kpf_node_get(kpf_config_root(cfg), "y");
    cr_assert_eq(kpf_node_len(y), 2);
    cr_assert_str_eq(kpf_node_path(kpf_node_get(kpf_node_at(y, 1), "g")), "y[1].g");
    kpf_config_free(cfg);
}

Test(config_limits, anchor_and_alias_counts_capped)
{
    buf b = {0};
    put(&b, "l: [");
    for (int i = 0; i <= KPF_CONFIG_MAX_ANCHORS; i++)
        put(&b, "&a%d %d, ", i, i);
    put(&b, "0]\n");
    expect_refused(b.s, "more than 256 anchors (&name) in one document");
    b.n = 0;
    put(&b, "s: &a x\nl: [*a");
    repeat(&b, ", *a", KPF_CONFIG_MAX_ALIASES);
    put(&b, "]\n");
    expect_refused(b.s, "more than 65536 aliases (*name) in one document");
    free(b.s);
}

Test(config_limits, recursive_and_undefined_aliases)
{
    expect_refused("a: &x [1, [2, *x]]\n",
                   "h.yaml:1:15: alias *x refers to a node that contains it");
    expect_refused("a: *nope\n", "h.yaml:1:4: alias *nope: no anchor &nope before it");
}

/* A large plain document is refused by the same byte count. */
Test(config_limits, huge_tree_without_aliases_refused, .timeout = 10)
{
    buf b = {0};
    put(&b, "l: [");
    repeat(&b, "1,", 2000000 - 1);
    put(&b, "1]\n");
    expect_refused(b.s, "h.yaml:1:");
    cr_assert(strstr(err.msg, "the document expands to more than 64 MiB (at most 64 MiB"), "%s",
              err.msg);
    free(b.s);
}

/* ---- many keys -------------------------------------------------------------------- */

/* Duplicate keys used to be found by a linear search per key: 90 s here. */
Test(config_limits, many_keys_load_fast_and_duplicates_are_found, .timeout = 10)
{
    buf b = {0};
    for (int i = 0; i < 100000; i++)
        put(&b, "k%d: %d\n", i, i);
    kpf_config *cfg;
    cr_assert_eq(load_str(b.s, &cfg), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_node_len(kpf_config_root(cfg)), 100000);
    kpf_config_free(cfg);
    put(&b, "k77: again\nk5: again\n");
    expect_refused(b.s, "h.yaml:100001:1: k77: duplicate key 'k77' (first at line 78)");
    free(b.s);
}

/* ---- --set values meet the same limits ------------------------------------------------ */

Test(config_limits, deep_set_value_refused, .timeout = 5)
{
    kpf_config *cfg;
    cr_assert_eq(load_str("a: 1\n", &cfg), KPF_OK);
    buf b = {0};
    put(&b, "a=");
    repeat(&b, "[", 100000);
    kpf_error_clear(&err);
    cr_assert_eq(kpf_config_set(cfg, b.s, &err), KPF_ECONFIG);
    /* The label keeps the first 80 characters of the assignment. */
    char want[160] = "--set a=";
    memset(want + 8, '[', 78);
    strcpy(want + 86, "…:1:68: nested more than 64 levels deep");
    cr_assert(strstr(err.msg, want), "expected '%s' in: %s", want, err.msg);
    cr_assert_str_eq(kpf_node_scalar(kpf_node_get(kpf_config_root(cfg), "a")), "1");
    kpf_config_free(cfg);
    free(b.s);
}

/* ---- one line ------------------------------------------------------------------------ */

/* Values quoted in messages may hold newlines; the message stays one line
 * (found by fuzz_config: a --set value with a newline). */
Test(config_limits, messages_are_one_line)
{
    kpf_config *cfg;
    cr_assert_eq(load_str("a: \"x\\ny\\tz\"\n", &cfg), KPF_OK, "%s", err.msg);
    double v;
    kpf_error_clear(&err);
    cr_assert_eq(kpf_cfg_double(kpf_config_root(cfg), "a", KPF_CFG_REQUIRED, 0, 0, 1, &v, &err),
                 KPF_ECONFIG);
    cr_assert_str_eq(err.msg, "h.yaml:1:4: a: expected a number (got 'x\\ny\\tz')");
    kpf_error_clear(&err);
    cr_assert_eq(kpf_config_set(cfg, "train.blocks=[W, \ns\x8dn]", &err), KPF_ECONFIG);
    cr_assert(!strchr(err.msg, '\n'), "%s", err.msg);
    cr_assert(strstr(err.msg, "--set train.blocks=[W, \\ns\x8dn]:2:2: YAML syntax error"), "%s",
              err.msg);
    kpf_error_prefix(&err, err.code, "step\x01: ");
    cr_assert(!strncmp(err.msg, "step\\x01: --set", 15), "%s", err.msg);
    kpf_config_free(cfg);
}
