/* `kpf show RUN_DIR`: a run's summary.json as readable sections, and a
 * sweep's sweep.csv as an aligned table with its failed points marked.
 *
 * summary.json is read with Jansson.  The sections a kpf run writes (run,
 * model, losses, convergence, analysis per snapshot, timings) are laid out
 * by name; every key they do not use is still printed, under its own name,
 * so a study's summary or a newer kpf's extra keys are never hidden. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"

#define KEYW 16 /* width of the key column */

/* ---- values as text ---------------------------------------------------------- */

static void fmt_number(double v, char *buf, size_t size)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.4g", v);
}

/* One JSON value on one line: numbers to 4 significant digits, short lists
 * in full, long ones as their first entries and a count. */
static void fmt_value(const json_t *v, char *buf, size_t size)
{
    switch (json_typeof(v)) {
    case JSON_STRING: snprintf(buf, size, "%s", json_string_value(v)); break;
    case JSON_INTEGER: snprintf(buf, size, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: fmt_number(json_real_value(v), buf, size); break;
    case JSON_TRUE: snprintf(buf, size, "yes"); break;
    case JSON_FALSE: snprintf(buf, size, "no"); break;
    case JSON_NULL: snprintf(buf, size, "-"); break;
    case JSON_OBJECT: snprintf(buf, size, "{%zu keys}", json_object_size(v)); break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v), shown = n <= 6 ? n : 4, at = 0;
        at += (size_t)snprintf(buf, size, "[");
        for (size_t i = 0; i < shown && at < size; i++) {
            char item[64];
            fmt_value(json_array_get(v, i), item, sizeof item);
            at += (size_t)snprintf(buf + at, size - at, "%s%s", i ? ", " : "", item);
        }
        if (at < size)
            snprintf(buf + at, size - at, shown < n ? ", … (%zu values)]" : "]", n);
        break;
    }
    }
}

static void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  %-*s ", KEYW, key);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* The value at `key` as text, then removed from obj (so that what is left
 * afterwards is what no section showed).  NULL if absent. */
static const char *take(json_t *obj, const char *key, char *buf, size_t size)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    fmt_value(v, buf, size);
    json_object_del(obj, key);
    return buf;
}

static int take_number(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return 0;
    *out = json_number_value(v);
    json_object_del(obj, key);
    return 1;
}

/* Whatever is left of obj, key by key (objects flattened with dots). */
static void rest(const json_t *obj, const char *prefix)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        char key[256], val[512];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", k);
        if (json_is_object(v) && json_object_size(v)) {
            rest(v, key);
            continue;
        }
        fmt_value(v, val, sizeof val);
        kv(key, "%s", val);
    }
}

/* ---- sections ------------------------------------------------------------------- */

static void section(const char *title)
{
    printf("\n%s\n", title);
}

static void show_run(json_t *s, const char *where)
{
    char a[512], b[64], c[64];
    printf("run %s\n", where);
    const char *x;
    if ((x = take(s, "config", a, sizeof a)))
        kv("config", "%s", x);
    if ((x = take(s, "seed", a, sizeof a)))
        kv("seed", "%s", x);
    if ((x = take(s, "kpf_version", a, sizeof a)))
        kv("kpf version", "%s", x);
    if ((x = take(s, "task", a, sizeof a)))
        kv("task", "%s", x);
    const char *trials = take(s, "trials", b, sizeof b), *steps = take(s, "steps", c, sizeof c);
    if (trials && steps)
        kv("simulated", "%s trials × %s steps", trials, steps);
    else if (trials || steps)
        kv(trials ? "trials" : "steps", "%s", trials ? trials : steps);
}

static void show_blocks(json_t *model)
{
    json_t *blocks = json_object_get(model, "blocks");
    if (!json_is_object(blocks))
        return;
    char line[1024] = "", shape[64];
    size_t at = 0;
    const char *k;
    json_t *v;
    json_object_foreach(blocks, k, v) {
        if (json_is_array(v) && json_array_size(v) == 2)
            snprintf(shape, sizeof shape, "%lld×%lld",
                     (long long)json_integer_value(json_array_get(v, 0)),
                     (long long)json_integer_value(json_array_get(v, 1)));
        else
            fmt_value(v, shape, sizeof shape);
        if (at < sizeof line)
            at += (size_t)snprintf(line + at, sizeof line - at, "%s%s %s", at ? ", " : "", k,
                                   shape);
    }
    kv("blocks", "%s", line);
    json_object_del(model, "blocks");
}

