/* Recovery of a teacher's components by a fitted ltr network
 * (kpf/ltr_fit.h, docs/ltr.md "Which factors are recovered"): each
 * component described in the data's own modes (neuron, time, trial), so
 * that networks with different units can be compared, and the
 * permutation/sign/scale-invariant factor match score of kpf/cp.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "kpf/blas.h"
#include "ltr_fit.h"

/* Column r of a row-major rows×R matrix scaled to unit norm (left as is
 * when zero: the cosines with it are then 0). */
static void unit_column(double *X, size_t rows, size_t R, size_t r)
{
    double s = 0;
    for (size_t i = 0; i < rows; i++)
        s += X[i * R + r] * X[i * R + r];
    if (s > 0)
        for (size_t i = 0; i < rows; i++)
            X[i * R + r] /= sqrt(s);
}

static int cp_alloc(size_t I, size_t J, size_t K, size_t R, kpf_cp *c, kpf_error *err)
{
    memset(c, 0, sizeof *c);
    c->I = I, c->J = J, c->K = K, c->R = R;
    c->A = calloc(I * R, sizeof(double));
    c->B = calloc(J * R, sizeof(double));
    c->C = calloc(K * R, sizeof(double));
    c->lambda = malloc(R * sizeof(double));
    if (!c->A || !c->B || !c->C || !c->lambda) {
        kpf_cp_free(c);
        return kpf_error_set(err, KPF_ENOMEM, "ltr components: out of memory");
    }
    for (size_t r = 0; r < R; r++)
        c->lambda[r] = 1.0;
    return KPF_OK;
}

/* Time factors ḡ_r(t) = mean_k b_r·φ(x^{(k)}(t)) from the simulated bins. */
static void time_factors(const kpf_ltr_problem *p, const kpf_ltr_data *d, int act, size_t n,
                         size_t R, const double *b, double *G)
{
    for (size_t t = 0; t < d->T; t++) {
        const double *x = kpf_ltr_problem_state(p, t);
        for (size_t k = 0; k < d->K; k++)
            for (size_t j = 0; j < n; j++) {
                double h = kpf_activation_phi(act, x[k * n + j]) / (double)d->K;
                for (size_t r = 0; r < R; r++)
                    G[t * R + r] += b[r * n + j] * h;
            }
    }
}

int kpf_ltr_components(const kpf_plugin *ltr, const kpf_ltr_spec *s, const kpf_ltr_data *d,
                       const kpf_ltr_fit_opts *o, const double *theta, size_t m,
                       kpf_cp *out, kpf_error *err)
{
    kpf_ltr_spec sp = *s;
    sp.K = d->K;
    const size_t R = sp.rank, n = sp.n, N = d->N, K = d->K;
    kpf_model *mod = NULL;
    kpf_ltr_problem *p = NULL;
    double *a = malloc(R * n * sizeof(double)), *b = malloc(R * n * sizeof(double));
    double *C = malloc(R * K * sizeof(double)), loss;
    int rc = a && b && C ? cp_alloc(N, d->T, K, R, out, err)
                         : kpf_error_set(err, KPF_ENOMEM, "ltr components: out of memory");
    if (!rc) rc = kpf_ltr_model_create(ltr, &sp, d->n_in, N, 0, &mod, err);
    if (!rc && mod->m != m)
        rc = kpf_error_set(err, KPF_EINVAL, "ltr components: θ has %zu values, the spec %zu",
                           m, mod->m);
    if (!rc) {
        memcpy(mod->theta, theta, m * sizeof(double));
        rc = kpf_model_theta_changed(mod, err);
    }
    if (!rc) rc = kpf_ltr_model_factors(mod, a, b, C, err);
    if (!rc) rc = kpf_ltr_problem_alloc(mod, d, NULL, o, &p, err);
    if (!rc) rc = kpf_ltr_problem_loss(p, &loss, NULL, err); /* simulates */
    const kpf_param_block *Mb = rc ? NULL : kpf_model_block(mod, "M");
    if (!rc && (!Mb || Mb->rows != N || Mb->cols != n))
        rc = kpf_error_set(err, KPF_EPLUGIN, "ltr components: the model has no readout M");
    if (!rc) {
        /* neuron: A_out[i][r] = (M a_r)_i */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)R, (int)n, 1.0,
                    mod->theta + Mb->offset, (int)n, a, (int)n, 0.0, out->A, (int)R);
        time_factors(p, d, sp.act, n, R, b, out->B);
        for (size_t r = 0; r < R; r++)
            for (size_t k = 0; k < K; k++)
                out->C[k * R + r] = C[r * K + k];
        for (size_t r = 0; r < R; r++) {
            unit_column(out->A, N, R, r);
            unit_column(out->B, d->T, R, r);
            unit_column(out->C, K, R, r);
        }
    } else
        kpf_cp_free(out);
    kpf_ltr_problem_free(p);
    kpf_model_free(mod);
    free(a);
    free(b);
    free(C);
    return rc;
}

