/* Generic matrix-free operators: spaces, the op shell, and the algebra
 * (compose, adjoint, sum, scale, gram, trial restriction, consensus
 * averages), with the adjoint test and densification.
 *
 * Composites borrow their parts and allocate every intermediate buffer when
 * they are built, so applying them never allocates. */
#include "kpf/operator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpflow_internal.h"

/* ---- spaces -------------------------------------------------------------- */

size_t kpf_space_size(const kpf_space *s)
{
    return s->B * s->T * s->n;
}

double kpf_space_dot(const kpf_space *s, const double *u, const double *v)
{
    size_t N = kpf_space_size(s);
    double acc = 0.0;
    for (size_t i = 0; i < N; i++)
        acc += u[i] * v[i];
    if (kpf_internal_space_split(s) && kpf_comm_sum(s->comm, &acc, 1, NULL))
        return NAN;
    return s->weight * acc;
}

int kpf_internal_space_split(const kpf_space *s) { return kpf_comm_size(s->comm) > 1; }

int kpf_internal_refuse_split(const kpf_space *s, const char *who, kpf_error *err)
{
    if (!kpf_internal_space_split(s))
        return KPF_OK;
    return kpf_error_set(err, KPF_EUNSUPPORTED,
                         "%s needs the whole trajectory space in one process, but it is split "
                         "over %d ranks (run it without trial parallelism)",
                         who, kpf_comm_size(s->comm));
}

double kpf_space_norm(const kpf_space *s, const double *u)
{
    return sqrt(kpf_space_dot(s, u, u));
}

/* Weights are products and quotients of the same numbers (dt/B, times axis
 * sizes), so they agree to rounding: compare relatively. */
int kpf_space_equal(const kpf_space *a, const kpf_space *b)
{
    double tol = 1e-12 * fmax(fabs(a->weight), fabs(b->weight));
    return a->B == b->B && a->T == b->T && a->n == b->n && fabs(a->weight - b->weight) <= tol &&
           kpf_internal_space_split(a) == kpf_internal_space_split(b) &&
           (!kpf_internal_space_split(a) || a->comm == b->comm);
}

/* ---- the shell ------------------------------------------------------------ */

int kpf_op_new(const kpf_op_type *type, kpf_space in, kpf_space out, void *state,
               kpf_op **op, kpf_error *err)
{
    if (!type || !type->apply || !op)
        return kpf_error_set(err, KPF_EINVAL, "kpf_op_new: type, apply and op are required");
    if (!kpf_space_size(&in) || !kpf_space_size(&out) || !(in.weight > 0) ||
        !(out.weight > 0))
        return kpf_error_set(err, KPF_EINVAL,
                             "operator '%s': spaces must be non-empty with positive weights",
                             type->name ? type->name : "?");
    if (!type->apply_adjoint && !kpf_space_equal(&in, &out))
        return kpf_error_set(err, KPF_EINVAL,
                             "operator '%s' is declared self-adjoint but maps [%zu,%zu,%zu] "
                             "to [%zu,%zu,%zu] (or the weights differ)",
                             type->name ? type->name : "?", in.B, in.T, in.n, out.B, out.T,
                             out.n);
    kpf_op *o = malloc(sizeof *o);
    if (!o)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate an operator");
    *o = (kpf_op){.type = type, .in = in, .out = out, .state = state};
    *op = o;
    return KPF_OK;
}

void kpf_op_free(kpf_op *op)
{
    if (!op)
        return;
    if (op->type->destroy)
        op->type->destroy(op);
    free(op);
}

static int check_call(const kpf_op *op, const double *in, const double *out, kpf_error *err)
{
    if (!op || !in || !out)
        return kpf_error_set(err, KPF_EINVAL, "operator apply: NULL operator or buffer");
    if (in == out)
        return kpf_error_set(err, KPF_EINVAL, "operator '%s': in and out must not alias",
                             op->type->name);
    return KPF_OK;
}

