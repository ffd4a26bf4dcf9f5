/* Fig. 2 of Proca et al.: learning curves of the connectivity modes of a
 * trained network against the reduced ODE (eqs. 5–7). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kpf/json.h"
#include "kpf/rng.h"
#include "lrnn_exp_internal.h"

static size_t scored_per_trial(const kpf_task *t, int all_outputs)
{
    return all_outputs ? t->T : 1;
}


/* ---- Fig. 2: mode learning curves against the reduced ODE ------------------- */

typedef struct fig2_rec {
    size_t every, n, cap, d;
    double *v; /* per record: iteration, then (a, b, c) per mode */
    double *U, *V, *R;
    uint64_t seed;
    int modes_param;
} fig2_rec;

static int fig2_hook(void *p, kpf_model *m, size_t iter, kpf_error *err)
{
    fig2_rec *r = p;
    if (iter % r->every)
        return KPF_OK;
    const size_t w = 1 + 3 * r->d;
    int rc = kpf_lrnn_rows_reserve(&r->v, r->n, &r->cap, w, err);
    if (rc)
        return rc;
    kpf_lrnn_net net;
    rc = kpf_lrnn_net_from_model(m, &net, err);
    if (rc)
        return rc;
    double a[64], b[64], cc[64];
    rc = kpf_lrnn_extract_modes(&net, r->U, r->V, r->R, r->d, a, b, cc, NULL, err);
    kpf_lrnn_net_free(&net);
    if (rc)
        return rc;
    double *row = r->v + r->n++ * w;
    row[0] = (double)iter;
    for (size_t k = 0; k < r->d; k++) {
        row[1 + 3 * k] = a[k];
        row[2 + 3 * k] = b[k];
        row[3 + 3 * k] = cc[k];
    }
    return KPF_OK;
}

static double half_time(const double *t, const double *v, size_t n, size_t stride)
{
    double v0 = v[0], v1 = v[(n - 1) * stride], half = 0.5 * (v0 + v1);
    for (size_t i = 1; i < n; i++) {
        double x0 = v[(i - 1) * stride], x1 = v[i * stride];
        if ((x0 - half) * (x1 - half) <= 0 && x1 != x0)
            return t[i - 1] + (half - x0) / (x1 - x0) * (t[i] - t[i - 1]);
    }
    return NAN;
}

