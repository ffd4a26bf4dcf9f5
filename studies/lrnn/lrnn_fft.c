/* The linear-time-invariant view of a linear RNN (notes/seed-lrnn.md §7):
 * Markov parameters G_k = W_y W_h^k W_x, the output as a causal matrix
 * convolution computed with FFTW (zero-padded r2c/c2r, plans made once and
 * reused), its masked MSE, and frequency responses. */
#include <complex.h>

#include <fftw3.h>

#include "lrnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/blas.h"
#include "kpf/loss.h"

int kpf_lrnn_markov(const kpf_lrnn_net *net, size_t T, double *G, kpf_error *err)
{
    const size_t nh = net->n_h, ni = net->n_in, no = net->n_out;
    double *M = malloc(nh * ni * sizeof *M), *M2 = malloc(nh * ni * sizeof *M2);
    if (!M || !M2) {
        free(M);
        free(M2);
        return kpf_error_set(err, KPF_ENOMEM, "markov: out of memory");
    }
    memcpy(M, net->Wx, nh * ni * sizeof *M); /* M = W_h^k W_x */
    for (size_t k = 0; k < T; k++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)no, (int)ni, (int)nh, 1.0,
                    net->Wy, (int)nh, M, (int)ni, 0.0, G + k * no * ni, (int)ni);
        if (k + 1 < T) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nh, (int)ni, (int)nh,
                        1.0, net->Wh, (int)nh, M, (int)ni, 0.0, M2, (int)ni);
            double *t = M;
            M = M2;
            M2 = t;
        }
    }
    free(M);
    free(M2);
    return KPF_OK;
}

int kpf_lrnn_forward(const kpf_lrnn_net *net, size_t B, size_t T, const double *x,
                     double *y, kpf_error *err)
{
    const size_t nh = net->n_h, ni = net->n_in, no = net->n_out;
    double *h = calloc(B * nh, sizeof *h), *h2 = malloc(B * nh * sizeof *h2);
    if (!h || !h2) {
        free(h);
        free(h2);
        return kpf_error_set(err, KPF_ENOMEM, "lrnn forward: out of memory");
    }
    for (size_t k = 0; k < T; k++) { /* h ← h W_hᵀ + x_k W_xᵀ;  y_k = h W_yᵀ */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)nh, (int)nh, 1.0, h,
                    (int)nh, net->Wh, (int)nh, 0.0, h2, (int)nh);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)nh, (int)ni, 1.0,
                    x + k * B * ni, (int)ni, net->Wx, (int)ni, 1.0, h2, (int)nh);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)no, (int)nh, 1.0, h2,
                    (int)nh, net->Wy, (int)nh, 0.0, y + k * B * no, (int)no);
        double *t = h;
        h = h2;
        h2 = t;
    }
    free(h);
    free(h2);
    return KPF_OK;
}

/* Smallest 2^a 3^b 5^c 7^d ≥ n: sizes FFTW transforms fastest. */
static size_t good_size(size_t n)
{
    for (size_t L = n ? n : 1;; L++) {
        size_t r = L;
        static const size_t p[4] = {2, 3, 5, 7};
        for (int i = 0; i < 4; i++)
            while (r % p[i] == 0)
                r /= p[i];
        if (r == 1)
            return L;
    }
}

struct kpf_lti_fft {
    size_t n_in, n_out, T, B, L, nf;
    double *xt;            /* [B·n_in][L]    zero-padded input, channel-major */
    double complex *xf;    /* [B·n_in][nf]                                    */
    double *gt;            /* [n_out·n_in][L] zero-padded kernel              */
    double complex *gf;    /* [n_out·n_in][nf]                                */
    double complex *yf;    /* [B·n_out][nf]                                   */
    double *yt;            /* [B·n_out][L]                                    */
    double *y;             /* [T][B][n_out]  outputs of the last apply        */
    fftw_plan px, pg, py;
    int have_kernel;
};

