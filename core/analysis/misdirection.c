/* Gradient misdirection (kpf/misdirection.h): B = Σ Vᵀ K V Σ on P's top-k
 * singular triplets, from k applications of K. */
#include "kpf/misdirection.h"

#include <math.h>
#include <stdlib.h>

#include "kpf/kpflow.h"

kpf_misdirection_result kpf_misdirection_measures(size_t k, const double *sv, const double *B)
{
    double tr = 0, bb = 0, ss = 0, diag = 0;
    for (size_t i = 0; i < k; i++) {
        double s2 = sv[i] * sv[i];
        tr += B[i * k + i] * s2;
        ss += s2 * s2;
        diag += B[i * k + i] * B[i * k + i];
        for (size_t j = 0; j < k; j++)
            bb += B[i * k + j] * B[i * k + j];
    }
    kpf_misdirection_result r = {NAN, NAN};
    if (bb > 0 && ss > 0) {
        r.cos_b_sigma2 = tr / sqrt(bb * ss);
        r.offdiag_share = (bb - diag) / bb;
    }
    return r;
}

/* B_ij = σ_i σ_j ⟨v_i, K v_j⟩ in 𝕋. */
static int b_matrix(kpf_op *K, size_t k, const double *sv, const double *V, double *Bm,
                    double *Kv, kpf_error *err)
{
    size_t N = kpf_space_size(&K->in);
    for (size_t j = 0; j < k; j++) {
        int rc = kpf_op_apply(K, V + j * N, Kv, err);
        if (rc)
            return rc;
        for (size_t i = 0; i < k; i++)
            Bm[i * k + j] = sv[i] * sv[j] * kpf_space_dot(&K->in, V + i * N, Kv);
    }
    return KPF_OK;
}

int kpf_misdirection(kpf_model *m, const kpf_traj *tr, size_t k, const kpf_eig_opts *o,
                     double *sv_out, double *B_out, kpf_misdirection_result *res,
                     kpf_error *err)
{
    const size_t N = tr->B * tr->T * tr->n;
    if (k < 1 || k >= N)
        return kpf_error_set(err, KPF_EINVAL, "misdirection: k = %zu must be in 1 … %zu", k,
                             N - 1);
    kpf_op *P = NULL, *K = NULL;
    double *sv = malloc(k * sizeof(double)), *V = malloc(k * N * sizeof(double));
    double *Bm = malloc(k * k * sizeof(double)), *Kv = malloc(N * sizeof(double));
    int rc = sv && V && Bm && Kv ? KPF_OK
                                 : kpf_error_set(err, KPF_ENOMEM, "misdirection: out of memory");
    if (!rc) rc = kpf_op_propagator(m, tr, &P, err);
    if (!rc) rc = kpf_op_param(m, tr, &K, err);
    if (!rc) rc = kpf_svds(P, k, o, sv, NULL, V, NULL, err);
    if (!rc) rc = b_matrix(K, k, sv, V, Bm, Kv, err);
    if (!rc) {
        if (res)
            *res = kpf_misdirection_measures(k, sv, Bm);
        for (size_t i = 0; sv_out && i < k; i++)
            sv_out[i] = sv[i];
        for (size_t i = 0; B_out && i < k * k; i++)
            B_out[i] = Bm[i];
    }
    kpf_op_free(K);
    kpf_op_free(P);
    free(sv);
    free(V);
    free(Bm);
    free(Kv);
    return rc;
}
