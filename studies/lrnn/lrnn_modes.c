/* The reduced connectivity-mode dynamics of Proca et al.: task singular
 * values, the energy (eq. 8) and its split (eq. 9), the flow (eqs. 5–7,
 * complex 182–184), the frozen-b closed form (eq. 47), zero-loss points
 * (App. F, M.3), global minima and gradient-descent end points for phase
 * scans (App. H).  See kpf/lrnn.h for the conventions (τ = 1, terms). */
#include "lrnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const kpf_lrnn_dynamics_names[] = {"constant", "inverse_exponential",
                                               "exponential", "dirac", NULL};

static double complex cpowk(double complex b, unsigned k)
{
    double complex r = 1.0;
    double complex p = b;
    while (k) { /* exact repeated squaring: no cpow branch cuts */
        if (k & 1u)
            r *= p;
        p *= p;
        k >>= 1;
    }
    return r;
}

static double rpowk(double b, unsigned k)
{
    return pow(b, (double)k);
}

double complex kpf_lrnn_sv(const kpf_lrnn_mode_spec *sp, size_t T, size_t t)
{
    if (sp->dynamics == KPF_LRNN_DIRAC) {
        if (t == T)
            return sp->kappa;
        return t == 1 ? sp->beta : 0.0;
    }
    if (sp->has_kappa && t == T)
        return sp->kappa;
    switch (sp->dynamics) {
    case KPF_LRNN_INVEXP: return sp->delta * cpowk(sp->lambda, (unsigned)(T - t));
    case KPF_LRNN_EXP: return sp->delta * cpowk(sp->lambda, (unsigned)t);
    default: return sp->delta;
    }
}

int kpf_lrnn_terms_build(const kpf_lrnn_mode_spec *sp, size_t T, int all_outputs,
                         kpf_lrnn_terms *out, kpf_error *err)
{
    memset(out, 0, sizeof *out);
    if (T < 1 || T > (1u << 20))
        return kpf_error_set(err, KPF_EINVAL, "lrnn terms: T = %zu out of range", T);
    size_t n = all_outputs ? T * (T + 1) / 2 : T;
    out->k = malloc(n * sizeof *out->k);
    out->s = malloc(n * sizeof *out->s);
    if (!out->k || !out->s) {
        kpf_lrnn_terms_free(out);
        return kpf_error_set(err, KPF_ENOMEM, "lrnn terms: out of memory");
    }
    size_t j = 0;
    for (size_t t = all_outputs ? 1 : T; t <= T; t++)
        for (size_t i = 1; i <= t; i++) {
            out->k[j] = (unsigned)(t - i);
            out->s[j++] = kpf_lrnn_sv(sp, t, i);
        }
    out->n = n;
    out->T = T;
    out->all_outputs = all_outputs;
    return KPF_OK;
}

void kpf_lrnn_terms_free(kpf_lrnn_terms *t)
{
    if (!t)
        return;
    free(t->k);
    free(t->s);
    memset(t, 0, sizeof *t);
}

/* ---- energy -------------------------------------------------------------- */

double kpf_lrnn_energy(const kpf_lrnn_terms *t, double a, double b, double c)
{
    double E = 0;
    for (size_t j = 0; j < t->n; j++) {
        double complex e = t->s[j] - c * rpowk(b, t->k[j]) * a;
        E += creal(e) * creal(e) + cimag(e) * cimag(e);
    }
    return 0.5 * E;
}

double kpf_lrnn_geom(double x, size_t T)
{
    if (fabs(1.0 - x) > 1e-3)
        return (1.0 - pow(x, (double)T)) / (1.0 - x);
    double s = 0; /* Horner: 1 + x(1 + x(…)) */
    for (size_t k = 0; k < T; k++)
        s = 1.0 + x * s;
    return s;
}

double kpf_lrnn_geom2(double x, size_t T)
{
    if (fabs(1.0 - x) > 1e-3)
        return ((double)T * (1.0 - x) - x * (1.0 - pow(x, (double)T))) /
               ((1.0 - x) * (1.0 - x));
    double s = 0, g = 0;
    for (size_t t = 0; t < T; t++) {
        g = 1.0 + x * g; /* Σ_{k<t+1} x^k */
        s += g;
    }
    return s;
}

void kpf_lrnn_energy_split(const kpf_lrnn_terms *t, double a, double b, double c,
                           double *data, double *reg)
{
    double d = 0, u = a * c;
    for (size_t j = 0; j < t->n; j++) {
        double s = creal(t->s[j]);
        d += s * s - 2.0 * s * u * rpowk(b, t->k[j]);
    }
    double g = t->all_outputs ? kpf_lrnn_geom2(b * b, t->T) : kpf_lrnn_geom(b * b, t->T);
    *data = 0.5 * d;
    *reg = 0.5 * u * u * g;
}

/* ---- flow ------------------------------------------------------------------ */

