/* Extension data and typed configuration (kpf/model.h): a plugin's
 * `extension` table reaches the caller through kpf_model_extension, an
 * older, shorter descriptor without the op still loads and gives NULL, and
 * a typed feature configures a plugin exactly as its YAML keys do. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/instance.h"
#include "kpf/plugin.h"

/* ---- a probe plugin: f = −z, one parameter w0 ----------------------------- */

#define PROBE_IFACE "test.probe/1"
#define PROBE_FEATURE "test.probe.config/1"

typedef struct probe_table { int magic; double w0; } probe_table;
typedef struct probe_config { double w0; } probe_config;

typedef struct probe {
    size_t n_in;
    double theta0[1];
    kpf_param_block blk[1];
    probe_table table;
    int saw_features; /* create found a feature list in its args */
} probe;

static int probe_create(const kpf_model_args *a, void **self, kpf_error *err)
{
    probe *p = calloc(1, sizeof *p);
    if (!p)
        return kpf_error_set(err, KPF_ENOMEM, "oom");
    const probe_config *c = kpf_model_args_feature(a, PROBE_FEATURE);
    int rc = c ? KPF_OK : kpf_cfg_double(a->node, "w0", 0, 0.5, -10, 10, &p->theta0[0], err);
    if (rc) {
        free(p);
        return rc;
    }
    if (c)
        p->theta0[0] = c->w0;
    p->saw_features = a->features != NULL;
    p->n_in = a->n_in;
    p->blk[0] = (kpf_param_block){"w", 0, 1, 1};
    p->table = (probe_table){0x5eed, p->theta0[0]};
    *self = p;
    return KPF_OK;
}
static void probe_destroy(void *self) { free(self); }
static int probe_params(void *self, kpf_model_layout *l, kpf_error *err)
{
    (void)err;
    probe *p = self;
    memset(l, 0, sizeof *l);
    l->n = 2;
    l->n_in = p->n_in;
    l->n_theta = 1;
    l->n_blocks = 1;
    l->blocks = p->blk;
    l->theta0 = p->theta0;
    return KPF_OK;
}
static int probe_f(void *s, const double *th, const kpf_rows *r, double *out, kpf_error *e)
{
    (void)s, (void)th, (void)e;
    for (size_t i = 0; i < r->R * 2; i++)
        out[i] = -r->z[i];
    return KPF_OK;
}
static int probe_jz(void *s, const double *th, const kpf_rows *r, const double *v,
                    double *out, kpf_error *e)
{
    (void)s, (void)th, (void)e;
    for (size_t i = 0; i < r->R * 2; i++)
        out[i] = -v[i];
    return KPF_OK;
}
static int probe_jth(void *s, const double *th, const kpf_rows *r, const double *d,
                     double *out, kpf_error *e)
{
    (void)s, (void)th, (void)d, (void)e;
    memset(out, 0, r->R * 2 * sizeof(double));
    return KPF_OK;
}
static int probe_jthT(void *s, const double *th, const kpf_rows *r, const double *w,
                      double *g, kpf_error *e)
{
    (void)s, (void)th, (void)r, (void)w, (void)g, (void)e;
    return KPF_OK;
}
static const void *probe_ext(void *self, const char *name)
{
    probe *p = self;
    return strcmp(name, PROBE_IFACE) == 0 ? &p->table : NULL;
}

#define PROBE_DESC(NAME, EXT)                                                             \
    {                                                                                     \
        .abi_version = KPF_ABI_VERSION, .struct_size = sizeof(kpf_model_desc),            \
        .name = NAME, .summary = "extension test plugin", .flags = KPF_MODEL_DISCRETE,    \
        .create = probe_create, .destroy = probe_destroy, .params = probe_params,         \
        .f = probe_f, .jz = probe_jz, .jzT = probe_jz, .jth = probe_jth,                  \
        .jthT = probe_jthT, .extension = EXT,                                             \
    }

static kpf_model_desc full = PROBE_DESC("probe_full", probe_ext);
static kpf_model_desc none = PROBE_DESC("probe_none", NULL);
/* Compiled before the op existed: struct_size ends at init_state_jthT.  The
 * field behind it holds a pointer here, which the host must not read. */
static kpf_model_desc old = PROBE_DESC("probe_old", probe_ext);

static const void *descriptors(uint32_t i)
{
    old.struct_size = (uint32_t)offsetof(kpf_model_desc, extension);
    return i == 0 ? (const void *)&full : i == 1 ? (const void *)&none
                                        : i == 2 ? (const void *)&old : NULL;
}

static kpf_registry *reg;
static kpf_error err;

static void setup(void)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
    cr_assert_eq(kpf_registry_add_descriptors(reg, KPF_KIND_MODEL, descriptors, "test", &err),
                 KPF_OK, "%s", err.msg);
}

static void teardown(void) { kpf_registry_free(reg); }

TestSuite(extension, .init = setup, .fini = teardown);

