/* Guard-zone test (test_check_guard.c): a small model (f = −z, a tape of
 * σ = z, two scratch doubles per row) that uses its buffers correctly,
 * and copies of it that each write one double where they must not: past
 * the end of work (f), past the end of out (jz), past the end of the tape
 * (tape), into the tape it may only read (jzT), before the start of g
 * (jthT).  check-plugin must name each op and buffer, and survive. */
#include "minimal_ops.h"

enum { OK, WORK_F, OUT_JZ, TAPE, TAPE_JZT, BEFORE_JTHT, N_CASES };
static const char *const names[N_CASES] = {"ov_ok", "ov_work_f", "ov_out_jz", "ov_tape",
                                           "ov_tape_jzt", "ov_before_jtht"};

typedef struct ov {
    minimal base;
    int fault;
} ov;

static int fault_of(void *s) { return ((ov *)s)->fault; }

static int ov_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    int rc = min_params(self, l, err);
    l->tape_width = 2;
    l->work_per_row = 2;
    return rc;
}

static int ov_f(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    for (size_t i = 0; i < r->R * 2; i++) {
        r->work[i] = -r->z[i]; /* 2 per row: all of its scratch */
        out[i] = r->work[i];
    }
    if (fault_of(s) == WORK_F)
        r->work[r->R * 2] = 1.0;
    return KPF_OK;
}

static int ov_tape_op(void *s, const double *th, const kpf_rows *r, double *tape, kpf_error *e)
{
    memcpy(tape, r->z, r->R * 2 * sizeof *tape);
    if (fault_of(s) == TAPE)
        tape[r->R * 2] = 1.0;
    return KPF_OK;
}

static int ov_jz(void *s, const double *th, const kpf_rows *r, const double *v, double *out,
                 kpf_error *e)
{
    for (size_t i = 0; i < r->R * 2; i++)
        out[i] = -v[i];
    if (fault_of(s) == OUT_JZ)
        out[r->R * 2] = 1.0;
    if (fault_of(s) == TAPE_JZT && r->tape)
        ((double *)r->tape)[0] += 1.0;
    return KPF_OK;
}

static int ov_jzT(void *s, const double *th, const kpf_rows *r, const double *v, double *out,
                  kpf_error *e)
{
    int f = fault_of(s);
    ((ov *)s)->fault = f == OUT_JZ ? OK : f; /* jz's fault is jz's alone */
    int rc = ov_jz(s, th, r, v, out, e);
    ((ov *)s)->fault = f;
    return rc;
}

static int ov_jz_only(void *s, const double *th, const kpf_rows *r, const double *v,
                      double *out, kpf_error *e)
{
    int f = fault_of(s);
    ((ov *)s)->fault = f == TAPE_JZT ? OK : f; /* the tape write is jzT's */
    int rc = ov_jz(s, th, r, v, out, e);
    ((ov *)s)->fault = f;
    return rc;
}

static int ov_jthT(void *s, const double *th, const kpf_rows *r, const double *w, double *g,
                   kpf_error *e)
{
    if (fault_of(s) == BEFORE_JTHT)
        g[-1] = 1.0;
    return KPF_OK;
}

static int ov_create(const kpf_model_args *a, void **self, kpf_error *err, int fault)
{
    ov *o = calloc(1, sizeof *o);
    if (!o)
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    o->base.n = 2;
    o->base.n_in = a->n_in;
    o->base.blk[0] = (kpf_param_block){"w", 0, 1, 1};
    o->fault = fault;
    *self = o;
    return KPF_OK;
}

#define CREATE(k) \
    static int create_##k(const kpf_model_args *a, void **s, kpf_error *e) \
    { return ov_create(a, s, e, k); }
CREATE(OK)
CREATE(WORK_F)
CREATE(OUT_JZ)
CREATE(TAPE)
CREATE(TAPE_JZT)
CREATE(BEFORE_JTHT)

static int (*const creates[N_CASES])(const kpf_model_args *, void **, kpf_error *) = {
    create_OK, create_WORK_F, create_OUT_JZ, create_TAPE, create_TAPE_JZT, create_BEFORE_JTHT};

static kpf_model_desc descs[N_CASES];

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    if (i >= N_CASES)
        return NULL;
    kpf_model_desc d = MINIMAL_DESC("");
    d.name = names[i];
    d.create = creates[i];
    d.params = ov_params;
    d.f = ov_f;
    d.tape = ov_tape_op;
    d.jz = ov_jz_only;
    d.jzT = ov_jzT;
    d.jthT = ov_jthT;
    descs[i] = d;
    return &descs[i];
}
