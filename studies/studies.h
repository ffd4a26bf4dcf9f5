/* studies.h — the built-in studies as the kpf command registers them. */
#ifndef KPF_STUDIES_H
#define KPF_STUDIES_H

#include "kpf/plugin.h"

/* Register the studies' extensions in reg through the same call a file's
 * enumerators take (kpf_registry_add_descriptors): the studies lrnn,
 * ltr_fit and linear_theory (kpf/study.h) and the lrnn study's tasks.
 * Install the study validator first (kpf_study_register_validator) so the
 * built-ins are held to the rules a file's studies are. */
int kpf_studies_register(kpf_registry *reg, kpf_error *err);

#endif
