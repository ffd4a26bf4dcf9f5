/* The `linear_theory:` study (kpf/delta_w.h; docs/delta_w.md): Schuessler
 * et al.'s Fig. 4 as a sweep of kpf_dw_linear_theory over g × seeds, with
 * every quantity normalised by its g = 0 mean and set beside the
 * first-order theory (notes/seed-schuessler.md §6, §7.1).
 *
 * Seeds: repeat r runs with seed + r at every g.  kpf_dw_linear_theory draws
 * W₀ first, entry by entry with gsl_ran_gaussian(rng, g/√N), whose polar
 * Box–Muller consumes the same uniforms whatever σ, then m and w, so repeat r
 * has the same m, w and the same W̃ at every g, W₀ = g·W̃ (the paper's code
 * draws W̃ afresh per (g, sample); sharing it removes sampling noise from
 * the ratios).  The g = 0 network of repeat r is the W̃ = 0 member of the
 * same family. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"
#include "kpf/config.h"
#include "linear_theory.h"
#include "kpf/json.h"
#include "kpf/plot.h"

#define LIN_MAX_G 64
#define LIN_DEV_G_MAX 0.6 /* the summary's τ* deviation is taken over g ≤ this */

typedef struct lin_study {
    kpf_lin_opts base; /* N, zhat, eta0, max_epochs, frac; g and seed per run */
    uint64_t seed;
    size_t threads;    /* OpenBLAS threads, 0: leave as is */
    size_t seeds;
    size_t n_g, i0;    /* i0: the index of g = 0 */
    double g[LIN_MAX_G];
} lin_study;

/* Means over the seeds of one g, and their ratios to the g = 0 means. */
typedef struct lin_row {
    size_t converged;
    double tau, dw, grad, shuf, s21, s21_max;
    double tau_r, dw_r, grad_r;
} lin_row;

/* ---- config ----------------------------------------------------------------- */

static int parse_number(const kpf_node *it, double *v, kpf_error *err)
{
    const char *s = kpf_node_scalar(it);
    char *end = NULL;
    *v = s ? strtod(s, &end) : NAN;
    if (!s || !*s || *end || !isfinite(*v))
        return kpf_node_error(it, err, "expected a number (got '%s')",
                              s ? s : "a map or list");
    return KPF_OK;
}

static int g_in_range(const kpf_node *it, double g, kpf_error *err)
{
    if (!(g >= 0 && g < 1))
        return kpf_node_error(it, err,
                              "g = %g is out of range (the linear theory needs 0 ≤ g < 1)", g);
    return KPF_OK;
}

/* {linspace: [a, b, n]} (or logspace, kpf_cfg_range); the ends are checked
 * where they are written. */
static int parse_g_range(const kpf_node *gn, lin_study *s, kpf_error *err)
{
    double *x = NULL;
    int rc = kpf_cfg_range(gn, LIN_MAX_G, &x, &s->n_g, err);
    const kpf_node *args = rc ? NULL : kpf_node_at(gn, 0);
    if (!rc) rc = g_in_range(kpf_node_at(args, 0), x[0], err);
    if (!rc && s->n_g > 1) rc = g_in_range(kpf_node_at(args, 1), x[s->n_g - 1], err);
    /* rounded to 12 decimals so that 0.1 reads 0.1 in the outputs, not 0.09999… */
    for (size_t i = 0; !rc && i < s->n_g; i++)
        s->g[i] = round(x[i] * 1e12) / 1e12;
    free(x);
    return rc;
}

static int parse_g_list(const kpf_node *gn, lin_study *s, kpf_error *err)
{
    s->n_g = kpf_node_len(gn);
    if (s->n_g == 0 || s->n_g > LIN_MAX_G)
        return kpf_node_error(gn, err, "expected 1 to %d values of g", LIN_MAX_G);
    int rc = KPF_OK;
    for (size_t i = 0; i < s->n_g && !rc; i++) {
        const kpf_node *it = kpf_node_at(gn, i);
        rc = parse_number(it, &s->g[i], err);
        if (!rc) rc = g_in_range(it, s->g[i], err);
        for (size_t j = 0; j < i && !rc; j++)
            if (s->g[j] == s->g[i])
                rc = kpf_node_error(it, err, "g = %g is listed twice", s->g[i]);
    }
    return rc;
}

