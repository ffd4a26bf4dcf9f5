/* kpf/plot.h — PNG plots rendered by gnuplot.
 *
 * A plot in folder DIR is DIR/NAME.png, with its sources in
 * DIR/plot-src/ (KPF_PLOT_SRC_DIR): the data as a plain-text table
 * (NAME.dat) and a gnuplot script (NAME.gp), so a plot can be re-rendered
 * or restyled by hand (`cd DIR/plot-src && gnuplot NAME.gp`).  gnuplot runs
 * inside plot-src with its output in NAME.log, which is removed when empty:
 * a run folder holds no empty files.  gnuplot missing or failing is KPF_EIO
 * naming the log. */
#ifndef KPF_PLOT_H
#define KPF_PLOT_H

#include "kpf/export.h"

#include <stdio.h>

#include "kpf/error.h"
#include "kpf/train.h"

KPF_BEGIN_DECLS

/* The subfolder of a run folder that holds the plots' sources. */
#define KPF_PLOT_SRC_DIR "plot-src"

/* Training loss per iteration and evaluation loss, log-scale y.
 * `stem` is the path without extension (e.g. "runs/x/loss"). */
int kpf_plot_loss(const char *stem, const kpf_train_history *h, kpf_error *err);

/* Cumulative explained variance curves (one per named series, k values
 * each; NULL series skipped), x = number of components. */
int kpf_plot_cumvar(const char *stem, const char *title, size_t k,
                    const double *const *series, const char *const *names, size_t n_series,
                    kpf_error *err);

/* Hidden trajectories in the plane of their first two principal components,
 * each segment coloured by the task period at its start.  pcs: [T][B][3]
 * step-major; period: [T][B]; period_names NULL-terminated. */
int kpf_plot_pca(const char *stem, const char *title, size_t B, size_t T, const double *pcs,
                 const int *period, const char *const *period_names, kpf_error *err);

/* Every (x, y) as a point, and the mean of y over equal x as a line (a
 * sweep with repeats); x need not be sorted.  log-x when logx. */
int kpf_plot_scatter_mean(const char *stem, const char *title, const char *xlabel,
                          const char *ylabel, size_t n, const double *x, const double *y,
                          int logx, kpf_error *err);

/* Free-form figures, for runners that draw their own.  kpf_plot_open
 * creates a file exclusively ("wx"; NULL with err set when it exists): a
 * plot source (NAME ending in .dat or .gp) as DIR/plot-src/NAME, anything
 * else (a study's summary.json) as DIR/NAME.  kpf_plot_script writes
 * DIR/plot-src/NAME.gp (pngcairo of `size`, e.g. "900,600", output
 * DIR/NAME.png, then the printf-style body, which names its data files by
 * base name) and renders it with gnuplot inside DIR/plot-src. */
FILE *kpf_plot_open(const char *dir, const char *name, kpf_error *err);
int kpf_plot_script(const char *dir, const char *name, const char *size, kpf_error *err,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

KPF_END_DECLS
#endif
