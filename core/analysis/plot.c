/* gnuplot-rendered PNGs: data table + script + one gnuplot run.  The
 * PNG goes into the run folder, its sources (NAME.dat, NAME.gp, and
 * gnuplot's NAME.log when it said anything) into the folder's plot-src/,
 * where gnuplot runs, so the results stay on top. */
#include "kpf/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child's exit status when gnuplot could not be started (as a shell's). */
#define GNUPLOT_NOT_RUN 127

/* In the child: inside dir, stdout and stderr to out, exec gnuplot on gp.
 * No shell: dir and the names reach the kernel as they are, so quotes,
 * spaces or $ in a path mean nothing.  Only async-signal-safe calls. */
static void exec_gnuplot(const char *dir, const char *gp, const char *out)
{
    static const char msg[] = "kpf: could not start gnuplot (is it installed and on PATH?)\n";
    int fd = -1;
    if (chdir(dir) == 0)
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0 && dup2(fd, STDERR_FILENO) >= 0) {
        if (fd > STDERR_FILENO)
            close(fd);
        char *const argv[] = {"gnuplot", (char *)gp, NULL};
        execvp(argv[0], argv);
        ssize_t told = write(STDERR_FILENO, msg, sizeof msg - 1); /* into the log */
        (void)told;
    }
    _exit(GNUPLOT_NOT_RUN);
}

/* DIR/plot-src, created when missing. */
static int src_dir(const char *dir, char *buf, size_t size, kpf_error *err)
{
    snprintf(buf, size, "%s/%s", dir, KPF_PLOT_SRC_DIR);
    if (mkdir(buf, 0777) && errno != EEXIST)
        return kpf_error_set(err, KPF_EIO, "%s: cannot create the plot sources' folder (%s)",
                             buf, strerror(errno));
    return KPF_OK;
}

/* gnuplot's log is kept only when it holds something (a warning, an error). */
static void drop_if_empty(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
        unlink(path);
}

/* Render SRC/NAME.gp (SRC = DIR/plot-src) into the PNG it names (in DIR,
 * "../NAME.png" from SRC), gnuplot's output in SRC/NAME.log.  gnuplot runs
 * inside SRC and the scripts name their files by base name, so no path is
 * ever parsed by gnuplot either. */
static int run_gnuplot(const char *dir, const char *name, kpf_error *err)
{
    char src[4200], gp[512], out[512], log[4800];
    int rc = src_dir(dir, src, sizeof src, err);
    if (rc)
        return rc;
    snprintf(gp, sizeof gp, "%s.gp", name);
    snprintf(out, sizeof out, "%s.log", name);
    snprintf(log, sizeof log, "%s/%s", src, out);
    pid_t pid = fork();
    if (pid < 0)
        return kpf_error_set(err, KPF_EIO, "%s/%s.png: cannot start gnuplot (fork: %s)", dir,
                             name, strerror(errno));
    if (pid == 0)
        exec_gnuplot(src, gp, out);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return kpf_error_set(err, KPF_EIO, "%s/%s.png: lost gnuplot (waitpid: %s)", dir,
                                 name, strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        drop_if_empty(log);
        return KPF_OK;
    }
    return kpf_error_set(err, KPF_EIO,
                         "gnuplot failed to render %s/%s.png (is gnuplot installed? see %s)",
                         dir, name, log);
}

/* The base name of a stem "folder/name": its script names the files by it,
 * since gnuplot runs inside the folder. */
static const char *stem_base(const char *stem)
{
    const char *slash = strrchr(stem, '/');
    return slash ? slash + 1 : stem;
}

/* Created exclusively: a plot never replaces an earlier file. */
static FILE *open_new(const char *path, kpf_error *err)
{
    FILE *fp = fopen(path, "wx");
    if (!fp)
        kpf_error_set(err, KPF_EIO, "%s: cannot create (it may already exist)", path);
    return fp;
}

/* The folder and base name of a stem "folder/name" ("." for a bare name,
 * "/" for "/name"). */
static const char *stem_dir(const char *stem, char *dir, size_t size)
{
    const char *base = stem_base(stem);
    if (base == stem)
        snprintf(dir, size, ".");
    else
        snprintf(dir, size, "%.*s", base - 1 == stem ? 1 : (int)(base - 1 - stem), stem);
    return base;
}

/* STEM's folder/plot-src/NAME.EXT, created exclusively. */
static FILE *open_part(const char *stem, const char *ext, kpf_error *err)
{
    char dir[4096], src[4200], path[4400];
    const char *base = stem_dir(stem, dir, sizeof dir);
    if (src_dir(dir, src, sizeof src, err))
        return NULL;
    snprintf(path, sizeof path, "%s/%s.%s", src, base, ext);
    return open_new(path, err);
}

