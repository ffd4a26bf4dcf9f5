/* kpf/misdirection.h — gradient misdirection (KPFlow App. B.4, eqs. 43–45).
 *
 * With P = U Σ Vᵀ, parameter-free learning moves the states by
 * −P P* Err = −U Σ² Uᵀ Err (eq. 43): an error along u_i is corrected along
 * u_i, scaled by σ_i².  Learning through parameters moves them by
 * −P K P* Err = −U B Uᵀ Err with
 *
 *     B = Σ Vᵀ K V Σ,     B_ij = σ_i σ_j ⟨v_i, K v_j⟩       (eq. 44)
 *
 * so K "misdirects" the correction whenever B is not proportional to Σ².
 * On P's top-k singular triplets (k×k, the low-rank projection the paper
 * suggests) this measures
 *
 *     cos(B, Σ²) = tr(B Σ²) / (‖B‖_F ‖Σ²‖_F)   (1: no misdirection)
 *     off-diagonal share ‖B − diag B‖_F² / ‖B‖_F²
 *
 * both invariant to the signs of the singular vectors. */
#ifndef KPF_MISDIRECTION_H
#define KPF_MISDIRECTION_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/spectral.h"
#include "kpf/trajectory.h"

KPF_BEGIN_DECLS

typedef struct kpf_misdirection_result {
    double cos_b_sigma2;   /* cos(B, Σ²)                        */
    double offdiag_share;  /* ‖B − diag B‖_F² / ‖B‖_F²          */
} kpf_misdirection_result;

/* P's top-k singular triplets (kpf_svds with o, NULL: defaults) at m's θ
 * along tr, then B.  sv: k singular values; B: k×k row-major (either may be
 * NULL); res: the two measures.  1 ≤ k < B·T·n. */
int kpf_misdirection(kpf_model *m, const kpf_traj *tr, size_t k, const kpf_eig_opts *o,
                     double *sv, double *B, kpf_misdirection_result *res, kpf_error *err);

/* The measures of a given k×k B and σ (for dense references). */
kpf_misdirection_result kpf_misdirection_measures(size_t k, const double *sv, const double *B);

KPF_END_DECLS
#endif
