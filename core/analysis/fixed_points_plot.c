/* fixed_points.png: the analysis trajectories of the last snapshot in the
 * plane of two principal components, with the fixed points overlaid —
 * stable filled, saddles and unstable points open, slow points as crosses —
 * and each unstable direction of a fixed point (the real part of its
 * eigenvector) as a short segment through it.  The components are those of the trajectories
 * (`plot_basis: trajectories`, the default) or of the points found
 * (`plot_basis: points`, for when brief input transients dominate the
 * trajectories' variance and hide the points' arrangement). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>

#include "fixed_points_internal.h"
#include "gsl_quiet.h"
#include "kpf/blas.h"
#include "kpf/plot.h"

/* The mean and the top two principal axes (n each) of the rows of Z. */
static int pca_axes(const double *Z, size_t rows, size_t n, double *mean, double *axes,
                    kpf_error *err)
{
    double *C = calloc(n * n, sizeof(double)), *Zc = malloc(rows * n * sizeof(double));
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_matrix *V = gsl_matrix_alloc(n, n);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(n);
    int rc = C && Zc && ev && V && w ? KPF_OK
                                     : kpf_error_set(err, KPF_ENOMEM, "fixed_points.png: oom");
    for (size_t k = 0; !rc && k < n; k++) {
        mean[k] = 0;
        for (size_t r = 0; r < rows; r++)
            mean[k] += Z[r * n + k] / (double)rows;
    }
    for (size_t i = 0; !rc && i < rows * n; i++)
        Zc[i] = Z[i] - mean[i % n];
    if (!rc) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)rows, 1.0, Zc,
                    (int)n, Zc, (int)n, 0.0, C, (int)n);
        gsl_matrix_view Cv = gsl_matrix_view_array(C, n, n);
        gsl_error_handler_t *quiet = kpf_internal_gsl_quiet();
        int st = gsl_eigen_symmv(&Cv.matrix, ev, V, w);
        if (!st)
            st = gsl_eigen_symmv_sort(ev, V, GSL_EIGEN_SORT_VAL_DESC);
        kpf_internal_gsl_restore(quiet);
        if (st)
            rc = kpf_error_set(err, KPF_ENUMERIC, "fixed_points.png: PCA failed");
        for (size_t c = 0; !rc && c < 2; c++)
            for (size_t k = 0; k < n; k++)
                axes[c * n + k] = c < n ? gsl_matrix_get(V, k, c) : 0.0;
    }
    free(C);
    free(Zc);
    if (ev) gsl_vector_free(ev);
    if (V) gsl_matrix_free(V);
    if (w) gsl_eigen_symmv_free(w);
    return rc;
}

static void project(const double *z, const double *mean, const double *axes, size_t n,
                    double *pc)
{
    for (size_t c = 0; c < 2; c++) {
        pc[c] = 0;
        for (size_t k = 0; k < n; k++)
            pc[c] += (z[k] - mean[k]) * axes[c * n + k];
    }
}

/* Blocks (gnuplot `index`): 0 trajectories, 1 stable, 2 saddle/unstable,
 * 3 slow, 4 unstable directions (x y dx dy).  counts[i]: rows of block i.
 * An empty block holds one row of NaN: gnuplot does not count a data set
 * without records, which would shift every later index. */
static void write_data(const fpa *a, FILE *fp, const double *mean, const double *axes,
                       double seg, size_t *counts)
{
    const kpf_fp_set *s = a->last;
    const size_t n = a->n;
    double pc[2], pd[2], zero[2];
    memset(counts, 0, 5 * sizeof(size_t));
    for (size_t b = 0; b < a->B; b++, fputc('\n', fp))
        for (size_t t = 0; t < a->T; t++, counts[0]++) {
            project(a->states + (t * a->B + b) * n, mean, axes, n, pc);
            fprintf(fp, "%.8g %.8g\n", pc[0], pc[1]);
        }
    for (int blk = 1; blk <= 3; blk++) {
        fputs("\n\n", fp);
        for (size_t p = 0; p < s->P; p++) {
            int slow = s->kind[p] == KPF_FP_SLOW, stable = s->cls[p] == KPF_FP_STABLE;
            if ((blk == 3) != slow || (!slow && (blk == 1) != stable))
                continue;
            project(s->z + p * n, mean, axes, n, pc);
            fprintf(fp, "%.8g %.8g\n", pc[0], pc[1]);
            counts[blk]++;
        }
        if (!counts[blk])
            fputs("NaN NaN\n", fp);
    }
    fputs("\n\n", fp);
    for (size_t p = 0; p < s->P; p++) /* fixed points only: slow ones would crowd it */
        for (size_t v = 0; s->kind[p] == KPF_FP_FIXED && v < s->n_vec && v < s->n_unstable[p];
             v++) {
            const double *d = s->vec_re + (p * s->n_vec + v) * n;
            project(s->z + p * n, mean, axes, n, pc);
            for (size_t c = 0; c < 2; c++) { /* a direction: no centring */
                pd[c] = 0;
                for (size_t k = 0; k < n; k++)
                    pd[c] += d[k] * axes[c * n + k];
            }
            double len = hypot(pd[0], pd[1]);
            if (!(len > 0))
                continue; /* orthogonal to the plane */
            zero[0] = seg * pd[0] / len;
            zero[1] = seg * pd[1] / len;
            fprintf(fp, "%.8g %.8g %.8g %.8g\n", pc[0] - zero[0], pc[1] - zero[1],
                    2 * zero[0], 2 * zero[1]);
            counts[4]++;
        }
    if (!counts[4])
        fputs("NaN NaN NaN NaN\n", fp);
}

