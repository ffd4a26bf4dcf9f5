/* The checks every extension descriptor's head gets (kpf/descriptor.h). */
#include "kpf/descriptor.h"

int kpf_desc_name_valid(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

int kpf_desc_check_head(const kpf_desc_head *d, const char *kind, const char *type,
                        uint32_t abi, size_t min_size, const char *where, kpf_error *err)
{
    if (d->abi_version != abi)
        return kpf_error_set(err, KPF_EABI,
                             "%s: %s ABI version %u, this kpf speaks %u; rebuild the %s "
                             "against this kpf's headers",
                             where, kind, d->abi_version, abi,
                             *kind == 'p' ? "plugin" : "file");
    if (d->struct_size < min_size)
        return kpf_error_set(err, KPF_EABI,
                             "%s: %s descriptor struct_size %u is smaller than the %zu bytes "
                             "of the required ops; set struct_size = sizeof(%s)",
                             where, kind, d->struct_size, min_size, type);
    if (!kpf_desc_name_valid(d->name))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: %s name '%s' is not a valid name; use [a-z0-9_]+", where,
                             kind, d->name ? d->name : "(null)");
    return KPF_OK;
}

int kpf_desc_check_required(const kpf_desc_op *ops, size_t n, const char *kind,
                            const char *name, const char *where, kpf_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!ops[i].fn)
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "%s: %s '%s' leaves the required op '%s' NULL; implement it",
                                 where, kind, name, ops[i].name);
    return KPF_OK;
}