static int close_data(FILE *d, const char *stem, kpf_error *err)
{
    return fclose(d) ? kpf_error_set(err, KPF_EIO, "%s.dat (in %s/): write failed", stem,
                                     KPF_PLOT_SRC_DIR)
                     : KPF_OK;
}

/* Close the script and render it. */
static int finish_script(FILE *g, const char *stem, kpf_error *err)
{
    if (fclose(g))
        return kpf_error_set(err, KPF_EIO, "%s.gp: write failed", stem);
    char dir[4096];
    const char *base = stem_dir(stem, dir, sizeof dir);
    return run_gnuplot(dir, base, err);
}

int kpf_plot_loss(const char *stem, const kpf_train_history *h, kpf_error *err)
{
    FILE *d = open_part(stem, "dat", err);
    if (!d)
        return KPF_EIO;
    fprintf(d, "# iteration train_loss\n");
    for (size_t i = 0; i < h->n_iter; i++)
        fprintf(d, "%zu %.17g\n", i + 1, h->loss[i]);
    fprintf(d, "\n\n# iteration eval_loss\n");
    for (size_t i = 0; i < h->n_eval; i++)
        fprintf(d, "%.0f %.17g\n", h->eval_iter[i], h->eval_loss[i]);
    if (close_data(d, stem, err))
        return KPF_EIO;
    FILE *g = open_part(stem, "gp", err);
    if (!g)
        return KPF_EIO;
    const char *base = stem_base(stem);
    fprintf(g,
            "set terminal pngcairo size 900,560 noenhanced\n"
            "set output '../%s.png'\n"
            "set logscale y\n"
            "set xlabel 'iteration'\nset ylabel 'loss (masked MSE)'\n"
            "set key top right\nset grid\n"
            "plot '%s.dat' index 0 using 1:2 with lines lw 1 lc rgb '#7799cc' title 'train "
            "(minibatch)', \\\n"
            "     '%s.dat' index 1 using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb "
            "'#cc3311' title 'evaluation (noise-free)'\n",
            base, base, base);
    return finish_script(g, stem, err);
}

static const char *const palette[] = {"#228833", "#ee7733", "#aa3377", "#4477aa",
                                      "#66ccee", "#ccbb44", "#bbbbbb"};

int kpf_plot_cumvar(const char *stem, const char *title, size_t k,
                    const double *const *series, const char *const *names, size_t n_series,
                    kpf_error *err)
{
    FILE *d = open_part(stem, "dat", err);
    if (!d)
        return KPF_EIO;
    for (size_t s = 0; s < n_series; s++) {
        fprintf(d, "# %s: components cumulative_explained_variance\n0 0\n",
                names[s]);
        for (size_t i = 0; series[s] && i < k; i++)
            fprintf(d, "%zu %.17g\n", i + 1, series[s][i]);
        fprintf(d, "\n\n");
    }
    if (close_data(d, stem, err))
        return KPF_EIO;
    FILE *g = open_part(stem, "gp", err);
    if (!g)
        return KPF_EIO;
    const char *base = stem_base(stem);
    fprintf(g, "set terminal pngcairo size 800,560 noenhanced\nset output '../%s.png'\n"
               "set title '%s'\nset xlabel 'components'\nset ylabel 'cumulative explained "
               "variance'\nset yrange [0:1.02]\nset grid\nset key bottom right\n"
               "set arrow from graph 0, first 0.95 to graph 1, first 0.95 nohead dt 2\nplot ",
            base, title);
    int first = 1;
    for (size_t s = 0; s < n_series; s++) {
        if (!series[s])
            continue;
        fprintf(g, "%s'%s.dat' index %zu using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc rgb "
                   "'%s' title '%s'",
                first ? "" : ", ", base, s, palette[s % 7], names[s]);
        first = 0;
    }
    fprintf(g, "\n");
    return finish_script(g, stem, err);
}

