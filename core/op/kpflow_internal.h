/* Private helpers shared by the operator files (operator.c, propagator.c,
 * param_op.c, output_ntk.c, hidden_ntk.c). */
#ifndef KPF_KPFLOW_INTERNAL_H
#define KPF_KPFLOW_INTERNAL_H

#include "kpf/kpflow.h"

/* An operator called `name` (a static string) that applies `top` and OWNS
 * it and parts[0 … n_parts): its destroy frees top, then the parts in
 * reverse order (so wrappers listed after what they borrow go first).  self_adjoint marks the result as such
 * (spaces must agree).  On failure everything passed in is freed. */
int kpf_internal_op_bundle(const char *name, kpf_op *top, kpf_op **parts, size_t n_parts,
                           int self_adjoint, kpf_op **out, kpf_error *err);

/* ops[0] ∘ ops[1] ∘ … ∘ ops[k−1] (the last applied first) as one operator
 * that owns the ops and the intermediate compositions.  On failure every op
 * passed in is freed. */
int kpf_internal_op_chain(const char *name, kpf_op **ops, size_t k, int self_adjoint,
                          kpf_op **out, kpf_error *err);

/* Check that tr was allocated for m and reserve model scratch for `rows`
 * rows, so that no later apply allocates: B·T for all-rows passes (K,
 * readout), B for the step-by-step sweeps (P, P*). */
int kpf_internal_traj_check_rows(kpf_model *m, const kpf_traj *tr, size_t rows,
                                 const char *who, kpf_error *err);
/* kpf_internal_traj_check_rows with all B·T rows. */
int kpf_internal_traj_check(kpf_model *m, const kpf_traj *tr, const char *who,
                            kpf_error *err);

/* 1 when s is split over more than one rank (kpf/operator.h). */
int kpf_internal_space_split(const kpf_space *s);

/* Operators that need the whole space in one process (dense forms, trial
 * subsets) refuse a split one with this message. */
int kpf_internal_refuse_split(const kpf_space *s, const char *who, kpf_error *err);

/* Free ops[0 … k) in reverse order (NULL entries skipped). */
void kpf_internal_op_free_all(kpf_op **ops, size_t k);

#endif
