/* Masked MSE and its output error. */
#include "kpf/loss.h"

double kpf_loss_mse(size_t rows, size_t n_out, const double *y, const double *target,
                    const double *mask, double *dy)
{
    double wsum = 0, L = 0;
    for (size_t r = 0; r < rows; r++)
        wsum += mask[r];
    double scale = wsum > 0 ? 1.0 / (wsum * (double)n_out) : 0.0;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n_out; j++) {
            size_t i = r * n_out + j;
            double d = y[i] - target[i];
            L += mask[r] * d * d;
            if (dy)
                dy[i] = 2.0 * scale * mask[r] * d;
        }
    return L * scale;
}
