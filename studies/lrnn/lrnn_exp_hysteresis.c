/* Proca et al. Fig. 4 (right) / App. H, the two-Dirac task (s_1 = β,
 * s_T = κ, eq. 11), as gradient descent actually sees it: the final recurrent
 * mode b and input-output mode ac of GD on E from a = b = c = init, swept over
 * β for several T and several inits, beside the global minimum and the
 * theory's thresholds.  For T ≥ 4 the feed-forward branch b = 0 is a local
 * minimum for every β (App. H.2: the quadratic coefficient is 1/β² > 0), so
 * where GD ends depends on where it starts — hysteresis, which this figure
 * measures (`figure: hysteresis`; docs/lrnn.md; configs/proca_dirac*.yaml).
 *
 * Thresholds, in β/κ = s_1/s_T:
 *   β_c  the global minimum leaves b = 0 (Maxwell point): 1/2 at T = 3
 *        (second order), 1 for T ≥ 4 (first order; for T ≥ 5 only as
 *        |b| → ∞, so with |b| ≤ b_max it lies slightly above 1);
 *   β_s  the lowest β at which E*(b) = min_u E has a local minimum at b ≠ 0
 *        in |b| ≤ b_max: the recurrent branch exists (T = 4: 0.910).  For
 *        T ≥ 5 there is none at finite b: the recurrent branch runs off to
 *        |b| → ∞ and GD on it keeps drifting (b at the end depends on `time`);
 *        at T = 4 the finite branch also ends (at β ≈ 1.09), after which
 *        the recurrent side runs off the same way.
 * Optional init_scan: for each T, the β at which GD from a = b = c = init
 * first leaves b = 0 (bisection on β), over a grid of inits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/json.h"
#include "lrnn_exp_internal.h"

typedef struct hyst {
    double Ts[8], inits[4], kappa, from, to, step, time, b_max, thr;
    size_t nT, ni, n, steps;
    int scan;           /* init_scan given */
    double s_from, s_to; /* init_scan range (log-spaced) */
    size_t s_n;
} hyst;

static int read_hyst(kpf_lrnn_ctx *c, hyst *h, kpf_error *err)
{
    const kpf_node *sc = NULL;
    int rc = kpf_lrnn_num_list(c->lr, "T", 8, h->Ts, &h->nT, err);
    if (!rc) rc = kpf_lrnn_num_list(c->lr, "inits", 4, h->inits, &h->ni, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "kappa", 0, 1.0, 1e-6, 1e6, &h->kappa, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "from", 0, 0.1, 1e-6, 1e6, &h->from, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "to", 0, 3.0, 1e-6, 1e6, &h->to, err);
    if (!rc) rc = kpf_cfg_size(c->lr, "n", 0, 59, 2, 100000, &h->n, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "step", 0, 0.004, 1e-9, 10, &h->step, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "time", 0, 400, 1e-6, 1e9, &h->time, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "b_max", 0, 10, 1e-3, 1e3, &h->b_max, err);
    if (!rc) rc = kpf_cfg_double(c->lr, "threshold", 0, 0.05, 1e-9, 1e3, &h->thr, err);
    if (!rc) rc = kpf_cfg_map(c->lr, "init_scan", KPF_CFG_OPTIONAL, &sc, err);
    h->scan = sc != NULL;
    if (!rc && sc) rc = kpf_cfg_double(sc, "from", 0, 0.05, 1e-6, 1e3, &h->s_from, err);
    if (!rc && sc) rc = kpf_cfg_double(sc, "to", 0, 1.0, 1e-6, 1e3, &h->s_to, err);
    if (!rc && sc) rc = kpf_cfg_size(sc, "n", 0, 12, 2, 1000, &h->s_n, err);
    for (size_t i = 0; !rc && i < h->nT; i++)
        if (h->Ts[i] < 2 || h->Ts[i] > 4096 || h->Ts[i] != floor(h->Ts[i]))
            rc = kpf_node_error(kpf_node_get(c->lr, "T"), err, "T must be whole numbers ≥ 2");
    if (!rc && !(h->to > h->from))
        rc = kpf_node_error(c->lr, err, "the β sweep needs to > from (got %g … %g)", h->from,
                            h->to);
    if (!rc && sc && !(h->s_to > h->s_from))
        rc = kpf_node_error(sc, err, "init_scan needs to > from");
    h->steps = (size_t)llround(h->time / h->step);
    return rc;
}

