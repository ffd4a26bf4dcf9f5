/* The spectra analysis's second convention (private): explained variance
 * against the whole trace of the consensus Gram operator instead of the
 * sum of its top k eigenvalues (spectra_trace.c). */
#ifndef KPF_SPECTRA_TRACE_H
#define KPF_SPECTRA_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/operator.h"

enum { SPT_OFF = 0, SPT_AUTO = 1, SPT_EXACT = 2, SPT_HUTCHPP = 3 };

typedef struct spectra_trace_opts {
    int mode;          /* SPT_*                                               */
    size_t probes;     /* Hutch++ operator applications                      */
    size_t exact_max;  /* auto: exact when the reduced space is this small   */
} spectra_trace_opts;

typedef struct spectra_trace_result {
    double trace;      /* Σ σ_i^p over every component: tr⟨A A*⟩ = Σ λ_i at
                          p = 2, tr⟨A A*⟩² = Σ λ_i² at p = 4                  */
    double effrank;    /* effective rank (0.95) against the trace; NaN when
                          Hutch++ and the top k explain less than 0.95       */
    double topk;       /* Σ_{i<k} σ_i^p / trace                              */
    int exact;         /* 1: trace and effrank from the full dense spectrum   */
} spectra_trace_result;

/* `trace: off|auto|exact|hutchpp` [off], `trace_probes` [60],
 * `trace_exact_max` [512] from the spectra settings. */
int kpf_internal_spectra_trace_read(const kpf_node *node, spectra_trace_opts *o,
                                    kpf_error *err);

/* For A's consensus spectrum sv (k values, σ_i = √λ_i of ⟨A A*⟩ averaged
 * over `axes`): the trace, cum[i] = Σ_{j≤i} σ_j^p / trace (k values), the
 * effective rank and the top-k fraction, with p = power (2 or 4; 4 takes
 * Hutch++ of ⟨A A*⟩² when not exact).  ev: room for the reduced space's
 * dimension (exact path). */
int kpf_internal_spectra_trace(kpf_op *A, unsigned axes, const double *sv, size_t k,
                               double power, const spectra_trace_opts *o, uint64_t seed,
                               double *cum, double *ev, spectra_trace_result *res,
                               kpf_error *err);

#endif
