/* Task conformance checks: dims, array contents, determinism under a seed and
 * the set_noise_scale contract (see kpf/check.h, kpf_check_task).
 *
 * Every batch is generated into arrays this file owns: each array sits
 * between two guard zones of GUARD elements filled with the byte GUARD_BYTE,
 * and its inside is pre-filled with a sentinel (x, y, mask: a NaN with a
 * recognisable payload; period, cond: −1; trial: SIZE_MAX).  A task must
 * fill every array (training regenerates into the same batch, so a value
 * left over would come from the previous batch), so a sentinel left inside
 * is "never written" and a changed guard byte is a write outside the array.
 *
 * Batches come from the KPF_RNG_DATA stream of the seed, as in a run.  The
 * RNG state after generate tells whether the task drew anything, and whether
 * noise scale 0 made the same draws as scale 1. */
#include "kpf/check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "kpf/rng.h"

#define GUARD 16
#define GUARD_BYTE 0xA5
/* The pre-fill of x, y and mask: a quiet NaN no arithmetic produces. */
#define SENTINEL_BITS 0x7ff80000c0ffee00ULL
/* Each of x, y, … may hold at most this many elements: larger checks are
 * refused rather than overflowing a size. */
#define MAX_ELEMS ((size_t)1 << 31)

void kpf_task_check_opts_default(kpf_task_check_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->trials = 64;
    o->noise_tol = 1e-9;
    o->task = NULL;
}

/* ---- one guarded batch --------------------------------------------------- */

enum { A_X, A_Y, A_MASK, A_PERIOD, A_COND, A_TRIAL, N_ARRAYS };
static const char *const array_names[N_ARRAYS] = {"x", "y", "mask", "period", "cond",
                                                  "trial"};

typedef struct probe {
    kpf_task_batch bt;            /* its pointers lie inside block[]          */
    unsigned char *block[N_ARRAYS];
    size_t n[N_ARRAYS], elem[N_ARRAYS];
    unsigned char *rng_state;     /* the RNG after generate                   */
    size_t rng_size;
    int drew;                     /* the RNG moved during generate            */
} probe;

typedef struct ctx {
    const kpf_task_desc *d;
    const kpf_task_check_opts *o;
    kpf_check_report *rep;
    const kpf_node *node;
    size_t B, T, n_in, n_out, n_periods;
} ctx;

static void *inside(const probe *p, int a)
{
    return p->block[a] + GUARD * p->elem[a];
}

static void probe_free(probe *p)
{
    for (int a = 0; a < N_ARRAYS; a++)
        free(p->block[a]);
    free(p->rng_state);
    memset(p, 0, sizeof *p);
}

static int probe_alloc(const ctx *c, probe *p, kpf_error *err)
{
    memset(p, 0, sizeof *p);
    const size_t BT = c->B * c->T;
    const size_t n[N_ARRAYS] = {BT * c->n_in, BT * c->n_out, BT, BT, c->B, c->B};
    const size_t el[N_ARRAYS] = {sizeof(double), sizeof(double), sizeof(double),
                                 sizeof(int), sizeof(int), sizeof(size_t)};
    for (int a = 0; a < N_ARRAYS; a++) {
        p->n[a] = n[a];
        p->elem[a] = el[a];
        p->block[a] = malloc((n[a] + 2 * GUARD) * el[a]);
        if (!p->block[a]) {
            probe_free(p);
            return kpf_error_set(err, KPF_ENOMEM, "check: out of memory for a batch of "
                                 "%zu trials", c->B);
        }
    }
    p->bt = (kpf_task_batch){.B = c->B, .T = c->T, .n_in = c->n_in, .n_out = c->n_out,
                             .x = inside(p, A_X), .y = inside(p, A_Y),
                             .mask = inside(p, A_MASK), .period = inside(p, A_PERIOD),
                             .cond = inside(p, A_COND), .trial = inside(p, A_TRIAL)};
    return KPF_OK;
}

