/* studies.h — the built-in studies as the kpf command registers them. */
#ifndef KPF_STUDIES_H
#define KPF_STUDIES_H

#include "kpf/plugin.h"

/* Register the studies' extensions in reg through the same call a file's
 * enumerators take (kpf_registry_add_descriptors): the lrnn study's tasks,
 * and the studies themselves once the study kind exists. */
int kpf_studies_register(kpf_registry *reg, kpf_error *err);

#endif