static double col_dot(size_t rows, size_t R, const double *X, size_t r, const double *Y,
                      size_t q)
{
    double s = 0;
    for (size_t i = 0; i < rows; i++)
        s += X[i * R + r] * Y[i * R + q];
    return s;
}

double kpf_ltr_centred_corr(const double *x, size_t sx, const double *y, size_t sy, size_t n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++)
        mx += x[i * sx] / (double)n, my += y[i * sy] / (double)n;
    for (size_t i = 0; i < n; i++) {
        double u = x[i * sx] - mx, v = y[i * sy] - my;
        sxy += u * v, sxx += u * u, syy += v * v;
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

int kpf_ltr_match_components(const kpf_cp *teacher, const kpf_cp *fit, kpf_ltr_match *out,
                             kpf_error *err)
{
    memset(out, 0, sizeof *out);
    if (teacher->R > 64)
        return kpf_error_set(err, KPF_EINVAL, "ltr match: rank %zu > 64", teacher->R);
    int rc = kpf_cp_match_score(teacher, fit, 0, &out->score, out->perm, err);
    if (rc)
        return rc;
    const size_t R = teacher->R;
    out->R = R;
    for (size_t r = 0; r < R; r++) {
        const size_t q = out->perm[r];
        double ct = col_dot(teacher->K, R, teacher->C, r, fit->C, q);
        out->neuron += fabs(col_dot(teacher->I, R, teacher->A, r, fit->A, q)) / (double)R;
        out->time += fabs(col_dot(teacher->J, R, teacher->B, r, fit->B, q)) / (double)R;
        out->trial += fabs(ct) / (double)R;
        out->trial_corr[r] =
            (ct < 0 ? -1 : 1) * kpf_ltr_centred_corr(teacher->C + r, R, fit->C + q, R, teacher->K);
    }
    return KPF_OK;
}

/* Smallest singular value of the unit-normalised rows listed in sel
 * (ns of them, each of length len, from X rows×len row-major). */
static double min_sv(const double *X, size_t len, const size_t *sel, size_t ns, double *sv)
{
    gsl_matrix *A = gsl_matrix_alloc(len, ns), *V = gsl_matrix_alloc(ns, ns);
    gsl_vector *s = gsl_vector_alloc(ns), *w = gsl_vector_alloc(ns);
    double out = NAN;
    if (A && V && s && w) {
        for (size_t c = 0; c < ns; c++) {
            const double *x = X + sel[c] * len;
            double nr = cblas_dnrm2((int)len, x, 1);
            for (size_t i = 0; i < len; i++)
                gsl_matrix_set(A, i, c, nr > 0 ? x[i] / nr : 0.0);
        }
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        if (!gsl_linalg_SV_decomp(A, V, s, w)) {
            out = gsl_vector_get(s, ns - 1);
            for (size_t c = 0; sv && c < ns; c++)
                sv[c] = gsl_vector_get(s, c);
        }
        gsl_set_error_handler(old);
    }
    gsl_matrix_free(A);
    gsl_matrix_free(V);
    gsl_vector_free(s);
    gsl_vector_free(w);
    return out;
}

/* Every subset of size k of 0 … R−1 (lexicographic in sel); 0 when done. */
static int next_subset(size_t *sel, size_t k, size_t R)
{
    size_t i = k;
    while (i > 0 && sel[i - 1] == R - k + i - 1)
        i--;
    if (i == 0)
        return 0;
    sel[i - 1]++;
    for (size_t j = i; j < k; j++)
        sel[j] = sel[j - 1] + 1;
    return 1;
}

size_t kpf_ltr_kruskal_rank(const double *X, size_t R, size_t len, double tol)
{
    size_t sel[64], k_ok = 0;
    if (R > 64 || len == 0)
        return 0;
    for (size_t k = 1; k <= R && k <= len; k++) {
        for (size_t j = 0; j < k; j++)
            sel[j] = j;
        int all = 1;
        do {
            double s = min_sv(X, len, sel, k, NULL);
            all = s > tol;
        } while (all && next_subset(sel, k, R));
        if (!all)
            break;
        k_ok = k;
    }
    return k_ok;
}

int kpf_ltr_factor_sv(const double *X, size_t R, size_t len, int centre, double *sv,
                      kpf_error *err)
{
    size_t sel[64];
    if (R > 64 || R > len)
        return kpf_error_set(err, KPF_EINVAL, "factor sv: need R ≤ 64 and R ≤ length");
    double *Y = malloc(R * len * sizeof(double));
    if (!Y)
        return kpf_error_set(err, KPF_ENOMEM, "factor sv: out of memory");
    for (size_t r = 0; r < R; r++) {
        double mu = 0;
        for (size_t i = 0; centre && i < len; i++)
            mu += X[r * len + i] / (double)len;
        for (size_t i = 0; i < len; i++)
            Y[r * len + i] = X[r * len + i] - mu;
        sel[r] = r;
    }
    double s = min_sv(Y, len, sel, R, sv);
    free(Y);
    return isnan(s) ? kpf_error_set(err, KPF_ENUMERIC, "factor sv: SVD failed") : KPF_OK;
}
