/* Fig. 6 of Proca et al.: sensory integration (sum vs mean), solutions
 * and extrapolation (§3.6). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kpf/json.h"
#include "kpf/rng.h"
#include "lrnn_exp_internal.h"

/* ---- Fig. 6: sensory integration, solutions and extrapolation ------------------- */

typedef struct sv_rec {
    size_t every, n, cap, k;
    double *v; /* iteration, k SVs of W_h, k SVs of W_y W_x */
} sv_rec;

static int sv_hook(void *p, kpf_model *m, size_t iter, kpf_error *err)
{
    sv_rec *r = p;
    if (iter % r->every)
        return KPF_OK;
    const size_t w = 1 + 2 * r->k;
    int rc = kpf_lrnn_rows_reserve(&r->v, r->n, &r->cap, w, err);
    if (rc)
        return rc;
    kpf_lrnn_net net;
    rc = kpf_lrnn_net_from_model(m, &net, err);
    if (rc)
        return rc;
    const size_t ni = net.n_in, nh = net.n_h, no = net.n_out;
    double *YX = malloc(no * ni * sizeof *YX), s[4096];
    if (!YX) {
        kpf_lrnn_net_free(&net);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    }
    for (size_t o = 0; o < no; o++)
        for (size_t i = 0; i < ni; i++) {
            double acc = 0;
            for (size_t h = 0; h < nh; h++)
                acc += net.Wy[o * nh + h] * net.Wx[h * ni + i];
            YX[o * ni + i] = acc;
        }
    double *row = r->v + r->n * w;
    row[0] = (double)iter;
    rc = kpf_lrnn_svals(net.Wh, nh, nh, s, err);
    for (size_t i = 0; !rc && i < r->k; i++)
        row[1 + i] = i < nh ? s[i] : NAN;
    if (!rc) rc = kpf_lrnn_svals(YX, no, ni, s, err);
    for (size_t i = 0; !rc && i < r->k; i++)
        row[1 + r->k + i] = i < (no < ni ? no : ni) ? s[i] : NAN;
    free(YX);
    kpf_lrnn_net_free(&net);
    if (!rc)
        r->n++;
    return rc;
}

