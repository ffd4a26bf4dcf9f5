/* The `lyapunov` analysis in a run: its keys (transient, qr_interval,
 * start, seed) reach kpf_lyapunov_qr — the stored spectra equal the
 * library's on the snapshot's θ and analysis trials, bit for bit — its
 * Kaplan–Yorke dimension is kpf_kaplan_yorke of the stored mean, the DNS
 * check agrees with QR on a chaotic network, and a window too short to
 * count one QR block is a located exit 2 before any output. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "kpf/lyapunov.h"
#include "snapshot_fixture.h"
#include "test_util.h"

TestSuite(lyapunov_analysis, .init = tu_mktmp, .fini = tu_rmtmp);

#define TASK "{name: memory_pro, t_stim: 20, t_memory: 140, t_response: 20, n_conditions: 4}"
#define MODEL "{plugin: rnn, n: 24, g: 2.5}"

static kpf_h5 *run(const char *lyap)
{
    char y[1024];
    snprintf(y, sizeof y,
             "seed: 3\ntask: " TASK "\nmodel: " MODEL "\n"
             "analysis:\n  trials: 3\n  operators: []\n  lyapunov: %s\n"
             "output: {trajectory: false}\n",
             lyap);
    tu_write("l.yaml", y);
    cr_assert_eq(tu_sh("rm -rf %s/o && %s run %s/l.yaml -o %s/o -q", tu_tmp, KPF_CLI_PATH,
                       tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    OK(kpf_h5_open(p, &h, &sf_err));
    return h;
}

/* The analysis trials of the run, simulated at the stored θ. */
static kpf_traj *rebuild(kpf_h5 *h, sf_model *f, kpf_task **task, kpf_config **cfg)
{
    OK(kpf_config_load_string(TASK, "t.yaml", cfg, &sf_err));
    OK(kpf_task_create(kpf_config_root(*cfg), task, &sf_err));
    sf_model_make(f, "rnn", NULL, "{n: 24}", (*task)->n_in, (*task)->n_out, 3, 1);
    sf_theta_from_run(f->m, h, 0);
    kpf_task_batch *bt = sf_analysis_batch(*task, 3, 3);
    kpf_traj *tr = NULL;
    OK(kpf_traj_alloc(f->m, 3, (*task)->T, &tr, &sf_err));
    memcpy(tr->x, bt->x, 3 * (*task)->T * (*task)->n_in * sizeof(double));
    OK(kpf_simulate(f->m, tr, &sf_err));
    kpf_task_batch_free(bt);
    return tr;
}

Test(lyapunov_analysis, keys_reach_the_library_and_dns_agrees, .timeout = 120)
{
    kpf_h5 *h = run("{exponents: 24, transient: 40, qr_interval: 3, start: 5, seed: 11, "
                    "dns: true}");
    sf_model f;
    kpf_task *task = NULL;
    kpf_config *cfg = NULL;
    kpf_traj *tr = rebuild(h, &f, &task, &cfg);
    double lam[3 * 24], lmax[3], ky;
    kpf_lyap_opts o = {.k = 24, .t_ons = 3, .start = 5, .transient = 40, .seed = 11};
    OK(kpf_lyapunov_qr(f.m, tr, &o, lam, NULL, &sf_err));
    OK(kpf_lyapunov_dns(f.m, tr, &o, 1e-6, lmax, &sf_err));
    size_t nt = 0, nm = 0, nd = 0;
    double *trial = sf_read(h, "/snapshots/0/lyapunov/trial_spectra", &nt);
    double *mean = sf_read(h, "/snapshots/0/lyapunov/mean_spectrum", &nm);
    double *dns = sf_read(h, "/snapshots/0/lyapunov/dns_max", &nd);
    cr_assert_eq(nt, 72);
    cr_assert_eq(nm, 24);
    cr_assert_eq(nd, 3);
    cr_expect_arr_eq(trial, lam, sizeof lam, "the stored spectra are not the library's");
    cr_expect_arr_eq(dns, lmax, sizeof lmax);
    OK(kpf_kaplan_yorke(mean, 24, &ky, &sf_err));
    for (size_t i = 1; i < 24; i++)
        cr_expect_geq(mean[i - 1], mean[i], "mean spectrum not descending at %zu", i);
    double qr1 = (lam[0] + lam[24] + lam[48]) / 3, dn1 = (lmax[0] + lmax[1] + lmax[2]) / 3;
    cr_log_info("n=24 g=2.5, 160 counted steps: λ1 QR %.4f, DNS %.4f; KY %.3f", qr1, dn1, ky);
    cr_expect_gt(qr1, 0.0, "not chaotic (λ1 = %g): the DNS comparison says nothing", qr1);
    cr_expect_lt(fabs(qr1 - dn1), 0.05 * fabs(dn1), "QR %g vs DNS %g", qr1, dn1);
    cr_assert_eq(tu_sh("grep -o '\"kaplan_yorke\": [-0-9.e]*' %s/o/summary.json", tu_tmp), 0,
                 "%s", tu_out);
    cr_expect_float_eq(strtod(strchr(tu_out, ':') + 1, NULL), ky, 1e-9 * (1 + ky), "%s",
                       tu_out);
    cr_assert_eq(tu_sh("grep -c '\"lyapunov_dns_max\"' %s/o/summary.json", tu_tmp), 0);
    if (tu_sh("command -v gnuplot") == 0)
        cr_expect(tu_exists("o/lyapunov.png"));
    free(trial), free(mean), free(dns);
    kpf_traj_free(tr);
    sf_model_free(&f);
    kpf_task_free(task);
    kpf_config_free(cfg);
    kpf_h5_close(h, NULL);
}

