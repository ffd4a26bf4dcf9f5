/* The readout y = g(z; θ): the plugin's own op when it has one, else the
 * core's linear readout y = W_out z + b_out (blocks W_out, b_out of θ). */
#include <string.h>

#include "kpf/blas.h"

#include "kpf/instance.h"
#include "model_internal.h"

static const double *w_out(const kpf_model *m, const double *theta)
{
    return theta + m->m_model;
}

static const double *b_out(const kpf_model *m, const double *theta)
{
    return theta + m->m_model + m->n_out * m->n;
}

/* out (R×n_out) = Z Wᵀ (+ b on every row when b is given). */
static void affine(const kpf_model *m, size_t R, const double *Z, const double *W,
                   const double *b, double *out)
{
    size_t n = m->n, p = m->n_out;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)p, (int)n, 1.0, Z,
                (int)n, W, (int)n, 0.0, out, (int)p);
    if (b)
        for (size_t r = 0; r < R; r++)
            for (size_t j = 0; j < p; j++)
                out[r * p + j] += b[j];
}

/* Attach scratch; hand the call to the plugin's own readout when it has
 * one, otherwise fall through to the core's linear readout below. */
#define DISPATCH_TO_PLUGIN(op, ...)                                             \
    kpf_rows r;                                                                 \
    int rc = kpf_internal_attach_rows(m, rows, &r, err);                        \
    if (rc)                                                                     \
        return rc;                                                              \
    if (!m->core_readout)                                                       \
    return m->desc->op(m->self, m->theta, &r, __VA_ARGS__, err)

int kpf_readout(kpf_model *m, const kpf_rows *rows, double *y, kpf_error *err)
{
    DISPATCH_TO_PLUGIN(readout, y);
    affine(m, r.R, r.z, w_out(m, m->theta), b_out(m, m->theta), y);
    return KPF_OK;
}

int kpf_readout_jz(kpf_model *m, const kpf_rows *rows, const double *v, double *out,
                   kpf_error *err)
{
    DISPATCH_TO_PLUGIN(readout_jz, v, out);
    affine(m, r.R, v, w_out(m, m->theta), NULL, out);
    return KPF_OK;
}

int kpf_readout_jzT(kpf_model *m, const kpf_rows *rows, const double *w, double *out,
                    kpf_error *err)
{
    DISPATCH_TO_PLUGIN(readout_jzT, w, out);
    size_t n = m->n, p = m->n_out;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r.R, (int)n, (int)p, 1.0, w,
                (int)p, w_out(m, m->theta), (int)n, 0.0, out, (int)n);
    return KPF_OK;
}

int kpf_readout_jth(kpf_model *m, const kpf_rows *rows, const double *dth, double *out,
                    kpf_error *err)
{
    DISPATCH_TO_PLUGIN(readout_jth, dth, out);
    affine(m, r.R, r.z, w_out(m, dth), b_out(m, dth), out);
    return KPF_OK;
}

int kpf_readout_jthT(kpf_model *m, const kpf_rows *rows, const double *w, double *g,
                     kpf_error *err)
{
    DISPATCH_TO_PLUGIN(readout_jthT, w, g);
    size_t n = m->n, p = m->n_out;
    /* g_W (p×n) += Wᵀ Z with the rows as the inner dimension. */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)n, (int)r.R, 1.0, w,
                (int)p, r.z, (int)n, 1.0, g + m->m_model, (int)n);
    double *gb = g + m->m_model + p * n;
    for (size_t i = 0; i < r.R; i++)
        for (size_t j = 0; j < p; j++)
            gb[j] += w[i * p + j];
    return KPF_OK;
}
