/* kpf/vmath.h at 256 bits: SLEEF's AVX2 variants, 4 doubles per call
 * (this file is compiled with -mavx2 -mfma; vmath.c calls it only on CPUs that
 * have both).  The last partial vector goes through a zero-padded copy, so
 * every element takes the same path. */
#include <immintrin.h>
#include <sleef.h>
#include <string.h>

#include "vmath_simd.h"

enum { W = 4 };

static inline __m256d tanh_v(__m256d x) { return Sleef_tanhd4_u35avx2(x); }

static inline __m256d sigmoid_v(__m256d x)
{
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d e = Sleef_expd4_u10avx2(_mm256_sub_pd(_mm256_setzero_pd(), x));
    return _mm256_div_pd(one, _mm256_add_pd(one, e));
}

#define KPF_VMATH_LOOP(fn)                                                         \
    size_t i = 0;                                                                  \
    for (; i + W <= n; i += W)                                                     \
        _mm256_storeu_pd(y + i, fn(_mm256_loadu_pd(x + i)));                                 \
    if (i < n) {                                                                   \
        double buf[W] = {0};                                                       \
        memcpy(buf, x + i, (n - i) * sizeof *buf);                                 \
        _mm256_storeu_pd(buf, fn(_mm256_loadu_pd(buf)));                                     \
        memcpy(y + i, buf, (n - i) * sizeof *buf);                                 \
    }

void kpf_vtanh_avx2(size_t n, const double *x, double *y) { KPF_VMATH_LOOP(tanh_v) }

void kpf_vsigmoid_avx2(size_t n, const double *x, double *y) { KPF_VMATH_LOOP(sigmoid_v) }
