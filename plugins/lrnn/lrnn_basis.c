/* The lrnn plugin's seeded bases (lrnn_basis.h), shared with the lrnn study:
 * a task and a model given the same basis_seed build the same U_y, V_x (and
 * R), so an aligned network can be set up without passing matrices around. */
#include "lrnn_basis.h"

#include "kpf/linalg.h"
#include "kpf/rng.h"

int kpf_lrnn_orthogonal(uint64_t seed, int which, size_t n, double *Q, kpf_error *err)
{
    if (n == 0)
        return KPF_OK;
    if (!Q)
        return kpf_error_set(err, KPF_EINVAL, "lrnn basis: Q is NULL");
    gsl_rng *rng = NULL;
    int rc = kpf_rng_alloc(seed, 0x6c726e6e00ull + (uint64_t)which, &rng, err);
    if (!rc)
        rc = kpf_haar_orthogonal(rng, n, Q, err);
    gsl_rng_free(rng);
    return rc;
}