int kpf_op_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    int rc = check_call(op, in, out, err);
    return rc ? rc : op->type->apply(op, in, out, err);
}

int kpf_op_apply_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    int rc = check_call(op, in, out, err);
    if (rc)
        return rc;
    if (!op->type->apply_adjoint)
        return op->type->apply(op, in, out, err);
    return op->type->apply_adjoint(op, in, out, err);
}

int kpf_op_is_self_adjoint(const kpf_op *op)
{
    return op && op->type->apply_adjoint == NULL;
}

/* Build an op around a freshly allocated state; on failure free the state
 * with `destroy_state` so constructors need one exit path. */
static int wrap(const kpf_op_type *type, kpf_space in, kpf_space out, void *state,
                void (*destroy_state)(void *), kpf_op **op, kpf_error *err)
{
    int rc = kpf_op_new(type, in, out, state, op, err);
    if (rc)
        destroy_state(state);
    return rc;
}

/* ---- compose -------------------------------------------------------------- */

typedef struct compose_st {
    kpf_op *A, *B;
    double *tmp; /* B's output = A's input */
} compose_st;

static void compose_free_state(void *p)
{
    compose_st *s = p;
    if (s)
        free(s->tmp);
    free(s);
}

static void compose_destroy(kpf_op *op) { compose_free_state(op->state); }

static int compose_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    compose_st *s = op->state;
    int rc = kpf_op_apply(s->B, in, s->tmp, err);
    return rc ? rc : kpf_op_apply(s->A, s->tmp, out, err);
}

static int compose_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    compose_st *s = op->state;
    int rc = kpf_op_apply_adjoint(s->A, in, s->tmp, err);
    return rc ? rc : kpf_op_apply_adjoint(s->B, s->tmp, out, err);
}

static const kpf_op_type compose_type = {"compose", compose_apply, compose_adjoint,
                                         compose_destroy};

int kpf_op_compose(kpf_op *A, kpf_op *B, kpf_op **out, kpf_error *err)
{
    if (!A || !B || !out)
        return kpf_error_set(err, KPF_EINVAL, "compose: NULL argument");
    if (!kpf_space_equal(&B->out, &A->in))
        return kpf_error_set(err, KPF_EINVAL,
                             "compose %s ∘ %s: %s maps to [%zu,%zu,%zu] (weight %g) but %s "
                             "takes [%zu,%zu,%zu] (weight %g)",
                             A->type->name, B->type->name, B->type->name, B->out.B, B->out.T,
                             B->out.n, B->out.weight, A->type->name, A->in.B, A->in.T,
                             A->in.n, A->in.weight);
    compose_st *s = calloc(1, sizeof *s);
    if (!s || !(s->tmp = malloc(kpf_space_size(&A->in) * sizeof(double)))) {
        compose_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "compose: out of memory");
    }
    s->A = A;
    s->B = B;
    return wrap(&compose_type, B->in, A->out, s, compose_free_state, out, err);
}

/* ---- adjoint -------------------------------------------------------------- */

static int adj_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return kpf_op_apply_adjoint(op->state, in, out, err);
}

static int adj_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return kpf_op_apply(op->state, in, out, err);
}

static const kpf_op_type adjoint_type = {"adjoint", adj_apply, adj_adjoint, NULL};

int kpf_op_adjoint(kpf_op *A, kpf_op **out, kpf_error *err)
{
    if (!A || !out)
        return kpf_error_set(err, KPF_EINVAL, "adjoint: NULL argument");
    return kpf_op_new(&adjoint_type, A->out, A->in, A, out, err);
}

/* ---- sum and scale --------------------------------------------------------- */

typedef struct sum_st {
    double a, b;
    kpf_op *A, *B;
    double *tmp; /* max(in, out) */
} sum_st;

static void sum_free_state(void *p)
{
    sum_st *s = p;
    if (s)
        free(s->tmp);
    free(s);
}

