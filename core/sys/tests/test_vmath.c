/* kpf/vmath.h: accuracy against libm on dense grids (tiny |x| and tails
 * included), odd symmetry, saturation, special values, and independence of
 * an element's result from its position in the array. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/vmath.h"

/* The bound the conformance finite differences and the PyTorch agreement
 * check (1e-8) rely on, with a wide margin: a few ulp. */
#define REL_BOUND 1e-15

enum { N_LOG = 400000, N_LIN = 400001 };

/* ±10^e for e on a dense grid in [−300, 3] (tiny arguments to the tails),
 * interleaved by sign. */
static double *log_grid(size_t *n)
{
    double *x = malloc(2 * N_LOG * sizeof *x);
    cr_assert_not_null(x);
    for (size_t i = 0; i < N_LOG; i++) {
        double v = pow(10.0, -300.0 + 303.0 * (double)i / N_LOG);
        x[2 * i] = v;
        x[2 * i + 1] = -v * (1.0 + 1e-7); /* not exactly −x: different rounding */
    }
    *n = 2 * N_LOG;
    return x;
}

/* [−a, a] with a step that is no binary fraction, so that every region of
 * the approximation (both sides of the 0.625 switch of tanh, the cap at
 * large |x|) is hit at many points. */
static double *lin_grid(double a, size_t *n)
{
    double *x = malloc(N_LIN * sizeof *x);
    cr_assert_not_null(x);
    for (size_t i = 0; i < N_LIN; i++)
        x[i] = -a + 2.0 * a * (double)i / (N_LIN - 1);
    *n = N_LIN;
    return x;
}

static double rel_err(double got, double want)
{
    if (want == 0.0)
        return got == 0.0 ? 0.0 : HUGE_VAL;
    return fabs(got - want) / fabs(want);
}

static double libm_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

typedef void (*vfun)(size_t, const double *, double *);

/* Largest relative error of f against ref over x (entries with a
 * subnormal or zero reference result are compared exactly as 0 or skipped). */
static double worst(vfun f, double (*ref)(double), const double *x, size_t n)
{
    double *y = malloc(n * sizeof *y), w = 0.0;
    cr_assert_not_null(y);
    f(n, x, y);
    for (size_t i = 0; i < n; i++) {
        double r = ref(x[i]);
        if (r != 0.0 && fabs(r) < 2.2250738585072014e-308)
            continue; /* subnormal: relative error is meaningless */
        double e = rel_err(y[i], r);
        if (e > w)
            w = e;
    }
    free(y);
    return w;
}

Test(vmath, tanh_matches_libm_on_dense_grids)
{
    size_t n;
    double *x = log_grid(&n);
    double e = worst(kpf_vtanh, tanh, x, n);
    cr_expect_leq(e, REL_BOUND, "tanh on ±10^[−300, 3]: max relative error %.3g", e);
    free(x);
    x = lin_grid(25.0, &n);
    e = worst(kpf_vtanh, tanh, x, n);
    cr_expect_leq(e, REL_BOUND, "tanh on [−25, 25]: max relative error %.3g", e);
    free(x);
}

Test(vmath, sigmoid_matches_libm_on_dense_grids)
{
    size_t n;
    double *x = log_grid(&n);
    for (size_t i = 0; i < n; i++) /* keep results normal: σ(−700) ≈ 1e-304 */
        if (x[i] < -700.0)
            x[i] = -700.0;
    double e = worst(kpf_vsigmoid, libm_sigmoid, x, n);
    cr_expect_leq(e, REL_BOUND, "sigmoid on ±10^[−300, 3]: max relative error %.3g", e);
    free(x);
    x = lin_grid(40.0, &n);
    e = worst(kpf_vsigmoid, libm_sigmoid, x, n);
    cr_expect_leq(e, REL_BOUND, "sigmoid on [−40, 40]: max relative error %.3g", e);
    free(x);
}

