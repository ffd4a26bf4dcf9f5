/* Fitting ltr networks to a recorded tensor Y [neurons × time × trials]:
 * data I/O, blocked cross-validation masks, the loss and its adjoint
 * gradient, Adam fits with restarts, rank sweeps and a synthetic teacher
 * (kpf/ltr_fit.h, docs/ltr.md). */
#include "ltr_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <hdf5.h>

#include "kpf/blas.h"
#include "kpf/h5io.h"
#include "kpf/optim.h"
#include "kpf/propagate.h"
#include "kpf/rng.h"
#include "kpf/trajectory.h"

/* ---- data ------------------------------------------------------------------ */

int kpf_ltr_data_alloc(size_t N, size_t T, size_t K, size_t n_in, size_t n_cond,
                       kpf_ltr_data **out, kpf_error *err)
{
    if (N == 0 || T == 0 || K == 0 || (n_in && n_cond == 0))
        return kpf_error_set(err, KPF_EINVAL,
                             "ltr data: need N, T, K ≥ 1 and n_cond ≥ 1 with inputs "
                             "(N=%zu T=%zu K=%zu n_in=%zu n_cond=%zu)",
                             N, T, K, n_in, n_cond);
    kpf_ltr_data *d = calloc(1, sizeof *d);
    if (!d)
        return kpf_error_set(err, KPF_ENOMEM, "ltr data: out of memory");
    d->N = N, d->T = T, d->K = K, d->n_in = n_in, d->n_cond = n_in ? n_cond : 1;
    d->Y = calloc(N * T * K, sizeof(double));
    d->cond = calloc(K, sizeof(int));
    if (n_in)
        d->U = calloc(d->n_cond * T * n_in, sizeof(double));
    if (!d->Y || !d->cond || (n_in && !d->U)) {
        kpf_ltr_data_free(d);
        return kpf_error_set(err, KPF_ENOMEM, "ltr data: out of memory (%zu×%zu×%zu)", N, T,
                             K);
    }
    *out = d;
    return KPF_OK;
}

void kpf_ltr_data_free(kpf_ltr_data *d)
{
    if (!d)
        return;
    free(d->Y);
    free(d->cond);
    free(d->U);
    free(d);
}

/* Shape of a dataset; rank must match. */
static int h5_shape(hid_t f, const char *path, int rank, hsize_t *dims, int *exists,
                    kpf_error *err)
{
    *exists = 0;
    htri_t ok;
    H5E_BEGIN_TRY { ok = H5Lexists(f, path, H5P_DEFAULT); }
    H5E_END_TRY;
    if (ok <= 0)
        return KPF_OK;
    hid_t ds, sp;
    int r = -1;
    H5E_BEGIN_TRY
    {
        ds = H5Dopen2(f, path, H5P_DEFAULT);
        sp = ds >= 0 ? H5Dget_space(ds) : -1;
        r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (r == rank)
            H5Sget_simple_extent_dims(sp, dims, NULL);
        if (sp >= 0)
            H5Sclose(sp);
        if (ds >= 0)
            H5Dclose(ds);
    }
    H5E_END_TRY;
    if (r != rank)
        return kpf_error_set(err, KPF_EIO, "dataset %s has rank %d, expected %d", path, r,
                             rank);
    *exists = 1;
    return KPF_OK;
}

static int h5_read_all(hid_t f, const char *path, double *buf, kpf_error *err)
{
    herr_t st = -1;
    H5E_BEGIN_TRY
    {
        hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
        if (ds >= 0) {
            st = H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            H5Dclose(ds);
        }
    }
    H5E_END_TRY;
    return st < 0 ? kpf_error_set(err, KPF_EIO, "cannot read dataset %s", path) : KPF_OK;
}

