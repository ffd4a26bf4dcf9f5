/* Fig. 4 of Proca et al.: phase transitions of the final modes over a
 * grid of task parameters and T (App. H). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kpf/json.h"
#include "kpf/rng.h"
#include "lrnn_exp_internal.h"

/* ---- Fig. 4: phase transitions -------------------------------------------------- */

enum { SW_DELTA = 0, SW_LAMBDA = 1, SW_BETA = 2, SW_KAPPA = 3 };
static const char *const sweep_names[] = {"delta", "lambda", "beta", "kappa", NULL};

typedef struct panel {
    int dyn, sweep;
    double from, to, delta, lambda, beta;
    size_t n, n_kappa;
    double kappa[16];
} panel;

static int read_panel(const kpf_node *pn, panel *p, kpf_error *err)
{
    int rc = kpf_cfg_choice(pn, "dynamics", KPF_CFG_REQUIRED, kpf_lrnn_dynamics_names, 0,
                            &p->dyn, err);
    if (!rc) rc = kpf_cfg_choice(pn, "sweep", KPF_CFG_REQUIRED, sweep_names, 0, &p->sweep, err);
    if (!rc) rc = kpf_cfg_double(pn, "from", KPF_CFG_REQUIRED, 0, -1e6, 1e6, &p->from, err);
    if (!rc) rc = kpf_cfg_double(pn, "to", KPF_CFG_REQUIRED, 0, -1e6, 1e6, &p->to, err);
    if (!rc) rc = kpf_cfg_size(pn, "n", 0, 41, 2, 100000, &p->n, err);
    if (!rc) rc = kpf_cfg_double(pn, "delta", 0, 1.0, -1e6, 1e6, &p->delta, err);
    if (!rc) rc = kpf_cfg_double(pn, "lambda", 0, 1.0, -1e6, 1e6, &p->lambda, err);
    if (!rc) rc = kpf_cfg_double(pn, "beta", 0, 1.0, -1e6, 1e6, &p->beta, err);
    if (!rc && p->sweep == SW_KAPPA) { /* κ is the swept value */
        p->n_kappa = 1;
        p->kappa[0] = NAN;
        if (kpf_node_get(pn, "kappa"))
            rc = kpf_node_error(kpf_node_get(pn, "kappa"), err,
                                "sweep kappa takes its values from from/to/n");
    } else if (!rc) {
        rc = kpf_lrnn_num_list(pn, "kappa", 16, p->kappa, &p->n_kappa, err);
    }
    return rc;
}

static kpf_lrnn_mode_spec panel_spec(const panel *p, double x, double kappa)
{
    kpf_lrnn_mode_spec sp = {.dynamics = p->dyn, .delta = p->delta, .lambda = p->lambda,
                             .kappa = kappa, .has_kappa = 1, .beta = p->beta};
    switch (p->sweep) {
    case SW_DELTA: sp.delta = x; break;
    case SW_LAMBDA: sp.lambda = x; break;
    case SW_BETA: sp.beta = x; break;
    default: sp.kappa = x; break;
    }
    return sp;
}

/* Midpoint of the largest jump of |b| between neighbouring grid points. */
static double jump_at(const double *x, const double *b, size_t n, double *size)
{
    double best = -1, at = NAN;
    for (size_t i = 1; i < n; i++) {
        double dj = fabs(fabs(b[i]) - fabs(b[i - 1]));
        if (isfinite(dj) && dj > best) {
            best = dj;
            at = 0.5 * (x[i] + x[i - 1]);
        }
    }
    *size = best;
    return at;
}

/* β/κ where the Dirac global minimum leaves b = 0 (bisection on √ratio). */
static double dirac_ratio_c(size_t T, double b_max, kpf_error *err)
{
    double lo = 0.05, hi = 4.0;
    for (int it = 0; it < 50; it++) {
        double mid = 0.5 * (lo + hi);
        kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_DIRAC, .beta = mid, .kappa = 1 / mid};
        kpf_lrnn_terms tm;
        double b = 0, u, E;
        if (kpf_lrnn_terms_build(&sp, T, 0, &tm, err))
            return NAN;
        kpf_lrnn_global_min(&tm, b_max, 4001, &b, &u, &E, err);
        kpf_lrnn_terms_free(&tm);
        if (fabs(b) > 1e-6)
            hi = mid;
        else
            lo = mid;
    }
    double r = 0.5 * (lo + hi);
    return r * r; /* s_1/s_T = β² in App. H's parameterisation */
}