static void sum_destroy(kpf_op *op) { sum_free_state(op->state); }

static int sum_run(kpf_op *op, int adjoint, const double *in, double *out, kpf_error *err)
{
    sum_st *s = op->state;
    int (*ap)(kpf_op *, const double *, double *, kpf_error *) =
        adjoint ? kpf_op_apply_adjoint : kpf_op_apply;
    size_t N = kpf_space_size(adjoint ? &op->in : &op->out);
    int rc = ap(s->A, in, out, err);
    if (!rc)
        rc = ap(s->B, in, s->tmp, err);
    for (size_t i = 0; !rc && i < N; i++)
        out[i] = s->a * out[i] + s->b * s->tmp[i];
    return rc;
}

static int sum_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return sum_run(op, 0, in, out, err);
}

static int sum_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return sum_run(op, 1, in, out, err);
}

static const kpf_op_type sum_type = {"sum", sum_apply, sum_adjoint, sum_destroy};
static const kpf_op_type sum_sa_type = {"sum", sum_apply, NULL, sum_destroy};

int kpf_op_sum(double a, kpf_op *A, double b, kpf_op *B, kpf_op **out, kpf_error *err)
{
    if (!A || !B || !out)
        return kpf_error_set(err, KPF_EINVAL, "sum: NULL argument");
    if (!kpf_space_equal(&A->in, &B->in) || !kpf_space_equal(&A->out, &B->out))
        return kpf_error_set(err, KPF_EINVAL, "sum %s + %s: the operators' spaces differ",
                             A->type->name, B->type->name);
    size_t ni = kpf_space_size(&A->in), no = kpf_space_size(&A->out);
    sum_st *s = calloc(1, sizeof *s);
    if (!s || !(s->tmp = malloc((ni > no ? ni : no) * sizeof(double)))) {
        sum_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "sum: out of memory");
    }
    *s = (sum_st){a, b, A, B, s->tmp};
    int sa = kpf_op_is_self_adjoint(A) && kpf_op_is_self_adjoint(B);
    return wrap(sa ? &sum_sa_type : &sum_type, A->in, A->out, s, sum_free_state, out, err);
}

typedef struct scale_st {
    double s;
    kpf_op *A;
} scale_st;

static void scale_destroy(kpf_op *op) { free(op->state); }

static int scale_run(kpf_op *op, int adjoint, const double *in, double *out, kpf_error *err)
{
    scale_st *s = op->state;
    int rc = adjoint ? kpf_op_apply_adjoint(s->A, in, out, err)
                     : kpf_op_apply(s->A, in, out, err);
    size_t N = kpf_space_size(adjoint ? &op->in : &op->out);
    for (size_t i = 0; !rc && i < N; i++)
        out[i] *= s->s;
    return rc;
}

static int scale_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return scale_run(op, 0, in, out, err);
}

static int scale_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return scale_run(op, 1, in, out, err);
}

static const kpf_op_type scale_type = {"scale", scale_apply, scale_adjoint, scale_destroy};
static const kpf_op_type scale_sa_type = {"scale", scale_apply, NULL, scale_destroy};

int kpf_op_scale(double s, kpf_op *A, kpf_op **out, kpf_error *err)
{
    if (!A || !out)
        return kpf_error_set(err, KPF_EINVAL, "scale: NULL argument");
    scale_st *st = malloc(sizeof *st);
    if (!st)
        return kpf_error_set(err, KPF_ENOMEM, "scale: out of memory");
    *st = (scale_st){s, A};
    const kpf_op_type *t = kpf_op_is_self_adjoint(A) ? &scale_sa_type : &scale_type;
    return wrap(t, A->in, A->out, st, free, out, err);
}

/* ---- gram: A A* ----------------------------------------------------------- */

