/* From minimisers to points (kpf/fixed_points.h): keep those with q below
 * the slow-point tolerance, lowest q first, dropping any within unique_tol
 * of one already kept; and the set's storage. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fp_internal.h"

void kpf_fp_set_free(kpf_fp_set *s)
{
    if (!s)
        return;
    free(s->z);
    free(s->q);
    free(s->kind);
    free(s->ev_re);
    free(s->ev_im);
    free(s->vec_re);
    free(s->vec_im);
    free(s->n_unstable);
    free(s->cls);
    free(s);
}

typedef struct by_q {
    double q;
    size_t i;
} by_q;

static int cmp_q(const void *a, const void *b)
{
    const by_q *x = a, *y = b;
    return x->q < y->q ? -1 : x->q > y->q ? 1 : (x->i > y->i) - (x->i < y->i);
}

static double dist2(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += (a[k] - b[k]) * (a[k] - b[k]);
    return s;
}

int kpf_fp_select(size_t R, size_t n, const double *z, const double *q, const kpf_fp_opts *o,
                  kpf_fp_set **out, kpf_error *err)
{
    kpf_fp_opts opt = o ? *o : kpf_fp_opts_default();
    *out = NULL;
    kpf_fp_set *s = calloc(1, sizeof *s);
    by_q *order = malloc((R ? R : 1) * sizeof *order);
    if (!s || !order) {
        free(s);
        free(order);
        return kpf_error_set(err, KPF_ENOMEM, "fixed points: out of memory");
    }
    size_t c = 0;
    for (size_t i = 0; i < R; i++)
        if (q[i] < opt.slow_tol)
            order[c++] = (by_q){q[i], i};
    qsort(order, c, sizeof *order, cmp_q);
    s->n = n;
    s->z = malloc((c ? c : 1) * n * sizeof(double));
    s->q = malloc((c ? c : 1) * sizeof(double));
    s->kind = malloc((c ? c : 1) * sizeof(int));
    if (!s->z || !s->q || !s->kind) {
        free(order);
        kpf_fp_set_free(s);
        return kpf_error_set(err, KPF_ENOMEM, "fixed points: out of memory");
    }
    const double tol2 = opt.unique_tol * opt.unique_tol;
    for (size_t a = 0; a < c; a++) {
        const double *za = z + order[a].i * n;
        int dup = 0;
        for (size_t p = 0; p < s->P && !dup; p++)
            dup = dist2(za, s->z + p * n, n) <= tol2;
        if (dup)
            continue;
        memcpy(s->z + s->P * n, za, n * sizeof(double));
        s->q[s->P] = order[a].q;
        s->kind[s->P++] = order[a].q < opt.fixed_tol ? KPF_FP_FIXED : KPF_FP_SLOW;
    }
    free(order);
    *out = s;
    return KPF_OK;
}
