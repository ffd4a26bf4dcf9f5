/* The `interference` analysis's state, shared by its files (private):
 * interference_config.c (settings, buffers), interference_analysis.c (the
 * snapshots and results), interference_plot.c (figures). */
#ifndef KPF_INTERFERENCE_INTERNAL_H
#define KPF_INTERFERENCE_INTERNAL_H

#include "kpf/analysis.h"

/* Longest filter name: the longest scalar built from it,
 * "interference_cum_<name>", stays within KPF_ANALYSIS_SCALAR_NAME_MAX. */
#define ITF_FILTER_NAME_MAX 32

/* Per-snapshot matrices kept for the run-level outputs and figures. */
enum { ITF_M = 0, ITF_CUM = 1, ITF_RAYLEIGH = 2, ITF_ALIGN = 3, ITF_NORM = 4, ITF_N_MATS = 5 };

typedef struct itf_filter {
    char name[ITF_FILTER_NAME_MAX + 1];
    double *F;                  /* S×S, 0 or 1 */
    /* Sweep-scalar names (interference_cum_<name>, task_alignment_<name>). */
    char scalar[2][KPF_ANALYSIS_SCALAR_NAME_MAX + 1];
} itf_filter;

typedef struct itf {
    size_t S;
    const char *const *names; /* the task's sub-task names (the task outlives us) */
    itf_filter *filters;      /* [0] is "offdiag", then the YAML's, in order */
    size_t n_filters;
    int rayleigh;             /* compute R_ij */
    size_t matched;           /* matched trials per sub-task (0: no task alignment) */
    size_t cap, n;            /* snapshots: room, taken */
    size_t *iteration;
    double *mat[ITF_N_MATS];  /* cap × S² each; NaN where not computed */
    int resumed;              /* cumulative sums are NaN after a resume */
    /* buffers for one snapshot */
    size_t B, T, n_state;
    int *group;
    double *errv, *y, *dy;
    kpf_task_batch *mb;       /* matched trials, drawn once at create */
    kpf_traj *mtr;
} itf;

/* S² entries of matrix `which` at snapshot k. */
static inline double *itf_at(const itf *s, int which, size_t k)
{
    return s->mat[which] + k * s->S * s->S;
}

/* interference_config.c */
int kpf_internal_itf_create(const kpf_node *node, const kpf_analysis_setup *setup, itf **out,
                            kpf_error *err);
void kpf_internal_itf_free(itf *s);

/* interference_plot.c */
int kpf_internal_itf_plot(const itf *s, const char *dir, kpf_error *err);

#endif