static int gram_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    compose_st *s = op->state; /* A, tmp on A's input space */
    int rc = kpf_op_apply_adjoint(s->A, in, s->tmp, err);
    return rc ? rc : kpf_op_apply(s->A, s->tmp, out, err);
}

static const kpf_op_type gram_type = {"gram", gram_apply, NULL, compose_destroy};

int kpf_op_gram(kpf_op *A, kpf_op **out, kpf_error *err)
{
    if (!A || !out)
        return kpf_error_set(err, KPF_EINVAL, "gram: NULL argument");
    compose_st *s = calloc(1, sizeof *s);
    if (!s || !(s->tmp = malloc(kpf_space_size(&A->in) * sizeof(double)))) {
        compose_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "gram: out of memory");
    }
    s->A = A;
    return wrap(&gram_type, A->out, A->out, s, compose_free_state, out, err);
}

/* ---- restriction to subsets of trials ------------------------------------- */

typedef struct restrict_st {
    kpf_op *A;
    size_t *rows, n_rows, *cols, n_cols;
    double *full_in, *full_out; /* A's spaces */
} restrict_st;

static void restrict_free_state(void *p)
{
    restrict_st *s = p;
    if (s) {
        free(s->rows);
        free(s->cols);
        free(s->full_in);
        free(s->full_out);
    }
    free(s);
}

static void restrict_destroy(kpf_op *op) { restrict_free_state(op->state); }

/* full = Sᵀ u: zero, then add each selected trial's rows (adding keeps the
 * embedding the exact transpose of the extraction even with repeats). */
static void embed_trials(const kpf_space *full, const size_t *sel, size_t n_sel,
                         const double *u, double *dst)
{
    size_t n = full->n;
    memset(dst, 0, kpf_space_size(full) * sizeof(double));
    for (size_t t = 0; t < full->T; t++)
        for (size_t c = 0; c < n_sel; c++) {
            const double *src = u + (t * n_sel + c) * n;
            double *d = dst + (t * full->B + sel[c]) * n;
            for (size_t i = 0; i < n; i++)
                d[i] += src[i];
        }
}

/* u = S full: the selected trials' rows. */
static void extract_trials(const kpf_space *full, const size_t *sel, size_t n_sel,
                           const double *src, double *u)
{
    size_t n = full->n;
    for (size_t t = 0; t < full->T; t++)
        for (size_t r = 0; r < n_sel; r++)
            memcpy(u + (t * n_sel + r) * n, src + (t * full->B + sel[r]) * n,
                   n * sizeof(double));
}

static int restrict_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    restrict_st *s = op->state;
    embed_trials(&s->A->in, s->cols, s->n_cols, in, s->full_in);
    int rc = kpf_op_apply(s->A, s->full_in, s->full_out, err);
    if (!rc)
        extract_trials(&s->A->out, s->rows, s->n_rows, s->full_out, out);
    return rc;
}

static int restrict_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    restrict_st *s = op->state;
    embed_trials(&s->A->out, s->rows, s->n_rows, in, s->full_out);
    int rc = kpf_op_apply_adjoint(s->A, s->full_out, s->full_in, err);
    if (!rc)
        extract_trials(&s->A->in, s->cols, s->n_cols, s->full_in, out);
    return rc;
}

static const kpf_op_type restrict_type = {"restrict_trials", restrict_apply, restrict_adjoint,
                                          restrict_destroy};
static const kpf_op_type restrict_sa_type = {"restrict_trials", restrict_apply, NULL,
                                             restrict_destroy};

static int copy_selection(const size_t *sel, size_t n_sel, size_t B, const char *what,
                          size_t **dst, kpf_error *err)
{
    if (!sel || n_sel == 0)
        return kpf_error_set(err, KPF_EINVAL, "restrict_trials: empty %s selection", what);
    for (size_t i = 0; i < n_sel; i++)
        if (sel[i] >= B)
            return kpf_error_set(err, KPF_EINVAL,
                                 "restrict_trials: %s[%zu] = %zu but the space has %zu trials",
                                 what, i, sel[i], B);
    if (!(*dst = malloc(n_sel * sizeof(size_t))))
        return kpf_error_set(err, KPF_ENOMEM, "restrict_trials: out of memory");
    memcpy(*dst, sel, n_sel * sizeof(size_t));
    return KPF_OK;
}

