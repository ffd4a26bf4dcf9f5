/* Running a sweep: validate every point, then run each in its own child
 * process (a crash or failure is recorded, the sweep goes on), collect
 * sweep.csv and the optional plot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "kpf/experiment.h"
#include "kpf/plot.h"
#include "kpf/sweep.h"

#define MAX_SCALARS 32

/* The config of point i: the file, the command-line overrides, the point. */
static int point_config(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                        kpf_config **cfg, kpf_error *err)
{
    int rc = kpf_config_load_file(a->config, cfg, err);
    for (int k = 0; !rc && k < a->n_sets; k++)
        rc = kpf_config_set(*cfg, a->sets[k], err);
    if (!rc)
        rc = kpf_sweep_apply(sw, i, *cfg, err);
    return rc;
}

static int validate_point(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                          kpf_registry *reg, kpf_error *err)
{
    kpf_config *cfg = NULL;
    kpf_experiment *ex = NULL;
    int rc = point_config(a, sw, i, &cfg, err);
    if (!rc && (rc = kpf_experiment_load(cfg, reg, &ex, err)))
        kpf_sweep_blame(sw, i, err);
    kpf_experiment_free(ex);
    kpf_config_free(cfg);
    return rc;
}

/* In the child: run point i into dir/point_NNNN and write its scalars. */
static int run_point(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                     kpf_registry *reg, const char *pdir)
{
    kpf_config *cfg = NULL;
    kpf_experiment *ex = NULL;
    kpf_error err;
    kpf_error_clear(&err);
    int rc = point_config(a, sw, i, &cfg, &err);
    if (!rc && mkdir(pdir, 0777) && errno != EEXIST)
        rc = kpf_error_set(&err, KPF_EIO, "%s: cannot create folder", pdir);
    if (!rc) rc = kpf_experiment_load(cfg, reg, &ex, &err);
    if (!rc) rc = kpf_experiment_run(ex, pdir, 0, &err);
    char path[4400];
    snprintf(path, sizeof path, "%s/scalars.txt", pdir);
    FILE *fp = fopen(path, "w");
    if (fp) {
        const char *names[MAX_SCALARS];
        double v[MAX_SCALARS];
        size_t n = rc ? 0 : kpf_experiment_scalars(ex, names, v, MAX_SCALARS);
        for (size_t k = 0; k < n && k < MAX_SCALARS; k++)
            fprintf(fp, "%s %.17g\n", names[k], v[k]);
        if (rc)
            fprintf(fp, "# error: %s\n", err.msg);
        fclose(fp);
    }
    if (rc)
        fprintf(stderr, "kpf: sweep point %zu: %s\n", i, err.msg);
    kpf_experiment_free(ex);
    kpf_config_free(cfg);
    return rc ? KPF_EXIT_FAIL : KPF_EXIT_OK;
}

/* One child per point: isolation against crashes, and points stay
 * independent processes as a cluster scheduler would run them. */
static int spawn_point(const kpf_cli_sweep_args *a, const kpf_sweep *sw, size_t i,
                       kpf_registry *reg, const char *pdir, char *status, size_t size)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(status, size, "fork failed");
        return -1;
    }
    if (pid == 0)
        _exit(run_point(a, sw, i, reg, pdir));
    int st;
    if (waitpid(pid, &st, 0) < 0)
        snprintf(status, size, "lost");
    else if (WIFEXITED(st))
        snprintf(status, size, WEXITSTATUS(st) ? "failed" : "ok");
    else
        snprintf(status, size, "killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 0;
}

/* Read back a point's scalars (name value lines). */
static size_t read_scalars(const char *pdir, char names[][48], double *v)
{
    char path[4400], line[256];
    snprintf(path, sizeof path, "%s/scalars.txt", pdir);
    FILE *fp = fopen(path, "r");
    size_t n = 0;
    while (fp && n < MAX_SCALARS && fgets(line, sizeof line, fp))
        if (line[0] != '#' && sscanf(line, "%47s %lf", names[n], &v[n]) == 2)
            n++;
    if (fp)
        fclose(fp);
    return n;
}

typedef struct table {
    FILE *fp;
    char names[MAX_SCALARS][48];
    size_t n_names;
    double *px, *py; /* plot columns, one per point */
    size_t n_plot;
} table;

