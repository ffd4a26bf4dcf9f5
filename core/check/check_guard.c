/* Guard zones around every buffer check-plugin hands a plugin
 * (check_guard.h).
 *
 * Each op the plugin provides is called directly — not through the model's
 * own scratch — on buffers the check owns: the scratch `work` (exactly
 * work_fixed + work_per_row·R doubles, filled with a NaN sentinel), the
 * output (exactly its size), the tape, and the inputs.  Every buffer sits
 * between two guard zones of at least GUARD_MIN doubles (as long as the
 * buffer itself when that is longer) filled with the byte GUARD_BYTE.  After
 * the call, a changed guard byte is a write outside the buffer, and a change
 * inside a read-only buffer (z, x, the tape for the J ops, v, w, dθ) is a
 * write into an input.  Each op is tried on R rows and on one row.  A
 * plugin that overruns is reported by op and buffer; the heap was never at
 * risk, since every byte it touched belonged to a guard. */
#include "check_guard.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD_MIN 64
#define GUARD_BYTE 0xA5

/* One buffer with its guard zones: [guard | n doubles | guard]. */
typedef struct zone {
    unsigned char *block;
    size_t n, g;  /* inside and guard lengths, in doubles */
    double *copy; /* read-only buffers: what the inside held before the call */
} zone;

static double *inside(const zone *z) { return (double *)(z->block + z->g * sizeof(double)); }

static int zone_alloc(zone *z, size_t n)
{
    memset(z, 0, sizeof *z);
    z->n = n;
    z->g = n > GUARD_MIN ? n : GUARD_MIN;
    z->block = malloc((n + 2 * z->g) * sizeof(double));
    z->copy = malloc((n ? n : 1) * sizeof(double));
    return z->block && z->copy ? 0 : -1;
}

static void zone_free(zone *z)
{
    free(z->block);
    free(z->copy);
    memset(z, 0, sizeof *z);
}

/* Guards set; the inside is `src` (n doubles) or, when NULL, a NaN sentinel. */
static void zone_fill(zone *z, const double *src)
{
    memset(z->block, GUARD_BYTE, (z->n + 2 * z->g) * sizeof(double));
    double *in = inside(z);
    if (src) {
        memcpy(in, src, z->n * sizeof(double));
    } else {
        uint64_t bits = 0x7ff8dead0000beefull;
        for (size_t i = 0; i < z->n; i++)
            memcpy(&in[i], &bits, sizeof bits);
    }
    memcpy(z->copy, in, z->n * sizeof(double));
}

/* Doubles written before (*lo) and after (*hi) the buffer; *in doubles of
 * the inside changed (meaningful for read-only buffers). */
static void zone_scan(const zone *z, size_t *lo, size_t *hi, size_t *in)
{
    const size_t gb = z->g * sizeof(double);
    const unsigned char *a = z->block, *b = z->block + gb + z->n * sizeof(double);
    size_t first = gb, last = 0;
    for (size_t k = 0; k < gb; k++) {
        if (a[k] != GUARD_BYTE && first == gb)
            first = k;
        if (b[k] != GUARD_BYTE)
            last = k + 1;
    }
    *lo = first == gb ? 0 : z->g - first / sizeof(double);
    *hi = (last + sizeof(double) - 1) / sizeof(double);
    *in = 0;
    for (size_t i = 0; i < z->n; i++)
        *in += memcmp(&inside(z)[i], &z->copy[i], sizeof(double)) != 0;
}

/* ---- the ops ------------------------------------------------------------------ */

enum { B_WORK, B_OUT, B_TAPE, B_Z, B_X, B_IN, N_BUF };
static const char *const buf_names[N_BUF] = {"work", "out", "the tape", "z", "x", "its input"};

enum op_form { EVAL, ROWMAP, JTH, JTHT };

typedef struct op_case {
    const char *name; /* "f", "readout_jzT", … */
    int check_op;     /* kpf_check_op for the report */
    enum op_form form;
    const void *fn;
    size_t in_len, out_len; /* per row, or whole (JTH input, JTHT g) */
    int uses_tape;          /* J ops read the tape; tape and f do not get it */
    int no_z;               /* initial-state ops: no z, x, t */
} op_case;

typedef struct guard_ctx {
    kpf_model *m;
    const kpf_rows *rows;
    size_t R, n, n_in, n_out, M, tw;
    zone b[N_BUF];
    double *tape; /* the tape filled at these rows (R·tw), or NULL */
    kpf_check_report *rep;
    int overran;
} guard_ctx;

