/* SGD and Adam with clipping and a trainable mask. */
#include "kpf/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int kpf_optim_alloc(int kind, size_t m, double lr, kpf_optim **out, kpf_error *err)
{
    if (kind != KPF_OPTIM_SGD && kind != KPF_OPTIM_ADAM)
        return kpf_error_set(err, KPF_EINVAL, "unknown optimiser kind %d", kind);
    kpf_optim *o = calloc(1, sizeof *o);
    if (!o)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *o = (kpf_optim){.kind = kind, .m = m, .lr = lr, .beta1 = 0.9, .beta2 = 0.999,
                     .eps = 1e-8};
    o->trainable = malloc(m ? m : 1);
    o->mom = calloc(m ? m : 1, sizeof(double));
    o->vel = calloc(m ? m : 1, sizeof(double));
    if (!o->trainable || !o->mom || !o->vel) {
        kpf_optim_free(o);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    }
    memset(o->trainable, 1, m);
    *out = o;
    return KPF_OK;
}

void kpf_optim_free(kpf_optim *o)
{
    if (!o)
        return;
    free(o->trainable);
    free(o->mom);
    free(o->vel);
    free(o);
}

void kpf_optim_set_trainable(kpf_optim *o, size_t offset, size_t len, int trainable)
{
    if (offset < o->m)
        memset(o->trainable + offset, trainable ? 1 : 0,
               offset + len > o->m ? o->m - offset : len);
}

static double masked_clip(kpf_optim *o, double *g)
{
    double ss = 0;
    for (size_t i = 0; i < o->m; i++) {
        if (!o->trainable[i])
            g[i] = 0;
        ss += g[i] * g[i];
    }
    double norm = sqrt(ss);
    if (o->clip > 0 && norm > o->clip) {
        double s = o->clip / norm;
        for (size_t i = 0; i < o->m; i++)
            g[i] *= s;
    }
    return norm;
}

int kpf_optim_step(kpf_optim *o, double *theta, double *g, kpf_error *err)
{
    o->last_norm = masked_clip(o, g);
    if (!isfinite(o->last_norm))
        return kpf_error_set(err, KPF_ENUMERIC, "non-finite gradient at optimiser step %llu",
                             (unsigned long long)o->t + 1);
    o->t++;
    if (o->kind == KPF_OPTIM_SGD) {
        for (size_t i = 0; i < o->m; i++)
            theta[i] -= o->lr * g[i];
        return KPF_OK;
    }
    double b1t = 1.0 - pow(o->beta1, (double)o->t), b2t = 1.0 - pow(o->beta2, (double)o->t);
    for (size_t i = 0; i < o->m; i++) {
        if (!o->trainable[i])
            continue;
        o->mom[i] = o->beta1 * o->mom[i] + (1 - o->beta1) * g[i];
        o->vel[i] = o->beta2 * o->vel[i] + (1 - o->beta2) * g[i] * g[i];
        theta[i] -= o->lr * (o->mom[i] / b1t) / (sqrt(o->vel[i] / b2t) + o->eps);
    }
    return KPF_OK;
}
