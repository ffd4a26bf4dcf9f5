/* pellegrino.h — the Pellegrino et al. (2023) study's extensions: the
 * `theorem1:` snapshot analysis (theorem1_analysis.c). */
#ifndef KPF_PELLEGRINO_H
#define KPF_PELLEGRINO_H

#include "kpf/analysis.h"

/* The `theorem1` analysis, enumerated like a file's kpf_analysis_descriptor. */
const kpf_analysis_desc *kpf_pellegrino_analysis_descriptor(uint32_t index);

/* Register the study's analyses in reg (after setting up the analysis kind
 * with kpf_analysis_register_builtins, so they are validated like a file's). */
int kpf_pellegrino_register(kpf_registry *reg, kpf_error *err);

#endif
