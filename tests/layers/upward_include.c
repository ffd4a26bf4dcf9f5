/* A probe for scripts/check_upward_include.sh, never part of libkpf: built
 * as kpf_probe_upward (seeing only the lowest layer, kpf_sys) it must FAIL
 * to compile, because kpf/train.h belongs to a higher layer; built as
 * kpf_probe_within (seeing kpf_train) it must compile, which shows the
 * failure comes from the layering and not from this file. */
#include "kpf/train.h"

int kpf_probe_train_opts_size(void);

int kpf_probe_train_opts_size(void)
{
    return (int)sizeof(kpf_train_opts);
}
