/* The `ltr_fit:` study (kpf/ltr_fit.h, core/src/ltr_study*.c): a small
 * teacher run through `kpf run` whose files agree with each other, a refit
 * of the saved teacher data through a relative `file:` path, and bad
 * configs rejected before anything is written, with file:line:col and the
 * key path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/config.h"
#include "kpf/h5io.h"
#include "ltr_fit.h"
#include "kpf/plugin.h"
#include "test_util.h"

static kpf_error err;
static kpf_registry *reg;
static const kpf_plugin *ltr;

static void setup(void)
{
    tu_mktmp();
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "ltr", &ltr, &err), KPF_OK, "%s", err.msg);
}

static void teardown(void)
{
    kpf_registry_free(reg);
    reg = NULL;
    tu_rmtmp();
}

TestSuite(ltr_study, .init = setup, .fini = teardown);

/* Rank-2 teacher, 8 neurons × 12 bins × 16 trials, R = 1 … 3: small enough
 * for ASan builds; the numbers are not the point here (docs/ltr.md has the
 * shipped config's). */
static const char *small_study =
    "seed: 4\n"
    "ltr_fit:\n"
    "  data:\n"
    "    teacher: {rank: 2, n: 8, neurons: 8, bins: 12, trials: 16, noise: 0.005,\n"
    "              c_offset: 1, c_init: 0.5}\n"
    "  model: {n: 8, dt: 0.3, length: 8, c_init: 0.1, c_mean: 1}\n"
    "  fit: {iterations: 300, lr: 0.05, restarts: 1}\n"
    "  cv: {block_t: 6, block_k: 8, inner_t: 3, inner_k: 4, frac: 0.25}\n"
    "  ranks: {max: 3, rel_tol: 0.2}\n";

static char *slurp(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tu_tmp, name);
    FILE *fp = fopen(p, "rb");
    cr_assert_not_null(fp, "%s missing", p);
    static char buf[1 << 16];
    size_t k = fread(buf, 1, sizeof buf - 1, fp);
    buf[k] = '\0';
    fclose(fp);
    return buf;
}

/* The numbers of the JSON array under "key" (at most max). */
static size_t json_numbers(const char *json, const char *key, double *v, size_t max)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *s = strstr(json, pat);
    cr_assert_not_null(s, "summary.json has no %s array", key);
    s += strlen(pat);
    size_t n = 0;
    while (n < max) {
        char *end;
        double x = strtod(s, &end);
        if (end == s)
            break;
        v[n++] = x;
        s = end + strspn(end, ", \n");
    }
    return n;
}

static double json_number(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *s = strstr(json, pat);
    cr_assert_not_null(s, "summary.json has no %s", key);
    return strtod(s + strlen(pat), NULL);
}

/* rank_sweep.dat rows: R, train UV, held-out UV, chosen flag. */
static size_t read_sweep(double rows[][4], size_t max)
{
    char p[256], line[512];
    snprintf(p, sizeof p, "%s/out/plot-src/rank_sweep.dat", tu_tmp);
    FILE *fp = fopen(p, "r");
    cr_assert_not_null(fp);
    size_t n = 0;
    while (n < max && fgets(line, sizeof line, fp)) {
        if (line[0] == '#')
            continue;
        int k = sscanf(line, "%lf %lf %lf %lf", &rows[n][0], &rows[n][1], &rows[n][2],
                       &rows[n][3]);
        cr_assert_eq(k, 4, "bad row: %s", line);
        n++;
    }
    fclose(fp);
    return n;
}

