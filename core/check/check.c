/* Plugin conformance checks: finite differences, adjoint identities,
 * batching invariance, accumulation and determinism (see kpf/check.h).
 *
 * Every check runs at θ0 of a model created through kpf_model_create (or
 * _default) on random rows: z, x ~ N(0, 1), trials uniform in
 * [0, n_trials), times uniform in [0, 10], all drawn from the
 * KPF_RNG_CHECK stream of opts->seed.
 *
 * Measures (all relative, so they do not depend on the model's scale):
 *   FD       ‖J d − (F(a + h d) − F(a − h d))/2h‖₂ / ‖J d‖₂,
 *            h = 1e-6·max(1, ‖a‖∞)/‖d‖∞ (≈ 1e-10 for smooth models)
 *   adjoint  |⟨J v, w⟩ − ⟨v, Jᵀ w⟩| / max(‖J v‖₂‖w‖₂, ‖v‖₂‖Jᵀ w‖₂)
 *   batch    max|all rows at once − one row at a time| / max|all rows|
 *   accum    the same measure between jthT(g = p) and p + jthT(g = 0).
 * FD evaluations never pass a tape (θ or z moved, so it would be stale);
 * the J ops always get the tape filled at their own rows. */
#include "kpf/check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/instance.h"
#include "kpf/rng.h"
#include "kpf/stepper.h"
#include "check_extension.h"
#include "check_guard.h"

#define FD_REL_STEP 1e-6
#define CHECK_DT 0.1
#define MAX_BUFS 128

void kpf_check_opts_default(kpf_check_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->rows = 7;
    o->n_in = 3;
    o->n_out = 2;
    o->n_trials = 5;
    o->fd_tol = 1e-6;
    o->adjoint_tol = 1e-12;
    o->batch_tol = 1e-14;
    o->model = NULL;
}

void kpf_check_report_free(kpf_check_report *rep)
{
    if (!rep)
        return;
    free(rep->items);
    memset(rep, 0, sizeof *rep);
}

/* ---- small vector helpers ------------------------------------------- */

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double nrm2(const double *a, size_t n)
{
    return sqrt(dot(a, a, n));
}

static double maxabs(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > s || isnan(a[i]))
            s = isnan(a[i]) ? NAN : fabs(a[i]);
    return s;
}

/* max|a − b| / max(max|a|, 1e-300); NaN anywhere gives NaN. */
static double rel_maxdiff(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (isnan(e) || isnan(a[i]))
            return NAN;
        if (e > d)
            d = e;
        if (fabs(a[i]) > s)
            s = fabs(a[i]);
    }
    return d / fmax(s, 1e-300);
}

/* ---- context ----------------------------------------------------------- */

typedef struct ctx {
    const kpf_check_opts *o;
    kpf_check_report *rep;
    kpf_model *m;
    gsl_rng *rng;
    size_t R, n, n_in, n_out, M, tw, n_stages;
    /* rows */
    double *z, *x, *t;
    size_t *trial;
    double *tape;         /* R×tw at (z, θ0), NULL when tw = 0 */
    kpf_rows rows;        /* no tape: for f and FD evaluations   */
    kpf_rows rows_t;      /* with the tape: for J ops            */
    /* θ */
    double *theta0;       /* saved θ0 (M)                        */
    /* stepper stage storage: S0 at the base point, S1 for FD    */
    double *s0z, *s0tape, *s1z, *s1tape;
    /* scratch */
    double *in;           /* max(R·n, M): perturbed FD input     */
    double *op, *om;      /* R·max(n, n_out): FD outputs         */
    double *bufs[MAX_BUFS];
    size_t n_bufs;
    int overran;          /* an op wrote outside its buffers (check_guard.c) */
    /* report bookkeeping */
    int check_op;          /* kpf_check_op of the items being added         */
    kpf_check_item *last;  /* the item just added; NULL when it was dropped */
} ctx;

static double *cbuf(ctx *c, size_t count)
{
    if (c->n_bufs == MAX_BUFS)
        return NULL;
    double *p = calloc(count ? count : 1, sizeof(double));
    if (p)
        c->bufs[c->n_bufs++] = p;
    return p;
}

static void randn(ctx *c, double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = gsl_ran_gaussian(c->rng, 1.0);
}

static int add_item(ctx *c, const char *name, double value, double tol, kpf_error *err,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int add_item(ctx *c, const char *name, double value, double tol, kpf_error *err,
                    const char *fmt, ...)
{
    kpf_check_report *r = c->rep;
    c->last = NULL;
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
    snprintf(it->name, sizeof it->name, "%s", name);
    it->value = value;
    it->tol = tol;
    it->pass = value <= tol; /* NaN fails */
    it->op = c->check_op;
    it->uses = 1u << c->check_op;
    it->a = it->b = NAN;
    it->cause = -1;
    c->last = it;
    if (!it->pass) {
        r->n_failed++;
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(it->detail, sizeof it->detail, fmt, ap);
            va_end(ap);
        }
    }
    return KPF_OK;
}