static void show_model(json_t *s)
{
    json_t *m = json_object_get(s, "model");
    if (!json_is_object(m))
        return;
    section("model");
    char a[512], b[512], c[64], d[64];
    const char *x;
    const char *plugin = take(m, "plugin", a, sizeof a), *path = take(m, "plugin_path", b,
                                                                       sizeof b);
    if (plugin)
        kv("plugin", "%s%s%s%s", plugin, path ? "  (" : "", path ? path : "", path ? ")" : "");
    const char *n = take(m, "n", c, sizeof c);
    if (n) {
        char nin[32] = "", nout[32] = "", nobs[32] = "";
        take(m, "n_in", nin, sizeof nin);
        take(m, "n_out", nout, sizeof nout);
        take(m, "n_observed", nobs, sizeof nobs); /* the part analyses see */
        kv("sizes", "n = %s%s%s%s, n_in = %s, n_out = %s", n, nobs[0] && strcmp(nobs, n) ?
           " (observed " : "", nobs[0] && strcmp(nobs, n) ? nobs : "",
           nobs[0] && strcmp(nobs, n) ? ")" : "", nin[0] ? nin : "-", nout[0] ? nout : "-");
    }
    if ((x = take(m, "n_params", c, sizeof c)))
        kv("parameters", "%s", x);
    show_blocks(m);
    const char *st = take(m, "stepper", c, sizeof c), *dt = take(m, "dt", d, sizeof d);
    if (st)
        kv("stepper", "%s%s%s", st, dt ? ", dt = " : "", dt ? dt : "");
    rest(m, "");
    json_object_del(s, "model");
}

static void show_losses(json_t *s, json_t *train)
{
    double a, b;
    char buf[64];
    int any = json_is_object(train) && (json_object_get(train, "eval_loss_initial") ||
                                         json_object_get(train, "eval_loss_final") ||
                                         json_object_get(train, "train_loss_final"));
    any |= json_object_get(s, "readout_mse") || json_object_get(s, "state_rms");
    if (!any)
        return;
    section("losses");
    int has_a = json_is_object(train) && take_number(train, "eval_loss_initial", &a);
    int has_b = json_is_object(train) && take_number(train, "eval_loss_final", &b);
    if (has_a && has_b)
        kv("eval loss", "%.4g → %.4g  (initial → final)", a, b);
    else if (has_a || has_b)
        kv(has_a ? "eval loss initial" : "eval loss final", "%.4g", has_a ? a : b);
    if (json_is_object(train) && take_number(train, "train_loss_final", &a))
        kv("train loss", "%.4g  (last minibatch)", a);
    if (take(s, "readout_mse", buf, sizeof buf))
        kv("readout MSE", "%s  (final simulation, masked)", buf);
    if (take(s, "state_rms", buf, sizeof buf))
        kv("state RMS", "%s", buf);
}

static void show_convergence(json_t *train)
{
    if (!json_is_object(train))
        return;
    section("convergence");
    char a[64], b[64];
    if (take(train, "iterations", a, sizeof a))
        kv("iterations", "%s", a);
    json_t *at = json_object_get(train, "converged_at");
    double thr_v = 0;
    json_t *thr_j = json_object_get(train, "loss_threshold");
    if (json_is_number(thr_j))
        thr_v = json_number_value(thr_j);
    const char *thr = take(train, "loss_threshold", b, sizeof b);
    if (at && json_is_null(at) && thr_v <= 0) {
        kv("converged", "not tested (no train.loss_threshold set)");
        json_object_del(train, "converged_at");
    } else if (at) {
        if (json_is_null(at))
            kv("converged", "no%s%s%s", thr ? " (eval loss never below " : "", thr ? thr : "",
               thr ? ")" : "");
        else
            kv("converged", "at iteration %lld%s%s%s", (long long)json_integer_value(at),
               thr ? " (eval loss below " : "", thr ? thr : "", thr ? ")" : "");
        json_object_del(train, "converged_at");
    } else if (thr) {
        kv("loss threshold", "%s", thr);
    }
    rest(train, "train");
}