int kpf_ltr_data_read(const char *path, kpf_ltr_data **out, kpf_error *err)
{
    hid_t f;
    H5E_BEGIN_TRY { f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (f < 0)
        return kpf_error_set(err, KPF_EIO, "cannot open %s as HDF5", path);
    hsize_t dy[3] = {0}, du[3] = {0}, dc[1] = {0};
    int ey, eu, ec;
    kpf_ltr_data *d = NULL;
    double *cb = NULL;
    int rc = h5_shape(f, "/Y", 3, dy, &ey, err);
    if (!rc)
        rc = h5_shape(f, "/U", 3, du, &eu, err);
    if (!rc)
        rc = h5_shape(f, "/cond", 1, dc, &ec, err);
    if (!rc && !ey)
        rc = kpf_error_set(err, KPF_EIO, "%s: no dataset /Y [neurons, time, trials]", path);
    if (!rc && eu != ec)
        rc = kpf_error_set(err, KPF_EIO, "%s: /U and /cond go together (one is missing)", path);
    if (!rc && eu && (du[1] != dy[1] || dc[0] != dy[2]))
        rc = kpf_error_set(err, KPF_EIO,
                           "%s: /U is [%llu,%llu,%llu] and /cond [%llu]; expected [·,%llu,·] "
                           "and [%llu] to match /Y",
                           path, (unsigned long long)du[0], (unsigned long long)du[1],
                           (unsigned long long)du[2], (unsigned long long)dc[0],
                           (unsigned long long)dy[1], (unsigned long long)dy[2]);
    if (!rc)
        rc = kpf_ltr_data_alloc(dy[0], dy[1], dy[2], eu ? du[2] : 0, eu ? du[0] : 1, &d, err);
    if (!rc)
        rc = h5_read_all(f, "/Y", d->Y, err);
    if (!rc && eu) {
        rc = h5_read_all(f, "/U", d->U, err);
        cb = malloc(d->K * sizeof(double));
        if (!rc && !cb)
            rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
        if (!rc)
            rc = h5_read_all(f, "/cond", cb, err);
        for (size_t k = 0; !rc && k < d->K; k++) {
            if (!(cb[k] >= 0 && cb[k] < (double)d->n_cond) || cb[k] != floor(cb[k]))
                rc = kpf_error_set(err, KPF_EIO, "%s: /cond[%zu] = %g is not a condition 0…%zu",
                                   path, k, cb[k], d->n_cond - 1);
            else
                d->cond[k] = (int)cb[k];
        }
    }
    for (size_t i = 0; !rc && i < d->N * d->T * d->K; i++)
        if (!isfinite(d->Y[i]))
            rc = kpf_error_set(err, KPF_EIO, "%s: /Y has a non-finite entry (index %zu)", path,
                               i);
    H5Fclose(f);
    free(cb);
    if (rc) {
        kpf_ltr_data_free(d);
        return rc;
    }
    *out = d;
    return KPF_OK;
}

int kpf_ltr_data_write(const char *path, const kpf_ltr_data *d, kpf_error *err)
{
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create(path, &h, err);
    if (rc)
        return rc;
    size_t dy[3] = {d->N, d->T, d->K};
    rc = kpf_h5_write(h, "/Y", 3, dy, d->Y, err);
    if (!rc && d->n_in) {
        size_t du[3] = {d->n_cond, d->T, d->n_in}, dc[1] = {d->K};
        double *cb = malloc(d->K * sizeof(double));
        if (!cb)
            rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
        for (size_t k = 0; !rc && k < d->K; k++)
            cb[k] = d->cond ? d->cond[k] : 0;
        if (!rc)
            rc = kpf_h5_write(h, "/U", 3, du, d->U, err);
        if (!rc)
            rc = kpf_h5_write(h, "/cond", 1, dc, cb, err);
        free(cb);
    }
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- masks ---------------------------------------------------------------- */

void kpf_ltr_cv_opts_default(kpf_ltr_cv_opts *o)
{
    o->block_t = 10;
    o->block_k = 20;
    o->inner_t = 5;
    o->inner_k = 10;
    o->frac = 0.2;
    o->seed = 0;
}

int kpf_ltr_cv_masks(size_t N, size_t T, size_t K, const kpf_ltr_cv_opts *o, double *train,
                     double *test, kpf_error *err)
{
    if (!o->block_t || !o->block_k || o->inner_t > o->block_t || o->inner_k > o->block_k ||
        !(o->frac >= 0 && o->frac <= 1))
        return kpf_error_set(err, KPF_EINVAL,
                             "cv masks: need blocks ≥ 1, interiors within blocks and a "
                             "fraction in [0, 1]");
    const size_t nbt = (T + o->block_t - 1) / o->block_t, nbk = (K + o->block_k - 1) / o->block_k;
    const size_t nb = nbt * nbk, hold = (size_t)lround(o->frac * (double)nb);
    size_t *idx = malloc(nb * sizeof(size_t));
    gsl_rng *rng = NULL;
    int rc = idx ? kpf_rng_alloc(o->seed, KPF_RNG_DATA, &rng, err)
                 : kpf_error_set(err, KPF_ENOMEM, "cv masks: out of memory");
    if (rc) {
        free(idx);
        return rc;
    }
    for (size_t i = 0; i < N * T * K; i++) {
        train[i] = 1.0;
        test[i] = 0.0;
    }
    const size_t ot = (o->block_t - o->inner_t) / 2, ok = (o->block_k - o->inner_k) / 2;
    for (size_t i = 0; i < N; i++) {
        for (size_t b = 0; b < nb; b++)
            idx[b] = b;
        gsl_ran_shuffle(rng, idx, nb, sizeof(size_t));
        for (size_t h = 0; h < hold; h++) {
            size_t bt = idx[h] / nbk, bk = idx[h] % nbk;
            size_t t0 = bt * o->block_t, k0 = bk * o->block_k;
            for (size_t t = t0; t < t0 + o->block_t && t < T; t++)
                for (size_t k = k0; k < k0 + o->block_k && k < K; k++) {
                    size_t e = (i * T + t) * K + k;
                    train[e] = 0.0;
                    if (t >= t0 + ot && t < t0 + ot + o->inner_t && k >= k0 + ok &&
                        k < k0 + ok + o->inner_k)
                        test[e] = 1.0;
                }
        }
    }
    gsl_rng_free(rng);
    free(idx);
    return KPF_OK;
}

/* ---- the problem ------------------------------------------------------------ */

struct kpf_ltr_problem {
    kpf_model *m;
    const kpf_ltr_data *d;
    const double *mask; /* [N][T][K] train mask or NULL */
    kpf_ltr_fit_opts o;
    size_t Tsim;
    kpf_traj *tr;
    double *y, *dy;     /* [T][K][N] readout and its error at the bins */
    double *errz;       /* [Tsim][K][n] ∇_z of the loss                */
    double *lambda;     /* [Tsim][K][n]                               */
    double *lambda0;    /* [K][n]                                     */
    double *pred;       /* [N][T][K]                                  */
    /* readout least squares */
    double *ls_phi, *ls_phi2, *ls_Wr; /* T·K × n                        */
    double *ls_G, *ls_Gall;           /* n × n                          */
    double *ls_H;                     /* N × n                          */
    double *ls_Yw;                    /* N × T·K                        */
    int sim_fresh;      /* tr was simulated at θ = theta_sim            */
    double *theta_sim;
};

void kpf_ltr_fit_opts_default(kpf_ltr_fit_opts *o)
{
    o->iterations = 2000;
    o->lr = 0.01;
    o->lr_final = 1.0;
    o->clip = 1.0;
    o->alpha = 0.0;
    o->loss = KPF_LTR_MSE;
    o->burn_in = 0;
    o->steps_per_bin = 1;
    o->restarts = 1;
    o->solve_readout = 1;
    o->seed = 0;
    o->theta_init = NULL;
    o->polish = 0;
}

void kpf_ltr_problem_free(kpf_ltr_problem *p)
{
    if (!p)
        return;
    kpf_traj_free(p->tr);
    free(p->y);
    free(p->dy);
    free(p->errz);
    free(p->lambda);
    free(p->lambda0);
    free(p->pred);
    free(p->ls_phi);
    free(p->ls_phi2);
    free(p->ls_Wr);
    free(p->ls_G);
    free(p->ls_Gall);
    free(p->ls_H);
    free(p->ls_Yw);
    free(p->theta_sim);
    free(p);
}

/* Step index of bin t (z[step] = state after step+1 steps). */
static size_t bin_step(const kpf_ltr_problem *p, size_t t)
{
    return p->o.burn_in + (t + 1) * p->o.steps_per_bin - 1;
}

/* The plugin's tape at the state of bin step s, z[s] = z_{s+1}: stage 0 of
 * step s+1 (none after the last step).  ltr's tape is [φ(x) | φ'(x)]; the
 * readout ops read it instead of recomputing tanh. */
static const double *bin_tape(const kpf_ltr_problem *p, size_t s)
{
    const kpf_traj *tr = p->tr;
    if (!tr->stage_tape || s + 1 >= tr->T)
        return NULL;
    return tr->stage_tape + (s + 1) * tr->B * tr->tape_width;
}

int kpf_ltr_problem_alloc(kpf_model *m, const kpf_ltr_data *d, const double *train_mask,
                          const kpf_ltr_fit_opts *o, kpf_ltr_problem **out, kpf_error *err)
{
    if (m->n_out != d->N || m->n_in != d->n_in || m->n_trials < d->K)
        return kpf_error_set(err, KPF_EINVAL,
                             "ltr fit: the model (n_out %zu, n_in %zu, trials %zu) does not fit "
                             "the data (N %zu, n_in %zu, K %zu)",
                             m->n_out, m->n_in, m->n_trials, d->N, d->n_in, d->K);
    if (o->steps_per_bin == 0)
        return kpf_error_set(err, KPF_EINVAL, "ltr fit: steps_per_bin must be ≥ 1");
    kpf_ltr_problem *p = calloc(1, sizeof *p);
    if (!p)
        return kpf_error_set(err, KPF_ENOMEM, "ltr fit: out of memory");
    p->m = m, p->d = d, p->mask = train_mask, p->o = *o;
    p->Tsim = o->burn_in + d->T * o->steps_per_bin;
    const size_t K = d->K, n = m->n, N = d->N, Ts = p->Tsim;
    int rc = kpf_traj_alloc(m, K, Ts, &p->tr, err);
    if (!rc) {
        p->y = malloc(d->T * K * N * sizeof(double));
        p->dy = malloc(d->T * K * N * sizeof(double));
        p->errz = malloc(Ts * K * n * sizeof(double));
        p->lambda = malloc(Ts * K * n * sizeof(double));
        p->lambda0 = malloc(K * n * sizeof(double));
        p->pred = malloc(N * d->T * K * sizeof(double));
        p->ls_phi = malloc(d->T * K * n * sizeof(double));
        p->ls_phi2 = malloc(d->T * K * n * sizeof(double));
        p->ls_Wr = malloc(d->T * K * n * sizeof(double));
        p->ls_G = malloc(n * n * sizeof(double));
        p->ls_Gall = malloc(n * n * sizeof(double));
        p->ls_H = malloc(N * n * sizeof(double));
        p->ls_Yw = malloc(N * d->T * K * sizeof(double));
        p->theta_sim = malloc(m->m * sizeof(double));
        if (!p->y || !p->dy || !p->errz || !p->lambda || !p->lambda0 || !p->pred ||
            !p->ls_phi || !p->ls_phi2 || !p->ls_Wr || !p->ls_G || !p->ls_Gall || !p->ls_H ||
            !p->ls_Yw || !p->theta_sim)
            rc = kpf_error_set(err, KPF_ENOMEM, "ltr fit: out of memory (%zu trials × %zu steps)",
                               K, Ts);
    }
    if (!rc)
        rc = kpf_model_reserve(m, K * Ts, err);
    if (rc) {
        kpf_ltr_problem_free(p);
        return rc;
    }
    /* inputs: the condition's input during its bin, zero in the burn-in */
    for (size_t s = 0; s < Ts && d->n_in; s++)
        for (size_t k = 0; k < K; k++) {
            double *x = p->tr->x + (s * K + k) * d->n_in;
            if (s < o->burn_in) {
                memset(x, 0, d->n_in * sizeof(double));
                continue;
            }
            size_t t = (s - o->burn_in) / o->steps_per_bin;
            size_t c = d->cond ? (size_t)d->cond[k] : 0;
            memcpy(x, d->U + (c * d->T + t) * d->n_in, d->n_in * sizeof(double));
        }
    for (size_t k = 0; k < K; k++)
        p->tr->trial[k] = k;
    *out = p;
    return KPF_OK;
}

const double *kpf_ltr_problem_pred(const kpf_ltr_problem *p) { return p->pred; }

const double *kpf_ltr_problem_state(const kpf_ltr_problem *p, size_t t)
{
    return t < p->d->T ? p->tr->z + bin_step(p, t) * p->d->K * p->m->n : NULL;
}

int kpf_ltr_problem_solve_readout(kpf_ltr_problem *p, int act, double ridge, kpf_error *err)
{
    kpf_model *m = p->m;
    const kpf_param_block *Mb = kpf_model_block(m, "M");
    if (!Mb || Mb->rows != p->d->N || Mb->cols != m->n)
        return kpf_error_set(err, KPF_EINVAL, "ltr fit: the model has no readout block M (N×n)");
    int rc = kpf_simulate(m, p->tr, err);
    if (rc)
        return rc;
    const size_t K = p->d->K, T = p->d->T, N = p->d->N, n = m->n, rows = T * K;
    double *Phi = p->ls_phi, *G = p->ls_G, *Gall = p->ls_Gall, *Wr = p->ls_Wr;
    double *H = p->ls_H, *Yw = p->ls_Yw;
    const size_t tw = p->tr->tape_width;
    for (size_t t = 0; t < T; t++) {
        const double *z = p->tr->z + bin_step(p, t) * K * n;
        const double *tp = tw == 2 * n ? bin_tape(p, bin_step(p, t)) : NULL;
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < n; j++)
                Phi[(t * K + k) * n + j] =
                    tp ? tp[k * tw + j] : kpf_activation_phi(act, z[k * n + j]);
    }
    /* H (N×n) = Yw Φ with Yw[i][r] = w y;  Gall = ΦᵀΦ */
    for (size_t i = 0; i < N; i++)
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < K; k++) {
                size_t e = (i * T + t) * K + k;
                Yw[i * rows + t * K + k] = (p->mask ? p->mask[e] : 1.0) * p->d->Y[e];
            }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)n, (int)rows, 1.0, Yw,
                (int)rows, Phi, (int)n, 0.0, H, (int)n);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)rows, 1.0, Phi,
                (int)n, Phi, (int)n, 0.0, Gall, (int)n);
    double *M = m->theta + Mb->offset;
    gsl_matrix_view Gv = gsl_matrix_view_array(G, n, n);
    for (size_t i = 0; i < N && !rc; i++) {
        /* G = Φᵀ diag(w) Φ = Gall − Σ_{w ≠ 1} (1 − w) φ φᵀ over the rows this
         * neuron does not score fully */
        memcpy(G, Gall, n * n * sizeof(double));
        size_t nr = 0;
        for (size_t r = 0; p->mask && r < rows; r++) {
            size_t t = r / K, k = r % K;
            double w = p->mask[(i * T + t) * K + k];
            if (w == 1.0)
                continue;
            double sq = sqrt(fabs(1.0 - w)), sg = w < 1.0 ? 1.0 : -1.0;
            for (size_t j = 0; j < n; j++) {
                Wr[nr * n + j] = sg * sq * Phi[r * n + j];
                p->ls_phi2[nr * n + j] = sq * Phi[r * n + j];
            }
            nr++;
        }
        if (nr)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)nr, -1.0,
                        Wr, (int)n, p->ls_phi2, (int)n, 1.0, G, (int)n);
        double tr = 0;
        for (size_t j = 0; j < n; j++)
            tr += G[j * n + j];
        double lam = ridge * (tr > 0 ? tr / (double)n : 1.0) + 1e-300;
        for (size_t j = 0; j < n; j++)
            G[j * n + j] += lam;
        double *Mi = M + i * n;
        memcpy(Mi, H + i * n, n * sizeof(double));
        gsl_vector_view mv = gsl_vector_view_array(Mi, n);
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        int st = gsl_linalg_cholesky_decomp1(&Gv.matrix);
        if (!st)
            st = gsl_linalg_cholesky_svx(&Gv.matrix, &mv.vector);
        gsl_set_error_handler(old);
        if (st)
            rc = kpf_error_set(err, KPF_ENUMERIC,
                               "ltr fit: readout least squares failed for neuron %zu", i);
    }
    if (!rc)
        rc = kpf_model_theta_changed(m, err);
    /* M does not enter the dynamics: the trajectory stands for this θ */
    p->sim_fresh = !rc;
    if (!rc)
        memcpy(p->theta_sim, m->theta, m->m * sizeof(double));
    return rc;
}

