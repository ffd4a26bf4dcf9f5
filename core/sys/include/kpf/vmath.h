/* kpf/vmath.h — element-wise tanh and logistic sigmoid over whole arrays.
 *
 * For the element-wise half of a model op (activations, gates), which BLAS
 * does not cover and where scalar libm calls dominate once the GEMMs are
 * batched.  SLEEF's vector functions (AVX-512F or AVX2, picked per
 * call from the CPU's flags; SLEEF's scalar ones elsewhere).  On a given
 * machine every element takes the same path whatever its position in the
 * array, so results do not depend on how a caller splits an array between
 * threads (they may differ in the last bit between machines).
 *
 * Accuracy against libm: a few ulp (relative error below 1e-15 on normal
 * results; tests/test_vmath.c checks it on a dense grid).  Odd symmetry of
 * tanh is exact, tanh(±0) = ±0, tanh(±inf) = ±1, sigmoid(+inf) = 1,
 * sigmoid(−inf) = 0, and a NaN input gives NaN.
 *
 * y may be the same array as x (in place); otherwise they must not overlap. */
#ifndef KPF_VMATH_H
#define KPF_VMATH_H

#include "kpf/export.h"

#include <stddef.h>

KPF_BEGIN_DECLS

/* y[i] = tanh(x[i]), i < n. */
void kpf_vtanh(size_t n, const double *x, double *y);

/* y[i] = 1 / (1 + exp(−x[i])), i < n.  Below x ≈ −709.78 the result is 0,
 * as libm's 1/(1 + exp(−x)) gives. */
void kpf_vsigmoid(size_t n, const double *x, double *y);

KPF_END_DECLS

#endif
