/* `kpf show`: a real run's summary as sections whose numbers are the
 * summary.json values (read here independently with Jansson), a sweep table
 * that is aligned and marks failed points with their reason, keys nobody
 * laid out still shown, and the error exits. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

#define KPF "'" KPF_CLI_PATH "'"

TestSuite(show, .init = tu_mktmp, .fini = tu_rmtmp);

/* A line of tu_out that contains all of a, b (b may be NULL). */
static const char *line_with(const char *a, const char *b)
{
    static char line[4096];
    for (const char *p = tu_out; *p;) {
        size_t k = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)k, p);
        if (strstr(line, a) && (!b || strstr(line, b)))
            return line;
        p += k + (p[k] == '\n');
    }
    return NULL;
}

static double summary_number(json_t *s, const char *obj, const char *key)
{
    json_t *o = obj ? json_object_get(s, obj) : s;
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "summary.json has no number %s.%s", obj ? obj : "", key);
    return json_number_value(v);
}

Test(show, run_summary_sections_carry_the_summary_values)
{
    int rc = tu_sh(KPF " run configs/quickstart.yaml -o %s/run --set model.n=8 "
                   "--set train.iterations=40 --set train.eval_every=20 "
                   "--set train.loss_threshold=1e-9 --set analysis.trials=4 "
                   "--set analysis.k=4 --set simulate.trials=8 --set output.trajectory=false",
                   tu_tmp);
    cr_assert_eq(rc, 0, "kpf run failed:\n%s", tu_out);
    char path[256];
    snprintf(path, sizeof path, "%s/run/summary.json", tu_tmp);
    json_t *s = json_load_file(path, 0, NULL);
    cr_assert_not_null(s);

    rc = tu_sh(KPF " show %s/run", tu_tmp);
    cr_assert_eq(rc, 0, "kpf show exited %d:\n%s", rc, tu_out);
    const char *sections[] = {"\nmodel\n", "\nlosses\n", "\nconvergence\n",
                              "\nanalysis (per snapshot)\n"};
    for (size_t i = 0; i < 4; i++)
        cr_assert(strstr(tu_out, sections[i]), "no section '%s' in:\n%s", sections[i] + 1,
                  tu_out);
    cr_assert_not_null(line_with("seed", "0"), "%s", tu_out);
    cr_assert_not_null(line_with("task", "memory_pro"), "%s", tu_out);
    cr_assert_not_null(line_with("plugin", "rnn"), "%s", tu_out);
    cr_assert_not_null(line_with("sizes", "n = 8, n_in = 3, n_out = 3"), "%s", tu_out);
    cr_assert_not_null(line_with("blocks", "W 8×8, W_in 8×3"), "%s", tu_out);

    char want[128];
    snprintf(want, sizeof want, "%.4g → %.4g", summary_number(s, "train", "eval_loss_initial"),
             summary_number(s, "train", "eval_loss_final"));
    cr_assert_not_null(line_with("eval loss", want), "no '%s' in:\n%s", want, tu_out);
    snprintf(want, sizeof want, "%.4g", summary_number(s, NULL, "readout_mse"));
    cr_assert_not_null(line_with("readout MSE", want), "no '%s' in:\n%s", want, tu_out);
    cr_assert_not_null(line_with("converged", "no (eval loss never below 1e-09)"), "%s",
                       tu_out);
    cr_assert_not_null(line_with("iterations", "40"), "%s", tu_out);

    /* The analysis table: a header and one row per snapshot, whose numbers
     * are the summary's. */
    json_t *an = json_object_get(s, "analysis");
    cr_assert_eq(json_array_size(an), 2);
    cr_assert_not_null(line_with("iteration", "effrank_K"), "%s", tu_out);
    for (size_t i = 0; i < 2; i++) {
        json_t *snap = json_array_get(an, i);
        char it[32], ek[32];
        snprintf(it, sizeof it, "%lld", (long long)json_integer_value(json_object_get(snap, "iteration")));
        snprintf(ek, sizeof ek, " %.4g ", json_number_value(json_object_get(snap, "effrank_K")));
        const char *row = line_with(ek, NULL);
        cr_assert_not_null(row, "no row with effrank_K%s in:\n%s", ek, tu_out);
        cr_assert(strncmp(row + strspn(row, " "), it, strlen(it)) == 0,
                  "row '%s' does not start with iteration %s", row, it);
    }
    json_decref(s);
}