static void prefill(probe *p)
{
    double nan_sentinel;
    const unsigned long long bits = SENTINEL_BITS;
    memcpy(&nan_sentinel, &bits, sizeof nan_sentinel);
    for (int a = 0; a < N_ARRAYS; a++)
        memset(p->block[a], GUARD_BYTE, (p->n[a] + 2 * GUARD) * p->elem[a]);
    for (int a = A_X; a <= A_MASK; a++)
        for (size_t i = 0; i < p->n[a]; i++)
            ((double *)inside(p, a))[i] = nan_sentinel;
    for (int a = A_PERIOD; a <= A_COND; a++)
        for (size_t i = 0; i < p->n[a]; i++)
            ((int *)inside(p, a))[i] = -1;
    for (size_t i = 0; i < p->n[A_TRIAL]; i++)
        p->bt.trial[i] = SIZE_MAX;
}

static int is_sentinel(double v)
{
    unsigned long long bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == SENTINEL_BITS;
}

/* Generate into p from the KPF_RNG_DATA stream of `seed`; p remembers the
 * RNG state afterwards and whether it moved. */
static int generate(const ctx *c, void *self, uint64_t seed, probe *p, kpf_error *err)
{
    gsl_rng *rng = NULL, *fresh = NULL;
    prefill(p);
    int rc = kpf_rng_alloc(seed, KPF_RNG_DATA, &rng, err);
    if (!rc)
        rc = kpf_rng_alloc(seed, KPF_RNG_DATA, &fresh, err);
    if (!rc) {
        rc = c->d->generate(self, rng, &p->bt, err);
        if (rc)
            kpf_error_prefix(err, rc, "generate (B = %zu trials; --trials sets B): ", c->B);
    }
    if (!rc) {
        p->rng_size = gsl_rng_size(rng);
        free(p->rng_state);
        p->rng_state = malloc(p->rng_size ? p->rng_size : 1);
        if (!p->rng_state)
            rc = kpf_error_set(err, KPF_ENOMEM, "check: out of memory");
    }
    if (!rc) {
        memcpy(p->rng_state, gsl_rng_state(rng), p->rng_size);
        p->drew = memcmp(p->rng_state, gsl_rng_state(fresh), p->rng_size) != 0;
    }
    if (rng)
        gsl_rng_free(rng);
    if (fresh)
        gsl_rng_free(fresh);
    return rc;
}

/* The first array (in `mask_of` bits, 1 << A_…) where p and q differ, or
 * NULL when they are bit-identical there. */
static const char *first_diff(const probe *p, const probe *q, unsigned mask_of)
{
    for (int a = 0; a < N_ARRAYS; a++)
        if ((mask_of & (1u << a)) && memcmp(inside(p, a), inside(q, a), p->n[a] * p->elem[a]))
            return array_names[a];
    return NULL;
}
#define ALL_ARRAYS ((1u << N_ARRAYS) - 1)

/* ---- the report ------------------------------------------------------------ */

