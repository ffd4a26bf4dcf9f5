/* Figures of the `interference` analysis (gnuplot, kpf/plot.h):
 *   interference_grid.png     S×S heatmaps, one column per snapshot (at most
 *                             8, evenly spread), one row per matrix: task
 *                             alignment (Fig. 4B), M, the running mean of M
 *                             (the cumulative sum over snapshots / their
 *                             number), Rayleigh alignment; cells labelled with
 *                             their values, axes with the sub-task names
 *   interference_filters.png  the filtered means over iterations, one line
 *                             per filter named with the pairs it selects:
 *                             task alignment (Fig. 4C), cumulative
 *                             interference (Fig. 4D), M itself */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "interference_internal.h"
#include "kpf/interference.h"
#include "kpf/plot.h"

#define GRID_COLS 8

typedef struct grid_row {
    int which;
    const char *label;
    int running_mean; /* divide the cumulative sum by the snapshot count */
    int symmetric;    /* colour range [-1, 1] */
} grid_row;

static size_t pick_columns(size_t n, size_t *col)
{
    size_t c = n < GRID_COLS ? n : GRID_COLS;
    for (size_t i = 0; i < c; i++)
        col[i] = c == 1 ? 0 : (size_t)llround((double)i * (double)(n - 1) / (double)(c - 1));
    return c;
}

static size_t grid_rows(const itf *s, grid_row *r)
{
    size_t n = 0;
    if (s->matched)
        r[n++] = (grid_row){ITF_ALIGN, "task alignment", 0, 1};
    r[n++] = (grid_row){ITF_M, "interference M", 0, 1};
    r[n++] = (grid_row){ITF_CUM, "cumulative M / snapshots", 1, 1};
    if (s->rayleigh)
        r[n++] = (grid_row){ITF_RAYLEIGH, "Rayleigh R(K_ij, a_j)", 0, 0};
    return n;
}

static void tics(const itf *s, char *buf, size_t cap)
{
    size_t len = 0;
    for (size_t g = 0; g < s->S && len < cap; g++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\" %zu", g ? ", " : "",
                                s->names[g], g);
}

static int plot_grid(const itf *s, const char *dir, kpf_error *err)
{
    grid_row rows[4];
    size_t col[GRID_COLS], nr = grid_rows(s, rows), nc = pick_columns(s->n, col), S = s->S;
    FILE *fp = kpf_plot_open(dir, "interference_grid.dat", err);
    if (!fp)
        return KPF_EIO;
    for (size_t r = 0; r < nr; r++)
        for (size_t c = 0; c < nc; c++) {
            const double *X = itf_at(s, rows[r].which, col[c]);
            double scale = rows[r].running_mean ? 1.0 / (double)(col[c] + 1) : 1.0;
            for (size_t i = 0; i < S; i++, fputc('\n', fp))
                for (size_t j = 0; j < S; j++)
                    fprintf(fp, "%s%.6g", j ? " " : "", scale * X[i * S + j]);
            fputs("\n\n", fp);
        }
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/interference_grid.dat: write failed", dir);
    char t[1024], body[65536], size[32];
    tics(s, t, sizeof t);
    size_t len = (size_t)snprintf(
        body, sizeof body,
        "set multiplot layout %zu,%zu title 'multi-task decomposition over training "
        "(columns: iterations)'\n"
        "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\n"
        "unset key\nset size square\nset xtics (%s) font ',8'\nset ytics (%s) font ',8'\n"
        "set xrange [-0.5:%zu.5]\nset yrange [%zu.5:-0.5]\nset tics scale 0\n",
        nr, nc, t, t, S - 1, S - 1);
    for (size_t r = 0; r < nr && len < sizeof body; r++)
        for (size_t c = 0; c < nc && len < sizeof body; c++)
            len += (size_t)snprintf(
                body + len, sizeof body - len,
                "set title '%s, iter %zu' font ',9'\n%s\n%s\n"
                "plot 'interference_grid.dat' index %zu matrix with image, '' index %zu matrix "
                "using 1:2:(sprintf('%%.2f', $3)) with labels font ',7'\n",
                rows[r].label, s->iteration[col[c]],
                rows[r].symmetric ? "set cbrange [-1:1]" : "set autoscale cb",
                c + 1 == nc ? "set colorbox" : "unset colorbox", r * nc + c, r * nc + c);
    if (len >= sizeof body)
        return kpf_error_set(err, KPF_EINVAL, "interference_grid: figure script too long");
    snprintf(size, sizeof size, "%zu,%zu", 230 * nc + 120, 240 * nr + 60);
    return kpf_plot_script(dir, "interference_grid", size, err, "%sunset multiplot\n", body);
}

