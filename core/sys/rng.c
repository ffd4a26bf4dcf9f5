/* Reproducible seed streams: splitmix64 mixes (seed, stream) into a GSL seed. */
#include "kpf/rng.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t kpf_rng_derive(uint64_t seed, uint64_t stream)
{
    return splitmix64(splitmix64(seed) ^ (stream * 0xD1B54A32D192ED03ull));
}

int kpf_rng_alloc(uint64_t seed, uint64_t stream, gsl_rng **out, kpf_error *err)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a random generator");
    /* mt19937 takes an unsigned long seed; 0 would select GSL's default. */
    unsigned long s = (unsigned long)kpf_rng_derive(seed, stream);
    gsl_rng_set(r, s ? s : 1ul);
    *out = r;
    return KPF_OK;
}
