/* Durations in time units → steps, for the Schuessler et al. tasks. */
#include "timing.h"

#include <math.h>

size_t kpf_internal_steps(double d, double dt)
{
    const double q = d / dt;
    if (!(q < (double)KPF_TASK_MAX_STEPS + 1.0))
        return KPF_TASK_MAX_STEPS + 1;
    const double r = nearbyint(q);
    if (fabs(q - r) <= 1e-9 * fmax(1.0, r))
        return (size_t)r;
    return (size_t)floor(q);
}

const kpf_node *kpf_internal_key_node(const kpf_node *node, const char *key)
{
    const kpf_node *v = kpf_node_get(node, key);
    return v ? v : node;
}

int kpf_internal_read_dt(const kpf_node *node, double dflt, double *dt, kpf_error *err)
{
    int rc = kpf_cfg_double(node, "dt", KPF_CFG_OPTIONAL, dflt, 0.0, HUGE_VAL, dt, err);
    if (rc)
        return rc;
    /* The getter's bounds are inclusive. */
    if (!(*dt > 0.0))
        return kpf_node_error(kpf_node_get(node, "dt"), err, "expected a number > 0 (got %g)",
                              *dt);
    return KPF_OK;
}

int kpf_internal_read_duration(const kpf_node *node, const char *key, double dflt,
                               double dt, size_t min_steps, double *d, size_t *steps,
                               kpf_error *err)
{
    double v;
    int rc = kpf_cfg_double(node, key, KPF_CFG_OPTIONAL, dflt, 0.0, HUGE_VAL, &v, err);
    if (rc)
        return rc;
    const size_t n = kpf_internal_steps(v, dt);
    const kpf_node *at = kpf_internal_key_node(node, key);
    if (n < min_steps)
        return kpf_node_error(at, err,
                              "%s = %g is %zu steps of dt = %g; at least %zu needed", key, v,
                              n, dt, min_steps);
    if (n > KPF_TASK_MAX_STEPS)
        return kpf_node_error(at, err, "%s = %g is more than %zu steps of dt = %g",
                              key, v, KPF_TASK_MAX_STEPS, dt);
    if (d)
        *d = v;
    *steps = n;
    return KPF_OK;
}
