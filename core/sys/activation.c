/* The activation name table (kpf/activation.h). */
#include "kpf/activation.h"

#include <string.h>

/* In enum order, NULL-terminated for kpf_cfg_choice. */
static const char *const names[KPF_ACTIVATION_COUNT + 1] = {"tanh", "relu", "linear",
                                                             "softplus", NULL};

const char *kpf_activation_name(int act)
{
    return act >= 0 && act < KPF_ACTIVATION_COUNT ? names[act] : NULL;
}

int kpf_activation_from_name(const char *name)
{
    for (int i = 0; name && i < KPF_ACTIVATION_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int kpf_activation_parse(const kpf_node *map, const char *key, int dflt, int *act,
                         kpf_error *err)
{
    return kpf_cfg_choice(map, key, KPF_CFG_OPTIONAL, names, dflt, act, err);
}
