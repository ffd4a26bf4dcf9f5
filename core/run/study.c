/* Study descriptors (kpf/study.h): their validation, the registry's study
 * validator, and which study a config selects. */
#include "kpf/study.h"
#include "kpf/descriptor.h"

#include <string.h>

/* Top-level keys an experiment or a study may hold besides the study's own
 * map: a study named like one would claim every config that has it. */
static const char *const shared_keys[] = {"seed",  "threads", "simulate", "output",
                                          "train", "task",    "model",    "analysis",
                                          "sweep", "pretrain", NULL};

static int is_shared_key(const char *name)
{
    for (const char *const *k = shared_keys; *k; k++)
        if (!strcmp(*k, name))
            return 1;
    return 0;
}

int kpf_study_desc_validate(const kpf_study_desc *d, const char *where, kpf_error *err)
{
    int rc = kpf_desc_check_head((const kpf_desc_head *)d, "study", "kpf_study_desc",
                                 KPF_STUDY_ABI_VERSION, KPF_STUDY_DESC_MIN_SIZE, where, err);
    if (rc)
        return rc;
    if (is_shared_key(d->name))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: study name '%s' is a key any config may hold; pick another "
                             "name",
                             where, d->name);
    if (!d->check)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: study '%s' leaves the required op 'check' NULL; implement "
                             "it (validate the whole config, write nothing)",
                             where, d->name);
    if (!d->run)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "%s: study '%s' leaves the required op 'run' NULL; implement it",
                             where, d->name);
    return KPF_OK;
}

static int validate(const void *d, const char *where, kpf_error *err)
{
    return kpf_study_desc_validate(d, where, err);
}

void kpf_study_register_validator(kpf_registry *reg)
{
    kpf_registry_set_validator(reg, KPF_KIND_STUDY, validate);
}

/* Whether a study called `name` is registered (without judging duplicates). */
static int is_study(const kpf_registry *reg, const char *name)
{
    size_t n = kpf_registry_ext_count(reg, KPF_KIND_STUDY);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kpf_registry_ext_at(reg, KPF_KIND_STUDY, i)->desc->name, name))
            return 1;
    return 0;
}

int kpf_study_select(const kpf_registry *reg, const kpf_config *cfg,
                     const kpf_study_desc **out, const kpf_extension **ext, kpf_error *err)
{
    *out = NULL;
    if (ext)
        *ext = NULL;
    const kpf_node *root = kpf_config_root(cfg);
    size_t n = kpf_node_len(root);
    const char *name = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key = kpf_node_key_at(root, i);
        if (!key || !is_study(reg, key))
            continue;
        if (name)
            return kpf_node_error(kpf_node_at(root, i), err,
                                  "a second study in one config (`%s:` is one too); a "
                                  "config runs one study, so split it in two",
                                  name);
        name = key;
    }
    if (!name)
        return KPF_OK;
    const kpf_extension *e = NULL;
    int rc = kpf_registry_ext_find(reg, KPF_KIND_STUDY, name, &e, err);
    if (rc)
        return rc;
    *out = (const kpf_study_desc *)e->desc;
    if (ext)
        *ext = e;
    return KPF_OK;
}
