/* Conformance of a model's extension data (check_extension.h): what the
 * `extension` op returns must be NULL for names the plugin does not know,
 * and the core's interfaces must describe the model truthfully, since
 * analyses act on them without checking (Theorem 1 reads φ and W from
 * "kpf.activation/1"). */
#include "check_extension.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/activation.h"

/* A name no plugin provides. */
#define UNKNOWN_INTERFACE "kpf.check.no-such-interface/0"

/* Rows of the J_θ probe: z_j takes these values (both signs, near and far
 * from 0), where tanh, relu, linear and softplus all differ. */
static const double probe_z[] = {-1.3, -0.2, 0.7, 1.9};
#define PROBE_ROWS (sizeof probe_z / sizeof probe_z[0])

static int add(kpf_check_report *r, const char *name, double value, double tol,
               kpf_error *err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int add(kpf_check_report *r, const char *name, double value, double tol,
               kpf_error *err, const char *fmt, ...)
{
    if (r->n_items == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        kpf_check_item *it = realloc(r->items, cap * sizeof *it);
        if (!it)
            return kpf_error_set(err, KPF_ENOMEM, "cannot grow the check report");
        r->items = it;
        r->cap = cap;
    }
    kpf_check_item *it = &r->items[r->n_items++];
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    it->value = value;
    it->tol = tol;
    it->pass = value <= tol; /* NaN fails */
    if (!it->pass) {
        r->n_failed++;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(it->detail, sizeof it->detail, fmt, ap);
        va_end(ap);
    }
    return KPF_OK;
}

/* The largest |out − c·φ(z_j) e_i| over the probe rows, relative to the
 * largest |c·φ|, with c fitted by least squares; *c_out = c.  out is
 * J_θ·e_{W_ij} (rows × n). */
static double phi_residual(int act, size_t n, size_t i, const double *z, size_t j,
                           const double *out, double *c_out)
{
    double num = 0, den = 0, big = 0;
    for (size_t r = 0; r < PROBE_ROWS; r++) {
        double p = kpf_activation_phi(act, z[r * n + j]);
        num += out[r * n + i] * p;
        den += p * p;
    }
    const double c = den > 0 ? num / den : NAN;
    double worst = 0;
    for (size_t r = 0; r < PROBE_ROWS; r++)
        for (size_t k = 0; k < n; k++) {
            double want = k == i ? c * kpf_activation_phi(act, z[r * n + j]) : 0.0;
            worst = fmax(worst, fabs(out[r * n + k] - want));
            big = fmax(big, fabs(want));
        }
    *c_out = c;
    return isfinite(c) && c != 0.0 && big > 0 ? worst / big : INFINITY;
}

/* ∂f/∂W_ij along one entry (i, j) of the block, at rows whose z_j runs
 * through probe_z. */
static int probe_block(kpf_model *m, const kpf_activation_info *info,
                       const kpf_param_block *b, kpf_check_report *rep, kpf_error *err)
{
    const size_t n = m->n, R = PROBE_ROWS, i = n > 1 ? 1 : 0, j = n - 1;
    double *z = calloc(R * n, sizeof *z), *x = calloc(R * (m->n_in + 1), sizeof *x);
    double *t = calloc(R, sizeof *t), *out = calloc(R * n, sizeof *out);
    double *dth = calloc(m->m, sizeof *dth);
    size_t trial[PROBE_ROWS] = {0};
    int rc = z && x && t && out && dth ? kpf_model_reserve(m, R, err)
                                       : kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    if (!rc) {
        for (size_t r = 0; r < R; r++) {
            for (size_t k = 0; k < n; k++) /* other units: small, distinct */
                z[r * n + k] = 0.25 * sin(1.0 + (double)(3 * k + 7 * r));
            z[r * n + j] = probe_z[r];
        }
        dth[b->offset + i * b->cols + j] = 1.0;
        kpf_rows rows = {R, z, x, trial, t, NULL, NULL};
        rc = kpf_model_jth(m, &rows, dth, out, err);
    }
    if (!rc) {
        double c;
        double res = phi_residual(info->activation, n, i, z, j, out, &c);
        char name[KPF_CHECK_NAME_MAX];
        snprintf(name, sizeof name, "extension: kpf.activation/1: df_i/d%s_ij = c*%s(z_j)",
                 b->name, kpf_activation_name(info->activation));
        rc = add(rep, name, res, 1e-12, err,
                 "J_theta along %s[%zu][%zu] is not c*%s(z_%zu) e_%zu (fitted c = %g): the "
                 "activation or the block in the table does not match f",
                 b->name, i, j, kpf_activation_name(info->activation), j, i, c);
    }
    free(z);
    free(x);
    free(t);
    free(out);
    free(dth);
    return rc;
}

static int check_activation(kpf_model *m, const kpf_activation_info *info,
                            kpf_check_report *rep, kpf_error *err)
{
    const int act_ok = kpf_activation_name(info->activation) != NULL;
    int rc = add(rep, "extension: kpf.activation/1: activation is a kpf_activation",
                 act_ok ? 0.0 : 1.0, 0.0, err,
                 "activation = %d is not an enum kpf_activation value (0 … %d)",
                 info->activation, KPF_ACTIVATION_COUNT - 1);
    if (rc || !act_ok || !info->block)
        return rc;
    const kpf_param_block *b = kpf_model_block(m, info->block);
    const int square = b && b->rows == m->n && b->cols == m->n && b->offset < m->m_model;
    rc = add(rep, "extension: kpf.activation/1: block is an n x n block of theta",
             square ? 0.0 : 1.0, 0.0, err,
             "block '%s' is %s; it must name the plugin's n x n recurrent block W of W phi(z) "
             "(or be NULL when W is not a block of theta)",
             info->block, b ? "not n x n" : "not a block of the model");
    if (rc || !square)
        return rc;
    return probe_block(m, info, b, rep, err);
}

int kpf_internal_check_extension(kpf_model *m, kpf_check_report *rep, kpf_error *err)
{
    int rc = add(rep, "extension: an unknown interface name gives NULL",
                 kpf_model_extension(m, UNKNOWN_INTERFACE) ? 1.0 : 0.0, 0.0, err,
                 "extension(\"%s\") returned a table; return NULL for every name the plugin "
                 "does not provide",
                 UNKNOWN_INTERFACE);
    const kpf_activation_info *act = kpf_model_extension(m, KPF_ACTIVATION_INTERFACE);
    if (!rc && act)
        rc = check_activation(m, act, rep, err);
    return rc;
}