/* "pro_anti: MP-DP, MA-DA" (each unordered pair once; a diagonal entry as
 * its sub-task alone). */
static void describe(const itf *s, const itf_filter *F, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "%s:", F->name), S = s->S, k = 0;
    for (size_t i = 0; i < S && len < cap; i++)
        for (size_t j = i; j < S && len < cap; j++)
            if (F->F[i * S + j] != 0.0 || F->F[j * S + i] != 0.0) {
                if (k++ == 6) {
                    len += (size_t)snprintf(buf + len, cap - len, " …");
                    return;
                }
                len += (size_t)snprintf(buf + len, cap - len, "%s %s%s%s", k > 1 ? "," : "",
                                        s->names[i], i == j ? "" : "-",
                                        i == j ? "" : s->names[j]);
            }
}

static int plot_filters(const itf *s, const char *dir, kpf_error *err)
{
    static const int panel[3] = {ITF_ALIGN, ITF_CUM, ITF_M};
    static const char *const ptitle[3] = {"task alignment, filtered (Fig. 4C)",
                                          "cumulative interference, filtered (Fig. 4D)",
                                          "interference M, filtered"};
    FILE *fp = kpf_plot_open(dir, "interference_filters.dat", err);
    if (!fp)
        return KPF_EIO;
    fputs("# iteration, then per filter: task_alignment cumulative M\n", fp);
    for (size_t k = 0; k < s->n; k++, fputc('\n', fp)) {
        fprintf(fp, "%zu", s->iteration[k]);
        for (size_t f = 0; f < s->n_filters; f++)
            for (int p = 0; p < 3; p++)
                fprintf(fp, " %.8g", kpf_filter_mean(s->S, s->filters[f].F,
                                                     itf_at(s, panel[p], k)));
    }
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/interference_filters.dat: write failed", dir);
    char body[32768];
    size_t len = (size_t)snprintf(body, sizeof body,
                                  "set multiplot layout 1,%d\nset xlabel 'iteration'\n"
                                  "set key bottom right font ',8'\nset grid\n",
                                  s->matched ? 3 : 2);
    for (int p = s->matched ? 0 : 1; p < 3 && len < sizeof body; p++) {
        len += (size_t)snprintf(body + len, sizeof body - len, "set title '%s'\nplot ",
                                ptitle[p]);
        for (size_t f = 0; f < s->n_filters && len < sizeof body; f++) {
            char d[256];
            describe(s, &s->filters[f], d, sizeof d);
            len += (size_t)snprintf(body + len, sizeof body - len,
                                    "%s'interference_filters.dat' using 1:%zu with linespoints "
                                    "lw 2 title '%s'",
                                    f ? ", " : "", 2 + 3 * f + (size_t)p, d);
        }
        len += (size_t)snprintf(body + len, sizeof body - len, "\n");
    }
    if (len >= sizeof body)
        return kpf_error_set(err, KPF_EINVAL, "interference_filters: figure script too long");
    return kpf_plot_script(dir, "interference_filters", s->matched ? "1500,450" : "1000,450",
                           err, "%sunset multiplot\n", body);
}

int kpf_internal_itf_plot(const itf *s, const char *dir, kpf_error *err)
{
    kpf_error e2;
    int rc = plot_grid(s, dir, err);
    int rc2 = plot_filters(s, dir, rc ? &e2 : err);
    return rc ? rc : rc2;
}
