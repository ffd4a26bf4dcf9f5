/* Element-wise tanh and sigmoid over arrays (kpf/vmath.h), by SLEEF's
 * vectorised elementary functions: tanh's 3.5-ulp variant (2.5× faster than
 * the 1.0-ulp one and within 1e-15 relative of libm, tests/test_vmath.c),
 * exp's 1.0-ulp one for the sigmoid.
 *
 * SLEEF's 256- and 512-bit entry points are declared only when the
 * including file is compiled for those units, so each width lives in its
 * own file under simd/ compiled for it (core/CMakeLists.txt), and this
 * file picks the widest one the CPU has on every call (a cheap flag test).
 * Within a width every element, the last partial vector included, takes the
 * same path, so its result does not depend on its position in the array or
 * on how a caller splits an array between threads.  Other CPUs and
 * architectures take SLEEF's scalar functions. */
#include "kpf/vmath.h"

#include <sleef.h>

#include "simd/vmath_simd.h"

static void tanh_scalar(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = Sleef_tanh_u35(x[i]);
}

static void sigmoid_scalar(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0 / (1.0 + Sleef_exp_u10(-x[i]));
}

void kpf_vtanh(size_t n, const double *x, double *y)
{
#ifdef KPF_VMATH_X86
    if (__builtin_cpu_supports("avx512f"))
        return kpf_vtanh_avx512(n, x, y);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return kpf_vtanh_avx2(n, x, y);
#endif
    tanh_scalar(n, x, y);
}

void kpf_vsigmoid(size_t n, const double *x, double *y)
{
#ifdef KPF_VMATH_X86
    if (__builtin_cpu_supports("avx512f"))
        return kpf_vsigmoid_avx512(n, x, y);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return kpf_vsigmoid_avx2(n, x, y);
#endif
    sigmoid_scalar(n, x, y);
}