/* Say how the item just added was measured: the two quantities compared
 * and the ops besides its own it depends on. */
static void tag(ctx *c, int kind, uint32_t also, double a, double b)
{
    if (!c->last)
        return;
    c->last->kind = kind;
    c->last->uses |= also;
    c->last->a = a;
    c->last->b = b;
}

#define OPBIT(op) (1u << KPF_CHECK_OP_##op)

/* The item just added also depends on `bits` (a stepper's stages chain the
 * ops: RK4's J_θ goes through jz, its J_θᵀ through jzT). */
static void uses_also(ctx *c, uint32_t bits)
{
    if (c->last)
        c->last->uses |= bits;
}
/* What the adjoint gradient of the loss is made of: every transpose, and
 * the forward ops its reference (finite differences of the loss) runs. */
#define GRADIENT_USES                                                                       \
    (OPBIT(F) | OPBIT(JZT) | OPBIT(JTHT) | OPBIT(READOUT) | OPBIT(READOUT_JZT) |             \
     OPBIT(READOUT_JTHT) | OPBIT(INIT_STATE) | OPBIT(INIT_STATE_JTHT) | OPBIT(TAPE))

#define TRY(what, call)                                                       \
    do {                                                                      \
        int rc_ = (call);                                                     \
        if (rc_) {                                                            \
            kpf_error_prefix(err, rc_, "check '%s': ", (what));                    \
            return rc_;                                                       \
        }                                                                     \
    } while (0)

/* ---- θ handling -------------------------------------------------------- */

static int set_theta(ctx *c, const double *th, kpf_error *err)
{
    memcpy(c->m->theta, th, c->M * sizeof(double));
    return kpf_model_theta_changed(c->m, err);
}

static int restore_theta(ctx *c, kpf_error *err)
{
    return set_theta(c, c->theta0, err);
}

/* ---- evaluations for finite differences --------------------------------- */

enum ev_kind { EV_F_Z, EV_F_TH, EV_STEP_Z, EV_STEP_TH, EV_RO_Z, EV_RO_TH, EV_INIT_TH };

static kpf_step_rows step_rows(ctx *c, double *sz, double *stape)
{
    kpf_step_rows s = {c->R, c->x, c->trial, c->t, sz, stape, c->R};
    return s;
}

static int eval(ctx *c, int kind, const double *in, double *out, kpf_error *err)
{
    kpf_rows r = c->rows;
    kpf_step_rows s = step_rows(c, c->s1z, c->s1tape);
    int rc;
    switch (kind) {
    case EV_F_Z:
        r.z = in;
        return kpf_model_f(c->m, &r, out, err);
    case EV_STEP_Z:
        return kpf_step(c->m, &s, in, out, err);
    case EV_RO_Z:
        r.z = in;
        return kpf_readout(c->m, &r, out, err);
    default:
        break;
    }
    if ((rc = set_theta(c, in, err)))
        return rc;
    switch (kind) {
    case EV_F_TH: rc = kpf_model_f(c->m, &r, out, err); break;
    case EV_STEP_TH: rc = kpf_step(c->m, &s, c->z, out, err); break;
    case EV_RO_TH: rc = kpf_readout(c->m, &r, out, err); break;
    case EV_INIT_TH: rc = kpf_init_state(c->m, c->R, c->trial, out, err); break;
    default: rc = kpf_error_set(err, KPF_EINVAL, "internal: bad evaluation kind");
    }
    int rc2 = restore_theta(c, err);
    return rc ? rc : rc2;
}

/* Compare Jd (Mo values) with the central difference of eval(kind) at base
 * (N values) along d. */
static int fd_check(ctx *c, const char *name, int op, int kind, const double *base,
                    const double *d, size_t N, const double *Jd, size_t Mo, kpf_error *err)
{
    c->check_op = op;
    double dmax = maxabs(d, N);
    double h = FD_REL_STEP * fmax(1.0, maxabs(base, N)) / (dmax > 0 ? dmax : 1.0);
    for (size_t i = 0; i < N; i++)
        c->in[i] = base[i] + h * d[i];
    TRY(name, eval(c, kind, c->in, c->op, err));
    for (size_t i = 0; i < N; i++)
        c->in[i] = base[i] - h * d[i];
    TRY(name, eval(c, kind, c->in, c->om, err));
    double diff2 = 0, fd2 = 0;
    for (size_t i = 0; i < Mo; i++) {
        double fd = (c->op[i] - c->om[i]) / (2 * h);
        diff2 += (Jd[i] - fd) * (Jd[i] - fd);
        fd2 += fd * fd;
    }
    double jn = nrm2(Jd, Mo);
    double val = sqrt(diff2) / fmax(jn, 1e-300);
    if (jn == 0 && diff2 == 0)
        val = 0;
    int rc = add_item(c, name, val, c->o->fd_tol, err,
                      "|J d| = %.6e, |FD| = %.6e, |J d - FD| = %.3e (h = %.2e)", jn, sqrt(fd2),
                      sqrt(diff2), h);
    tag(c, KPF_CHECK_KIND_FD, 0, jn, sqrt(fd2));
    return rc;
}

