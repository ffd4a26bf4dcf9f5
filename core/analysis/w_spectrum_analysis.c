/* The `w_spectrum` analysis: the eigenvalues of a square recurrent block W
 * at every snapshot (Schuessler et al., Fig. S2 and S4; kpf/weight_spectrum.h):
 * the spectral radius, the outliers beyond the first snapshot's radius r₀
 * (by more than `margin`·r₀), and the `top` largest real parts.
 *
 * YAML: w_spectrum: {block: W, margin: 0.05, top: 5}.  Per snapshot, under
 * /snapshots/<i>/w_spectrum/: eigenvalues_re, eigenvalues_im (descending
 * |λ|), spectral_radius, initial_radius, outliers, top_real; scalars
 * w_spectral_radius, w_outliers, w_top_real.  Figure w_spectrum.png: the
 * eigenvalues at the first and last snapshot with the circle of radius r₀,
 * and the top real parts over iterations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtin_analyses.h"
#include "kpf/delta_w.h"
#include "kpf/plot.h"
#include "kpf/weight_spectrum.h"

typedef struct wspec {
    const char *block;
    size_t n, top, cap, taken;
    double margin, r0;     /* r0: NaN until the run's first snapshot */
    double *W, *re, *im, *sorted;
    double *first_re, *first_im; /* eigenvalues at the first snapshot (figure) */
    size_t *iteration;
    double *top_real;      /* cap × top */
    double last[3];        /* radius, outliers, top real part */
} wspec;

static const char *const names[3] = {"w_spectral_radius", "w_outliers", "w_top_real"};

static void destroy(void *self)
{
    wspec *w = self;
    if (!w)
        return;
    free(w->W);
    free(w->re);
    free(w->im);
    free(w->sorted);
    free(w->first_re);
    free(w->first_im);
    free(w->iteration);
    free(w->top_real);
    free(w);
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    if (node && kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {block: W, margin: 0.05, top: 5}");
    const char *block = NULL;
    double margin = 0;
    size_t top = 0, n = setup->model->n;
    int rc = kpf_cfg_string(node, "block", 0, "W", &block, err);
    if (!rc) rc = kpf_cfg_double(node, "margin", 0, 0.05, 0.0, 100.0, &margin, err);
    if (!rc) rc = kpf_cfg_size(node, "top", 0, 5, 1, 100000, &top, err);
    const kpf_node *at = kpf_node_get(node, "block") ? kpf_node_get(node, "block") : node;
    if (!rc) rc = kpf_analysis_square_block(setup->model, at, block, "the spectrum of W", err);
    if (rc)
        return rc;
    wspec *w = calloc(1, sizeof *w);
    if (!w)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *w = (wspec){.block = block, .n = n, .top = top < n ? top : n, .margin = margin,
                 .r0 = NAN, .cap = setup->max_snapshots ? setup->max_snapshots : 1,
                 .last = {NAN, NAN, NAN}};
    w->W = malloc(n * n * sizeof(double));
    w->re = malloc(n * sizeof(double));
    w->im = malloc(n * sizeof(double));
    w->sorted = malloc(n * sizeof(double));
    w->first_re = malloc(n * sizeof(double));
    w->first_im = malloc(n * sizeof(double));
    w->iteration = calloc(w->cap, sizeof(size_t));
    w->top_real = malloc(w->cap * w->top * sizeof(double));
    if (!w->W || !w->re || !w->im || !w->sorted || !w->first_re || !w->first_im ||
        !w->iteration || !w->top_real) {
        destroy(w);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the w_spectrum analysis");
    }
    *self = w;
    return KPF_OK;
}

static int desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static int write(const kpf_snapshot *s, const char *name, const double *v, size_t n,
                 kpf_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "w_spectrum/%s", name);
    return kpf_snapshot_write(s, path, v, n, err);
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    wspec *w = self;
    const size_t n = w->n;
    if (w->taken == w->cap)
        return kpf_error_set(err, KPF_EINVAL, "more snapshots than the schedule's %zu", w->cap);
    int rc = kpf_weight_snapshot(s->model, NULL, w->block, w->W, err);
    if (!rc) rc = kpf_weight_eigenvalues(n, w->W, w->re, w->im, err);
    if (rc)
        return rc;
    if (s->index == 0 && !s->resumed) {
        w->r0 = hypot(w->re[0], w->im[0]);
        for (size_t i = 0; i < n; i++)
            w->first_re[i] = w->re[i], w->first_im[i] = w->im[i];
    }
    for (size_t i = 0; i < n; i++)
        w->sorted[i] = w->re[i];
    qsort(w->sorted, n, sizeof(double), desc);
    double *top = w->top_real + w->taken * w->top;
    for (size_t i = 0; i < w->top; i++)
        top[i] = w->sorted[i];
    w->iteration[w->taken++] = s->iteration;
    w->last[0] = hypot(w->re[0], w->im[0]);
    w->last[1] = isnan(w->r0) ? NAN : (double)kpf_weight_outliers(n, w->re, w->im, w->r0,
                                                                  w->margin);
    w->last[2] = top[0];
    rc = write(s, "eigenvalues_re", w->re, n, err);
    if (!rc) rc = write(s, "eigenvalues_im", w->im, n, err);
    if (!rc) rc = write(s, "spectral_radius", &w->last[0], 1, err);
    if (!rc) rc = write(s, "initial_radius", &w->r0, 1, err);
    if (!rc) rc = write(s, "outliers", &w->last[1], 1, err);
    if (!rc) rc = write(s, "top_real", top, w->top, err);
    for (int i = 0; !rc && i < 3; i++)
        rc = kpf_snapshot_scalar(s, names[i], w->last[i], err);
    return rc;
}

