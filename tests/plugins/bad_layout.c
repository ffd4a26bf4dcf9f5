/* Layout test (test_layout.c): plugins whose params op reports a layout the
 * host must refuse at create, one fault each, beside one that is fine.
 * Every descriptor passes the loader (the ops are all there); only the
 * layout is wrong, so only kpf_model_create can tell. */
#include <math.h>
#include <stdint.h>

#include "minimal_ops.h"

enum { OK, NULL_BLOCKS, PRODUCT_OVERFLOW, SUM_OVERFLOW, N_THETA, TAPE_NO_OP, READOUT_N_OUT,
       NAN_THETA0, N_CASES };

static const char *const names[N_CASES] = {
    "bl_ok", "bl_null_blocks", "bl_product_overflow", "bl_sum_overflow", "bl_n_theta",
    "bl_tape_without_op", "bl_readout_n_out", "bl_nan_theta0"};

typedef struct bent {
    minimal base;
    int fault;
    size_t n_out;
    kpf_param_block blk[2];
    double theta0[2];
} bent;

static int bl_create(const kpf_model_args *a, void **self, kpf_error *err, int fault)
{
    bent *b = calloc(1, sizeof *b);
    if (!b)
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    b->base.n = 2;
    b->base.n_in = a->n_in;
    b->fault = fault;
    b->n_out = a->n_out;
    b->blk[0] = (kpf_param_block){"w", 0, 1, 1};
    *self = b;
    return KPF_OK;
}

static int bl_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    bent *b = self;
    memset(l, 0, sizeof *l);
    l->n = 2;
    l->n_in = b->base.n_in;
    l->n_theta = 1;
    l->n_blocks = 1;
    l->blocks = b->blk;
    l->theta0 = b->theta0;
    switch (b->fault) {
    case NULL_BLOCKS:
        l->blocks = NULL;
        break;
    case PRODUCT_OVERFLOW: /* 2^33 × 2^33 wraps to 0 */
        b->blk[0] = (kpf_param_block){"w", 0, (size_t)1 << 33, (size_t)1 << 33};
        l->n_theta = 0;
        break;
    case SUM_OVERFLOW: /* SIZE_MAX + 2 wraps to 1 */
        b->blk[0] = (kpf_param_block){"w", 0, SIZE_MAX, 1};
        b->blk[1] = (kpf_param_block){"v", SIZE_MAX, 2, 1};
        l->n_blocks = 2;
        l->n_theta = 1;
        break;
    case N_THETA:
        l->n_theta = 2;
        break;
    case TAPE_NO_OP:
        l->tape_width = 3;
        break;
    case READOUT_N_OUT:
        l->n_out = b->n_out + 1;
        break;
    case NAN_THETA0:
        b->theta0[0] = NAN;
        break;
    }
    return KPF_OK;
}

static int ro(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    bent *b = s;
    memset(out, 0, r->R * (b->n_out + 1) * sizeof *out);
    return KPF_OK;
}
static int ro_map(void *s, const double *th, const kpf_rows *r, const double *v, double *out,
                  kpf_error *e)
{
    return ro(s, th, r, out, e);
}
static int ro_jthT(void *s, const double *th, const kpf_rows *r, const double *w, double *g,
                   kpf_error *e)
{
    return KPF_OK;
}

#define CREATE(k) \
    static int create_##k(const kpf_model_args *a, void **s, kpf_error *e) \
    { return bl_create(a, s, e, k); }
CREATE(OK)
CREATE(NULL_BLOCKS)
CREATE(PRODUCT_OVERFLOW)
CREATE(SUM_OVERFLOW)
CREATE(N_THETA)
CREATE(TAPE_NO_OP)
CREATE(READOUT_N_OUT)
CREATE(NAN_THETA0)

static int (*const creates[N_CASES])(const kpf_model_args *, void **, kpf_error *) = {
    create_OK, create_NULL_BLOCKS, create_PRODUCT_OVERFLOW, create_SUM_OVERFLOW,
    create_N_THETA, create_TAPE_NO_OP, create_READOUT_N_OUT, create_NAN_THETA0};

static kpf_model_desc descs[N_CASES];

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    if (i >= N_CASES)
        return NULL;
    kpf_model_desc d = MINIMAL_DESC("");
    d.name = names[i];
    d.create = creates[i];
    d.params = bl_params;
    if (i == READOUT_N_OUT) {
        d.readout = ro;
        d.readout_jz = d.readout_jzT = d.readout_jth = ro_map;
        d.readout_jthT = ro_jthT;
    }
    descs[i] = d;
    return &descs[i];
}
