/* The `theorem1` snapshot analysis: Pellegrino's Theorem 1 (theorem1.h) on
 * the analysis trials at every snapshot — the singular values of ∇_W L, of
 * the adjoint and of φ(x), the bound, its largest excess and the error of
 * the factorisation — under /snapshots/<i>/theorem1/ in analysis.h5, with
 * theorem1_max_excess and theorem1_factor_error in each snapshot's summary.
 * YAML: `analysis: {theorem1: {block: W, activation: tanh}}`. */
#include <math.h>
#include <stdlib.h>

#include "kpf/stepper.h"
#include "pellegrino.h"
#include "theorem1.h"

typedef struct theorem1 {
    const char *block; /* lives as long as the config */
    int act;           /* enum kpf_act */
    double last_excess;
} theorem1;

static void destroy(void *self) { free(self); }

/* Theorem 1 needs a square block and the product form of the gradient,
 * which the Euler step and discrete maps have and RK4's stages do not. */
static int check_model(const kpf_model *m, const kpf_node *node, const char *block,
                       kpf_error *err)
{
    const kpf_node *at = kpf_node_get(node, "block") ? kpf_node_get(node, "block") : node;
    int rc = kpf_analysis_square_block(m, at, block, "Theorem 1", err);
    if (!rc && m->stepper != &kpf_stepper_euler && m->stepper != &kpf_stepper_discrete)
        rc = kpf_node_error(node, err,
                            "Theorem 1 (∇_W L = h Σ λ φ(z)ᵀ) holds for the Euler step or a "
                            "discrete map, not for step '%s'; use model.step: euler",
                            m->stepper->name);
    return rc;
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    static const char *const acts[] = {"tanh", "relu", "linear", "softplus", NULL};
    if (!node || kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {block: W, activation: tanh}");
    theorem1 t = {.last_excess = NAN};
    int rc = kpf_cfg_string(node, "block", KPF_CFG_OPTIONAL, "W", &t.block, err);
    if (!rc) rc = kpf_cfg_choice(node, "activation", KPF_CFG_OPTIONAL, acts, KPF_ACT_TANH,
                                 &t.act, err);
    if (!rc) rc = check_model(setup->model, node, t.block, err);
    if (rc)
        return rc;
    theorem1 *p = malloc(sizeof *p);
    if (!p)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *p = t;
    *self = p;
    return KPF_OK;
}

static int at_snapshot(void *self, const kpf_snapshot *s, kpf_error *err)
{
    theorem1 *th = self;
    kpf_thm1 t;
    th->last_excess = NAN;
    int rc = kpf_thm1_check(s->model, s->batch, th->block, th->act, &t, err);
    if (rc)
        return rc;
    th->last_excess = t.max_excess;
    rc = kpf_snapshot_write(s, "theorem1/grad_singular_values", t.s_grad, t.n, err);
    if (!rc) rc = kpf_snapshot_write(s, "theorem1/adjoint_singular_values", t.s_adj, t.n, err);
    if (!rc) rc = kpf_snapshot_write(s, "theorem1/phi_singular_values", t.s_phi, t.n, err);
    if (!rc) rc = kpf_snapshot_write(s, "theorem1/bound", t.bound, t.n, err);
    if (!rc) rc = kpf_snapshot_write(s, "theorem1/max_excess", &t.max_excess, 1, err);
    if (!rc) rc = kpf_snapshot_write(s, "theorem1/factor_error", &t.factor_err, 1, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "theorem1_max_excess", t.max_excess, err);
    if (!rc) rc = kpf_snapshot_scalar(s, "theorem1_factor_error", t.factor_err, err);
    kpf_thm1_free(&t);
    return rc;
}

static size_t scalars(const void *self, const char **names, double *v, size_t cap)
{
    if (cap) {
        names[0] = "theorem1_max_excess";
        v[0] = ((const theorem1 *)self)->last_excess;
    }
    return 1;
}

static const kpf_analysis_desc theorem1_desc = {
    KPF_ANALYSIS_DESC_HEAD,
    .name = "theorem1",
    .summary = "Pellegrino et al. Theorem 1: singular values of grad_W L against their bound",
    .create = create,
    .destroy = destroy,
    .at_snapshot = at_snapshot,
    .scalars = scalars,
};

const kpf_analysis_desc *kpf_pellegrino_analysis_descriptor(uint32_t index)
{
    return index == 0 ? &theorem1_desc : NULL;
}

static const void *enumerate(uint32_t index)
{
    return kpf_pellegrino_analysis_descriptor(index);
}

int kpf_pellegrino_register(kpf_registry *reg, kpf_error *err)
{
    int rc = kpf_analysis_register_builtins(reg, err);
    return rc ? rc
              : kpf_registry_add_descriptors(reg, KPF_KIND_ANALYSIS, enumerate,
                                             "built-in study pellegrino", err);
}
