/* The ltr parameterisation shared by plugins/ltr and the fitting code:
 * the rational-quadratic kernel's Cholesky factor, unit factors, trial
 * factors, W^{(k)}, and specs ↔ models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "kpf/blas.h"
#include "kpf/config.h"
#include "ltr_fit.h"

/* ---- specs --------------------------------------------------------------- */

static const char *const act_name[] = {"tanh", "softplus", "linear"};

void kpf_ltr_spec_default(kpf_ltr_spec *s)
{
    memset(s, 0, sizeof *s);
    s->n = 32;
    s->rank = 3;
    s->K = 1;
    s->tau = 1.0;
    s->dt = 0.1;
    s->act = KPF_LTR_TANH;
    s->smooth = 1;
    s->length = 15.0;
    s->scale = 1.0;
    s->jitter = 0.1;
    s->q_init = 1.0;
    s->c_init = 1.0;
}

int kpf_ltr_spec_yaml(const kpf_ltr_spec *s, char *buf, size_t cap, kpf_error *err)
{
    if (s->act < 0 || s->act > 2)
        return kpf_error_set(err, KPF_EINVAL, "ltr spec: bad activation %d", s->act);
    int k = snprintf(buf, cap,
                     "{plugin: ltr, n: %zu, rank: %zu, trials: %zu, tau: %.17g, dt: %.17g, "
                     "step: euler, activation: %s, trial_factors: %s, kernel_length: %.17g, "
                     "kernel_scale: %.17g, kernel_jitter: %.17g, q_init_std: %.17g, "
                     "c_init_std: %.17g, c_init_mean: %.17g}",
                     s->n, s->rank, s->K, s->tau, s->dt, act_name[s->act],
                     s->smooth ? "smooth" : "free", s->length, s->scale, s->jitter, s->q_init,
                     s->c_init, s->c_mean);
    if (k < 0 || (size_t)k >= cap)
        return kpf_error_set(err, KPF_EINVAL, "ltr spec: YAML buffer too small");
    return KPF_OK;
}

int kpf_ltr_model_create(const kpf_plugin *ltr, const kpf_ltr_spec *s, size_t n_in,
                         size_t n_out, uint64_t seed, kpf_model **out, kpf_error *err)
{
    char yaml[1024];
    int rc = kpf_ltr_spec_yaml(s, yaml, sizeof yaml, err);
    if (rc)
        return rc;
    kpf_config *cfg = NULL;
    if ((rc = kpf_config_load_string(yaml, "(ltr spec)", &cfg, err)))
        return rc;
    const kpf_node *node = kpf_config_root(cfg);
    kpf_node_mark_used(kpf_node_get(node, "plugin"));
    rc = kpf_model_create(ltr, node, n_in, n_out, s->K, seed, out, err);
    kpf_config_free(cfg);
    return rc;
}

int kpf_ltr_decode(const kpf_ltr_spec *s, const double *theta, double *a, double *b,
                   double *C, kpf_error *err)
{
    size_t n = s->n, rk = s->rank, K = s->K;
    double *norms = malloc((rk + 1) * sizeof(double));
    double *L = s->smooth ? malloc(K * K * sizeof(double)) : NULL;
    int rc = KPF_OK;
    if (!norms || (s->smooth && !L))
        rc = kpf_error_set(err, KPF_ENOMEM, "ltr decode: out of memory");
    if (!rc)
        rc = kpf_ltr_normalise(rk, n, theta, a, norms, err);
    if (!rc)
        rc = kpf_ltr_normalise(rk, n, theta + rk * n, b, norms, err);
    if (!rc && L)
        rc = kpf_ltr_kernel_chol(K, s->length, s->scale, s->jitter, L, err);
    if (!rc)
        kpf_ltr_trial_factors(rk, K, L, theta + 2 * rk * n, C);
    free(norms);
    free(L);
    return rc;
}
