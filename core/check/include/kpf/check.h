/* kpf/check.h — the plugin conformance checks behind `kpf check-plugin`
 * and tests/conformance.
 *
 * For one plugin: J_z·v and J_θ·dθ against central finite differences,
 * the adjoint identities ⟨J v, w⟩ = ⟨v, Jᵀ w⟩ for (jz, jzT) and (jth, jthT),
 * the same for every stepper that applies (the discrete map, or Euler and
 * RK4 for continuous models), for the readout and the initial state when
 * the plugin provides them, batching invariance (R rows at once = one row at
 * a time), that jthT accumulates, and that a seeded create is deterministic.
 * Each check is one report item with its measured value and tolerance. */
#ifndef KPF_CHECK_H
#define KPF_CHECK_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/plugin.h"

KPF_BEGIN_DECLS

typedef struct kpf_check_opts {
    uint64_t seed;         /* default 1                                   */
    size_t rows;           /* rows per block, default 7                   */
    size_t n_in, n_out;    /* default 3, 2                                */
    size_t n_trials;       /* default 5                                   */
    double fd_tol;         /* relative, default 1e-6                      */
    double adjoint_tol;    /* relative, default 1e-12                     */
    double batch_tol;      /* relative, default 1e-14                     */
    const kpf_node *model; /* optional model: map (plugin keys); NULL = defaults */
} kpf_check_opts;

/* Fill opts with the defaults above. */
void kpf_check_opts_default(kpf_check_opts *opts);

#define KPF_CHECK_NAME_MAX 96
#define KPF_CHECK_DETAIL_MAX 256

typedef struct kpf_check_item {
    char name[KPF_CHECK_NAME_MAX];     /* e.g. "euler: adjoint <J_F v,w> = <v,J_F^T w>" */
    double value;                      /* measured relative error            */
    double tol;
    int pass;
    char detail[KPF_CHECK_DETAIL_MAX]; /* empty or why it failed             */
} kpf_check_item;

typedef struct kpf_check_report {
    size_t n_items, cap;
    kpf_check_item *items;
    size_t n_failed;
} kpf_check_report;

/* Run every check; returns KPF_OK if they all ran (see n_failed for the
 * verdict) and an error status if a check could not run at all (create
 * failed, an op returned an error — the message says which). */
int kpf_check_plugin(const kpf_plugin *plugin, const kpf_check_opts *opts,
                     kpf_check_report *report, kpf_error *err);
void kpf_check_report_free(kpf_check_report *report);

KPF_END_DECLS
#endif

/* ---- gradient check (also run by kpf_check_plugin) ----------------------- */
#ifndef KPF_CHECK_GRADIENT_DECLARED
#define KPF_CHECK_GRADIENT_DECLARED
#include "kpf/instance.h"
KPF_BEGIN_DECLS
/* The adjoint gradient of the masked MSE (gradient.h) against central
 * finite differences of the loss, for a random batch of B trials × T steps
 * (inputs, targets and a 0/1 mask drawn from `seed`), one random direction
 * per parameter block.  window > 0 checks truncated BPTT against finite
 * differences of the loss with the states at chunk boundaries held at their
 * unperturbed values — the exact meaning of the truncated gradient.
 * worst[i] receives the relative error for block i (m->n_blocks entries). */
int kpf_check_gradient(kpf_model *m, uint64_t seed, size_t B, size_t T, size_t window,
                       double *worst, kpf_error *err);
KPF_END_DECLS
#endif
