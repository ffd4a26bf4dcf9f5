/* observed_fixture — a discrete linear map whose state holds more than the
 * analyses should see, for the `observed` op (kpf/model.h):
 *
 *   z' = A z + B x,   A = 0 at θ0,   n = 4,
 *   B at θ0: row 0 = e_0 (z_0 follows x_0), row 1 = 0 (z_1 stays 0),
 *            rows 2, 3 = 100·e_1, 100·e_2 (large, independent, unobserved).
 *
 * The key `observed` says what the op reports: first_two (components 0 and
 * 1: the observed states vary along one direction only, so PCA over them
 * has effective dimension at most 1, while over all four it has more),
 * all (no list: every component), out_of_range (a list naming component 7,
 * which the host must refuse).  Plain loops: a fixture, not a model. */
#include <stdlib.h>
#include <string.h>

#include "kpf/config.h"
#include "kpf/model.h"

#define N 4

enum { OBS_FIRST_TWO, OBS_ALL, OBS_OUT_OF_RANGE };
static const char *const obs_names[] = {"first_two", "all", "out_of_range", NULL};

typedef struct fx {
    size_t n_in;
    int mode;
    kpf_param_block blocks[2];
    double *theta0;
    size_t idx[2];
} fx;

static void fx_destroy(void *self)
{
    fx *m = self;
    if (m)
        free(m->theta0);
    free(m);
}

static int fx_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    fx *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = kpf_cfg_choice(a->node, "observed", KPF_CFG_OPTIONAL, obs_names, OBS_FIRST_TWO,
                            &m->mode, err);
    m->n_in = a->n_in;
    size_t nb = N * a->n_in;
    if (!rc && !(m->theta0 = calloc(N * N + nb + 1, sizeof(double))))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (rc) {
        fx_destroy(m);
        return rc;
    }
    m->blocks[0] = (kpf_param_block){"A", 0, N, N};
    m->blocks[1] = (kpf_param_block){"B", N * N, N, a->n_in};
    double *B = m->theta0 + N * N;
    for (size_t r = 0; r < N; r++) {
        size_t col = r == 0 ? 0 : r - 1; /* rows 2, 3 read inputs 1, 2 */
        if (r != 1 && col < a->n_in)
            B[r * a->n_in + col] = r == 0 ? 1.0 : 100.0;
    }
    m->idx[0] = 0;
    m->idx[1] = m->mode == OBS_OUT_OF_RANGE ? 7 : 1;
    *self = m;
    return KPF_OK;
}

static int fx_params(void *self, kpf_model_layout *L, kpf_error *err)
{
    (void)err;
    fx *m = self;
    memset(L, 0, sizeof *L);
    L->n = N;
    L->n_in = m->n_in;
    L->n_theta = N * N + N * m->n_in;
    L->n_blocks = 2;
    L->blocks = m->blocks;
    L->theta0 = m->theta0;
    return KPF_OK;
}

/* out = A v (+ B x when x is given) */
static void apply(const fx *m, const double *th, const double *v, const double *x, double *out)
{
    const double *A = th, *B = th + N * N;
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (size_t j = 0; j < N; j++)
            s += A[i * N + j] * v[j];
        for (size_t j = 0; x && j < m->n_in; j++)
            s += B[i * m->n_in + j] * x[j];
        out[i] = s;
    }
}

static int fx_f(void *self, const double *th, const kpf_rows *rows, double *out,
                kpf_error *err)
{
    (void)err;
    for (size_t r = 0; r < rows->R; r++)
        apply(self, th, rows->z + r * N, rows->x ? rows->x + r * ((fx *)self)->n_in : NULL,
              out + r * N);
    return KPF_OK;
}

static int fx_jz(void *self, const double *th, const kpf_rows *rows, const double *v,
                 double *out, kpf_error *err)
{
    (void)err;
    for (size_t r = 0; r < rows->R; r++)
        apply(self, th, v + r * N, NULL, out + r * N);
    return KPF_OK;
}

static int fx_jzT(void *self, const double *th, const kpf_rows *rows, const double *w,
                  double *out, kpf_error *err)
{
    (void)self, (void)err;
    for (size_t r = 0; r < rows->R; r++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t i = 0; i < N; i++)
                s += th[i * N + j] * w[r * N + i];
            out[r * N + j] = s;
        }
    return KPF_OK;
}

static int fx_jth(void *self, const double *th, const kpf_rows *rows, const double *d,
                  double *out, kpf_error *err)
{
    (void)th;
    return fx_f(self, d, rows, out, err); /* linear in θ: J_θ d = f with θ = d */
}

static int fx_jthT(void *self, const double *th, const kpf_rows *rows, const double *w,
                   double *g, kpf_error *err)
{
    (void)th, (void)err;
    const fx *m = self;
    for (size_t r = 0; r < rows->R; r++)
        for (size_t i = 0; i < N; i++) {
            for (size_t j = 0; j < N; j++)
                g[i * N + j] += w[r * N + i] * rows->z[r * N + j];
            for (size_t j = 0; rows->x && j < m->n_in; j++)
                g[N * N + i * m->n_in + j] += w[r * N + i] * rows->x[r * m->n_in + j];
        }
    return KPF_OK;
}

static const size_t *fx_observed(void *self, size_t *count)
{
    fx *m = self;
    *count = 2;
    return m->mode == OBS_ALL ? NULL : m->idx;
}

static const kpf_model_desc desc = {
    .abi_version = KPF_ABI_VERSION,
    .struct_size = sizeof(kpf_model_desc),
    .name = "observed_fixture",
    .summary = "test fixture: a linear map observing 2 of its 4 state components",
    .flags = KPF_MODEL_DISCRETE,
    .create = fx_create,
    .destroy = fx_destroy,
    .params = fx_params,
    .f = fx_f,
    .jz = fx_jz,
    .jzT = fx_jzT,
    .jth = fx_jth,
    .jthT = fx_jthT,
    .observed = fx_observed,
};

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t index)
{
    return index == 0 ? &desc : NULL;
}