Test(lyapunov_analysis, shorthand_keeps_its_defaults)
{
    /* `lyapunov: N` is transient T/3, QR every step, seed 1 */
    kpf_h5 *h = run("6");
    sf_model f;
    kpf_task *task = NULL;
    kpf_config *cfg = NULL;
    kpf_traj *tr = rebuild(h, &f, &task, &cfg);
    double lam[3 * 6];
    kpf_lyap_opts o = {.k = 6, .t_ons = 1, .transient = task->T / 3, .seed = 1};
    OK(kpf_lyapunov_qr(f.m, tr, &o, lam, NULL, &sf_err));
    double *trial = sf_read(h, "/snapshots/0/lyapunov/trial_spectra", NULL);
    cr_expect_arr_eq(trial, lam, sizeof lam);
    cr_assert_eq(tu_sh("grep -c lyapunov_dns %s/o/summary.json", tu_tmp), 1, "%s", tu_out);
    free(trial);
    kpf_traj_free(tr);
    sf_model_free(&f);
    kpf_task_free(task);
    kpf_config_free(cfg);
    kpf_h5_close(h, NULL);
}

static void refused(const char *lyap, const char *want)
{
    char y[1024];
    snprintf(y, sizeof y,
             "task: " TASK "\nmodel: " MODEL "\nanalysis:\n  trials: 2\n  lyapunov: %s\n", lyap);
    tu_write("b.yaml", y);
    cr_assert_eq(tu_sh("%s run %s/b.yaml -o %s/o", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_expect(strstr(tu_out, want), "want '%s' in:\n%s", want, tu_out);
    cr_expect_not(tu_exists("o/summary.json"));
}

Test(lyapunov_analysis, bad_settings_are_located)
{
    refused("{exponents: 4, transient: 180}",
            "b.yaml:5:39: analysis.lyapunov.transient: start 0 + transient 180 + qr_interval 1 "
            "leave no counted QR block in the analysis trials' 180 steps");
    refused("{exponents: 4, start: 100, transient: 70, qr_interval: 20}",
            "analysis.lyapunov.transient: start 100 + transient 70 + qr_interval 20");
    refused("{exponents: 4, qr_interval: 0}", "b.yaml:5:41: analysis.lyapunov.qr_interval: 0 is out of range");
    refused("{exponents: 4, transients: 3}", "analysis.lyapunov.transients: unknown key");
    refused("{transient: 3}", "b.yaml:5:13: analysis.lyapunov.exponents: missing required key");
    refused("-3", "b.yaml:5:13: analysis.lyapunov: expected a number of exponents");
}
