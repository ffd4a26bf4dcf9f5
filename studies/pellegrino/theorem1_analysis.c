/* The `theorem1` snapshot analysis: Pellegrino's Theorem 1 (theorem1.h) on
 * the analysis trials at every snapshot — the singular values of ∇_W L, of
 * the adjoint and of φ(x), the bound, its largest excess and the error of
 * the factorisation — under /snapshots/<i>/theorem1/ in analysis.h5, with
 * theorem1_max_excess and theorem1_factor_error in each snapshot's summary.
 * YAML: `analysis: {theorem1: {block: W, activation: tanh}}`; both keys
 * default to what the model declares through "kpf.activation/1"
 * (kpf/activation.h), else W and tanh.  A key that contradicts the model's
 * declaration is an error: the check would test the wrong factorisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/activation.h"
#include "kpf/instance.h"
#include "kpf/stepper.h"
#include "pellegrino.h"
#include "theorem1.h"

typedef struct theorem1 {
    const char *block; /* lives as long as the config */
    int act;           /* enum kpf_activation */
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

/* What the model says about its W φ(z) (NULL: nothing), and a key given in
 * the config that contradicts it. */
static int declared(const kpf_model *m, const kpf_node *node, const theorem1 *t,
                    const kpf_activation_info *info, kpf_error *err)
{
    if (!info)
        return KPF_OK;
    const kpf_node *an = kpf_node_get(node, "activation"), *bn = kpf_node_get(node, "block");
    if (an && t->act != info->activation)
        return kpf_node_error(an, err,
                              "model '%s' declares φ = %s (kpf.activation/1), not %s; drop "
                              "the key or match it",
                              m->desc->name, kpf_activation_name(info->activation),
                              kpf_activation_name(t->act));
    if (bn && info->block && strcmp(t->block, info->block) != 0)
        return kpf_node_error(bn, err,
                              "model '%s' declares W φ(z) with block '%s' "
                              "(kpf.activation/1), not '%s'; drop the key or match it",
                              m->desc->name, info->block, t->block);
    return KPF_OK;
}

static int create(const kpf_node *node, const kpf_analysis_setup *setup, void **self,
                  kpf_error *err)
{
    if (!node || kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {block: W, activation: tanh}");
    const kpf_activation_info *info =
        kpf_model_extension(setup->model, KPF_ACTIVATION_INTERFACE);
    const char *dflt_block = info && info->block ? info->block : "W";
    int dflt_act = info ? info->activation : KPF_ACTIVATION_TANH;
    theorem1 t = {.last_excess = NAN};
    int rc = kpf_cfg_string(node, "block", KPF_CFG_OPTIONAL, dflt_block, &t.block, err);
    if (!rc) rc = kpf_activation_parse(node, "activation", dflt_act, &t.act, err);
    if (!rc) rc = check_model(setup->model, node, t.block, err);
    if (!rc) rc = declared(setup->model, node, &t, info, err);
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