static int add(ctx *c, const char *name, double value, double tol, kpf_error *err,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int add(ctx *c, const char *name, double value, double tol, kpf_error *err,
               const char *fmt, ...)
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
    snprintf(it->name, sizeof it->name, "%s", name);
    it->a = it->b = NAN; /* no two magnitudes: the value says it */
    it->cause = -1;
    it->value = value;
    it->tol = tol;
    it->pass = value <= tol; /* NaN fails */
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

/* "b=3, t=5, i=1" (or "b=3, t=5" when dim is 1) of flat index k in a
 * [T][B][dim] array. */
static void where(const ctx *c, size_t k, size_t dim, char *buf, size_t size)
{
    size_t i = k % dim, row = k / dim;
    if (dim == 1)
        snprintf(buf, size, "b=%zu, t=%zu", row % c->B, row / c->B);
    else
        snprintf(buf, size, "b=%zu, t=%zu, i=%zu", row % c->B, row / c->B, i);
}

/* ---- contents of one batch -------------------------------------------------- */

static int check_values(ctx *c, const probe *p, int a, size_t dim, kpf_error *err)
{
    const double *v = inside(p, a);
    size_t bad = 0, first = 0;
    for (size_t k = 0; k < p->n[a]; k++)
        if (!isfinite(v[k]) && bad++ == 0)
            first = k;
    char nm[KPF_CHECK_NAME_MAX], at[96] = "";
    snprintf(nm, sizeof nm, "%s: every entry written and finite", array_names[a]);
    if (bad)
        where(c, first, dim, at, sizeof at);
    return add(c, nm, (double)bad, 0.0, err, "%zu entries; first %s[%s] %s", bad,
               array_names[a], at,
               bad && is_sentinel(v[first]) ? "was never written" : "is not finite");
}

static int check_mask(ctx *c, const probe *p, kpf_error *err)
{
    const double *m = p->bt.mask;
    size_t bad = 0, first = 0, scored = 0;
    for (size_t k = 0; k < p->n[A_MASK]; k++) {
        if (!(m[k] >= 0.0 && m[k] <= 1.0) && bad++ == 0)
            first = k;
        scored += m[k] > 0.0;
    }
    char at[96] = "";
    if (bad)
        where(c, first, 1, at, sizeof at);
    int rc = add(c, "mask: every entry in [0, 1]", (double)bad, 0.0, err,
                 "%zu entries outside [0, 1]; first mask[%s] = %g%s", bad, at,
                 bad ? m[first] : 0.0,
                 bad && is_sentinel(m[first]) ? " (never written)" : "");
    if (!rc)
        rc = add(c, "mask: some step is scored (mask > 0)", scored ? 0.0 : 1.0, 0.0, err,
                 "no step of %zu trials has mask > 0: the loss would be empty", c->B);
    return rc;
}

static int check_labels(ctx *c, const probe *p, kpf_error *err)
{
    size_t bad = 0, first = 0;
    for (size_t k = 0; k < p->n[A_PERIOD]; k++)
        if ((p->bt.period[k] < 0 || (size_t)p->bt.period[k] >= c->n_periods) && bad++ == 0)
            first = k;
    char at[96] = "";
    if (bad)
        where(c, first, 1, at, sizeof at);
    int rc = add(c, "period: every label indexes period_names", (double)bad, 0.0, err,
                 "%zu labels outside [0, %zu); first period[%s] = %d", bad, c->n_periods,
                 at, bad ? p->bt.period[first] : 0);
    size_t bad_c = 0, bad_t = 0, fc = 0, ft = 0;
    for (size_t b = 0; b < c->B; b++) {
        if (p->bt.cond[b] < 0 && bad_c++ == 0)
            fc = b;
        if (p->bt.trial[b] >= c->B && bad_t++ == 0)
            ft = b;
    }
    if (!rc)
        rc = add(c, "cond: every trial's condition >= 0", (double)bad_c, 0.0, err,
                 "%zu trials; first cond[%zu] = %d%s", bad_c, fc, bad_c ? p->bt.cond[fc] : 0,
                 bad_c && p->bt.cond[fc] == -1 ? " (the pre-fill: never written?)" : "");
    if (!rc)
        rc = add(c, "trial: every index in [0, B)", (double)bad_t, 0.0, err,
                 "%zu trials; first trial[%zu] = %zu%s", bad_t, ft,
                 bad_t ? p->bt.trial[ft] : 0,
                 bad_t && p->bt.trial[ft] == SIZE_MAX ? " (the pre-fill: never written)" : "");
    return rc;
}

/* Guard bytes changed in any probe: a write outside the arrays. */
static int check_bounds(ctx *c, const probe *const *ps, size_t np, kpf_error *err)
{
    size_t bad = 0;
    const char *first = NULL;
    for (size_t j = 0; j < np; j++)
        for (int a = 0; a < N_ARRAYS; a++) {
            const probe *p = ps[j];
            const size_t g = GUARD * p->elem[a];
            const unsigned char *lo = p->block[a], *hi = p->block[a] + g + p->n[a] * p->elem[a];
            for (size_t k = 0; k < g; k++)
                if ((lo[k] != GUARD_BYTE || hi[k] != GUARD_BYTE) && bad++ == 0)
                    first = array_names[a];
        }
    return add(c, "bounds: nothing written outside the arrays", (double)bad, 0.0, err,
               "%zu bytes changed around the arrays, first around '%s'; the task writes "
               "past B, T, n_in or n_out",
               bad, first ? first : "");
}

/* ---- dims and period names ------------------------------------------------- */

static int check_dims(ctx *c, void *self, kpf_error *err)
{
    c->d->dims(self, &c->n_in, &c->n_out, &c->T);
    const int ok = c->n_in >= 1 && c->n_out >= 1 && c->T >= 1;
    int rc = add(c, "dims: n_in, n_out, T >= 1", ok ? 0.0 : 1.0, 0.0, err,
                 "dims gave n_in = %zu, n_out = %zu, T = %zu", c->n_in, c->n_out, c->T);
    c->n_periods = 0;
    const char *const *pn = c->d->period_names;
    int names_ok = pn != NULL;
    for (; pn && pn[c->n_periods]; c->n_periods++)
        names_ok &= pn[c->n_periods][0] != '\0';
    names_ok &= c->n_periods >= 1;
    if (!rc)
        rc = add(c, "periods: period_names lists >= 1 non-empty name", names_ok ? 0.0 : 1.0,
                 0.0, err, "%s",
                 !c->d->period_names ? "period_names is NULL"
                 : c->n_periods ? "a period name is empty"
                                : "period_names is empty (its first entry is NULL)");
    return rc;
}

static int check_dims_stable(ctx *c, void *self, kpf_error *err)
{
    size_t ni, no, T;
    c->d->dims(self, &ni, &no, &T);
    const int same = ni == c->n_in && no == c->n_out && T == c->T;
    return add(c, "dims: unchanged by generate", same ? 0.0 : 1.0, 0.0, err,
               "before: n_in = %zu, n_out = %zu, T = %zu; after: %zu, %zu, %zu", c->n_in,
               c->n_out, c->T, ni, no, T);
}

/* ---- determinism ------------------------------------------------------------- */

static int check_determinism(ctx *c, const probe *a, const probe *again,
                             const probe *fresh, const probe *other, kpf_error *err)
{
    const char *d1 = first_diff(a, again, ALL_ARRAYS);
    int rc = add(c, "determinism: same seed, same instance: identical batch",
                 d1 ? 1.0 : 0.0, 0.0, err,
                 "a second generate with seed %llu differs in '%s': generation depends on "
                 "earlier calls (state kept in the task or in a static)",
                 (unsigned long long)c->o->seed, d1 ? d1 : "");
    const char *d2 = first_diff(a, fresh, ALL_ARRAYS);
    if (!rc)
        rc = add(c, "determinism: same seed, new instance: identical batch", d2 ? 1.0 : 0.0,
                 0.0, err,
                 "a new instance with seed %llu differs in '%s': randomness not drawn "
                 "from the rng argument (time, rand(), a static RNG)",
                 (unsigned long long)c->o->seed, d2 ? d2 : "");
    if (rc)
        return rc;
    const char *d3 = first_diff(a, other, ALL_ARRAYS);
    unsigned long long s1 = c->o->seed, s2 = c->o->seed + 1;
    if (a->drew)
        return add(c, "determinism: another seed gives another batch", d3 ? 0.0 : 1.0, 0.0,
                   err, "seeds %llu and %llu gave bit-identical batches although the task "
                   "draws from the rng", s1, s2);
    return add(c, "determinism: draws nothing, so another seed gives the same batch",
               d3 ? 1.0 : 0.0, 0.0, err,
               "seeds %llu and %llu differ in '%s' although the task draws nothing from "
               "the rng: it uses another source of randomness", s1, s2, d3 ? d3 : "");
}

/* ---- noise scale -------------------------------------------------------------- */

/* max |h − (z + o)/2| / max |o − z| over one array: 0 when h is the midpoint,
 * i.e. the array is affine in the noise scale. */
static double midpoint_error(const double *z, const double *h, const double *o, size_t n,
                             double *spread)
{
    double e = 0, s = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs(h[k] - 0.5 * (z[k] + o[k]));
        if (isnan(d))
            return NAN;
        e = fmax(e, d);
        s = fmax(s, fabs(o[k] - z[k]));
    }
    *spread = s;
    if (e == 0)
        return 0;
    return e / fmax(s, 1e-300);
}

