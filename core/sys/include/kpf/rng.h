/* kpf/rng.h — independent, reproducible random streams from one seed.
 *
 * Initialisation, data and minibatch draws each take their own stream, so
 * that changing e.g. the batch order leaves the initial weights untouched.
 * A stream is GSL's mt19937 seeded from splitmix64(seed, stream id). */
#ifndef KPF_RNG_H
#define KPF_RNG_H

#include "kpf/export.h"

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

enum kpf_rng_stream {
    KPF_RNG_INIT = 1,  /* model and readout parameters */
    KPF_RNG_DATA = 2,  /* task trials and their noise  */
    KPF_RNG_BATCH = 3, /* minibatch selection          */
    KPF_RNG_EVAL = 4,  /* evaluation set               */
    KPF_RNG_CHECK = 5  /* conformance checks           */
};

uint64_t kpf_rng_derive(uint64_t seed, uint64_t stream);
/* Allocate a generator for (seed, stream); free with gsl_rng_free. */
int kpf_rng_alloc(uint64_t seed, uint64_t stream, gsl_rng **out, kpf_error *err);

KPF_END_DECLS
#endif