void kpf_lrnn_flow_rhs(const kpf_lrnn_terms *t, double a, double b, double c, double *da,
                       double *db, double *dc)
{
    double ga = 0, gb = 0, gc = 0;
    for (size_t j = 0; j < t->n; j++) {
        unsigned k = t->k[j];
        double bk = rpowk(b, k);
        double e = creal(t->s[j]) - c * bk * a;
        ga += c * bk * e;
        gc += bk * a * e;
        if (k)
            gb += (double)k * c * rpowk(b, k - 1) * a * e;
    }
    *da = ga;
    *db = gb;
    *dc = gc;
}

void kpf_lrnn_flow_rhs_c(const kpf_lrnn_terms *t, double complex a, double complex b,
                         double complex c, double complex *da, double complex *db,
                         double complex *dc)
{
    double complex ga = 0, gb = 0, gc = 0;
    for (size_t j = 0; j < t->n; j++) {
        unsigned k = t->k[j];
        double complex bk = cpowk(b, k);
        double complex e = t->s[j] - c * bk * a;
        ga += conj(c * bk) * e;                                  /* eq. 182 */
        gc += e * conj(a * bk);                                  /* eq. 184 */
        if (k)
            gb += (double)k * conj(c) * e * conj(a * cpowk(b, k - 1)); /* eq. 183 */
    }
    *da = ga;
    *db = gb;
    *dc = gc;
}

static void rhs3(const kpf_lrnn_terms *t, int frozen_b, const double *y, double *f)
{
    kpf_lrnn_flow_rhs(t, y[0], y[1], y[2], &f[0], &f[1], &f[2]);
    if (frozen_b)
        f[1] = 0;
}

int kpf_lrnn_flow(const kpf_lrnn_terms *t, int method, double h, size_t steps,
                  int frozen_b, double y[3], double *traj, kpf_error *err)
{
    if (traj)
        memcpy(traj, y, 3 * sizeof *y);
    for (size_t s = 0; s < steps; s++) {
        double k1[3], k2[3], k3[3], k4[3], tmp[3];
        rhs3(t, frozen_b, y, k1);
        if (method == KPF_LRNN_RK4) {
            for (int i = 0; i < 3; i++)
                tmp[i] = y[i] + 0.5 * h * k1[i];
            rhs3(t, frozen_b, tmp, k2);
            for (int i = 0; i < 3; i++)
                tmp[i] = y[i] + 0.5 * h * k2[i];
            rhs3(t, frozen_b, tmp, k3);
            for (int i = 0; i < 3; i++)
                tmp[i] = y[i] + h * k3[i];
            rhs3(t, frozen_b, tmp, k4);
            for (int i = 0; i < 3; i++)
                y[i] += h / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        } else {
            for (int i = 0; i < 3; i++)
                y[i] += h * k1[i];
        }
        if (!isfinite(y[0]) || !isfinite(y[1]) || !isfinite(y[2]))
            return kpf_error_set(err, KPF_ENUMERIC,
                                 "reduced flow diverged at step %zu (h = %g)", s + 1, h);
        if (traj)
            memcpy(traj + 3 * (s + 1), y, 3 * sizeof *y);
    }
    return KPF_OK;
}

int kpf_lrnn_flow_c(const kpf_lrnn_terms *t, int method, double h, size_t steps,
                    double complex y[3], double complex *traj, kpf_error *err)
{
    if (traj)
        memcpy(traj, y, 3 * sizeof *y);
    for (size_t s = 0; s < steps; s++) {
        double complex k1[3], k2[3], k3[3], k4[3], tmp[3];
        kpf_lrnn_flow_rhs_c(t, y[0], y[1], y[2], &k1[0], &k1[1], &k1[2]);
        if (method == KPF_LRNN_RK4) {
            for (int i = 0; i < 3; i++)
                tmp[i] = y[i] + 0.5 * h * k1[i];
            kpf_lrnn_flow_rhs_c(t, tmp[0], tmp[1], tmp[2], &k2[0], &k2[1], &k2[2]);
            for (int i = 0; i < 3; i++)
                tmp[i] = y[i] + 0.5 * h * k2[i];
            kpf_lrnn_flow_rhs_c(t, tmp[0], tmp[1], tmp[2], &k3[0], &k3[1], &k3[2]);
            for (int i = 0; i < 3; i++)
                tmp[i] = y[i] + h * k3[i];
            kpf_lrnn_flow_rhs_c(t, tmp[0], tmp[1], tmp[2], &k4[0], &k4[1], &k4[2]);
            for (int i = 0; i < 3; i++)
                y[i] += h / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        } else {
            for (int i = 0; i < 3; i++)
                y[i] += h * k1[i];
        }
        for (int i = 0; i < 3; i++)
            if (!isfinite(creal(y[i])) || !isfinite(cimag(y[i])))
                return kpf_error_set(err, KPF_ENUMERIC,
                                     "complex reduced flow diverged at step %zu", s + 1);
        if (traj)
            memcpy(traj + 3 * (s + 1), y, 3 * sizeof *y);
    }
    return KPF_OK;
}

/* ---- closed forms -------------------------------------------------------- */

