/* The finite-width output NTK K = J Jᵀ, J = ∂ŷ/∂θ, of any model, built from
 * the J_θ ops through the core's adjoint (one reverse sweep per scored
 * output entry), and the kernel distance of eq. 135.  This is the exact
 * kernel the notes derive (§4), not the paper's eqs. 132–134. */
#include "lrnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"
#include "kpf/propagate.h"
#include "kpf/trajectory.h"

static kpf_rows step_rows(const kpf_traj *tr, size_t k)
{
    const size_t B = tr->B;
    return (kpf_rows){.R = B, .z = tr->z + k * B * tr->n, .x = tr->x + k * B * tr->n_in,
                      .trial = tr->row_trial + k * B, .t = tr->t + k * B};
}

int kpf_lrnn_output_ntk(kpf_model *m, const kpf_task_batch *batch, double **Jout,
                        double **Kout, size_t *n_rows, kpf_error *err)
{
    if (Jout)
        *Jout = NULL;
    if (Kout)
        *Kout = NULL;
    const size_t B = batch->B, T = batch->T, n = m->n, no = m->n_out, M = m->m;
    if (batch->n_in != m->n_in || batch->n_out != no)
        return kpf_error_set(err, KPF_EINVAL,
                             "output NTK: batch has n_in = %zu, n_out = %zu; model %zu, %zu",
                             batch->n_in, batch->n_out, m->n_in, no);
    size_t rows = 0;
    for (size_t i = 0; i < T * B; i++)
        rows += batch->mask[i] > 0 ? no : 0;
    *n_rows = rows;
    kpf_traj *tr = NULL;
    double *J = NULL, *w = NULL, *lam = NULL, *lam0 = NULL, *e = NULL;
    int rc = kpf_traj_alloc(m, B, T, &tr, err);
    if (rc)
        return rc;
    memcpy(tr->x, batch->x, T * B * m->n_in * sizeof(double));
    memcpy(tr->trial, batch->trial, B * sizeof(size_t));
    if ((rc = kpf_simulate(m, tr, err)) || (rc = kpf_model_reserve(m, B * T, err)))
        goto done;
    J = calloc(rows * M + 1, sizeof *J);
    w = calloc(T * B * n, sizeof *w);
    lam = malloc(T * B * n * sizeof *lam);
    lam0 = malloc(B * n * sizeof *lam0);
    e = calloc(B * no, sizeof *e);
    if (!J || !w || !lam || !lam0 || !e) {
        rc = kpf_error_set(err, KPF_ENOMEM, "output NTK: out of memory (%zu × %zu)", rows, M);
        goto done;
    }
    size_t r = 0;
    for (size_t k = 0; k < T; k++)
        for (size_t b = 0; b < B; b++) {
            if (!(batch->mask[k * B + b] > 0))
                continue;
            kpf_rows rk = step_rows(tr, k);
            for (size_t o = 0; o < no; o++, r++) {
                double *g = J + r * M;
                e[b * no + o] = 1.0;
                memset(w, 0, T * B * n * sizeof *w);
                rc = kpf_readout_jzT(m, &rk, e, w + k * B * n, err);
                if (!rc) rc = kpf_propagate_adjoint(m, tr, w, lam, lam0, err);
                if (!rc) rc = kpf_propagate_jthT(m, tr, lam, g, err);
                if (!rc) rc = kpf_readout_jthT(m, &rk, e, g, err);
                if (!rc) rc = kpf_init_state_jthT(m, B, tr->trial, lam0, g, err);
                e[b * no + o] = 0.0;
                if (rc)
                    goto done;
            }
        }
    if (Kout && rows) {
        double *K = malloc(rows * rows * sizeof *K);
        if (!K) {
            rc = kpf_error_set(err, KPF_ENOMEM, "output NTK: out of memory (%zu²)", rows);
            goto done;
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)rows, (int)M, 1.0, J,
                    (int)M, 0.0, K, (int)rows);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < i; j++)
                K[i * rows + j] = K[j * rows + i];
        *Kout = K;
    }
    if (Jout) {
        *Jout = J;
        J = NULL;
    }
done:
    free(J);
    free(w);
    free(lam);
    free(lam0);
    free(e);
    kpf_traj_free(tr);
    return rc;
}

double kpf_kernel_distance(const double *K0, const double *K1, size_t n)
{
    double d = 0, a = 0, b = 0;
    for (size_t i = 0; i < n * n; i++) {
        d += K0[i] * K1[i];
        a += K0[i] * K0[i];
        b += K1[i] * K1[i];
    }
    if (a == 0 || b == 0)
        return NAN;
    return 1.0 - d / (sqrt(a) * sqrt(b));
}
