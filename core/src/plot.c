/* gnuplot-rendered PNGs: data table + script + one gnuplot run. */
#include "kpf/plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static int run_gnuplot(const char *stem, kpf_error *err)
{
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "gnuplot '%s.gp' > '%s.log' 2>&1", stem, stem);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return kpf_error_set(err, KPF_EIO,
                             "gnuplot failed to render %s.png (is gnuplot installed? see "
                             "%s.log)",
                             stem, stem);
    return KPF_OK;
}

static FILE *open_part(const char *stem, const char *ext, kpf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%s", stem, ext);
    FILE *fp = fopen(path, "wx");
    if (!fp)
        kpf_error_set(err, KPF_EIO, "%s: cannot create (it may already exist)", path);
    return fp;
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
    if (fclose(d))
        return kpf_error_set(err, KPF_EIO, "%s.dat: write failed", stem);
    FILE *g = open_part(stem, "gp", err);
    if (!g)
        return KPF_EIO;
    fprintf(g,
            "set terminal pngcairo size 900,560 noenhanced\n"
            "set output '%s.png'\n"
            "set logscale y\n"
            "set xlabel 'iteration'\nset ylabel 'loss (masked MSE)'\n"
            "set key top right\nset grid\n"
            "plot '%s.dat' index 0 using 1:2 with lines lw 1 lc rgb '#7799cc' title 'train "
            "(minibatch)', \\\n"
            "     '%s.dat' index 1 using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb "
            "'#cc3311' title 'evaluation (noise-free)'\n",
            stem, stem, stem);
    if (fclose(g))
        return kpf_error_set(err, KPF_EIO, "%s.gp: write failed", stem);
    return run_gnuplot(stem, err);
}
