/* The `train:` section of an experiment config. */
#include <stdlib.h>

#include "kpf/train.h"

static const char *const optimizers[] = {"sgd", "adam", NULL};

static int read_blocks(const kpf_node *node, kpf_train_opts *o, kpf_error *err)
{
    const kpf_node *list = kpf_node_get(node, "blocks");
    if (!list)
        return KPF_OK;
    if (kpf_node_kind(list) != KPF_NODE_SEQ || kpf_node_len(list) == 0)
        return kpf_node_error(list, err, "expected a non-empty list of parameter block names");
    size_t n = kpf_node_len(list);
    const char **names = calloc(n, sizeof *names);
    if (!names)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        names[i] = kpf_node_scalar(kpf_node_at(list, i));
        if (!names[i]) {
            free(names);
            return kpf_node_error(kpf_node_at(list, i), err, "expected a block name");
        }
    }
    o->train_blocks = names;
    o->n_train_blocks = n;
    return KPF_OK;
}

int kpf_train_opts_from_config(const kpf_node *t, kpf_train_opts *o, kpf_error *err)
{
    kpf_train_opts_default(o);
    const size_t big = (size_t)1 << 40;
    int rc = kpf_cfg_size(t, "iterations", 0, o->iterations, 0, big, &o->iterations, err);
    if (!rc) rc = kpf_cfg_size(t, "batch", 0, o->batch, 1, big, &o->batch, err);
    if (!rc) rc = kpf_cfg_size(t, "dataset", 0, 0, 0, big, &o->dataset, err);
    if (!rc) rc = kpf_cfg_size(t, "eval_trials", 0, o->eval_trials, 1, big, &o->eval_trials, err);
    if (!rc) rc = kpf_cfg_size(t, "eval_every", 0, o->eval_every, 1, big, &o->eval_every, err);
    if (!rc) rc = kpf_cfg_size(t, "tbptt", 0, 0, 0, big, &o->window, err);
    if (!rc) rc = kpf_cfg_size(t, "checkpoint_every", 0, 100, 0, big, &o->checkpoint_every, err);
    if (!rc) rc = kpf_cfg_double(t, "loss_threshold", 0, 0.0, 0.0, 1e300, &o->loss_threshold, err);
    if (!rc) rc = kpf_cfg_choice(t, "optimizer", 0, optimizers, 1, &o->optimizer, err);
    if (!rc) rc = kpf_cfg_double(t, "lr", 0, o->lr, 1e-300, 1e6, &o->lr, err);
    if (!rc) rc = kpf_cfg_double(t, "clip", 0, 0.0, 0.0, 1e300, &o->clip, err);
    if (!rc) rc = read_blocks(t, o, err);
    return rc;
}

void kpf_train_opts_clear(kpf_train_opts *o)
{
    free((void *)o->train_blocks);
    o->train_blocks = NULL;
    o->n_train_blocks = 0;
}
