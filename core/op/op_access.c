/* Reading a kpf_op's spaces through functions (kpf/op_access.h). */
#include "kpf/op_access.h"

void kpf_op_space_shape(const kpf_op *op, int output, size_t *B, size_t *T, size_t *n,
                        double *weight)
{
    const kpf_space *s = output ? &op->out : &op->in;
    if (B)
        *B = s->B;
    if (T)
        *T = s->T;
    if (n)
        *n = s->n;
    if (weight)
        *weight = s->weight;
}

const char *kpf_op_type_name(const kpf_op *op)
{
    return op->type && op->type->name ? op->type->name : "operator";
}