/* Keys no section knows are shown, none silently dropped. */
Test(show, unknown_keys_and_timings_are_shown)
{
    tu_write("summary.json",
             "{\"kpf_version\": \"9.9\", \"seed\": 7, \"timings\": {\"train\": 1.5, "
             "\"analysis\": 0.25}, \"threads\": 2, \"study\": {\"figure\": \"fig2\", "
             "\"per_g\": [1, 2, 3, 4, 5, 6, 7, 8]}, \"answer\": 42, \"flag\": true}\n");
    int rc = tu_sh(KPF " show %s", tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "\ntimings\n"), "%s", tu_out);
    cr_assert_not_null(line_with("train", "1.5 s"), "%s", tu_out);
    cr_assert_not_null(line_with("analysis", "0.25 s"), "%s", tu_out);
    cr_assert_not_null(line_with("threads", "2"), "%s", tu_out);
    cr_assert(strstr(tu_out, "\nstudy\n"), "%s", tu_out);
    cr_assert_not_null(line_with("figure", "fig2"), "%s", tu_out);
    cr_assert_not_null(line_with("per_g", "[1, 2, 3, 4, … (8 values)]"), "%s", tu_out);
    cr_assert_not_null(line_with("answer", "42"), "%s", tu_out);
    cr_assert_not_null(line_with("flag", "yes"), "%s", tu_out);
    cr_assert_not_null(line_with("kpf version", "9.9"), "%s", tu_out);
}

/* Lines of the table: from the header (starts "  point") to the blank line. */
static size_t table_lines(char lines[][1024], size_t cap)
{
    const char *p = strstr(tu_out, "  point");
    cr_assert_not_null(p, "no table header in:\n%s", tu_out);
    size_t n = 0;
    while (*p && *p != '\n' && n < cap) {
        size_t k = strcspn(p, "\n");
        snprintf(lines[n++], 1024, "%.*s", (int)k, p);
        p += k + (p[k] == '\n');
    }
    return n;
}

Test(show, sweep_table_aligned_with_failures_marked)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/sw/point_0001", tu_tmp);
    cr_assert_eq(system(cmd), 0);
    tu_write("sw/sweep.csv",
             "point,repeat,seed,model.g,status,eval_loss_final,effrank_K,lyapunov_max\n"
             "0,0,11,0.5,ok,0.0123456789,3.5,nan\n"
             "1,0,12,1.5,failed,nan,nan,nan\n"
             "2,1,13,tanh_big,ok,1.25e+25,12,nan\n");
    tu_write("sw/point_0001/scalars.txt", "# error: training diverged at iteration 3\n");
    int rc = tu_sh(KPF " show %s/sw", tu_tmp);
    cr_assert_eq(rc, 0, "%s", tu_out);
    char lines[8][1024];
    size_t n = table_lines(lines, 8);
    cr_assert_eq(n, 4, "table of %zu lines:\n%s", n, tu_out);
    for (size_t i = 1; i < n; i++)
        cr_assert_eq(strlen(lines[i]), strlen(lines[0]), "row %zu not aligned:\n%s", i,
                     tu_out);
    cr_assert(lines[2][0] == '!', "the failed point is not marked:\n%s", tu_out);
    cr_assert(lines[1][0] == ' ' && lines[3][0] == ' ', "%s", tu_out);
    cr_assert(strstr(lines[1], "0.01235") && strstr(lines[3], "1.25e+25"), "%s", tu_out);
    cr_assert(strstr(lines[3], "tanh_big"), "sweep values are shown verbatim:\n%s", tu_out);
    cr_assert(!strstr(lines[0], "lyapunov_max"), "an all-nan column is shown:\n%s", tu_out);
    cr_assert_not_null(line_with("no point has a value for", "lyapunov_max"), "%s", tu_out);
    cr_assert_not_null(line_with("point 1: failed", "training diverged at iteration 3"),
                       "%s", tu_out);
    cr_assert_not_null(line_with("3 points, 1 failed", NULL), "%s", tu_out);
}

Test(show, refusals)
{
    cr_assert_eq(tu_sh(KPF " show"), 2, "%s", tu_out);
    cr_assert_eq(tu_sh(KPF " show %s/nothing-here", tu_tmp), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "No such file"), "%s", tu_out);
    cr_assert_eq(tu_sh(KPF " show %s", tu_tmp), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "neither summary.json nor sweep.csv"), "%s", tu_out);
    tu_write("summary.json", "{\"seed\": 1,,}");
    cr_assert_eq(tu_sh(KPF " show %s", tu_tmp), 1, "%s", tu_out);
    cr_assert(strstr(tu_out, "summary.json:1:"), "a JSON error is located:\n%s", tu_out);
    cr_assert_eq(tu_sh(KPF " show %s --bogus", tu_tmp), 2, "%s", tu_out);
    cr_assert(strstr(tu_out, "unknown option '--bogus'"), "%s", tu_out);
    cr_assert_eq(tu_sh(KPF " show --help"), 0, "%s", tu_out);
    cr_assert(strstr(tu_out, "usage: kpf show"), "%s", tu_out);
}