static int same_selection(const size_t *a, size_t na, const size_t *b, size_t nb)
{
    return na == nb && memcmp(a, b, na * sizeof(size_t)) == 0;
}

int kpf_op_restrict_trials(kpf_op *A, const size_t *rows, size_t n_rows, const size_t *cols,
                           size_t n_cols, kpf_op **out, kpf_error *err)
{
    if (!A || !out)
        return kpf_error_set(err, KPF_EINVAL, "restrict_trials: NULL argument");
    if (!cols) {
        cols = rows;
        n_cols = n_rows;
    }
    int rc = kpf_internal_refuse_split(&A->in, "restrict_trials", err);
    if (rc)
        return rc;
    restrict_st *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "restrict_trials: out of memory");
    s->A = A;
    s->n_rows = n_rows;
    s->n_cols = n_cols;
    rc = copy_selection(rows, n_rows, A->out.B, "rows", &s->rows, err);
    if (!rc)
        rc = copy_selection(cols, n_cols, A->in.B, "cols", &s->cols, err);
    if (!rc && (!(s->full_in = malloc(kpf_space_size(&A->in) * sizeof(double))) ||
                !(s->full_out = malloc(kpf_space_size(&A->out) * sizeof(double)))))
        rc = kpf_error_set(err, KPF_ENOMEM, "restrict_trials: out of memory");
    if (rc) {
        restrict_free_state(s);
        return rc;
    }
    kpf_space in = A->in, o = A->out; /* same weight per element */
    in.B = n_cols;
    o.B = n_rows;
    int sa = kpf_op_is_self_adjoint(A) && same_selection(rows, n_rows, cols, n_cols);
    return wrap(sa ? &restrict_sa_type : &restrict_type, in, o, s, restrict_free_state, out,
                err);
}

/* ---- consensus averages (KPFlow App. B.3) --------------------------------- */

typedef struct avg_st {
    kpf_op *A;
    double *full_in, *full_out;
    unsigned axes;
    size_t B_in, B_out; /* trials of A's spaces over every rank */
} avg_st;

static void avg_free_state(void *p)
{
    avg_st *s = p;
    if (s) {
        free(s->full_in);
        free(s->full_out);
    }
    free(s);
}

static void avg_destroy(kpf_op *op) { avg_free_state(op->state); }

/* The space reduced along `axes`: averaged axes become size 1 and the weight
 * is multiplied by their sizes, so that the broadcast E has the mean as its
 * exact adjoint.  B_total counts the trials of every rank; a space averaged
 * over trials is whole in every process. */
static kpf_space reduce_space(kpf_space s, unsigned axes, size_t B_total)
{
    if (axes & KPF_AXIS_TRIAL) {
        s.weight *= (double)B_total;
        s.B = 1;
        s.comm = NULL;
    }
    if (axes & KPF_AXIS_TIME) {
        s.weight *= (double)s.T;
        s.T = 1;
    }
    if (axes & KPF_AXIS_UNIT) {
        s.weight *= (double)s.n;
        s.n = 1;
    }
    return s;
}

/* Index in the reduced space r of element (t, b, i) of the full space. */
static size_t reduced_index(const kpf_space *r, size_t t, size_t b, size_t i)
{
    size_t tr = r->T == 1 ? 0 : t, br = r->B == 1 ? 0 : b, ir = r->n == 1 ? 0 : i;
    return (tr * r->B + br) * r->n + ir;
}

/* full = E u (copy along the averaged axes).  Row by row: the reduced row
 * is found once per (t, b), and the entry loop is a plain copy. */
