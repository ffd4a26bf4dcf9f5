/* The rnn plugin's second descriptor (rnn_torch.c), enumerated by rnn.c's
 * kpf_model_descriptor after the z-form's. */
#ifndef KPF_RNN_FORMS_H
#define KPF_RNN_FORMS_H

#include "kpf/model.h"

extern const kpf_model_desc kpf_rnn_torch_desc;

#endif
