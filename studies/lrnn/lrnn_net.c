/* Linear-RNN weights from a model (the plugin's "kpf.lrnn.net/1"), mode
 * extraction (eqs. 197–202), singular values and extrapolation losses
 * (lrnn.h). */
#include "lrnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>

#include "kpf/gradient.h"
#include "lrnn_net_iface.h"

int kpf_lrnn_net_alloc(size_t n_in, size_t n_h, size_t n_out, kpf_lrnn_net *net,
                       kpf_error *err)
{
    memset(net, 0, sizeof *net);
    net->n_in = n_in;
    net->n_h = n_h;
    net->n_out = n_out;
    net->Wx = calloc(n_h * n_in, sizeof(double));
    net->Wh = calloc(n_h * n_h, sizeof(double));
    net->Wy = calloc(n_out * n_h, sizeof(double));
    if (!net->Wx || !net->Wh || !net->Wy) {
        kpf_lrnn_net_free(net);
        return kpf_error_set(err, KPF_ENOMEM, "lrnn net: out of memory");
    }
    return KPF_OK;
}

void kpf_lrnn_net_free(kpf_lrnn_net *net)
{
    if (!net)
        return;
    free(net->Wx);
    free(net->Wh);
    free(net->Wy);
    memset(net, 0, sizeof *net);
}

int kpf_lrnn_net_from_model(const kpf_model *m, kpf_lrnn_net *net, kpf_error *err)
{
    const kpf_lrnn_net_iface *x = kpf_model_extension(m, KPF_LRNN_NET_INTERFACE);
    if (!x)
        return kpf_error_set(err, KPF_EINVAL,
                             "lrnn net: model '%s' has no %s interface (not the lrnn plugin?)",
                             m->desc->name, KPF_LRNN_NET_INTERFACE);
    int rc = kpf_lrnn_net_alloc(x->n_in, x->n, x->n_out, net, err);
    if (!rc)
        rc = x->weights(m->self, m->theta, net->Wx, net->Wh, net->Wy, err);
    if (rc)
        kpf_lrnn_net_free(net);
    return rc;
}

/* out (d×d) = Lᵀ W Rm over the first d columns of L (r×r) and Rm (c×c). */
static void project(const double *L, size_t r, const double *W, const double *Rm, size_t c,
                    size_t d, double *out)
{
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++) {
            double s = 0;
            for (size_t i = 0; i < r; i++) {
                double li = L[i * r + a];
                if (li == 0.0)
                    continue;
                double t = 0;
                for (size_t j = 0; j < c; j++)
                    t += W[i * c + j] * Rm[j * c + b];
                s += li * t;
            }
            out[a * d + b] = s;
        }
}

int kpf_lrnn_extract_modes(const kpf_lrnn_net *net, const double *U, const double *V,
                           const double *R, size_t d, double *a, double *b, double *c,
                           double *offdiag, kpf_error *err)
{
    if (d > net->n_in || d > net->n_out || d > net->n_h)
        return kpf_error_set(err, KPF_EINVAL,
                             "extract modes: d = %zu exceeds a dimension of the network", d);
    double *M = malloc(3 * d * d * sizeof *M);
    if (!M)
        return kpf_error_set(err, KPF_ENOMEM, "extract modes: out of memory");
    double *Mx = M, *Mh = M + d * d, *My = M + 2 * d * d;
    /* W̄_x = Rᵀ W_x V (n_h×n_in); W̄_h = Rᵀ W_h R; W̄_y = Uᵀ W_y R */
    project(R, net->n_h, net->Wx, V, net->n_in, d, Mx);
    project(R, net->n_h, net->Wh, R, net->n_h, d, Mh);
    project(U, net->n_out, net->Wy, R, net->n_h, d, My);
    double off = 0;
    for (size_t i = 0; i < d; i++) {
        a[i] = Mx[i * d + i];
        b[i] = Mh[i * d + i];
        c[i] = My[i * d + i];
        for (size_t j = 0; j < d; j++)
            if (i != j) {
                off = fmax(off, fabs(Mx[i * d + j]));
                off = fmax(off, fmax(fabs(Mh[i * d + j]), fabs(My[i * d + j])));
            }
    }
    if (offdiag)
        *offdiag = off;
    free(M);
    return KPF_OK;
}

int kpf_lrnn_extract_modes_eigen(const kpf_lrnn_net *net, const double *Q, size_t pairs,
                                 double complex *a, double complex *b, double complex *c,
                                 kpf_error *err)
{
    const size_t N = net->n_h;
    if (net->n_in != N || net->n_out != N || 2 * pairs > N)
        return kpf_error_set(err, KPF_EINVAL,
                             "eigen modes need a square network with 2·pairs ≤ n (n_in = %zu, "
                             "n = %zu, n_out = %zu, pairs = %zu)",
                             net->n_in, N, net->n_out, pairs);
    const double *W[3] = {net->Wx, net->Wh, net->Wy};
    double complex *out[3] = {a, b, c};
    for (int w = 0; w < 3; w++)
        for (size_t p = 0; p < pairs; p++) {
            double B[2][2];
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 2; q++) {
                    double s = 0;
                    for (size_t i = 0; i < N; i++)
                        for (size_t j = 0; j < N; j++)
                            s += Q[i * N + 2 * p + r] * W[w][i * N + j] * Q[j * N + 2 * p + q];
                    B[r][q] = s;
                }
            out[w][p] = 0.5 * (B[0][0] + B[1][1]) + I * 0.5 * (B[1][0] - B[0][1]);
        }
    return KPF_OK;
}

int kpf_lrnn_svals(const double *W, size_t rows, size_t cols, double *s, kpf_error *err)
{
    int tr = rows < cols; /* GSL's SVD wants rows ≥ cols */
    size_t M = tr ? cols : rows, N = tr ? rows : cols;
    gsl_matrix *A = gsl_matrix_alloc(M, N), *V = gsl_matrix_alloc(N, N);
    gsl_vector *S = gsl_vector_alloc(N), *work = gsl_vector_alloc(N);
    int rc = KPF_OK;
    if (!A || !V || !S || !work) {
        rc = kpf_error_set(err, KPF_ENOMEM, "svals: out of memory");
        goto done;
    }
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            if (tr)
                gsl_matrix_set(A, j, i, W[i * cols + j]);
            else
                gsl_matrix_set(A, i, j, W[i * cols + j]);
        }
    if (gsl_linalg_SV_decomp(A, V, S, work)) {
        rc = kpf_error_set(err, KPF_ENUMERIC, "svals: SVD failed");
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        s[i] = gsl_vector_get(S, i);
done:
    gsl_matrix_free(A);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(work);
    return rc;
}

double kpf_lrnn_time_per_step(double eta, size_t scored, size_t n_out)
{
    return 2.0 * eta / ((double)scored * (double)n_out);
}

int kpf_lrnn_task_loss(kpf_model *m, kpf_task *task, size_t B, gsl_rng *rng, double *loss,
                       kpf_error *err)
{
    kpf_task_batch *bt = NULL;
    kpf_grad_ws *ws = NULL;
    int rc = kpf_task_batch_alloc(task, B, &bt, err);
    if (!rc)
        rc = kpf_task_generate(task, rng, bt, err);
    if (!rc)
        rc = kpf_grad_ws_alloc(m, B, task->T, &ws, err);
    if (!rc)
        rc = kpf_loss_eval(m, bt, ws, loss, err);
    kpf_grad_ws_free(ws);
    kpf_task_batch_free(bt);
    return rc;
}