static int dirac_terms(size_t T, double beta, double kappa, kpf_lrnn_terms *tm, kpf_error *err)
{
    kpf_lrnn_mode_spec sp = {.dynamics = KPF_LRNN_DIRAC, .beta = beta, .kappa = kappa,
                             .has_kappa = 1};
    return kpf_lrnn_terms_build(&sp, T, 0, tm, err);
}

/* E*(b) = E at the optimal u = ac for this b (eq. 101–102). */
static double estar(const kpf_lrnn_terms *tm, double b)
{
    return kpf_lrnn_energy(tm, kpf_lrnn_optimal_u(tm, b), b, 1.0);
}

/* Whether E*(b) has a local minimum at some 1e-3 < |b| < b_max (grid of
 * 8000 cells over [−b_max, b_max]). */
static int recurrent_branch(size_t T, double beta, double kappa, double b_max, kpf_error *err)
{
    kpf_lrnn_terms tm;
    if (dirac_terms(T, beta, kappa, &tm, err))
        return -1;
    const size_t n = 8000;
    const double h = 2 * b_max / (double)n;
    int found = 0;
    double e0 = estar(&tm, -b_max), e1 = estar(&tm, -b_max + h);
    for (size_t i = 2; i <= n && !found; i++) {
        double b = -b_max + h * (double)(i - 1), e2 = estar(&tm, b + h);
        found = fabs(b) > 1e-3 && e1 < e0 && e1 <= e2;
        e0 = e1;
        e1 = e2;
    }
    kpf_lrnn_terms_free(&tm);
    return found;
}

/* β_s: the lowest β in (0, beta_hi] with a recurrent branch (scan in steps
 * of κ/100, then bisection); NAN when there is none. */