int kpf_lrnn_fig_integration(kpf_lrnn_ctx *c, kpf_error *err)
{
    static const char *const op_names[] = {"sum", "mean", NULL};
    int ops[2];
    size_t nops, tfrom, tto, trials, every;
    int rc = kpf_lrnn_name_list(c->lr, "ops", op_names, ops, 2, &nops, err);
    if (!rc && !nops) {
        ops[0] = 0;
        ops[1] = 1;
        nops = 2;
    }
    if (!rc) rc = kpf_cfg_size(c->lr, "T_test_from", 0, 1, 1, 1u << 20, &tfrom, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "T_test_to", 0, 20, 1, 1u << 20, &tto, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "test_trials", 0, 512, 1, 1u << 24, &trials, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "record_every", 0, 20, 1, 1u << 30, &every, err);
    const kpf_node *tn = kpf_node_get(c->root, "task"), *trn = kpf_node_get(c->root, "train");
    size_t T0 = 10;
    double signal = 1, noise = 0.5;
    if (!rc) rc = kpf_cfg_size(tn, "T", 0, 10, 1, 1u << 20, &T0, err);
    if (!rc) rc = kpf_cfg_double(tn, "signal", 0, 1.0, 0, HUGE_VAL, &signal, err);
    if (!rc) rc = kpf_cfg_double(tn, "noise", 0, 0.5, 0, HUGE_VAL, &noise, err);
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    if (!rc) rc = kpf_train_opts_from_config(trn, &o, err);
    o.seed = c->seed;
    kpf_task *t = NULL;
    kpf_model *m = NULL;
    if (!rc) rc = kpf_lrnn_make_task(c, &t, err);
    if (!rc && strcmp(t->type->name, "lrnn_integration"))
        rc = kpf_node_error(kpf_node_get(tn, "name"), err,
                            "figure integration needs task lrnn_integration");
    if (!rc && tfrom > tto)
        rc = kpf_node_error(kpf_node_get(c->lr, "T_test_to"), err,
                            "T_test_to (%zu) is below T_test_from (%zu)", tto, tfrom);
    if (!rc) rc = kpf_lrnn_make_model(c, t, o.batch, &m, err);
    kpf_model_free(m);
    kpf_task_free(t);
    m = NULL;
    t = NULL;
    if (!rc) rc = kpf_config_check_unused(c->cfg, err);
    if (rc || c->check_only) {
        kpf_train_opts_clear(&o);
        return rc;
    }
    FILE *fe = kpf_plot_open(c->dir, "fig6_extrapolation.dat", err);
    FILE *fs = fe ? kpf_plot_open(c->dir, "fig6_svals.dat", err) : NULL;
    FILE *js = fs ? kpf_plot_open(c->dir, "summary.json", err) : NULL;
    if (!js) {
        if (fe) fclose(fe);
        if (fs) fclose(fs);
        kpf_train_opts_clear(&o);
        return KPF_EIO;
    }
    kpf_json j;
    kpf_json_begin(&j, js);
    kpf_json_key(&j, "figure");
    kpf_json_string(&j, "Proca et al. Fig. 6: sensory integration (sum vs mean)");
    kpf_json_key(&j, "T_train");
    kpf_json_uint(&j, T0);
    size_t k = 0;
    for (size_t io = 0; io < nops && !rc; io++) {
        const int mean = ops[io];
        sv_rec r = {.every = every};
        rc = kpf_lrnn_setf(c->cfg, err, "task.op=%s", op_names[mean]);
        if (!rc) rc = kpf_lrnn_setf(c->cfg, err, "task.T=%zu", T0);
        if (!rc) rc = kpf_lrnn_make_task(c, &t, err);
        if (!rc) rc = kpf_lrnn_make_model(c, t, o.batch, &m, err);
        if (!rc) {
            r.k = k = m->n > t->n_in ? m->n : t->n_in;
            kpf_train_history h = {0};
            rc = kpf_train(m, t, &o, sv_hook, &r, &h, err);
            if (!rc) {
                kpf_json_key(&j, op_names[mean]);
                kpf_json_object_begin(&j);
                kpf_json_key(&j, "final_train_loss");
                kpf_json_double(&j, h.n_iter ? h.loss[h.n_iter - 1] : NAN);
            }
            kpf_train_history_free(&h);
        }
        kpf_task_free(t);
        t = NULL;
        if (!rc) {
            fprintf(fs, "# op %s: iteration, SVs of W_h (%zu), SVs of W_y W_x (%zu); theory: "
                        "b -> 1, ac -> %s\n",
                    op_names[mean], k, k, mean ? "1/T" : "1");
            for (size_t s = 0; s < r.n; s++) {
                for (size_t q = 0; q < 1 + 2 * k; q++)
                    fprintf(fs, "%s%.10g", q ? " " : "", r.v[s * (1 + 2 * k) + q]);
                fprintf(fs, "\n");
            }
            fprintf(fs, "\n\n");
            const double *last = r.v + (r.n - 1) * (1 + 2 * k);
            kpf_json_key(&j, "final_svals_W_h");
            kpf_json_array_begin(&j);
            for (size_t q = 0; q < k; q++)
                kpf_json_double(&j, last[1 + q]);
            kpf_json_array_end(&j);
            kpf_json_key(&j, "final_svals_WyWx");
            kpf_json_array_begin(&j);
            for (size_t q = 0; q < k; q++)
                kpf_json_double(&j, last[1 + k + q]);
            kpf_json_array_end(&j);
            fprintf(fe, "# op %s: T_test loss theory (trained at T = %zu; theory for b = 1, "
                        "ac = %s exactly)\n",
                    op_names[mean], T0, mean ? "1/T" : "1");
            kpf_json_key(&j, "extrapolation");
            kpf_json_array_begin(&j);
            gsl_rng *er = NULL;
            rc = kpf_rng_alloc(c->seed, KPF_RNG_EVAL, &er, err);
            for (size_t T = tfrom; T <= tto && !rc; T++) {
                rc = kpf_lrnn_setf(c->cfg, err, "task.T=%zu", T);
                if (!rc) rc = kpf_lrnn_make_task(c, &t, err);
                double L = NAN;
                if (!rc) rc = kpf_lrnn_task_loss(m, t, trials, er, &L, err);
                kpf_task_free(t);
                t = NULL;
                /* mean: output (T'/T)·mean against mean, per channel
                 * E[(r−1)² (μ + ξ̄)²] = (r−1)² (signal²/3 + noise²/T') */
                double ratio = (double)T / (double)T0;
                double th = mean ? (ratio - 1) * (ratio - 1) *
                                       (signal * signal / 3.0 + noise * noise / (double)T)
                                 : 0.0;
                fprintf(fe, "%zu %.10g %.10g\n", T, L, th);
                kpf_json_array_begin(&j);
                kpf_json_double(&j, (double)T);
                kpf_json_double(&j, L);
                kpf_json_double(&j, th);
                kpf_json_array_end(&j);
            }
            if (er)
                gsl_rng_free(er);
            kpf_json_array_end(&j);
            kpf_json_object_end(&j);
            fprintf(fe, "\n\n");
        }
        free(r.v);
        kpf_model_free(m);
        m = NULL;
    }
    kpf_json_end(&j);
    fclose(js);
    fclose(fe);
    fclose(fs);
    kpf_train_opts_clear(&o);
    if (rc)
        return rc;
    char body[16384] = "", sv[4096] = "";
    for (size_t q = 0; q < k; q++)
        snprintf(sv + strlen(sv), sizeof sv - strlen(sv),
                 "%s'fig6_svals.dat' index IDX u 1:%zu w l lw 2 lc rgb '#1f77b4' %s, '' index "
                 "IDX u 1:%zu w l lw 2 lc rgb '#d62728' %s",
                 q ? ", " : "", 2 + q, q ? "notitle" : "t 'SVs of W_h'", 2 + k + q,
                 q ? "notitle" : "t 'SVs of W_y W_x'");
    snprintf(body, sizeof body, "set multiplot layout 2,%zu\nset grid\n", nops);
    for (size_t io = 0; io < nops; io++) {
        char svp[4096], *s = sv, *d = svp;
        while (*s) { /* replace IDX by the block index */
            if (!strncmp(s, "IDX", 3)) {
                d += sprintf(d, "%zu", io);
                s += 3;
            } else {
                *d++ = *s++;
            }
        }
        *d = '\0';
        snprintf(body + strlen(body), sizeof body - strlen(body),
                 "set title '%s integration (trained at T = %zu)'\nset xlabel 'iteration'\n"
                 "set ylabel 'singular value'\nset key right center\nplot %s, 1 dt 2 lc "
                 "rgb '#000000' t 'theory b = 1', %g dt 3 lc rgb '#000000' t 'theory ac = "
                 "%s'\n",
                 op_names[ops[io]], T0, svp, ops[io] ? 1.0 / (double)T0 : 1.0,
                 ops[io] ? "1/T" : "1");
    }
    for (size_t io = 0; io < nops; io++)
        snprintf(body + strlen(body), sizeof body - strlen(body),
                 "set title '%s: extrapolation'\nset xlabel 'test length T'\nset ylabel "
                 "'MSE'\nset key top left\nplot 'fig6_extrapolation.dat' index %zu u 1:2 w lp "
                 "pt 7 lw 2 t 'network', '' index %zu u 1:3 w l dt 2 lc rgb '#000000' t "
                 "'theory'\n",
                 op_names[ops[io]], io, io);
    strcat(body, "unset multiplot\n");
    char size[32];
    snprintf(size, sizeof size, "%zu,900", 600 * nops);
    return kpf_plot_script(c->dir, "fig6", size, err, "%s", body);
}