int kpf_lrnn_fig_phase(kpf_lrnn_ctx *c, kpf_error *err)
{
    double Ts[16], init, step, time, b_max;
    size_t nT, verify;
    panel pn[8];
    size_t np = 0;
    int rc = kpf_lrnn_num_list(c->lr, "T", 16, Ts, &nT, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "init", 0, 0.1, -1e3, 1e3, &init, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "step", 0, 0.01, 1e-9, 10, &step, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "time", 0, 500, 0, 1e9, &time, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "b_max", 0, 3.0, 1e-3, 1e3, &b_max, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "verify", 0, 2, 0, 1000, &verify, err);
    const kpf_node *pl = rc ? NULL : kpf_node_get(c->lr, "panels");
    if (!rc && (!pl || kpf_node_kind(pl) != KPF_NODE_SEQ || !kpf_node_len(pl) ||
                kpf_node_len(pl) > 8))
        rc = kpf_node_error(pl ? pl : c->lr, err, "panels: expected a list of 1 to 8 maps");
    for (size_t i = 0; !rc && i < kpf_node_len(pl); i++)
        rc = read_panel(kpf_node_at(pl, i), &pn[np++], err);
    for (size_t i = 0; !rc && i < nT; i++)
        if (Ts[i] < 1 || Ts[i] > 4096 || Ts[i] != floor(Ts[i]))
            rc = kpf_node_error(kpf_node_get(c->lr, "T"), err, "T must be whole numbers ≥ 1");
    /* the plot's curves of one panel share one fixed-size command */
    for (size_t i = 0; !rc && i < np; i++)
        if (nT * pn[i].n_kappa > 40)
            rc = kpf_node_error(kpf_node_at(pl, i), err,
                                "%zu values of T × %zu of kappa are %zu curves; a panel "
                                "plots at most 40",
                                nT, pn[i].n_kappa, nT * pn[i].n_kappa);
    if (!rc) rc = kpf_config_check_unused(c->cfg, err);
    if (rc || c->check_only)
        return rc;
    const size_t steps = (size_t)llround(time / step);
    FILE *fp = kpf_plot_open(c->dir, "fig4.dat", err);
    FILE *js = fp ? kpf_plot_open(c->dir, "summary.json", err) : NULL;
    if (!fp || !js) {
        if (fp)
            fclose(fp);
        return KPF_EIO;
    }
    fprintf(fp, "# Proca et al. Fig. 4: final modes by gradient descent on E from a = b = c "
                "= %g (%zu Euler steps of %g, i.e. training a `modes` network) and the "
                "global minimum (|b| <= %g)\n",
            init, steps, step, b_max);
    kpf_json j;
    kpf_json_begin(&j, js);
    kpf_json_key(&j, "figure");
    kpf_json_string(&j, "Proca et al. Fig. 4 / App. H: phase transitions");
    kpf_json_key(&j, "dirac_transition_ratio_s1_over_sT_global_min");
    kpf_json_object_begin(&j);
    for (size_t i = 0; i < nT; i++) {
        char key[32];
        snprintf(key, sizeof key, "T=%zu", (size_t)Ts[i]);
        kpf_json_key(&j, key);
        kpf_json_double(&j, dirac_ratio_c((size_t)Ts[i], b_max, err));
    }
    kpf_json_object_end(&j);
    kpf_json_key(&j, "panels");
    kpf_json_array_begin(&j);
    double *xs = NULL, *bg = NULL, *bm = NULL;
    double verify_worst = 0;
    size_t block = 0;
    char plots[2][8][8192];
    memset(plots, 0, sizeof plots);
    for (size_t p = 0; p < np && !rc; p++) {
        const panel *P = &pn[p];
        free(xs);
        free(bg);
        free(bm);
        xs = malloc(P->n * sizeof *xs);
        bg = malloc(P->n * sizeof *bg);
        bm = malloc(P->n * sizeof *bm);
        if (!xs || !bg || !bm) {
            rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
            break;
        }
        kpf_json_object_begin(&j);
        kpf_json_key(&j, "dynamics");
        kpf_json_string(&j, kpf_lrnn_dynamics_names[P->dyn]);
        kpf_json_key(&j, "sweep");
        kpf_json_string(&j, sweep_names[P->sweep]);
        kpf_json_key(&j, "transitions");
        kpf_json_array_begin(&j);
        for (size_t it = 0; it < nT && !rc; it++)
            for (size_t ik = 0; ik < P->n_kappa && !rc; ik++) {
                const size_t T = (size_t)Ts[it];
                fprintf(fp, "# panel %zu (%s, sweep %s) T %zu kappa %g\n# %s b_gd ac_gd E_gd "
                            "b_min ac_min E_min\n",
                        p, kpf_lrnn_dynamics_names[P->dyn], sweep_names[P->sweep], T,
                        P->kappa[ik], sweep_names[P->sweep]);
                for (size_t i = 0; i < P->n && !rc; i++) {
                    double x = P->from + (P->to - P->from) * (double)i / (double)(P->n - 1);
                    kpf_lrnn_mode_spec sp = panel_spec(P, x, P->kappa[ik]);
                    kpf_lrnn_terms tm;
                    if ((rc = kpf_lrnn_terms_build(&sp, T, 0, &tm, err)))
                        break;
                    kpf_lrnn_final f;
                    kpf_error e2;
                    if (kpf_lrnn_train_modes(&tm, init, init, init, step, steps, &f, &e2))
                        f.b = f.ac = f.E = NAN; /* diverged: an unstable solution */
                    double b, u, E;
                    kpf_lrnn_global_min(&tm, b_max, 2001, &b, &u, &E, err);
                    kpf_lrnn_terms_free(&tm);
                    xs[i] = x;
                    bg[i] = f.b;
                    bm[i] = b;
                    fprintf(fp, "%.10g %.10g %.10g %.10g %.10g %.10g %.10g\n", x, f.b, f.ac,
                            f.E, b, u, E);
                }
                fprintf(fp, "\n\n");
                double sg, sm;
                double xg = jump_at(xs, bg, P->n, &sg), xm = jump_at(xs, bm, P->n, &sm);
                kpf_json_object_begin(&j);
                kpf_json_key(&j, "T");
                kpf_json_uint(&j, T);
                kpf_json_key(&j, "kappa");
                kpf_json_double(&j, P->kappa[ik]);
                kpf_json_key(&j, "x_jump_gd");
                kpf_json_double(&j, xg);
                kpf_json_key(&j, "jump_size_gd");
                kpf_json_double(&j, sg);
                kpf_json_key(&j, "x_jump_global_min");
                kpf_json_double(&j, xm);
                kpf_json_key(&j, "jump_size_global_min");
                kpf_json_double(&j, sm);
                kpf_json_object_end(&j);
                for (int row = 0; row < 2 && !rc; row++) {
                    char *s = plots[row][p];
                    size_t used = strlen(s);
                    if (used > 8192 - 400) {
                        rc = kpf_error_set(err, KPF_ECONFIG,
                                           "phase panel %zu: too many curves (T × kappa) to "
                                           "plot", p);
                        break;
                    }
                    char label[64];
                    if (P->sweep == SW_KAPPA)
                        snprintf(label, sizeof label, "T=%zu", T);
                    else
                        snprintf(label, sizeof label, "T=%zu k=%g", T, P->kappa[ik]);
                    snprintf(s + used, 8192 - used,
                             "%s'fig4.dat' index %zu u 1:(%s($%d)) w lp pt 7 ps 0.4 lw 1.5 "
                             "lc %zu t '%s', '' index %zu u 1:(%s($%d)) w l dt 3 lc %zu "
                             "notitle",
                             used ? ", " : "", block, row ? "" : "abs", row ? 3 : 2,
                             it + 1 + 4 * ik, label, block, row ? "" : "abs", row ? 6 : 5,
                             it + 1 + 4 * ik);
                }
                block++;
            }
        kpf_json_array_end(&j);
        kpf_json_object_end(&j);
    }
    kpf_json_array_end(&j);
    fclose(fp);
    /* verification: train the `modes` plugin at a few grid points */
    if (!rc && verify) {
        for (size_t p = 0; p < np && !rc; p++)
            for (size_t v = 0; v < verify && !rc; v++) {
                const panel *P = &pn[p];
                double x = P->from + (P->to - P->from) * (double)(v + 1) / (double)(verify + 1);
                const size_t T = (size_t)Ts[0];
                kpf_lrnn_mode_spec sp = panel_spec(P, x, P->kappa[0]);
                char yaml[1024];
                snprintf(yaml, sizeof yaml,
                         "name: lrnn_svd\nn_in: 1\nn_out: 1\nT: %zu\ndynamics: %s\n"
                         "delta: %.17g\nlambda: %.17g\nkappa: %.17g\nbeta: %.17g\n",
                         T, kpf_lrnn_dynamics_names[P->dyn], creal(sp.delta),
                         creal(sp.lambda), creal(sp.kappa), creal(sp.beta));
                kpf_config *tc = NULL;
                kpf_task *t = NULL;
                kpf_model *m = NULL;
                rc = kpf_config_load_string(yaml, "verify-task", &tc, err);
                if (!rc) rc = kpf_lrnn_task_create(kpf_config_root(tc), &t, err);
                kpf_lrnn_config lc; /* one aligned mode, all = init, no noise */
                kpf_lrnn_config_default(KPF_LRNN_MODES, 1, 1, &lc);
                lc.a0 = lc.b0 = lc.c0 = init;
                lc.mode_noise = 0;
                if (!rc) rc = kpf_lrnn_model_typed(c->plugin, NULL, &lc, 1, 1, T, 0, &m, err);
                kpf_train_opts o;
                kpf_train_opts_default(&o);
                o.iterations = steps;
                o.batch = o.eval_trials = T;
                o.eval_every = steps;
                o.optimizer = KPF_OPTIM_SGD;
                o.lr = step * (double)T / 2.0;
                kpf_train_history h = {0};
                kpf_error e2;
                int trc = rc ? rc : kpf_train(m, t, &o, NULL, NULL, &h, &e2);
                kpf_train_history_free(&h);
                if (!rc && !trc) {
                    kpf_lrnn_terms tm;
                    kpf_lrnn_final f;
                    kpf_lrnn_terms_build(&sp, T, 0, &tm, err);
                    if (!kpf_lrnn_train_modes(&tm, init, init, init, step, steps, &f, &e2)) {
                        const double *th = m->theta; /* θ by its named blocks */
                        double bt = th[kpf_model_block(m, "b")->offset];
                        double act = th[kpf_model_block(m, "a")->offset] *
                                     th[kpf_model_block(m, "c")->offset];
                        verify_worst = fmax(verify_worst, fmax(fabs(bt - f.b), fabs(act - f.ac)));
                    }
                    kpf_lrnn_terms_free(&tm);
                }
                kpf_model_free(m);
                kpf_task_free(t);
                kpf_config_free(tc);
            }
    }
    kpf_json_key(&j, "verify_max_abs_difference_modes_plugin_vs_reduced_gd");
    kpf_json_double(&j, verify ? verify_worst : NAN);
    kpf_json_end(&j);
    fclose(js);
    free(xs);
    free(bg);
    free(bm);
    if (rc)
        return rc;
    const size_t cap = sizeof plots + 4096;
    char *body = malloc(cap);
    if (!body)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    size_t len = (size_t)snprintf(body, cap, "set multiplot layout 2,%zu\nset grid\nset key top "
                                             "left font ',8'\n",
                                  np);
    for (int row = 0; row < 2; row++)
        for (size_t p = 0; p < np; p++)
            len += (size_t)snprintf(body + len, cap - len,
                                    "set title '%s: %s (points: gradient descent from init; "
                                    "dotted: global minimum)' font ',9'\nset xlabel '%s'\n"
                                    "set ylabel '%s'\nplot %s\n",
                                    kpf_lrnn_dynamics_names[pn[p].dyn], row ? "ac" : "b",
                                    sweep_names[pn[p].sweep],
                                    row ? "ac (final)" : "|b| (final)", plots[row][p]);
    snprintf(body + len, cap - len, "unset multiplot\n");
    char size[32];
    snprintf(size, sizeof size, "%zu,900", 520 * np);
    rc = kpf_plot_script(c->dir, "fig4", size, err, "%s", body);
    free(body);
    return rc;
}