/* The g grid; it must hold 0, since every ratio is normalised by g = 0. */
static int parse_g(const kpf_node *lt, lin_study *s, kpf_error *err)
{
    const kpf_node *gn = kpf_node_get(lt, "g");
    if (!gn)
        return kpf_node_error(lt, err, "g: missing required key (a list of values in [0, 1) "
                                       "or {linspace: [a, b, n]})");
    int kind = kpf_node_kind(gn);
    int rc = kind == KPF_NODE_SEQ   ? parse_g_list(gn, s, err)
             : kind == KPF_NODE_MAP ? parse_g_range(gn, s, err)
                                    : kpf_node_error(gn, err, "expected a list of values or "
                                                              "{linspace: [a, b, n]}");
    if (rc)
        return rc;
    kpf_node_mark_used(gn);
    s->i0 = s->n_g;
    for (size_t i = 0; i < s->n_g; i++)
        if (s->g[i] == 0.0)
            s->i0 = i;
    if (s->i0 == s->n_g)
        return kpf_node_error(gn, err, "g = 0 is missing: every ratio is normalised by the g = 0 "
                                       "networks");
    return KPF_OK;
}

/* The whole config: top-level seed and threads, the `linear_theory:` map,
 * and nothing else. */
static int parse(kpf_config *cfg, lin_study *s, kpf_error *err)
{
    memset(s, 0, sizeof *s);
    kpf_lin_opts_default(&s->base);
    const kpf_node *root = kpf_config_root(cfg), *lt = NULL;
    kpf_lin_opts *b = &s->base;
    int rc = kpf_cfg_u64(root, "seed", 0, 0, &s->seed, err);
    if (!rc) rc = kpf_cfg_size(root, "threads", 0, 0, 0, 4096, &s->threads, err);
    if (!rc) rc = kpf_cfg_map(root, "linear_theory", KPF_CFG_REQUIRED, &lt, err);
    if (!rc) rc = kpf_cfg_size(lt, "N", 0, b->N, 2, 4096, &b->N, err);
    if (!rc) rc = parse_g(lt, s, err);
    if (!rc) rc = kpf_cfg_size(lt, "seeds", 0, 3, 1, 1000, &s->seeds, err);
    if (!rc) rc = kpf_cfg_double(lt, "zhat", 0, b->zhat, 1e-6, 1e3, &b->zhat, err);
    if (!rc) rc = kpf_cfg_double(lt, "eta0", 0, b->eta0, 1e-12, 10, &b->eta0, err);
    if (!rc) rc = kpf_cfg_size(lt, "max_epochs", 0, b->max_epochs, 1, 100000000, &b->max_epochs,
                               err);
    if (!rc) rc = kpf_cfg_double(lt, "frac", 0, b->frac, 1e-12, 1, &b->frac, err);
    if (!rc) rc = kpf_config_check_unused(cfg, err);
    return rc;
}

int kpf_dw_linear_study_check(kpf_config *cfg, const kpf_plugin *unused, kpf_error *err)
{
    (void)unused;
    lin_study s;
    return parse(cfg, &s, err);
}

/* ---- the sweep and its means ----------------------------------------------- */

/* res[ig · seeds + r]: the network of g[ig] and repeat r. */
static int sweep(const lin_study *s, kpf_lin_result *res, kpf_error *err)
{
    for (size_t ig = 0; ig < s->n_g; ig++)
        for (size_t r = 0; r < s->seeds; r++) {
            kpf_lin_opts o = s->base;
            o.g = s->g[ig];
            o.seed = s->seed + r;
            int rc = kpf_dw_linear_theory(&o, &res[ig * s->seeds + r], err);
            if (rc)
                return kpf_error_prefix(err, rc, "linear_theory, g = %g, seed %llu: ", o.g,
                                        (unsigned long long)o.seed);
        }
    return KPF_OK;
}