static void broadcast(const kpf_space *full, const kpf_space *r, const double *u, double *dst)
{
    const size_t n = full->n;
    for (size_t t = 0; t < full->T; t++)
        for (size_t b = 0; b < full->B; b++) {
            const double *ur = u + reduced_index(r, t, b, 0);
            double *d = dst + (t * full->B + b) * n;
            if (r->n == 1)
                for (size_t i = 0; i < n; i++)
                    d[i] = ur[0];
            else
                memcpy(d, ur, n * sizeof *d);
        }
}

/* u = E* full (mean along the averaged axes).  Row by row as broadcast; each
 * reduced entry still receives its terms in (t, b, i) order, so the sums are
 * the same as entry by entry.  A trial mean over a split space adds the
 * ranks' partial sums before dividing by all B_total trials. */
static int average(const kpf_space *full, const kpf_space *r, unsigned axes, size_t B_total,
                   const double *src, double *u, kpf_error *err)
{
    const size_t n = full->n, nr = kpf_space_size(r);
    /* the number of entries each mean is over, from the whole space's sizes */
    size_t nr_all = ((axes & KPF_AXIS_TRIAL) ? 1 : B_total) * r->T * r->n;
    double inv = (double)nr_all / (double)(B_total * full->T * full->n);
    memset(u, 0, nr * sizeof(double));
    for (size_t t = 0; t < full->T; t++)
        for (size_t b = 0; b < full->B; b++) {
            double *ur = u + reduced_index(r, t, b, 0);
            const double *s = src + (t * full->B + b) * n;
            if (r->n == 1)
                for (size_t i = 0; i < n; i++)
                    ur[0] += s[i];
            else
                for (size_t i = 0; i < n; i++)
                    ur[i] += s[i];
        }
    if ((axes & KPF_AXIS_TRIAL) && kpf_internal_space_split(full)) {
        /* the mean is whole on every rank, and eigensolvers run on it on
         * every rank in step: the same bits everywhere, not just nearly */
        int rc = kpf_comm_sum_ordered(full->comm, u, nr, err);
        if (rc)
            return kpf_error_prefix(err, rc, "trial mean: ");
    }
    for (size_t j = 0; j < nr; j++)
        u[j] *= inv;
    return KPF_OK;
}

/* The average after A, entered even when A failed here (rc): on a split
 * space the other ranks wait in its sum.  The failure is what returns. */
static int finish_average(const avg_st *s, const kpf_space *full, const kpf_space *r,
                          size_t B_total, const double *src, double *u, int rc, kpf_error *err)
{
    kpf_error mine;
    int avg = average(full, r, s->axes, B_total, src, u, rc ? &mine : err);
    return rc ? rc : avg;
}

static int avg_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    avg_st *s = op->state;
    broadcast(&s->A->in, &op->in, in, s->full_in);
    int rc = kpf_op_apply(s->A, s->full_in, s->full_out, err);
    return finish_average(s, &s->A->out, &op->out, s->B_out, s->full_out, out, rc, err);
}

static int avg_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    avg_st *s = op->state;
    broadcast(&s->A->out, &op->out, in, s->full_out);
    int rc = kpf_op_apply_adjoint(s->A, s->full_out, s->full_in, err);
    return finish_average(s, &s->A->in, &op->in, s->B_in, s->full_in, out, rc, err);
}

/* The trials of s over every rank.  Every rank builds its operators in the
 * same order, so this sum (a collective on a split space) is matched. */
static int total_trials(const kpf_space *s, size_t *B, kpf_error *err)
{
    double b = (double)s->B;
    int rc = kpf_internal_space_split(s) ? kpf_comm_sum(s->comm, &b, 1, err) : KPF_OK;
    *B = (size_t)b;
    return rc;
}

static const kpf_op_type avg_type = {"average", avg_apply, avg_adjoint, avg_destroy};
static const kpf_op_type avg_sa_type = {"average", avg_apply, NULL, avg_destroy};