static void expect_shape(kpf_h5 *h, const char *path, int rank, size_t d0, size_t d1)
{
    int r = 0;
    size_t dims[KPF_H5_MAX_RANK];
    cr_assert_eq(kpf_h5_shape(h, path, &r, dims, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(r, rank, "%s: rank %d", path, r);
    cr_expect(dims[0] == d0 && (rank < 2 || dims[1] == d1), "%s: [%zu, %zu]", path, dims[0],
              rank < 2 ? 0 : dims[1]);
}

Test(ltr_study, teacher_run_writes_consistent_files, .timeout = 300)
{
    tu_write("s.yaml", small_study);
    cr_assert_eq(tu_sh("%s run %s/s.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    const char *files[] = {"data.h5", "fits.h5", "plot-src/rank_sweep.dat", "plot-src/rank_sweep.gp",
                           "rank_sweep.png", "plot-src/trial_factors.dat", "trial_factors.png",
                           "summary.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[64];
        snprintf(p, sizeof p, "out/%s", files[i]);
        cr_assert(tu_exists(p), "%s missing", p);
    }
    /* the table, the summary and the plateau rule agree */
    double rows[8][4], uv[8], tuv[8];
    const char *js = slurp("out/summary.json");
    cr_assert_eq(read_sweep(rows, 8), 3);
    cr_assert_eq(json_numbers(js, "heldout_uv", uv, 8), 3);
    cr_assert_eq(json_numbers(js, "train_uv", tuv, 8), 3);
    const size_t chosen = (size_t)json_number(js, "chosen_rank");
    const double thr = json_number(js, "plateau_threshold");
    double mn = INFINITY;
    for (size_t r = 0; r < 3; r++) {
        cr_expect_eq(rows[r][0], r + 1.0);
        cr_expect(fabs(rows[r][2] - uv[r]) <= 1e-8 * uv[r], "R=%zu: %g vs %g", r + 1,
                  rows[r][2], uv[r]);
        cr_expect(fabs(rows[r][1] - tuv[r]) <= 1e-8 * tuv[r]);
        cr_expect_eq(rows[r][3], r + 1 == chosen ? 1.0 : 0.0, "chosen marker at R=%zu", r + 1);
        cr_expect(uv[r] > 0 && isfinite(uv[r]), "held-out UV %g", uv[r]);
        mn = fmin(mn, uv[r]);
    }
    cr_expect(fabs(thr - 1.2 * mn) <= 1e-12 * thr, "threshold %g, min %g", thr, mn);
    cr_assert(chosen >= 1 && chosen <= 3);
    cr_expect_leq(uv[chosen - 1], thr);
    for (size_t r = 0; r + 1 < chosen; r++)
        cr_expect_gt(uv[r], thr, "R=%zu is under the threshold but %zu was chosen", r + 1, chosen);
    cr_expect_lt(uv[1], uv[0], "a rank-2 teacher: R = 2 must beat R = 1");
    cr_expect(strstr(js, "\"rank\": 2"), "teacher rank in summary: %s", js);
    /* θ at every rank, the teacher's, the masks */
    kpf_h5 *h = NULL;
    char p[256];
    snprintf(p, sizeof p, "%s/out/fits.h5", tu_tmp);
    cr_assert_eq(kpf_h5_open(p, &h, &err), KPF_OK, "%s", err.msg);
    for (size_t R = 1; R <= 3; R++) {
        char g[64];
        snprintf(g, sizeof g, "/rank_%zu/c", R);
        expect_shape(h, g, 2, R, 16);
        snprintf(g, sizeof g, "/rank_%zu/a", R);
        expect_shape(h, g, 2, R, 8);
        snprintf(g, sizeof g, "/rank_%zu/theta", R);
        cr_expect(kpf_h5_is_dataset(h, g), "%s", g);
    }
    expect_shape(h, "/teacher/c", 2, 2, 16);
    expect_shape(h, "/masks/test", 3, 8, 12);
    kpf_h5_close(h, NULL);
    /* trial factors: K rows of k, chosen-rank fit, teacher */
    const char *tf = slurp("out/plot-src/trial_factors.dat");
    size_t lines = 0, cols = 0;
    for (const char *s = tf; *s; s = strchr(s, '\n') + 1) {
        if (*s != '#') {
            lines++;
            size_t c = 0;
            for (const char *q = s; *q && *q != '\n'; q++)
                c += (q == s || q[-1] == ' ') && *q != ' ';
            cols = c;
        }
        if (!strchr(s, '\n'))
            break;
    }
    cr_expect_eq(lines, 16);
    cr_expect_eq(cols, 1 + chosen + 2, "columns: k, %zu fit, 2 teacher", chosen);

    /* the saved teacher data refits through a path relative to the config */
    tu_write("refit.yaml", "ltr_fit:\n"
                           "  data: {file: out/data.h5}\n"
                           "  model: {n: 8, dt: 0.3, length: 8}\n"
                           "  fit: {iterations: 5}\n"
                           "  cv: {block_t: 6, block_k: 8, inner_t: 3, inner_k: 4}\n"
                           "  ranks: {max: 1}\n");
    cr_assert_eq(tu_sh("cd / && %s run %s/refit.yaml -o %s/re", KPF_CLI_PATH, tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    js = slurp("re/summary.json");
    cr_expect(strstr(js, "\"source\": \"file\""), "%s", js);
    cr_expect(strstr(js, "out/data.h5\""), "%s", js);
    cr_expect_eq(json_number(js, "trials"), 16.0);
    cr_expect(!tu_exists("re/data.h5"), "a file study does not copy its data");
}

/* kpf_ltr_study_check on a config named bad.yaml: KPF_ECONFIG and a message
 * that starts with the location and the key path. */
static void expect_bad(const char *yaml, const char *where, const char *also)
{
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(yaml, "bad.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    kpf_error_clear(&err);
    int rc = kpf_ltr_study_check(cfg, ltr, &err);
    kpf_config_free(cfg);
    cr_expect_eq(rc, KPF_ECONFIG, "rc %d: %s", rc, err.msg);
    cr_expect(!strncmp(err.msg, where, strlen(where)), "expected '%s…', got '%s'", where,
              err.msg);
    cr_expect(strstr(err.msg, also), "expected '%s' in '%s'", also, err.msg);
}

#define HEAD "seed: 1\nltr_fit:\n"
#define TEACHER "  data: {teacher: {rank: 2, n: 4, neurons: 4, bins: 8, trials: 8}}\n"
#define CV "  cv: {block_t: 4, block_k: 4, inner_t: 2, inner_k: 2}\n"

Test(ltr_study, bad_configs_are_located_and_name_the_key)
{
    expect_bad(HEAD "  data:\n    file: x.h5\n    teacher: {rank: 2}\n" CV,
               "bad.yaml:4:5: ltr_fit.data: ", "exactly one of");
    expect_bad(HEAD "  data: {file: no/such/file.h5}\n" CV,
               "bad.yaml:3:16: ltr_fit.data.file: ", "no/such/file.h5");
    expect_bad(HEAD TEACHER CV "  fit: {iterations: 10, learning_rate: 0.1}\n",
               "bad.yaml:5:25: ltr_fit.fit.learning_rate: ", "unknown key");
    expect_bad(HEAD TEACHER CV "  ranks: {max: 0}\n", "bad.yaml:5:16: ltr_fit.ranks.max: ",
               "out of range");
    expect_bad(HEAD TEACHER CV "  model: {rank: 3}\n", "bad.yaml:5:17: ltr_fit.model.rank: ",
               "swept");
    expect_bad(HEAD TEACHER "  cv: {block_t: 8, block_k: 8, inner_t: 2, inner_k: 2}\n",
               "bad.yaml:4:7: ltr_fit.cv: ", "holds out no block");
    expect_bad(HEAD TEACHER CV "  bogus: 1\n", "bad.yaml:5:3: ltr_fit.bogus: ", "unknown key");
    expect_bad(HEAD TEACHER CV "  ranks: {min: 3, max: 2}\n", "bad.yaml:5:16: ltr_fit.ranks.min: ",
               "out of range");
    expect_bad(HEAD TEACHER CV "  fit: {init: best}\n", "bad.yaml:5:15: ltr_fit.fit.init: ",
               "teacher");
    expect_bad(HEAD TEACHER CV "  model: {n: 5}\n  fit: {init: teacher}\n",
               "bad.yaml:6:15: ltr_fit.fit.init: ", "teacher's n");
    expect_bad(HEAD TEACHER CV "  model: {n: 4}\n  fit: {init: teacher}\n  ranks: {max: 1}\n",
               "bad.yaml:6:15: ltr_fit.fit.init: ", "among the ranks");
}

/* fit.init: teacher starts restart 0 of the rank-R* fit at the teacher's θ;
 * with a tiny learning rate it stays there, so its components match the
 * teacher's (score ≈ 1) and the summary records every restart. */
Test(ltr_study, a_fit_from_the_teacher_matches_its_components, .timeout = 300)
{
    tu_write("t.yaml", "seed: 4\n"
                       "ltr_fit:\n"
                       "  data:\n"
                       "    teacher: {rank: 2, n: 8, neurons: 8, bins: 12, trials: 16, noise: 0.005,\n"
                       "              c_offset: 1, c_init: 0.5}\n"
                       "  model: {n: 8, dt: 0.3, length: 8, c_init: 0.1, c_mean: 1}\n"
                       "  fit: {iterations: 10, lr: 1e-7, restarts: 2, init: teacher}\n"
                       "  cv: {block_t: 6, block_k: 8, inner_t: 3, inner_k: 4, frac: 0.25}\n"
                       "  ranks: {min: 2, max: 2}\n");
    cr_assert_eq(tu_sh("%s run %s/t.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    const char *js = slurp("out/summary.json");
    double r[4];
    cr_assert_eq(json_numbers(js, "ranks", r, 4), 1);
    cr_expect_eq(r[0], 2.0);
    const char *rs = strstr(js, "\"restarts\": [");
    cr_assert_not_null(rs, "%s", js);
    cr_expect(strstr(rs, "\"from_teacher\": true"), "%s", rs);
    const double s0 = json_number(rs, "score");
    cr_expect_gt(s0, 0.99, "restart 0 from the teacher: match %g", s0);
    const char *r1 = strstr(rs, "\"from_teacher\": false");
    cr_assert_not_null(r1, "the second restart: %s", rs);
    cr_expect_lt(json_number(r1, "score"), s0, "a random start matches less");
    /* the teacher's loss under the fits' objective is at most the random start's */
    const char *t = strstr(js, "\"teacher\": {");
    cr_assert_not_null(t);
    cr_expect_lt(json_number(t, "train_loss"), json_number(r1, "train_loss"));
    double kr[4];
    cr_assert_eq(json_numbers(js, "kruskal_ranks", kr, 4), 3);
    cr_expect(kr[0] == 2 && kr[1] == 2 && kr[2] == 2, "Kruskal ranks %g %g %g", kr[0], kr[1],
              kr[2]);
}

Test(ltr_study, a_bad_config_writes_nothing)
{
    tu_write("bad.yaml", HEAD TEACHER CV "  ranks: {max: 0}\n");
    cr_assert_eq(tu_sh("%s run %s/bad.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_expect(strstr(tu_out, "ltr_fit.ranks.max"), "%s", tu_out);
    cr_expect(!tu_exists("out"), "nothing may be written");
}