static double spinodal(size_t T, double kappa, double b_max, double beta_hi, kpf_error *err)
{
    double lo = 0, hi = NAN;
    for (double beta = 0.01 * kappa; beta <= beta_hi && isnan(hi); beta += 0.01 * kappa) {
        int r = recurrent_branch(T, beta, kappa, b_max, err);
        if (r < 0)
            return NAN;
        if (r)
            hi = beta;
        else
            lo = beta;
    }
    for (int it = 0; it < 30 && isfinite(hi); it++) {
        double mid = 0.5 * (lo + hi);
        if (recurrent_branch(T, mid, kappa, b_max, err) > 0)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* The end of the finite recurrent branch: the lowest β > beta_s at which
 * E*(b) has no local minimum at b ≠ 0 any more (scan, then bisection); NAN
 * when it lasts up to beta_hi or beta_s is NAN. */
static double branch_end(size_t T, double kappa, double b_max, double beta_s, double beta_hi,
                         kpf_error *err)
{
    double lo = beta_s, hi = NAN;
    for (double beta = beta_s; isfinite(beta) && beta <= beta_hi && isnan(hi);
         beta += 0.01 * kappa) {
        if (recurrent_branch(T, beta, kappa, b_max, err) > 0)
            lo = beta;
        else
            hi = beta;
    }
    for (int it = 0; it < 30 && isfinite(hi); it++) {
        double mid = 0.5 * (lo + hi);
        if (recurrent_branch(T, mid, kappa, b_max, err) > 0)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* β/κ where the global minimum over |b| ≤ b_max leaves b = 0 (bisection). */
static double maxwell(size_t T, double kappa, double b_max, kpf_error *err)
{
    double lo = 0.05 * kappa, hi = 4.0 * kappa;
    for (int it = 0; it < 40; it++) {
        double mid = 0.5 * (lo + hi), b = 0, u, E;
        kpf_lrnn_terms tm;
        if (dirac_terms(T, mid, kappa, &tm, err))
            return NAN;
        kpf_lrnn_global_min(&tm, b_max, 4001, &b, &u, &E, err);
        kpf_lrnn_terms_free(&tm);
        if (fabs(b) > 1e-6)
            hi = mid;
        else
            lo = mid;
    }
    return 0.5 * (lo + hi) / kappa;
}

/* GD from a = b = c = init; a diverged run is NAN (an unstable solution). */
static kpf_lrnn_final descend(const hyst *h, size_t T, double beta, double init,
                              kpf_error *err)
{
    kpf_lrnn_final f = {NAN, NAN, NAN};
    kpf_lrnn_terms tm;
    if (dirac_terms(T, beta, h->kappa, &tm, err))
        return f;
    kpf_error e2;
    if (kpf_lrnn_train_modes(&tm, init, init, init, h->step, h->steps, &f, &e2))
        f.b = f.ac = f.E = NAN;
    kpf_lrnn_terms_free(&tm);
    return f;
}

/* Left b = 0: |b| above the threshold, or diverged (|b| blew up). */
static int left_zero(const hyst *h, double b) { return !(fabs(b) <= h->thr); }

/* The β at which GD from init first leaves b = 0, by bisection over
 * [from, to]; NAN when it stays at b = 0 up to `to`. */
static double crossing(const hyst *h, size_t T, double init, kpf_error *err)
{
    double lo = h->from, hi = h->to;
    if (!left_zero(h, descend(h, T, hi, init, err).b))
        return NAN;
    if (left_zero(h, descend(h, T, lo, init, err).b))
        return lo;
    for (int it = 0; it < 14; it++) {
        double mid = 0.5 * (lo + hi);
        if (left_zero(h, descend(h, T, mid, init, err).b))
            hi = mid;
        else
            lo = mid;
    }
    return 0.5 * (lo + hi);
}

static double theory_c(size_t T) { return T == 3 ? 0.5 : T < 3 ? NAN : 1.0; }

/* One T: the GD curves (one per init) and the global minimum into fp, as
 * h->ni + 1 blocks; xs_cross[i] = the first grid β where GD from init i
 * left b = 0 (NAN: never). */
static int sweep_T(const hyst *h, size_t T, FILE *fp, double *xs_cross, kpf_error *err)
{
    for (size_t ii = 0; ii < h->ni; ii++) {
        fprintf(fp, "# T %zu init %g: beta b_gd ac_gd E_gd\n", T, h->inits[ii]);
        xs_cross[ii] = NAN;
        for (size_t i = 0; i < h->n; i++) {
            double beta = h->from + (h->to - h->from) * (double)i / (double)(h->n - 1);
            kpf_lrnn_final f = descend(h, T, beta, h->inits[ii], err);
            if (isnan(xs_cross[ii]) && left_zero(h, f.b))
                xs_cross[ii] = beta;
            fprintf(fp, "%.10g %.10g %.10g %.10g\n", beta, fabs(f.b), f.ac, f.E);
        }
        fprintf(fp, "\n\n");
    }
    fprintf(fp, "# T %zu global minimum (|b| <= %g): beta b_min ac_min E_min\n", T, h->b_max);
    for (size_t i = 0; i < h->n; i++) {
        double beta = h->from + (h->to - h->from) * (double)i / (double)(h->n - 1), b, u, E;
        kpf_lrnn_terms tm;
        if (dirac_terms(T, beta, h->kappa, &tm, err))
            return KPF_EINVAL;
        kpf_lrnn_global_min(&tm, h->b_max, 4001, &b, &u, &E, err);
        kpf_lrnn_terms_free(&tm);
        fprintf(fp, "%.10g %.10g %.10g %.10g\n", beta, fabs(b), u, E);
    }
    fprintf(fp, "\n\n");
    return KPF_OK;
}

/* gnuplot: 2 rows (|b|, ac) × one column per T; per init a curve, the
 * global minimum dotted, β_c dashed black, β_s dash-dot grey. */
static int plot_main(const hyst *h, const kpf_lrnn_ctx *c, const double *bc, const double *bs,
                     kpf_error *err)
{
    size_t cap = 4096 + 2048 * h->nT * (h->ni + 2), len = 0;
    char *body = malloc(cap);
    if (!body)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    len += (size_t)snprintf(body + len, cap - len,
                            "set multiplot layout 2,%zu\nset grid\n"
                            "set xlabel 'beta = s_1 (kappa = s_T = %g)'\n",
                            h->nT, h->kappa);
    for (int row = 0; row < 2; row++)
        for (size_t it = 0; it < h->nT; it++) {
            const size_t T = (size_t)h->Ts[it], base = it * (h->ni + 1);
            len += (size_t)snprintf(body + len, cap - len,
                                    "unset arrow\nset title 'T = %zu: %s' font ',10'\n"
                                    "set ylabel '%s'\nset key %s left font ',8'\n",
                                    T, row ? "input-output mode" : "recurrent mode",
                                    row ? "ac (final)" : "|b| (final)", row ? "bottom" : "top");
            if (isfinite(bc[it]))
                len += (size_t)snprintf(body + len, cap - len,
                                        "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 "
                                        "lc 'black'\n",
                                        bc[it] * h->kappa, bc[it] * h->kappa);
            if (isfinite(bs[it]))
                len += (size_t)snprintf(body + len, cap - len,
                                        "set arrow from %g, graph 0 to %g, graph 1 nohead dt 4 "
                                        "lc 'gray40'\n",
                                        bs[it], bs[it]);
            len += (size_t)snprintf(body + len, cap - len, "plot ");
            for (size_t ii = 0; ii < h->ni; ii++)
                len += (size_t)snprintf(body + len, cap - len,
                                        "'hysteresis.dat' index %zu u 1:%d w lp pt 7 ps 0.4 "
                                        "lw 1.5 lc %zu t 'GD from %g', ",
                                        base + ii, row ? 3 : 2, ii + 1, h->inits[ii]);
            len += (size_t)snprintf(body + len, cap - len,
                                    "'hysteresis.dat' index %zu u 1:%d w l dt 3 lw 2 lc "
                                    "'black' t 'global min'\n",
                                    base + h->ni, row ? 3 : 2);
        }
    snprintf(body + len, cap - len, "unset multiplot\n");
    char size[32];
    snprintf(size, sizeof size, "%zu,800", 420 * h->nT);
    int rc = kpf_plot_script(c->dir, "hysteresis", size, err, "%s", body);
    free(body);
    return rc;
}

/* The init scan: crossing.dat (init, β_cross per T) and crossing.png. */
static int init_scan(const hyst *h, const kpf_lrnn_ctx *c, kpf_json *js, const double *bc,
                     kpf_error *err)
{
    FILE *fp = kpf_plot_open(c->dir, "crossing.dat", err);
    if (!fp)
        return KPF_EIO;
    fprintf(fp, "# GD from a = b = c = init leaves b = 0 (|b| > %g) at beta = s_1 (kappa = %g, "
                "beta in [%g, %g], NaN: never); columns init then one per T:",
            h->thr, h->kappa, h->from, h->to);
    for (size_t it = 0; it < h->nT; it++)
        fprintf(fp, " T=%zu", (size_t)h->Ts[it]);
    fprintf(fp, "\n");
    kpf_json_key(js, "init_scan");
    kpf_json_array_begin(js);
    for (size_t k = 0; k < h->s_n; k++) {
        double init = h->s_from * pow(h->s_to / h->s_from, (double)k / (double)(h->s_n - 1));
        fprintf(fp, "%.6g", init);
        kpf_json_object_begin(js);
        kpf_json_key(js, "init");
        kpf_json_double(js, init);
        kpf_json_key(js, "beta_cross");
        kpf_json_array_begin(js);
        for (size_t it = 0; it < h->nT; it++) {
            double x = crossing(h, (size_t)h->Ts[it], init, err);
            fprintf(fp, " %.6g", x);
            kpf_json_double(js, x);
        }
        kpf_json_array_end(js);
        kpf_json_object_end(js);
        fprintf(fp, "\n");
    }
    kpf_json_array_end(js);
    fclose(fp);
    char body[4096];
    size_t len = (size_t)snprintf(body, sizeof body,
                                  "set grid\nset logscale x\nset key top left\n"
                                  "set xlabel 'init (a = b = c)'\nset ylabel 'beta where GD "
                                  "leaves b = 0'\nset xrange [%g:%g]\nset yrange [%g:%g]\n"
                                  "set title 'Dirac task, kappa = %g: GD leaves b = 0 (dashed: "
                                  "global-minimum beta_c)'\nplot ",
                                  h->s_from, h->s_to, h->from, h->to, h->kappa);
    for (size_t it = 0; it < h->nT && len < sizeof body - 200; it++)
        len += (size_t)snprintf(body + len, sizeof body - len,
                                "%s'crossing.dat' u 1:%zu w lp pt 7 lc %zu t 'T = %zu', %g w l "
                                "dt 2 lc %zu notitle",
                                it ? ", " : "", it + 2, it + 1, (size_t)h->Ts[it],
                                bc[it] * h->kappa, it + 1);
    snprintf(body + len, sizeof body - len, "\n");
    return kpf_plot_script(c->dir, "crossing", "900,600", err, "%s", body);
}

int kpf_lrnn_fig_hysteresis(kpf_lrnn_ctx *c, kpf_error *err)
{
    hyst h;
    int rc = read_hyst(c, &h, err);
    if (!rc) rc = kpf_config_check_unused(c->cfg, err);
    if (rc || c->check_only)
        return rc;
    FILE *fp = kpf_plot_open(c->dir, "hysteresis.dat", err);
    FILE *jf = fp ? kpf_plot_open(c->dir, "summary.json", err) : NULL;
    if (!fp || !jf) {
        if (fp)
            fclose(fp);
        return KPF_EIO;
    }
    fprintf(fp, "# Proca et al. Fig. 4 (right), Dirac task s_1 = beta, s_T = kappa = %g: final "
                "|b|, ac, E of GD on E from a = b = c = init (%zu Euler steps of %g), and the "
                "global minimum; blocks per T: one per init, then the global minimum\n",
            h.kappa, h.steps, h.step);
    double bc[8], bs[8], bcn[8], cross[4];
    kpf_json j;
    kpf_json_begin(&j, jf);
    kpf_json_key(&j, "figure");
    kpf_json_string(&j, "Proca et al. Fig. 4 / App. H: Dirac task hysteresis");
    kpf_json_key(&j, "kappa");
    kpf_json_double(&j, h.kappa);
    kpf_json_key(&j, "threshold_b");
    kpf_json_double(&j, h.thr);
    kpf_json_key(&j, "gd_time");
    kpf_json_double(&j, h.time);
    kpf_json_key(&j, "per_T");
    kpf_json_array_begin(&j);
    for (size_t it = 0; it < h.nT && !rc; it++) {
        const size_t T = (size_t)h.Ts[it];
        bc[it] = theory_c(T);
        bcn[it] = maxwell(T, h.kappa, h.b_max, err);
        bs[it] = spinodal(T, h.kappa, h.b_max, 4 * h.kappa, err);
        rc = sweep_T(&h, T, fp, cross, err);
        kpf_json_object_begin(&j);
        kpf_json_key(&j, "T");
        kpf_json_uint(&j, T);
        kpf_json_key(&j, "beta_c_over_kappa_theory");
        kpf_json_double(&j, bc[it]);
        kpf_json_key(&j, "beta_c_over_kappa_global_min_bmax");
        kpf_json_double(&j, bcn[it]);
        kpf_json_key(&j, "beta_spinodal_recurrent_branch");
        kpf_json_double(&j, bs[it]);
        kpf_json_key(&j, "beta_end_finite_recurrent_branch");
        kpf_json_double(&j, branch_end(T, h.kappa, h.b_max, bs[it], 4 * h.kappa, err));
        kpf_json_key(&j, "gd_first_beta_leaving_b0");
        kpf_json_array_begin(&j);
        for (size_t ii = 0; ii < h.ni; ii++) {
            kpf_json_object_begin(&j);
            kpf_json_key(&j, "init");
            kpf_json_double(&j, h.inits[ii]);
            kpf_json_key(&j, "beta");
            kpf_json_double(&j, cross[ii]);
            kpf_json_object_end(&j);
        }
        kpf_json_array_end(&j);
        kpf_json_object_end(&j);
    }
    kpf_json_array_end(&j);
    fclose(fp);
    if (!rc && h.scan)
        rc = init_scan(&h, c, &j, bc, err);
    kpf_json_end(&j);
    fclose(jf);
    return rc ? rc : plot_main(&h, c, bc, bs, err);
}