/* An array of objects (one per snapshot) as a table: a column per key, in
 * the order keys first appear. */
static void show_table(const json_t *arr)
{
    const char *cols[64];
    size_t nc = 0, nr = json_array_size(arr);
    for (size_t r = 0; r < nr; r++) {
        const char *k;
        json_t *v;
        json_object_foreach(json_array_get(arr, r), k, v) {
            size_t c = 0;
            while (c < nc && strcmp(cols[c], k))
                c++;
            if (c == nc && nc < 64)
                cols[nc++] = k;
        }
    }
    size_t w[64];
    char cell[256];
    for (size_t c = 0; c < nc; c++) {
        w[c] = strlen(cols[c]);
        for (size_t r = 0; r < nr; r++) {
            json_t *v = json_object_get(json_array_get(arr, r), cols[c]);
            fmt_value(v ? v : json_null(), cell, sizeof cell);
            if (strlen(cell) > w[c])
                w[c] = strlen(cell);
        }
    }
    printf(" ");
    for (size_t c = 0; c < nc; c++)
        printf(" %*s", (int)w[c] + (c ? 1 : 0), cols[c]);
    printf("\n");
    for (size_t r = 0; r < nr; r++) {
        printf(" ");
        for (size_t c = 0; c < nc; c++) {
            json_t *v = json_object_get(json_array_get(arr, r), cols[c]);
            fmt_value(v ? v : json_null(), cell, sizeof cell);
            printf(" %*s", (int)w[c] + (c ? 1 : 0), cell);
        }
        printf("\n");
    }
}

static int is_table(const json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return 0;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_object(json_array_get(v, i)))
            return 0;
    return 1;
}

static void show_analysis(json_t *s)
{
    json_t *a = json_object_get(s, "analysis");
    if (!is_table(a))
        return;
    section("analysis (per snapshot)");
    show_table(a);
    json_object_del(s, "analysis");
}

/* Wall times: a "timings" object of seconds, and the thread count. */
static void show_timings(json_t *s)
{
    json_t *t = json_object_get(s, "timings");
    json_t *threads = json_object_get(s, "threads");
    if (!json_is_object(t) && !threads)
        return;
    section("timings");
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v) {
        char val[128];
        if (json_is_number(v))
            kv(k, "%.3g s", json_number_value(v));
        else
            fmt_value(v, val, sizeof val), kv(k, "%s", val);
    }
    char buf[64];
    if (take(s, "threads", buf, sizeof buf))
        kv("threads", "%s", buf);
    json_object_del(s, "timings");
}

/* Top-level keys no section used: scalars together, objects and tables
 * each under their own name. */
static void show_rest(json_t *s)
{
    json_t *scalars = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) {
        if (is_table(v)) {
            section(k);
            show_table(v);
        } else if (json_is_object(v) && json_object_size(v)) {
            section(k);
            rest(v, "");
        } else {
            json_object_set(scalars, k, v);
        }
    }
    if (json_object_size(scalars)) {
        section("other");
        rest(scalars, "");
    }
    json_decref(scalars);
}