static int add(guard_ctx *c, const op_case *oc, int pass, kpf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int add(guard_ctx *c, const op_case *oc, int pass, kpf_error *err, const char *fmt, ...)
{
    kpf_check_report *r = c->rep;
    if (r->n_items == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        kpf_check_item *it = realloc(r->items, cap * sizeof *it);
        if (!it)
            return kpf_error_set(err, KPF_ENOMEM, "cannot grow the check report");
        r->items = it;
        r->cap = cap;
    }
    kpf_check_item *it = &r->items[r->n_items++];
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "guards: %s writes only inside its output and work",
             oc->name);
    it->value = pass ? 0.0 : 1.0;
    it->tol = 0.0;
    it->pass = pass;
    it->op = oc->check_op;
    it->uses = 1u << oc->check_op;
    it->a = it->b = NAN;
    it->cause = -1;
    if (!pass) {
        r->n_failed++;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(it->detail, sizeof it->detail, fmt, ap);
        va_end(ap);
    }
    return KPF_OK;
}

static int call(guard_ctx *c, const op_case *oc, const kpf_rows *r, const double *in,
                double *out)
{
    kpf_error ignored; /* an op that fails here fails its own checks later */
    kpf_error_clear(&ignored);
    kpf_model *m = c->m;
    switch (oc->form) {
    case EVAL: return ((kpf_op_eval)oc->fn)(m->self, m->theta, r, out, &ignored);
    case ROWMAP: return ((kpf_op_rowmap)oc->fn)(m->self, m->theta, r, in, out, &ignored);
    case JTH: return ((kpf_op_jth)oc->fn)(m->self, m->theta, r, in, out, &ignored);
    default: return ((kpf_op_jthT)oc->fn)(m->self, m->theta, r, in, out, &ignored);
    }
}

/* What the plugin wrote where it should not, as one line ("" if nothing). */
static void describe(guard_ctx *c, const op_case *oc, size_t R, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < N_BUF; k++) {
        const zone *z = &c->b[k];
        if (!z->block)
            continue;
        size_t lo, hi, in;
        zone_scan(z, &lo, &hi, &in);
        int read_only = k != B_WORK && k != B_OUT;
        const char *bn = buf_names[k];
        if (k == B_OUT) /* the output: the tape the tape op fills, the g a jthT adds to */
            bn = oc->check_op == KPF_CHECK_OP_TAPE ? "the tape" : oc->form == JTHT ? "g" : "out";
        char size_note[128];
        if (k == B_WORK)
            snprintf(size_note, sizeof size_note,
                     "work_fixed %zu + work_per_row %zu × %zu rows = %zu doubles",
                     c->m->layout.work_fixed, c->m->layout.work_per_row, R, z->n);
        else
            snprintf(size_note, sizeof size_note, "%zu doubles for %zu rows", z->n, R);
        int w = 0;
        if (hi)
            w = snprintf(buf + len, size - len, "%s%s wrote %zu double%s past the end of %s (%s)",
                         len ? "; " : "", oc->name, hi, hi == 1 ? "" : "s", bn, size_note);
        else if (lo)
            w = snprintf(buf + len, size - len, "%s%s wrote %zu double%s before the start of %s",
                         len ? "; " : "", oc->name, lo, lo == 1 ? "" : "s", bn);
        else if (read_only && in)
            w = snprintf(buf + len, size - len, "%s%s changed %zu double%s of %s, which it may "
                                                 "only read",
                         len ? "; " : "", oc->name, in, in == 1 ? "" : "s", bn);
        if (w > 0 && (size_t)w < size - len)
            len += (size_t)w;
    }
}

/* Run oc on the first R rows with every buffer guarded. */
static int guard_one(guard_ctx *c, const op_case *oc, size_t R, char *why, size_t why_size)
{
    const kpf_model_layout *L = &c->m->layout;
    size_t per_in = oc->in_len, per_out = oc->out_len;
    size_t n_in = oc->form == JTH ? c->M : per_in * R;
    size_t n_out = oc->form == JTHT ? c->M : per_out * R;
    size_t sizes[N_BUF] = {L->work_fixed + L->work_per_row * R, n_out, c->tw * R,
                           oc->no_z ? 0 : R * c->n, oc->no_z ? 0 : R * c->n_in, n_in};
    for (int k = 0; k < N_BUF; k++)
        if (zone_alloc(&c->b[k], sizes[k]))
            return KPF_ENOMEM;
    const kpf_rows *all = c->rows;
    zone_fill(&c->b[B_WORK], NULL);
    if (oc->form == JTHT) {
        double *g = inside(&c->b[B_OUT]);
        zone_fill(&c->b[B_OUT], NULL);
        memset(g, 0, c->M * sizeof *g); /* jthT adds into g */
    } else {
        zone_fill(&c->b[B_OUT], NULL);
    }
    zone_fill(&c->b[B_TAPE], c->tape && oc->uses_tape ? c->tape : NULL);
    zone_fill(&c->b[B_Z], oc->no_z ? NULL : all->z);
    zone_fill(&c->b[B_X], oc->no_z || !all->x ? NULL : all->x);
    /* inputs: the first rows' z for row-shaped ones (values do not matter
     * here), θ for a dθ */
    double *src = malloc((n_in ? n_in : 1) * sizeof *src);
    if (!src)
        return KPF_ENOMEM;
    for (size_t i = 0; i < n_in; i++)
        src[i] = oc->form == JTH ? c->m->theta[i] : all->z[i % (all->R * c->n)];
    zone_fill(&c->b[B_IN], src);
    free(src);
    kpf_rows r = {.R = R, .trial = all->trial, .work = inside(&c->b[B_WORK])};
    if (!oc->no_z) {
        r.z = inside(&c->b[B_Z]);
        r.x = all->x ? inside(&c->b[B_X]) : NULL;
        r.t = all->t;
    }
    if (oc->uses_tape && c->tw)
        r.tape = inside(&c->b[B_TAPE]);
    call(c, oc, &r, inside(&c->b[B_IN]), inside(&c->b[B_OUT]));
    describe(c, oc, R, why, why_size);
    /* the tape op's output is the tape: keep it for the J ops */
    if (oc->form == EVAL && oc->check_op == KPF_CHECK_OP_TAPE && R == all->R && c->tape)
        memcpy(c->tape, inside(&c->b[B_OUT]), R * c->tw * sizeof(double));
    for (int k = 0; k < N_BUF; k++)
        zone_free(&c->b[k]);
    return KPF_OK;
}

