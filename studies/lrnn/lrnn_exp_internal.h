/* Shared by the lrnn reproductions (lrnn_exp_*.c; kpf_lrnn_experiment_run
 * in lrnn_experiments.c).  Not installed. */
#ifndef KPF_LRNN_EXP_INTERNAL_H
#define KPF_LRNN_EXP_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "lrnn.h"
#include "lrnn_config.h"
#include "kpf/plot.h"
#include "kpf/train.h"
#include "tasks/lrnn_tasks.h"

typedef struct kpf_lrnn_ctx {
    kpf_config *cfg;
    const kpf_node *root, *lr; /* root and its `lrnn:` map */
    const kpf_plugin *plugin;
    const char *dir;
    uint64_t seed;
    /* Validate only (kpf_lrnn_experiment_check): each figure returns once
     * its whole config is read, before it trains or writes anything. */
    int check_only;
} kpf_lrnn_ctx;

/* kpf_config_set with a formatted "key.path=value". */
int kpf_lrnn_setf(kpf_config *cfg, kpf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A required number or list of numbers. */
int kpf_lrnn_num_list(const kpf_node *map, const char *key, size_t max, double *v,
                      size_t *n, kpf_error *err);
/* An optional name or list of names out of `choices` (*n = 0 when absent). */
int kpf_lrnn_name_list(const kpf_node *map, const char *key, const char *const *choices,
                       int *out, size_t max, size_t *n, kpf_error *err);
/* The task and the lrnn model from the config's `task:` / `model:` maps. */
/* Make room for one more row of `width` doubles in a growing table (*v
 * holding *n rows of capacity *cap): the recorders of the training hooks. */
int kpf_lrnn_rows_reserve(double **v, size_t n, size_t *cap, size_t width, kpf_error *err);

int kpf_lrnn_make_task(kpf_lrnn_ctx *c, kpf_task **t, kpf_error *err);
int kpf_lrnn_make_model(kpf_lrnn_ctx *c, const kpf_task *t, size_t trials, kpf_model **m,
                        kpf_error *err);
/* The `model:` map as the plugin's typed configuration (lrnn_config.h),
 * for figures that change model settings between runs: read it, edit the
 * struct, create with kpf_lrnn_make_model_typed (the map still gives the
 * core keys).  kpf_lrnn_model_typed creates from a configuration alone
 * (mn NULL) or with a map's core keys. */
int kpf_lrnn_model_config(kpf_lrnn_ctx *c, const kpf_task *t, kpf_lrnn_config *lc,
                          kpf_error *err);
int kpf_lrnn_make_model_typed(kpf_lrnn_ctx *c, const kpf_task *t, size_t trials,
                              const kpf_lrnn_config *lc, kpf_model **m, kpf_error *err);
int kpf_lrnn_model_typed(const kpf_plugin *lrnn, const kpf_node *mn, const kpf_lrnn_config *lc,
                         size_t n_in, size_t n_out, size_t trials, uint64_t seed,
                         kpf_model **m, kpf_error *err);
/* The seed of the bases an lrnn model was built with (its
 * "kpf.lrnn.net/1" table; 0 without one). */
uint64_t kpf_lrnn_model_basis_seed(const kpf_model *m);

int kpf_lrnn_fig_modes(kpf_lrnn_ctx *c, kpf_error *err);       /* lrnn_exp_modes.c */
int kpf_lrnn_fig_phase(kpf_lrnn_ctx *c, kpf_error *err);       /* lrnn_exp_phase.c */
int kpf_lrnn_fig_ntk(kpf_lrnn_ctx *c, kpf_error *err);         /* lrnn_exp_ntk.c */
int kpf_lrnn_fig_integration(kpf_lrnn_ctx *c, kpf_error *err); /* lrnn_exp_integration.c */
int kpf_lrnn_fig_hysteresis(kpf_lrnn_ctx *c, kpf_error *err);  /* lrnn_exp_hysteresis.c */

#endif
