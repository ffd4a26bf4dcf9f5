/* lrnn_fft_bench — the forward pass of a linear RNN over a long sequence:
 * the recurrence (one GEMM per step, kpf_lrnn_forward) against the FFT path
 * (Markov parameters G_k = W_y W_h^k W_x, then a zero-padded FFTW
 * convolution with plans made once; kpf/lrnn.h), and where the FFT path
 * starts to win.
 *
 *   bench/lrnn_fft.sh                 (builds and runs; see docs/lrnn.md)
 *   lrnn_fft_bench [--nh 64] [--B 32] [--nx 4] [--ny 4] [--Tmax 100000]
 *                  [--T-nh 10000] [--reps 3]
 *
 * For T = 100, 200, 500, 1000, … ≤ Tmax prints, median of `reps` runs:
 *   recurrence     kpf_lrnn_forward
 *   fft_total      markov + plan + kernel transform + apply (one-off use)
 *   fft_apply      apply only (kernel and plans reused: many batches, or
 *                  evaluations with fixed weights)
 *   rel_err        ‖y_fft − y_rec‖ / ‖y_rec‖
 * and the crossover: the smallest T from which on fft_total < recurrence;
 * then the same at fixed T (--T-nh) for n_h = 16 … 256, where the
 * recurrence's O(T·B·n_h²) meets the FFT's O(T log T·B·(n_in + n_out)). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpf/lrnn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

typedef struct timing {
    double rec, total, apply, rel;
} timing;

static kpf_error err;

/* A random stable network (‖W_h‖₂ = 0.99). */
static int make_net(kpf_lrnn_net *net, size_t nx, size_t nh, size_t ny)
{
    if (kpf_lrnn_net_alloc(nx, nh, ny, net, &err))
        return 1;
    for (size_t i = 0; i < nh * nx; i++) net->Wx[i] = (double)rand() / RAND_MAX - 0.5;
    for (size_t i = 0; i < ny * nh; i++) net->Wy[i] = (double)rand() / RAND_MAX - 0.5;
    for (size_t i = 0; i < nh * nh; i++) net->Wh[i] = (double)rand() / RAND_MAX - 0.5;
    double *s = malloc(nh * sizeof *s);
    if (!s)
        return 1;
    kpf_lrnn_svals(net->Wh, nh, nh, s, &err);
    for (size_t i = 0; i < nh * nh; i++) net->Wh[i] *= 0.99 / s[0];
    free(s);
    return 0;
}

static int run_case(size_t nx, size_t nh, size_t ny, size_t B, size_t T, int reps, timing *out)
{
    kpf_lrnn_net net;
    if (make_net(&net, nx, nh, ny))
        return 1;
    double *x = malloc(T * B * nx * sizeof *x), *y1 = malloc(T * B * ny * sizeof *y1),
           *y2 = malloc(T * B * ny * sizeof *y2), *G = malloc(T * ny * nx * sizeof *G);
    if (!x || !y1 || !y2 || !G)
        return 1;
    for (size_t i = 0; i < T * B * nx; i++)
        x[i] = (double)rand() / RAND_MAX - 0.5;
    double tr[16], tf[16], ta[16];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        kpf_lrnn_forward(&net, B, T, x, y1, &err);
        double t1 = now();
        kpf_lti_fft *p = NULL;
        kpf_lrnn_markov(&net, T, G, &err);
        if (kpf_lti_fft_alloc(nx, ny, T, B, &p, &err))
            return fprintf(stderr, "%s\n", err.msg), 1;
        kpf_lti_fft_set_kernel(p, G, &err);
        kpf_lti_fft_apply(p, x, y2, &err);
        double t2 = now();
        kpf_lti_fft_apply(p, x, y2, &err);
        double t3 = now();
        kpf_lti_fft_free(p);
        tr[r] = t1 - t0;
        tf[r] = t2 - t1;
        ta[r] = t3 - t2;
    }
    double d = 0, nrm = 0;
    for (size_t i = 0; i < T * B * ny; i++) {
        d += (y1[i] - y2[i]) * (y1[i] - y2[i]);
        nrm += y1[i] * y1[i];
    }
    *out = (timing){median(tr, reps), median(tf, reps), median(ta, reps), sqrt(d / nrm)};
    free(x);
    free(y1);
    free(y2);
    free(G);
    kpf_lrnn_net_free(&net);
    return 0;
}

