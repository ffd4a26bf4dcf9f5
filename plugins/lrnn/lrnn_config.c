/* The lrnn plugin's settings (lrnn_config.h): defaults, the YAML reader and
 * the checks both ways of configuring share.  Compiled into the plugin and
 * into its study. */
#include "lrnn_config.h"

#include <math.h>
#include <stdio.h>

static const char *const param_names[] = {"full", "modes", NULL};
static const char *const align_names[] = {"unaligned", "aligned", NULL};
static const char *const basis_names[] = {"svd", "eigen", NULL};

static size_t dmax_of(size_t n_in, size_t n_out) { return n_in < n_out ? n_in : n_out; }

void kpf_lrnn_config_default(int parameterisation, size_t n_in, size_t n_out,
                             kpf_lrnn_config *c)
{
    const int modes = parameterisation == KPF_LRNN_MODES;
    *c = (kpf_lrnn_config){
        .parameterisation = modes ? KPF_LRNN_MODES : KPF_LRNN_FULL,
        .n = modes ? dmax_of(n_in, n_out) : (n_in > n_out ? n_in : n_out),
        .alignment = modes ? KPF_LRNN_ALIGNED : KPF_LRNN_UNALIGNED,
        .basis = KPF_LRNN_SVD,
        .sigma = 0.1,
        .a0 = 0.1,
        .b0 = 0.1,
        .c0 = 0.1,
        .b0_phase = 0.0,
        .mode_noise = 1e-3,
        .basis_seed = 0,
    };
}

int kpf_lrnn_config_read(const kpf_node *node, size_t n_in, size_t n_out, kpf_lrnn_config *c,
                         kpf_error *err)
{
    int param, rc;
    if ((rc = kpf_cfg_choice(node, "parameterisation", 0, param_names, KPF_LRNN_FULL, &param,
                             err)))
        return rc;
    kpf_lrnn_config_default(param, n_in, n_out, c);
    const size_t hi = param == KPF_LRNN_MODES ? dmax_of(n_in, n_out) : 100000;
    double mi;
    if ((rc = kpf_cfg_size(node, "n", 0, c->n, 1, hi, &c->n, err)) ||
        (rc = kpf_cfg_choice(node, "alignment", 0, align_names, c->alignment, &c->alignment,
                             err)) ||
        (rc = kpf_cfg_choice(node, "basis", 0, basis_names, c->basis, &c->basis, err)) ||
        (rc = kpf_cfg_double(node, "sigma", 0, c->sigma, 0.0, 1e6, &c->sigma, err)) ||
        (rc = kpf_cfg_double(node, "mode_init", 0, 0.1, -1e6, 1e6, &mi, err)) ||
        (rc = kpf_cfg_double(node, "a0", 0, mi, -1e6, 1e6, &c->a0, err)) ||
        (rc = kpf_cfg_double(node, "b0", 0, mi, -1e6, 1e6, &c->b0, err)) ||
        (rc = kpf_cfg_double(node, "c0", 0, mi, -1e6, 1e6, &c->c0, err)) ||
        (rc = kpf_cfg_double(node, "b0_phase", 0, 0.0, -1e3, 1e3, &c->b0_phase, err)) ||
        (rc = kpf_cfg_double(node, "mode_noise", 0, 1e-3, 0.0, 1e6, &c->mode_noise, err)) ||
        (rc = kpf_cfg_u64(node, "basis_seed", 0, 0, &c->basis_seed, err)))
        return rc;
    return kpf_lrnn_config_check(c, n_in, n_out, node, err);
}

/* Located at node's `key` (or at node when the key is absent) for YAML;
 * naming the struct field for a typed configuration. */
static int bad(const kpf_node *node, const char *key, kpf_error *err, const char *what)
{
    const kpf_node *v = node ? kpf_node_get(node, key) : NULL;
    if (v)
        return kpf_node_error(v, err, "%s", what);
    if (node)
        return kpf_node_error(node, err, "%s: %s", key, what);
    return kpf_error_set(err, KPF_EINVAL, "lrnn: %s: %s: %s", KPF_LRNN_CONFIG_FEATURE, key,
                         what);
}

static int in_range(double v, double lo, double hi) { return v >= lo && v <= hi; }

int kpf_lrnn_config_check(const kpf_lrnn_config *c, size_t n_in, size_t n_out,
                          const kpf_node *node, kpf_error *err)
{
    const int modes = c->parameterisation == KPF_LRNN_MODES;
    const size_t hi = modes ? dmax_of(n_in, n_out) : 100000;
    if (c->parameterisation != KPF_LRNN_FULL && !modes)
        return bad(node, "parameterisation", err, "expected full or modes");
    if (c->n < 1 || c->n > hi)
        return bad(node, "n", err, modes ? "the number of modes must be 1 … min(n_in, n_out)"
                                         : "the hidden size must be 1 … 100000");
    if (c->alignment != KPF_LRNN_UNALIGNED && c->alignment != KPF_LRNN_ALIGNED)
        return bad(node, "alignment", err, "expected unaligned or aligned");
    if (c->basis != KPF_LRNN_SVD && c->basis != KPF_LRNN_EIGEN)
        return bad(node, "basis", err, "expected svd or eigen");
    if (!in_range(c->sigma, 0.0, 1e6) || !in_range(c->a0, -1e6, 1e6) ||
        !in_range(c->b0, -1e6, 1e6) || !in_range(c->c0, -1e6, 1e6) ||
        !in_range(c->b0_phase, -1e3, 1e3) || !in_range(c->mode_noise, 0.0, 1e6))
        return bad(node, "sigma", err,
                   "sigma, mode_noise must be 0 … 1e6, a0, b0, c0 within ±1e6, b0_phase "
                   "within ±1e3");
    if (modes && c->alignment != KPF_LRNN_ALIGNED)
        return bad(node, "alignment", err,
                   "the modes parameterisation is aligned by construction");
    if (modes && c->basis != KPF_LRNN_SVD)
        return bad(node, "basis", err,
                   "modes are real singular modes (basis: svd); use parameterisation: full "
                   "with init: aligned, basis: eigen for complex modes");
    if (c->basis == KPF_LRNN_EIGEN && c->alignment == KPF_LRNN_ALIGNED &&
        (c->n != n_in || c->n != n_out || c->n % 2)) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "the eigen basis needs a square network with n = n_in = n_out even (got "
                 "n = %zu, n_in = %zu, n_out = %zu)",
                 c->n, n_in, n_out);
        return bad(node, "basis", err, msg);
    }
    return KPF_OK;
}
