/* The initialisation keys of the rnn plugin's two forms (rnn_init.h). */
#include "rnn_init.h"

#include <math.h>

#include <gsl/gsl_randist.h>

static const char *const dist_names[] = {"gaussian", "uniform_pytorch", NULL};

int rnn_init_read(const kpf_node *node, const char *plugin, int dflt_dist, rnn_init *out,
                  kpf_error *err)
{
    const kpf_node *init = NULL;
    int rc;
    double g;
    out->dist = dflt_dist;
    if ((rc = kpf_cfg_double(node, "g", KPF_CFG_OPTIONAL, 1.0, 0.0, 1e6, &g, err)))
        return rc;
    if ((rc = kpf_cfg_map(node, "init", KPF_CFG_OPTIONAL, &init, err)))
        return rc;
    if ((rc = kpf_cfg_choice(init, "dist", KPF_CFG_OPTIONAL, dist_names, dflt_dist, &out->dist,
                             err)))
        return rc;
    const kpf_node *gain = init ? kpf_node_get(init, "gain") : NULL;
    if (gain && kpf_node_get(node, "g"))
        return kpf_node_error(gain, err,
                              "%s: the gain is given twice (g and init.gain); keep one", plugin);
    if ((rc = kpf_cfg_double(init, "gain", KPF_CFG_OPTIONAL, g, 0.0, 1e6, &out->gain, err)))
        return rc;
    return KPF_OK;
}

void rnn_fill_uniform(gsl_rng *rng, double a, size_t count, double *x)
{
    for (size_t i = 0; i < count; i++)
        x[i] = gsl_ran_flat(rng, -a, a);
}

void rnn_fill_gaussian(gsl_rng *rng, double sd, size_t count, double *x)
{
    for (size_t i = 0; i < count; i++)
        x[i] = gsl_ran_gaussian(rng, sd);
}