static int check_noise(ctx *c, void *self, const probe *one, probe *zero, probe *half,
                       probe *back, kpf_error *err)
{
    void (*set)(void *, double) = KPF_TASK_OP(c->d, set_noise_scale);
    const uint64_t seed = c->o->seed;
    set(self, 0.0);
    int rc = generate(c, self, seed, zero, err);
    if (!rc) {
        set(self, 0.5);
        rc = generate(c, self, seed, half, err);
    }
    set(self, 1.0);
    if (!rc)
        rc = generate(c, self, seed, back, err);
    if (rc)
        return kpf_error_prefix(err, rc, "noise scale: ");
    const int same_draws = zero->rng_size == one->rng_size &&
                           !memcmp(zero->rng_state, one->rng_state, one->rng_size);
    rc = add(c, "noise: scale 0 makes the same rng draws as scale 1", same_draws ? 0.0 : 1.0,
             0.0, err, "the rng state after generate differs: noise draws are skipped "
             "when the scale is 0, so the trials depend on it");
    const unsigned kept = 1u << A_MASK | 1u << A_PERIOD | 1u << A_COND | 1u << A_TRIAL;
    const char *d = first_diff(one, zero, kept);
    if (!rc)
        rc = add(c, "noise: scale 0 keeps cond, mask, period, trial", d ? 1.0 : 0.0, 0.0,
                 err, "'%s' differs between scale 1 and scale 0 (same seed)", d ? d : "");
    double sx, sy;
    double ex = midpoint_error(zero->bt.x, half->bt.x, one->bt.x, one->n[A_X], &sx);
    double ey = midpoint_error(zero->bt.y, half->bt.y, one->bt.y, one->n[A_Y], &sy);
    if (!rc)
        rc = add(c, "noise: x, y affine in the scale: x(1/2) = (x(0) + x(1))/2",
                 isnan(ex) || isnan(ey) ? NAN : fmax(ex, ey), c->o->noise_tol, err,
                 "relative midpoint error x: %.3e, y: %.3e; set_noise_scale must multiply "
                 "every noise sigma (and nothing else)", ex, ey);
    d = first_diff(one, back, ALL_ARRAYS);
    if (!rc)
        rc = add(c, "noise: scale 1 after 0 restores the batch bit for bit", d ? 1.0 : 0.0,
                 0.0, err, "'%s' differs from the first batch after set_noise_scale(1)",
                 d ? d : "");
    if (!rc)
        rc = add(c, "noise: its size, max |x(1) - x(0)| (information)", sx, HUGE_VAL, err,
                 NULL);
    return rc;
}