/* Means over the seeds (NaN τ* when a network did not converge). */
static void mean_row(const kpf_lin_result *r, size_t seeds, lin_row *row)
{
    memset(row, 0, sizeof *row);
    for (size_t k = 0; k < seeds; k++) {
        row->converged += !isnan(r[k].tau_star);
        row->tau += r[k].tau_star / (double)seeds;
        row->dw += r[k].dw_norm / (double)seeds;
        row->grad += r[k].grad_norm / (double)seeds;
        row->shuf += r[k].shuffle_loss / r[k].L0 / (double)seeds;
        double q = r[k].s[1] / r[k].s[0];
        row->s21 += q / (double)seeds;
        row->s21_max = fmax(row->s21_max, q);
    }
}

static void mean_rows(const lin_study *s, const kpf_lin_result *res, lin_row *rows)
{
    for (size_t ig = 0; ig < s->n_g; ig++)
        mean_row(res + ig * s->seeds, s->seeds, &rows[ig]);
    const lin_row *z = &rows[s->i0];
    for (size_t ig = 0; ig < s->n_g; ig++) {
        rows[ig].tau_r = rows[ig].tau / z->tau;
        rows[ig].dw_r = rows[ig].dw / z->dw;
        rows[ig].grad_r = rows[ig].grad / z->grad;
    }
}

/* First-order theory (notes §6, §7.1). */
static double th_tau(double g) { return (1 - g * g) * (1 - g * g); }
static double th_dw(double g) { return 1 - g * g; }
static double th_grad(double g) { return 1 / (1 - g * g); }
static double th_shuf(double g) { return g * g * g * g * (2 - g * g) * (2 - g * g); }

/* ---- outputs ---------------------------------------------------------------- */

static void write_networks(FILE *fp, const lin_study *s, const kpf_lin_result *res)
{
    fprintf(fp, "# index 0: one row per network\n"
                "# g seed eta L0 tau_star epochs dw_norm s1 s2 s3 grad_norm shuffle_loss/L0 "
                "proj_u proj_v\n");
    for (size_t ig = 0; ig < s->n_g; ig++)
        for (size_t r = 0; r < s->seeds; r++) {
            const kpf_lin_result *x = &res[ig * s->seeds + r];
            fprintf(fp, "%.10g %llu %.10g %.10g %.10g %zu %.10g %.10g %.10g %.10g %.10g %.10g "
                        "%.10g %.10g\n",
                    s->g[ig], (unsigned long long)(s->seed + r), x->eta, x->L0, x->tau_star,
                    x->epochs, x->dw_norm, x->s[0], x->s[1], x->s[2], x->grad_norm,
                    x->shuffle_loss / x->L0, x->proj_u, x->proj_v);
        }
}

static void write_means(FILE *fp, const lin_study *s, const lin_row *rows)
{
    fprintf(fp, "\n\n# index 1: one row per g, means over the seeds; ratios to the g = 0 means "
                "beside the first-order theory\n"
                "# g converged tau_star tau_ratio (1-g^2)^2 dw_norm dw_ratio 1-g^2 grad_norm "
                "grad_ratio beta=1/(1-g^2) shuffle_loss/L0 g^4(2-g^2)^2 s2/s1 max_s2/s1\n");
    for (size_t ig = 0; ig < s->n_g; ig++) {
        const lin_row *w = &rows[ig];
        double g = s->g[ig];
        fprintf(fp, "%.10g %zu %.10g %.10g %.10g %.10g %.10g %.10g %.10g %.10g %.10g %.10g "
                    "%.10g %.10g %.10g\n",
                g, w->converged, w->tau, w->tau_r, th_tau(g), w->dw, w->dw_r, th_dw(g), w->grad,
                w->grad_r, th_grad(g), w->shuf, th_shuf(g), w->s21, w->s21_max);
    }
}

