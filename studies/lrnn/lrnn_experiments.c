/* Reproductions of Proca et al.'s Figs. 2, 4, 5 and 6 from a YAML config
 * (lrnn.h: kpf_lrnn_experiment_check/run and the `lrnn` study descriptor;
 * configs/lrnn_fig*.yaml; docs/lrnn.md): the entry points and the helpers
 * the figures share.  Each
 * figure (lrnn_exp_*.c) writes NAME.dat (the table), NAME.gp and NAME.png
 * (gnuplot) and summary.json into the output folder. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/json.h"
#include "kpf/rng.h"
#include "lrnn_exp_internal.h"
#include "lrnn_net_iface.h"

/* ---- small helpers --------------------------------------------------------- */

int kpf_lrnn_rows_reserve(double **v, size_t n, size_t *cap, size_t width, kpf_error *err)
{
    if (n < *cap)
        return KPF_OK;
    size_t c = *cap ? 2 * *cap : 256;
    double *nv = realloc(*v, c * width * sizeof *nv);
    if (!nv)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *v = nv;
    *cap = c;
    return KPF_OK;
}

int kpf_lrnn_setf(kpf_config *cfg, kpf_error *err, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return kpf_config_set(cfg, buf, err);
}

/* A list of numbers (or one number) under key, required. */
int kpf_lrnn_num_list(const kpf_node *map, const char *key, size_t max, double *v, size_t *n,
                      kpf_error *err)
{
    int rc = kpf_lrnn_cfg_list(map, key, max, v, n, err);
    if (!rc && *n == 0)
        return kpf_node_error(map, err, "%s: missing required key (a number or a list)", key);
    return rc;
}

/* A list of names from `choices` under key (or one name). */
int kpf_lrnn_name_list(const kpf_node *map, const char *key, const char *const *choices,
                       int *out, size_t max, size_t *n, kpf_error *err)
{
    const kpf_node *v = kpf_node_get(map, key);
    *n = 0;
    if (!v)
        return KPF_OK;
    size_t len = kpf_node_kind(v) == KPF_NODE_SEQ ? kpf_node_len(v) : 1;
    if (len > max || len == 0)
        return kpf_node_error(v, err, "expected 1 to %zu names", max);
    for (size_t i = 0; i < len; i++) {
        const kpf_node *it = kpf_node_kind(v) == KPF_NODE_SEQ ? kpf_node_at(v, i) : v;
        const char *s = kpf_node_scalar(it);
        int hit = -1;
        for (int j = 0; s && choices[j]; j++)
            if (!strcmp(s, choices[j]))
                hit = j;
        if (hit < 0)
            return kpf_node_error(it, err, "unknown name '%s'", s ? s : "(not a scalar)");
        out[i] = hit;
    }
    kpf_node_mark_used(v);
    *n = len;
    return KPF_OK;
}


int kpf_lrnn_make_task(kpf_lrnn_ctx *c, kpf_task **t, kpf_error *err)
{
    const kpf_node *tn = NULL;
    int rc = kpf_cfg_map(c->root, "task", KPF_CFG_REQUIRED, &tn, err);
    return rc ? rc : kpf_lrnn_task_create(tn, t, err);
}

/* The config's `model:` map, which may name no plugin but lrnn. */
static int model_map(kpf_lrnn_ctx *c, const kpf_node **mn, kpf_error *err)
{
    const char *name = NULL;
    int rc = kpf_cfg_map(c->root, "model", KPF_CFG_REQUIRED, mn, err);
    if (!rc)
        rc = kpf_cfg_string(*mn, "plugin", KPF_CFG_OPTIONAL, "lrnn", &name, err);
    if (!rc && strcmp(name, c->plugin->desc->name))
        rc = kpf_node_error(kpf_node_get(*mn, "plugin"), err,
                            "the lrnn experiments run the lrnn plugin");
    return rc;
}

int kpf_lrnn_make_model(kpf_lrnn_ctx *c, const kpf_task *t, size_t trials, kpf_model **m,
                        kpf_error *err)
{
    const kpf_node *mn = NULL;
    int rc = model_map(c, &mn, err);
    return rc ? rc : kpf_model_create(c->plugin, mn, t->n_in, t->n_out, trials, c->seed, m, err);
}

/* The plugin's typed configuration of the `model:` map (keys marked used),
 * for a figure that changes settings between runs. */
int kpf_lrnn_model_config(kpf_lrnn_ctx *c, const kpf_task *t, kpf_lrnn_config *lc,
                          kpf_error *err)
{
    const kpf_node *mn = NULL;
    int rc = model_map(c, &mn, err);
    return rc ? rc : kpf_lrnn_config_read(mn, t->n_in, t->n_out, lc, err);
}