/* ⟨J v, w⟩ against ⟨v, Jᵀ w⟩; Jv and w have Mo values, v and JTw have N. */
static int adj_check(ctx *c, const char *name, int op, int fwd, const double *v,
                     const double *JTw, size_t N, const double *Jv, const double *w, size_t Mo,
                     kpf_error *err)
{
    c->check_op = op;
    double a = dot(Jv, w, Mo), b = dot(v, JTw, N);
    double scale = fmax(nrm2(Jv, Mo) * nrm2(w, Mo), nrm2(v, N) * nrm2(JTw, N));
    double val = fabs(a - b) / fmax(scale, 1e-300);
    int rc = add_item(c, name, val, c->o->adjoint_tol, err,
                      "<J v, w> = %.17g, <v, J^T w> = %.17g (scale %.3e)", a, b, scale);
    tag(c, KPF_CHECK_KIND_ADJOINT, 1u << fwd, a, b);
    return rc;
}

/* ---- the checks ------------------------------------------------------- */

static int check_determinism(ctx *c, const kpf_plugin *plugin, kpf_error *err)
{
    const kpf_check_opts *o = c->o;
    kpf_model *a = NULL, *b = NULL;
    int rc;
    if (o->model)
        rc = kpf_model_create(plugin, o->model, o->n_in, o->n_out, o->n_trials, o->seed, &a,
                              err);
    else
        rc = kpf_model_create_default(plugin, o->n_in, o->n_out, o->n_trials, o->seed, &a,
                                      err);
    if (!rc) {
        uint64_t s2 = o->seed + 1;
        if (o->model)
            rc = kpf_model_create(plugin, o->model, o->n_in, o->n_out, o->n_trials, s2, &b,
                                  err);
        else
            rc = kpf_model_create_default(plugin, o->n_in, o->n_out, o->n_trials, s2, &b,
                                          err);
    }
    if (rc) {
        kpf_model_free(a);
        kpf_model_free(b);
        kpf_error_prefix(err, rc, "check 'determinism': ");
        return rc;
    }
    const kpf_model *m = c->m;
    int same = a->m == m->m && memcmp(a->theta, m->theta, m->m * sizeof(double)) == 0;
    int differ = b->m != m->m || m->m == 0 ||
                 memcmp(b->theta, m->theta, m->m * sizeof(double)) != 0;
    kpf_model_free(a);
    kpf_model_free(b);
    c->check_op = KPF_CHECK_OP_CREATE;
    if ((rc = add_item(c, "determinism: same seed gives bitwise identical theta0",
                       same ? 0.0 : 1.0, 0.0, err,
                       "two creates with seed %llu gave different theta0",
                       (unsigned long long)o->seed)))
        return rc;
    tag(c, KPF_CHECK_KIND_DETERMINISM, 0, NAN, NAN);
    rc = add_item(c, "determinism: another seed gives another theta0", differ ? 0.0 : 1.0,
                  0.0, err, "seeds %llu and %llu gave identical theta0",
                  (unsigned long long)o->seed, (unsigned long long)(o->seed + 1));
    tag(c, KPF_CHECK_KIND_DETERMINISM, 0, NAN, NAN);
    return rc;
}

/* FD and adjoint checks of f's J_z and J_θ. */
static int check_f(ctx *c, kpf_error *err)
{
    const size_t Rn = c->R * c->n, M = c->M;
    double *v = cbuf(c, Rn), *w = cbuf(c, Rn), *Jv = cbuf(c, Rn), *JTw = cbuf(c, Rn);
    double *d = cbuf(c, M), *Jd = cbuf(c, Rn), *g = cbuf(c, M);
    if (!v || !w || !Jv || !JTw || !d || !Jd || !g)
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    randn(c, v, Rn);
    randn(c, w, Rn);
    randn(c, d, M);
    TRY("f: jz", kpf_model_jz(c->m, &c->rows_t, v, Jv, err));
    TRY("f: jzT", kpf_model_jzT(c->m, &c->rows_t, w, JTw, err));
    TRY("f: jth", kpf_model_jth(c->m, &c->rows_t, d, Jd, err));
    TRY("f: jthT", kpf_model_jthT(c->m, &c->rows_t, w, g, err));
    int rc;
    if ((rc = fd_check(c, "f: FD of J_z v (jz)", KPF_CHECK_OP_JZ, EV_F_Z, c->z, v, Rn, Jv, Rn,
                       err)))
        return rc;
    if ((rc = fd_check(c, "f: FD of J_th dth (jth)", KPF_CHECK_OP_JTH, EV_F_TH, c->theta0, d, M,
                       Jd, Rn, err)))
        return rc;
    if ((rc = adj_check(c, "f: adjoint <J_z v,w> = <v,J_z^T w> (jz, jzT)", KPF_CHECK_OP_JZT,
                        KPF_CHECK_OP_JZ, v, JTw, Rn, Jv, w, Rn, err)))
        return rc;
    return adj_check(c, "f: adjoint <J_th d,w> = <d,J_th^T w> (jth, jthT)", KPF_CHECK_OP_JTHT,
                     KPF_CHECK_OP_JTH, d, g, M, Jd, w, Rn, err);
}