/* ---- driver ------------------------------------------------------------------- */

static int create(ctx *c, void **self, kpf_error *err)
{
    *self = NULL;
    int rc = c->d->create(c->node, self, err);
    if (rc)
        return kpf_error_prefix(err, rc, "create: ");
    /* `name` selects the task in a run; here it is only allowed. */
    kpf_node_mark_used(kpf_node_get(c->node, "name"));
    rc = kpf_node_check_unused(c->node, err);
    if (rc) {
        c->d->destroy(*self);
        *self = NULL;
    }
    return rc;
}

static int sizes_ok(const ctx *c, kpf_error *err)
{
    const size_t wide = c->n_in > c->n_out ? c->n_in : c->n_out;
    if (c->T > MAX_ELEMS / c->B || c->B * c->T > MAX_ELEMS / wide)
        return kpf_error_set(err, KPF_EINVAL,
                             "B = %zu trials of T = %zu steps × %zu channels is too large to "
                             "check; lower --trials or the task's sizes",
                             c->B, c->T, wide);
    return KPF_OK;
}

enum { P_ONE, P_AGAIN, P_FRESH, P_OTHER, P_ZERO, P_HALF, P_BACK, N_PROBES };

static int run_all(ctx *c, void *self, probe *p, kpf_error *err)
{
    int rc;
    if ((rc = check_dims(c, self, err)))
        return rc;
    if (c->n_in == 0 || c->n_out == 0 || c->T == 0)
        return KPF_OK; /* nothing can be generated; the dims item failed */
    if ((rc = sizes_ok(c, err)))
        return rc;
    for (int i = 0; i < N_PROBES; i++)
        if ((rc = probe_alloc(c, &p[i], err)))
            return rc;
    void *other = NULL;
    rc = generate(c, self, c->o->seed, &p[P_ONE], err);
    if (!rc) rc = check_dims_stable(c, self, err);
    if (!rc) rc = generate(c, self, c->o->seed, &p[P_AGAIN], err);
    if (!rc) rc = generate(c, self, c->o->seed + 1, &p[P_OTHER], err);
    if (!rc) rc = create(c, &other, err);
    if (!rc) rc = generate(c, other, c->o->seed, &p[P_FRESH], err);
    if (other)
        c->d->destroy(other);
    if (!rc) rc = check_values(c, &p[P_ONE], A_X, c->n_in, err);
    if (!rc) rc = check_values(c, &p[P_ONE], A_Y, c->n_out, err);
    if (!rc) rc = check_mask(c, &p[P_ONE], err);
    if (!rc) rc = check_labels(c, &p[P_ONE], err);
    if (!rc)
        rc = check_determinism(c, &p[P_ONE], &p[P_AGAIN], &p[P_FRESH], &p[P_OTHER], err);
    size_t n_used = P_OTHER + 1;
    if (!rc && KPF_TASK_OP(c->d, set_noise_scale)) {
        rc = check_noise(c, self, &p[P_ONE], &p[P_ZERO], &p[P_HALF], &p[P_BACK], err);
        n_used = N_PROBES;
    }
    const probe *ps[N_PROBES];
    for (size_t i = 0; i < n_used; i++)
        ps[i] = &p[i];
    if (!rc)
        rc = check_bounds(c, ps, n_used, err);
    return rc;
}

