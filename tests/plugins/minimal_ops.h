/* Shared by the loader-test plugins: a trivially valid model (f = −z, one
 * parameter that does nothing) whose descriptor each test plugin bends in
 * one way.  Not a model anyone should use. */
#ifndef KPF_TEST_MINIMAL_OPS_H
#define KPF_TEST_MINIMAL_OPS_H

#include <stdlib.h>
#include <string.h>

#include "kpf/model.h"

typedef struct minimal { size_t n, n_in; double theta0[1]; kpf_param_block blk[1]; } minimal;

static int min_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    minimal *m = calloc(1, sizeof *m);
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    m->n = 2;
    m->n_in = a->n_in;
    m->blk[0] = (kpf_param_block){"w", 0, 1, 1};
    *self = m;
    return KPF_OK;
}
static void min_destroy(void *self) { free(self); }
static int min_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    minimal *m = self;
    memset(l, 0, sizeof *l);
    l->n = m->n;
    l->n_in = m->n_in;
    l->n_theta = 1;
    l->n_blocks = 1;
    l->blocks = m->blk;
    l->theta0 = m->theta0;
    return KPF_OK;
}
static int min_f(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    for (size_t i = 0; i < r->R * 2; i++)
        out[i] = -r->z[i];
    return KPF_OK;
}
static int min_jz(void *s, const double *th, const kpf_rows *r, const double *v,
                  double *out, kpf_error *e)
{
    for (size_t i = 0; i < r->R * 2; i++)
        out[i] = -v[i];
    return KPF_OK;
}
static int min_jth(void *s, const double *th, const kpf_rows *r, const double *d,
                   double *out, kpf_error *e)
{
    memset(out, 0, r->R * 2 * sizeof(double));
    return KPF_OK;
}
static int min_jthT(void *s, const double *th, const kpf_rows *r, const double *w,
                    double *g, kpf_error *e)
{
    return KPF_OK;
}

#define MINIMAL_DESC(NAME)                                                              \
    {                                                                                   \
        .abi_version = KPF_ABI_VERSION, .struct_size = sizeof(kpf_model_desc),          \
        .name = NAME, .summary = "loader test plugin", .flags = KPF_MODEL_CONTINUOUS,   \
        .create = min_create, .destroy = min_destroy, .params = min_params,             \
        .f = min_f, .jz = min_jz, .jzT = min_jz, .jth = min_jth, .jthT = min_jthT,      \
    }

#endif
