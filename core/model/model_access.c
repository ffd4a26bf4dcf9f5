/* Reading a kpf_model through functions (kpf/model_access.h): the one place
 * outside instance.c that knows which field holds what, for callers that
 * only see libkpf's exported symbols. */
#include "kpf/model_access.h"

#include "kpf/stepper.h"

size_t kpf_model_state_size(const kpf_model *m) { return m->n; }
size_t kpf_model_input_size(const kpf_model *m) { return m->n_in; }
size_t kpf_model_output_size(const kpf_model *m) { return m->n_out; }
size_t kpf_model_trial_count(const kpf_model *m) { return m->n_trials; }

size_t kpf_model_param_count(const kpf_model *m) { return m->m; }
size_t kpf_model_plugin_param_count(const kpf_model *m) { return m->m_model; }
double *kpf_model_params(kpf_model *m) { return m->theta; }

size_t kpf_model_block_count(const kpf_model *m) { return m->n_blocks; }

const kpf_param_block *kpf_model_block_at(const kpf_model *m, size_t i)
{
    return i < m->n_blocks ? &m->blocks[i] : NULL;
}

double kpf_model_step_size(const kpf_model *m) { return m->dt; }
size_t kpf_model_tape_width(const kpf_model *m) { return m->layout.tape_width; }

int kpf_model_is_continuous(const kpf_model *m)
{
    return (m->desc->flags & KPF_MODEL_CONTINUOUS) != 0;
}

int kpf_model_core_readout(const kpf_model *m) { return m->core_readout != 0; }

const char *kpf_model_plugin_name(const kpf_model *m) { return m->desc->name; }

const char *kpf_model_stepper_name(const kpf_model *m)
{
    return m->stepper ? m->stepper->name : "discrete";
}
