/* Checkpoints: write-to-temp-then-rename saves, exact restores. */
#include "kpf/checkpoint.h"

#include <errno.h>
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
    int rc = kpf_h5_create_trunc(tmp, &h, err);
    if (rc)
        return rc;
    rc = save_body(h, c, err);
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    if (rc || rc2) {
        remove(tmp);
        return rc ? rc : rc2;
    }
    if (rename(tmp, path))
        return kpf_error_set(err, KPF_EIO, "%s: cannot move checkpoint into place (%s)", path,
                             strerror(errno));
    return KPF_OK;
}

static int load_history(kpf_h5 *h, kpf_train_history *hi, kpf_error *err)
{
    size_t ni = 0, ne = 0;
    kpf_error ignore;
    if (kpf_h5_count(h, "/history/loss", &ni, &ignore))
        ni = 0;
    if (kpf_h5_count(h, "/history/eval_loss", &ne, &ignore))
        ne = 0;
    if (kpf_internal_history_reserve(hi, ni, ne))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = KPF_OK;
    if (ni) rc = kpf_h5_read(h, "/history/loss", ni, hi->loss, err);
    if (!rc && ni) rc = kpf_h5_read(h, "/history/grad_norm", ni, hi->grad_norm, err);
    if (!rc && ne) rc = kpf_h5_read(h, "/history/eval_iter", ne, hi->eval_iter, err);
    if (!rc && ne) rc = kpf_h5_read(h, "/history/eval_loss", ne, hi->eval_loss, err);
    double conv;
    if (!rc) rc = kpf_h5_read(h, "/history/converged_at", 1, &conv, err);
    if (!rc) {
        hi->n_iter = ni;
        hi->n_eval = ne;
        hi->converged_at = (long)conv;
    }
    return rc;
}

int kpf_checkpoint_load(const char *path, kpf_checkpoint *c, kpf_error *err)
{
    kpf_h5 *h = NULL;
    int rc = kpf_h5_open(path, &h, err);
    if (rc)
        return rc;
    double it, t;
    rc = kpf_h5_read(h, "/iteration", 1, &it, err);
    if (!rc) rc = kpf_h5_read(h, "/theta", c->model->m, c->model->theta, err);
    if (!rc) rc = kpf_h5_read(h, "/optim/t", 1, &t, err);
    if (!rc) rc = kpf_h5_read(h, "/optim/mom", c->optim->m, c->optim->mom, err);
    if (!rc) rc = kpf_h5_read(h, "/optim/vel", c->optim->m, c->optim->vel, err);
    if (!rc) rc = kpf_h5_read_bytes(h, "/rng/data", gsl_rng_size(c->data),
                                    gsl_rng_state(c->data), err);
    if (!rc) rc = kpf_h5_read_bytes(h, "/rng/batch", gsl_rng_size(c->batch),
                                    gsl_rng_state(c->batch), err);
    if (!rc) rc = load_history(h, c->history, err);
    kpf_h5_close(h, NULL);
    if (rc)
        return kpf_error_prefix(err, rc, "resuming from checkpoint: ");
    c->iteration = (size_t)it;
    c->optim->t = (uint64_t)t;
    c->history->iterations_done = c->iteration;
    return kpf_model_theta_changed(c->model, err);
}
