/* Fig. 5 of Proca et al.: kernel distance of the output NTK over T and
 * initialisation scale (eq. 135). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kpf/json.h"
#include "kpf/rng.h"
#include "lrnn_exp_internal.h"

/* ---- Fig. 5: kernel distance over T and init scale ------------------------------- */

int kpf_lrnn_fig_ntk(kpf_lrnn_ctx *c, kpf_error *err)
{
    double Ts[32], sc[32], step, time;
    size_t nT, ns, na, P0;
    int al[2];
    static const char *const al_names[] = {"aligned", "unaligned", NULL};
    int rc = kpf_lrnn_num_list(c->lr, "T", 32, Ts, &nT, err);
    if (!rc) rc = kpf_lrnn_num_list(c->lr, "scale", 32, sc, &ns, err);
    if (!rc) rc = kpf_lrnn_name_list(c->lr, "alignment", al_names, al, 2, &na, err);
    if (!rc && na == 0) {
        al[0] = 0;
        al[1] = 1;
        na = 2;
    }
    if (!rc) rc = kpf_cfg_double(c->lr, "step", 0, 0.01, 1e-9, 10, &step, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "time", 0, 50, 0, 1e9, &time, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "extra_trials", 0, 0, 0, 1u << 20, &P0, err);
    for (size_t i = 0; !rc && i < nT; i++)
        if (Ts[i] < 1 || Ts[i] > KPF_LRNN_MAX_T || Ts[i] != floor(Ts[i]))
            rc = kpf_node_error(kpf_node_get(c->lr, "T"), err,
                                "T must be whole numbers from 1 to %d", KPF_LRNN_MAX_T);
    for (size_t i = 0; !rc && i < ns; i++) /* model.sigma's range or model.mode_init's */
        if (!(sc[i] >= 0 && sc[i] <= 1e6))
            rc = kpf_node_error(kpf_node_get(c->lr, "scale"), err,
                                "scale %g is out of range [0, 1e6]", sc[i]);
    /* validate task and model once */
    kpf_task *t = NULL;
    kpf_model *m = NULL;
    if (!rc) rc = kpf_lrnn_make_task(c, &t, err);
    if (!rc) rc = kpf_lrnn_make_model(c, t, t->T * t->n_in, &m, err);
    kpf_model_free(m);
    kpf_task_free(t);
    m = NULL;
    t = NULL;
    if (!rc) rc = kpf_config_check_unused(c->cfg, err);
    if (rc || c->check_only)
        return rc;
    FILE *fp = kpf_plot_open(c->dir, "fig5.dat", err);
    if (!fp)
        return KPF_EIO;
    fprintf(fp, "# Proca et al. Fig. 5: kernel distance D (eq. 135) of the output NTK "
                "between initialisation and the end of training (%g units of t_theta/tau, "
                "step %g)\n",
            time, step);
    double Dg[2][32][32];
    for (size_t ia = 0; ia < na && !rc; ia++) {
        fprintf(fp, "# alignment %s\n# T scale D final_loss scale_index\n", al_names[al[ia]]);
        for (size_t it = 0; it < nT && !rc; it++) {
            for (size_t is = 0; is < ns && !rc; is++) {
                const size_t T = (size_t)Ts[it];
                rc = kpf_lrnn_setf(c->cfg, err, "task.T=%zu", T);
                if (!rc) rc = kpf_lrnn_make_task(c, &t, err);
                const size_t Pn = rc ? 0 : t->T * t->n_in + P0;
                kpf_lrnn_config lc; /* the model map, then this cell's init */
                if (!rc) rc = kpf_lrnn_model_config(c, t, &lc, err);
                if (!rc && al[ia]) {
                    lc.alignment = KPF_LRNN_UNALIGNED;
                    lc.sigma = sc[is];
                } else if (!rc) {
                    lc.alignment = KPF_LRNN_ALIGNED;
                    lc.a0 = lc.b0 = lc.c0 = sc[is];
                }
                if (!rc) rc = kpf_lrnn_make_model_typed(c, t, Pn, &lc, &m, err);
                kpf_task_batch *bt = NULL;
                gsl_rng *er = NULL;
                double *K0 = NULL, *K1 = NULL, D = NAN, L = NAN;
                size_t nr;
                if (!rc) rc = kpf_rng_alloc(c->seed, KPF_RNG_EVAL, &er, err);
                if (!rc) rc = kpf_task_batch_alloc(t, Pn, &bt, err);
                if (!rc) rc = kpf_task_generate(t, er, bt, err);
                if (!rc) rc = kpf_lrnn_output_ntk(m, bt, NULL, &K0, &nr, err);
                if (!rc) {
                    kpf_train_opts o;
                    kpf_train_opts_default(&o);
                    o.iterations = (size_t)llround(time / step);
                    o.batch = o.eval_trials = Pn;
                    o.eval_every = o.iterations ? o.iterations : 1;
                    o.optimizer = KPF_OPTIM_SGD;
                    o.lr = step * (double)Pn * (double)t->n_out / 2.0;
                    o.seed = c->seed;
                    kpf_train_history h = {0};
                    kpf_error e2;
                    int trc = kpf_train(m, t, &o, NULL, NULL, &h, &e2);
                    if (!trc && h.n_eval)
                        L = h.eval_loss[h.n_eval - 1];
                    kpf_train_history_free(&h);
                    if (!trc && kpf_lrnn_output_ntk(m, bt, NULL, &K1, &nr, &e2) == KPF_OK)
                        D = kpf_kernel_distance(K0, K1, nr);
                }
                if (!rc) {
                    fprintf(fp, "%zu %.6g %.10g %.10g %zu\n", T, sc[is], D, L, is);
                    Dg[ia][it][is] = D;
                }
                free(K0);
                free(K1);
                kpf_task_batch_free(bt);
                if (er)
                    gsl_rng_free(er);
                kpf_model_free(m);
                kpf_task_free(t);
                m = NULL;
                t = NULL;
            }
            fprintf(fp, "\n");
        }
        fprintf(fp, "\n");
    }
    fclose(fp);
    if (rc)
        return rc;
    FILE *js = kpf_plot_open(c->dir, "summary.json", err);
    if (!js)
        return KPF_EIO;
    kpf_json j;
    kpf_json_begin(&j, js);
    kpf_json_key(&j, "figure");
    kpf_json_string(&j, "Proca et al. Fig. 5: kernel distance vs T and init scale");
    for (size_t ia = 0; ia < na; ia++) {
        kpf_json_key(&j, al_names[al[ia]]);
        kpf_json_object_begin(&j);
        kpf_json_key(&j, "T");
        kpf_json_array_begin(&j);
        for (size_t it = 0; it < nT; it++)
            kpf_json_double(&j, Ts[it]);
        kpf_json_array_end(&j);
        kpf_json_key(&j, "scale");
        kpf_json_array_begin(&j);
        for (size_t is = 0; is < ns; is++)
            kpf_json_double(&j, sc[is]);
        kpf_json_array_end(&j);
        kpf_json_key(&j, "D");
        kpf_json_array_begin(&j);
        for (size_t it = 0; it < nT; it++) {
            kpf_json_array_begin(&j);
            for (size_t is = 0; is < ns; is++)
                kpf_json_double(&j, Dg[ia][it][is]);
            kpf_json_array_end(&j);
        }
        kpf_json_array_end(&j);
        kpf_json_object_end(&j);
    }
    kpf_json_end(&j);
    fclose(js);
    char body[8192] = "", tics[2048] = "";
    for (size_t is = 0; is < ns; is++)
        snprintf(tics + strlen(tics), sizeof tics - strlen(tics), "%s'%g' %zu", is ? ", " : "",
                 sc[is], is);
    snprintf(body, sizeof body,
             "set multiplot layout 1,%zu\nset xlabel 'trajectory length T'\nset ylabel 'init "
             "scale'\nset cblabel 'kernel distance D'\nset cbrange [0:1]\nset palette "
             "defined (0 '#ffffff', 0.5 '#fdae61', 1 '#d7191c')\nset ytics (%s)\n"
             "set xtics 1\nset offsets 0.5,0.5,0.5,0.5\n",
             na, tics);
    for (size_t ia = 0; ia < na; ia++)
        snprintf(body + strlen(body), sizeof body - strlen(body),
                 "set title '%s (NaN: diverged)'\nplot 'fig5.dat' index %zu u 1:5:3 w image "
                 "notitle, '' index %zu u 1:5:(sprintf('%%.2f',abs($3))) w labels font ',8' "
                 "notitle\n",
                 al_names[al[ia]], ia, ia);
    strcat(body, "unset multiplot\n");
    char size[32];
    snprintf(size, sizeof size, "%zu,520", 600 * na);
    return kpf_plot_script(c->dir, "fig5", size, err, "%s", body);
}

