/* Pellegrino's Theorem 1 on a batch (theorem1.h): the exact gradient of a
 * recurrent block, its factorisation A Φᵀ and the singular-value bound. */
#include "theorem1.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"
#include "kpf/gradient.h"
#include "kpf/linalg.h"
#include "kpf/stepper.h"

/* The n×n block `block` of m, or NULL with err set. */
static const kpf_param_block *square_block(const kpf_model *m, const char *block,
                                           kpf_error *err)
{
    const kpf_param_block *b = kpf_model_block(m, block ? block : "W");
    if (!b) {
        kpf_error_set(err, KPF_EINVAL, "model '%s' has no parameter block '%s'",
                      m->desc->name, block ? block : "W");
        return NULL;
    }
    if (b->rows != m->n || b->cols != m->n) {
        kpf_error_set(err, KPF_EINVAL,
                      "block '%s' of model '%s' is %zu×%zu, not the recurrent n×n = %zu×%zu",
                      b->name, m->desc->name, b->rows, b->cols, m->n, m->n);
        return NULL;
    }
    return b;
}

void kpf_thm1_free(kpf_thm1 *t)
{
    if (!t)
        return;
    free(t->grad);
    free(t->s_grad);
    free(t->s_adj);
    free(t->s_phi);
    free(t->bound);
    memset(t, 0, sizeof *t);
}

int kpf_thm1_check(kpf_model *m, const kpf_task_batch *bt, const char *block, int act,
                   kpf_thm1 *out, kpf_error *err)
{
    memset(out, 0, sizeof *out);
    const kpf_param_block *b = square_block(m, block, err);
    if (!b)
        return err ? err->code : KPF_EINVAL;
    double h;
    if (m->stepper == &kpf_stepper_euler)
        h = m->dt;
    else if (m->stepper == &kpf_stepper_discrete)
        h = 1.0;
    else
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "Theorem 1 check: ∇_W L = h Σ λ φ(z)ᵀ holds for the Euler step "
                             "or a discrete map, not for step '%s'",
                             m->stepper->name);
    const size_t n = m->n, B = bt->B, T = bt->T, rows = B * T;
    out->n = n;
    out->grad = malloc(n * n * sizeof(double));
    out->s_grad = calloc(n, sizeof(double));
    out->s_adj = calloc(n, sizeof(double));
    out->s_phi = calloc(n, sizeof(double));
    out->bound = calloc(n, sizeof(double));
    double *g = malloc(m->m * sizeof(double));
    double *Am = malloc(rows * n * sizeof(double)), *Ph = malloc(rows * n * sizeof(double));
    double *G2 = malloc(n * n * sizeof(double));
    kpf_grad_ws *ws = NULL;
    int rc = KPF_OK;
    if (!out->grad || !out->s_grad || !out->s_adj || !out->s_phi || !out->bound || !g || !Am ||
        !Ph || !G2)
        rc = kpf_error_set(err, KPF_ENOMEM, "Theorem 1 check: out of memory");
    if (!rc)
        rc = kpf_grad_ws_alloc(m, B, T, &ws, err);
    if (!rc)
        rc = kpf_loss_grad(m, bt, 0, ws, &out->loss, g, err);
    if (!rc) {
        memcpy(out->grad, g + b->offset, n * n * sizeof(double));
        const double sh = sqrt(h);
        for (size_t k = 0; k < T; k++) {
            const double *zb = kpf_traj_state_before(ws->tr, k);
            for (size_t i = 0; i < B * n; i++) {
                Am[k * B * n + i] = sh * ws->lambda[k * B * n + i];
                Ph[k * B * n + i] = sh * kpf_activation_phi(act, zb[i]);
            }
        }
        /* A Φᵀ with A = Amᵀ (n × rows): G2 = Amᵀ Ph */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)rows, 1.0, Am,
                    (int)n, Ph, (int)n, 0.0, G2, (int)n);
        double d2 = 0, g2 = 0;
        for (size_t i = 0; i < n * n; i++) {
            d2 += (G2[i] - out->grad[i]) * (G2[i] - out->grad[i]);
            g2 += out->grad[i] * out->grad[i];
        }
        out->factor_err = g2 > 0 ? sqrt(d2 / g2) : sqrt(d2);
        rc = kpf_matrix_svd(n, n, out->grad, out->s_grad, NULL, NULL, err);
    }
    if (!rc)
        rc = kpf_matrix_svd(rows, n, Am, out->s_adj, NULL, NULL, err);
    if (!rc)
        rc = kpf_matrix_svd(rows, n, Ph, out->s_phi, NULL, NULL, err);
    if (!rc) {
        /* s_adj, s_phi beyond min(rows, n) stay 0 */
        double ex = -INFINITY, s1 = out->s_grad[0];
        for (size_t r = 0; r < n; r++) {
            out->bound[r] = fmin(out->s_phi[0] * out->s_adj[r], out->s_adj[0] * out->s_phi[r]);
            double e = s1 > 0 ? (out->s_grad[r] - out->bound[r]) / s1 : 0.0;
            if (e > ex)
                ex = e;
        }
        out->max_excess = ex;
    }
    kpf_grad_ws_free(ws);
    free(g), free(Am), free(Ph), free(G2);
    if (rc)
        kpf_thm1_free(out);
    return rc;
}