static int show_summary(const char *path, const char *where)
{
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    if (!s) {
        fprintf(stderr, "kpf show: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return KPF_EXIT_FAIL;
    }
    if (!json_is_object(s)) {
        fprintf(stderr, "kpf show: %s: not a JSON object\n", path);
        json_decref(s);
        return KPF_EXIT_FAIL;
    }
    json_t *train = json_incref(json_object_get(s, "train"));
    json_object_del(s, "train");
    show_run(s, where);
    show_model(s);
    show_losses(s, train);
    show_convergence(train);
    show_analysis(s);
    show_timings(s);
    show_rest(s);
    json_decref(train);
    json_decref(s);
    return KPF_EXIT_OK;
}

/* ---- sweep.csv ------------------------------------------------------------------ */

typedef struct csv {
    size_t rows, cols;
    char **cell; /* rows × cols, row 0 the header; missing cells are "" */
    char *text;
} csv;

static void csv_free(csv *t)
{
    free(t->cell);
    free(t->text);
}

/* Split the file into lines and fields in place (kpf writes no quoting). */
static int csv_read(const char *path, csv *t)
{
    memset(t, 0, sizeof *t);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    size_t len = 0;
    t->text = NULL;
    FILE *mem = open_memstream(&t->text, &len);
    char chunk[4096];
    size_t got;
    while (mem && (got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        fwrite(chunk, 1, got, mem);
    fclose(fp);
    if (!mem || fclose(mem) != 0)
        return -1;
    size_t lines = 0, fields = 1;
    for (char *p = t->text; *p; p++)
        lines += *p == '\n';
    for (char *p = t->text; *p && *p != '\n'; p++)
        fields += *p == ',';
    t->cols = fields;
    t->cell = calloc((lines + 1) * fields, sizeof *t->cell);
    if (!t->cell)
        return -1;
    for (char *line = t->text; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        size_t c = 0;
        for (char *f = line; f && c < t->cols; c++) {
            char *comma = strchr(f, ',');
            if (comma)
                *comma = '\0';
            t->cell[t->rows * t->cols + c] = f;
            f = comma ? comma + 1 : NULL;
        }
        for (; c < t->cols; c++)
            t->cell[t->rows * t->cols + c] = "";
        if (line[0])
            t->rows++;
        line = end ? end + 1 : line + strlen(line);
    }
    return 0;
}

/* A numeric cell reformatted to 4 significant digits; others as they are. */
static const char *csv_cell(const char *s, char *buf, size_t size, int *numeric)
{
    char *end;
    double v = strtod(s, &end);
    *numeric = s[0] && !*end;
    if (!*numeric)
        return s;
    if (isnan(v))
        return "-";
    fmt_number(v, buf, size);
    return buf;
}

/* The "# error:" line a failed point left in its scalars.txt. */
static void point_error(const char *dir, const char *point, char *buf, size_t size)
{
    char path[4200], line[1024];
    snprintf(path, sizeof path, "%s/point_%04ld/scalars.txt", dir, strtol(point, NULL, 10));
    buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    while (fp && fgets(line, sizeof line, fp))
        if (!strncmp(line, "# error: ", 9)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(buf, size, "%s", line + 9);
        }
    if (fp)
        fclose(fp);
}

/* Cell (r, c) as shown: results (after the status column) to 4 significant
 * digits, the point's own values (sweep keys, seed) verbatim. */
static const char *cell_text(const csv *t, size_t r, size_t c, size_t status, char *buf,
                             size_t size, int *num)
{
    const char *raw = t->cell[r * t->cols + c];
    const char *s = csv_cell(raw, buf, size, num);
    return c > status || status >= t->cols ? s : raw;
}

/* Column widths, alignment (numbers right) and whether a column holds any
 * value at all (a scalar no point produced is all "-"). */
static void csv_layout(const csv *t, size_t status, size_t *w, int *right, int *empty)
{
    char buf[64];
    for (size_t c = 0; c < t->cols; c++) {
        w[c] = strlen(t->cell[c]);
        right[c] = 1;
        empty[c] = t->rows > 1;
        for (size_t r = 1; r < t->rows; r++) {
            int num;
            const char *s = cell_text(t, r, c, status, buf, sizeof buf, &num);
            right[c] &= num;
            empty[c] &= !strcmp(s, "-") || !s[0];
            w[c] = strlen(s) > w[c] ? strlen(s) : w[c];
        }
    }
}

static void csv_print(const csv *t, size_t status, const size_t *w, const int *right,
                      const int *empty)
{
    char buf[64];
    for (size_t r = 0; r < t->rows; r++) {
        int bad = r && status < t->cols && strcmp(t->cell[r * t->cols + status], "ok");
        printf("%s", bad ? "! " : "  ");
        for (size_t c = 0, first = 1; c < t->cols; c++) {
            if (empty[c])
                continue;
            int num;
            const char *s = r ? cell_text(t, r, c, status, buf, sizeof buf, &num) : t->cell[c];
            printf(right[c] ? "%s%*s" : "%s%-*s", first ? "" : "  ", (int)w[c], s);
            first = 0;
        }
        printf("\n");
    }
}

/* The failed points with the reason each left in its folder. */
static size_t csv_failures(const csv *t, size_t status, const char *dir)
{
    size_t failed = 0;
    for (size_t r = 1; r < t->rows && status < t->cols; r++) {
        const char *st = t->cell[r * t->cols + status];
        if (!strcmp(st, "ok"))
            continue;
        if (!failed++)
            printf("\nfailed points:\n");
        char why[1024] = "";
        if (dir)
            point_error(dir, t->cell[r * t->cols], why, sizeof why);
        printf("  point %s: %s%s%s\n", t->cell[r * t->cols], st, why[0] ? ": " : "", why);
    }
    return failed;
}

static int show_sweep(const char *path, const char *dir)
{
    csv t;
    if (csv_read(path, &t) != 0 || t.rows == 0) {
        fprintf(stderr, "kpf show: cannot read %s%s\n", path, t.rows ? "" : " (empty?)");
        csv_free(&t);
        return KPF_EXIT_FAIL;
    }
    size_t status = t.cols, *w = calloc(t.cols, sizeof *w), n_empty = 0;
    int *right = calloc(t.cols, sizeof *right), *empty = calloc(t.cols, sizeof *empty);
    for (size_t c = 0; c < t.cols; c++)
        if (!strcmp(t.cell[c], "status"))
            status = c;
    csv_layout(&t, status, w, right, empty);
    printf("sweep %s  (%zu points)\n\n", dir ? dir : path, t.rows - 1);
    csv_print(&t, status, w, right, empty);
    size_t failed = csv_failures(&t, status, dir);
    printf("\n%zu points, %zu failed%s\n", t.rows - 1, failed, failed ? " (marked !)" : "");
    for (size_t c = 0; c < t.cols; c++)
        if (empty[c])
            printf(n_empty++ ? ", %s" : "no point has a value for: %s", t.cell[c]);
    if (n_empty)
        printf("\n");
    free(w);
    free(right);
    free(empty);
    csv_free(&t);
    return KPF_EXIT_OK;
}

/* ---- the command -------------------------------------------------------------------- */

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void show_usage(FILE *fp)
{
    fputs("usage: kpf show RUN_DIR | SWEEP_DIR | summary.json | sweep.csv\n"
          "  prints a run's summary.json as sections (run, model, losses, convergence,\n"
          "  analysis per snapshot, timings, anything else), or a sweep's sweep.csv as an\n"
          "  aligned table with failed points marked '!' and their errors listed\n",
          fp);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int kpf_cmd_show(int argc, char **argv)
{
    const char *target = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            show_usage(stdout);
            return KPF_EXIT_OK;
        }
        if (argv[i][0] == '-' || target) {
            fprintf(stderr, "kpf show: %s '%s' (see kpf show --help)\n",
                    argv[i][0] == '-' ? "unknown option" : "one folder at a time, not also",
                    argv[i]);
            return KPF_EXIT_USAGE;
        }
        target = argv[i];
    }
    if (!target) {
        show_usage(stderr);
        return KPF_EXIT_USAGE;
    }
    struct stat st;
    if (stat(target, &st) != 0) {
        fprintf(stderr, "kpf show: %s: %s\n", target, strerror(errno));
        return KPF_EXIT_FAIL;
    }
    if (is_file(target))
        return ends_with(target, ".csv") ? show_sweep(target, NULL)
                                         : show_summary(target, target);
    char summary[4200], sweep[4200];
    snprintf(summary, sizeof summary, "%s/summary.json", target);
    snprintf(sweep, sizeof sweep, "%s/sweep.csv", target);
    int has_summary = is_file(summary), has_sweep = is_file(sweep);
    if (!has_summary && !has_sweep) {
        fprintf(stderr, "kpf show: %s holds neither summary.json nor sweep.csv (not a kpf "
                        "run folder, or its run has not finished)\n",
                target);
        return KPF_EXIT_FAIL;
    }
    int rc = has_summary ? show_summary(summary, target) : KPF_EXIT_OK;
    if (has_sweep) {
        if (has_summary)
            printf("\n");
        int rs = show_sweep(sweep, target);
        rc = rc ? rc : rs;
    }
    return rc;
}
