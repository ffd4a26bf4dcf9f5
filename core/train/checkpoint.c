/* Checkpoints: write-to-temp-then-rename saves, exact restores.
 *
 * A checkpoint is a sealed HDF5 file (kpf/h5io.h): once written and
 * closed, the length and CRC-32 of its contents go into its HDF5 user
 * block.  Loading checks the seal before HDF5 reads the file, so a file cut
 * short, damaged on disk or edited is refused before HDF5 (which can crash
 * on malformed files) parses it; then every field is checked against what
 * kpf_train can write, for a file that was edited and resealed. */
#include "kpf/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/h5io.h"
#include "train_internal.h"

/* History arrays grow; this keeps them sized for n entries. */
static int reserve(double **a, double **b, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    double *na = realloc(*a, c * sizeof(double)), *nb = na ? realloc(*b, c * sizeof(double)) : NULL;
    if (na)
        *a = na;
    if (!nb)
        return -1;
    *b = nb;
    *cap = c;
    return 0;
}

int kpf_internal_history_reserve(kpf_train_history *h, size_t n_iter, size_t n_eval)
{
    if (reserve(&h->loss, &h->grad_norm, &h->cap_iter, n_iter))
        return -1;
    return reserve(&h->eval_iter, &h->eval_loss, &h->cap_eval, n_eval);
}

static int save_body(kpf_h5 *h, const kpf_checkpoint *c, kpf_error *err)
{
    const kpf_train_history *hi = c->history;
    double it = (double)c->iteration, t = (double)c->optim->t,
           conv = (double)hi->converged_at;
    size_t one = 1, m = c->model->m;
    int rc = kpf_h5_write(h, "/iteration", 1, &one, &it, err);
    if (!rc) rc = kpf_h5_write(h, "/theta", 1, &m, c->model->theta, err);
    if (!rc) rc = kpf_h5_write(h, "/optim/t", 1, &one, &t, err);
    if (!rc) rc = kpf_h5_write(h, "/optim/mom", 1, &m, c->optim->mom, err);
    if (!rc) rc = kpf_h5_write(h, "/optim/vel", 1, &m, c->optim->vel, err);
    if (!rc) rc = kpf_h5_write_bytes(h, "/rng/data", gsl_rng_size(c->data),
                                     gsl_rng_state(c->data), err);
    if (!rc) rc = kpf_h5_write_bytes(h, "/rng/batch", gsl_rng_size(c->batch),
                                     gsl_rng_state(c->batch), err);
    size_t ni = hi->n_iter, ne = hi->n_eval;
    /* HDF5 refuses zero-sized simple dataspaces only for fixed dims of 0 in
     * some versions; histories always hold the iteration-0 evaluation. */
    if (!rc && ni) rc = kpf_h5_write(h, "/history/loss", 1, &ni, hi->loss, err);
    if (!rc && ni) rc = kpf_h5_write(h, "/history/grad_norm", 1, &ni, hi->grad_norm, err);
    if (!rc && ne) rc = kpf_h5_write(h, "/history/eval_iter", 1, &ne, hi->eval_iter, err);
    if (!rc && ne) rc = kpf_h5_write(h, "/history/eval_loss", 1, &ne, hi->eval_loss, err);
    if (!rc) rc = kpf_h5_write(h, "/history/converged_at", 1, &one, &conv, err);
    return rc;
}

int kpf_checkpoint_save(const char *path, const kpf_checkpoint *c, kpf_error *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create_sealed(tmp, &h, err);
    if (rc)
        return rc;
    rc = save_body(h, c, err);
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    if (!rc && !rc2)
        rc2 = kpf_h5_seal(tmp, err);
    if (rc || rc2) {
        remove(tmp);
        return rc ? rc : rc2;
    }
    if (rename(tmp, path))
        return kpf_error_set(err, KPF_EIO, "%s: cannot move checkpoint into place (%s)", path,
                             strerror(errno));
    return KPF_OK;
}

/* ---- loading: read everything, check it, then restore ------------------
 *
 * A checkpoint is untrusted input: it may be damaged, truncated or edited.
 * Every field is read into temporaries and checked against what kpf_train
 * can have written (its invariants are listed at each check) before any of
 * the caller's objects is touched, so a refused checkpoint changes nothing
 * and a restored one can neither crash GSL nor the training loop. */

typedef struct loaded {
    double it, t, conv;
    double *theta, *mom, *vel;
    unsigned char *rng_data, *rng_batch;
    size_t ni, ne;
    double *loss, *grad_norm, *eval_iter, *eval_loss;
} loaded;

static void loaded_free(loaded *L)
{
    free(L->theta);
    free(L->mom);
    free(L->vel);
    free(L->rng_data);
    free(L->rng_batch);
    free(L->loss);
    free(L->grad_norm);
    free(L->eval_iter);
    free(L->eval_loss);
}

__attribute__((format(printf, 4, 5)))
static int refuse(const char *path, const char *field, kpf_error *err, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return kpf_error_set(err, KPF_EIO,
                         "%s: %s: %s; the checkpoint was altered or damaged (restore an intact "
                         "copy, or start the run over)",
                         path, field, why);
}

