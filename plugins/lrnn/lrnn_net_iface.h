/* lrnn_net_iface.h — the "kpf.lrnn.net/1" extension of the lrnn plugin:
 * the matrices of the linear RNN a θ describes, in either parameterisation,
 * so that no caller decodes θ or rebuilds the plugin's bases. */
#ifndef KPF_LRNN_NET_IFACE_H
#define KPF_LRNN_NET_IFACE_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"

#define KPF_LRNN_NET_INTERFACE "kpf.lrnn.net/1"

/* kpf_model_extension(m, KPF_LRNN_NET_INTERFACE) of an lrnn model; the
 * table is the plugin's, valid until the model is freed. */
typedef struct kpf_lrnn_net_iface {
    size_t n_in, n, n_out;
    int parameterisation; /* enum kpf_lrnn_parameterisation (lrnn_config.h) */
    uint64_t basis_seed;  /* the seed of U_y, V_x the model was built with */
    /* W_x (n×n_in), W_h (n×n), W_y (n_out×n), row-major, of the network at
     * theta (the model's θ, m->theta): full copies its blocks; modes expands
     * W_x = diag(a) V_dᵀ, W_h = diag(b), W_y = U_d diag(c).  self is the
     * instance the table came from (kpf_model.self).  Never fails for valid
     * pointers; returns KPF_EINVAL for NULL ones. */
    int (*weights)(const void *self, const double *theta, double *Wx, double *Wh, double *Wy,
                   kpf_error *err);
} kpf_lrnn_net_iface;

#endif