Test(vmath, tanh_is_exactly_odd)
{
    size_t n;
    double *x = lin_grid(30.0, &n);
    double *neg = malloc(n * sizeof *neg), *a = malloc(n * sizeof *a),
           *b = malloc(n * sizeof *b);
    cr_assert(neg && a && b);
    for (size_t i = 0; i < n; i++)
        neg[i] = -x[i];
    kpf_vtanh(n, x, a);
    kpf_vtanh(n, neg, b);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(a[i], -b[i], "tanh(%.17g) = %.17g but tanh(%.17g) = %.17g", x[i], a[i],
                     neg[i], b[i]);
    free(x);
    free(neg);
    free(a);
    free(b);
}

Test(vmath, special_values)
{
    const double x[] = {0.0, -0.0, 1e-310, -1e-310, 20.0, -20.0, 700.0, -700.0,
                        1e300, -1e300, INFINITY, -INFINITY, NAN, -NAN};
    enum { K = sizeof x / sizeof x[0] };
    double t[K], s[K];
    kpf_vtanh(K, x, t);
    kpf_vsigmoid(K, x, s);
    cr_expect(t[0] == 0.0 && !signbit(t[0]), "tanh(+0) = %g", t[0]);
    cr_expect(t[1] == 0.0 && signbit(t[1]), "tanh(−0) must be −0, got %g", t[1]);
    cr_expect_eq(t[2], 1e-310, "tanh of a subnormal is itself");
    cr_expect_eq(t[3], -1e-310, "tanh of a subnormal is itself");
    for (int i = 4; i < 12; i++) /* saturation */
        cr_expect_eq(t[i], x[i] > 0 ? 1.0 : -1.0, "tanh(%g) = %.17g", x[i], t[i]);
    cr_expect(isnan(t[12]) && isnan(t[13]), "tanh(NaN) must be NaN");
    cr_expect_eq(s[0], 0.5);
    cr_expect_eq(s[1], 0.5);
    cr_expect_leq(rel_err(s[4], libm_sigmoid(20.0)), REL_BOUND);
    cr_expect_eq(s[6], 1.0, "sigmoid(700) = %.17g", s[6]);
    cr_expect_eq(s[8], 1.0);
    cr_expect_eq(s[9], 0.0, "sigmoid(−1e300) = %g", s[9]);
    cr_expect_eq(s[10], 1.0);
    cr_expect_eq(s[11], 0.0);
    cr_expect(isnan(s[12]) && isnan(s[13]), "sigmoid(NaN) must be NaN");
}

/* The result of an entry does not depend on where it sits (vector body or
 * remainder, chunk boundary): what makes split loops thread-count
 * independent.  Also checks y == x (in place). */
Test(vmath, position_independent_and_in_place)
{
    size_t n;
    double *x = lin_grid(12.0, &n);
    const size_t m = 1031; /* odd, not a multiple of any vector width or chunk */
    double *whole = malloc(m * sizeof *whole), *one = malloc(m * sizeof *one),
           *inpl = malloc(m * sizeof *inpl);
    cr_assert(whole && one && inpl);
    for (int f = 0; f < 2; f++) {
        vfun fn = f ? kpf_vsigmoid : kpf_vtanh;
        for (size_t off = 0; off < 9; off++) {
            fn(m, x + 1000 * off + off, whole);
            for (size_t i = 0; i < m; i++)
                fn(1, x + 1000 * off + off + i, one + i);
            memcpy(inpl, x + 1000 * off + off, m * sizeof *inpl);
            fn(m, inpl, inpl);
            cr_assert(memcmp(whole, one, m * sizeof *one) == 0,
                      "%s: results depend on the position in the array",
                      f ? "sigmoid" : "tanh");
            cr_assert(memcmp(whole, inpl, m * sizeof *one) == 0, "%s: in place differs",
                      f ? "sigmoid" : "tanh");
        }
    }
    free(x);
    free(whole);
    free(one);
    free(inpl);
}
