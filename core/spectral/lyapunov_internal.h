/* Private: the block of tangent vectors the Lyapunov tools push along a
 * trajectory — k vectors per trial as B·k rows, each row replicating its
 * trial's stage states, tapes, inputs and times, so one kpf_step_tangent
 * call per step moves them all. */
#ifndef KPF_LYAPUNOV_INTERNAL_H
#define KPF_LYAPUNOV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/lyapunov.h"
#include "kpf/stepper.h"

typedef struct kpf_lyap_ws {
    kpf_model *m;
    const kpf_traj *tr;
    size_t B, k, n, R;     /* R = B·k rows                              */
    double *stage_z;       /* [n_stages][R][n]                          */
    double *stage_tape;    /* [n_stages][R][tape_width], NULL if none   */
    double *x;             /* [R][n_in]                                 */
    size_t *trial;         /* [R]                                       */
    double *t;             /* [R]                                       */
    double *y, *y_next;    /* [R][n]: row b·k + j is vector j of trial b */
    double *qr;            /* thin-QR workspace                          */
    double *r, *logd;      /* k×k R and k logs when the caller wants none */
} kpf_lyap_ws;

/* Buffers for k vectors per trial of tr; reserves model scratch for B·k rows. */
int kpf_lyap_ws_alloc(kpf_lyap_ws *w, kpf_model *m, const kpf_traj *tr, size_t k,
                      kpf_error *err);
void kpf_lyap_ws_free(kpf_lyap_ws *w);

/* y ← J_F(step) y for every row. */
int kpf_lyap_ws_step(kpf_lyap_ws *w, size_t step, kpf_error *err);

/* Y_b = Q R (Y_b the n×k matrix whose columns are trial b's vectors); the
 * vectors become Q's columns, logdiag[i] = log|R_ii|, and R (k×k row-major,
 * may be NULL) gets R. */
int kpf_lyap_ws_qr(kpf_lyap_ws *w, size_t b, double *logdiag, double *R, kpf_error *err);

/* Every trial's vectors: the first k columns of the identity (ident = 1) or
 * a seeded random orthonormal system. */
int kpf_lyap_ws_init(kpf_lyap_ws *w, int ident, uint64_t seed, kpf_error *err);

/* Singular values (descending) of the rows × cols matrix A, stored
 * COLUMN-major (A[i + j·rows]), rows ≥ cols, overwritten, by LAPACK's
 * one-sided Jacobi (dgesvj, from OpenBLAS), which keeps high relative
 * accuracy for column-graded matrices — what the finite-time spectra need
 * for their smallest values.  GSL's Jacobi SVD cannot serve here: from about
 * 80 columns on it stops early without an error (tests/test_svd.c in
 * linalg).  work holds KPF_LYAP_SVALS_WORK(rows, cols) doubles. */
#define KPF_LYAP_SVALS_WORK(rows, cols) ((rows) + (cols) + 6)
int kpf_lyap_svals(double *A, size_t rows, size_t cols, double *sv, double *work,
                   kpf_error *err);

#endif
