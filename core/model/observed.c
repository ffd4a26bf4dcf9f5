/* The observed part of a model's state (kpf/model.h's `observed` op, read
 * through kpf_model_observed in kpf/instance.h).  The list comes from the
 * plugin, so it is checked on every call: it is short, and a caller that
 * holds it across a θ change still gets the plugin's current answer. */
#include "kpf/instance.h"

const size_t *kpf_model_observed(const kpf_model *m, size_t *count, kpf_error *err)
{
    const size_t *(*op)(void *, size_t *) = KPF_DESC_OP(m->desc, observed);
    size_t k = 0;
    const size_t *idx = op ? op(m->self, &k) : NULL;
    if (!idx) {
        *count = m->n;
        return NULL;
    }
    *count = 0;
    if (k == 0 || k > m->n) {
        kpf_error_set(err, KPF_EPLUGIN,
                      "plugin '%s': observed gives %zu components of a state of %zu (give 1 … n "
                      "indices, or NULL when every component is observed)",
                      m->desc->name, k, m->n);
        return NULL;
    }
    for (size_t i = 0; i < k; i++)
        if (idx[i] >= m->n || (i && idx[i] <= idx[i - 1])) {
            kpf_error_set(err, KPF_EPLUGIN,
                          "plugin '%s': observed component %zu is %zu: indices must increase "
                          "and stay below n = %zu",
                          m->desc->name, i, idx[i], m->n);
            return NULL;
        }
    *count = k;
    return idx;
}
