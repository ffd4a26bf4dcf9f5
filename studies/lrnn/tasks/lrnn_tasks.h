/* Shared by the lrnn task generators (lrnn_svd.c, lrnn_rotation.c,
 * lrnn_integration.c) and the lrnn experiments (lrnn_experiments.c).
 *
 * A "correlation task" is fixed by its input–output correlations: for
 * every scored output step t (paper index; only T for single-output tasks)
 * and every input step i ≤ t, an n_out×n_in matrix C_{t,i} = Σ^{Y_tX_i}.
 * A batch of P trials draws Gaussian inputs, whitens them jointly across
 * time × dimensions so that Σ_p x_{p,i} x_{p,i'}ᵀ = δ_{ii'} I exactly, and
 * sets y_{p,t} = Σ_{i≤t} C_{t,i} x_{p,i}: then Σ_p y_{p,t} x_{p,i}ᵀ = C_{t,i}
 * exactly (eq. 203; App. M for T outputs). */
#ifndef KPF_TASKS_LRNN_TASKS_H
#define KPF_TASKS_LRNN_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "lrnn.h"
#include "kpf/task.h"

/* The study's task types (lrnn_svd, lrnn_rotation, lrnn_integration),
 * NULL-terminated; enumerated as a kpf_task_descriptor; and a task from a
 * `task:` map naming one of them. */
#define KPF_LRNN_N_TASKS 3
extern const kpf_task_desc *const kpf_lrnn_task_types[KPF_LRNN_N_TASKS + 1];
const kpf_task_desc *kpf_lrnn_task_descriptor(uint32_t index);
int kpf_lrnn_task_create(const kpf_node *node, kpf_task **out, kpf_error *err);

#define KPF_LRNN_MAX_T 4096
#define KPF_LRNN_MAX_DIM 4096

extern const char *const kpf_lrnn_output_names[]; /* last, all */
extern const char *const kpf_lrnn_period_names[]; /* input, output */

typedef struct kpf_lrnn_corr_task {
    size_t n_in, n_out, T;
    int all_outputs;
    double *C; /* [t−1][i−1] blocks, t = T only (single) or all t: n_out×n_in each */
} kpf_lrnn_corr_task;

/* Pointer to C_{t,i} (paper indices, 1 ≤ i ≤ t ≤ T). */
double *kpf_lrnn_corr_block(const kpf_lrnn_corr_task *c, size_t t, size_t i);
int kpf_lrnn_corr_alloc(kpf_lrnn_corr_task *c, kpf_error *err);
void kpf_lrnn_corr_free(kpf_lrnn_corr_task *c);
int kpf_lrnn_corr_generate(const kpf_lrnn_corr_task *c, const char *name, gsl_rng *rng,
                           kpf_task_batch *bt, kpf_error *err);
/* Set mask/period/cond/trial for single- or T-output scoring. */
void kpf_lrnn_fill_mask(kpf_task_batch *bt, int all_outputs);

/* A number or a list of numbers under `key`: *n = 0 when absent, 1 for a
 * scalar, the length of a list (≤ max). */
int kpf_lrnn_cfg_list(const kpf_node *map, const char *key, size_t max, double *out,
                      size_t *n, kpf_error *err);

/* The structured SVD task's modes, as its generator reads them from a
 * `task:` map (also used by the experiments to build the reduced theory).
 * spec[α] for α < *rank. */
typedef struct kpf_lrnn_svd_setup {
    size_t n_in, n_out, T, rank;
    int all_outputs;
    uint64_t basis_seed;
    kpf_lrnn_mode_spec spec[64];
} kpf_lrnn_svd_setup;
int kpf_lrnn_svd_setup_read(const kpf_node *node, kpf_lrnn_svd_setup *s, kpf_error *err);

/* The rotation task's complex modes (pairs). */
typedef struct kpf_lrnn_rot_setup {
    size_t N, pairs, T;
    int all_outputs;
    uint64_t basis_seed;
    kpf_lrnn_mode_spec spec[32];
} kpf_lrnn_rot_setup;
int kpf_lrnn_rot_setup_read(const kpf_node *node, kpf_lrnn_rot_setup *s, kpf_error *err);

#endif
