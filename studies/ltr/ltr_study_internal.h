/* Shared between the `ltr_fit:` study's parser/runner (ltr_study.c) and its
 * output writers (ltr_study_output.c); see kpf/ltr_fit.h and docs/ltr.md. */
#ifndef KPF_LTR_STUDY_INTERNAL_H
#define KPF_LTR_STUDY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "ltr_fit.h"

/* Everything the config says, plus the data and masks it leads to. */
typedef struct ltr_study {
    const char *source;       /* config file name (for summary.json)      */
    size_t threads;           /* top-level `threads` (0: OpenBLAS default) */
    kpf_ltr_spec model;       /* the student; rank set per sweep point     */
    kpf_ltr_fit_opts fit;
    kpf_ltr_cv_opts cv;
    size_t R_min, R_max;      /* ranks fitted: R_min … R_max               */
    double rel_tol, abs_tol;
    int init_teacher;         /* fit.init: teacher (restart 0 at R* starts
                                 at the teacher's θ)                     */
    char *file;               /* data: {file:} resolved, or NULL           */
    int teacher;              /* data: {teacher:}                          */
    kpf_ltr_spec tspec;       /* the teacher (K = trials)                  */
    kpf_ltr_teacher_opts topts;
    kpf_ltr_data *d;
    double *theta_t;          /* teacher θ (m_t values), NULL for a file   */
    size_t m_t;
    double *train, *test;     /* CV masks [N][T][K]                        */
} ltr_study;

/* The sweep's results, one entry per rank R = 1 … R_max. */
typedef struct ltr_sweep {
    size_t R_min, R_max, chosen;
    kpf_ltr_fit_result *fits; /* fits[R − R_min], R = R_min … R_max        */
    double *seconds;          /* wall time of each rank's fit              */
    double threshold;         /* (1 + rel_tol)·min UV + abs_tol            */
    double teacher_train_uv;  /* noiseless teacher vs data (NaN: no teacher) */
    double teacher_test_uv;
    double teacher_train_loss; /* the fits' objective at the teacher's θ
                                 with M by least squares (NaN: none)     */
    /* recovery of the teacher's components by the rank-R* fits: */
    int matched;              /* R* within R_min … R_max                   */
    kpf_ltr_match kept;       /* the kept restart                          */
    kpf_ltr_match *restart;   /* every restart (score NaN: diverged)       */
    size_t kruskal[3];        /* k-ranks of the teacher's a, b, C (tol 1e-6) */
    double c_sv[64], c_centred_sv[64]; /* teacher C's singular values      */
    double data_seconds, total_seconds;
} ltr_sweep;

/* Outputs into dir, each file created exclusively. */
int kpf_ltr_study_write_sweep(const char *dir, const ltr_study *st, const ltr_sweep *sw,
                              kpf_error *err);
/* fits.h5 and trial_factors: the factors of each θ come from the ltr
 * plugin (kpf_ltr_factors_of). */
int kpf_ltr_study_write_fits(const char *dir, const kpf_plugin *ltr, const ltr_study *st,
                             const ltr_sweep *sw, kpf_error *err);
/* trial_factors.dat/.png; *corr (R* values, NaN when unmatched) receives
 * the correlation of each teacher trial factor with its matched fit factor
 * (corr may be NULL; untouched without a teacher). */
int kpf_ltr_study_write_factors(const char *dir, const kpf_plugin *ltr, const ltr_study *st,
                                const ltr_sweep *sw, double *corr, kpf_error *err);
int kpf_ltr_study_write_summary(const char *dir, const ltr_study *st, const ltr_sweep *sw,
                                const double *corr, kpf_error *err);

#endif