static kpf_rows one_row(const ctx *c, const kpf_rows *all, size_t r)
{
    kpf_rows o = *all;
    o.R = 1;
    o.z = all->z + r * c->n;
    o.x = all->x ? all->x + r * c->n_in : NULL;
    o.trial = all->trial + r;
    o.t = all->t + r;
    o.tape = all->tape ? all->tape + r * c->tw : NULL;
    return o;
}

enum batch_op { B_F, B_TAPE, B_JZ, B_JZT, B_JTH };

static int run_batch_op(ctx *c, int op, const kpf_rows *rows, const double *in, double *out,
                        kpf_error *err)
{
    switch (op) {
    case B_F: return kpf_model_f(c->m, rows, out, err);
    case B_TAPE: return kpf_model_tape(c->m, rows, out, err);
    case B_JZ: return kpf_model_jz(c->m, rows, in, out, err);
    case B_JZT: return kpf_model_jzT(c->m, rows, in, out, err);
    default: return kpf_model_jth(c->m, rows, in, out, err);
    }
}

static int check_batching(ctx *c, kpf_error *err)
{
    const size_t R = c->R, n = c->n, Rn = R * n, M = c->M;
    size_t wmax = c->tw > n ? c->tw : n;
    double *v = cbuf(c, Rn), *a = cbuf(c, R * wmax), *b = cbuf(c, R * wmax);
    double *d = cbuf(c, M), *ga = cbuf(c, M), *gb = cbuf(c, M), *p = cbuf(c, M);
    if (!v || !a || !b || !d || !ga || !gb || !p)
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    randn(c, v, Rn);
    randn(c, d, M);
    static const struct {
        int op, check_op;
        const char *name;
    } ops[] = {{B_F, KPF_CHECK_OP_F, "batch: f on R rows = row by row"},
               {B_TAPE, KPF_CHECK_OP_TAPE, "batch: tape on R rows = row by row"},
               {B_JZ, KPF_CHECK_OP_JZ, "batch: jz on R rows = row by row"},
               {B_JZT, KPF_CHECK_OP_JZT, "batch: jzT on R rows = row by row"},
               {B_JTH, KPF_CHECK_OP_JTH, "batch: jth on R rows = row by row"}};
    int rc;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        int op = ops[k].op;
        size_t width = n;
        if (op == B_TAPE) {
            if (c->tw == 0)
                continue;
            width = c->tw;
        }
        const kpf_rows *all = (op == B_F || op == B_TAPE) ? &c->rows : &c->rows_t;
        const double *in = op == B_JTH ? d : v;
        TRY(ops[k].name, run_batch_op(c, op, all, in, a, err));
        for (size_t r = 0; r < R; r++) {
            kpf_rows one = one_row(c, all, r);
            const double *in_r = op == B_JTH ? d : v + r * n;
            TRY(ops[k].name, run_batch_op(c, op, &one, in_r, b + r * width, err));
        }
        double val = rel_maxdiff(a, b, R * width);
        c->check_op = ops[k].check_op;
        if ((rc = add_item(c, ops[k].name, val, c->o->batch_tol, err,
                           "max|batched - row by row| / max|batched| = %.3e", val)))
            return rc;
        tag(c, KPF_CHECK_KIND_BATCH, 0, maxabs(a, R * width), maxabs(b, R * width));
    }
    /* jthT: one call summing R rows against R calls accumulating into g. */
    const char *nm = "batch: jthT on R rows = sum of row by row";
    TRY(nm, kpf_model_jthT(c->m, &c->rows_t, v, ga, err));
    for (size_t r = 0; r < R; r++) {
        kpf_rows one = one_row(c, &c->rows_t, r);
        TRY(nm, kpf_model_jthT(c->m, &one, v + r * n, gb, err));
    }
    double val = rel_maxdiff(ga, gb, M);
    c->check_op = KPF_CHECK_OP_JTHT;
    if ((rc = add_item(c, nm, val, c->o->batch_tol, err,
                       "max|batched - sum of rows| / max|batched| = %.3e", val)))
        return rc;
    tag(c, KPF_CHECK_KIND_BATCH, 0, maxabs(ga, M), maxabs(gb, M));

    /* Accumulation: g = p, then jthT, must give p + jthT(g = 0) = p + ga. */
    nm = "accumulate: jthT adds into g";
    randn(c, p, M);
    memcpy(gb, p, M * sizeof(double));
    TRY(nm, kpf_model_jthT(c->m, &c->rows_t, v, gb, err));
    for (size_t i = 0; i < M; i++)
        ga[i] += p[i];
    val = rel_maxdiff(ga, gb, M);
    rc = add_item(c, nm, val, c->o->batch_tol, err,
                  "jthT on g = p differs from p + jthT on g = 0 by %.3e (relative); "
                  "does jthT overwrite g?",
                  val);
    tag(c, KPF_CHECK_KIND_ACCUMULATE, 0, maxabs(ga, M), maxabs(gb, M));
    return rc;
}

