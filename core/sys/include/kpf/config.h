/* kpf/config.h — YAML configuration tree with typed, validated access.
 *
 * A kpf_config owns a tree of nodes parsed from YAML by libyaml.  Every node
 * remembers the file, line and column it came from and its dotted key path
 * ("model.g", "sweep.values[2]"), so every complaint reads
 *
 *     configs/x.yaml:12:7: model.g: expected a number (got 'abc')
 *
 * Lines and columns are 1-based.  Values given on the command line with
 * kpf_config_set() ("model.g=1.5") replace or add scalars in the tree; their
 * errors are located as  --set model.g=1.5:1:COL  where COL points into the
 * value text.
 *
 * Getters mark the keys they read as used; kpf_config_check_unused() then
 * reports the first key nobody read ("unknown key"), which is how typos are
 * caught.  The "used" mark is bookkeeping and is the only thing a getter
 * changes, hence the const nodes.  Nothing here prints.
 *
 * Limits.  A config is untrusted input; before libyaml builds a document
 * from it, the text is refused (KPF_ECONFIG, located) when it is larger
 * than KPF_CONFIG_MAX_BYTES, nests deeper than KPF_CONFIG_MAX_DEPTH, has
 * more than KPF_CONFIG_MAX_ANCHORS anchors or KPF_CONFIG_MAX_ALIASES
 * aliases, or would take more than KPF_CONFIG_MAX_EXPANDED bytes once its
 * aliases are expanded.  The same limits apply to --set flow values.
 * libyaml's reader errors (NUL bytes, invalid UTF-8, control characters)
 * are located by line and column like every other error. */
#ifndef KPF_CONFIG_H
#define KPF_CONFIG_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

#define KPF_CONFIG_MAX_BYTES (4 << 20)     /* input text                      */
#define KPF_CONFIG_MAX_DEPTH 64            /* levels below the root           */
#define KPF_CONFIG_MAX_EXPANDED (64 << 20) /* the tree, aliases expanded      */
#define KPF_CONFIG_MAX_ANCHORS 256         /* per document                    */
#define KPF_CONFIG_MAX_ALIASES 65536       /* per document                    */

typedef struct kpf_config kpf_config;
typedef struct kpf_node kpf_node;

enum kpf_node_kind { KPF_NODE_SCALAR = 0, KPF_NODE_MAP = 1, KPF_NODE_SEQ = 2 };

/* Getter flags. */
#define KPF_CFG_OPTIONAL 0u
#define KPF_CFG_REQUIRED 1u

/* ---- documents ---------------------------------------------------------- */
int kpf_config_load_file(const char *path, kpf_config **out, kpf_error *err);
/* `name` plays the role of the file name in messages. */
int kpf_config_load_string(const char *yaml, const char *name, kpf_config **out,
                           kpf_error *err);
void kpf_config_free(kpf_config *cfg);
const kpf_node *kpf_config_root(const kpf_config *cfg);
/* The file name the document was loaded from (or `name`). */
const char *kpf_config_source(const kpf_config *cfg);

/* Apply "a.b.c=value": descends maps (creating missing ones), replaces or
 * adds the scalar.  Sequence items are addressed as key[i].  Fails with
 * KPF_ECONFIG when the path crosses a scalar or the syntax is wrong. */
int kpf_config_set(kpf_config *cfg, const char *assignment, kpf_error *err);

/* Report the first key (depth first, document order) that no getter read:
 * "file:line:col: model.gg: unknown key (known here: g, n, activation)". */
int kpf_config_check_unused(const kpf_config *cfg, kpf_error *err);
/* Same, restricted to the subtree under `node`. */
int kpf_node_check_unused(const kpf_node *node, kpf_error *err);

/* ---- nodes ---------------------------------------------------------------- */
int kpf_node_kind(const kpf_node *node);
const char *kpf_node_path(const kpf_node *node); /* "" for the root */
const char *kpf_node_file(const kpf_node *node);
int kpf_node_line(const kpf_node *node);
int kpf_node_col(const kpf_node *node);
/* Scalar text, or NULL for maps and sequences. */
const char *kpf_node_scalar(const kpf_node *node);
/* A scalar naming a file, as a path (*out malloc'd, the caller frees): a
 * relative one is relative to the folder of the config file that gave it,
 * or to the working directory for --set values and configs from strings. */
int kpf_node_file_path(const kpf_node *node, char **out, kpf_error *err);
/* Number of entries of a map or items of a sequence; 0 for scalars. */
size_t kpf_node_len(const kpf_node *node);
/* i-th item of a sequence, or i-th value of a map (document order). */
const kpf_node *kpf_node_at(const kpf_node *node, size_t i);
/* i-th key of a map (NULL otherwise). */
const char *kpf_node_key_at(const kpf_node *node, size_t i);
/* Value under `key` in a map, or NULL if absent (or node is not a map).
 * Marks the key used. */
const kpf_node *kpf_node_get(const kpf_node *map, const char *key);
/* Mark a node and everything under it used (for subtrees handed on whole). */
void kpf_node_mark_used(const kpf_node *node);

/* Format "file:line:col: path: <message>" into err; returns KPF_ECONFIG. */
int kpf_node_error(const kpf_node *node, kpf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- typed getters ---------------------------------------------------------
 * Each reads map[key].  Absent and optional: *out = dflt, return KPF_OK.
 * Absent and required: error at the map ("model.n: missing required key
 * (expected …)").
 * Wrong type or out of range: error at the value, saying what was expected.
 * `map` may be NULL (an absent section): then every key counts as absent. */
int kpf_cfg_double(const kpf_node *map, const char *key, unsigned flags, double dflt,
                   double lo, double hi, double *out, kpf_error *err);
int kpf_cfg_size(const kpf_node *map, const char *key, unsigned flags, size_t dflt,
                 size_t lo, size_t hi, size_t *out, kpf_error *err);
int kpf_cfg_u64(const kpf_node *map, const char *key, unsigned flags, uint64_t dflt,
                uint64_t *out, kpf_error *err);
int kpf_cfg_bool(const kpf_node *map, const char *key, unsigned flags, int dflt,
                 int *out, kpf_error *err);
/* The returned string lives as long as the config. */
int kpf_cfg_string(const kpf_node *map, const char *key, unsigned flags,
                   const char *dflt, const char **out, kpf_error *err);
/* One of a NULL-terminated list of names; *out is its index. */
int kpf_cfg_choice(const kpf_node *map, const char *key, unsigned flags,
                   const char *const *choices, int dflt, int *out, kpf_error *err);
/* A range spec {linspace: [a, b, n]} or {logspace: [a, b, n]} (10^a …
 * 10^b): n ≤ max evenly spaced values in *v (malloc'd; the caller frees).
 * Errors are located at the spec, its list or the offending number. */
int kpf_cfg_range(const kpf_node *spec, size_t max, double **v, size_t *n, kpf_error *err);
/* A nested map; absent and optional gives *out = NULL. */
int kpf_cfg_map(const kpf_node *map, const char *key, unsigned flags,
                const kpf_node **out, kpf_error *err);

KPF_END_DECLS
#endif