static inline double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static inline double sigmoid(double x)
{
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

int kpf_ltr_problem_loss(kpf_ltr_problem *p, double *loss, double *grad, kpf_error *err)
{
    kpf_model *m = p->m;
    kpf_traj *tr = p->tr;
    const kpf_ltr_data *d = p->d;
    const size_t K = d->K, N = d->N, T = d->T, n = m->n, Ts = p->Tsim;
    int fresh = p->sim_fresh && memcmp(p->theta_sim, m->theta, m->m * sizeof(double)) == 0;
    int rc = fresh ? KPF_OK : kpf_simulate(m, tr, err);
    p->sim_fresh = 0;
    if (rc)
        return rc;
    /* readout at every bin: K rows each */
    for (size_t t = 0; t < T; t++) {
        size_t s = bin_step(p, t);
        kpf_rows rows = {.R = K, .z = tr->z + s * K * n, .x = NULL,
                         .trial = tr->row_trial + s * K, .t = tr->t + s * K,
                         .tape = bin_tape(p, s)};
        if ((rc = kpf_readout(m, &rows, p->y + t * K * N, err)))
            return rc;
    }
    double wsum = 0;
    for (size_t i = 0; i < N * T * K; i++)
        wsum += p->mask ? p->mask[i] : 1.0;
    if (!(wsum > 0))
        return kpf_error_set(err, KPF_EINVAL, "ltr fit: the train mask scores no entry");
    double L = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++)
            for (size_t i = 0; i < N; i++) {
                size_t e = (i * T + t) * K + k, r = (t * K + k) * N + i;
                double yh = p->y[r], y = d->Y[e], w = p->mask ? p->mask[e] : 1.0;
                p->pred[e] = yh;
                if (p->o.loss == KPF_LTR_POISSON) {
                    double lam = softplus(yh) + 1e-12;
                    L += w * (lam - y * log(lam));
                    p->dy[r] = w * (1.0 - y / lam) * sigmoid(yh) / wsum;
                } else {
                    L += w * (yh - y) * (yh - y);
                    p->dy[r] = 2.0 * w * (yh - y) / wsum;
                }
            }
    L /= wsum;
    const double pen = p->o.alpha / (double)(Ts * K * n);
    if (pen > 0)
        L += pen * cblas_ddot((int)(Ts * K * n), tr->z, 1, tr->z, 1);
    *loss = L;
    if (!isfinite(L))
        return kpf_error_set(err, KPF_ENUMERIC, "ltr fit: the loss is not finite");
    if (!grad)
        return KPF_OK;
    /* ∇_z of the loss at every step, then the adjoint sweep */
    for (size_t i = 0; i < Ts * K * n; i++)
        p->errz[i] = 2.0 * pen * tr->z[i];
    memset(grad, 0, m->m * sizeof(double));
    for (size_t t = 0; t < T; t++) {
        size_t s = bin_step(p, t);
        kpf_rows rows = {.R = K, .z = tr->z + s * K * n, .x = NULL,
                         .trial = tr->row_trial + s * K, .t = tr->t + s * K,
                         .tape = bin_tape(p, s)};
        double *ez = p->lambda; /* scratch, overwritten by the sweep below */
        if ((rc = kpf_readout_jzT(m, &rows, p->dy + t * K * N, ez, err)))
            return rc;
        cblas_daxpy((int)(K * n), 1.0, ez, 1, p->errz + s * K * n, 1);
        if ((rc = kpf_readout_jthT(m, &rows, p->dy + t * K * N, grad, err)))
            return rc;
    }
    if ((rc = kpf_propagate_adjoint(m, tr, p->errz, p->lambda, p->lambda0, err)))
        return rc;
    if ((rc = kpf_propagate_jthT(m, tr, p->lambda, grad, err)))
        return rc;
    return kpf_init_state_jthT(m, K, tr->trial, p->lambda0, grad, err);
}

