/* kpf/sweep.h — parameter sweeps over any config key.
 *
 *   sweep:
 *     values:                       # the grid is the product of all keys
 *       model.g: [0.5, 1.0, 1.5]    # a list of values, or
 *       train.lr: {logspace: [-4, -2, 3]}   # 10^-4 … 10^-2, 3 points
 *       model.n: {linspace: [32, 128, 4]}   # 32 … 128, 4 points
 *     repeats: 2                    # each point with seeds seed, seed+1, …
 *     plot: {x: model.g, y: effrank_K}      # optional PNG of a result
 *
 * A point is a list of `key=value` assignments (applied like --set, plus
 * seed=…); points are numbered grid-major (last key fastest) then repeat.
 * Every point's config is validated before any runs; a bad value is
 * reported at its place in the sweep spec.
 *
 * Limits.  At most KPF_SWEEP_MAX_KEYS keys and KPF_SWEEP_MAX_POINTS points
 * (the product of the keys' value counts and `repeats`, computed with
 * overflow checks); kpf_sweep_parse refuses a larger sweep with an error
 * located at `sweep.values`, before any point is expanded or validated. */
#ifndef KPF_SWEEP_H
#define KPF_SWEEP_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/config.h"
#include "kpf/error.h"

KPF_BEGIN_DECLS

#define KPF_SWEEP_MAX_KEYS 64
#define KPF_SWEEP_MAX_POINTS 100000

typedef struct kpf_sweep_key {
    const char *path;      /* "model.g"                    */
    const kpf_node *node;  /* its spec, for error messages */
    size_t n;
    char **values;         /* n formatted values           */
} kpf_sweep_key;

typedef struct kpf_sweep {
    size_t n_keys;
    kpf_sweep_key *keys;
    size_t repeats;
    uint64_t seed;          /* base seed                      */
    const char *plot_x, *plot_y; /* NULL: no plot            */
    size_t n_points;        /* grid size × repeats            */
} kpf_sweep;

/* Parse the `sweep:` map (NULL node: *out zeroed, n_points 0). */
int kpf_sweep_parse(const kpf_node *node, uint64_t seed, kpf_sweep *out, kpf_error *err);
void kpf_sweep_clear(kpf_sweep *s);

/* Point i: the value index of each key (idx, n_keys entries), its repeat
 * and its seed. */
void kpf_sweep_point(const kpf_sweep *s, size_t i, size_t *idx, size_t *repeat,
                     uint64_t *seed);

/* Apply point i (< n_points) to cfg (kpf_config_set of each key and of
 * `seed`).  A value the config refuses is reported at the key's spec. */
int kpf_sweep_apply(const kpf_sweep *s, size_t i, kpf_config *cfg, kpf_error *err);

/* Re-locate an error found while validating point i's config, so that it
 * names the sweep entry that produced it. */
int kpf_sweep_blame(const kpf_sweep *s, size_t i, kpf_error *err);

KPF_END_DECLS
#endif
