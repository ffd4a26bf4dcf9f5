/* Tangent and adjoint sweeps along a trajectory, and the all-rows
 * parameter passes. */
#include "kpf/propagate.h"

#include <string.h>

#include "kpf/stepper.h"

int kpf_propagate_tangent(kpf_model *m, const kpf_traj *tr, const double *q,
                          const double *dz0, double *out, kpf_error *err)
{
    size_t B = tr->B, N = B * tr->n;
    int rc = kpf_model_reserve(m, B, err);
    for (size_t k = 0; !rc && k < tr->T; k++) {
        double *dst = out + k * N;
        const double *prev = k ? out + (k - 1) * N : dz0;
        kpf_step_rows s = kpf_traj_step_rows(tr, k);
        if (prev)
            rc = kpf_step_tangent(m, &s, prev, dst, err);
        else
            memset(dst, 0, N * sizeof(double));
        if (!rc && q)
            for (size_t i = 0; i < N; i++)
                dst[i] += q[k * N + i];
    }
    return rc;
}

int kpf_propagate_adjoint(kpf_model *m, const kpf_traj *tr, const double *w,
                          double *lambda, double *lambda0, kpf_error *err)
{
    return kpf_propagate_adjoint_window(m, tr, w, 0, lambda, lambda0, err);
}

int kpf_propagate_adjoint_window(kpf_model *m, const kpf_traj *tr, const double *w,
                                 size_t window, double *lambda, double *lambda0,
                                 kpf_error *err)
{
    size_t B = tr->B, N = B * tr->n, T = tr->T;
    if (lambda == w)
        return kpf_error_set(err, KPF_EINVAL, "kpf_propagate_adjoint: lambda must not alias w");
    int rc = kpf_model_reserve(m, B, err);
    if (rc)
        return rc;
    memcpy(lambda + (T - 1) * N, w + (T - 1) * N, N * sizeof(double));
    for (size_t k = T - 1; k-- > 0;) {
        kpf_step_rows s = kpf_traj_step_rows(tr, k + 1);
        double *dst = lambda + k * N;
        if (window && (k + 1) % window == 0) { /* step k+1 starts a chunk */
            memcpy(dst, w + k * N, N * sizeof(double));
            continue;
        }
        if ((rc = kpf_step_adjoint(m, &s, lambda + (k + 1) * N, dst, err)))
            return rc;
        for (size_t i = 0; i < N; i++)
            dst[i] += w[k * N + i];
    }
    if (lambda0) {
        kpf_step_rows s = kpf_traj_step_rows(tr, 0);
        rc = kpf_step_adjoint(m, &s, lambda, lambda0, err);
    }
    return rc;
}

int kpf_propagate_jth(kpf_model *m, const kpf_traj *tr, const double *dth, double *out,
                      kpf_error *err)
{
    int rc = kpf_model_reserve(m, tr->B * tr->T, err);
    kpf_step_rows s = kpf_traj_all_rows(tr);
    return rc ? rc : kpf_step_jth(m, &s, dth, out, err);
}

int kpf_propagate_jthT(kpf_model *m, const kpf_traj *tr, const double *w, double *g,
                       kpf_error *err)
{
    int rc = kpf_model_reserve(m, tr->B * tr->T, err);
    kpf_step_rows s = kpf_traj_all_rows(tr);
    return rc ? rc : kpf_step_jthT(m, &s, w, g, err);
}
