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
    cr_expect(exists_in(dir, "loss.dat") && exists_in(dir, "loss.gp"));
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
    cr_expect(exists_in(dir, "bad.log"), "gnuplot's complaint was not captured in bad.log");
    cr_expect(!exists_in(dir, "bad.png"));
}