/* Half-length of the direction segments: 15% of the points' extent in
 * the plane, or 5% of the trajectories' when the points do not spread. */
static double segment(const fpa *a, const double *mean, const double *axes)
{
    double lo = INFINITY, hi = -INFINITY, pc[2];
    for (size_t p = 0; p < a->last->P; p++) {
        project(a->last->z + p * a->n, mean, axes, a->n, pc);
        lo = fmin(lo, fmin(pc[0], pc[1]));
        hi = fmax(hi, fmax(pc[0], pc[1]));
    }
    if (a->last->P > 1 && hi > lo)
        return 0.15 * (hi - lo);
    for (size_t r = 0; r < a->B * a->T; r++) {
        project(a->states + r * a->n, mean, axes, a->n, pc);
        lo = fmin(lo, fmin(pc[0], pc[1]));
        hi = fmax(hi, fmax(pc[0], pc[1]));
    }
    return hi > lo ? 0.05 * (hi - lo) : 0.1;
}

/* With the points' axes, frame the points (the transients run far out). */
static void frame(const fpa *a, const double *mean, const double *axes, char *buf, size_t cap)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY}, pc[2];
    for (size_t q = 0; q < a->last->P; q++) {
        project(a->last->z + q * a->n, mean, axes, a->n, pc);
        for (int d = 0; d < 2; d++)
            lo[d] = fmin(lo[d], pc[d]), hi[d] = fmax(hi[d], pc[d]);
    }
    double pad = 0.6 * fmax(hi[0] - lo[0], hi[1] - lo[1]);
    snprintf(buf, cap, "set xrange [%g:%g]\nset yrange [%g:%g]\n", lo[0] - pad, hi[0] + pad,
             lo[1] - pad, hi[1] + pad);
}

static int render(const fpa *a, const kpf_analysis_plot *p, const size_t *counts,
                  int by_points, const char *zoom, kpf_error *err)
{
    static const char *const style[5] = {
        "with lines lc rgb '#bbbbbb' title 'analysis trials'",
        "with points pt 7 ps 2 lc rgb '#1b7837' title 'stable'",
        "with points pt 6 ps 2 lw 2 lc rgb '#b2182b' title 'saddle / unstable'",
        "with points pt 2 ps 1.5 lc rgb '#2166ac' title 'slow'",
        "with vectors nohead lw 2 lc rgb '#b2182b' title 'unstable directions'"};
    char cmd[2048] = "plot ";
    size_t len = 5;
    for (int i = 0; i < 5; i++)
        if (counts[i])
            len += (size_t)snprintf(cmd + len, sizeof cmd - len,
                                    "%s'fixed_points.dat' index %d using 1:2%s %s",
                                    len > 5 ? ", " : "", i, i == 4 ? ":3:4" : "", style[i]);
    const double *c = a->counts;
    return kpf_plot_script(p->dir, "fixed_points", "900,750", err,
                           "set title 'fixed points, iteration %zu: %.0f fixed (%.0f stable, "
                           "%.0f saddle, %.0f unstable), %.0f slow'\n"
                           "set xlabel 'PC 1 of the %s'\nset ylabel 'PC 2'\nset key outside "
                           "bottom center horizontal\nset size ratio -1\n%s%s\n",
                           a->last_iteration, c[FPC_FIXED], c[FPC_STABLE], c[FPC_SADDLE],
                           c[FPC_UNSTABLE], c[FPC_SLOW], by_points ? "points" : "trajectories",
                           zoom, cmd);
}

int kpf_internal_fpa_plot(const fpa *a, const kpf_analysis_plot *p, kpf_error *err)
{
    const size_t n = a->n;
    double *mean = malloc(n * sizeof(double)), *axes = calloc(2 * n, sizeof(double));
    int by_points = a->plot_points && a->last->P >= 3;
    int rc = !mean || !axes ? kpf_error_set(err, KPF_ENOMEM, "fixed_points.png: oom")
             : by_points    ? pca_axes(a->last->z, a->last->P, n, mean, axes, err)
                            : pca_axes(a->states, a->B * a->T, n, mean, axes, err);
    FILE *fp = rc ? NULL : kpf_plot_open(p->dir, "fixed_points.dat", err);
    size_t counts[5];
    char zoom[256] = "";
    if (!rc && !fp)
        rc = KPF_EIO;
    if (!rc) {
        write_data(a, fp, mean, axes, segment(a, mean, axes), counts);
        if (fclose(fp))
            rc = kpf_error_set(err, KPF_EIO, "%s/fixed_points.dat: write failed", p->dir);
    }
    if (!rc && by_points)
        frame(a, mean, axes, zoom, sizeof zoom);
    free(mean);
    free(axes);
    return rc ? rc : render(a, p, counts, by_points, zoom, err);
}
