/* lrnn_basis.h — the seeded orthogonal bases of the lrnn plugin, shared with
 * its study (studies/lrnn) and its tasks. */
#ifndef KPF_LRNN_BASIS_H
#define KPF_LRNN_BASIS_H

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"

enum kpf_lrnn_which { KPF_LRNN_U = 1, KPF_LRNN_V = 2, KPF_LRNN_R = 3 };

/* Q (n×n, row-major): the orthogonal factor of the QR decomposition of an
 * n×n standard Gaussian matrix (signs fixed so that R has a positive
 * diagonal: Haar distributed), drawn from mt19937 seeded with
 * kpf_rng_derive(seed, 0x6c726e6e00 + which).  Deterministic. */
int kpf_lrnn_orthogonal(uint64_t seed, int which, size_t n, double *Q, kpf_error *err);

#endif
