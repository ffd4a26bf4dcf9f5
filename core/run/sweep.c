/* Sweep specifications: grids of config values × repeats. */
#include "kpf/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *fmt_double(double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    return strdup(buf);
}

/* {linspace: [a, b, n]} or {logspace: [a, b, n]} (exponents of 10). */
static int parse_range(const kpf_node *spec, kpf_sweep_key *k, kpf_error *err)
{
    double *x = NULL;
    int rc = kpf_cfg_range(spec, KPF_SWEEP_MAX_POINTS, &x, &k->n, err);
    if (!rc && !(k->values = calloc(k->n, sizeof(char *))))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < k->n; i++)
        if (!(k->values[i] = fmt_double(x[i])))
            rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    free(x);
    return rc;
}

static int parse_list(const kpf_node *spec, kpf_sweep_key *k, kpf_error *err)
{
    k->n = kpf_node_len(spec);
    if (k->n == 0)
        return kpf_node_error(spec, err, "expected at least one value");
    if (k->n > KPF_SWEEP_MAX_POINTS)
        return kpf_node_error(spec, err, "%zu values; at most %d are allowed", k->n,
                              KPF_SWEEP_MAX_POINTS);
    k->values = calloc(k->n, sizeof(char *));
    if (!k->values)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; i < k->n; i++) {
        const char *s = kpf_node_scalar(kpf_node_at(spec, i));
        if (!s)
            return kpf_node_error(kpf_node_at(spec, i), err, "expected a scalar value");
        if (!(k->values[i] = strdup(s)))
            return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    }
    return KPF_OK;
}

static int parse_key(const kpf_node *values, size_t i, kpf_sweep_key *k, kpf_error *err)
{
    k->path = kpf_node_key_at(values, i);
    k->node = kpf_node_get(values, k->path);
    if (!strcmp(k->path, "seed"))
        return kpf_node_error(k->node, err, "sweep seeds with `repeats`, not as a value");
    switch (kpf_node_kind(k->node)) {
    case KPF_NODE_SEQ: return parse_list(k->node, k, err);
    case KPF_NODE_MAP: return parse_range(k->node, k, err);
    default:
        return kpf_node_error(k->node, err,
                              "expected a list of values or {linspace|logspace: [a, b, n]}");
    }
}

/* Grid size so far × key i's values, refused (never wrapped) beyond
 * KPF_SWEEP_MAX_POINTS; keys after i are not expanded yet, so a refusal
 * before the last key says "at least". */
static int count_points(kpf_sweep *s, size_t i, const kpf_node *values, kpf_error *err)
{
    size_t n = s->keys[i].n;
    if (s->n_points <= KPF_SWEEP_MAX_POINTS / n) {
        s->n_points *= n;
        return KPF_OK;
    }
    double total = (double)s->repeats; /* ≤ 64 factors ≤ 10^5: no overflow */
    char factors[256] = "";
    for (size_t k = 0; k <= i; k++) {
        total *= (double)s->keys[k].n;
        size_t used = strlen(factors);
        snprintf(factors + used, sizeof factors - used, "%zu × ", s->keys[k].n);
    }
    return kpf_node_error(values, err,
                          "the sweep has %s%.15g points (%s%zu repeat%s%s); at most %d are "
                          "allowed (sweep fewer values, or split the sweep into several configs)",
                          i + 1 < s->n_keys ? "at least " : "", total, factors, s->repeats,
                          s->repeats == 1 ? "" : "s",
                          i + 1 < s->n_keys ? ", from its first keys" : "", KPF_SWEEP_MAX_POINTS);
}