static int check_stepper(ctx *c, const kpf_stepper_type *st, double dt, kpf_error *err)
{
    const size_t Rn = c->R * c->n, M = c->M;
    kpf_model *m = c->m;
    m->stepper = st;
    m->dt = dt;
    double *zn = cbuf(c, Rn), *v = cbuf(c, Rn), *w = cbuf(c, Rn), *Jv = cbuf(c, Rn);
    double *JTw = cbuf(c, Rn), *d = cbuf(c, M), *Jd = cbuf(c, Rn), *g = cbuf(c, M);
    double *p = cbuf(c, M);
    if (!zn || !v || !w || !Jv || !JTw || !d || !Jd || !g || !p)
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    randn(c, v, Rn);
    randn(c, w, Rn);
    randn(c, d, M);
    char nm[KPF_CHECK_NAME_MAX];
    const char *sn = st->name;
    kpf_step_rows s0 = step_rows(c, c->s0z, c->s0tape);
    snprintf(nm, sizeof nm, "%s: step and its linearisation", sn);
    TRY(nm, kpf_step(m, &s0, c->z, zn, err));
    TRY(nm, kpf_step_tangent(m, &s0, v, Jv, err));
    TRY(nm, kpf_step_adjoint(m, &s0, w, JTw, err));
    TRY(nm, kpf_step_jth(m, &s0, d, Jd, err));
    TRY(nm, kpf_step_jthT(m, &s0, w, g, err));
    /* accumulation of the stepper's jthT, on the same stage storage */
    randn(c, p, M);
    double *gp = c->in; /* M ≤ size of in */
    memcpy(gp, p, M * sizeof(double));
    TRY(nm, kpf_step_jthT(m, &s0, w, gp, err));
    for (size_t i = 0; i < M; i++)
        p[i] += g[i];
    double acc = rel_maxdiff(p, gp, M), acc_a = maxabs(p, M), acc_b = maxabs(gp, M);

    int rc;
    snprintf(nm, sizeof nm, "%s: FD of tangent J_F v", sn);
    if ((rc = fd_check(c, nm, KPF_CHECK_OP_JZ, EV_STEP_Z, c->z, v, Rn, Jv, Rn, err)))
        return rc;
    snprintf(nm, sizeof nm, "%s: FD of J_F,th dth (jth)", sn);
    if ((rc = fd_check(c, nm, KPF_CHECK_OP_JTH, EV_STEP_TH, c->theta0, d, M, Jd, Rn, err)))
        return rc;
    uses_also(c, st->n_stages > 1 ? OPBIT(JZ) : 0);
    snprintf(nm, sizeof nm, "%s: adjoint <J_F v,w> = <v,J_F^T w> (tangent, adjoint)", sn);
    if ((rc = adj_check(c, nm, KPF_CHECK_OP_JZT, KPF_CHECK_OP_JZ, v, JTw, Rn, Jv, w, Rn, err)))
        return rc;
    snprintf(nm, sizeof nm, "%s: adjoint <J_F,th d,w> = <d,J_F,th^T w> (jth, jthT)", sn);
    if ((rc = adj_check(c, nm, KPF_CHECK_OP_JTHT, KPF_CHECK_OP_JTH, d, g, M, Jd, w, Rn, err)))
        return rc;
    uses_also(c, st->n_stages > 1 ? OPBIT(JZ) | OPBIT(JZT) : 0);
    snprintf(nm, sizeof nm, "%s: accumulate: jthT adds into g", sn);
    c->check_op = KPF_CHECK_OP_JTHT;
    rc = add_item(c, nm, acc, c->o->batch_tol, err,
                  "step jthT on g = p differs from p + jthT on g = 0 by %.3e", acc);
    tag(c, KPF_CHECK_KIND_ACCUMULATE, 0, acc_a, acc_b);
    return rc;
}