static int guard_op(guard_ctx *c, const op_case *oc, kpf_error *err)
{
    if (!oc->fn)
        return KPF_OK;
    char why[KPF_CHECK_DETAIL_MAX] = "";
    const size_t counts[2] = {c->R, 1};
    for (int i = 0; i < 2 && !why[0]; i++)
        if (guard_one(c, oc, counts[i], why, sizeof why))
            return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    c->overran |= why[0] != 0;
    return add(c, oc, why[0] == 0, err, "%s", why);
}

int kpf_internal_check_guards(kpf_model *m, const kpf_rows *rows, kpf_check_report *rep,
                              int *overran, kpf_error *err)
{
    const kpf_model_desc *d = m->desc;
    guard_ctx c = {.m = m, .rows = rows, .R = rows->R, .n = m->n, .n_in = m->n_in,
                   .n_out = m->n_out, .M = m->m, .tw = m->layout.tape_width, .rep = rep};
    *overran = 0;
    if (c.tw && KPF_DESC_OP(d, tape) && !(c.tape = calloc(c.R * c.tw, sizeof *c.tape)))
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    const size_t n = c.n, no = c.n_out;
    const op_case cases[] = {
        {"tape", KPF_CHECK_OP_TAPE, EVAL, c.tw ? (const void *)KPF_DESC_OP(d, tape) : NULL, 0,
         c.tw, 0, 0},
        {"f", KPF_CHECK_OP_F, EVAL, (const void *)d->f, 0, n, 0, 0},
        {"jz", KPF_CHECK_OP_JZ, ROWMAP, (const void *)d->jz, n, n, 1, 0},
        {"jzT", KPF_CHECK_OP_JZT, ROWMAP, (const void *)d->jzT, n, n, 1, 0},
        {"jth", KPF_CHECK_OP_JTH, JTH, (const void *)d->jth, 0, n, 1, 0},
        {"jthT", KPF_CHECK_OP_JTHT, JTHT, (const void *)d->jthT, n, 0, 1, 0},
        {"readout", KPF_CHECK_OP_READOUT, EVAL, (const void *)KPF_DESC_OP(d, readout), 0, no, 0,
         0},
        {"readout_jz", KPF_CHECK_OP_READOUT_JZ, ROWMAP,
         (const void *)KPF_DESC_OP(d, readout_jz), n, no, 1, 0},
        {"readout_jzT", KPF_CHECK_OP_READOUT_JZT, ROWMAP,
         (const void *)KPF_DESC_OP(d, readout_jzT), no, n, 1, 0},
        {"readout_jth", KPF_CHECK_OP_READOUT_JTH, JTH,
         (const void *)KPF_DESC_OP(d, readout_jth), 0, no, 1, 0},
        {"readout_jthT", KPF_CHECK_OP_READOUT_JTHT, JTHT,
         (const void *)KPF_DESC_OP(d, readout_jthT), no, 0, 1, 0},
        {"init_state", KPF_CHECK_OP_INIT_STATE, EVAL, (const void *)KPF_DESC_OP(d, init_state),
         0, n, 0, 1},
        {"init_state_jth", KPF_CHECK_OP_INIT_STATE_JTH, JTH,
         (const void *)KPF_DESC_OP(d, init_state_jth), 0, n, 0, 1},
        {"init_state_jthT", KPF_CHECK_OP_INIT_STATE_JTHT, JTHT,
         (const void *)KPF_DESC_OP(d, init_state_jthT), n, 0, 0, 1},
    };
    int rc = KPF_OK;
    for (size_t i = 0; !rc && i < sizeof cases / sizeof cases[0]; i++)
        rc = guard_op(&c, &cases[i], err);
    free(c.tape);
    *overran = c.overran;
    return rc;
}