static void sums_AB(const kpf_lrnn_terms *t, double b, double *A, double *B)
{
    double a = 0, bb = 0;
    for (size_t j = 0; j < t->n; j++) {
        double bk = rpowk(b, t->k[j]);
        a += bk * creal(t->s[j]);
        bb += bk * bk;
    }
    *A = a;
    *B = bb;
}

double kpf_lrnn_frozen_b_u(const kpf_lrnn_terms *t, double b, double u0, double time)
{
    double A, B;
    sums_AB(t, b, &A, &B);
    if (A == 0.0) /* τ du/dt = −2B u²: the A → 0 limit of eq. 47 */
        return u0 / (1.0 + 2.0 * B * u0 * time);
    /* eq. 47 divided through by e^{2At}, stable for either sign of A */
    double em = exp(-2.0 * A * time);
    return A / ((A / u0 - B) * em + B);
}

double kpf_lrnn_optimal_u(const kpf_lrnn_terms *t, double b)
{
    double A, B;
    sums_AB(t, b, &A, &B);
    return A / B;
}

int kpf_lrnn_zero_loss_point(const kpf_lrnn_mode_spec *sp, size_t T, int all_outputs,
                             double *b, double *ac, kpf_error *err)
{
    if (sp->dynamics == KPF_LRNN_DIRAC || sp->has_kappa)
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "no zero-loss solution: the %s task with a last-step κ cannot "
                             "be fitted exactly (App. F.2)",
                             kpf_lrnn_dynamics_names[sp->dynamics]);
    double d = creal(sp->delta), l = creal(sp->lambda);
    switch (sp->dynamics) {
    case KPF_LRNN_CONSTANT: *b = 1.0; *ac = d; return KPF_OK;
    case KPF_LRNN_INVEXP: *b = l; *ac = d; return KPF_OK;
    case KPF_LRNN_EXP:
        if (all_outputs)
            return kpf_error_set(err, KPF_EUNSUPPORTED,
                                 "T-output exponential dynamics have no zero-loss solution "
                                 "(ac would have to be δλ^t for every t)");
        *b = 1.0 / l;
        *ac = d * pow(l, (double)T);
        return KPF_OK;
    default: return kpf_error_set(err, KPF_EINVAL, "unknown dynamics %d", sp->dynamics);
    }
}

static double Estar(const kpf_lrnn_terms *t, double b, double *u)
{
    double A, B;
    sums_AB(t, b, &A, &B);
    double S = 0;
    for (size_t j = 0; j < t->n; j++)
        S += creal(t->s[j]) * creal(t->s[j]);
    *u = A / B;
    return 0.5 * (S - A * A / B);
}

int kpf_lrnn_global_min(const kpf_lrnn_terms *t, double b_max, size_t n_grid, double *b,
                        double *u, double *E, kpf_error *err)
{
    if (n_grid < 3 || !(b_max > 0))
        return kpf_error_set(err, KPF_EINVAL, "global_min: need n_grid ≥ 3 and b_max > 0");
    double best = INFINITY, bb = 0, uu;
    size_t ib = 0;
    double h = 2.0 * b_max / (double)(n_grid - 1);
    for (size_t i = 0; i < n_grid; i++) {
        double x = -b_max + h * (double)i;
        double e = Estar(t, x, &uu);
        if (i == 0 || e < best - 1e-15 * fabs(best) || (e <= best && fabs(x) < fabs(bb))) {
            best = e;
            bb = x;
            ib = i;
        }
    }
    double lo = ib ? bb - h : bb, hi = ib + 1 < n_grid ? bb + h : bb;
    const double gr = 0.5 * (sqrt(5.0) - 1.0);
    double x1 = hi - gr * (hi - lo), x2 = lo + gr * (hi - lo);
    double f1 = Estar(t, x1, &uu), f2 = Estar(t, x2, &uu);
    for (int it = 0; it < 200 && hi - lo > 1e-14; it++) {
        if (f1 < f2) {
            hi = x2; x2 = x1; f2 = f1;
            x1 = hi - gr * (hi - lo);
            f1 = Estar(t, x1, &uu);
        } else {
            lo = x1; x1 = x2; f1 = f2;
            x2 = lo + gr * (hi - lo);
            f2 = Estar(t, x2, &uu);
        }
    }
    double xm = 0.5 * (lo + hi), em = Estar(t, xm, &uu);
    if (em <= best) {
        best = em;
        bb = xm;
    }
    *b = bb;
    *E = Estar(t, bb, u);
    return KPF_OK;
}

int kpf_lrnn_train_modes(const kpf_lrnn_terms *t, double a0, double b0, double c0, double h,
                         size_t steps, kpf_lrnn_final *out, kpf_error *err)
{
    double y[3] = {a0, b0, c0};
    int rc = kpf_lrnn_flow(t, KPF_LRNN_EULER, h, steps, 0, y, NULL, err);
    if (rc)
        return rc;
    out->b = y[1];
    out->ac = y[0] * y[2];
    out->E = kpf_lrnn_energy(t, y[0], y[1], y[2]);
    return KPF_OK;
}