static int check_readout(ctx *c, kpf_error *err)
{
    const size_t Rn = c->R * c->n, Ro = c->R * c->n_out, M = c->M;
    double *v = cbuf(c, Rn), *w = cbuf(c, Ro), *Jv = cbuf(c, Ro), *JTw = cbuf(c, Rn);
    double *d = cbuf(c, M), *Jd = cbuf(c, Ro), *g = cbuf(c, M), *p = cbuf(c, M);
    double *y = cbuf(c, Ro);
    if (!v || !w || !Jv || !JTw || !d || !Jd || !g || !p || !y)
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    randn(c, v, Rn);
    randn(c, w, Ro);
    randn(c, d, M);
    TRY("readout", kpf_readout(c->m, &c->rows, y, err));
    TRY("readout: jz", kpf_readout_jz(c->m, &c->rows_t, v, Jv, err));
    TRY("readout: jzT", kpf_readout_jzT(c->m, &c->rows_t, w, JTw, err));
    TRY("readout: jth", kpf_readout_jth(c->m, &c->rows_t, d, Jd, err));
    TRY("readout: jthT", kpf_readout_jthT(c->m, &c->rows_t, w, g, err));
    randn(c, p, M);
    double *gp = c->in;
    memcpy(gp, p, M * sizeof(double));
    TRY("readout: jthT", kpf_readout_jthT(c->m, &c->rows_t, w, gp, err));
    for (size_t i = 0; i < M; i++)
        p[i] += g[i];
    double acc = rel_maxdiff(p, gp, M), acc_a = maxabs(p, M), acc_b = maxabs(gp, M);
    int rc;
    if ((rc = fd_check(c, "readout: FD of J_z v (jz)", KPF_CHECK_OP_READOUT_JZ, EV_RO_Z, c->z, v,
                       Rn, Jv, Ro, err)))
        return rc;
    if ((rc = fd_check(c, "readout: FD of J_th dth (jth)", KPF_CHECK_OP_READOUT_JTH, EV_RO_TH,
                       c->theta0, d, M, Jd, Ro, err)))
        return rc;
    if ((rc = adj_check(c, "readout: adjoint (jz, jzT)", KPF_CHECK_OP_READOUT_JZT,
                        KPF_CHECK_OP_READOUT_JZ, v, JTw, Rn, Jv, w, Ro, err)))
        return rc;
    if ((rc = adj_check(c, "readout: adjoint (jth, jthT)", KPF_CHECK_OP_READOUT_JTHT,
                        KPF_CHECK_OP_READOUT_JTH, d, g, M, Jd, w, Ro, err)))
        return rc;
    c->check_op = KPF_CHECK_OP_READOUT_JTHT;
    rc = add_item(c, "readout: accumulate: jthT adds into g", acc, c->o->batch_tol, err,
                  "readout jthT on g = p differs from p + jthT on g = 0 by %.3e", acc);
    tag(c, KPF_CHECK_KIND_ACCUMULATE, 0, acc_a, acc_b);
    return rc;
}

static int check_init_state(ctx *c, kpf_error *err)
{
    const size_t Rn = c->R * c->n, M = c->M, R = c->R;
    double *w = cbuf(c, Rn), *d = cbuf(c, M), *Jd = cbuf(c, Rn), *g = cbuf(c, M);
    double *p = cbuf(c, M), *z0 = cbuf(c, Rn);
    if (!w || !d || !Jd || !g || !p || !z0)
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    randn(c, w, Rn);
    randn(c, d, M);
    TRY("init_state", kpf_init_state(c->m, R, c->trial, z0, err));
    TRY("init_state: jth", kpf_init_state_jth(c->m, R, c->trial, d, Jd, err));
    TRY("init_state: jthT", kpf_init_state_jthT(c->m, R, c->trial, w, g, err));
    randn(c, p, M);
    double *gp = c->in;
    memcpy(gp, p, M * sizeof(double));
    TRY("init_state: jthT", kpf_init_state_jthT(c->m, R, c->trial, w, gp, err));
    for (size_t i = 0; i < M; i++)
        p[i] += g[i];
    double acc = rel_maxdiff(p, gp, M), acc_a = maxabs(p, M), acc_b = maxabs(gp, M);
    int rc;
    if ((rc = fd_check(c, "init_state: FD of J_th dth (jth)", KPF_CHECK_OP_INIT_STATE_JTH,
                       EV_INIT_TH, c->theta0, d, M, Jd, Rn, err)))
        return rc;
    if ((rc = adj_check(c, "init_state: adjoint (jth, jthT)", KPF_CHECK_OP_INIT_STATE_JTHT,
                        KPF_CHECK_OP_INIT_STATE_JTH, d, g, M, Jd, w, Rn, err)))
        return rc;
    c->check_op = KPF_CHECK_OP_INIT_STATE_JTHT;
    rc = add_item(c, "init_state: accumulate: jthT adds into g", acc, c->o->batch_tol, err,
                  "init_state jthT on g = p differs from p + jthT on g = 0 by %.3e", acc);
    tag(c, KPF_CHECK_KIND_ACCUMULATE, 0, acc_a, acc_b);
    return rc;
}

/* ---- adjoint gradient of the loss ---------------------------------------- */

