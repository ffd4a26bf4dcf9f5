/* kpf/model_access.h — a created model read through functions, not fields.
 *
 * kpf_model's layout is the core's business and changes (its scratch became
 * private); a caller that cannot compile against instance.h — a language
 * binding that dlopens libkpf.so (python/kpf) — reads a model through these
 * instead, so that a change of the struct cannot make it read the wrong
 * bytes.  Each is a plain read of the model; none allocates or fails.
 * The pointers returned live as long as the model. */
#ifndef KPF_MODEL_ACCESS_H
#define KPF_MODEL_ACCESS_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/instance.h"
#include "kpf/model.h"

KPF_BEGIN_DECLS

/* Dimensions: state n, input n_in, output n_out, trial indices 0 … n_trials−1. */
size_t kpf_model_state_size(const kpf_model *m);
size_t kpf_model_input_size(const kpf_model *m);
size_t kpf_model_output_size(const kpf_model *m);
size_t kpf_model_trial_count(const kpf_model *m);

/* θ: the full vector (m values, plugin part then any core readout blocks),
 * owned by the model and writable; call kpf_model_theta_changed after
 * writing it.  kpf_model_plugin_param_count is the plugin's part m_model. */
size_t kpf_model_param_count(const kpf_model *m);
size_t kpf_model_plugin_param_count(const kpf_model *m);
double *kpf_model_params(kpf_model *m);

/* The named blocks of θ in order (plugin blocks, then W_out and b_out when
 * the core readout is in use); kpf_model_block_at is NULL past the end. */
size_t kpf_model_block_count(const kpf_model *m);
const kpf_param_block *kpf_model_block_at(const kpf_model *m, size_t i);

/* Step size of the discrete map (1 for discrete plugins), doubles per row of
 * the plugin's tape (0: none), 1 for a continuous (vector-field) plugin,
 * 1 when the readout is the core's W_out z + b_out. */
double kpf_model_step_size(const kpf_model *m);
size_t kpf_model_tape_width(const kpf_model *m);
int kpf_model_is_continuous(const kpf_model *m);
int kpf_model_core_readout(const kpf_model *m);

/* The plugin's name and the stepper's ("discrete", "euler", "rk4"). */
const char *kpf_model_plugin_name(const kpf_model *m);
const char *kpf_model_stepper_name(const kpf_model *m);

KPF_END_DECLS
#endif
