/* The `fixed_points` analysis's state, shared by its files (private):
 * fixed_points_analysis.c (settings, snapshots), fixed_points_output.c
 * (datasets), fixed_points_plot.c (the figure). */
#ifndef KPF_FIXED_POINTS_INTERNAL_H
#define KPF_FIXED_POINTS_INTERNAL_H

#include "kpf/analysis.h"
#include "kpf/fixed_points.h"

/* Counts of one snapshot's search (summary scalars). */
enum { FPC_FIXED = 0, FPC_SLOW, FPC_STABLE, FPC_SADDLE, FPC_UNSTABLE, FPC_CONVERGED, FPC_N };

typedef struct fpa {
    kpf_fp_opts opts;
    size_t R;              /* candidates                              */
    double noise;          /* std of the noise added to them          */
    int plot_points;       /* figure axes: PCA of the points (1) or of the trajectories (0) */
    int cand_period;       /* candidates from steps of this period only (−1: all) */
    const char *period_name;
    double *x_star;        /* n_in values                             */
    size_t n, n_in, B, T;
    double *cand;          /* R×n                                     */
    double *states;        /* T·B×n: the latest snapshot's states (figure) */
    int *period;           /* T·B period labels of the analysis trials */
    kpf_fp_set *last;      /* the latest snapshot's points            */
    double *last_y;        /* their readouts, P×n_out                 */
    size_t n_out;
    size_t last_iteration;
    size_t n_taken;
    double counts[FPC_N];  /* of the latest snapshot                  */
} fpa;

/* Count fixed/slow points and the stability of the fixed ones. */
void kpf_internal_fpa_count(const kpf_fp_set *s, double *counts);

/* fixed_points_output.c: every field of s under `prefix` ("" for a file's
 * root) in h, with the input x* (n_in values) and the readouts y (P×n_out). */
int kpf_internal_fpa_write(kpf_h5 *h, const char *prefix, const kpf_fp_set *s,
                           const double *x_star, size_t n_in, const double *y, size_t n_out,
                           kpf_error *err);
/* The model's readout at each point of s (y: P×n_out, malloc'd). */
int kpf_internal_fpa_readout(kpf_model *m, const kpf_fp_set *s, const double *x_star,
                             double **y, kpf_error *err);

/* fixed_points_plot.c: fixed_points.png in dir. */
int kpf_internal_fpa_plot(const fpa *a, const kpf_analysis_plot *p, kpf_error *err);

#endif