int kpf_check_task(const kpf_task_desc *desc, const kpf_task_check_opts *opts,
                   kpf_check_report *report, kpf_error *err)
{
    kpf_task_check_opts dflt;
    if (!opts) {
        kpf_task_check_opts_default(&dflt);
        opts = &dflt;
    }
    if (!desc || !report)
        return kpf_error_set(err, KPF_EINVAL, "kpf_check_task: NULL descriptor or report");
    memset(report, 0, sizeof *report);
    if (opts->trials == 0 || !(opts->noise_tol >= 0))
        return kpf_error_set(err, KPF_EINVAL,
                             "kpf_check_task: trials must be >= 1 and noise_tol >= 0");
    int rc = kpf_task_desc_validate(desc, "check-plugin", err);
    if (rc)
        return rc;
    kpf_config *own = NULL;
    ctx c = {.d = desc, .o = opts, .rep = report, .node = opts->task, .B = opts->trials};
    /* Tasks read their keys from a map; without one, an empty map gives every
     * default (as `task: {name: …}` does in a run). */
    if (!c.node && !(rc = kpf_config_load_string("{}", "(check-plugin)", &own, err)))
        c.node = kpf_config_root(own);
    void *self = NULL;
    probe p[N_PROBES];
    memset(p, 0, sizeof p);
    if (!rc)
        rc = create(&c, &self, err);
    if (!rc)
        rc = run_all(&c, self, p, err);
    if (rc)
        kpf_error_prefix(err, rc, "check-plugin %s: ", desc->name);
    for (int i = 0; i < N_PROBES; i++)
        probe_free(&p[i]);
    if (self)
        desc->destroy(self);
    kpf_config_free(own);
    return rc;
}