static kpf_model *create(const char *name, const char *yaml)
{
    const kpf_plugin *p = NULL;
    kpf_config *cfg = NULL;
    kpf_model *m = NULL;
    cr_assert_eq(kpf_registry_find(reg, name, &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_load_string(yaml, "test.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_create(p, kpf_config_root(cfg), 1, 1, 1, 3, &m, &err), KPF_OK, "%s",
                 err.msg);
    kpf_config_free(cfg);
    return m;
}

static int create_typed(const char *name, const char *yaml,
                        const kpf_model_feature *const *features, kpf_model **m)
{
    const kpf_plugin *p = NULL;
    kpf_config *cfg = NULL;
    cr_assert_eq(kpf_registry_find(reg, name, &p, &err), KPF_OK, "%s", err.msg);
    if (yaml)
        cr_assert_eq(kpf_config_load_string(yaml, "test.yaml", &cfg, &err), KPF_OK);
    int rc = kpf_model_create_typed(p, yaml ? kpf_config_root(cfg) : NULL, features, 1, 1, 1, 3,
                                    m, &err);
    kpf_config_free(cfg);
    return rc;
}

Test(extension, table_reaches_the_caller)
{
    kpf_model *m = create("probe_full", "{w0: 0.75}");
    const probe_table *t = kpf_model_extension(m, PROBE_IFACE);
    cr_assert_not_null(t);
    cr_expect_eq(t->magic, 0x5eed);
    cr_expect_eq(t->w0, 0.75);
    cr_expect_null(kpf_model_extension(m, "test.probe/2"));
    cr_expect_null(kpf_model_extension(m, NULL));
    cr_expect_null(kpf_model_extension(NULL, PROBE_IFACE));
    kpf_model_free(m);
}

Test(extension, no_op_gives_null)
{
    kpf_model *m = create("probe_none", "{}");
    cr_expect_null(kpf_model_extension(m, PROBE_IFACE));
    kpf_model_free(m);
}

Test(extension, older_shorter_descriptor_loads_and_gives_null)
{
    kpf_model *m = create("probe_old", "{}");
    cr_assert_eq(m->desc->struct_size, offsetof(kpf_model_desc, extension));
    cr_assert_not_null(m->desc->extension, "the fixture must hold a pointer past struct_size");
    cr_expect_null(kpf_model_extension(m, PROBE_IFACE), "read past struct_size");
    kpf_model_free(m);
}

Test(extension, typed_feature_equals_yaml_bit_for_bit)
{
    const probe_config c = {0.1 + 0.2}; /* not a short decimal */
    const kpf_model_feature f = {PROBE_FEATURE, &c}, other = {"test.unrelated/1", "x"};
    const kpf_model_feature *const features[] = {&other, &f, NULL};
    kpf_model *typed = NULL, *typed_node = NULL;
    cr_assert_eq(create_typed("probe_full", NULL, features, &typed), KPF_OK, "%s", err.msg);
    cr_assert_eq(create_typed("probe_full", "{readout: {init_std: 0.5}}", features, &typed_node),
                 KPF_OK, "%s", err.msg);
    kpf_model *yaml = create("probe_full", "{w0: 0.30000000000000004}");
    cr_assert_eq(typed->m, yaml->m);
    cr_expect_eq(memcmp(typed->theta, yaml->theta, yaml->m * sizeof(double)), 0);
    cr_expect_eq(typed->theta[0], c.w0);
    cr_expect_eq(typed_node->theta[0], c.w0);
    cr_expect(((probe *)typed->self)->saw_features);
    cr_expect_not(((probe *)yaml->self)->saw_features, "kpf_model_create passes no features");
    kpf_model_free(typed);
    kpf_model_free(typed_node);
    kpf_model_free(yaml);
}

Test(extension, typed_plugin_reads_no_yaml_keys)
{
    /* With its feature given the plugin reads no key of its own, so one in
     * the node is a key nobody read: located, as in a run. */
    const probe_config c = {0.25};
    const kpf_model_feature f = {PROBE_FEATURE, &c};
    const kpf_model_feature *const features[] = {&f, NULL};
    kpf_model *m = NULL;
    cr_expect_eq(create_typed("probe_full", "{w0: 0.5}", features, &m), KPF_ECONFIG);
    cr_expect(strstr(err.msg, "test.yaml:1:") != NULL, "%s", err.msg);
    cr_expect_null(m);
    /* without features the same YAML works, and an empty list is no list */
    const kpf_model_feature *const empty[] = {NULL};
    cr_expect_eq(create_typed("probe_full", "{w0: 0.5}", empty, &m), KPF_OK, "%s", err.msg);
    kpf_model_free(m);
}

Test(extension, feature_lookup_respects_args_struct_size)
{
    const probe_config c = {1.0};
    const kpf_model_feature f = {PROBE_FEATURE, &c};
    const kpf_model_feature *const features[] = {&f, NULL};
    kpf_model_args a = {sizeof a, NULL, 1, 1, 1, NULL, features};
    cr_expect_eq(kpf_model_args_feature(&a, PROBE_FEATURE), &c);
    cr_expect_null(kpf_model_args_feature(&a, "test.other/1"));
    cr_expect_null(kpf_model_args_feature(&a, NULL));
    a.struct_size = (uint32_t)offsetof(kpf_model_args, features); /* an older host */
    cr_expect_null(kpf_model_args_feature(&a, PROBE_FEATURE));
    cr_expect_null(kpf_model_args_feature(NULL, PROBE_FEATURE));
}
