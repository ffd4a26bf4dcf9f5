/* Analysis descriptors (kpf/analysis.h): validation, the built-in table, and
 * their registration through the path a file's enumerator takes. */
#include "kpf/analysis.h"
#include "kpf/descriptor.h"

#include <string.h>

#include "builtin_analyses.h"

static const kpf_analysis_desc *const builtins[] = {
    &kpf_analysis_spectra, &kpf_analysis_pca, &kpf_analysis_lyapunov,
    &kpf_analysis_delta_w, &kpf_analysis_cp,
    &kpf_analysis_interference, &kpf_analysis_alignment, &kpf_analysis_fixed_points,
    &kpf_analysis_dw_shuffle, &kpf_analysis_w_spectrum,
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

/* Where the built-ins say they come from (`kpf plugins`, duplicate names). */
static const char *const builtin_where = "built-in analyses";

const kpf_analysis_desc *kpf_builtin_analysis_descriptor(uint32_t index)
{
    return index < N_BUILTINS ? builtins[index] : NULL;
}

int kpf_analysis_desc_validate(const kpf_analysis_desc *d, const char *where, kpf_error *err)
{
    int rc = kpf_desc_check_head((const kpf_desc_head *)d, "analysis", "kpf_analysis_desc",
                                 KPF_ANALYSIS_ABI_VERSION, KPF_ANALYSIS_DESC_MIN_SIZE, where, err);
    if (rc)
        return rc;
    const kpf_desc_op req[] = {{"create", (const void *)d->create},
               {"destroy", (const void *)d->destroy},
               {"at_snapshot", (const void *)d->at_snapshot}};
    if ((rc = kpf_desc_check_required(req, sizeof req / sizeof req[0], "analysis", d->name,
                                      where, err)))
        return rc;
    return KPF_OK;
}

static int validate(const void *d, const char *where, kpf_error *err)
{
    return kpf_analysis_desc_validate(d, where, err);
}

static const void *enumerate(uint32_t index)
{
    return kpf_builtin_analysis_descriptor(index);
}

/* The built-ins are in reg when their first descriptor is (by address: a
 * file may well define an analysis of the same name). */
static int has_builtins(const kpf_registry *reg)
{
    size_t n = kpf_registry_ext_count(reg, KPF_KIND_ANALYSIS);
    for (size_t i = 0; i < n; i++)
        if (kpf_registry_ext_at(reg, KPF_KIND_ANALYSIS, i)->desc ==
            (const kpf_desc_head *)(const void *)builtins[0])
            return 1;
    return 0;
}

int kpf_analysis_register_builtins(kpf_registry *reg, kpf_error *err)
{
    if (!reg)
        return kpf_error_set(err, KPF_EINVAL, "kpf_analysis_register_builtins: no registry");
    kpf_registry_set_validator(reg, KPF_KIND_ANALYSIS, validate);
    if (has_builtins(reg))
        return KPF_OK;
    return kpf_registry_add_descriptors(reg, KPF_KIND_ANALYSIS, enumerate, builtin_where, err);
}

int kpf_analysis_square_block(const kpf_model *m, const kpf_node *at, const char *name,
                              const char *who, kpf_error *err)
{
    const kpf_param_block *b = kpf_model_block(m, name);
    size_t n = m->n;
    if (!b)
        return kpf_node_error(at, err, "%s needs a square %zu×%zu recurrent matrix; no block '%s' "
                                       "in plugin '%s'", who, n, n, name, m->desc->name);
    if (b->rows != n || b->cols != n)
        return kpf_node_error(at, err, "%s needs a square %zu×%zu recurrent matrix; '%s' is "
                                       "%zu×%zu", who, n, n, name, b->rows, b->cols);
    return KPF_OK;
}
