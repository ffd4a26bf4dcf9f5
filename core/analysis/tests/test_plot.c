/* plot: gnuplot is started with an argv, inside the plot's folder, and its
 * scripts name files by base name, so a folder whose name a shell or gnuplot
 * would parse (a quote, a space, $) holds plots like any other. */
#include <criterion/criterion.h>

#include "kpf/plot.h"

#include "test_util.h"

/* A folder under the scratch folder that quoting used to break. */
static const char awkward[] = "it's a $HOME dir";

static void make_awkward(char *dir, size_t size)
{
    snprintf(dir, size, "%s/%s", tu_tmp, awkward);
    cr_assert_eq(mkdir(dir, 0777), 0, "mkdir %s", dir);
}

static int exists_in(const char *dir, const char *name)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && st.st_size > 0;
}

TestSuite(plot, .init = tu_mktmp, .fini = tu_rmtmp);

Test(plot, loss_into_a_folder_with_a_quote_and_spaces)
{
    char dir[256], stem[300];
    make_awkward(dir, sizeof dir);
    snprintf(stem, sizeof stem, "%s/loss", dir);
    double loss[] = {1.0, 0.5, 0.25}, eval_iter[] = {1, 3}, eval_loss[] = {0.9, 0.2};
    kpf_train_history h = {.n_iter = 3, .loss = loss, .n_eval = 2, .eval_iter = eval_iter,
                           .eval_loss = eval_loss};
    kpf_error err = {0};
    cr_assert_eq(kpf_plot_loss(stem, &h, &err), KPF_OK, "%s", err.msg);
    cr_expect(exists_in(dir, "loss.png"), "no loss.png in '%s'", dir);
    cr_expect(exists_in(dir, "plot-src/loss.dat") && exists_in(dir, "plot-src/loss.gp"));
}

/* Results on top, sources in plot-src/, and no empty gnuplot log left
 * behind; a study's other files (summary.json) stay on top. */
Test(plot, sources_in_plot_src_and_no_empty_log)
{
    char dir[256], stem[300], p[400];
    make_awkward(dir, sizeof dir);
    snprintf(stem, sizeof stem, "%s/loss", dir);
    double loss[] = {1.0, 0.5}, eval_iter[] = {2}, eval_loss[] = {0.4};
    kpf_train_history h = {.n_iter = 2, .loss = loss, .n_eval = 1, .eval_iter = eval_iter,
                           .eval_loss = eval_loss};
    kpf_error err = {0};
    cr_assert_eq(kpf_plot_loss(stem, &h, &err), KPF_OK, "%s", err.msg);
    struct stat st;
    snprintf(p, sizeof p, "%s/plot-src/loss.log", dir);
    cr_expect_neq(stat(p, &st), 0, "an empty loss.log was left in plot-src/");
    snprintf(p, sizeof p, "%s/loss.dat", dir);
    cr_expect_neq(stat(p, &st), 0, "loss.dat is on top, not in plot-src/");
    FILE *fp = kpf_plot_open(dir, "table.dat", &err);
    cr_assert_not_null(fp, "%s", err.msg);
    fputs("1 2\n2 3\n", fp);
    fclose(fp);
    cr_assert_eq(kpf_plot_script(dir, "table", "300,200", &err, "plot 'table.dat' w l\n"),
                 KPF_OK, "%s", err.msg);
    cr_expect(exists_in(dir, "table.png") && exists_in(dir, "plot-src/table.dat") &&
              exists_in(dir, "plot-src/table.gp"));
    fp = kpf_plot_open(dir, "summary.json", &err);
    cr_assert_not_null(fp, "%s", err.msg);
    fputs("{}\n", fp);
    fclose(fp);
    cr_expect(exists_in(dir, "summary.json"), "summary.json went into plot-src/");
}

Test(plot, script_into_a_folder_with_a_quote_and_spaces)
{
    char dir[256];
    make_awkward(dir, sizeof dir);
    kpf_error err = {0};
    cr_assert_eq(kpf_plot_script(dir, "line", "400,300", &err, "plot x with lines notitle\n"),
                 KPF_OK, "%s", err.msg);
    cr_expect(exists_in(dir, "line.png"), "no line.png in '%s'", dir);
}

/* A failing gnuplot is KPF_EIO naming the log, and the log holds its words. */
Test(plot, gnuplot_failure_is_reported_with_its_log)
{
    char dir[256];
    make_awkward(dir, sizeof dir);
    kpf_error err = {0};
    cr_assert_eq(kpf_plot_script(dir, "bad", "400,300", &err, "plot ((\n"), KPF_EIO);
    cr_expect(strstr(err.msg, "bad.log") != NULL, "%s", err.msg);
    cr_expect(exists_in(dir, "plot-src/bad.log"),
              "gnuplot's complaint was not captured in plot-src/bad.log");
    cr_expect(!exists_in(dir, "bad.png"));
}