/* From here on (to the largest value tried) faster: keep the first win of
 * the current winning streak. */
static void streak(size_t *cross, int win, size_t at)
{
    if (!win)
        *cross = 0;
    else if (!*cross)
        *cross = at;
}

int main(int argc, char **argv)
{
    size_t nh = 64, B = 32, nx = 4, ny = 4, Tmax = 100000, Tnh = 10000;
    int reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = (size_t)strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--nh")) nh = v;
        else if (!strcmp(argv[i], "--B")) B = v;
        else if (!strcmp(argv[i], "--nx")) nx = v;
        else if (!strcmp(argv[i], "--ny")) ny = v;
        else if (!strcmp(argv[i], "--Tmax")) Tmax = v;
        else if (!strcmp(argv[i], "--T-nh")) Tnh = v;
        else if (!strcmp(argv[i], "--reps")) reps = v < 1 ? 1 : v > 15 ? 15 : (int)v;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    srand(1);
    printf("# linear RNN forward: n_h %zu, batch %zu, n_in %zu, n_out %zu, median of %d\n",
           nh, B, nx, ny, reps);
    printf("# %8s %12s %12s %12s %10s\n", "T", "recurrence_s", "fft_total_s", "fft_apply_s",
           "rel_err");
    static const size_t mult[3] = {1, 2, 5};
    size_t cross_total = 0, cross_apply = 0;
    for (size_t dec = 100; dec <= Tmax; dec *= 10)
        for (int q = 0; q < 3; q++) {
            size_t T = dec * mult[q];
            if (T > Tmax)
                break;
            timing tm;
            if (run_case(nx, nh, ny, B, T, reps, &tm))
                return 1;
            streak(&cross_total, tm.total < tm.rec, T);
            streak(&cross_apply, tm.apply < tm.rec, T);
            printf("  %8zu %12.6f %12.6f %12.6f %10.2e\n", T, tm.rec, tm.total, tm.apply,
                   tm.rel);
            fflush(stdout);
        }
    if (cross_total)
        printf("# crossover in T (n_h %zu): FFT incl. Markov parameters and plans faster for "
               "every T >= %zu tried\n", nh, cross_total);
    else
        printf("# crossover in T (n_h %zu): none, the recurrence is faster at the largest T\n",
               nh);
    if (cross_apply)
        printf("# FFT apply only (kernel and plans reused) faster for every T >= %zu\n",
               cross_apply);
    else
        printf("# FFT apply only: the recurrence is faster at the largest T\n");
    printf("# n_h sweep at T = %zu\n# %8s %12s %12s %12s %10s\n", Tnh, "n_h", "recurrence_s",
           "fft_total_s", "fft_apply_s", "rel_err");
    size_t cross_nh = 0;
    for (size_t h = 16; h <= 256; h *= 2) {
        timing tm;
        if (run_case(nx, h, ny, B, Tnh, reps, &tm))
            return 1;
        streak(&cross_nh, tm.total < tm.rec, h);
        printf("  %8zu %12.6f %12.6f %12.6f %10.2e\n", h, tm.rec, tm.total, tm.apply, tm.rel);
        fflush(stdout);
    }
    if (cross_nh)
        printf("# crossover in n_h (T %zu): FFT incl. everything faster for every n_h >= %zu "
               "tried\n", Tnh, cross_nh);
    else
        printf("# crossover in n_h (T %zu): none up to n_h = 256\n", Tnh);
    return 0;
}
