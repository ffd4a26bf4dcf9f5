/* kpf/safetensors.h against an independent implementation of the format:
 * tests/safetensors_ref.py (numpy and the json module only) writes good
 * files of every dtype with their exact values, and bad files each with the
 * words its refusal must contain; it also reads back what kpf writes.
 * The suite needs a python3 with numpy (Debian python3-numpy, installed by
 * scripts/deps.sh); KPF_PYTHON3 names one explicitly. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kpf/safetensors.h"

#define SCRIPT KPF_SOURCE_DIR "/core/sys/tests/safetensors_ref.py"

static char dir[64];
static char python[256];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A python3 that imports numpy: $KPF_PYTHON3, python3 on PATH, /usr/bin's. */
static void find_python(void)
{
    const char *env = getenv("KPF_PYTHON3");
    const char *cand[] = {env, "python3", "/usr/bin/python3"};
    for (size_t i = 0; i < 3; i++)
        if (cand[i] && *cand[i] &&
            sh("'%s' -c 'import numpy' >/dev/null 2>&1", cand[i]) == 0) {
            snprintf(python, sizeof python, "%s", cand[i]);
            return;
        }
    cr_assert_fail("no python3 with numpy found (install python3-numpy: scripts/deps.sh, "
                   "or set KPF_PYTHON3)");
}

static void setup(void)
{
    find_python();
    snprintf(dir, sizeof dir, "/tmp/kpf-st-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(sh("'%s' '%s' make '%s'", python, SCRIPT, dir), 0,
                 "safetensors_ref.py make failed");
}

static void teardown(void)
{
    if (!strncmp(dir, "/tmp/kpf-st-", 12))
        sh("rm -rf '%s'", dir);
}

TestSuite(safetensors, .init = setup, .fini = teardown);

/* ---- reference files ---------------------------------------------------------- */

typedef struct ref {
    char name[128], dtype[8], dims[64];
    size_t count;
} ref;

static size_t read_manifest(const char *path, ref *r, size_t cap)
{
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "cannot open %s", path);
    size_t n = 0;
    while (n < cap && fscanf(fp, "%127[^\t]\t%7s\t%63s\t%zu\n", r[n].name, r[n].dtype,
                             r[n].dims, &r[n].count) == 4)
        n++;
    fclose(fp);
    return n;
}

static double *read_f64(const char *path, size_t count)
{
    double *v = calloc(count + 1, sizeof *v);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    cr_assert_eq(fread(v, sizeof *v, count, fp), count, "%s is short", path);
    fclose(fp);
    return v;
}

static void dims_text(const kpf_st_tensor *t, char *buf, size_t size)
{
    buf[0] = '\0';
    if (t->rank == 0)
        snprintf(buf, size, "-");
    for (int i = 0; i < t->rank; i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%zu", i ? "x" : "", t->shape[i]);
}

/* st holds exactly the tensors of `manifest`, in its order, bit for bit. */
static void expect_matches(const kpf_safetensors *st, const char *stem)
{
    char path[512];
    ref r[16];
    snprintf(path, sizeof path, "%s.manifest", stem);
    size_t n = read_manifest(path, r, 16);
    cr_assert_eq(st->n_tensors, n, "%s: %zu tensors read, reference has %zu", stem,
                 st->n_tensors, n);
    for (size_t i = 0; i < n; i++) {
        const kpf_st_tensor *t = &st->tensors[i];
        char dims[64];
        dims_text(t, dims, sizeof dims);
        cr_assert_str_eq(t->name, r[i].name, "%s: tensor %zu", stem, i);
        cr_assert_str_eq(kpf_st_dtype_name(t->dtype), r[i].dtype, "%s: %s dtype", stem,
                         t->name);
        cr_assert_str_eq(dims, r[i].dims, "%s: %s shape", stem, t->name);
        cr_assert_eq(t->count, r[i].count, "%s: %s count", stem, t->name);
        cr_assert_eq(kpf_safetensors_find(st, r[i].name), t);
        snprintf(path, sizeof path, "%s.%zu.f64", stem, i);
        double *want = read_f64(path, r[i].count);
        for (size_t k = 0; k < t->count; k++)
            cr_assert(memcmp(&t->data[k], &want[k], sizeof(double)) == 0,
                      "%s: %s[%zu] = %.17g, reference %.17g", stem, t->name, k, t->data[k],
                      want[k]);
        free(want);
    }
}

static void read_good(const char *stem_name, kpf_safetensors **st)
{
    char path[256];
    kpf_error err = {0};
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, stem_name);
    int rc = kpf_safetensors_read(path, KPF_ST_REJECT_NONFINITE, st, &err);
    cr_assert_eq(rc, KPF_OK, "%s: %s", path, err.msg);
    snprintf(path, sizeof path, "%s/%s", dir, stem_name);
    expect_matches(*st, path);
}

