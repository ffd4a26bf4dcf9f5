/* kpf/instance.h — a created model on the host side.
 *
 * kpf_model wraps one plugin instance with everything the core adds to it:
 * the parameter vector θ (owned here), the core's linear readout when the
 * plugin has none, the stepper that turns a continuous vector field into a
 * discrete map, and the scratch space the ops need (private to this layer:
 * kpf_model_reserve sizes it, the op wrappers attach it).  Core code reads
 * the fields directly; only the functions below change them.
 *
 * θ layout.  theta[0 … m_model) is the plugin's own vector; when the plugin
 * has no readout op, the core appends W_out (n_out×n, row-major) and b_out
 * (n_out) as blocks "W_out" and "b_out".  All gradient-like vectors in the
 * core have the full length m. */
#ifndef KPF_INSTANCE_H
#define KPF_INSTANCE_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/model.h"
#include "kpf/plugin.h"

KPF_BEGIN_DECLS

struct kpf_stepper_type;
struct kpf_model_scratch; /* model_internal.h */

typedef struct kpf_model {
    const kpf_plugin *plugin;
    const kpf_model_desc *desc;
    void *self;
    kpf_model_layout layout;      /* as reported by the plugin's params op */

    size_t n, n_in, n_out, n_trials;
    size_t m_model;               /* plugin part of θ                  */
    size_t m;                     /* full θ                            */
    double *theta;                /* m values, owned                   */
    size_t n_blocks;
    kpf_param_block *blocks;      /* plugin blocks, then W_out, b_out  */

    const struct kpf_stepper_type *stepper;
    double dt;                    /* step size (1 for discrete maps)   */
    int core_readout;             /* 1: W_out z + b_out is the readout */

    struct kpf_model_scratch *scratch; /* owned; opaque outside core/model */
} kpf_model;

/* Create from the YAML `model:` map (key `plugin` is read by the caller).
 * Core keys read here: `step` (euler | rk4, continuous models only), `dt`
 * (continuous only), `readout.init_std` (core readout; default 1/√n).
 * Plugin keys are read by the plugin; any key nobody reads is an error.
 * `seed` selects the KPF_RNG_INIT stream. */
int kpf_model_create(const kpf_plugin *plugin, const kpf_node *model_node,
                     size_t n_in, size_t n_out, size_t n_trials, uint64_t seed,
                     kpf_model **out, kpf_error *err);

/* Create from typed configurations instead of (or besides) YAML:
 * `features` is a NULL-terminated list of kpf_model_feature (NULL: none),
 * handed to the plugin's create as kpf_model_args.features; a plugin that
 * recognises one of them (its header names it, e.g. "kpf.ltr.spec/1") takes
 * its settings from it and reads no plugin keys from model_node.
 * model_node may be NULL (no YAML at all: the core keys take their defaults,
 * dt the plugin's dt_default); when given, its core keys are read as by
 * kpf_model_create and a key nobody read is still an error.  With the same
 * settings, typed and YAML creation give the same θ bit for bit. */
int kpf_model_create_typed(const kpf_plugin *plugin, const kpf_node *model_node,
                           const kpf_model_feature *const *features, size_t n_in,
                           size_t n_out, size_t n_trials, uint64_t seed, kpf_model **out,
                           kpf_error *err);

/* Create with default settings (an empty model map): used by checks. */
int kpf_model_create_default(const kpf_plugin *plugin, size_t n_in, size_t n_out,
                             size_t n_trials, uint64_t seed, kpf_model **out,
                             kpf_error *err);
void kpf_model_free(kpf_model *m);

/* Make sure scratch space exists for blocks of up to R rows.  Allocates;
 * call it before a loop, never inside one. */
int kpf_model_reserve(kpf_model *m, size_t R, kpf_error *err);

/* Tell the plugin θ changed (calls its prepare op, if any). */
int kpf_model_theta_changed(kpf_model *m, kpf_error *err);

/* The block called `name`, or NULL. */
const kpf_param_block *kpf_model_block(const kpf_model *m, const char *name);

/* The plugin's table for interface `name` (its `extension` op), or NULL when
 * the plugin has no such op (an older, shorter descriptor included) or does
 * not provide `name`.  The table belongs to the plugin, valid until
 * kpf_model_free; its type is the one the name defines (the core's:
 * KPF_ACTIVATION_INTERFACE in kpf/activation.h; a plugin's: its header). */
const void *kpf_model_extension(const kpf_model *m, const char *name);

/* The observed components of the state (the plugin's `observed` op,
 * kpf/model.h): the indices, increasing and each < n, with *count set to
 * how many; NULL with *count = n when every component is observed (no op,
 * an older, shorter descriptor, or the op returns NULL).  A list that is
 * empty, not increasing or out of range is the plugin's fault: NULL,
 * *count = 0 and KPF_EPLUGIN in err. */
const size_t *kpf_model_observed(const kpf_model *m, size_t *count, kpf_error *err);

/* Plugin ops at a block of rows, with the model's scratch attached.  `rows`
 * need not set work; R must not exceed the last kpf_model_reserve. */
int kpf_model_f(kpf_model *m, const kpf_rows *rows, double *out, kpf_error *err);
int kpf_model_tape(kpf_model *m, const kpf_rows *rows, double *tape, kpf_error *err);
int kpf_model_jz(kpf_model *m, const kpf_rows *rows, const double *v, double *out,
                 kpf_error *err);
int kpf_model_jzT(kpf_model *m, const kpf_rows *rows, const double *w, double *out,
                  kpf_error *err);
/* dth and g have the full length m; only the plugin part is used. */
int kpf_model_jth(kpf_model *m, const kpf_rows *rows, const double *dth, double *out,
                  kpf_error *err);
int kpf_model_jthT(kpf_model *m, const kpf_rows *rows, const double *w, double *g,
                   kpf_error *err);

/* Readout y = g(z; θ) ∈ R^{n_out}: the plugin's op or the core's W_out z + b_out. */
int kpf_readout(kpf_model *m, const kpf_rows *rows, double *y, kpf_error *err);
int kpf_readout_jz(kpf_model *m, const kpf_rows *rows, const double *v, double *out,
                   kpf_error *err);
int kpf_readout_jzT(kpf_model *m, const kpf_rows *rows, const double *w, double *out,
                    kpf_error *err);
int kpf_readout_jth(kpf_model *m, const kpf_rows *rows, const double *dth, double *out,
                    kpf_error *err);
int kpf_readout_jthT(kpf_model *m, const kpf_rows *rows, const double *w, double *g,
                     kpf_error *err);

/* Initial state z₀(θ, trial) for R trials: the plugin's op or zeros. */
int kpf_init_state(kpf_model *m, size_t R, const size_t *trial, double *z0,
                   kpf_error *err);
int kpf_init_state_jth(kpf_model *m, size_t R, const size_t *trial, const double *dth,
                       double *out, kpf_error *err);
int kpf_init_state_jthT(kpf_model *m, size_t R, const size_t *trial, const double *w,
                        double *g, kpf_error *err);

KPF_END_DECLS
#endif