static void table_row(table *t, const kpf_sweep *sw, size_t i, const char *status,
                      const char *pdir)
{
    size_t idx[64], rep;
    uint64_t seed;
    kpf_sweep_point(sw, i, idx, &rep, &seed);
    char names[MAX_SCALARS][48];
    double v[MAX_SCALARS];
    size_t n = read_scalars(pdir, names, v);
    if (!t->n_names && n) { /* the first successful point fixes the columns */
        memcpy(t->names, names, sizeof names);
        t->n_names = n;
    }
    fprintf(t->fp, "%zu,%zu,%llu", i, rep, (unsigned long long)seed);
    for (size_t k = 0; k < sw->n_keys; k++)
        fprintf(t->fp, ",%s", sw->keys[k].values[idx[k]]);
    fprintf(t->fp, ",%s", status);
    double y = NAN;
    for (size_t c = 0; c < t->n_names; c++) {
        double val = NAN;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(names[k], t->names[c]))
                val = v[k];
        fprintf(t->fp, ",%.10g", val);
        if (sw->plot_y && !strcmp(t->names[c], sw->plot_y))
            y = val;
    }
    fprintf(t->fp, "\n");
    for (size_t k = 0; sw->plot_x && k < sw->n_keys; k++)
        if (!strcmp(sw->keys[k].path, sw->plot_x) && isfinite(y)) {
            t->px[t->n_plot] = strtod(sw->keys[k].values[idx[k]], NULL);
            t->py[t->n_plot++] = y;
        }
}

static void plot_sweep(const kpf_sweep *sw, table *t, const char *dir)
{
    if (!sw->plot_x || !t->n_plot)
        return;
    char stem[4300], title[256];
    snprintf(stem, sizeof stem, "%s/sweep_%s_vs_%s", dir, sw->plot_y, sw->plot_x);
    snprintf(title, sizeof title, "%s against %s (%zu runs)", sw->plot_y, sw->plot_x, t->n_plot);
    kpf_error err;
    kpf_error_clear(&err);
    if (kpf_plot_scatter_mean(stem, title, sw->plot_x, sw->plot_y, t->n_plot, t->px, t->py, 0,
                              &err))
        fprintf(stderr, "kpf: %s\n", err.msg);
}

static void write_header(table *t, const kpf_sweep *sw)
{
    fprintf(t->fp, "point,repeat,seed");
    for (size_t k = 0; k < sw->n_keys; k++)
        fprintf(t->fp, ",%s", sw->keys[k].path);
    fprintf(t->fp, ",status");
}

/* sweep.csv: the header (the point's columns, then the scalars' names the
 * first successful point fixed) and the buffered rows.  Created exclusively. */
static int write_csv(const char *path, const table *t, const kpf_sweep *sw, const char *rows)
{
    FILE *csv = fopen(path, "wx");
    if (!csv) {
        fprintf(stderr, "kpf: %s: cannot create (it may already exist)\n", path);
        return -1;
    }
    table h = *t;
    h.fp = csv;
    write_header(&h, sw);
    for (size_t c = 0; c < t->n_names; c++)
        fprintf(csv, ",%s", t->names[c]);
    fprintf(csv, "\n%s", rows ? rows : "");
    if (fclose(csv)) {
        fprintf(stderr, "kpf: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

int kpf_cli_sweep(const kpf_cli_sweep_args *a, const kpf_sweep *sw, kpf_registry *reg,
                  const char *dir)
{
    int rc = KPF_EXIT_FAIL;
    size_t failed = 0;
    table t = {0};
    char path[4400];
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    /* Rows are buffered in memory until the columns are known. */
    char *rows = NULL;
    size_t rows_len = 0;
    t.fp = open_memstream(&rows, &rows_len);
    t.px = calloc(sw->n_points + 1, sizeof(double));
    t.py = calloc(sw->n_points + 1, sizeof(double));
    if (!t.fp || !t.px || !t.py) {
        fprintf(stderr, "kpf: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < sw->n_points; i++) {
        char pdir[4300], status[64];
        snprintf(pdir, sizeof pdir, "%s/point_%04zu", dir, i);
        spawn_point(a, sw, i, reg, pdir, status, sizeof status);
        failed += strcmp(status, "ok") != 0;
        char label[96];
        snprintf(label, sizeof label, "%zu: %s", i, status);
        kpf_progress_send(a->progress, (kpf_progress_event){.kind = KPF_PROGRESS_POINT,
                                                            .name = label, .iteration = i + 1,
                                                            .total = sw->n_points,
                                                            .failed = failed});
        table_row(&t, sw, i, status, pdir);
    }
    int csv_ok = fclose(t.fp) == 0; /* rows now holds the whole table */
    t.fp = NULL;
    if (!csv_ok)
        fprintf(stderr, "kpf: out of memory\n");
    else
        csv_ok = write_csv(path, &t, sw, rows) == 0;
    plot_sweep(sw, &t, dir);
    if (csv_ok)
        printf("%s\n", path);
    if (!a->progress || failed)
        fprintf(stderr, "kpf: sweep done: %zu points, %zu failed\n", sw->n_points, failed);
    rc = csv_ok && !failed ? KPF_EXIT_OK : KPF_EXIT_FAIL;
done: /* the one exit: whatever was allocated is released here */
    if (t.fp)
        fclose(t.fp);
    free(rows);
    free(t.px);
    free(t.py);
    return rc;
}

int kpf_cli_sweep_validate(const kpf_cli_sweep_args *a, const kpf_sweep *sw,
                           kpf_registry *reg, kpf_error *err)
{
    for (size_t i = 0; i < sw->n_points; i++) {
        int rc = validate_point(a, sw, i, reg, err);
        if (rc)
            return rc;
    }
    return KPF_OK;
}
