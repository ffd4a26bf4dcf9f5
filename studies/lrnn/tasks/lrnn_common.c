/* Correlation tasks with exactly whitened inputs (see lrnn_tasks.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "lrnn_tasks.h"

const char *const kpf_lrnn_output_names[] = {"last", "all", NULL};
const char *const kpf_lrnn_period_names[] = {"input", "output", NULL};

static size_t n_blocks(const kpf_lrnn_corr_task *c)
{
    return c->all_outputs ? c->T * (c->T + 1) / 2 : c->T;
}

double *kpf_lrnn_corr_block(const kpf_lrnn_corr_task *c, size_t t, size_t i)
{
    size_t idx = c->all_outputs ? (t - 1) * t / 2 + (i - 1) : i - 1;
    return c->C + idx * c->n_out * c->n_in;
}

int kpf_lrnn_corr_alloc(kpf_lrnn_corr_task *c, kpf_error *err)
{
    c->C = calloc(n_blocks(c) * c->n_out * c->n_in, sizeof *c->C);
    if (!c->C)
        return kpf_error_set(err, KPF_ENOMEM, "lrnn task: out of memory for correlations");
    return KPF_OK;
}

void kpf_lrnn_corr_free(kpf_lrnn_corr_task *c)
{
    free(c->C);
    c->C = NULL;
}

void kpf_lrnn_fill_mask(kpf_task_batch *bt, int all_outputs)
{
    const size_t B = bt->B, T = bt->T;
    for (size_t b = 0; b < B; b++) {
        bt->cond[b] = 0;
        bt->trial[b] = b;
    }
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            int scored = all_outputs || t + 1 == T;
            bt->mask[t * B + b] = scored ? 1.0 : 0.0;
            bt->period[t * B + b] = scored ? 1 : 0;
        }
}

int kpf_lrnn_corr_generate(const kpf_lrnn_corr_task *c, const char *name, gsl_rng *rng,
                           kpf_task_batch *bt, kpf_error *err)
{
    if (bt->T != c->T || bt->n_in != c->n_in || bt->n_out != c->n_out)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: batch is T=%zu n_in=%zu n_out=%zu, task needs T=%zu "
                             "n_in=%zu n_out=%zu",
                             name, bt->T, bt->n_in, bt->n_out, c->T, c->n_in, c->n_out);
    const size_t B = bt->B, T = c->T, ni = c->n_in, no = c->n_out, rows = T * ni;
    if (B < rows)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: exact whitening of T·n_in = %zu input directions needs "
                             "batches of at least %zu trials (got %zu; raise train.batch "
                             "and train.eval_trials)",
                             name, rows, rows, B);
    double *X = malloc(rows * B * sizeof *X);
    if (!X)
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", name);
    for (size_t r = 0; r < rows * B; r++) /* row (t, j), column p */
        X[r] = gsl_ran_gaussian(rng, 1.0);
    int rc = kpf_lrnn_whiten_rows(X, rows, B, err);
    if (rc) {
        free(X);
        return kpf_error_prefix(err, rc, "%s: ", name);
    }
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < ni; j++)
                bt->x[(t * B + b) * ni + j] = X[(t * ni + j) * B + b];
    free(X);
    memset(bt->y, 0, T * B * no * sizeof *bt->y);
    for (size_t t = c->all_outputs ? 1 : T; t <= T; t++) {
        double *y = bt->y + (t - 1) * B * no;
        for (size_t i = 1; i <= t; i++) {
            const double *Ci = kpf_lrnn_corr_block(c, t, i);
            const double *x = bt->x + (i - 1) * B * ni;
            for (size_t b = 0; b < B; b++)
                for (size_t o = 0; o < no; o++) {
                    double s = 0;
                    for (size_t j = 0; j < ni; j++)
                        s += Ci[o * ni + j] * x[b * ni + j];
                    y[b * no + o] += s;
                }
        }
    }
    kpf_lrnn_fill_mask(bt, c->all_outputs);
    return KPF_OK;
}

int kpf_lrnn_cfg_list(const kpf_node *map, const char *key, size_t max, double *out,
                      size_t *n, kpf_error *err)
{
    *n = 0;
    const kpf_node *v = map ? kpf_node_get(map, key) : NULL;
    if (!v)
        return KPF_OK;
    if (kpf_node_kind(v) == KPF_NODE_SCALAR) {
        *n = 1;
        return kpf_cfg_double(map, key, KPF_CFG_REQUIRED, 0, -HUGE_VAL, HUGE_VAL, out, err);
    }
    if (kpf_node_kind(v) != KPF_NODE_SEQ || kpf_node_len(v) == 0)
        return kpf_node_error(v, err, "expected a number or a non-empty list of numbers");
    if (kpf_node_len(v) > max)
        return kpf_node_error(v, err, "at most %zu values (got %zu)", max, kpf_node_len(v));
    for (size_t i = 0; i < kpf_node_len(v); i++) {
        const kpf_node *it = kpf_node_at(v, i);
        const char *s = kpf_node_scalar(it);
        char *end = NULL;
        double d = s ? strtod(s, &end) : 0;
        if (!s || !*s || *end || !isfinite(d))
            return kpf_node_error(it, err, "expected a finite number (got '%s')",
                                  s ? s : "a map or list");
        out[i] = d;
    }
    kpf_node_mark_used(v);
    *n = kpf_node_len(v);
    return KPF_OK;
}