int kpf_sweep_parse(const kpf_node *node, uint64_t seed, kpf_sweep *s, kpf_error *err)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    if (!node)
        return KPF_OK;
    const kpf_node *values = NULL, *plot = NULL;
    int rc = kpf_cfg_map(node, "values", KPF_CFG_REQUIRED, &values, err);
    if (!rc) rc = kpf_cfg_size(node, "repeats", 0, 1, 1, 100000, &s->repeats, err);
    if (!rc) rc = kpf_cfg_map(node, "plot", 0, &plot, err);
    if (!rc && plot) rc = kpf_cfg_string(plot, "x", KPF_CFG_REQUIRED, NULL, &s->plot_x, err);
    if (!rc && plot) rc = kpf_cfg_string(plot, "y", KPF_CFG_REQUIRED, NULL, &s->plot_y, err);
    if (rc)
        return rc;
    s->n_keys = kpf_node_len(values);
    if (s->n_keys == 0)
        return kpf_node_error(values, err, "expected at least one key to sweep");
    if (s->n_keys > KPF_SWEEP_MAX_KEYS)
        return kpf_node_error(values, err, "%zu keys swept; at most %d may be (sweep fewer keys)",
                              s->n_keys, KPF_SWEEP_MAX_KEYS);
    s->keys = calloc(s->n_keys, sizeof *s->keys);
    if (!s->keys)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    /* The count is checked after every key, so a huge grid is refused
     * before the values of the keys after it are even expanded. */
    s->n_points = s->repeats;
    for (size_t i = 0; !rc && i < s->n_keys; i++) {
        rc = parse_key(values, i, &s->keys[i], err);
        if (!rc)
            rc = count_points(s, i, values, err);
    }
    if (!rc && s->plot_x) {
        int found = 0;
        for (size_t i = 0; i < s->n_keys; i++)
            found |= !strcmp(s->keys[i].path, s->plot_x);
        if (!found)
            rc = kpf_node_error(kpf_node_get(plot, "x"), err, "'%s' is not a swept key",
                                s->plot_x);
    }
    if (rc)
        kpf_sweep_clear(s);
    return rc;
}

void kpf_sweep_clear(kpf_sweep *s)
{
    for (size_t i = 0; s->keys && i < s->n_keys; i++) {
        for (size_t j = 0; s->keys[i].values && j < s->keys[i].n; j++)
            free(s->keys[i].values[j]);
        free(s->keys[i].values);
    }
    free(s->keys);
    memset(s, 0, sizeof *s);
}

void kpf_sweep_point(const kpf_sweep *s, size_t i, size_t *idx, size_t *repeat,
                     uint64_t *seed)
{
    *repeat = i % s->repeats;
    size_t g = i / s->repeats;
    for (size_t k = s->n_keys; k-- > 0;) {
        idx[k] = g % s->keys[k].n;
        g /= s->keys[k].n;
    }
    *seed = s->seed + *repeat;
}

int kpf_sweep_apply(const kpf_sweep *s, size_t i, kpf_config *cfg, kpf_error *err)
{
    size_t idx[KPF_SWEEP_MAX_KEYS], rep;
    uint64_t seed;
    if (s->n_keys > KPF_SWEEP_MAX_KEYS) /* kpf_sweep_parse refuses these already */
        return kpf_node_error(s->keys[KPF_SWEEP_MAX_KEYS].node, err,
                              "%zu keys swept; at most %d may be", s->n_keys, KPF_SWEEP_MAX_KEYS);
    if (i >= s->n_points)
        return kpf_error_set(err, KPF_EINVAL, "sweep point %zu does not exist (the sweep has %zu)",
                             i, s->n_points);
    kpf_sweep_point(s, i, idx, &rep, &seed);
    char buf[4096];
    int rc = KPF_OK;
    for (size_t k = 0; !rc && k < s->n_keys; k++) {
        snprintf(buf, sizeof buf, "%s=%s", s->keys[k].path, s->keys[k].values[idx[k]]);
        if ((rc = kpf_config_set(cfg, buf, err)))
            kpf_sweep_blame(s, i, err);
    }
    snprintf(buf, sizeof buf, "seed=%llu", (unsigned long long)seed);
    return rc ? rc : kpf_config_set(cfg, buf, err);
}

int kpf_sweep_blame(const kpf_sweep *s, size_t i, kpf_error *err)
{
    if (!err)
        return KPF_EINVAL;
    if (s->n_keys > KPF_SWEEP_MAX_KEYS || i >= s->n_points)
        return kpf_error_prefix(err, err->code, "sweep point %zu: ", i);
    size_t idx[KPF_SWEEP_MAX_KEYS], rep;
    uint64_t seed;
    kpf_sweep_point(s, i, idx, &rep, &seed);
    /* The value came from --set text built here; name the spec instead. */
    for (size_t k = 0; k < s->n_keys; k++) {
        char needle[512];
        snprintf(needle, sizeof needle, "--set %s=", s->keys[k].path);
        if (strstr(err->msg, needle))
            return kpf_error_prefix(err, err->code, "%s:%d:%d: sweep.values.%s (point %zu, value '%s'): ",
                                    kpf_node_file(s->keys[k].node), kpf_node_line(s->keys[k].node),
                                    kpf_node_col(s->keys[k].node), s->keys[k].path, i,
                                    s->keys[k].values[idx[k]]);
    }
    return kpf_error_prefix(err, err->code, "sweep point %zu: ", i);
}