double kpf_ltr_uv(size_t N, size_t T, size_t K, const double *Y, const double *pred,
                  const double *mask)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < N; i++) {
        double sw = 0, sy = 0;
        for (size_t e = i * T * K; e < (i + 1) * T * K; e++) {
            double w = mask ? mask[e] : 1.0;
            sw += w;
            sy += w * Y[e];
        }
        if (!(sw > 0))
            continue;
        double mean = sy / sw;
        for (size_t e = i * T * K; e < (i + 1) * T * K; e++) {
            double w = mask ? mask[e] : 1.0;
            num += w * (pred[e] - Y[e]) * (pred[e] - Y[e]);
            den += w * (Y[e] - mean) * (Y[e] - mean);
        }
    }
    return den > 0 ? num / den : NAN;
}

/* ---- fits ----------------------------------------------------------------------- */

void kpf_ltr_fit_result_free(kpf_ltr_fit_result *r)
{
    if (!r)
        return;
    free(r->theta);
    free(r->restart_loss);
    free(r->restart_test_uv);
    free(r->restart_theta);
    memset(r, 0, sizeof *r);
}

/* ---- BFGS polish ------------------------------------------------------------- */

/* Adam's steps are about lr in size whatever the gradient, so it hovers
 * around a minimum instead of converging (docs/ltr.md "Which components
 * are recovered"); a quasi-Newton polish converges.  It moves all of θ,
 * M included: the readout's least squares is ill-conditioned (φ(x) lies
 * near the R-dimensional span of a), so the reduced gradient with M
 * re-solved at every point is not accurate enough for a line search. */
