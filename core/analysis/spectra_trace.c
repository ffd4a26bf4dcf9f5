/* Explained variance against the whole trace (spectra_trace.h).  KPFlow
 * normalises a spectrum by the sum of its top k eigenvalues, so a high-rank
 * operator such as P looks like it is explained by k components and its
 * effective rank is capped at k.  Here the total is tr⟨A A*⟩, the sum of all
 * eigenvalues of the averaged Gram operator: exactly from its full dense
 * spectrum when the reduced space is small (then the effective rank counts
 * every component), else by Hutch++ (kpf_hutchpp).  With the σ⁴ convention
 * (power 4) the total is Σ λ_i² = tr⟨A A*⟩², Hutch++ of the squared
 * operator when not exact. */
#include <math.h>
#include <string.h>

#include "kpf/linalg.h"
#include "kpf/spectral.h"
#include "spectra_trace.h"

static const char *const mode_names[] = {"off", "auto", "exact", "hutchpp", NULL};

int kpf_internal_spectra_trace_read(const kpf_node *node, spectra_trace_opts *o,
                                    kpf_error *err)
{
    int rc = kpf_cfg_choice(node, "trace", 0, mode_names, SPT_OFF, &o->mode, err);
    if (!rc) rc = kpf_cfg_size(node, "trace_probes", 0, 60, 3, 1000000, &o->probes, err);
    if (!rc) rc = kpf_cfg_size(node, "trace_exact_max", 0, 512, 1, 100000, &o->exact_max, err);
    return rc;
}

/* All eigenvalues of the averaged Gram operator (dense), clipped at 0,
 * descending: the trace and the uncapped effective rank. */
static int exact(kpf_op *G, double power, double *ev, spectra_trace_result *res,
                 kpf_error *err)
{
    size_t d = kpf_space_size(&G->in);
    int rc = kpf_eigsh_dense(G, d, KPF_EIG_LARGEST_ALGEBRAIC, ev, NULL, err);
    double tr = 0;
    for (size_t i = 0; !rc && i < d; i++) {
        ev[i] = ev[i] > 0 ? sqrt(ev[i]) : 0.0; /* σ_i, for kpf_effrank */
        tr += power == 2.0 ? ev[i] * ev[i] : (ev[i] * ev[i]) * (ev[i] * ev[i]);
    }
    res->trace = tr;
    res->exact = 1;
    if (!rc && tr > 0)
        rc = kpf_effrank_pow(ev, d, tr, 0.95, power, &res->effrank, err);
    return rc;
}

/* Hutch++ of ⟨A A*⟩ (power 2) or of its square (power 4). */
static int estimate(kpf_op *G, double power, size_t probes, uint64_t seed, double *tr,
                    kpf_error *err)
{
    if (power == 2.0)
        return kpf_hutchpp(G, probes, seed, tr, err);
    kpf_op *G2 = NULL;
    int rc = kpf_op_compose(G, G, &G2, err);
    if (!rc)
        rc = kpf_hutchpp(G2, probes, seed, tr, err);
    kpf_op_free(G2);
    return rc;
}

int kpf_internal_spectra_trace(kpf_op *A, unsigned axes, const double *sv, size_t k,
                               double power, const spectra_trace_opts *o, uint64_t seed,
                               double *cum, double *ev, spectra_trace_result *res,
                               kpf_error *err)
{
    kpf_op *gram = NULL, *avg = NULL;
    *res = (spectra_trace_result){NAN, NAN, NAN, 0};
    int rc = kpf_op_gram(A, &gram, err);
    if (!rc) rc = kpf_op_average(gram, axes, &avg, err);
    size_t d = avg ? kpf_space_size(&avg->in) : 0;
    int dense = o->mode == SPT_EXACT || (o->mode == SPT_AUTO && d <= o->exact_max);
    if (!rc && dense)
        rc = exact(avg, power, ev, res, err);
    else if (!rc)
        rc = estimate(avg, power, o->probes, seed, &res->trace, err);
    if (avg)
        kpf_op_free(avg);
    if (gram)
        kpf_op_free(gram);
    if (rc)
        return kpf_error_prefix(err, rc, "trace of ⟨A A*⟩: ");
    if (!(res->trace > 0)) {
        for (size_t i = 0; i < k; i++)
            cum[i] = NAN;
        return KPF_OK;
    }
    rc = kpf_explained_variance_pow(sv, k, res->trace, power, cum, err);
    res->topk = k ? cum[k - 1] : NAN;
    /* Hutch++: the rank is known only when the top k reach 0.95 of it. */
    if (!rc && !res->exact && res->topk >= 0.95)
        rc = kpf_effrank_pow(sv, k, res->trace, 0.95, power, &res->effrank, err);
    return rc;
}
