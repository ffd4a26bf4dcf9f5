/* kpf/vmath.h at 512 bits: SLEEF's AVX-512F variants, 8 doubles per call
 * (this file is compiled with -mavx512f; vmath.c calls it only on CPUs that
 * have it).  The last partial vector goes through a zero-padded copy, so
 * every element takes the same path. */
#include <immintrin.h>
#include <sleef.h>
#include <string.h>

#include "vmath_simd.h"

enum { W = 8 };

static inline __m512d tanh_v(__m512d x) { return Sleef_tanhd8_u35avx512f(x); }

static inline __m512d sigmoid_v(__m512d x)
{
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d e = Sleef_expd8_u10avx512f(_mm512_sub_pd(_mm512_setzero_pd(), x));
    return _mm512_div_pd(one, _mm512_add_pd(one, e));
}

#define KPF_VMATH_LOOP(fn)                                                         \
    size_t i = 0;                                                                  \
    for (; i + W <= n; i += W)                                                     \
        _mm512_storeu_pd(y + i, fn(_mm512_loadu_pd(x + i)));                                 \
    if (i < n) {                                                                   \
        double buf[W] = {0};                                                       \
        memcpy(buf, x + i, (n - i) * sizeof *buf);                                 \
        _mm512_storeu_pd(buf, fn(_mm512_loadu_pd(buf)));                                     \
        memcpy(y + i, buf, (n - i) * sizeof *buf);                                 \
    }

void kpf_vtanh_avx512(size_t n, const double *x, double *y) { KPF_VMATH_LOOP(tanh_v) }

void kpf_vsigmoid_avx512(size_t n, const double *x, double *y) { KPF_VMATH_LOOP(sigmoid_v) }
