/* ltr networks for the fitting code (ltr_fit.h): the study's default spec,
 * models created from a spec through the plugin's typed feature
 * ("kpf.ltr.spec/1"), and their factors read through the plugin's
 * "kpf.ltr.factors/1" interface — the study never reads θ's layout. */
#include <stdlib.h>
#include <string.h>

#include "ltr_fit.h"

void kpf_ltr_spec_default(kpf_ltr_spec *s)
{
    memset(s, 0, sizeof *s);
    s->n = 32;
    s->rank = 3;
    s->K = 1;
    s->tau = 1.0;
    s->dt = 0.1;
    s->act = KPF_ACTIVATION_TANH;
    s->smooth = 1;
    s->length = 15.0;
    s->scale = 1.0;
    s->jitter = 0.1;
    s->q_init = 1.0;
    s->c_init = 1.0;
    s->input_scale = 1.0;
    s->readout_scale = 1.0;
}

int kpf_ltr_model_create(const kpf_plugin *ltr, const kpf_ltr_spec *s, size_t n_in,
                         size_t n_out, uint64_t seed, kpf_model **out, kpf_error *err)
{
    const kpf_model_feature spec = {KPF_LTR_SPEC_FEATURE, s};
    const kpf_model_feature *const features[] = {&spec, NULL};
    return kpf_model_create_typed(ltr, NULL, features, n_in, n_out, s->K, seed, out, err);
}

int kpf_ltr_model_factors(const kpf_model *m, double *a, double *b, double *C,
                          kpf_error *err)
{
    const kpf_ltr_factors *f = kpf_model_extension(m, KPF_LTR_FACTORS_INTERFACE);
    if (!f)
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "model '%s' has no %s interface (not the ltr plugin?)",
                             m->desc->name, KPF_LTR_FACTORS_INTERFACE);
    memcpy(a, f->a, f->rank * f->n * sizeof(double));
    memcpy(b, f->b, f->rank * f->n * sizeof(double));
    memcpy(C, f->C, f->rank * f->K * sizeof(double));
    return KPF_OK;
}

int kpf_ltr_factors_of(const kpf_plugin *ltr, const kpf_ltr_spec *s, size_t n_in,
                       size_t n_out, const double *theta, size_t m, double *a, double *b,
                       double *C, kpf_error *err)
{
    kpf_model *mdl = NULL;
    int rc = kpf_ltr_model_create(ltr, s, n_in, n_out, 0, &mdl, err);
    if (!rc && mdl->m != m)
        rc = kpf_error_set(err, KPF_EINVAL,
                           "ltr factors: θ has %zu values but the spec's network has %zu", m,
                           mdl->m);
    if (!rc) {
        memcpy(mdl->theta, theta, m * sizeof(double));
        rc = kpf_model_theta_changed(mdl, err);
    }
    if (!rc)
        rc = kpf_ltr_model_factors(mdl, a, b, C, err);
    kpf_model_free(mdl);
    return rc;
}