static int write_table(const char *dir, const lin_study *s, const kpf_lin_result *res,
                       const lin_row *rows, kpf_error *err)
{
    FILE *fp = kpf_plot_open(dir, "linear_theory.dat", err);
    if (!fp)
        return KPF_EIO;
    const kpf_lin_opts *b = &s->base;
    fprintf(fp, "# Schuessler et al. 2020 Fig. 4: GD on W of L = 1/2 (zhat - w'(I-W)^-1 m)^2, "
                "W0 = g N(0,1/N)\n# N = %zu, zhat = %g, eta = %g (1-g^2)^2, frac = %g, "
                "max_epochs = %zu, seeds %llu..%llu\n",
            b->N, b->zhat, b->eta0, b->frac, b->max_epochs, (unsigned long long)s->seed,
            (unsigned long long)(s->seed + s->seeds - 1));
    write_networks(fp, s, res);
    write_means(fp, s, rows);
    return fclose(fp) ? kpf_error_set(err, KPF_EIO, "%s/linear_theory.dat: write failed", dir)
                      : KPF_OK;
}

/* Largest |τ ratio / (1−g²)² − 1| over g ≤ LIN_DEV_G_MAX. */
static double tau_dev(const lin_study *s, const lin_row *rows)
{
    double d = 0;
    for (size_t ig = 0; ig < s->n_g; ig++)
        if (s->g[ig] <= LIN_DEV_G_MAX + 1e-12)
            d = fmax(d, fabs(rows[ig].tau_r / th_tau(s->g[ig]) - 1));
    return d;
}

static void json_num(kpf_json *j, const char *key, double v)
{
    kpf_json_key(j, key);
    kpf_json_double(j, v);
}

static void json_per_g(kpf_json *j, double g, const lin_row *w)
{
    kpf_json_object_begin(j);
    json_num(j, "g", g);
    json_num(j, "converged", (double)w->converged);
    json_num(j, "tau_star", w->tau);
    json_num(j, "tau_ratio", w->tau_r);
    json_num(j, "tau_theory", th_tau(g));
    json_num(j, "dw_ratio", w->dw_r);
    json_num(j, "dw_theory", th_dw(g));
    json_num(j, "grad_ratio", w->grad_r);
    json_num(j, "grad_theory", th_grad(g));
    json_num(j, "shuffle_over_L0", w->shuf);
    json_num(j, "shuffle_theory", th_shuf(g));
    json_num(j, "s2_over_s1", w->s21);
    json_num(j, "s2_over_s1_max", w->s21_max);
    kpf_json_object_end(j);
}

static int write_summary(const char *dir, const lin_study *s, const lin_row *rows,
                         kpf_error *err)
{
    FILE *fp = kpf_plot_open(dir, "summary.json", err);
    if (!fp)
        return KPF_EIO;
    kpf_json j;
    kpf_json_begin(&j, fp);
    kpf_json_key(&j, "study");
    kpf_json_string(&j, "Schuessler et al. 2020 Fig. 4: linear theory over g");
    json_num(&j, "N", (double)s->base.N);
    json_num(&j, "zhat", s->base.zhat);
    json_num(&j, "eta0", s->base.eta0);
    json_num(&j, "seeds", (double)s->seeds);
    kpf_json_key(&j, "per_g");
    kpf_json_array_begin(&j);
    double s21 = 0;
    for (size_t ig = 0; ig < s->n_g; ig++) {
        json_per_g(&j, s->g[ig], &rows[ig]);
        s21 = fmax(s21, rows[ig].s21_max);
    }
    kpf_json_array_end(&j);
    json_num(&j, "tau_ratio_dev_g_max", LIN_DEV_G_MAX);
    json_num(&j, "tau_ratio_max_rel_dev", tau_dev(s, rows));
    json_num(&j, "max_s2_over_s1", s21);
    kpf_json_end(&j);
    return fclose(fp) ? kpf_error_set(err, KPF_EIO, "%s/summary.json: write failed", dir)
                      : KPF_OK;
}

/* 2×2: the measured ratios (each network small, the mean large) and the
 * first-order curves, Fig. 4a–d.  Per-network points are normalised by the
 * g = 0 means, passed to gnuplot as t0, d0, q0. */