int kpf_plot_pca(const char *stem, const char *title, size_t B, size_t T, const double *pcs,
                 const int *period, const char *const *period_names, kpf_error *err)
{
    FILE *d = open_part(stem, "dat", err);
    if (!d)
        return KPF_EIO;
    fprintf(d, "# pc1 pc2 pc3 period (one block per trial)\n");
    for (size_t b = 0; b < B; b++) {
        for (size_t t = 0; t < T; t++) {
            const double *p = pcs + (t * B + b) * 3;
            fprintf(d, "%.9g %.9g %.9g %d\n", p[0], p[1], p[2], period[t * B + b]);
        }
        fprintf(d, "\n");
    }
    if (close_data(d, stem, err))
        return KPF_EIO;
    FILE *g = open_part(stem, "gp", err);
    if (!g)
        return KPF_EIO;
    const char *base = stem_base(stem);
    fprintf(g, "set terminal pngcairo size 760,640 noenhanced\nset output '../%s.png'\n"
               "set title '%s'\nset xlabel 'PC1'\nset ylabel 'PC2'\nset grid\n"
               "set key outside right\n",
            base, title);
    size_t np = 0;
    while (period_names && period_names[np])
        np++;
    for (size_t i = 0; i < np; i++)
        fprintf(g, "set linetype %zu lc rgb '%s'\n", i + 1, palette[i % 7]);
    fprintf(g, "plot '%s.dat' using 1:2:($4+1) with lines lw 1.5 lc variable notitle", base);
    for (size_t i = 0; i < np; i++)
        fprintf(g, ", NaN with lines lw 3 lt %zu title '%s'", i + 1, period_names[i]);
    fprintf(g, "\n");
    return finish_script(g, stem, err);
}

int kpf_plot_scatter_mean(const char *stem, const char *title, const char *xlabel,
                          const char *ylabel, size_t n, const double *x, const double *y,
                          int logx, kpf_error *err)
{
    FILE *d = open_part(stem, "dat", err);
    if (!d)
        return KPF_EIO;
    fprintf(d, "# %s %s (every run)\n", xlabel, ylabel);
    for (size_t i = 0; i < n; i++)
        fprintf(d, "%.17g %.17g\n", x[i], y[i]);
    fprintf(d, "\n\n# %s mean_%s (over runs with equal x, ascending x)\n", xlabel, ylabel);
    double last = -HUGE_VAL;
    for (;;) { /* next distinct x above `last`: O(n²), n is a sweep's size */
        double nx = HUGE_VAL, sum = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (x[i] > last && x[i] < nx)
                nx = x[i];
        if (nx == HUGE_VAL)
            break;
        for (size_t i = 0; i < n; i++)
            if (x[i] == nx) {
                sum += y[i];
                cnt++;
            }
        fprintf(d, "%.17g %.17g\n", nx, sum / (double)cnt);
        last = nx;
    }
    if (close_data(d, stem, err))
        return KPF_EIO;
    FILE *g = open_part(stem, "gp", err);
    if (!g)
        return KPF_EIO;
    const char *base = stem_base(stem);
    fprintf(g, "set terminal pngcairo size 800,560 noenhanced\nset output '../%s.png'\n"
               "set title '%s'\nset xlabel '%s'\nset ylabel '%s'\nset grid\n%s"
               "set key top left\n"
               "plot '%s.dat' index 0 using 1:2 with points pt 7 ps 0.8 lc rgb '#99aacc' "
               "title 'runs', \\\n     '%s.dat' index 1 using 1:2 with linespoints lw 2 pt 5 "
               "lc rgb '#224488' title 'mean'\n",
            base, title, xlabel, ylabel, logx ? "set logscale x\n" : "", base, base);
    return finish_script(g, stem, err);
}

static int is_plot_source(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && !strcmp(name + n - 4, ".dat")) || (n > 3 && !strcmp(name + n - 3, ".gp"));
}

FILE *kpf_plot_open(const char *dir, const char *name, kpf_error *err)
{
    char src[4200], path[4400];
    if (!is_plot_source(name)) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        return open_new(path, err);
    }
    if (src_dir(dir, src, sizeof src, err))
        return NULL;
    snprintf(path, sizeof path, "%s/%s", src, name);
    return open_new(path, err);
}

int kpf_plot_script(const char *dir, const char *name, const char *size, kpf_error *err,
                     const char *fmt, ...)
{
    char gp[256];
    snprintf(gp, sizeof gp, "%s.gp", name);
    FILE *fp = kpf_plot_open(dir, gp, err);
    if (!fp)
        return KPF_EIO;
    fprintf(fp, "set terminal pngcairo size %s noenhanced\nset output '../%s.png'\n", size,
            name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(fp, fmt, ap);
    va_end(ap);
    if (fclose(fp))
        return kpf_error_set(err, KPF_EIO, "%s/%s/%s: write failed", dir, KPF_PLOT_SRC_DIR, gp);
    return run_gnuplot(dir, name, err);
}