int kpf_lrnn_fig_modes(kpf_lrnn_ctx *c, kpf_error *err)
{
    kpf_task *t = NULL;
    kpf_model *m = NULL;
    fig2_rec r = {0};
    double *th = NULL, *tt = NULL;
    kpf_lrnn_svd_setup su;
    double step, time;
    size_t every, batch;
    int rc = kpf_lrnn_make_task(c, &t, err);
    if (!rc && strcmp(t->type->name, "lrnn_svd"))
        rc = kpf_node_error(kpf_node_get(kpf_node_get(c->root, "task"), "name"), err,
                            "figure modes needs task lrnn_svd");
    if (!rc) rc = kpf_lrnn_svd_setup_read(kpf_node_get(c->root, "task"), &su, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "step", 0, 0.002, 1e-9, 10, &step, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "time", 0, 12, 0, 1e7, &time, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "record_every", 0, 50, 1, 1u << 30, &every, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "batch", 0, t ? t->T * t->n_in : 1, 1, 1u << 24, &batch, err);
    if (!rc) rc = kpf_lrnn_make_model(c, t, batch, &m, err);
    if (!rc) rc = kpf_config_check_unused(c->cfg, err);
    if (!rc && su.rank > m->n)
        rc = kpf_node_error(kpf_node_get(c->root, "model"), err,
                            "the task has %zu modes, the model only %zu; raise model.n",
                            su.rank, m->n);
    if (rc || c->check_only)
        goto done;
    const size_t d = su.rank, ni = t->n_in, no = t->n_out, n = m->n;
    const int modes_param = kpf_model_block(m, "a") != NULL;
    r = (fig2_rec){.every = every, .d = d, .seed = kpf_lrnn_model_basis_seed(m),
                   .modes_param = modes_param};
    r.U = malloc(no * no * sizeof(double));
    r.V = malloc(ni * ni * sizeof(double));
    r.R = calloc(n * n, sizeof(double));
    if (!r.U || !r.V || !r.R) {
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
        goto done;
    }
    kpf_lrnn_orthogonal(r.seed, KPF_LRNN_U, no, r.U, err);
    kpf_lrnn_orthogonal(r.seed, KPF_LRNN_V, ni, r.V, err);
    if (modes_param)
        for (size_t i = 0; i < n; i++)
            r.R[i * n + i] = 1.0;
    else
        kpf_lrnn_orthogonal(r.seed, KPF_LRNN_R, n, r.R, err);
    const double M = (double)(batch * scored_per_trial(t, su.all_outputs));
    const double lr = step * M * (double)no / 2.0; /* Δ(t_θ/τ) = 2η/(M N_y) */
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    o.iterations = (size_t)llround(time / step);
    o.batch = o.eval_trials = batch;
    o.eval_every = o.iterations ? o.iterations : 1;
    o.optimizer = KPF_OPTIM_SGD;
    o.lr = lr;
    o.seed = c->seed;
    kpf_train_history h = {0};
    rc = kpf_train(m, t, &o, fig2_hook, &r, &h, err);
    kpf_train_history_free(&h);
    if (rc)
        goto done;
    /* theory: RK4 from the first record's modes, sampled at the records */
    const size_t w = 1 + 3 * d;
    th = malloc(r.n * 3 * d * sizeof *th);
    tt = malloc(r.n * sizeof *tt);
    if (!th || !tt) {
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
        goto done;
    }
    double worst = 0;
    for (size_t k = 0; k < d && !rc; k++) {
        kpf_lrnn_terms tm;
        if ((rc = kpf_lrnn_terms_build(&su.spec[k], su.T, su.all_outputs, &tm, err)))
            break;
        double y[3] = {r.v[1 + 3 * k], r.v[2 + 3 * k], r.v[3 + 3 * k]};
        for (size_t s = 0; s < r.n && !rc; s++) {
            if (s)
                rc = kpf_lrnn_flow(&tm, KPF_LRNN_RK4, step,
                                   (size_t)(r.v[s * w] - r.v[(s - 1) * w]), 0, y, NULL, err);
            memcpy(th + (s * d + k) * 3, y, sizeof y);
            const double *sim = r.v + s * w + 1 + 3 * k;
            worst = fmax(worst, fabs(y[1] - sim[1]));
            worst = fmax(worst, fabs(y[0] * y[2] - sim[0] * sim[2]));
        }
        kpf_lrnn_terms_free(&tm);
    }
    if (rc)
        goto done;
    for (size_t s = 0; s < r.n; s++)
        tt[s] = r.v[s * w] * step;
    FILE *fp = kpf_plot_open(c->dir, "fig2.dat", err);
    if (!fp) {
        rc = KPF_EIO;
        goto done;
    }
    fprintf(fp, "# Proca et al. Fig. 2: learning curves of the connectivity modes\n"
                "# time = t_theta/tau (step %g per SGD iteration, lr %g)\n# iteration time",
            step, lr);
    for (size_t k = 0; k < d; k++)
        fprintf(fp, " ac%zu_sim b%zu_sim ac%zu_theory b%zu_theory", k, k, k, k);
    fprintf(fp, "\n");
    for (size_t s = 0; s < r.n; s++) {
        fprintf(fp, "%.0f %.10g", r.v[s * w], tt[s]);
        for (size_t k = 0; k < d; k++) {
            const double *sim = r.v + s * w + 1 + 3 * k, *y = th + (s * d + k) * 3;
            fprintf(fp, " %.12g %.12g %.12g %.12g", sim[0] * sim[2], sim[1], y[0] * y[2], y[1]);
        }
        fprintf(fp, "\n");
    }
    fclose(fp);
    /* ac and b half times, sim and theory; final values and zero-loss points */
    double *acs = malloc(r.n * 4 * sizeof *acs);
    if (!acs) {
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
        goto done;
    }
    fp = kpf_plot_open(c->dir, "summary.json", err);
    if (!fp) {
        free(acs);
        rc = KPF_EIO;
        goto done;
    }
    kpf_json j;
    kpf_json_begin(&j, fp);
    kpf_json_key(&j, "figure");
    kpf_json_string(&j, "Proca et al. Fig. 2 / App. E: mode learning curves vs theory");
    kpf_json_key(&j, "max_abs_difference_sim_vs_ode");
    kpf_json_double(&j, worst);
    kpf_json_key(&j, "modes");
    kpf_json_array_begin(&j);
    for (size_t k = 0; k < d; k++) {
        for (size_t s = 0; s < r.n; s++) {
            const double *sim = r.v + s * w + 1 + 3 * k, *y = th + (s * d + k) * 3;
            acs[s * 4 + 0] = sim[0] * sim[2];
            acs[s * 4 + 1] = sim[1];
            acs[s * 4 + 2] = y[0] * y[2];
            acs[s * 4 + 3] = y[1];
        }
        double zb = NAN, zac = NAN;
        kpf_error e2;
        kpf_lrnn_zero_loss_point(&su.spec[k], su.T, su.all_outputs, &zb, &zac, &e2);
        kpf_json_object_begin(&j);
        kpf_json_key(&j, "delta");
        kpf_json_double(&j, creal(su.spec[k].delta));
        kpf_json_key(&j, "lambda");
        kpf_json_double(&j, creal(su.spec[k].lambda));
        kpf_json_key(&j, "zero_loss_b");
        kpf_json_double(&j, zb);
        kpf_json_key(&j, "zero_loss_ac");
        kpf_json_double(&j, zac);
        static const char *const nm[4] = {"ac_sim", "b_sim", "ac_theory", "b_theory"};
        for (int q = 0; q < 4; q++) {
            char key[64];
            snprintf(key, sizeof key, "final_%s", nm[q]);
            kpf_json_key(&j, key);
            kpf_json_double(&j, acs[(r.n - 1) * 4 + q]);
            snprintf(key, sizeof key, "half_time_%s", nm[q]);
            kpf_json_key(&j, key);
            kpf_json_double(&j, half_time(tt, acs + q, r.n, 4));
        }
        kpf_json_object_end(&j);
    }
    kpf_json_array_end(&j);
    kpf_json_end(&j);
    fclose(fp);
    free(acs);
    /* plot: ac and b against time, simulation solid, theory dashed */
    char plot_ac[4096] = "", plot_b[4096] = "";
    static const char *const col[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b"};
    for (size_t k = 0; k < d; k++) {
        size_t base = 3 + 4 * k;
        const char *cl = col[k % 6];
        snprintf(plot_ac + strlen(plot_ac), sizeof plot_ac - strlen(plot_ac),
                 "%s'fig2.dat' u 2:%zu w l lw 2 lc rgb '%s' t 'mode %zu (delta %.3g, lambda "
                 "%.3g) sim', '' u 2:%zu w l dt 2 lw 2 lc rgb '#000000' t '%s'",
                 k ? ", " : "", base, cl, k, creal(su.spec[k].delta),
                 creal(su.spec[k].lambda), base + 2, k ? "" : "theory");
        snprintf(plot_b + strlen(plot_b), sizeof plot_b - strlen(plot_b),
                 "%s'fig2.dat' u 2:%zu w l lw 2 lc rgb '%s' t 'mode %zu sim', '' u 2:%zu w l "
                 "dt 2 lw 2 lc rgb '#000000' t '%s'",
                 k ? ", " : "", base + 1, cl, k, base + 3, k ? "" : "theory");
    }
    rc = kpf_plot_script(c->dir, "fig2", "1200,500", err,
                 "set multiplot layout 1,2\nset grid\nset key bottom right\n"
                 "set xlabel 't_theta / tau'\nset ylabel 'ac (input-output modes)'\n"
                 "plot %s\nset ylabel 'b (recurrent mode)'\nplot %s\nunset multiplot\n",
                 plot_ac, plot_b);
done:
    free(th);
    free(tt);
    free(r.v);
    free(r.U);
    free(r.V);
    free(r.R);
    kpf_model_free(m);
    kpf_task_free(t);
    return rc;
}