Test(safetensors, reads_every_dtype_exactly)
{
    const char *stems[] = {"good_f64", "good_f32", "good_f16", "good_bf16", "mixed"};
    for (size_t i = 0; i < 5; i++) {
        kpf_safetensors *st = NULL;
        read_good(stems[i], &st);
        kpf_safetensors_free(st);
    }
}

Test(safetensors, metadata_scalar_and_empty_tensors)
{
    kpf_safetensors *st = NULL;
    read_good("good_f64", &st);
    cr_assert_eq(st->n_meta, 2);
    cr_assert_str_eq(st->meta[0].key, "format");
    cr_assert_str_eq(st->meta[0].value, "pt");
    const kpf_st_tensor *s = kpf_safetensors_find(st, "s");
    cr_assert_not_null(s);
    cr_assert_eq(s->rank, 0);
    cr_assert_eq(s->count, 1);
    cr_assert_eq(s->data[0], 42.125);
    cr_assert_null(kpf_safetensors_find(st, "nope"));
    kpf_safetensors_free(st);

    read_good("mixed", &st);
    const kpf_st_tensor *e = kpf_safetensors_find(st, "empty");
    cr_assert_not_null(e);
    cr_assert_eq(e->count, 0);
    cr_assert_null(e->data);
    cr_assert_eq(e->rank, 2);
    cr_assert_eq(e->shape[0], 0);
    cr_assert_eq(e->shape[1], 3);
    kpf_safetensors_free(st);
}

/* Reading from memory gives the same result as from the file. */
Test(safetensors, buffer_reader_matches_file_reader)
{
    char path[256];
    snprintf(path, sizeof path, "%s/mixed.safetensors", dir);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    kpf_safetensors *st = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_safetensors_read_buffer(buf, n, "mixed", 0, &st, &err), KPF_OK, "%s",
                 err.msg);
    snprintf(path, sizeof path, "%s/mixed", dir);
    expect_matches(st, path);
    kpf_safetensors_free(st);
}

/* ---- refusals --------------------------------------------------------------------- */

Test(safetensors, every_bad_file_is_refused_with_its_reason)
{
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/bad.list", dir);
    FILE *list = fopen(path, "r");
    cr_assert_not_null(list);
    size_t cases = 0;
    while (fgets(line, sizeof line, list)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab, "bad.list line '%s'", line);
        *tab = '\0';
        const char *file = line, *why = tab + 1;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        kpf_safetensors *st = (kpf_safetensors *)&cases; /* must be reset to NULL */
        kpf_error err = {0};
        int rc = kpf_safetensors_read(path, 0, &st, &err);
        cr_expect_neq(rc, KPF_OK, "%s was accepted", file);
        cr_expect_null(st, "%s: *out not NULL after a refusal", file);
        cr_expect(strstr(err.msg, why) != NULL, "%s: message '%s' lacks '%s'", file,
                  err.msg, why);
        cr_expect(strstr(err.msg, path) == err.msg, "%s: message '%s' does not begin with "
                                                    "the file name",
                  file, err.msg);
        cr_expect(strchr(err.msg, '\n') == NULL, "%s: message is not one line", file);
        cases++;
    }
    fclose(list);
    cr_assert_geq(cases, 25, "bad.list has only %zu cases", cases);
}

Test(safetensors, refusals_name_the_tensor)
{
    char path[256];
    kpf_safetensors *st = NULL;
    kpf_error err = {0};
    snprintf(path, sizeof path, "%s/overlap.safetensors", dir);
    cr_assert_neq(kpf_safetensors_read(path, 0, &st, &err), KPF_OK);
    cr_assert(strstr(err.msg, "'A'") && strstr(err.msg, "'B'"), "%s", err.msg);
    snprintf(path, sizeof path, "%s/wrong_bytes.safetensors", dir);
    cr_assert_neq(kpf_safetensors_read(path, 0, &st, &err), KPF_OK);
    cr_assert(strstr(err.msg, "tensor 'A'"), "%s", err.msg);
}