static size_t scalars(const void *self, const char **nm, double *v, size_t cap)
{
    const wspec *w = self;
    for (size_t i = 0; i < 3 && i < cap; i++) {
        nm[i] = names[i];
        v[i] = w->last[i];
    }
    return 3;
}

static int plot(const void *self, const kpf_analysis_plot *p, kpf_error *err)
{
    const wspec *w = self;
    if (!w->taken || isnan(w->r0))
        return KPF_OK;
    FILE *fp = kpf_plot_open(p->dir, "w_spectrum.dat", err);
    if (!fp)
        return KPF_EIO;
    for (size_t i = 0; i < w->n; i++) /* index 0: first snapshot, 1: last */
        fprintf(fp, "%.10g %.10g\n", w->first_re[i], w->first_im[i]);
    fputs("\n\n", fp);
    for (size_t i = 0; i < w->n; i++)
        fprintf(fp, "%.10g %.10g\n", w->re[i], w->im[i]);
    fputs("\n\n", fp);
    for (size_t k = 0; k < w->taken; k++) { /* index 2: top real parts */
        fprintf(fp, "%zu", w->iteration[k]);
        for (size_t i = 0; i < w->top; i++)
            fprintf(fp, " %.10g", w->top_real[k * w->top + i]);
        fputc('\n', fp);
    }
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/w_spectrum.dat: write failed", p->dir);
    return kpf_plot_script(
        p->dir, "w_spectrum", "1300,600", err,
        "set multiplot layout 1,2\nset grid\n"
        "set title 'eigenvalues of %s (circle: initial radius %.3g; %.0f outliers)'\n"
        "set size ratio -1\nset xlabel 'Re'\nset ylabel 'Im'\nset parametric\nset trange [0:2*pi]\n"
        "plot %.10g*cos(t), %.10g*sin(t) lc rgb '#999999' dt 2 title 'r0', "
        "'w_spectrum.dat' index 0 using 1:2 with points pt 6 lc rgb '#2166ac' title 'first "
        "snapshot (iter %zu)', '' index 1 using 1:2 with points pt 7 ps 0.8 lc rgb '#b2182b' "
        "title 'last snapshot (iter %zu)'\n"
        "unset parametric\nset size noratio\nset xlabel 'iteration'\nset ylabel 'Re lambda'\n"
        "set title 'largest real parts of the eigenvalues of %s (Fig. S4)'\n"
        "plot for [i=2:%zu] 'w_spectrum.dat' index 2 using 1:i with linespoints title "
        "sprintf('%%d', i-1)\nunset multiplot\n",
        w->block, w->r0, w->last[1], w->r0, w->r0, w->iteration[0],
        w->iteration[w->taken - 1], w->block, w->top + 1);
}

const kpf_analysis_desc kpf_analysis_w_spectrum = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "w_spectrum",
    .summary = "eigenvalues of W at every snapshot, outliers beyond the initial radius",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
    .plot = plot,
};
