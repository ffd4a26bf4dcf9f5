/* The vector widths of kpf/vmath.h (core/src/vmath.c dispatches), built
 * only on x86-64 (KPF_VMATH_X86, core/CMakeLists.txt). */
#ifndef KPF_VMATH_SIMD_H
#define KPF_VMATH_SIMD_H

#include <stddef.h>

#ifdef KPF_VMATH_X86
void kpf_vtanh_avx2(size_t n, const double *x, double *y);
void kpf_vsigmoid_avx2(size_t n, const double *x, double *y);
void kpf_vtanh_avx512(size_t n, const double *x, double *y);
void kpf_vsigmoid_avx512(size_t n, const double *x, double *y);
#endif

#endif
