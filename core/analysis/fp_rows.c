/* Candidate rows for the fixed-point finder: r(z) = F(z, x*) − z or
 * f(z, x*), and J_r·v, J_rᵀ·w from the plugin's J_z ops at the tape the
 * core fills, R candidates at once. */
#include <stdlib.h>
#include <string.h>

#include "fp_internal.h"

void kpf_internal_fp_rows_free(fp_rows *fr)
{
    free(fr->x);
    free(fr->t);
    free(fr->tape);
    free(fr->trial);
    memset(fr, 0, sizeof *fr);
}

int kpf_internal_fp_rows_alloc(kpf_model *m, const double *x_star, size_t cap, size_t trial,
                               fp_rows *fr, kpf_error *err)
{
    *fr = (fp_rows){.m = m, .cap = cap, .n = m->n, .n_in = m->n_in,
                    .tape_width = m->layout.tape_width,
                    .continuous = (m->desc->flags & KPF_MODEL_CONTINUOUS) != 0};
    if (trial >= m->n_trials && m->n_trials)
        return kpf_error_set(err, KPF_EINVAL, "fixed points: trial %zu is not below the "
                                              "model's %zu trials", trial, m->n_trials);
    fr->x = calloc(cap * (m->n_in ? m->n_in : 1), sizeof(double));
    fr->t = calloc(cap, sizeof(double));
    fr->trial = malloc(cap * sizeof(size_t));
    fr->tape = fr->tape_width ? malloc(cap * fr->tape_width * sizeof(double)) : NULL;
    if (!fr->x || !fr->t || !fr->trial || (fr->tape_width && !fr->tape)) {
        kpf_internal_fp_rows_free(fr);
        return kpf_error_set(err, KPF_ENOMEM, "fixed points: cannot hold %zu candidates", cap);
    }
    for (size_t r = 0; r < cap; r++) {
        fr->trial[r] = trial;
        if (x_star)
            memcpy(fr->x + r * m->n_in, x_star, m->n_in * sizeof(double));
    }
    fr->rows = (kpf_rows){.x = fr->x, .trial = fr->trial, .t = fr->t};
    int rc = kpf_model_reserve(m, cap, err);
    if (rc)
        kpf_internal_fp_rows_free(fr);
    return rc;
}

int kpf_internal_fp_residual(fp_rows *fr, size_t R, const double *z, double *r,
                             kpf_error *err)
{
    kpf_rows rows = fr->rows;
    rows.R = R;
    rows.z = z;
    rows.tape = NULL; /* f works without it; the tape holds the linearisation */
    int rc = kpf_model_f(fr->m, &rows, r, err);
    if (!rc && !fr->continuous)
        for (size_t i = 0; i < R * fr->n; i++)
            r[i] -= z[i];
    return rc;
}

int kpf_internal_fp_linearise(fp_rows *fr, size_t R, const double *z, kpf_error *err)
{
    fr->rows.R = R;
    fr->rows.z = z;
    fr->rows.tape = NULL;
    if (!fr->tape_width)
        return KPF_OK;
    int rc = kpf_model_tape(fr->m, &fr->rows, fr->tape, err);
    fr->rows.tape = fr->tape;
    return rc;
}

int kpf_internal_fp_jz(fp_rows *fr, const double *v, double *out, kpf_error *err)
{
    return kpf_model_jz(fr->m, &fr->rows, v, out, err);
}

int kpf_internal_fp_jr(fp_rows *fr, const double *v, double *out, kpf_error *err)
{
    int rc = kpf_model_jz(fr->m, &fr->rows, v, out, err);
    if (!rc && !fr->continuous)
        for (size_t i = 0; i < fr->rows.R * fr->n; i++)
            out[i] -= v[i];
    return rc;
}

int kpf_internal_fp_jrT(fp_rows *fr, const double *w, double *out, kpf_error *err)
{
    int rc = kpf_model_jzT(fr->m, &fr->rows, w, out, err);
    if (!rc && !fr->continuous)
        for (size_t i = 0; i < fr->rows.R * fr->n; i++)
            out[i] -= w[i];
    return rc;
}