typedef struct polish_ctx {
    kpf_model *m;
    kpf_ltr_problem *p;
    double *g;
    int rc;
    kpf_error *err;
} polish_ctx;

static void polish_fdf(const gsl_vector *x, void *vc, double *f, gsl_vector *gv)
{
    polish_ctx *c = vc;
    double L = GSL_POSINF;
    const size_t nx = c->m->m;
    if (!c->rc) {
        for (size_t i = 0; i < nx; i++)
            c->m->theta[i] = gsl_vector_get(x, i);
        c->rc = kpf_model_theta_changed(c->m, c->err);
        if (!c->rc)
            c->rc = kpf_ltr_problem_loss(c->p, &L, gv ? c->g : NULL, c->err);
        if (c->rc == KPF_ENUMERIC) { /* a trial step too far: reject it */
            c->rc = KPF_OK;
            L = GSL_POSINF;
        }
    }
    if (f)
        *f = c->rc ? GSL_POSINF : L;
    for (size_t i = 0; gv && i < nx; i++)
        gsl_vector_set(gv, i, c->rc || !isfinite(L) ? 0.0 : c->g[i]);
}

static double polish_f(const gsl_vector *x, void *c)
{
    double f;
    polish_fdf(x, c, &f, NULL);
    return f;
}

static void polish_df(const gsl_vector *x, void *c, gsl_vector *g)
{
    double f;
    polish_fdf(x, c, &f, g);
}