void kpf_lti_fft_free(kpf_lti_fft *p)
{
    if (!p)
        return;
    if (p->px) fftw_destroy_plan(p->px);
    if (p->pg) fftw_destroy_plan(p->pg);
    if (p->py) fftw_destroy_plan(p->py);
    fftw_free(p->xt);
    fftw_free(p->xf);
    fftw_free(p->gt);
    fftw_free(p->gf);
    fftw_free(p->yf);
    fftw_free(p->yt);
    free(p->y);
    free(p);
}

/* howmany contiguous real series of length L ↔ howmany contiguous runs of
 * nf = L/2+1 complex bins (FFTW's fastest layout: unit stride). */
static fftw_plan plan_r2c(int L, int howmany, double *in, double complex *out)
{
    int nf = L / 2 + 1;
    return fftw_plan_many_dft_r2c(1, &L, howmany, in, NULL, 1, L, (fftw_complex *)out, NULL,
                                  1, nf, FFTW_ESTIMATE);
}

static fftw_plan plan_c2r(int L, int howmany, double complex *in, double *out)
{
    int nf = L / 2 + 1;
    return fftw_plan_many_dft_c2r(1, &L, howmany, (fftw_complex *)in, NULL, 1, nf, out, NULL,
                                  1, L, FFTW_ESTIMATE);
}

int kpf_lti_fft_alloc(size_t n_in, size_t n_out, size_t T, size_t B, kpf_lti_fft **out,
                      kpf_error *err)
{
    *out = NULL;
    if (!n_in || !n_out || !T || !B)
        return kpf_error_set(err, KPF_EINVAL, "lti fft: all sizes must be ≥ 1");
    kpf_lti_fft *p = calloc(1, sizeof *p);
    if (!p)
        return kpf_error_set(err, KPF_ENOMEM, "lti fft: out of memory");
    p->n_in = n_in;
    p->n_out = n_out;
    p->T = T;
    p->B = B;
    p->L = good_size(2 * T - 1);
    p->nf = p->L / 2 + 1;
    const size_t L = p->L, nf = p->nf;
    p->xt = fftw_alloc_real(L * B * n_in);
    p->xf = (double complex *)fftw_alloc_complex(nf * B * n_in);
    p->gt = fftw_alloc_real(L * n_out * n_in);
    p->gf = (double complex *)fftw_alloc_complex(nf * n_out * n_in);
    p->yf = (double complex *)fftw_alloc_complex(nf * B * n_out);
    p->yt = fftw_alloc_real(L * B * n_out);
    p->y = malloc(T * B * n_out * sizeof *p->y);
    if (!p->xt || !p->xf || !p->gt || !p->gf || !p->yf || !p->yt || !p->y) {
        kpf_lti_fft_free(p);
        return kpf_error_set(err, KPF_ENOMEM, "lti fft: out of memory (L = %zu)", L);
    }
    p->px = plan_r2c((int)L, (int)(B * n_in), p->xt, p->xf);
    p->pg = plan_r2c((int)L, (int)(n_out * n_in), p->gt, p->gf);
    p->py = plan_c2r((int)L, (int)(B * n_out), p->yf, p->yt);
    if (!p->px || !p->pg || !p->py) {
        kpf_lti_fft_free(p);
        return kpf_error_set(err, KPF_EINVAL, "lti fft: FFTW could not make a plan");
    }
    *out = p;
    return KPF_OK;
}

/* dst[c][t] = src[t][c] for t < T (C channels), zero for T ≤ t < L. */
static void to_channels(const double *src, size_t T, size_t C, size_t L, double *dst)
{
    for (size_t c = 0; c < C; c++) {
        double *d = dst + c * L;
        for (size_t t = 0; t < T; t++)
            d[t] = src[t * C + c];
        memset(d + T, 0, (L - T) * sizeof *d);
    }
}

int kpf_lti_fft_set_kernel(kpf_lti_fft *p, const double *G, kpf_error *err)
{
    to_channels(G, p->T, p->n_out * p->n_in, p->L, p->gt);
    fftw_execute(p->pg);
    p->have_kernel = 1;
    return KPF_OK;
}

