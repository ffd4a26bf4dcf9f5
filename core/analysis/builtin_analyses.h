/* The built-in analyses' descriptors, one per file (private to libkpf; the
 * table that enumerates them is analysis_desc.c). */
#ifndef KPF_BUILTIN_ANALYSES_H
#define KPF_BUILTIN_ANALYSES_H

#include "kpf/analysis.h"

extern const kpf_analysis_desc kpf_analysis_spectra;  /* spectra.c  */
extern const kpf_analysis_desc kpf_analysis_pca;      /* pca.c      */
extern const kpf_analysis_desc kpf_analysis_lyapunov; /* lyapunov_analysis.c */
extern const kpf_analysis_desc kpf_analysis_delta_w;  /* delta_w_analysis.c  */
extern const kpf_analysis_desc kpf_analysis_cp;       /* cp_analysis.c       */
extern const kpf_analysis_desc kpf_analysis_interference; /* interference_analysis.c */
extern const kpf_analysis_desc kpf_analysis_alignment;    /* alignment_analysis.c    */
extern const kpf_analysis_desc kpf_analysis_fixed_points; /* fixed_points_analysis.c */
extern const kpf_analysis_desc kpf_analysis_dw_shuffle;   /* dw_shuffle_analysis.c   */
extern const kpf_analysis_desc kpf_analysis_w_spectrum;   /* w_spectrum_analysis.c   */

#endif