Test(safetensors, nonfinite_values_counted_or_refused)
{
    char path[256];
    snprintf(path, sizeof path, "%s/nonfinite.safetensors", dir);
    kpf_safetensors *st = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_safetensors_read(path, 0, &st, &err), KPF_OK, "%s", err.msg);
    const kpf_st_tensor *v = kpf_safetensors_find(st, "v");
    cr_assert_eq(v->n_nonfinite, 3);
    cr_assert_eq(v->data[0], 1.0);
    cr_assert(isinf(v->data[1]) && v->data[1] > 0);
    cr_assert(isinf(v->data[2]) && v->data[2] < 0);
    cr_assert(isnan(v->data[3]));
    kpf_safetensors_free(st);
    cr_assert_eq(kpf_safetensors_read(path, KPF_ST_REJECT_NONFINITE, &st, &err),
                 KPF_ENUMERIC);
    cr_assert(strstr(err.msg, "tensor 'v': element 1"), "%s", err.msg);
}

/* Every prefix of a good file is refused, and never read past (the buffer
 * reader is given exactly the prefix: ASan builds catch any overrun). */
Test(safetensors, every_truncation_refused)
{
    char path[256];
    snprintf(path, sizeof path, "%s/mixed.safetensors", dir);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    for (size_t k = 0; k < n; k++) {
        unsigned char *copy = malloc(k ? k : 1);
        memcpy(copy, buf, k);
        kpf_safetensors *st = NULL;
        kpf_error err = {0};
        cr_assert_neq(kpf_safetensors_read_buffer(copy, k, "prefix", 0, &st, &err), KPF_OK,
                      "a %zu-byte prefix of %zu was accepted", k, n);
        free(copy);
    }
}

/* ---- writing ---------------------------------------------------------------------- */

static const double W[6] = {1.0, -0.1, 1.0 / 3.0, 1e-310, -2.5e300, 0.0};
static const double B[3] = {3.25, -0.0, 7.0};
static const double S[1] = {-1.0 / 7.0};
static const size_t W_SHAPE[2] = {2, 3}, B_SHAPE[1] = {3}, E_SHAPE[2] = {0, 4};

static void write_sample(const char *path, kpf_st_dtype dtype, const double *w)
{
    kpf_st_write_tensor t[] = {{"rnn.weight", 2, W_SHAPE, w},
                               {"bias", 1, B_SHAPE, B},
                               {"empty", 2, E_SHAPE, NULL},
                               {"scale", 0, NULL, S}};
    kpf_st_meta meta[] = {{"format", "pt"}, {"written_by", "kpf"}};
    kpf_error err = {0};
    int rc = kpf_safetensors_write(path, dtype, t, 4, meta, 2, &err);
    cr_assert_eq(rc, KPF_OK, "%s", err.msg);
}

static void expect_values(const kpf_st_tensor *t, const double *want, size_t n, int f32)
{
    for (size_t i = 0; i < n; i++) {
        double w = f32 ? (double)(float)want[i] : want[i];
        cr_assert(memcmp(&t->data[i], &w, sizeof w) == 0, "%s[%zu] = %.17g, wrote %.17g",
                  t->name, i, t->data[i], w);
    }
}

