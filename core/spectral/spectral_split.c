/* The spectral tools on a space split over ranks by trials (kpf/operator.h):
 * the whole space's size and this rank's place in it, a start vector that
 * is the same global vector whatever the rank count, and the sign
 * convention decided over every rank.  On a space in one process each of
 * these reduces to the serial rule, so one code path serves both. */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_randist.h>

#include "spectral_internal.h"

int kpf_spec_layout(const kpf_space *sp, kpf_spec_split *L, kpf_error *err)
{
    int N = kpf_comm_size(sp->comm), me = kpf_comm_rank(sp->comm);
    size_t n = kpf_space_size(sp);
    *L = (kpf_spec_split){.n_local = n, .n_global = n, .B_total = sp->B, .b0 = 0};
    if (N == 1)
        return KPF_OK;
    double *B = malloc((size_t)N * sizeof(double)), mine = (double)sp->B;
    if (!B)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = kpf_comm_allgather(sp->comm, &mine, sizeof mine, B, err);
    L->B_total = 0;
    for (int r = 0; !rc && r < N; r++) {
        if (r < me)
            L->b0 += (size_t)B[r];
        L->B_total += (size_t)B[r];
    }
    L->n_global = L->B_total * sp->T * sp->n;
    free(B);
    return rc;
}

/* The global vector is drawn in global order (step, trial, unit) and each
 * rank keeps its trials' entries: O(global size) draws, far below one
 * operator application, and the Lanczos run starts where the one-process
 * run does. */
void kpf_spec_draw_start(const kpf_space *sp, const kpf_spec_split *L, gsl_rng *r, double *v)
{
    size_t n = sp->n, hi = L->b0 + sp->B;
    for (size_t t = 0; t < sp->T; t++)
        for (size_t b = 0; b < L->B_total; b++)
            for (size_t i = 0; i < n; i++) {
                double x = gsl_ran_gaussian(r, 1.0);
                if (b >= L->b0 && b < hi)
                    v[(t * sp->B + (b - L->b0)) * n + i] = x;
            }
}

/* Global index of local entry j: monotone in j on each rank. */
static double global_index(const kpf_space *sp, const kpf_spec_split *L, size_t j)
{
    size_t n = sp->n, row = j / n, t = row / sp->B, b = row % sp->B;
    return (double)((t * L->B_total + L->b0 + b) * n + j % n);
}

int kpf_spec_fix_sign_split(const kpf_space *sp, const kpf_spec_split *L, double *v,
                            double *sign, kpf_error *err)
{
    int N = kpf_comm_size(sp->comm);
    if (N == 1) {
        *sign = kpf_spec_fix_sign(v, L->n_local);
        return KPF_OK;
    }
    /* Each rank's first largest |v| (its smallest global index among ties),
     * then the largest over ranks, ties to the smaller global index: the
     * entry the one-process rule picks. */
    size_t imax = 0;
    for (size_t i = 1; i < L->n_local; i++)
        if (fabs(v[i]) > fabs(v[imax]))
            imax = i;
    double mine[3] = {L->n_local ? fabs(v[imax]) : -1.0, global_index(sp, L, imax),
                      L->n_local ? v[imax] : 0.0};
    double *all = malloc(3 * (size_t)N * sizeof(double));
    if (!all)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = kpf_comm_allgather(sp->comm, mine, sizeof mine, all, err);
    int best = 0;
    for (int r = 1; !rc && r < N; r++)
        if (all[3 * r] > all[3 * best] ||
            (all[3 * r] == all[3 * best] && all[3 * r + 1] < all[3 * best + 1]))
            best = r;
    *sign = !rc && all[3 * best + 2] < 0.0 ? -1.0 : 1.0;
    free(all);
    if (*sign < 0)
        kpf_spec_scale(v, L->n_local, -1.0);
    return rc;
}
