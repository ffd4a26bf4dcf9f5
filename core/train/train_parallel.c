/* Data-parallel training (kpf/train.h, opts.comm): each rank draws the
 * whole minibatch from the same streams, keeps its block of trials, and
 * computes the loss and gradient of that block; one sum over the ranks per
 * step then gives every rank the batch's loss and gradient, so every rank
 * takes the same optimiser step and θ stays identical everywhere.
 *
 * The masked MSE divides by the batch's scored entries (kpf/loss.h).  A
 * rank's loss and gradient are divided by its own count c_r, so the sum
 * carries c_r·L_r and c_r·∇L_r and the total count C, and the batch's
 * values are Σ c_r L_r / C and Σ c_r ∇L_r / C: the one-process values up
 * to rounding (≤ 1e-12 relative), with the whole exchange in one reduction
 * of m + 3 values. */
#include <string.h>

#include "train_internal.h"

void kpf_internal_batch_slice(const kpf_task_batch *full, size_t lo, kpf_task_batch *part)
{
    size_t ni = full->n_in, no = full->n_out, B = part->B;
    for (size_t t = 0; t < full->T; t++) {
        size_t d = t * B, s = t * full->B + lo;
        memcpy(part->x + d * ni, full->x + s * ni, B * ni * sizeof(double));
        memcpy(part->y + d * no, full->y + s * no, B * no * sizeof(double));
        memcpy(part->mask + d, full->mask + s, B * sizeof(double));
        memcpy(part->period + d, full->period + s, B * sizeof(int));
    }
    memcpy(part->cond, full->cond + lo, B * sizeof(int));
    memcpy(part->trial, full->trial + lo, B * sizeof(size_t));
}

double kpf_internal_mask_count(const kpf_task_batch *b)
{
    double c = 0;
    for (size_t i = 0; i < b->B * b->T; i++)
        c += b->mask[i];
    return c;
}

int kpf_internal_reduce_loss(const kpf_comm *comm, int rc, double count, double *loss,
                             double *grad, size_t m, double *buf, kpf_error *err)
{
    size_t k = grad ? m : 0;
    for (size_t i = 0; i < k; i++)
        buf[i] = rc ? 0.0 : count * grad[i];
    buf[k] = rc ? 0.0 : count * *loss;
    buf[k + 1] = rc ? 0.0 : count;
    buf[k + 2] = rc != KPF_OK;
    kpf_error mine;
    int red = kpf_comm_sum(comm, buf, k + 3, rc ? &mine : err);
    if (rc || red)
        return rc ? rc : red;
    if (buf[k + 2] > 0)
        return kpf_error_set(err, KPF_ENUMERIC, "another rank's share of the batch failed (its "
                                                "message is in that rank's output)");
    double C = buf[k + 1], inv = C > 0 ? 1.0 / C : 0.0;
    for (size_t i = 0; i < k; i++)
        grad[i] = buf[i] * inv;
    *loss = buf[k] * inv;
    return KPF_OK;
}
