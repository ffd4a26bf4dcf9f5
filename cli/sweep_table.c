/* sweep.csv and the sweep's plot, merged from the point folders: the same
 * table whether the points ran in one process, on MPI ranks, or in slices
 * of a job array (kpf sweep-collect).  Columns: point, repeat, seed, the
 * swept keys, status, then the scalars the first successful point wrote. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/plot.h"
#include "sweep_internal.h"

#define MAX_SCALARS 32

typedef struct scalars {
    char names[MAX_SCALARS][48];
    double v[MAX_SCALARS];
    size_t n;
} scalars;

/* Read back a point's scalars (name value lines). */
static void read_scalars(const char *pdir, scalars *s)
{
    char path[4400], line[256];
    snprintf(path, sizeof path, "%s/scalars.txt", pdir);
    FILE *fp = fopen(path, "r");
    s->n = 0;
    while (fp && s->n < MAX_SCALARS && fgets(line, sizeof line, fp))
        if (line[0] != '#' && sscanf(line, "%47s %lf", s->names[s->n], &s->v[s->n]) == 2)
            s->n++;
    if (fp)
        fclose(fp);
}

static double lookup(const scalars *s, const char *name)
{
    for (size_t k = 0; k < s->n; k++)
        if (!strcmp(s->names[k], name))
            return s->v[k];
    return NAN;
}

/* The outcome of point i ("missing" when it has none) and its scalars. */
static void point(const char *dir, size_t i, char *status, size_t size, scalars *s)
{
    char pdir[4300];
    kpf_cli_point_dir(dir, i, pdir, sizeof pdir);
    if (!kpf_cli_point_outcome(pdir, status, size))
        snprintf(status, size, "missing");
    read_scalars(pdir, s);
}

/* The columns: the scalars of the first successful point. */
static void columns(const kpf_sweep *sw, const char *dir, scalars *cols)
{
    cols->n = 0;
    for (size_t i = 0; i < sw->n_points; i++) {
        char status[64];
        point(dir, i, status, sizeof status, cols);
        if (!strcmp(status, "ok") && cols->n)
            return;
    }
    cols->n = 0;
}

static void header(FILE *fp, const kpf_sweep *sw, const scalars *cols)
{
    fprintf(fp, "point,repeat,seed");
    for (size_t k = 0; k < sw->n_keys; k++)
        fprintf(fp, ",%s", sw->keys[k].path);
    fprintf(fp, ",status");
    for (size_t c = 0; c < cols->n; c++)
        fprintf(fp, ",%s", cols->names[c]);
    fprintf(fp, "\n");
}

typedef struct plot_cols {
    double *x, *y;
    size_t n;
    size_t no_value; /* runs whose y is NaN (never converged …): not drawn */
} plot_cols;

static void row(FILE *fp, const kpf_sweep *sw, size_t i, const char *status, const scalars *s,
                const scalars *cols, plot_cols *pc)
{
    size_t idx[KPF_SWEEP_MAX_KEYS], rep;
    uint64_t seed;
    kpf_sweep_point(sw, i, idx, &rep, &seed);
    fprintf(fp, "%zu,%zu,%llu", i, rep, (unsigned long long)seed);
    for (size_t k = 0; k < sw->n_keys; k++)
        fprintf(fp, ",%s", sw->keys[k].values[idx[k]]);
    fprintf(fp, ",%s", status);
    for (size_t c = 0; c < cols->n; c++)
        fprintf(fp, ",%.10g", lookup(s, cols->names[c]));
    fprintf(fp, "\n");
    double y = sw->plot_y ? lookup(s, sw->plot_y) : NAN;
    for (size_t k = 0; sw->plot_x && k < sw->n_keys; k++) {
        if (strcmp(sw->keys[k].path, sw->plot_x))
            continue;
        if (!isfinite(y)) {
            pc->no_value++;
            continue;
        }
        pc->x[pc->n] = strtod(sw->keys[k].values[idx[k]], NULL);
        pc->y[pc->n++] = y;
    }
}

static void plot(const kpf_sweep *sw, const plot_cols *pc, const char *dir)
{
    if (!sw->plot_x || !pc->n)
        return;
    char stem[4300], title[256], old[4400];
    snprintf(stem, sizeof stem, "%s/sweep_%s_vs_%s", dir, sw->plot_y, sw->plot_x);
    /* the table is redrawn whole (a resumed sweep, sweep-collect again):
     * the plot's files are created exclusively, so the last drawing goes */
    static const char *const src[] = {"dat", "gp", "log"};
    for (size_t k = 0; k < 3; k++) {
        snprintf(old, sizeof old, "%s/plot-src/sweep_%s_vs_%s.%s", dir, sw->plot_y, sw->plot_x,
                 src[k]);
        remove(old);
    }
    snprintf(old, sizeof old, "%s.png", stem);
    remove(old);
    /* a run without a value (a sweep of converged_at where some never
     * converged) is said in the title: dropping it silently hides a trend */
    if (pc->no_value)
        snprintf(title, sizeof title, "%s against %s (%zu runs; %zu more without a value)",
                 sw->plot_y, sw->plot_x, pc->n, pc->no_value);
    else
        snprintf(title, sizeof title, "%s against %s (%zu runs)", sw->plot_y, sw->plot_x,
                 pc->n);
    kpf_error err;
    kpf_error_clear(&err);
    if (kpf_plot_scatter_mean(stem, title, sw->plot_x, sw->plot_y, pc->n, pc->x, pc->y, 0, &err))
        fprintf(stderr, "kpf: %s\n", err.msg);
}

static void tally_point(kpf_cli_tally *t, FILE *list, size_t i, const char *status,
                        const char *dir)
{
    if (!strcmp(status, "ok")) {
        t->ok++;
        return;
    }
    int missing = !strcmp(status, "missing");
    t->missing += missing;
    t->failed += !missing;
    if (list)
        fprintf(list, "  point %zu: %s%s%s/point_%04zu\n", i, status, missing ? ", " : " (see ",
                dir, i);
}

int kpf_cli_sweep_table(const kpf_sweep *sw, const char *dir, kpf_cli_tally *tally, FILE *list)
{
    char tmp[4400], path[4400];
    snprintf(tmp, sizeof tmp, "%s/sweep.csv.tmp", dir);
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    *tally = (kpf_cli_tally){0};
    scalars *cols = malloc(sizeof *cols), *s = malloc(sizeof *s);
    plot_cols pc = {calloc(sw->n_points + 1, sizeof(double)),
                    calloc(sw->n_points + 1, sizeof(double)), 0, 0};
    FILE *fp = cols && s && pc.x && pc.y ? fopen(tmp, "w") : NULL;
    int rc = 0;
    if (!fp) {
        fprintf(stderr, "kpf: %s: cannot create\n", tmp);
        rc = -1;
    }
    if (!rc) {
        columns(sw, dir, cols);
        header(fp, sw, cols);
        for (size_t i = 0; i < sw->n_points; i++) {
            char status[64];
            point(dir, i, status, sizeof status, s);
            row(fp, sw, i, status, s, cols, &pc);
            tally_point(tally, list, i, status, dir);
        }
        int bad = ferror(fp);
        if (fclose(fp) || bad || rename(tmp, path)) {
            fprintf(stderr, "kpf: %s: write failed\n", path);
            remove(tmp);
            rc = -1;
        }
    }
    if (!rc)
        plot(sw, &pc, dir);
    free(cols);
    free(s);
    free(pc.x);
    free(pc.y);
    return rc;
}