int kpf_op_average(kpf_op *A, unsigned axes, kpf_op **out, kpf_error *err)
{
    if (!A || !out)
        return kpf_error_set(err, KPF_EINVAL, "average: NULL argument");
    if (axes & ~(KPF_AXIS_TRIAL | KPF_AXIS_TIME | KPF_AXIS_UNIT))
        return kpf_error_set(err, KPF_EINVAL, "average: unknown axis bits 0x%x", axes);
    avg_st *s = calloc(1, sizeof *s);
    if (!s || !(s->full_in = malloc(kpf_space_size(&A->in) * sizeof(double))) ||
        !(s->full_out = malloc(kpf_space_size(&A->out) * sizeof(double)))) {
        avg_free_state(s);
        return kpf_error_set(err, KPF_ENOMEM, "average: out of memory");
    }
    s->A = A;
    s->axes = axes;
    int rc = total_trials(&A->in, &s->B_in, err);
    if (!rc)
        rc = total_trials(&A->out, &s->B_out, err);
    if (rc) {
        avg_free_state(s);
        return rc;
    }
    const kpf_op_type *t = kpf_op_is_self_adjoint(A) ? &avg_sa_type : &avg_type;
    return wrap(t, reduce_space(A->in, axes, s->B_in), reduce_space(A->out, axes, s->B_out), s,
                avg_free_state, out, err);
}

/* ---- adjoint test and densification ---------------------------------------- */

static void fill_gaussian(gsl_rng *r, double *v, size_t N)
{
    for (size_t i = 0; i < N; i++)
        v[i] = gsl_ran_gaussian(r, 1.0);
}

static double adjoint_gap(const kpf_op *A, const double *u, const double *Au,
                          const double *v, const double *Asv)
{
    double lhs = kpf_space_dot(&A->out, Au, v), rhs = kpf_space_dot(&A->in, u, Asv);
    double den = kpf_space_norm(&A->out, Au) * kpf_space_norm(&A->out, v) +
                 kpf_space_norm(&A->in, u) * kpf_space_norm(&A->in, Asv);
    return den > 0 ? fabs(lhs - rhs) / den : fabs(lhs - rhs);
}

int kpf_op_adjoint_test(kpf_op *A, unsigned long seed, int trials, double *rel,
                        kpf_error *err)
{
    if (!A || !rel || trials < 1)
        return kpf_error_set(err, KPF_EINVAL, "adjoint_test: NULL argument or trials < 1");
    size_t ni = kpf_space_size(&A->in), no = kpf_space_size(&A->out);
    double *u = malloc(ni * sizeof(double)), *Asv = malloc(ni * sizeof(double));
    double *v = malloc(no * sizeof(double)), *Au = malloc(no * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = (u && Asv && v && Au && r) ? KPF_OK
                                        : kpf_error_set(err, KPF_ENOMEM, "adjoint_test: oom");
    if (r)
        gsl_rng_set(r, seed);
    *rel = 0.0;
    for (int k = 0; !rc && k < trials; k++) {
        fill_gaussian(r, u, ni);
        fill_gaussian(r, v, no);
        rc = kpf_op_apply(A, u, Au, err);
        if (!rc)
            rc = kpf_op_apply_adjoint(A, v, Asv, err);
        if (!rc)
            *rel = fmax(*rel, adjoint_gap(A, u, Au, v, Asv));
    }
    free(u);
    free(Asv);
    free(v);
    free(Au);
    if (r)
        gsl_rng_free(r);
    return rc;
}

int kpf_op_to_dense(kpf_op *A, size_t max_entries, double *dense, kpf_error *err)
{
    if (!A || !dense)
        return kpf_error_set(err, KPF_EINVAL, "to_dense: NULL argument");
    int split = kpf_internal_refuse_split(&A->in, "a dense matrix", err);
    if (split)
        return split;
    size_t ni = kpf_space_size(&A->in), no = kpf_space_size(&A->out);
    if (ni > max_entries / no)
        return kpf_error_set(err, KPF_EINVAL,
                             "to_dense: operator '%s' is %zu × %zu, above the limit of %zu "
                             "entries",
                             A->type->name, no, ni, max_entries);
    double *e = calloc(ni, sizeof(double)), *col = malloc(no * sizeof(double));
    int rc = (e && col) ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "to_dense: oom");
    for (size_t j = 0; !rc && j < ni; j++) {
        e[j] = 1.0;
        rc = kpf_op_apply(A, e, col, err);
        e[j] = 0.0;
        for (size_t i = 0; !rc && i < no; i++)
            dense[i * ni + j] = col[i];
    }
    free(e);
    free(col);
    return rc;
}