static int polish(kpf_model *m, kpf_ltr_problem *p, size_t iters, double *g, kpf_error *err)
{
    const size_t nx = m->m;
    polish_ctx c = {m, p, g, KPF_OK, err};
    gsl_multimin_function_fdf F = {polish_f, polish_df, polish_fdf, nx, &c};
    gsl_multimin_fdfminimizer *s =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, nx);
    gsl_vector *x = gsl_vector_alloc(nx);
    if (!s || !x) {
        gsl_multimin_fdfminimizer_free(s);
        gsl_vector_free(x);
        return kpf_error_set(err, KPF_ENOMEM, "ltr polish: out of memory");
    }
    for (size_t i = 0; i < nx; i++)
        gsl_vector_set(x, i, m->theta[i]);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int st = gsl_multimin_fdfminimizer_set(s, &F, x, 1e-3, 0.1);
    size_t stuck = 0;
    for (size_t it = 0; !st && !c.rc && it < iters; it++) {
        st = gsl_multimin_fdfminimizer_iterate(s);
        /* a failed line search: drop the curvature estimate and go on from
         * the best point, up to 5 times in a row */
        if (st == GSL_ENOPROG && ++stuck <= 5)
            st = gsl_multimin_fdfminimizer_restart(s);
        else if (!st)
            stuck = 0;
        if (!st && gsl_multimin_test_gradient(s->gradient, 1e-12) == GSL_SUCCESS)
            break;
    }
    gsl_set_error_handler(old);
    /* the best point found (BFGS never accepts a rise) */
    for (size_t i = 0; i < nx; i++)
        m->theta[i] = gsl_vector_get(s->x, i);
    gsl_multimin_fdfminimizer_free(s);
    gsl_vector_free(x);
    int rc = c.rc ? c.rc : kpf_model_theta_changed(m, err);
    return rc ? kpf_error_prefix(err, rc, "ltr polish: ") : KPF_OK;
}

/* One restart: returns the final train loss and fills pred/θ.  theta0
 * (may be NULL) replaces the seed's initial draw. */
static int fit_once(const kpf_plugin *ltr, const kpf_ltr_spec *spec, const kpf_ltr_data *d,
                    const double *train_mask, const kpf_ltr_fit_opts *o, uint64_t seed,
                    const double *theta0, double *loss_out, double **theta_out, size_t *m_out,
                    double *pred, kpf_error *err)
{
    kpf_model *m = NULL;
    kpf_ltr_problem *p = NULL;
    kpf_optim *opt = NULL;
    double *g = NULL;
    int rc = kpf_ltr_model_create(ltr, spec, d->n_in, d->N, seed, &m, err);
    if (!rc && theta0) {
        memcpy(m->theta, theta0, m->m * sizeof(double));
        rc = kpf_model_theta_changed(m, err);
    }
    if (!rc)
        rc = kpf_ltr_problem_alloc(m, d, train_mask, o, &p, err);
    if (!rc)
        rc = kpf_optim_alloc(KPF_OPTIM_ADAM, m->m, o->lr, &opt, err);
    if (!rc && !(g = malloc(m->m * sizeof(double))))
        rc = kpf_error_set(err, KPF_ENOMEM, "ltr fit: out of memory");
    const int vp = o->solve_readout && o->loss == KPF_LTR_MSE;
    if (!rc) {
        opt->clip = o->clip;
        if (vp) {
            const kpf_param_block *Mb = kpf_model_block(m, "M");
            kpf_optim_set_trainable(opt, Mb->offset, Mb->rows * Mb->cols, 0);
        }
    }
    double L = NAN;
    for (size_t it = 0; !rc && it < o->iterations; it++) {
        if (vp)
            rc = kpf_ltr_problem_solve_readout(p, spec->act, 1e-6, err);
        if (!rc)
            rc = kpf_ltr_problem_loss(p, &L, g, err);
        opt->lr = o->lr * pow(o->lr_final > 0 ? o->lr_final : 1.0,
                              (double)it / (double)o->iterations);
        if (!rc)
            rc = kpf_optim_step(opt, m->theta, g, err);
        if (!rc)
            rc = kpf_model_theta_changed(m, err);
        if (rc)
            kpf_error_prefix(err, rc, "ltr fit (seed %llu, iteration %zu): ",
                             (unsigned long long)seed, it);
    }
    if (!rc && o->polish)
        rc = polish(m, p, o->polish, g, err);
    if (!rc && vp)
        rc = kpf_ltr_problem_solve_readout(p, spec->act, 1e-6, err);
    if (!rc)
        rc = kpf_ltr_problem_loss(p, &L, NULL, err);
    if (!rc) {
        *loss_out = L;
        memcpy(pred, p->pred, d->N * d->T * d->K * sizeof(double));
        *m_out = m->m;
        *theta_out = malloc(m->m * sizeof(double));
        if (!*theta_out)
            rc = kpf_error_set(err, KPF_ENOMEM, "ltr fit: out of memory");
        else
            memcpy(*theta_out, m->theta, m->m * sizeof(double));
    }
    free(g);
    kpf_optim_free(opt);
    kpf_ltr_problem_free(p);
    kpf_model_free(m);
    return rc;
}

