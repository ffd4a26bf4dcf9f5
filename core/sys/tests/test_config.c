/* Config tree: parsing, typed getters, located error messages, --set
 * overrides and the unknown-key check.  Bad cases assert the exact message,
 * line and column included, since the message is the feature. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpf/config.h"

static const char *const ACTIVATIONS[] = {"tanh", "relu", "linear", NULL};

static kpf_config *load(const char *yaml)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_string(yaml, "t.yaml", &cfg, &err);
    cr_assert_eq(rc, KPF_OK, "load failed: %s", err.msg);
    cr_assert_not_null(cfg);
    return cfg;
}

/* Loads yaml, returns the map under `section` (read through the getter). */
static const kpf_node *section(kpf_config *cfg, const char *name)
{
    const kpf_node *m = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_cfg_map(kpf_config_root(cfg), name, KPF_CFG_REQUIRED, &m, &err), KPF_OK,
                 "%s", err.msg);
    return m;
}

static void expect_error(int rc, const kpf_error *err, int code, const char *msg)
{
    cr_assert_eq(rc, code, "rc %d, message: %s", rc, err->msg);
    cr_assert_str_eq(err->msg, msg);
}

/* ---- valid documents ------------------------------------------------------ */

Test(config, valid_file_all_getters)
{
    kpf_config *cfg = load("model:\n"
                           "  n: 64\n"
                           "  g: 1.5\n"
                           "  activation: relu\n"
                           "  bias: Yes\n"
                           "  name: demo\n"
                           "  inner:\n"
                           "    depth: 3\n"
                           "train:\n"
                           "  seed: 18446744073709551615\n"
                           "  lr: -2.5e-3\n"
                           "  shuffle: off\n");
    kpf_error err = {0};
    const kpf_node *model = section(cfg, "model"), *train = section(cfg, "train");
    size_t n = 0, depth = 0;
    double g = 0, lr = 0;
    int act = -1, bias = -1, shuffle = -1;
    const char *name = NULL;
    uint64_t seed = 0;
    const kpf_node *inner = NULL;
    cr_assert_eq(kpf_cfg_size(model, "n", KPF_CFG_REQUIRED, 0, 1, 100000, &n, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_double(model, "g", KPF_CFG_REQUIRED, 0, 0, 5, &g, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_choice(model, "activation", KPF_CFG_REQUIRED, ACTIVATIONS, 0, &act, &err),
                 KPF_OK);
    cr_assert_eq(kpf_cfg_bool(model, "bias", KPF_CFG_REQUIRED, 0, &bias, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_string(model, "name", KPF_CFG_REQUIRED, NULL, &name, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_map(model, "inner", KPF_CFG_REQUIRED, &inner, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_size(inner, "depth", KPF_CFG_REQUIRED, 0, 0, SIZE_MAX, &depth, &err),
                 KPF_OK);
    cr_assert_eq(kpf_cfg_u64(train, "seed", KPF_CFG_REQUIRED, 0, &seed, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_double(train, "lr", KPF_CFG_REQUIRED, 0, -1, 1, &lr, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_bool(train, "shuffle", KPF_CFG_REQUIRED, 1, &shuffle, &err), KPF_OK);
    cr_assert_eq(n, 64);
    cr_assert_eq(g, 1.5);
    cr_assert_eq(act, 1);
    cr_assert_eq(bias, 1);
    cr_assert_str_eq(name, "demo");
    cr_assert_eq(depth, 3);
    cr_assert_eq(seed, UINT64_MAX);
    cr_assert_eq(lr, -2.5e-3);
    cr_assert_eq(shuffle, 0);
    cr_assert_str_eq(kpf_node_path(inner), "model.inner");
    cr_assert_eq(kpf_node_line(inner), 8);
    cr_assert_eq(kpf_node_col(inner), 5);
    cr_assert_str_eq(kpf_config_source(cfg), "t.yaml");
    cr_assert_eq(kpf_config_check_unused(cfg, &err), KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
}

Test(config, bool_spellings)
{
    kpf_config *cfg = load("a: TRUE\nb: no\nc: On\nd: False\ne: YES\nf: off\n");
    const kpf_node *root = kpf_config_root(cfg);
    const char *keys = "abcdef";
    const int want[] = {1, 0, 1, 0, 1, 0};
    kpf_error err = {0};
    for (int i = 0; i < 6; i++) {
        char key[2] = {keys[i], 0};
        int b = -1;
        cr_assert_eq(kpf_cfg_bool(root, key, KPF_CFG_REQUIRED, -1, &b, &err), KPF_OK, "%s",
                     err.msg);
        cr_assert_eq(b, want[i], "key %s", key);
    }
    kpf_config_free(cfg);
}

Test(config, defaults_for_absent_optional_keys)
{
    kpf_config *cfg = load("model:\n  n: 4\n");
    const kpf_node *model = section(cfg, "model");
    kpf_error err = {0};
    double g = 0;
    size_t n = 0, m = 0;
    uint64_t seed = 0;
    int b = -1, act = -1;
    const char *s = NULL;
    const kpf_node *sub = model;
    cr_assert_eq(kpf_cfg_double(model, "g", KPF_CFG_OPTIONAL, 0.25, 0, 5, &g, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_size(model, "n", KPF_CFG_OPTIONAL, 9, 1, 10, &n, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_size(model, "m", KPF_CFG_OPTIONAL, 7, 1, 10, &m, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_u64(model, "seed", KPF_CFG_OPTIONAL, 42, &seed, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_bool(model, "bias", KPF_CFG_OPTIONAL, 1, &b, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_string(model, "name", KPF_CFG_OPTIONAL, "x", &s, &err), KPF_OK);
    cr_assert_eq(kpf_cfg_choice(model, "act", KPF_CFG_OPTIONAL, ACTIVATIONS, 2, &act, &err),
                 KPF_OK);
    cr_assert_eq(kpf_cfg_map(model, "sub", KPF_CFG_OPTIONAL, &sub, &err), KPF_OK);
    cr_assert_eq(g, 0.25);
    cr_assert_eq(n, 4, "a present key must not take the default");
    cr_assert_eq(m, 7);
    cr_assert_eq(seed, 42);
    cr_assert_eq(b, 1);
    cr_assert_str_eq(s, "x");
    cr_assert_eq(act, 2);
    cr_assert_null(sub);
    kpf_config_free(cfg);
}

Test(config, absent_section_counts_keys_as_absent)
{
    kpf_error err = {0};
    double g = 0;
    cr_assert_eq(kpf_cfg_double(NULL, "g", KPF_CFG_OPTIONAL, 3, 0, 5, &g, &err), KPF_OK);
    cr_assert_eq(g, 3);
    int rc = kpf_cfg_double(NULL, "g", KPF_CFG_REQUIRED, 3, 0, 5, &g, &err);
    expect_error(rc, &err, KPF_ECONFIG, "g: missing required key (expected a number in [0, 5])");
}

Test(config, empty_document_is_empty_map)
{
    const char *docs[] = {"", "# nothing\n", "---\n"};
    for (int i = 0; i < 3; i++) {
        kpf_config *cfg = load(docs[i]);
        const kpf_node *root = kpf_config_root(cfg);
        cr_assert_eq(kpf_node_kind(root), KPF_NODE_MAP, "doc %d", i);
        cr_assert_eq(kpf_node_len(root), 0);
        cr_assert_str_eq(kpf_node_path(root), "");
        kpf_error err = {0};
        size_t n = 0;
        int rc = kpf_cfg_size(root, "n", KPF_CFG_REQUIRED, 0, 1, 10, &n, &err);
        expect_error(rc, &err, KPF_ECONFIG,
                     "t.yaml:1:1: n: missing required key (expected an integer in [1, 10])");
        kpf_config_free(cfg);
    }
}

Test(config, node_accessors)
{
    kpf_config *cfg = load("a: 1\nb: [x, y]\nc: {d: 2}\n");
    const kpf_node *root = kpf_config_root(cfg);
    cr_assert_eq(kpf_node_kind(root), KPF_NODE_MAP);
    cr_assert_str_eq(kpf_node_path(root), "");
    cr_assert_str_eq(kpf_node_file(root), "t.yaml");
    cr_assert_null(kpf_node_scalar(root));
    cr_assert_eq(kpf_node_len(root), 3);
    cr_assert_str_eq(kpf_node_key_at(root, 0), "a");
    cr_assert_str_eq(kpf_node_key_at(root, 2), "c");
    cr_assert_null(kpf_node_key_at(root, 3));
    const kpf_node *a = kpf_node_at(root, 0);
    cr_assert_eq(kpf_node_kind(a), KPF_NODE_SCALAR);
    cr_assert_str_eq(kpf_node_scalar(a), "1");
    cr_assert_eq(kpf_node_len(a), 0);
    cr_assert_eq(kpf_node_line(a), 1);
    cr_assert_eq(kpf_node_col(a), 4);
    const kpf_node *b = kpf_node_get(root, "b");
    cr_assert_eq(kpf_node_kind(b), KPF_NODE_SEQ);
    cr_assert_eq(kpf_node_len(b), 2);
    cr_assert_null(kpf_node_key_at(b, 0));
    cr_assert_str_eq(kpf_node_path(kpf_node_at(b, 1)), "b[1]");
    cr_assert_str_eq(kpf_node_scalar(kpf_node_at(b, 1)), "y");
    cr_assert_null(kpf_node_at(b, 2));
    const kpf_node *c = kpf_node_get(root, "c");
    cr_assert_eq(kpf_node_kind(c), KPF_NODE_MAP);
    cr_assert_str_eq(kpf_node_path(kpf_node_get(c, "d")), "c.d");
    cr_assert_null(kpf_node_get(root, "zz"));
    cr_assert_null(kpf_node_get(a, "x"), "a scalar has no keys");
    kpf_config_free(cfg);
}

Test(config, aliases_are_resolved)
{
    kpf_config *cfg = load("base: &b\n  n: 3\nmodel: *b\n");
    const kpf_node *model = section(cfg, "model");
    kpf_error err = {0};
    size_t n = 0;
    cr_assert_eq(kpf_cfg_size(model, "n", KPF_CFG_REQUIRED, 0, 0, 10, &n, &err), KPF_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(kpf_node_path(kpf_node_get(model, "n")), "model.n");
    kpf_config_free(cfg);
}

/* ---- getter errors -------------------------------------------------------- */

Test(config, missing_required_key_located_at_parent)
{
    kpf_config *cfg = load("# header\nmodel:\n  g: 1\n  activation: tanh\n");
    kpf_error err = {0};
    size_t n = 0;
    int rc = kpf_cfg_size(section(cfg, "model"), "n", KPF_CFG_REQUIRED, 0, 1, 100000, &n, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:3:3: model.n: missing required key (expected an integer in [1, 100000])");
    kpf_config_free(cfg);
}

Test(config, missing_required_section)
{
    kpf_config *cfg = load("train:\n  lr: 1\n");
    kpf_error err = {0};
    const kpf_node *m = NULL;
    int rc = kpf_cfg_map(kpf_config_root(cfg), "model", KPF_CFG_REQUIRED, &m, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:1:1: model: missing required key (expected a mapping)");
    kpf_config_free(cfg);
}

Test(config, mapping_where_number_expected)
{
    kpf_config *cfg = load("model:\n  g:\n    a: 1\n");
    kpf_error err = {0};
    double g = 0;
    int rc = kpf_cfg_double(section(cfg, "model"), "g", KPF_CFG_REQUIRED, 0, 0, 5, &g, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:3:5: model.g: expected a number, got a mapping");
    kpf_config_free(cfg);
}

Test(config, sequence_where_string_expected)
{
    kpf_config *cfg = load("model:\n  name: [a, b]\n");
    kpf_error err = {0};
    const char *s = NULL;
    int rc = kpf_cfg_string(section(cfg, "model"), "name", KPF_CFG_REQUIRED, NULL, &s, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:2:9: model.name: expected a string, got a sequence");
    kpf_config_free(cfg);
}

Test(config, scalar_where_mapping_expected)
{
    kpf_config *cfg = load("model: rnn\n");
    kpf_error err = {0};
    const kpf_node *m = NULL;
    int rc = kpf_cfg_map(kpf_config_root(cfg), "model", KPF_CFG_REQUIRED, &m, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:1:8: model: expected a mapping (got 'rnn')");
    kpf_config_free(cfg);
}

Test(config, non_numeric_scalar)
{
    kpf_config *cfg = load("model:\n  g: abc\n  h: 1.5x\n  e: ''\n");
    const kpf_node *model = section(cfg, "model");
    kpf_error err = {0};
    double x = 0;
    int rc = kpf_cfg_double(model, "g", KPF_CFG_REQUIRED, 0, 0, 5, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:2:6: model.g: expected a number (got 'abc')");
    rc = kpf_cfg_double(model, "h", KPF_CFG_REQUIRED, 0, 0, 5, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:3:6: model.h: expected a number (got '1.5x')");
    rc = kpf_cfg_double(model, "e", KPF_CFG_REQUIRED, 0, 0, 5, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:4:6: model.e: expected a number (got '')");
    kpf_config_free(cfg);
}

Test(config, non_finite_rejected)
{
    kpf_config *cfg = load("a: nan\nb: inf\nc: 1e999\n");
    const kpf_node *root = kpf_config_root(cfg);
    kpf_error err = {0};
    double x = 0;
    int rc = kpf_cfg_double(root, "a", KPF_CFG_REQUIRED, 0, -INFINITY, INFINITY, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:1:4: a: expected a finite number (got 'nan')");
    rc = kpf_cfg_double(root, "b", KPF_CFG_REQUIRED, 0, -INFINITY, INFINITY, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:2:4: b: expected a finite number (got 'inf')");
    rc = kpf_cfg_double(root, "c", KPF_CFG_REQUIRED, 0, -INFINITY, INFINITY, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:3:4: c: expected a finite number (got '1e999')");
    kpf_config_free(cfg);
}

Test(config, out_of_range_double)
{
    kpf_config *cfg = load("model:\n  g: 7\n  h: -0.5\n");
    const kpf_node *model = section(cfg, "model");
    kpf_error err = {0};
    double x = 0;
    int rc = kpf_cfg_double(model, "g", KPF_CFG_REQUIRED, 0, 0, 5, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:2:6: model.g: 7 is out of range (expected a number in [0, 5])");
    rc = kpf_cfg_double(model, "h", KPF_CFG_REQUIRED, 0, 0.1, INFINITY, &x, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:3:6: model.h: -0.5 is out of range (expected a number >= 0.1)");
    kpf_config_free(cfg);
}

Test(config, size_rejects_fraction_negative_overflow_range)
{
    kpf_config *cfg = load("a: 1.5\nb: -3\nc: 99999999999999999999\nd: 11\ne: 1e3\nf: ' 4'\n");
    const kpf_node *root = kpf_config_root(cfg);
    kpf_error err = {0};
    size_t n = 0;
    int rc = kpf_cfg_size(root, "a", KPF_CFG_REQUIRED, 0, 1, 10, &n, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:1:4: a: expected an integer (got '1.5')");
    rc = kpf_cfg_size(root, "b", KPF_CFG_REQUIRED, 0, 1, 10, &n, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:2:4: b: expected a non-negative integer (got '-3')");
    rc = kpf_cfg_size(root, "c", KPF_CFG_REQUIRED, 0, 0, SIZE_MAX, &n, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:3:4: c: 99999999999999999999 is out of range "
                 "(expected a non-negative integer)");
    rc = kpf_cfg_size(root, "d", KPF_CFG_REQUIRED, 0, 1, 10, &n, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:4:4: d: 11 is out of range (expected an integer in [1, 10])");
    rc = kpf_cfg_size(root, "e", KPF_CFG_REQUIRED, 0, 1, 10000, &n, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:5:4: e: expected an integer (got '1e3')");
    rc = kpf_cfg_size(root, "f", KPF_CFG_REQUIRED, 0, 2, SIZE_MAX, &n, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:6:4: f: expected an integer (got ' 4')");
    cr_assert_eq(n, 0, "a failed getter must leave *out alone");
    kpf_config_free(cfg);
}

Test(config, u64_errors)
{
    kpf_config *cfg = load("a: 18446744073709551616\nb: -1\nc: {x: 1}\n");
    const kpf_node *root = kpf_config_root(cfg);
    kpf_error err = {0};
    uint64_t v = 0;
    int rc = kpf_cfg_u64(root, "a", KPF_CFG_REQUIRED, 0, &v, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:1:4: a: 18446744073709551616 is out of range "
                 "(expected a non-negative integer below 2^64)");
    rc = kpf_cfg_u64(root, "b", KPF_CFG_REQUIRED, 0, &v, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:2:4: b: expected a non-negative integer (got '-1')");
    rc = kpf_cfg_u64(root, "c", KPF_CFG_REQUIRED, 0, &v, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:3:4: c: expected an integer, got a mapping");
    rc = kpf_cfg_u64(root, "d", KPF_CFG_REQUIRED, 0, &v, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:1:1: d: missing required key (expected a non-negative integer)");
    kpf_config_free(cfg);
}

Test(config, bad_choice)
{
    kpf_config *cfg = load("model:\n  activation: sigmoid\n");
    kpf_error err = {0};
    int act = -1;
    int rc = kpf_cfg_choice(section(cfg, "model"), "activation", KPF_CFG_REQUIRED, ACTIVATIONS, 0,
                            &act, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:2:15: model.activation: unknown value 'sigmoid' "
                 "(expected one of: tanh, relu, linear)");
    cr_assert_eq(act, -1);
    kpf_config_free(cfg);
}

Test(config, bad_bool)
{
    kpf_config *cfg = load("model:\n  bias: maybe\n");
    kpf_error err = {0};
    int b = -1;
    int rc = kpf_cfg_bool(section(cfg, "model"), "bias", KPF_CFG_REQUIRED, 0, &b, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:2:9: model.bias: expected true or false (got 'maybe')");
    kpf_config_free(cfg);
}

Test(config, getter_on_non_map_section)
{
    kpf_config *cfg = load("model: [1, 2]\n");
    kpf_error err = {0};
    double g = 0;
    const kpf_node *seq = kpf_node_get(kpf_config_root(cfg), "model");
    int rc = kpf_cfg_double(seq, "g", KPF_CFG_OPTIONAL, 0, 0, 1, &g, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:1:8: model: expected a mapping, got a sequence");
    kpf_config_free(cfg);
}

Test(config, node_error_format)
{
    kpf_config *cfg = load("sweep:\n  values: [1, 2, 3]\n");
    const kpf_node *root = kpf_config_root(cfg);
    const kpf_node *vals = kpf_node_get(kpf_node_get(root, "sweep"), "values");
    kpf_error err = {0};
    int rc = kpf_node_error(kpf_node_at(vals, 2), &err, "bad item %d", 7);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:2:18: sweep.values[2]: bad item 7");
    rc = kpf_node_error(root, &err, "root problem");
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:1:1: root problem");
    kpf_config_free(cfg);
}

/* ---- unknown keys --------------------------------------------------------- */

static int read_model(const kpf_node *model, kpf_error *err)
{
    size_t n = 0;
    double g = 0;
    int act = 0;
    int rc = kpf_cfg_size(model, "n", KPF_CFG_REQUIRED, 0, 1, 100, &n, err);
    if (!rc)
        rc = kpf_cfg_double(model, "g", KPF_CFG_OPTIONAL, 1, 0, 5, &g, err);
    if (!rc)
        rc = kpf_cfg_choice(model, "activation", KPF_CFG_OPTIONAL, ACTIVATIONS, 0, &act, err);
    return rc;
}

Test(config, unknown_key_lists_known_keys)
{
    kpf_config *cfg = load("model:\n  n: 3\n  g: 1\n  gg: 2\n  zz: 1\n");
    kpf_error err = {0};
    cr_assert_eq(read_model(section(cfg, "model"), &err), KPF_OK, "%s", err.msg);
    int rc = kpf_config_check_unused(cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:4:3: model.gg: unknown key (known here: n, g, activation)");
    kpf_config_free(cfg);
}

Test(config, unknown_top_level_section)
{
    kpf_config *cfg = load("model:\n  n: 3\nextra:\n  a: 1\n");
    kpf_error err = {0};
    cr_assert_eq(read_model(section(cfg, "model"), &err), KPF_OK, "%s", err.msg);
    int rc = kpf_config_check_unused(cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:3:1: extra: unknown key (known here: model)");
    kpf_config_free(cfg);
}

Test(config, unknown_nested_section_not_descended)
{
    kpf_config *cfg = load("model:\n  n: 3\n  opts:\n    a: 1\n");
    kpf_error err = {0};
    cr_assert_eq(read_model(section(cfg, "model"), &err), KPF_OK, "%s", err.msg);
    int rc = kpf_config_check_unused(cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:3:3: model.opts: unknown key (known here: n, g, activation)");
    kpf_config_free(cfg);
}

Test(config, section_that_takes_no_keys)
{
    kpf_config *cfg = load("model:\n  n: 3\n");
    kpf_error err = {0};
    section(cfg, "model");
    int rc = kpf_config_check_unused(cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:2:3: model.n: unknown key (this section takes no keys)");
    kpf_config_free(cfg);
}

Test(config, unknown_key_inside_sequence_item)
{
    kpf_config *cfg = load("runs:\n  - name: a\n  - name: b\n    nmae: c\n");
    const kpf_node *runs = kpf_node_get(kpf_config_root(cfg), "runs");
    kpf_error err = {0};
    for (size_t i = 0; i < kpf_node_len(runs); i++) {
        const char *s = NULL;
        cr_assert_eq(kpf_cfg_string(kpf_node_at(runs, i), "name", KPF_CFG_REQUIRED, NULL, &s, &err),
                     KPF_OK);
    }
    int rc = kpf_config_check_unused(cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:4:5: runs[1].nmae: unknown key (known here: name)");
    kpf_config_free(cfg);
}

Test(config, node_check_unused_restricted_to_subtree)
{
    kpf_config *cfg = load("model:\n  n: 3\nother: 1\n");
    kpf_error err = {0};
    const kpf_node *model = section(cfg, "model");
    cr_assert_eq(read_model(model, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_node_check_unused(model, &err), KPF_OK, "%s", err.msg);
    int rc = kpf_config_check_unused(cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:3:1: other: unknown key (known here: model)");
    kpf_config_free(cfg);
}

Test(config, mark_used_covers_subtree)
{
    kpf_config *cfg = load("model:\n  n: 3\n  deep:\n    x: [ {a: 1} ]\n");
    kpf_error err = {0};
    cr_assert_eq(kpf_config_check_unused(cfg, &err), KPF_ECONFIG);
    kpf_node_mark_used(kpf_config_root(cfg));
    cr_assert_eq(kpf_config_check_unused(cfg, &err), KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
}

Test(config, iterating_a_map_marks_entries_used)
{
    kpf_config *cfg = load("names:\n  a: 1\n  b: 2\n");
    kpf_error err = {0};
    const kpf_node *names = section(cfg, "names");
    for (size_t i = 0; i < kpf_node_len(names); i++)
        cr_assert_not_null(kpf_node_at(names, i));
    cr_assert_eq(kpf_config_check_unused(cfg, &err), KPF_OK, "%s", err.msg);
    kpf_config_free(cfg);
}

/* ---- document errors ------------------------------------------------------ */

Test(config, duplicate_key)
{
    kpf_config *cfg = (kpf_config *)1;
    kpf_error err = {0};
    int rc = kpf_config_load_string("model:\n  g: 1\n  n: 2\n  g: 3\n", "t.yaml", &cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG, "t.yaml:4:3: model.g: duplicate key 'g' (first at line 2)");
    cr_assert_null(cfg);
}

Test(config, yaml_syntax_error_location)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_string("model:\n  g: [1, 2\n  n: 3\n", "t.yaml", &cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:3:4: YAML syntax error: did not find expected ',' or ']' "
                 "(while parsing a flow sequence)");
    cr_assert_null(cfg);
    rc = kpf_config_load_string("a: 1\n b: 2\n", "t.yaml", &cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:2:3: YAML syntax error: mapping values are not allowed in this context");
}

Test(config, root_must_be_a_map)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_string("- a\n- b\n", "t.yaml", &cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:1:1: expected a mapping at the top level, got a sequence");
    rc = kpf_config_load_string("hello\n", "t.yaml", &cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:1:1: expected a mapping at the top level (got 'hello')");
    cr_assert_null(cfg);
}

Test(config, second_document_rejected)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_string("a: 1\n---\nb: 2\n", "t.yaml", &cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "t.yaml:3:1: expected a single YAML document, found another");
}

Test(config, recursive_alias_rejected, .timeout = 10)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_string("a: &x [*x]\n", "t.yaml", &cfg, &err);
    cr_assert_eq(rc, KPF_ECONFIG, "rc %d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, "too deeply nested") != NULL, "%s", err.msg);
    cr_assert_null(cfg);
}

Test(config, missing_file)
{
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_file("/nonexistent-kpf-dir/cfg.yaml", &cfg, &err);
    expect_error(rc, &err, KPF_EIO,
                 "cannot open /nonexistent-kpf-dir/cfg.yaml: No such file or directory");
    cr_assert_null(cfg);
    rc = kpf_config_load_file("/tmp", &cfg, &err);
    expect_error(rc, &err, KPF_EIO, "cannot read /tmp: Is a directory");
}

Test(config, load_file)
{
    char path[] = "/tmp/kpf-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs("model:\n  n: 12\n  g: nope\n", f);
    fclose(f);
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_file(path, &cfg, &err);
    unlink(path);
    cr_assert_eq(rc, KPF_OK, "%s", err.msg);
    cr_assert_str_eq(kpf_config_source(cfg), path);
    const kpf_node *model = section(cfg, "model");
    size_t n = 0;
    double g = 0;
    cr_assert_eq(kpf_cfg_size(model, "n", KPF_CFG_REQUIRED, 0, 1, 100, &n, &err), KPF_OK);
    cr_assert_eq(n, 12);
    rc = kpf_cfg_double(model, "g", KPF_CFG_REQUIRED, 0, 0, 5, &g, &err);
    char want[256];
    snprintf(want, sizeof want, "%s:3:6: model.g: expected a number (got 'nope')", path);
    expect_error(rc, &err, KPF_ECONFIG, want);
    kpf_config_free(cfg);
}

/* ---- --set ---------------------------------------------------------------- */

Test(config, set_replaces_and_creates)
{
    kpf_config *cfg = load("model:\n  g: 1\n  n: 4\n");
    kpf_error err = {0};
    cr_assert_eq(kpf_config_set(cfg, "model.g=2.5", &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_set(cfg, "train.opt.lr=0.01", &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_set(cfg, "model.name=", &err), KPF_OK, "%s", err.msg);
    const kpf_node *model = section(cfg, "model");
    double g = 0, lr = 0;
    const char *name = NULL;
    cr_assert_eq(kpf_cfg_double(model, "g", KPF_CFG_REQUIRED, 0, 0, 5, &g, &err), KPF_OK);
    cr_assert_eq(g, 2.5);
    cr_assert_eq(kpf_node_len(model), 3, "replacing must not add an entry");
    cr_assert_str_eq(kpf_node_key_at(model, 0), "g", "replacing keeps document order");
    cr_assert_eq(kpf_cfg_string(model, "name", KPF_CFG_REQUIRED, "x", &name, &err), KPF_OK);
    cr_assert_str_eq(name, "");
    const kpf_node *opt = section(cfg, "train");
    cr_assert_eq(kpf_cfg_map(opt, "opt", KPF_CFG_REQUIRED, &opt, &err), KPF_OK);
    cr_assert_str_eq(kpf_node_path(opt), "train.opt");
    cr_assert_eq(kpf_cfg_double(opt, "lr", KPF_CFG_REQUIRED, 0, 0, 1, &lr, &err), KPF_OK);
    cr_assert_eq(lr, 0.01);
    const kpf_node *lrn = kpf_node_get(opt, "lr");
    cr_assert_str_eq(kpf_node_file(lrn), "--set train.opt.lr=0.01");
    cr_assert_eq(kpf_node_line(lrn), 1);
    cr_assert_eq(kpf_node_col(lrn), 14);
    cr_assert_str_eq(kpf_node_path(lrn), "train.opt.lr");
    kpf_config_free(cfg);
}

Test(config, set_bad_value_points_into_set_text)
{
    kpf_config *cfg = load("model:\n  g: 1\n");
    kpf_error err = {0};
    cr_assert_eq(kpf_config_set(cfg, "model.g=abc", &err), KPF_OK, "%s", err.msg);
    double g = 0;
    int rc = kpf_cfg_double(section(cfg, "model"), "g", KPF_CFG_REQUIRED, 0, 0, 5, &g, &err);
    expect_error(rc, &err, KPF_ECONFIG, "--set model.g=abc:1:9: model.g: expected a number (got 'abc')");
    kpf_config_free(cfg);
}

Test(config, set_unknown_key_points_at_key)
{
    kpf_config *cfg = load("model:\n  n: 3\n");
    kpf_error err = {0};
    cr_assert_eq(kpf_config_set(cfg, "model.gg=3", &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(read_model(section(cfg, "model"), &err), KPF_OK, "%s", err.msg);
    int rc = kpf_config_check_unused(cfg, &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set model.gg=3:1:7: model.gg: unknown key (known here: n, g, activation)");
    kpf_config_free(cfg);
}

Test(config, malformed_set)
{
    kpf_config *cfg = load("model:\n  g: 1\n");
    kpf_error err = {0};
    int rc = kpf_config_set(cfg, "model.g", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set model.g:1:1: malformed assignment: no '=' (expected KEY.PATH=VALUE)");
    rc = kpf_config_set(cfg, "=3", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set =3:1:1: malformed assignment: empty key (expected KEY.PATH=VALUE)");
    rc = kpf_config_set(cfg, "model..g=3", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set model..g=3:1:7: malformed assignment: empty path segment "
                 "(expected KEY.PATH=VALUE)");
    rc = kpf_config_set(cfg, "model.=3", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set model.=3:1:7: malformed assignment: empty path segment "
                 "(expected KEY.PATH=VALUE)");
    rc = kpf_config_set(cfg, "v[x]=3", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set v[x]=3:1:2: malformed assignment: bad index, expected [N] "
                 "(expected KEY.PATH=VALUE)");
    /* Failures leave the tree as it was. */
    cr_assert_eq(kpf_node_len(kpf_config_root(cfg)), 1);
    cr_assert_str_eq(kpf_node_scalar(kpf_node_get(section(cfg, "model"), "g")), "1");
    kpf_config_free(cfg);
}

Test(config, set_crossing_scalar_or_sequence)
{
    kpf_config *cfg = load("model:\n  g: 1\nsweep:\n  values: [1, 2]\n");
    kpf_error err = {0};
    int rc = kpf_config_set(cfg, "model.g.x=1", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set model.g.x=1:1:9: model.g: is a scalar; cannot set key 'x' inside it");
    rc = kpf_config_set(cfg, "sweep.values.x=1", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set sweep.values.x=1:1:14: sweep.values: is a sequence; "
                 "address its items with an index like [0]");
    rc = kpf_config_set(cfg, "model[0]=1", &err);
    expect_error(rc, &err, KPF_ECONFIG, "--set model[0]=1:1:1: model: is a mapping, not a sequence");
    rc = kpf_config_set(cfg, "model.new.deeper[0]=1", &err);
    expect_error(rc, &err, KPF_ECONFIG, "--set model.new.deeper[0]=1:1:11: model: no key 'deeper' to index into");
    cr_assert_null(kpf_node_get(section(cfg, "model"), "new"), "failed set must not create maps");
    kpf_config_free(cfg);
}

Test(config, sequence_indexing)
{
    kpf_config *cfg = load("sweep:\n  values: [1, 2, 3]\n  runs:\n    - {lr: 0.1}\n");
    kpf_error err = {0};
    cr_assert_eq(kpf_config_set(cfg, "sweep.values[1]=5", &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_set(cfg, "sweep.runs[0].lr=0.5", &err), KPF_OK, "%s", err.msg);
    const kpf_node *sweep = section(cfg, "sweep");
    const kpf_node *vals = kpf_node_get(sweep, "values");
    cr_assert_eq(kpf_node_len(vals), 3);
    const kpf_node *v1 = kpf_node_at(vals, 1);
    cr_assert_str_eq(kpf_node_scalar(v1), "5");
    cr_assert_str_eq(kpf_node_path(v1), "sweep.values[1]");
    cr_assert_str_eq(kpf_node_file(v1), "--set sweep.values[1]=5");
    cr_assert_eq(kpf_node_col(v1), 17);
    cr_assert_str_eq(kpf_node_scalar(kpf_node_at(vals, 2)), "3");
    const kpf_node *run0 = kpf_node_at(kpf_node_get(sweep, "runs"), 0);
    double lr = 0;
    cr_assert_eq(kpf_cfg_double(run0, "lr", KPF_CFG_REQUIRED, 0, 0, 1, &lr, &err), KPF_OK);
    cr_assert_eq(lr, 0.5);
    int rc = kpf_config_set(cfg, "sweep.values[3]=1", &err);
    expect_error(rc, &err, KPF_ECONFIG,
                 "--set sweep.values[3]=1:1:7: sweep.values: index 3 is out of range "
                 "(the sequence has 3 items)");
    kpf_config_free(cfg);
}

Test(config, null_arguments)
{
    kpf_error err = {0};
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_config_load_string(NULL, "t.yaml", &cfg, &err), KPF_EINVAL);
    cr_assert_eq(kpf_config_load_file(NULL, &cfg, &err), KPF_EINVAL);
    cr_assert_eq(kpf_config_set(NULL, "a=1", &err), KPF_EINVAL);
    cr_assert_eq(kpf_cfg_double(NULL, "g", 0, 0, 0, 1, NULL, &err), KPF_EINVAL);
    cr_assert_eq(kpf_node_len(NULL), 0);
    cr_assert_null(kpf_node_get(NULL, "a"));
    kpf_config_free(NULL);
}

/* A value starting with [ or { is a flow sequence or map, located in the
 * --set text and re-rooted at the key path. */
Test(config, set_flow_values)
{
    kpf_config *cfg = load("train:\n  blocks: [W]\n  lr: 1\n");
    kpf_error err = {0};
    cr_assert_eq(kpf_config_set(cfg, "train.blocks=[W, W_in]", &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_set(cfg, "model={n: 8, g: 0.5}", &err), KPF_OK, "%s", err.msg);
    const kpf_node *tr = section(cfg, "train"), *bl = kpf_node_get(tr, "blocks");
    cr_assert_eq(kpf_node_kind(bl), KPF_NODE_SEQ);
    cr_assert_eq(kpf_node_len(bl), 2);
    cr_assert_str_eq(kpf_node_scalar(kpf_node_at(bl, 1)), "W_in");
    cr_assert_str_eq(kpf_node_path(kpf_node_at(bl, 1)), "train.blocks[1]");
    cr_assert_eq(kpf_node_col(kpf_node_at(bl, 1)), 18, "column in the --set text");
    cr_assert_eq(kpf_node_len(tr), 2, "replacing must not add an entry");
    const kpf_node *model = section(cfg, "model");
    cr_assert_str_eq(kpf_node_path(kpf_node_get(model, "g")), "model.g");
    double g = 0;
    int rc = kpf_cfg_double(model, "n", KPF_CFG_REQUIRED, 0, 0, 5, &g, &err);
    cr_assert_eq(rc, KPF_ECONFIG);
    cr_assert(strstr(err.msg, "--set model={n: 8, g: 0.5}:1:11: model.n:"), "%s", err.msg);
    kpf_config_free(cfg);
}

Test(config, set_bad_flow_value_is_located_and_changes_nothing)
{
    kpf_config *cfg = load("train:\n  blocks: [W]\n");
    kpf_error err = {0};
    int rc = kpf_config_set(cfg, "train.blocks=[W, W_in", &err);
    cr_assert_eq(rc, KPF_ECONFIG, "%s", err.msg);
    cr_assert(strstr(err.msg, "--set train.blocks=[W, W_in:"), "%s", err.msg);
    cr_assert(strstr(err.msg, "YAML syntax error"), "%s", err.msg);
    const kpf_node *bl = kpf_node_get(section(cfg, "train"), "blocks");
    cr_assert_eq(kpf_node_len(bl), 1, "a failed --set left the old value");
    kpf_config_free(cfg);
}

/* kpf_error_prefix returns the failing code it is given, with or without an
 * error object (a NULL err used to turn a failure into success). */
Test(error, prefix_returns_the_failing_code_even_without_err)
{
    cr_assert_eq(kpf_error_prefix(NULL, KPF_EIO, "x: "), KPF_EIO);
    kpf_error e;
    kpf_error_clear(&e);
    kpf_error_set(&e, KPF_ENOMEM, "inner");
    cr_assert_eq(kpf_error_prefix(&e, KPF_ENOMEM, "outer %d: ", 1), KPF_ENOMEM);
    cr_assert_str_eq(e.msg, "outer 1: inner");
    cr_assert_eq(e.code, KPF_ENOMEM);
}
