/* The `linear_theory:` study (kpf/delta_w.h, core/src/dw_linear_study.c):
 * `kpf run` on a small sweep writes its table, plot and summary with the
 * ratios normalised by g = 0, and bad configs are refused with located
 * messages before anything is written. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kpf/config.h"
#include "linear_theory.h"
#include "test_util.h"

TestSuite(dw_linear_study, .init = tu_mktmp, .fini = tu_rmtmp);

/* N = 80: a few tenths of a second for the whole sweep. */
static const char *small_cfg = "seed: 5\n"
                               "linear_theory:\n"
                               "  N: 80\n"
                               "  g: [0, 0.3, 0.6]\n"
                               "  seeds: 2\n";

/* Index 1 of plot-src/linear_theory.dat (the rows after the second blank line):
 * columns 1 g, 4 τ ratio, 5 (1−g²)², 15 max s₂/s₁. */
static size_t read_means(double g[8], double tau_r[8], double tau_th[8], double s21[8])
{
    char path[256], line[4096];
    snprintf(path, sizeof path, "%s/out/plot-src/linear_theory.dat", tu_tmp);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s missing", path);
    size_t blanks = 0, n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '\n') {
            blanks++;
            continue;
        }
        if (line[0] == '#' || blanks < 2)
            continue;
        double c[15];
        int k = sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
                       &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7], &c[8], &c[9],
                       &c[10], &c[11], &c[12], &c[13], &c[14]);
        cr_assert_eq(k, 15, "bad row: %s", line);
        cr_assert_lt(n, 8);
        g[n] = c[0], tau_r[n] = c[3], tau_th[n] = c[4], s21[n] = c[14];
        n++;
    }
    fclose(fp);
    return n;
}

Test(dw_linear_study, kpf_run_writes_ratios_normalised_by_g0, .timeout = 60)
{
    tu_write("lin.yaml", small_cfg);
    cr_assert_eq(tu_sh("%s run %s/lin.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    const char *files[] = {"out/plot-src/linear_theory.dat", "out/plot-src/linear_theory.gp",
                           "out/linear_theory.png", "out/summary.json"};
    for (size_t i = 0; i < 4; i++)
        cr_assert(tu_exists(files[i]), "%s missing", files[i]);
    double g[8], tr[8], th[8], s21[8];
    cr_assert_eq(read_means(g, tr, th, s21), 3);
    cr_assert_eq(g[0], 0.0);
    cr_assert_eq(tr[0], 1.0, "τ*(0)/τ*(0) = %.17g", tr[0]);
    for (size_t i = 0; i < 3; i++) {
        /* ΔW is effectively rank one (eq. 14: s₂ = O(τ³)) */
        cr_expect_lt(s21[i], 0.1, "g = %g: s2/s1 = %g", g[i], s21[i]);
        /* learning speeds up about as (1−g²)² (loose: N = 80, two seeds) */
        cr_expect_lt(fabs(tr[i] / th[i] - 1), 0.3, "g = %g: τ ratio %g vs %g", g[i], tr[i],
                     th[i]);
    }
    cr_expect_lt(tr[2], tr[1], "τ ratio not decreasing: %g, %g", tr[1], tr[2]);
    cr_expect_lt(tr[1], tr[0]);
    cr_assert_eq(tu_sh("grep -c 'tau_ratio_max_rel_dev\\|max_s2_over_s1' %s/out/summary.json",
                       tu_tmp),
                 0, "%s", tu_out);
    cr_expect_eq(atoi(tu_out), 2, "%s", tu_out);
}

/* check and run on `yaml` (written as bad.yaml) must both fail with
 * KPF_ECONFIG and a message naming bad.yaml:LOC: and `want`. */
static void expect_bad(const char *yaml, const char *loc, const char *want)
{
    tu_write("bad.yaml", yaml);
    char path[256], where[512];
    snprintf(path, sizeof path, "%s/bad.yaml", tu_tmp);
    snprintf(where, sizeof where, "%s:%s: %s", path, loc, want);
    for (int pass = 0; pass < 2; pass++) {
        kpf_config *cfg = NULL;
        kpf_error err;
        kpf_error_clear(&err);
        cr_assert_eq(kpf_config_load_file(path, &cfg, &err), KPF_OK, "%s", err.msg);
        int rc = pass ? kpf_dw_linear_study_run(cfg, NULL, tu_tmp, &err)
                      : kpf_dw_linear_study_check(cfg, NULL, &err);
        cr_expect_eq(rc, KPF_ECONFIG, "%s: rc %d (%s)", pass ? "run" : "check", rc, err.msg);
        cr_expect(strstr(err.msg, where), "expected '%s' in '%s'", where, err.msg);
        kpf_config_free(cfg);
    }
    cr_expect_not(tu_exists("linear_theory.dat"), "a bad config wrote its table");
}

Test(dw_linear_study, bad_configs_are_located)
{
    expect_bad("linear_theory:\n  N: 20\n  g: [0, 1.2]\n", "3:10",
               "linear_theory.g[1]: g = 1.2 is out of range");
    expect_bad("linear_theory:\n  N: 20\n  g: [0.1, 0.2]\n", "3:6",
               "linear_theory.g: g = 0 is missing");
    expect_bad("linear_theory:\n  N: 20\n  g: {linspace: [0, 1, 5]}\n", "3:21",
               "linear_theory.g.linspace[1]: g = 1 is out of range");
    expect_bad("linear_theory:\n  N: 20\n  g: [0]\n  sed: 4\n", "4:3",
               "linear_theory.sed: unknown key");
    expect_bad("linear_theory:\n  N: 1\n  g: [0]\n", "2:6", "linear_theory.N: 1 is out of range");
    expect_bad("linear_theory:\n  g: [0, x]\n", "2:10", "linear_theory.g[1]: expected a number");
    expect_bad("linear_theory:\n  N: 20\n  g: 0\n", "3:6", "linear_theory.g: expected a list");
    expect_bad("linear_theory:\n  N: 20\n  g: [0, 0.5, 0.5]\n", "3:15",
               "linear_theory.g[2]: g = 0.5 is listed twice");
    expect_bad("linear_theory:\n  N: 20\n", "2:3", "linear_theory: g: missing required key");
}

Test(dw_linear_study, kpf_run_refuses_a_bad_config_before_writing)
{
    tu_write("bad.yaml", "linear_theory:\n  N: 20\n  g: [0, 0.99, 1.0]\n");
    cr_assert_eq(tu_sh("%s run %s/bad.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    char want[256];
    snprintf(want, sizeof want, "%s/bad.yaml:3:16: linear_theory.g[2]: g = 1 is out of range",
             tu_tmp);
    cr_expect(strstr(tu_out, want), "expected '%s' in: %s", want, tu_out);
    cr_expect_not(tu_exists("out"), "output folder created for a bad config");
}