int kpf_ltr_fit(const kpf_plugin *ltr, const kpf_ltr_spec *spec, const kpf_ltr_data *d,
                const double *train_mask, const double *test_mask,
                const kpf_ltr_fit_opts *o, kpf_ltr_fit_result *res, kpf_error *err)
{
    memset(res, 0, sizeof *res);
    kpf_ltr_spec s = *spec;
    s.K = d->K;
    const size_t NE = d->N * d->T * d->K;
    double *pred = malloc(NE * sizeof(double)), *best = malloc(NE * sizeof(double));
    if (!pred || !best) {
        free(pred);
        free(best);
        return kpf_error_set(err, KPF_ENOMEM, "ltr fit: out of memory");
    }
    int rc = KPF_OK;
    double best_loss = INFINITY;
    size_t restarts = o->restarts ? o->restarts : 1;
    res->restarts = restarts;
    res->restart_loss = malloc(restarts * sizeof(double));
    res->restart_test_uv = malloc(restarts * sizeof(double));
    if (!res->restart_loss || !res->restart_test_uv)
        rc = kpf_error_set(err, KPF_ENOMEM, "ltr fit: out of memory");
    for (size_t r = 0; !rc && r < restarts; r++)
        res->restart_loss[r] = res->restart_test_uv[r] = NAN;
    for (size_t r = 0; !rc && r < restarts; r++) {
        double L = INFINITY, *th = NULL;
        size_t mm = 0;
        kpf_error e2;
        kpf_error_clear(&e2);
        int rc1 = fit_once(ltr, &s, d, train_mask, o, o->seed + r, r ? NULL : o->theta_init,
                           &L, &th, &mm, pred, &e2);
        if (rc1 == KPF_ENUMERIC) { /* a diverged restart is skipped */
            free(th);
            continue;
        }
        if (rc1) {
            if (err)
                *err = e2;
            rc = rc1;
            break;
        }
        if (!res->restart_theta && !(res->restart_theta = calloc(restarts * mm, sizeof(double))))
            rc = kpf_error_set(err, KPF_ENOMEM, "ltr fit: out of memory");
        if (rc) {
            free(th);
            break;
        }
        memcpy(res->restart_theta + r * mm, th, mm * sizeof(double));
        res->restart_loss[r] = L;
        res->restart_test_uv[r] =
            test_mask ? kpf_ltr_uv(d->N, d->T, d->K, d->Y, pred, test_mask) : NAN;
        if (L < best_loss) {
            best_loss = L;
            free(res->theta);
            res->theta = th;
            res->m = mm;
            res->seed = o->seed + r;
            memcpy(best, pred, NE * sizeof(double));
        } else
            free(th);
    }
    if (!rc && !res->theta)
        rc = kpf_error_set(err, KPF_ENUMERIC, "ltr fit: every restart diverged");
    if (!rc) {
        res->train_loss = best_loss;
        res->train_uv = kpf_ltr_uv(d->N, d->T, d->K, d->Y, best, train_mask);
        res->test_uv = test_mask ? kpf_ltr_uv(d->N, d->T, d->K, d->Y, best, test_mask) : NAN;
    } else
        kpf_ltr_fit_result_free(res);
    free(pred);
    free(best);
    return rc;
}

size_t kpf_ltr_plateau(const double *uv, size_t R_max, double rel_tol, double abs_tol)
{
    double mn = INFINITY;
    for (size_t r = 0; r < R_max; r++)
        if (uv[r] < mn)
            mn = uv[r];
    for (size_t r = 0; r < R_max; r++)
        if (uv[r] <= (1 + rel_tol) * mn + abs_tol)
            return r + 1;
    return R_max;
}