/* Full BPTT and truncated BPTT (window 3), one random direction per block,
 * through the model's configured stepper. */
static int check_gradients(ctx *c, kpf_error *err)
{
    kpf_model *m = c->m;
    double *worst = cbuf(c, 3 * m->n_blocks); /* worst, then ⟨∇L, d⟩ and FD per block */
    if (!worst)
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    double *an = worst + m->n_blocks, *fd = an + m->n_blocks;
    const size_t windows[2] = {0, 3};
    c->check_op = KPF_CHECK_OP_GRADIENT;
    for (int w = 0; w < 2; w++) {
        const char *what = w ? "truncated BPTT (window 3)" : "adjoint gradient";
        char name[KPF_CHECK_NAME_MAX];
        int wanted = 0; /* --only: run the (slow) gradient only when one of it is asked for */
        for (size_t i = 0; i < m->n_blocks && !wanted; i++) {
            snprintf(name, sizeof name, "%s: FD of loss, block %s", what, m->blocks[i].name);
            wanted = kpf_check_name_matches(name, c->check_op, c->o->only);
        }
        if (!wanted)
            continue;
        TRY("gradient", kpf_check_gradient_detail(m, c->o->seed, 3, 7, windows[w], worst, an,
                                                  fd, err));
        for (size_t i = 0; i < m->n_blocks; i++) {
            snprintf(name, sizeof name, "%s: FD of loss, block %s", what, m->blocks[i].name);
            int rc = add_item(c, name, worst[i], c->o->fd_tol, err,
                              "dL/dθ along a random direction in %s disagrees with FD",
                              m->blocks[i].name);
            if (rc)
                return rc;
            tag(c, KPF_CHECK_KIND_FD, GRADIENT_USES, an[i], fd[i]);
        }
    }
    return KPF_OK;
}

/* The extension items (check_extension.c) belong to the extension group. */
static void mark_extension_items(ctx *c, size_t first)
{
    for (size_t i = first; i < c->rep->n_items; i++) {
        kpf_check_item *it = &c->rep->items[i];
        it->op = KPF_CHECK_OP_EXTENSION;
        it->uses = 1u << it->op;
        it->a = it->b = NAN;
        it->cause = -1;
    }
}

/* ---- driver ------------------------------------------------------------- */

/* A plugin that gives an initial state has a natural scale there (a
 * Hodgkin–Huxley neuron at rest: V in mV, gates in [0, 1]); checking at
 * N(0,1) states would test the model where it is not meant to run and
 * where an explicit step of the check's size diverges.  So check near it. */
static int near_initial_state(ctx *c, kpf_error *err)
{
    const size_t R = c->R, n = c->n;
    TRY("init_state", kpf_init_state(c->m, R, c->trial, c->z, err));
    for (size_t i = 0; i < R * n; i++)
        c->z[i] += 0.01 * gsl_ran_gaussian(c->rng, 1.0) * fmax(1.0, fabs(c->z[i]));
    return KPF_OK;
}

static int setup(ctx *c, kpf_error *err)
{
    kpf_model *m = c->m;
    const size_t R = c->R;
    c->n = m->n;
    c->n_in = m->n_in;
    c->n_out = m->n_out;
    c->M = m->m;
    c->tw = m->layout.tape_width;
    c->n_stages = kpf_stepper_discrete.n_stages;
    if (kpf_stepper_euler.n_stages > c->n_stages)
        c->n_stages = kpf_stepper_euler.n_stages;
    if (kpf_stepper_rk4.n_stages > c->n_stages)
        c->n_stages = kpf_stepper_rk4.n_stages;
    if (c->n_stages == 0)
        c->n_stages = 1;
    const size_t n = c->n, wide = c->n > c->n_out ? c->n : c->n_out;
    size_t in_len = R * n > c->M ? R * n : c->M;
    c->z = cbuf(c, R * n);
    c->x = cbuf(c, R * c->n_in);
    c->t = cbuf(c, R);
    c->trial = calloc(R, sizeof(size_t));
    c->theta0 = cbuf(c, c->M);
    c->in = cbuf(c, in_len);
    c->op = cbuf(c, R * wide);
    c->om = cbuf(c, R * wide);
    c->s0z = cbuf(c, c->n_stages * R * n);
    c->s1z = cbuf(c, c->n_stages * R * n);
    if (c->tw) {
        c->tape = cbuf(c, R * c->tw);
        c->s0tape = cbuf(c, c->n_stages * R * c->tw);
        c->s1tape = cbuf(c, c->n_stages * R * c->tw);
    }
    if (!c->z || !c->x || !c->t || !c->trial || !c->theta0 || !c->in || !c->op || !c->om ||
        !c->s0z || !c->s1z || (c->tw && (!c->tape || !c->s0tape || !c->s1tape)))
        return kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    randn(c, c->z, R * n);
    randn(c, c->x, R * c->n_in);
    for (size_t r = 0; r < R; r++) {
        c->trial[r] = (size_t)gsl_rng_uniform_int(c->rng, (unsigned long)m->n_trials);
        c->t[r] = 10.0 * gsl_rng_uniform(c->rng);
    }
    /* Before any op touches the model's own scratch: an op that writes
     * outside its buffers is found on guarded ones, and named. */
    const kpf_rows guarded = {R, c->z, c->x, c->trial, c->t, NULL, NULL};
    int rc = kpf_internal_check_guards(m, &guarded, c->rep, &c->overran, err);
    if (rc || c->overran)
        return rc;
    if ((rc = kpf_model_reserve(m, R, err)))
        return rc;
    if (KPF_DESC_OP(m->desc, init_state) && (rc = near_initial_state(c, err)))
        return rc;
    memcpy(c->theta0, m->theta, c->M * sizeof(double));
    c->rows = (kpf_rows){R, c->z, c->x, c->trial, c->t, NULL, NULL};
    if (c->tw)
        TRY("tape", kpf_model_tape(m, &c->rows, c->tape, err));
    c->rows_t = c->rows;
    c->rows_t.tape = c->tape;
    return KPF_OK;
}

