/* kpf/op_access.h — an operator's spaces read through functions, not fields.
 *
 * The companion of kpf/model_access.h for kpf_op: a caller that only sees
 * libkpf's exported symbols (a language binding over dlopen, python/kpf)
 * learns an operator's input and output shapes here, so that kpf_space
 * and kpf_op may grow fields (a distributed space's communicator …)
 * without such a caller reading the wrong bytes.  Plain reads; nothing
 * allocates or fails. */
#ifndef KPF_OP_ACCESS_H
#define KPF_OP_ACCESS_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/operator.h"

KPF_BEGIN_DECLS

/* The input space (output == 0) or output space (output != 0) of op: its
 * [B, T, n] shape as held by this process and its weight (any pointer may
 * be NULL). */
void kpf_op_space_shape(const kpf_op *op, int output, size_t *B, size_t *T, size_t *n,
                        double *weight);

/* The name of op's type ("K", "P", "compose" …), never NULL. */
const char *kpf_op_type_name(const kpf_op *op);

KPF_END_DECLS
#endif
