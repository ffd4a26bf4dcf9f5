/* The extension-data checks of kpf_check_plugin (check_extension.c). */
#ifndef KPF_CHECK_EXTENSION_H
#define KPF_CHECK_EXTENSION_H

#include "kpf/check.h"
#include "kpf/instance.h"

/* Report items for the model's `extension` op: an unknown interface name
 * gives NULL, and the core's interfaces a model provides hold values that
 * agree with the model ("kpf.activation/1": a valid φ, its block a square
 * n×n block of θ, and ∂f_i/∂W_ij = c·φ(z_j) measured through J_θ).  θ is
 * not changed.  An error status only when an op fails outright. */
int kpf_internal_check_extension(kpf_model *m, kpf_check_report *rep, kpf_error *err);

#endif
