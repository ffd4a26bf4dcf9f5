/* lrnn_config.h — the lrnn plugin's settings as a typed struct, shared with
 * its study: the YAML `model:` keys read into it (kpf_lrnn_config_read) and
 * the create feature "kpf.lrnn.config/1" that hands it to the plugin
 * without YAML.  The keys and their meaning: lrnn.c's header, docs/lrnn.md. */
#ifndef KPF_LRNN_CONFIG_H
#define KPF_LRNN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"

/* Pass a kpf_lrnn_config as this feature to kpf_model_create_typed and the
 * plugin takes its settings from it (it reads no plugin key from the YAML
 * node; a caller that also passes the node read them with
 * kpf_lrnn_config_read, which marks them used). */
#define KPF_LRNN_CONFIG_FEATURE "kpf.lrnn.config/1"

enum kpf_lrnn_parameterisation { KPF_LRNN_FULL = 0, KPF_LRNN_MODES = 1 };
enum kpf_lrnn_alignment { KPF_LRNN_UNALIGNED = 0, KPF_LRNN_ALIGNED = 1 };
enum kpf_lrnn_basis_kind { KPF_LRNN_SVD = 0, KPF_LRNN_EIGEN = 1 };

typedef struct kpf_lrnn_config {
    int parameterisation; /* enum kpf_lrnn_parameterisation   parameterisation */
    size_t n;             /* hidden size (modes: d)           n                */
    int alignment;        /* enum kpf_lrnn_alignment          alignment        */
    int basis;            /* enum kpf_lrnn_basis_kind         basis            */
    double sigma;         /* unaligned init std × √fan_in     sigma            */
    double a0, b0, c0;    /* initial modes                    a0, b0, c0 (mode_init) */
    double b0_phase;      /* eigen basis: b = b0·e^{i φ}      b0_phase         */
    double mode_noise;    /* + noise·N(0,1) per initial mode  mode_noise       */
    uint64_t basis_seed;  /* U_y, V_x, R, Q of this seed      basis_seed       */
} kpf_lrnn_config;

/* The plugin's defaults for a parameterisation and the task's dimensions
 * (n = max(n_in, n_out) for full, min(n_in, n_out) modes; modes aligned). */
void kpf_lrnn_config_default(int parameterisation, size_t n_in, size_t n_out,
                             kpf_lrnn_config *c);

/* The YAML `model:` keys (node may be NULL: all defaults) into c, each
 * error located at its key, then kpf_lrnn_config_check. */
int kpf_lrnn_config_read(const kpf_node *node, size_t n_in, size_t n_out, kpf_lrnn_config *c,
                         kpf_error *err);

/* Ranges and combinations (modes are aligned svd; the eigen basis needs a
 * square network of even size).  node (may be NULL) locates the message at
 * the offending key; without it the message names the field. */
int kpf_lrnn_config_check(const kpf_lrnn_config *c, size_t n_in, size_t n_out,
                          const kpf_node *node, kpf_error *err);

#endif
