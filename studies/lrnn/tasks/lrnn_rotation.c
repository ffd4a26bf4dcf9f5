/* `lrnn_rotation`: rotational (eigen) tasks of Proca et al. (App. N–O,
 * P.4.1) in the consistent construction of notes/seed-lrnn.md §3:
 *   Σ^{YX_t} = Q H_t Qᵀ,  Q real orthogonal (N×N, N = 2·pairs),
 *   H_t = blockdiag([[μ, −ν], [ν, μ]]) with μ + iν = d_{p,t} = δ_p f(λ_p, t),
 * δ = delta_r·e^{i·delta_phi}, λ = lambda_r·e^{i·lambda_phi} complex.  The
 * complex eigenvector of pair p for μ + iν is (q_{2p} − i q_{2p+1})/√2.
 * Inputs are exactly whitened as in lrnn_svd; Q = kpf_lrnn_orthogonal(
 * basis_seed, V, N).
 *
 * Keys: T [6], outputs [last | all], dynamics [constant |
 *   inverse_exponential | exponential], delta_r [1], delta_phi [0],
 *   lambda_r [1], lambda_phi [0] (numbers or one per pair), pairs [longest
 *   list, else 1], basis_seed [0].  n_in = n_out = 2·pairs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrnn_tasks.h"

int kpf_lrnn_rot_setup_read(const kpf_node *node, kpf_lrnn_rot_setup *s, kpf_error *err)
{
    memset(s, 0, sizeof *s);
    int dyn = 0, outs = 0, rc;
    if ((rc = kpf_cfg_size(node, "T", 0, 6, 1, KPF_LRNN_MAX_T, &s->T, err)))
        return rc;
    if ((rc = kpf_cfg_choice(node, "outputs", 0, kpf_lrnn_output_names, 0, &outs, err)))
        return rc;
    if ((rc = kpf_cfg_choice(node, "dynamics", 0, kpf_lrnn_dynamics_names, 0, &dyn, err)))
        return rc;
    if (dyn == KPF_LRNN_DIRAC)
        return kpf_node_error(kpf_node_get(node, "dynamics"), err,
                              "dirac is not offered for rotation tasks");
    if ((rc = kpf_cfg_u64(node, "basis_seed", 0, 0, &s->basis_seed, err)))
        return rc;
    s->all_outputs = outs;
    if (s->all_outputs && s->T > 512)
        return kpf_node_error(node, err, "T-output tasks are limited to T ≤ 512");
    static const char *const keys[4] = {"delta_r", "delta_phi", "lambda_r", "lambda_phi"};
    static const double dflt[4] = {1.0, 0.0, 1.0, 0.0};
    double v[4][32];
    size_t n[4], longest = 1;
    for (int k = 0; k < 4; k++) {
        if ((rc = kpf_lrnn_cfg_list(node, keys[k], 32, v[k], &n[k], err)))
            return rc;
        if (n[k] > longest)
            longest = n[k];
    }
    if ((rc = kpf_cfg_size(node, "pairs", 0, longest, 1, 32, &s->pairs, err)))
        return rc;
    for (int k = 0; k < 4; k++)
        if (n[k] > 1 && n[k] != s->pairs)
            return kpf_node_error(kpf_node_get(node, keys[k]), err,
                                  "has %zu values but the task has %zu pairs", n[k],
                                  s->pairs);
    s->N = 2 * s->pairs;
    for (size_t p = 0; p < s->pairs; p++) {
        double x[4];
        for (int k = 0; k < 4; k++)
            x[k] = n[k] ? v[k][n[k] > 1 ? p : 0] : dflt[k];
        s->spec[p] = (kpf_lrnn_mode_spec){.dynamics = dyn,
                                          .delta = x[0] * cexp(I * x[1]),
                                          .lambda = x[2] * cexp(I * x[3])};
    }
    return KPF_OK;
}

typedef struct rot_task {
    kpf_lrnn_rot_setup set;
    kpf_lrnn_corr_task corr;
} rot_task;

static void rot_destroy(void *self)
{
    rot_task *s = self;
    if (!s)
        return;
    kpf_lrnn_corr_free(&s->corr);
    free(s);
}

static int rot_create(const kpf_node *node, void **self, kpf_error *err)
{
    rot_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "lrnn_rotation: out of memory");
    int rc = kpf_lrnn_rot_setup_read(node, &s->set, err);
    const kpf_lrnn_rot_setup *st = &s->set;
    const size_t N = st->N;
    double *Q = NULL;
    if (!rc) {
        s->corr = (kpf_lrnn_corr_task){N, N, st->T, st->all_outputs, NULL};
        rc = kpf_lrnn_corr_alloc(&s->corr, err);
    }
    if (!rc && !(Q = malloc(N * N * sizeof *Q)))
        rc = kpf_error_set(err, KPF_ENOMEM, "lrnn_rotation: out of memory");
    if (!rc)
        rc = kpf_lrnn_orthogonal(st->basis_seed, KPF_LRNN_V, N, Q, err);
    if (!rc)
        for (size_t t = st->all_outputs ? 1 : st->T; t <= st->T; t++)
            for (size_t i = 1; i <= t; i++) {
                double *C = kpf_lrnn_corr_block(&s->corr, t, i);
                for (size_t p = 0; p < st->pairs; p++) {
                    double complex d = kpf_lrnn_sv(&st->spec[p], t, i);
                    double H[2][2] = {{creal(d), -cimag(d)}, {cimag(d), creal(d)}};
                    for (size_t o = 0; o < N; o++)
                        for (size_t j = 0; j < N; j++) {
                            double acc = 0;
                            for (int r = 0; r < 2; r++)
                                for (int q = 0; q < 2; q++)
                                    acc += Q[o * N + 2 * p + r] * H[r][q] *
                                           Q[j * N + 2 * p + q];
                            C[o * N + j] += acc;
                        }
                }
            }
    free(Q);
    if (rc) {
        rot_destroy(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static void rot_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    const rot_task *s = self;
    *n_in = *n_out = s->set.N;
    *T = s->set.T;
}

static int rot_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const rot_task *s = self;
    return kpf_lrnn_corr_generate(&s->corr, "lrnn_rotation", rng, bt, err);
}

extern const kpf_task_type kpf_task_lrnn_rotation;
const kpf_task_type kpf_task_lrnn_rotation = {
    KPF_TASK_DESC_HEAD,
    .name = "lrnn_rotation",
    .summary = "Proca et al. App. N-O: whitened inputs, Sigma^{YX_t} = Q H_t Q^T with "
               "complex (rotational) eigenvalue dynamics",
    .period_names = kpf_lrnn_period_names,
    .create = rot_create,
    .destroy = rot_destroy,
    .dims = rot_dims,
    .generate = rot_generate,
};
