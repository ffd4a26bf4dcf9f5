/* `lrnn_svd`: the structured SVD tasks of Proca et al. (P.4.1–P.4.2).
 * Σ^{YX_t} = U_y S_t V_xᵀ exactly (eq. 203), S_t = diag(s_{α,t}), with
 *   s_{α,t} = δ_α f(λ_α, t):  constant f = 1, inverse_exponential λ^{T−t},
 *   exponential λ^t;  `kappa` replaces the last step (eq. 10);
 *   dirac: s_1 = β, s_T = κ, 0 otherwise (eq. 11).
 * T-output tasks (outputs: all) score every step with Σ^{Y_tX_i} =
 * U_y S_{t,i} V_xᵀ, s_{t,i} the same family at length t (App. M).
 * U_y, V_x: kpf_lrnn_orthogonal(basis_seed, U / V); mode α uses column α.
 *
 * Keys: n_in [4], n_out [n_in], T [6], outputs [last | all],
 *   dynamics [constant | inverse_exponential | exponential | dirac],
 *   delta [1], lambda [1], kappa [absent], beta [1] — each a number or a
 *   list with one value per mode; rank [the longest list, else
 *   min(n_in, n_out)] modes are nonzero; basis_seed [0].
 * Draws: B·T·n_in Gaussians (row (t, j) of the (T·n_in)×B input matrix,
 * trial inner), then exact whitening.  Batches need B ≥ T·n_in. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lrnn_tasks.h"

#define MAXR 64

int kpf_lrnn_svd_setup_read(const kpf_node *node, kpf_lrnn_svd_setup *s, kpf_error *err)
{
    memset(s, 0, sizeof *s);
    int dyn = 0, outs = 0, rc;
    size_t n_rank;
    if ((rc = kpf_cfg_size(node, "n_in", 0, 4, 1, KPF_LRNN_MAX_DIM, &s->n_in, err)))
        return rc;
    if ((rc = kpf_cfg_size(node, "n_out", 0, s->n_in, 1, KPF_LRNN_MAX_DIM, &s->n_out, err)))
        return rc;
    if ((rc = kpf_cfg_size(node, "T", 0, 6, 1, KPF_LRNN_MAX_T, &s->T, err)))
        return rc;
    if ((rc = kpf_cfg_choice(node, "outputs", 0, kpf_lrnn_output_names, 0, &outs, err)))
        return rc;
    if ((rc = kpf_cfg_choice(node, "dynamics", 0, kpf_lrnn_dynamics_names, 0, &dyn, err)))
        return rc;
    if ((rc = kpf_cfg_u64(node, "basis_seed", 0, 0, &s->basis_seed, err)))
        return rc;
    s->all_outputs = outs;
    if (s->all_outputs && s->T > 512)
        return kpf_node_error(node, err, "T-output tasks are limited to T ≤ 512 (got %zu)",
                              s->T);
    static const char *const keys[4] = {"delta", "lambda", "kappa", "beta"};
    double v[4][MAXR];
    size_t n[4], longest = 0;
    for (int k = 0; k < 4; k++) {
        if ((rc = kpf_lrnn_cfg_list(node, keys[k], MAXR, v[k], &n[k], err)))
            return rc;
        if (n[k] > longest)
            longest = n[k];
    }
    size_t dmax = s->n_in < s->n_out ? s->n_in : s->n_out;
    size_t dflt = longest > 1 ? longest : dmax;
    if ((rc = kpf_cfg_size(node, "rank", 0, dflt, 1, dmax, &n_rank, err)))
        return rc;
    if (n_rank > MAXR)
        return kpf_node_error(node, err, "at most %d modes", MAXR);
    for (int k = 0; k < 4; k++)
        if (n[k] > 1 && n[k] != n_rank)
            return kpf_node_error(kpf_node_get(node, keys[k]), err,
                                  "has %zu values but the task has %zu modes (rank)", n[k],
                                  n_rank);
    if (n[2] == 0 && dyn == KPF_LRNN_DIRAC)
        return kpf_node_error(node, err, "dirac dynamics need `kappa` (s_T) and `beta` (s_1)");
    s->rank = n_rank;
    for (size_t a = 0; a < n_rank; a++) {
        kpf_lrnn_mode_spec *sp = &s->spec[a];
        sp->dynamics = dyn;
        sp->delta = n[0] ? v[0][n[0] > 1 ? a : 0] : 1.0;
        sp->lambda = n[1] ? v[1][n[1] > 1 ? a : 0] : 1.0;
        sp->has_kappa = n[2] > 0;
        sp->kappa = n[2] ? v[2][n[2] > 1 ? a : 0] : 0.0;
        sp->beta = n[3] ? v[3][n[3] > 1 ? a : 0] : 1.0;
    }
    return KPF_OK;
}

typedef struct svd_task {
    kpf_lrnn_svd_setup set;
    kpf_lrnn_corr_task corr;
} svd_task;

static void svd_destroy(void *self)
{
    svd_task *s = self;
    if (!s)
        return;
    kpf_lrnn_corr_free(&s->corr);
    free(s);
}

static int svd_create(const kpf_node *node, void **self, kpf_error *err)
{
    svd_task *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "lrnn_svd: out of memory");
    int rc = kpf_lrnn_svd_setup_read(node, &s->set, err);
    const kpf_lrnn_svd_setup *st = &s->set;
    double *U = NULL, *V = NULL;
    if (!rc) {
        s->corr = (kpf_lrnn_corr_task){st->n_in, st->n_out, st->T, st->all_outputs, NULL};
        rc = kpf_lrnn_corr_alloc(&s->corr, err);
    }
    if (!rc) {
        U = malloc(st->n_out * st->n_out * sizeof *U);
        V = malloc(st->n_in * st->n_in * sizeof *V);
        if (!U || !V)
            rc = kpf_error_set(err, KPF_ENOMEM, "lrnn_svd: out of memory");
    }
    if (!rc)
        rc = kpf_lrnn_orthogonal(st->basis_seed, KPF_LRNN_U, st->n_out, U, err);
    if (!rc)
        rc = kpf_lrnn_orthogonal(st->basis_seed, KPF_LRNN_V, st->n_in, V, err);
    if (!rc) {
        const size_t ni = st->n_in, no = st->n_out;
        for (size_t t = st->all_outputs ? 1 : st->T; t <= st->T; t++)
            for (size_t i = 1; i <= t; i++) {
                double *C = kpf_lrnn_corr_block(&s->corr, t, i);
                for (size_t a = 0; a < st->rank; a++) {
                    double sv = creal(kpf_lrnn_sv(&st->spec[a], t, i));
                    for (size_t o = 0; o < no; o++)
                        for (size_t j = 0; j < ni; j++)
                            C[o * ni + j] += sv * U[o * no + a] * V[j * ni + a];
                }
            }
    }
    free(U);
    free(V);
    if (rc) {
        svd_destroy(s);
        return rc;
    }
    *self = s;
    return KPF_OK;
}

static void svd_dims(const void *self, size_t *n_in, size_t *n_out, size_t *T)
{
    const svd_task *s = self;
    *n_in = s->set.n_in;
    *n_out = s->set.n_out;
    *T = s->set.T;
}

static int svd_generate(const void *self, gsl_rng *rng, kpf_task_batch *bt, kpf_error *err)
{
    const svd_task *s = self;
    return kpf_lrnn_corr_generate(&s->corr, "lrnn_svd", rng, bt, err);
}

extern const kpf_task_type kpf_task_lrnn_svd;
const kpf_task_type kpf_task_lrnn_svd = {
    KPF_TASK_DESC_HEAD,
    .name = "lrnn_svd",
    .summary = "Proca et al.: whitened inputs, Sigma^{YX_t} = U_y S_t V_x^T with "
               "constant / (inverse-)exponential / kappa / Dirac singular values",
    .period_names = kpf_lrnn_period_names,
    .create = svd_create,
    .destroy = svd_destroy,
    .dims = svd_dims,
    .generate = svd_generate,
};
