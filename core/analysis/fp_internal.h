/* The fixed-point finder's row blocks (private; kpf/fixed_points.h): the
 * residual r(z) and its Jacobian products on R candidate rows at once. */
#ifndef KPF_FP_INTERNAL_H
#define KPF_FP_INTERNAL_H

#include "kpf/fixed_points.h"
#include "kpf/instance.h"

typedef struct fp_rows {
    kpf_model *m;
    size_t cap, n, n_in, tape_width;
    int continuous;  /* r = f (1) or F − z (0) */
    kpf_rows rows;   /* .R set per call, .z the current linearisation point */
    double *x, *t, *tape;
    size_t *trial;
} fp_rows;

/* Rows for up to cap candidates with input x_star (NULL: 0) and `trial`;
 * reserves model scratch for cap rows. */
int kpf_internal_fp_rows_alloc(kpf_model *m, const double *x_star, size_t cap, size_t trial,
                               fp_rows *fr, kpf_error *err);
void kpf_internal_fp_rows_free(fp_rows *fr);

/* r (R×n) = r(z) at R rows (R ≤ cap); the linearisation is not touched. */
int kpf_internal_fp_residual(fp_rows *fr, size_t R, const double *z, double *r,
                             kpf_error *err);
/* Linearise at z (R rows): fill the tape there; J products below use it.
 * z is borrowed until the next call. */
int kpf_internal_fp_linearise(fp_rows *fr, size_t R, const double *z, kpf_error *err);
/* out = J_r v, J_rᵀ w (J_r = J_F − I or J_f), and the model's own J_z v
 * (J_F or J_f, for eigenvalues), each R×n at the linearisation point. */
int kpf_internal_fp_jr(fp_rows *fr, const double *v, double *out, kpf_error *err);
int kpf_internal_fp_jrT(fp_rows *fr, const double *w, double *out, kpf_error *err);
int kpf_internal_fp_jz(fp_rows *fr, const double *v, double *out, kpf_error *err);

#endif
