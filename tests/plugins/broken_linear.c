/* broken_linear — a tiny continuous linear plugin, f = A z + B x, with one
 * defect chosen at compile time (tests/CMakeLists.txt builds it twice):
 *
 *   -DBROKEN_JZT    broken_jzT.so: jzT forgets the transpose (A w where Aᵀ w
 *                   is meant).  The conformance tests expect exactly the
 *                   adjoint checks that involve jzT to fail while every
 *                   finite-difference check passes.
 *   -DBROKEN_ACCUM  broken_accum.so: jthT overwrites g (g = Σ_r J_θᵀ w_r of
 *                   this call only) instead of adding into it.  The
 *                   conformance tests expect the accumulation check to fail.
 *
 * Everything else is correct, and one source keeps the two fixtures from
 * drifting apart.  Written with plain loops: it is a test fixture, not a
 * model. */
#if defined(BROKEN_JZT) + defined(BROKEN_ACCUM) != 1
#error "define exactly one of BROKEN_JZT, BROKEN_ACCUM"
#endif
#if defined(BROKEN_JZT)
#define FIXTURE "broken_jzt"
#define FIXTURE_SUMMARY "test fixture: linear field whose jzT forgets the transpose"
#else
#define FIXTURE "broken_accum"
#define FIXTURE_SUMMARY "test fixture: linear field whose jthT overwrites g"
#endif

#include <stdlib.h>

#include <gsl/gsl_randist.h>

#include "kpf/model.h"

#define N 4

typedef struct lin {
    size_t n_in;
    kpf_param_block blocks[2];
    double *theta0;
} lin;

static int lin_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    if (a->n_in < 1)
        return kpf_error_set(err, KPF_EINVAL, FIXTURE ": needs n_in >= 1");
    lin *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, FIXTURE ": out of memory");
    m->n_in = a->n_in;
    m->blocks[0] = (kpf_param_block){"A", 0, N, N};
    m->blocks[1] = (kpf_param_block){"B", N * N, N, a->n_in};
    size_t mt = N * N + N * a->n_in;
    m->theta0 = malloc(mt * sizeof(double));
    if (!m->theta0) {
        free(m);
        return kpf_error_set(err, KPF_ENOMEM, FIXTURE ": out of memory");
    }
    for (size_t i = 0; i < mt; i++)
        m->theta0[i] = gsl_ran_gaussian(a->rng, 0.5);
    *self = m;
    return KPF_OK;
}

static void lin_destroy(void *self)
{
    lin *m = self;
    if (m)
        free(m->theta0);
    free(m);
}

static int lin_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    lin *m = self;
    *L = (kpf_model_layout){0};
    L->n = N;
    L->n_in = m->n_in;
    L->n_theta = N * N + N * m->n_in;
    L->n_blocks = 2;
    L->blocks = m->blocks;
    L->theta0 = m->theta0;
    L->dt_default = 0.1;
    return KPF_OK;
}

/* out_r = A v_r (+ B x_r when x given) */
static void apply(const lin *m, const double *A, const double *B, const kpf_rows *rows,
                  const double *v, double *out)
{
    for (size_t r = 0; r < rows->R; r++)
        for (size_t i = 0; i < N; i++) {
            double s = 0;
            for (size_t j = 0; j < N; j++)
                s += A[i * N + j] * v[r * N + j];
            if (B && rows->x)
                for (size_t j = 0; j < m->n_in; j++)
                    s += B[i * m->n_in + j] * rows->x[r * m->n_in + j];
            out[r * N + i] = s;
        }
}

static int lin_f(void *self, const double *th, const kpf_rows *rows, double *out,
                 kpf_error *err)
{
    apply(self, th, th + N * N, rows, rows->z, out);
    return KPF_OK;
}

static int lin_jz(void *self, const double *th, const kpf_rows *rows, const double *v,
                  double *out, kpf_error *err)
{
    apply(self, th, NULL, rows, v, out);
    return KPF_OK;
}

/* out_r = Aᵀ w_r */
static int lin_jzT(void *self, const double *th, const kpf_rows *rows, const double *w,
                   double *out, kpf_error *err)
{
#if defined(BROKEN_JZT)
    /* WRONG on purpose: A w where Aᵀ w is meant. */
    apply(self, th, NULL, rows, w, out);
#else
    for (size_t r = 0; r < rows->R; r++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t i = 0; i < N; i++)
                s += th[i * N + j] * w[r * N + i];
            out[r * N + j] = s;
        }
#endif
    return KPF_OK;
}

static int lin_jth(void *self, const double *th, const kpf_rows *rows, const double *d,
                   double *out, kpf_error *err)
{
    apply(self, d, d + N * N, rows, rows->z, out);
    return KPF_OK;
}

static int lin_jthT(void *self, const double *th, const kpf_rows *rows, const double *w,
                    double *g, kpf_error *err)
{
    const lin *m = self;
#if defined(BROKEN_ACCUM)
    /* WRONG on purpose: clears g instead of adding into it. */
    for (size_t k = 0; k < N * N + N * m->n_in; k++)
        g[k] = 0.0;
#endif
    for (size_t r = 0; r < rows->R; r++)
        for (size_t i = 0; i < N; i++) {
            for (size_t j = 0; j < N; j++)
                g[i * N + j] += w[r * N + i] * rows->z[r * N + j];
            if (rows->x)
                for (size_t j = 0; j < m->n_in; j++)
                    g[N * N + i * m->n_in + j] += w[r * N + i] * rows->x[r * m->n_in + j];
        }
    return KPF_OK;
}

static const kpf_model_desc desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = FIXTURE,
    .summary = FIXTURE_SUMMARY,
    .flags = KPF_MODEL_CONTINUOUS,
    .create = lin_create,
    .destroy = lin_destroy,
    .params = lin_params,
    .f = lin_f,
    .jz = lin_jz,
    .jzT = lin_jzT,
    .jth = lin_jth,
    .jthT = lin_jthT,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