static int run_all(ctx *c, const kpf_plugin *plugin, kpf_error *err)
{
    int rc;
    /* an overrun stops the check: the same op on unguarded buffers would
     * corrupt the heap, and its items already say which op it is */
    if ((rc = setup(c, err)) || c->overran)
        return rc;
    if ((rc = check_determinism(c, plugin, err)))
        return rc;
    if ((rc = check_f(c, err)))
        return rc;
    if ((rc = check_batching(c, err)))
        return rc;
    kpf_model *m = c->m;
    const kpf_stepper_type *st0 = m->stepper;
    double dt0 = m->dt;
    if (m->desc->flags & KPF_MODEL_CONTINUOUS) {
        /* Never a coarser step than the model itself runs at. */
        double dt = fmin(CHECK_DT, dt0);
        if ((rc = check_stepper(c, &kpf_stepper_euler, dt, err)))
            return rc;
        if ((rc = check_stepper(c, &kpf_stepper_rk4, dt, err)))
            return rc;
    } else if ((rc = check_stepper(c, &kpf_stepper_discrete, 1.0, err))) {
        return rc;
    }
    m->stepper = st0;
    m->dt = dt0;
    if ((rc = check_readout(c, err)))
        return rc;
    if (KPF_DESC_OP(m->desc, init_state) && (rc = check_init_state(c, err)))
        return rc;
    size_t before = c->rep->n_items;
    if ((rc = kpf_internal_check_extension(m, c->rep, err)))
        return rc;
    mark_extension_items(c, before);
    return check_gradients(c, err);
}

int kpf_check_plugin(const kpf_plugin *plugin, const kpf_check_opts *opts,
                     kpf_check_report *report, kpf_error *err)
{
    kpf_check_opts dflt;
    if (!opts) {
        kpf_check_opts_default(&dflt);
        opts = &dflt;
    }
    if (!plugin || !plugin->desc || !report)
        return kpf_error_set(err, KPF_EINVAL, "kpf_check_plugin: NULL plugin or report");
    memset(report, 0, sizeof *report);
    if (opts->rows == 0 || opts->n_trials == 0)
        return kpf_error_set(err, KPF_EINVAL,
                             "kpf_check_plugin: rows and n_trials must be at least 1");
    if (!(opts->fd_tol >= 0) || !(opts->adjoint_tol >= 0) || !(opts->batch_tol >= 0))
        return kpf_error_set(err, KPF_EINVAL, "kpf_check_plugin: tolerances must be >= 0");

    ctx c;
    memset(&c, 0, sizeof c);
    c.o = opts;
    c.rep = report;
    c.R = opts->rows;
    int rc;
    if (opts->model)
        rc = kpf_model_create(plugin, opts->model, opts->n_in, opts->n_out, opts->n_trials,
                              opts->seed, &c.m, err);
    else
        rc = kpf_model_create_default(plugin, opts->n_in, opts->n_out, opts->n_trials,
                                      opts->seed, &c.m, err);
    if (rc) {
        kpf_error_prefix(err, rc, "check-plugin %s: create: ", plugin->desc->name);
        return rc;
    }
    rc = kpf_rng_alloc(opts->seed, KPF_RNG_CHECK, &c.rng, err);
    if (!rc) {
        rc = run_all(&c, plugin, err);
        if (rc)
            kpf_error_prefix(err, rc, "check-plugin %s: ", plugin->desc->name);
        else /* --only: what was not asked for is not reported (the gradient is not run) */
            kpf_check_report_filter(report, opts->only);
    }
    for (size_t i = 0; i < c.n_bufs; i++)
        free(c.bufs[i]);
    free(c.trial);
    if (c.rng)
        gsl_rng_free(c.rng);
    kpf_model_free(c.m);
    return rc;
}
