/* kpf/activation.h — the element-wise activations φ that models and
 * analyses share, with one numbering and one name table.
 *
 * A model's YAML `activation:` key, the `kpf.activation/1` extension
 * (below; kpf_model_extension in kpf/instance.h) and the analyses that need φ (Pellegrino's Theorem 1)
 * all use enum kpf_activation, so a value means the same function
 * everywhere.  The names are the YAML spellings, in enum order.
 *
 * φ and φ′ are inline so that plugins can call them in their element loops;
 * each is written as the plugins computed it before the table was shared
 * (tanh through libm, softplus without overflow), so results are unchanged. */
#ifndef KPF_ACTIVATION_H
#define KPF_ACTIVATION_H

#include "kpf/export.h"

#include <math.h>

#include "kpf/config.h"
#include "kpf/error.h"

KPF_BEGIN_DECLS

/* Values are fixed: they are stored in typed configurations and extension
 * tables.  New activations are appended. */
enum kpf_activation {
    KPF_ACTIVATION_TANH = 0,     /* tanh z                                */
    KPF_ACTIVATION_RELU = 1,     /* max(z, 0); φ′(0) = 0                   */
    KPF_ACTIVATION_LINEAR = 2,   /* z                                      */
    KPF_ACTIVATION_SOFTPLUS = 3, /* log(1 + e^z)                           */
    KPF_ACTIVATION_COUNT = 4
};

/* "tanh", "relu", "linear", "softplus"; NULL for a value out of range. */
const char *kpf_activation_name(int act);

/* The activation called `name`, or −1. */
int kpf_activation_from_name(const char *name);

/* Read map[key] as an activation name (optional; dflt when absent).  A
 * value that is not a name is KPF_ECONFIG located at the value
 * (file:line:col: key.path: …) and lists every name. */
int kpf_activation_parse(const kpf_node *map, const char *key, int dflt, int *act,
                         kpf_error *err);

/* φ(z) and φ′(z).  An out-of-range act is read as linear. */
static inline double kpf_activation_phi(int act, double z)
{
    switch (act) {
    case KPF_ACTIVATION_TANH: return tanh(z);
    case KPF_ACTIVATION_RELU: return z > 0.0 ? z : 0.0;
    case KPF_ACTIVATION_SOFTPLUS: return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
    default: return z;
    }
}

static inline double kpf_activation_dphi(int act, double z)
{
    switch (act) {
    case KPF_ACTIVATION_TANH: {
        double s = tanh(z);
        return 1.0 - s * s;
    }
    case KPF_ACTIVATION_RELU: return z > 0.0 ? 1.0 : 0.0;
    case KPF_ACTIVATION_SOFTPLUS:
        return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
    default: return 1.0;
    }
}

/* ---- the "kpf.activation/1" model extension ---------------------------- */

/* A model whose vector field contains W φ(z) (a recurrent weight applied to
 * the activated state) says which φ, and which θ block W is, through
 * kpf_model_extension(m, KPF_ACTIVATION_INTERFACE).  Analyses that assume
 * that form (Pellegrino's Theorem 1) read it instead of asking the user.
 * The table belongs to the plugin and stays valid until the model is freed. */
#define KPF_ACTIVATION_INTERFACE "kpf.activation/1"

typedef struct kpf_activation_info {
    int activation;    /* enum kpf_activation: the φ of W φ(z)                 */
    const char *block; /* the n×n θ block W, with ∂f_i/∂W_ij = c·φ(z_j) for a
                          constant c ≠ 0 (rnn: "W", c = 1); NULL when W is not
                          a block of θ (ltr: W^{(k)} = Σ_r c_r^{(k)} a_r b_rᵀ) */
} kpf_activation_info;

KPF_END_DECLS
#endif