int kpf_ltr_rank_sweep(const kpf_plugin *ltr, const kpf_ltr_spec *spec,
                       const kpf_ltr_data *d, const double *train_mask,
                       const double *test_mask, const kpf_ltr_fit_opts *o, size_t R_max,
                       double rel_tol, double abs_tol, double *uv, double *train_uv,
                       size_t *chosen, kpf_error *err)
{
    if (R_max == 0 || !test_mask)
        return kpf_error_set(err, KPF_EINVAL, "rank sweep: need R_max ≥ 1 and a test mask");
    double *u = malloc(R_max * sizeof(double));
    if (!u)
        return kpf_error_set(err, KPF_ENOMEM, "rank sweep: out of memory");
    int rc = KPF_OK;
    for (size_t R = 1; !rc && R <= R_max; R++) {
        kpf_ltr_spec s = *spec;
        s.rank = R;
        kpf_ltr_fit_result fr;
        rc = kpf_ltr_fit(ltr, &s, d, train_mask, test_mask, o, &fr, err);
        if (rc) {
            kpf_error_prefix(err, rc, "rank %zu: ", R);
            break;
        }
        u[R - 1] = fr.test_uv;
        if (uv)
            uv[R - 1] = fr.test_uv;
        if (train_uv)
            train_uv[R - 1] = fr.train_uv;
        kpf_ltr_fit_result_free(&fr);
    }
    if (!rc && chosen)
        *chosen = kpf_ltr_plateau(u, R_max, rel_tol, abs_tol);
    free(u);
    return rc;
}

/* ---- teacher ----------------------------------------------------------------- */

void kpf_ltr_teacher_opts_default(kpf_ltr_teacher_opts *t)
{
    t->noise = 0.02;
    t->c_offset = 0.0;
    t->orthonormal = 1;
    t->seed = 0;
}

int kpf_ltr_teacher(const kpf_plugin *ltr, const kpf_ltr_spec *spec, kpf_ltr_data *d,
                    const kpf_ltr_fit_opts *o, const kpf_ltr_teacher_opts *t, double **theta,
                    size_t *m_out, kpf_error *err)
{
    kpf_ltr_teacher_opts td;
    if (!t) {
        kpf_ltr_teacher_opts_default(&td);
        t = &td;
    }
    kpf_ltr_spec s = *spec;
    s.K = d->K;
    s.smooth = 1;
    const size_t n = s.n, rk = s.rank, K = s.K;
    kpf_model *m = NULL;
    kpf_ltr_problem *p = NULL;
    gsl_rng *rng = NULL;
    double *L = NULL, *one = NULL;
    int rc = kpf_ltr_model_create(ltr, &s, d->n_in, d->N, t->seed, &m, err);
    const kpf_param_block *ba = rc ? NULL : kpf_model_block(m, "a");
    const kpf_param_block *bb = rc ? NULL : kpf_model_block(m, "b");
    const kpf_param_block *bc = rc ? NULL : kpf_model_block(m, "cbar");
    if (!rc && (!ba || !bb || !bc))
        rc = kpf_error_set(err, KPF_EPLUGIN, "ltr teacher: the model has no blocks a, b, cbar");
    if (!rc && t->orthonormal) { /* a = b, orthonormal rows */
        double *a = m->theta + ba->offset, *b = m->theta + bb->offset;
        for (size_t r = 0; r < rk; r++) {
            for (size_t q = 0; q < r; q++) {
                double dd = cblas_ddot((int)n, a + q * n, 1, a + r * n, 1);
                cblas_daxpy((int)n, -dd, a + q * n, 1, a + r * n, 1);
            }
            double nr = cblas_dnrm2((int)n, a + r * n, 1);
            if (!(nr > 1e-12)) {
                rc = kpf_error_set(err, KPF_EINVAL, "ltr teacher: rank %zu > n = %zu", rk, n);
                break;
            }
            cblas_dscal((int)n, 1.0 / nr, a + r * n, 1);
        }
        memcpy(b, a, rk * n * sizeof(double));
    }
    if (!rc && t->c_offset != 0.0) { /* c̄_r += L⁻¹ (offset·1) */
        L = malloc(K * K * sizeof(double));
        one = malloc(K * sizeof(double));
        if (!L || !one)
            rc = kpf_error_set(err, KPF_ENOMEM, "ltr teacher: out of memory");
        if (!rc)
            rc = kpf_ltr_kernel_chol(K, s.length, s.scale, s.jitter, L, err);
        if (!rc) {
            for (size_t k = 0; k < K; k++)
                one[k] = t->c_offset;
            cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)K, L,
                        (int)K, one, 1);
            for (size_t r = 0; r < rk; r++)
                cblas_daxpy((int)K, 1.0, one, 1, m->theta + bc->offset + r * K, 1);
        }
    }
    if (!rc)
        rc = kpf_model_theta_changed(m, err);
    if (!rc)
        rc = kpf_ltr_problem_alloc(m, d, NULL, o, &p, err);
    double Lv;
    if (!rc)
        rc = kpf_ltr_problem_loss(p, &Lv, NULL, err);
    if (!rc)
        rc = kpf_rng_alloc(t->seed, KPF_RNG_DATA, &rng, err);
    if (!rc) {
        const size_t NE = d->N * d->T * d->K;
        for (size_t i = 0; i < NE; i++)
            d->Y[i] = p->pred[i] + (t->noise > 0 ? gsl_ran_gaussian(rng, t->noise) : 0.0);
        if (theta) {
            *theta = malloc(m->m * sizeof(double));
            if (!*theta)
                rc = kpf_error_set(err, KPF_ENOMEM, "ltr teacher: out of memory");
            else {
                memcpy(*theta, m->theta, m->m * sizeof(double));
                if (m_out)
                    *m_out = m->m;
            }
        }
    }
    if (rng)
        gsl_rng_free(rng);
    free(L);
    free(one);
    kpf_ltr_problem_free(p);
    kpf_model_free(m);
    return rc;
}