/* Iteration counts are stored as doubles: exact integers up to 2^53. */
static int whole(double x, double lo, double hi)
{
    return isfinite(x) && x == floor(x) && x >= lo && x <= hi;
}

static double *alloc_doubles(size_t n)
{
    return malloc((n ? n : 1) * sizeof(double));
}

static int read_scalar(kpf_h5 *h, const char *name, double *x, kpf_error *err)
{
    return kpf_h5_read(h, name, 1, x, err);
}

static int read_vec(kpf_h5 *h, const char *name, size_t n, double **out, kpf_error *err)
{
    if (!(*out = alloc_doubles(n)))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", name);
    return n ? kpf_h5_read(h, name, n, *out, err) : KPF_OK;
}

static int read_rng(kpf_h5 *h, const char *name, const gsl_rng *r, unsigned char **out,
                    kpf_error *err)
{
    size_t n = gsl_rng_size(r);
    if (!(*out = malloc(n ? n : 1)))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", name);
    return kpf_h5_read_bytes(h, name, n, *out, err);
}

/* A dataset kpf_train writes only when it has entries: absent means 0. */
static size_t count_or_zero(kpf_h5 *h, const char *name)
{
    size_t n = 0;
    kpf_error ignore;
    return kpf_h5_is_dataset(h, name) && !kpf_h5_count(h, name, &n, &ignore) ? n : 0;
}

static int read_all(kpf_h5 *h, const char *path, const kpf_checkpoint *c, loaded *L,
                    kpf_error *err)
{
    size_t m = c->model->m;
    int rc = read_scalar(h, "/iteration", &L->it, err);
    if (!rc) rc = read_vec(h, "/theta", m, &L->theta, err);
    if (!rc) rc = read_scalar(h, "/optim/t", &L->t, err);
    if (!rc) rc = read_vec(h, "/optim/mom", c->optim->m, &L->mom, err);
    if (!rc) rc = read_vec(h, "/optim/vel", c->optim->m, &L->vel, err);
    if (!rc) rc = read_rng(h, "/rng/data", c->data, &L->rng_data, err);
    if (!rc) rc = read_rng(h, "/rng/batch", c->batch, &L->rng_batch, err);
    if (!rc) rc = read_scalar(h, "/history/converged_at", &L->conv, err);
    if (rc)
        return rc;
    /* The history is as long as the iteration count says (checked before
     * anything of a stored length is allocated). */
    L->ni = count_or_zero(h, "/history/loss");
    L->ne = count_or_zero(h, "/history/eval_loss");
    if (!whole(L->it, 0, 9007199254740992.0))
        return refuse(path, "/iteration", err, "%g is not an iteration count", L->it);
    if ((double)L->ni != L->it)
        return refuse(path, "/history/loss", err, "%zu entries for %.0f iterations", L->ni,
                      L->it);
    if (L->ne < 1 || (double)L->ne > L->it + 1)
        return refuse(path, "/history/eval_loss", err,
                      "%zu evaluations for %.0f iterations (expected 1 to %.0f)", L->ne, L->it,
                      L->it + 1);
    rc = read_vec(h, "/history/loss", L->ni, &L->loss, err);
    if (!rc) rc = read_vec(h, "/history/grad_norm", L->ni, &L->grad_norm, err);
    if (!rc) rc = read_vec(h, "/history/eval_iter", L->ne, &L->eval_iter, err);
    if (!rc) rc = read_vec(h, "/history/eval_loss", L->ne, &L->eval_loss, err);
    return rc;
}

/* Index of the first entry that is not finite (or negative, with nonneg). */
static size_t first_bad(const double *a, size_t n, int nonneg)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]) || (nonneg && a[i] < 0))
            return i;
    return n;
}

static int check_finite(const char *path, const char *field, const double *a, size_t n,
                        int nonneg, kpf_error *err)
{
    size_t i = first_bad(a, n, nonneg);
    if (i == n)
        return KPF_OK;
    return refuse(path, field, err, "entry %zu is %g (expected a finite%s number)", i, a[i],
                  nonneg ? " non-negative" : "");
}

/* GSL's mt19937 state (gsl/rng/mt.c): 624 words of 32 bits and a position
 * in [0, 624].  A position outside it makes GSL read outside the state; a
 * word above 2^32 − 1 gives draws beyond gsl_rng_max (a uniform ≥ 1, an
 * index past the end); an all-zero state draws 0 forever (and
 * gsl_rng_uniform_pos then never returns). */
enum { MT_N = 624 };
typedef struct mt_state {
    unsigned long mt[MT_N];
    int mti;
} mt_state;

