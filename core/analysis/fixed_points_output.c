/* Datasets of a fixed-point set (kpf/fixed_points.h), written under a
 * prefix of an HDF5 file: analysis.h5's snapshot groups and the root of
 * fixed_points.h5.
 *
 *   count            [1]            P, the points found (the rest need P > 0)
 *   input            [n_in]         x*
 *   points           [P, n]         the points
 *   q                [P]            ½‖r‖² at each
 *   kind             [P]   int      0 fixed (q < fixed_tol), 1 slow
 *   eigenvalues_re   [P, n_ev]      of J_F (discrete map) or J_f (vector field),
 *   eigenvalues_im   [P, n_ev]      descending |λ| or Re λ (attribute "jacobian")
 *   eigenvectors_re  [P, n_vec, n]  the leading ones, unit norm
 *   eigenvectors_im  [P, n_vec, n]
 *   n_unstable       [P]   int      unstable directions
 *   class            [P]   int      0 stable, 1 saddle, 2 unstable
 *   outputs          [P, n_out]     the model's readout at each point (which
 *                                   memory a stable point holds) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed_points_internal.h"

static void join(char *out, size_t cap, const char *prefix, const char *name)
{
    snprintf(out, cap, "%s/%s", prefix, name);
}

static int write_ints(kpf_h5 *h, const char *path, size_t P, const int *v, kpf_error *err)
{
    return kpf_h5_write_int(h, path, 1, &P, v, err);
}

static int write_eigen(kpf_h5 *h, const char *prefix, const kpf_fp_set *s, kpf_error *err)
{
    char path[600];
    size_t dims[3] = {s->P, s->n_ev, s->n};
    join(path, sizeof path, prefix, "eigenvalues_re");
    int rc = kpf_h5_write(h, path, 2, dims, s->ev_re, err);
    if (!rc)
        rc = kpf_h5_attr_string(h, path, "jacobian",
                                s->continuous ? "J_f of the vector field (stable: Re < 0)"
                                              : "J_F of the map (stable: |lambda| < 1)",
                                err);
    join(path, sizeof path, prefix, "eigenvalues_im");
    if (!rc) rc = kpf_h5_write(h, path, 2, dims, s->ev_im, err);
    dims[1] = s->n_vec;
    join(path, sizeof path, prefix, "eigenvectors_re");
    if (!rc && s->n_vec) rc = kpf_h5_write(h, path, 3, dims, s->vec_re, err);
    join(path, sizeof path, prefix, "eigenvectors_im");
    if (!rc && s->n_vec) rc = kpf_h5_write(h, path, 3, dims, s->vec_im, err);
    return rc;
}

int kpf_internal_fpa_readout(kpf_model *m, const kpf_fp_set *s, const double *x_star,
                             double **y, kpf_error *err)
{
    size_t P = s->P ? s->P : 1;
    double *x = calloc(P * (m->n_in ? m->n_in : 1), sizeof(double)), *t = calloc(P, sizeof(double));
    size_t *trial = calloc(P, sizeof(size_t));
    *y = calloc(P * m->n_out, sizeof(double));
    int rc = x && t && trial && *y ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t p = 0; !rc && x_star && p < s->P; p++)
        memcpy(x + p * m->n_in, x_star, m->n_in * sizeof(double));
    kpf_rows rows = {.R = s->P, .z = s->z, .x = x, .trial = trial, .t = t};
    if (!rc && s->P) rc = kpf_model_reserve(m, s->P, err);
    if (!rc && s->P) rc = kpf_readout(m, &rows, *y, err);
    free(x);
    free(t);
    free(trial);
    return rc;
}

int kpf_internal_fpa_write(kpf_h5 *h, const char *prefix, const kpf_fp_set *s,
                           const double *x_star, size_t n_in, const double *y, size_t n_out,
                           kpf_error *err)
{
    char path[600];
    double count = (double)s->P;
    size_t one = 1, dims[2] = {s->P, s->n};
    join(path, sizeof path, prefix, "count");
    int rc = kpf_h5_write(h, path, 1, &one, &count, err);
    join(path, sizeof path, prefix, "input");
    if (!rc && n_in) rc = kpf_h5_write(h, path, 1, &n_in, x_star, err);
    if (rc || !s->P)
        return rc;
    int *nu = malloc(s->P * sizeof(int));
    if (!nu)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t p = 0; p < s->P; p++)
        nu[p] = (int)s->n_unstable[p];
    join(path, sizeof path, prefix, "points");
    rc = kpf_h5_write(h, path, 2, dims, s->z, err);
    join(path, sizeof path, prefix, "q");
    if (!rc) rc = kpf_h5_write(h, path, 1, dims, s->q, err);
    join(path, sizeof path, prefix, "kind");
    if (!rc) rc = write_ints(h, path, s->P, s->kind, err);
    if (!rc) rc = kpf_h5_attr_string(h, path, "values", "0 fixed, 1 slow", err);
    join(path, sizeof path, prefix, "n_unstable");
    if (!rc) rc = write_ints(h, path, s->P, nu, err);
    join(path, sizeof path, prefix, "class");
    if (!rc) rc = write_ints(h, path, s->P, s->cls, err);
    if (!rc) rc = kpf_h5_attr_string(h, path, "values", "0 stable, 1 saddle, 2 unstable", err);
    if (!rc) rc = write_eigen(h, prefix, s, err);
    size_t ydims[2] = {s->P, n_out};
    join(path, sizeof path, prefix, "outputs");
    if (!rc && y && n_out) rc = kpf_h5_write(h, path, 2, ydims, y, err);
    free(nu);
    return rc;
}