/* ---- owning bundles (kpflow_internal.h) ------------------------------------ */

typedef struct bundle_st {
    kpf_op_type type; /* per bundle, so the op carries its own name */
    kpf_op *top;
    kpf_op **parts;
    size_t n_parts;
} bundle_st;

void kpf_internal_op_free_all(kpf_op **ops, size_t k)
{
    for (size_t i = k; i-- > 0;)
        kpf_op_free(ops[i]);
}

static void bundle_free_state(void *p)
{
    bundle_st *s = p;
    if (!s)
        return;
    kpf_op_free(s->top);
    kpf_internal_op_free_all(s->parts, s->n_parts);
    free(s->parts);
    free(s);
}

/* Frees the state that holds op->type: kpf_op_free reads nothing after. */
static void bundle_destroy(kpf_op *op) { bundle_free_state(op->state); }

static int bundle_apply(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return kpf_op_apply(((bundle_st *)op->state)->top, in, out, err);
}

static int bundle_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err)
{
    return kpf_op_apply_adjoint(((bundle_st *)op->state)->top, in, out, err);
}

int kpf_internal_op_bundle(const char *name, kpf_op *top, kpf_op **parts, size_t n_parts,
                           int self_adjoint, kpf_op **out, kpf_error *err)
{
    bundle_st *s = calloc(1, sizeof *s);
    if (s && n_parts)
        s->parts = malloc(n_parts * sizeof(kpf_op *));
    if (!s || (n_parts && !s->parts)) {
        free(s);
        kpf_op_free(top);
        kpf_internal_op_free_all(parts, n_parts);
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", name);
    }
    s->type = (kpf_op_type){name, bundle_apply, self_adjoint ? NULL : bundle_adjoint,
                            bundle_destroy};
    s->top = top;
    s->n_parts = n_parts;
    if (n_parts)
        memcpy(s->parts, parts, n_parts * sizeof(kpf_op *));
    return wrap(&s->type, top->in, top->out, s, bundle_free_state, out, err);
}

int kpf_internal_op_chain(const char *name, kpf_op **ops, size_t k, int self_adjoint,
                          kpf_op **out, kpf_error *err)
{
    /* parts = the k ops, then the k−1 compositions built right to left; the
     * last entry (the outermost composition, or ops[0] when k = 1) is the
     * bundle's top. */
    kpf_op **parts = calloc(2 * k, sizeof(kpf_op *));
    if (!parts) {
        kpf_internal_op_free_all(ops, k);
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", name);
    }
    memcpy(parts, ops, k * sizeof(kpf_op *));
    size_t np = k;
    kpf_op *acc = ops[k - 1];
    int rc = KPF_OK;
    for (size_t i = k - 1; !rc && i-- > 0;) {
        rc = kpf_op_compose(ops[i], acc, &acc, err);
        if (!rc)
            parts[np++] = acc;
    }
    if (rc)
        kpf_internal_op_free_all(parts, np);
    else
        rc = kpf_internal_op_bundle(name, acc, parts, np - 1, self_adjoint, out, err);
    free(parts);
    return rc;
}