static int check_rng(const char *path, const char *field, const gsl_rng *r,
                     const unsigned char *bytes, kpf_error *err)
{
    if (strcmp(gsl_rng_name(r), "mt19937") || gsl_rng_size(r) != sizeof(mt_state))
        return KPF_OK; /* only the size can be checked (done when reading) */
    mt_state s;
    memcpy(&s, bytes, sizeof s);
    if (s.mti < 0 || s.mti > MT_N)
        return refuse(path, field, err,
                      "not a valid mt19937 state (position %d outside [0, %d])", s.mti, MT_N);
    int nonzero = (s.mt[0] & 0x80000000ul) != 0;
    for (size_t i = 0; i < MT_N; i++) {
        if (s.mt[i] > 0xfffffffful)
            return refuse(path, field, err,
                          "not a valid mt19937 state (word %zu = %lu exceeds 32 bits)", i,
                          s.mt[i]);
        nonzero |= i > 0 && s.mt[i] != 0;
    }
    if (!nonzero)
        return refuse(path, field, err, "not a valid mt19937 state (all zero)");
    return KPF_OK;
}

/* kpf_train evaluates at iteration 0 and then at increasing iterations, and
 * stops at the first one below the loss threshold. */
static int check_evals(const char *path, const loaded *L, kpf_error *err)
{
    for (size_t i = 0; i < L->ne; i++) {
        double e = L->eval_iter[i], prev = i ? L->eval_iter[i - 1] : -1;
        if (!whole(e, i ? prev + 1 : 0, i ? L->it : 0))
            return refuse(path, "/history/eval_iter", err,
                          "entry %zu is %g (expected %s)", i, e,
                          i ? "an iteration after the previous one, at most /iteration"
                            : "0");
    }
    int rc = check_finite(path, "/history/eval_loss", L->eval_loss, L->ne, 0, err);
    if (rc)
        return rc;
    if (L->conv == -1)
        return KPF_OK;
    for (size_t i = 0; i < L->ne; i++)
        if (L->eval_iter[i] == L->conv)
            return KPF_OK;
    return refuse(path, "/history/converged_at", err,
                  "%g is neither -1 nor an evaluated iteration", L->conv);
}

static int check_all(const char *path, const kpf_checkpoint *c, const loaded *L,
                     kpf_error *err)
{
    if (L->t != L->it) /* one optimiser step per iteration */
        return refuse(path, "/optim/t", err, "%g steps for %.0f iterations", L->t, L->it);
    int rc = check_finite(path, "/theta", L->theta, c->model->m, 0, err);
    if (!rc) rc = check_finite(path, "/optim/mom", L->mom, c->optim->m, 0, err);
    if (!rc) rc = check_finite(path, "/optim/vel", L->vel, c->optim->m, 1, err);
    if (!rc) rc = check_rng(path, "/rng/data", c->data, L->rng_data, err);
    if (!rc) rc = check_rng(path, "/rng/batch", c->batch, L->rng_batch, err);
    if (!rc) rc = check_finite(path, "/history/loss", L->loss, L->ni, 0, err);
    if (!rc) rc = check_finite(path, "/history/grad_norm", L->grad_norm, L->ni, 1, err);
    if (!rc) rc = check_evals(path, L, err);
    return rc;
}

/* Nothing here can fail once the history has room. */
static int restore(kpf_checkpoint *c, const loaded *L, kpf_error *err)
{
    kpf_train_history *hi = c->history;
    if (kpf_internal_history_reserve(hi, L->ni, L->ne))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    size_t m = c->model->m, om = c->optim->m;
    memcpy(c->model->theta, L->theta, m * sizeof(double));
    memcpy(c->optim->mom, L->mom, om * sizeof(double));
    memcpy(c->optim->vel, L->vel, om * sizeof(double));
    memcpy(gsl_rng_state(c->data), L->rng_data, gsl_rng_size(c->data));
    memcpy(gsl_rng_state(c->batch), L->rng_batch, gsl_rng_size(c->batch));
    if (L->ni) {
        memcpy(hi->loss, L->loss, L->ni * sizeof(double));
        memcpy(hi->grad_norm, L->grad_norm, L->ni * sizeof(double));
    }
    memcpy(hi->eval_iter, L->eval_iter, L->ne * sizeof(double));
    memcpy(hi->eval_loss, L->eval_loss, L->ne * sizeof(double));
    hi->n_iter = L->ni;
    hi->n_eval = L->ne;
    hi->converged_at = (long)L->conv;
    c->iteration = (size_t)L->it;
    c->optim->t = (uint64_t)L->t;
    hi->iterations_done = c->iteration;
    return KPF_OK;
}

int kpf_checkpoint_load(const char *path, kpf_checkpoint *c, kpf_error *err)
{
    kpf_h5 *h = NULL;
    int rc = kpf_h5_check_seal(path, err);
    if (!rc)
        rc = kpf_h5_open(path, &h, err);
    if (rc)
        return kpf_error_prefix(err, rc, "resuming from checkpoint: ");
    loaded L = {0};
    rc = read_all(h, path, c, &L, err);
    kpf_h5_close(h, NULL);
    if (!rc) rc = check_all(path, c, &L, err);
    if (!rc) rc = restore(c, &L, err);
    loaded_free(&L);
    if (rc)
        return kpf_error_prefix(err, rc, "resuming from checkpoint: ");
    return kpf_model_theta_changed(c->model, err);
}