Test(safetensors, write_read_round_trip_f64_and_f32)
{
    double w32[6];
    memcpy(w32, W, sizeof w32);
    w32[4] = -2.5e30; /* within F32's range */
    for (int f32 = 0; f32 < 2; f32++) {
        char path[256];
        snprintf(path, sizeof path, "%s/kpf_%s.safetensors", dir, f32 ? "f32" : "f64");
        const double *w = f32 ? w32 : W;
        write_sample(path, f32 ? KPF_ST_F32 : KPF_ST_F64, w);
        kpf_safetensors *st = NULL;
        kpf_error err = {0};
        cr_assert_eq(kpf_safetensors_read(path, 0, &st, &err), KPF_OK, "%s", err.msg);
        cr_assert_eq(st->n_tensors, 4);
        const kpf_st_tensor *t = kpf_safetensors_find(st, "rnn.weight");
        cr_assert_eq(t->dtype, f32 ? KPF_ST_F32 : KPF_ST_F64);
        cr_assert_eq(t->rank, 2);
        cr_assert_eq(t->shape[1], 3);
        expect_values(t, w, 6, f32);
        expect_values(kpf_safetensors_find(st, "bias"), B, 3, f32);
        expect_values(kpf_safetensors_find(st, "scale"), S, 1, f32);
        cr_assert_eq(kpf_safetensors_find(st, "empty")->count, 0);
        cr_assert_eq(st->n_meta, 2);
        cr_assert_str_eq(st->meta[1].value, "kpf");
        kpf_safetensors_free(st);
    }
}

/* The independent reader accepts kpf's files (8-aligned header, offsets
 * tiling the data) and finds the same values. */
Test(safetensors, independent_reader_reads_kpf_files)
{
    double w32[6];
    memcpy(w32, W, sizeof w32);
    w32[4] = 12345.678;
    for (int f32 = 0; f32 < 2; f32++) {
        char path[256], out[256];
        snprintf(path, sizeof path, "%s/py_%d.safetensors", dir, f32);
        snprintf(out, sizeof out, "%s/py_%d", dir, f32);
        const double *w = f32 ? w32 : W;
        write_sample(path, f32 ? KPF_ST_F32 : KPF_ST_F64, w);
        cr_assert_eq(sh("'%s' '%s' dump '%s' '%s'", python, SCRIPT, path, out), 0,
                     "the reference reader refused %s", path);
        char man[300];
        snprintf(man, sizeof man, "%s/manifest", out);
        ref r[8];
        cr_assert_eq(read_manifest(man, r, 8), 4);
        cr_assert_str_eq(r[0].name, "rnn.weight");
        cr_assert_str_eq(r[0].dtype, f32 ? "F32" : "F64");
        cr_assert_str_eq(r[0].dims, "2x3");
        cr_assert_str_eq(r[3].dims, "-");
        snprintf(man, sizeof man, "%s/0.f64", out);
        double *got = read_f64(man, 6);
        for (size_t i = 0; i < 6; i++) {
            double want = f32 ? (double)(float)w[i] : w[i];
            cr_assert(memcmp(&got[i], &want, sizeof want) == 0, "[%zu] %.17g vs %.17g", i,
                      got[i], want);
        }
        free(got);
    }
}

Test(safetensors, writer_refusals)
{
    char path[256];
    kpf_error err = {0};
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    kpf_st_write_tensor dup[] = {{"a", 1, B_SHAPE, B}, {"a", 1, B_SHAPE, B}};
    cr_assert_eq(kpf_safetensors_write(path, KPF_ST_F64, dup, 2, NULL, 0, &err), KPF_EINVAL);
    cr_assert(strstr(err.msg, "two tensors are called 'a'"), "%s", err.msg);
    kpf_st_write_tensor meta_name[] = {{"__metadata__", 1, B_SHAPE, B}};
    cr_assert_eq(kpf_safetensors_write(path, KPF_ST_F64, meta_name, 1, NULL, 0, &err),
                 KPF_EINVAL);
    cr_assert_eq(kpf_safetensors_write(path, KPF_ST_F16, dup, 1, NULL, 0, &err),
                 KPF_EUNSUPPORTED);
    kpf_st_write_tensor big[] = {{"w", 2, W_SHAPE, W}}; /* −2.5e300 */
    cr_assert_eq(kpf_safetensors_write(path, KPF_ST_F32, big, 1, NULL, 0, &err),
                 KPF_ENUMERIC);
    cr_assert(strstr(err.msg, "element 4"), "%s", err.msg);
    cr_assert_neq(access(path, F_OK), 0, "a failed write left %s behind", path);
    /* Never overwrites. */
    cr_assert_eq(kpf_safetensors_write(path, KPF_ST_F64, dup, 1, NULL, 0, &err), KPF_OK);
    cr_assert_eq(kpf_safetensors_write(path, KPF_ST_F64, dup, 1, NULL, 0, &err), KPF_EIO);
}