int kpf_lrnn_model_typed(const kpf_plugin *lrnn, const kpf_node *mn, const kpf_lrnn_config *lc,
                         size_t n_in, size_t n_out, size_t trials, uint64_t seed,
                         kpf_model **m, kpf_error *err)
{
    const kpf_model_feature f = {KPF_LRNN_CONFIG_FEATURE, lc};
    const kpf_model_feature *const features[] = {&f, NULL};
    return kpf_model_create_typed(lrnn, mn, features, n_in, n_out, trials, seed, m, err);
}

int kpf_lrnn_make_model_typed(kpf_lrnn_ctx *c, const kpf_task *t, size_t trials,
                              const kpf_lrnn_config *lc, kpf_model **m, kpf_error *err)
{
    const kpf_node *mn = NULL;
    int rc = model_map(c, &mn, err);
    return rc ? rc
              : kpf_lrnn_model_typed(c->plugin, mn, lc, t->n_in, t->n_out, trials, c->seed, m,
                                     err);
}

/* The seed of the bases the model was built with, as the plugin reports it
 * ("kpf.lrnn.net/1"; 0 without the table). */
uint64_t kpf_lrnn_model_basis_seed(const kpf_model *m)
{
    const kpf_lrnn_net_iface *x = kpf_model_extension(m, KPF_LRNN_NET_INTERFACE);
    return x ? x->basis_seed : 0;
}


/* ---- entry -------------------------------------------------------------------------- */

static const char *const fig_names[] = {"modes",       "phase",      "ntk",
                                         "integration", "hysteresis", NULL};

/* One path for check and run: each figure reads its whole config first and
 * returns there when c.check_only is set. */
static int experiment(kpf_config *cfg, const kpf_plugin *lrnn, const char *out_dir,
                      int check_only, kpf_error *err)
{
    kpf_lrnn_ctx c = {.cfg = cfg, .root = kpf_config_root(cfg), .plugin = lrnn, .dir = out_dir,
                      .check_only = check_only};
    int fig = 0;
    int rc = kpf_cfg_u64(c.root, "seed", 0, 0, &c.seed, err);
    if (!rc) rc = kpf_cfg_map(c.root, "lrnn", KPF_CFG_REQUIRED, &c.lr, err);
    if (!rc) rc = kpf_cfg_choice(c.lr, "figure", KPF_CFG_REQUIRED, fig_names, 0, &fig, err);
    if (rc)
        return rc;
    switch (fig) {
    case 0: return kpf_lrnn_fig_modes(&c, err);
    case 1: return kpf_lrnn_fig_phase(&c, err);
    case 2: return kpf_lrnn_fig_ntk(&c, err);
    case 4: return kpf_lrnn_fig_hysteresis(&c, err);
    default: return kpf_lrnn_fig_integration(&c, err);
    }
}

int kpf_lrnn_experiment_check(kpf_config *cfg, const kpf_plugin *lrnn, kpf_error *err)
{
    return experiment(cfg, lrnn, NULL, 1, err);
}

int kpf_lrnn_experiment_run(kpf_config *cfg, const kpf_plugin *lrnn, const char *out_dir,
                            kpf_error *err)
{
    return experiment(cfg, lrnn, out_dir, 0, err);
}

/* ---- the study descriptor (kpf/study.h) --------------------------------------------- */

/* The figures train the `lrnn` model plugin, found by name like any other. */
static int find_lrnn(const kpf_registry *reg, const kpf_plugin **p, kpf_error *err)
{
    int rc = kpf_registry_find(reg, "lrnn", p, err);
    return rc ? kpf_error_prefix(err, rc, "the lrnn study trains the lrnn plugin: ") : rc;
}

static int study_check(kpf_config *cfg, const kpf_registry *reg, kpf_error *err)
{
    const kpf_plugin *p = NULL;
    int rc = find_lrnn(reg, &p, err);
    return rc ? rc : kpf_lrnn_experiment_check(cfg, p, err);
}

static int study_run(kpf_config *cfg, const kpf_registry *reg, const char *out_dir,
                     kpf_error *err)
{
    const kpf_plugin *p = NULL;
    int rc = find_lrnn(reg, &p, err);
    return rc ? rc : kpf_lrnn_experiment_run(cfg, p, out_dir, err);
}

static const kpf_study_desc lrnn_study = {
    KPF_STUDY_DESC_HEAD,
    .name = "lrnn",
    .summary = "Proca et al. (ICML 2025) linear-RNN figures 2, 4, 5, 6 (lrnn.figure)",
    .check = study_check,
    .run = study_run,
};

const kpf_study_desc *kpf_lrnn_study_descriptor(uint32_t index)
{
    return index == 0 ? &lrnn_study : NULL;
}