int kpf_lti_fft_apply(kpf_lti_fft *p, const double *x, double *y, kpf_error *err)
{
    if (!p->have_kernel)
        return kpf_error_set(err, KPF_EINVAL, "lti fft: no kernel set");
    const size_t B = p->B, ni = p->n_in, no = p->n_out, T = p->T, L = p->L, nf = p->nf;
    to_channels(x, T, B * ni, L, p->xt);
    fftw_execute(p->px);
    /* Ŷ_{b,o}(f) = Σ_i Ĝ_{o,i}(f) X̂_{b,i}(f): the per-frequency matrix product,
     * run over contiguous frequency vectors */
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < no; o++) {
            double complex *yf = p->yf + (b * no + o) * nf;
            memset(yf, 0, nf * sizeof *yf);
            for (size_t i = 0; i < ni; i++) {
                const double complex *g = p->gf + (o * ni + i) * nf;
                const double complex *xf = p->xf + (b * ni + i) * nf;
                for (size_t f = 0; f < nf; f++)
                    yf[f] += g[f] * xf[f];
            }
        }
    fftw_execute(p->py);
    const double s = 1.0 / (double)L;
    for (size_t c = 0; c < B * no; c++) /* back to step-major [T][B][n_out] */
        for (size_t t = 0; t < T; t++)
            y[t * B * no + c] = s * p->yt[c * L + t];
    return KPF_OK;
}

int kpf_lti_fft_loss(kpf_lti_fft *p, const kpf_task_batch *batch, double *loss,
                     kpf_error *err)
{
    if (batch->B != p->B || batch->T != p->T || batch->n_in != p->n_in ||
        batch->n_out != p->n_out)
        return kpf_error_set(err, KPF_EINVAL, "lti fft loss: batch shape differs from plan");
    int rc = kpf_lti_fft_apply(p, batch->x, p->y, err);
    if (rc)
        return rc;
    *loss = kpf_loss_mse(p->T * p->B, p->n_out, p->y, batch->y, batch->mask, NULL);
    return KPF_OK;
}

int kpf_lti_freq_response(const double *G, size_t T, size_t n_out, size_t n_in, size_t L,
                          double complex *H, kpf_error *err)
{
    if (L < T)
        return kpf_error_set(err, KPF_EINVAL, "freq response: L = %zu < T = %zu", L, T);
    const size_t blk = n_out * n_in, nf = L / 2 + 1;
    double *g = fftw_alloc_real(L * blk);
    fftw_complex *h = fftw_alloc_complex(nf * blk);
    if (!g || !h) {
        fftw_free(g);
        fftw_free(h);
        return kpf_error_set(err, KPF_ENOMEM, "freq response: out of memory");
    }
    fftw_plan pl = plan_r2c((int)L, (int)blk, g, (double complex *)h);
    if (!pl) {
        fftw_free(g);
        fftw_free(h);
        return kpf_error_set(err, KPF_EINVAL, "freq response: no FFTW plan");
    }
    to_channels(G, T, blk, L, g);
    fftw_execute(pl);
    for (size_t c = 0; c < blk; c++) /* H[f][o][i] */
        for (size_t f = 0; f < nf; f++)
            H[f * blk + c] = ((const double complex *)h)[c * nf + f];
    fftw_destroy_plan(pl);
    fftw_free(g);
    fftw_free(h);
    return KPF_OK;
}

double complex kpf_lrnn_mode_response(double complex a, double complex b, double complex c,
                                      size_t T, double omega)
{
    double complex z = b * cexp(-I * omega);
    if (cabs(1.0 - z) < 1e-8) { /* the geometric sum at its pole: explicit */
        double complex s = 0, p = 1;
        for (size_t k = 0; k < T; k++, p *= z)
            s += p;
        return c * a * s;
    }
    return c * a * (1.0 - cpow(z, (double)T)) / (1.0 - z);
}