static int write_plot(const char *dir, const lin_study *s, const lin_row *rows,
                      kpf_error *err)
{
    const lin_row *z = &rows[s->i0];
    double gmax = 0;
    for (size_t ig = 0; ig < s->n_g; ig++)
        gmax = fmax(gmax, s->g[ig]);
    const char *pts = "'linear_theory.dat' index 0 u 1:(%s) w p pt 7 ps 0.5 lc rgb '#9ecae1' "
                      "t 'each network', '' index 1 u 1:%d w p pt 7 ps 1.3 lc rgb '#08519c' "
                      "t 'mean', %s w l lw 2 lc rgb '#d7191c' t '%s'\n";
    char p[4][512];
    snprintf(p[0], sizeof p[0], pts, "$5/t0", 4, "(1-x**2)**2", "(1-g²)²");
    snprintf(p[1], sizeof p[1], pts, "$7/d0", 7, "1-x**2", "1-g²");
    snprintf(p[2], sizeof p[2], pts, "$11/q0", 10, "1/(1-x**2)", "β = 1/(1-g²)");
    snprintf(p[3], sizeof p[3], pts, "$12", 12, "x**4*(2-x**2)**2", "g⁴(2-g²)²");
    return kpf_plot_script(
        dir, "linear_theory", "1100,850", err,
        "t0 = %.17g; d0 = %.17g; q0 = %.17g\n"
        "set multiplot layout 2,2 title 'Schuessler et al. Fig. 4: N = %zu, ẑ = %g, %zu "
        "seeds per g, normalised by g = 0'\n"
        "set xrange [-0.02:%g]\nset samples 200\nset key top left\nset grid\nset xlabel 'g'\n"
        "set title '(a) learning time τ*(g)/τ*(0)'\nset key bottom left\nplot %s"
        "set title '(b) ‖ΔW‖(g)/‖ΔW‖(0)'\nplot %s"
        "set title '(c) ⟨‖dW/dτ‖⟩(g)/⟨‖dW/dτ‖⟩(0)'\nset key top left\nplot %s"
        "set title '(d) shuffled W₀: L_shuf/L0'\nplot %s"
        "unset multiplot\n",
        z->tau, z->dw, z->grad, s->base.N, s->base.zhat, s->seeds, gmax + 0.05, p[0], p[1],
        p[2], p[3]);
}

int kpf_dw_linear_study_run(kpf_config *cfg, const kpf_plugin *unused, const char *out_dir,
                            kpf_error *err)
{
    (void)unused;
    lin_study s;
    int rc = parse(cfg, &s, err);
    if (rc)
        return rc;
    if (s.threads)
        kpf_blas_set_threads((int)s.threads);
    kpf_lin_result *res = calloc(s.n_g * s.seeds, sizeof *res);
    lin_row *rows = calloc(s.n_g, sizeof *rows);
    if (!res || !rows)
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (!rc) rc = sweep(&s, res, err);
    if (!rc) {
        mean_rows(&s, res, rows);
        rc = write_table(out_dir, &s, res, rows, err);
    }
    if (!rc) rc = write_summary(out_dir, &s, rows, err);
    if (!rc) rc = write_plot(out_dir, &s, rows, err);
    free(res);
    free(rows);
    return rc;
}

/* ---- the study descriptor (kpf/study.h) ----------------------------------------- */

/* The theory needs no model plugin: the registry goes unused. */
static int study_check(kpf_config *cfg, const kpf_registry *reg, kpf_error *err)
{
    (void)reg;
    return kpf_dw_linear_study_check(cfg, NULL, err);
}

static int study_run(kpf_config *cfg, const kpf_registry *reg, const char *out_dir,
                     kpf_error *err)
{
    (void)reg;
    return kpf_dw_linear_study_run(cfg, NULL, out_dir, err);
}

static const kpf_study_desc linear_theory_study = {
    KPF_STUDY_DESC_HEAD,
    .name = "linear_theory",
    .summary = "Schuessler et al.'s linear theory of the learned low-rank change, over g (Fig. 4)",
    .check = study_check,
    .run = study_run,
};

const kpf_study_desc *kpf_linear_theory_study_descriptor(uint32_t index)
{
    return index == 0 ? &linear_theory_study : NULL;
}
