/* The analysis ABI (kpf/analysis.h): the validator's one-line refusals, the
 * built-ins entering a registry once through it, a descriptor that ends at
 * its required ops (in memory, not just in struct_size), unknown analysis
 * names as located config errors, and an analysis from a shared object run
 * from YAML by the kpf command. */
#include <criterion/criterion.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kpf/analysis.h"
#include "kpf/experiment.h"
#include "kpf/h5io.h"
#include "test_util.h"

static kpf_error err;

TestSuite(analysis_abi, .init = tu_mktmp, .fini = tu_rmtmp);

/* ---- a descriptor to bend ---------------------------------------------------- */

static int calls; /* at_snapshot calls of the stub analysis */

static int stub_create(const kpf_node *node, const kpf_analysis_setup *s, void **self,
                       kpf_error *e)
{
    *self = NULL;
    return KPF_OK;
}
static void stub_destroy(void *self) {}
static int stub_at(void *self, const kpf_snapshot *s, kpf_error *e)
{
    calls++;
    return kpf_snapshot_scalar(s, "stub_calls", (double)calls, e);
}

static kpf_analysis_desc stub(void)
{
    return (kpf_analysis_desc){KPF_ANALYSIS_DESC_HEAD, .name = "stub", .summary = "a stub",
                               .create = stub_create, .destroy = stub_destroy,
                               .at_snapshot = stub_at};
}

static void expect_refusal(const kpf_analysis_desc *d, int code, const char *fix)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_analysis_desc_validate(d, "/plugins/stub.so", &err), code, "%s", err.msg);
    cr_expect(strncmp(err.msg, "/plugins/stub.so: ", 18) == 0, "does not name the file: %s",
              err.msg);
    cr_expect(strstr(err.msg, fix), "does not say '%s': %s", fix, err.msg);
    cr_expect_null(strchr(err.msg, '\n'), "not one line: %s", err.msg);
}

Test(analysis_abi, validator_accepts_a_whole_descriptor_and_refuses_bent_ones)
{
    kpf_analysis_desc d = stub();
    cr_assert_eq(kpf_analysis_desc_validate(&d, "x.so", &err), KPF_OK, "%s", err.msg);
    d.abi_version = KPF_ANALYSIS_ABI_VERSION + 1;
    expect_refusal(&d, KPF_EABI, "rebuild the file against this kpf's headers");
    d = stub();
    d.struct_size = (uint32_t)KPF_ANALYSIS_DESC_MIN_SIZE - 1;
    expect_refusal(&d, KPF_EABI, "set struct_size = sizeof(kpf_analysis_desc)");
    d = stub();
    d.at_snapshot = NULL;
    expect_refusal(&d, KPF_EPLUGIN, "leaves the required op 'at_snapshot' NULL; implement it");
    d = stub();
    d.create = NULL;
    expect_refusal(&d, KPF_EPLUGIN, "'create'");
    d = stub();
    d.name = "Bad-Name";
    expect_refusal(&d, KPF_EPLUGIN, "use [a-z0-9_]+");
}

static kpf_analysis_desc bent;
static const void *one_bent(uint32_t i) { return i == 0 ? &bent : NULL; }

Test(analysis_abi, builtins_register_once_and_the_validator_guards_the_kind)
{
    kpf_registry *reg = NULL;
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_analysis_register_builtins(reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_analysis_register_builtins(reg, &err), KPF_OK, "%s", err.msg);
    const char *want[] = {"spectra", "pca",          "lyapunov", "delta_w",
                          "cp",      "interference", "alignment", "fixed_points",
                          "dw_shuffle", "w_spectrum"};
    const size_t n_want = sizeof want / sizeof want[0];
    cr_assert_eq(kpf_registry_ext_count(reg, KPF_KIND_ANALYSIS), n_want, "registered twice?");
    for (size_t i = 0; i < n_want; i++) {
        const kpf_extension *e = kpf_registry_ext_at(reg, KPF_KIND_ANALYSIS, i);
        cr_expect_str_eq(e->desc->name, want[i]);
        cr_expect_eq((const void *)e->desc, (const void *)kpf_builtin_analysis_descriptor(i));
    }
    /* the kind's validator is installed: a bent descriptor is refused whole */
    bent = stub();
    bent.destroy = NULL;
    cr_assert_eq(kpf_registry_add_descriptors(reg, KPF_KIND_ANALYSIS, one_bent, "/x/bent.so",
                                              &err),
                 KPF_EPLUGIN);
    cr_expect(strstr(err.msg, "/x/bent.so: analysis 'stub' leaves the required op 'destroy'"),
              "%s", err.msg);
    cr_expect_eq(kpf_registry_ext_count(reg, KPF_KIND_ANALYSIS), n_want);
    kpf_registry_free(reg);
}

/* ---- runs in this process ------------------------------------------------------ */

static kpf_registry *registry(void)
{
    kpf_registry *reg = NULL;
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    return reg;
}

static const char *const run_cfg =
    "task: {name: memory_pro, t_stim: 4, t_memory: 4, t_response: 4}\n"
    "model: {plugin: rnn, n: 6}\n"
    "train: {iterations: 4, batch: 4, lr: 0.01, eval_trials: 4}\n"
    "simulate: {trials: 2}\n"
    "output: {trajectory: false}\n";

/* Load `analysis` (YAML lines) on top of run_cfg with reg. */
static int load(kpf_registry *reg, const char *analysis, kpf_config **cfg, kpf_experiment **ex)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s", run_cfg, analysis);
    cr_assert_eq(kpf_config_load_string(text, "u.yaml", cfg, &err), KPF_OK, "%s", err.msg);
    kpf_error_clear(&err);
    return kpf_experiment_load(*cfg, reg, ex, &err);
}

static kpf_analysis_desc *page_end_desc;
static const void *short_enum(uint32_t i) { return i == 0 ? page_end_desc : NULL; }

/* A descriptor compiled before the optional ops existed ends at
 * at_snapshot.  Placed against an inaccessible page, a host that read any
 * field beyond struct_size would crash this test. */
Test(analysis_abi, a_descriptor_that_ends_at_its_required_ops_runs)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = KPF_ANALYSIS_DESC_MIN_SIZE;
    char *base = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(base, MAP_FAILED);
    cr_assert_eq(mprotect(base + page, page, PROT_NONE), 0);
    kpf_analysis_desc full = stub();
    full.name = "short_one";
    full.struct_size = (uint32_t)size;
    page_end_desc = (kpf_analysis_desc *)(base + page - size);
    memcpy(page_end_desc, &full, size);

    kpf_registry *reg = registry();
    cr_assert_eq(kpf_registry_add_descriptors(reg, KPF_KIND_ANALYSIS, short_enum,
                                              "test: short descriptor", &err),
                 KPF_OK, "%s", err.msg);
    kpf_config *cfg = NULL;
    kpf_experiment *ex = NULL;
    cr_assert_eq(load(reg, "analysis: {at: [0, 2, 4], trials: 3, k: 2, operators: [K], "
                           "short_one: {}}\n",
                      &cfg, &ex),
                 KPF_OK, "%s", err.msg);
    char out[128];
    snprintf(out, sizeof out, "%s/o", tu_tmp);
    cr_assert_eq(mkdir(out, 0777), 0);
    calls = 0;
    cr_assert_eq(kpf_experiment_run(ex, out, 0, &err), KPF_OK, "%s", err.msg);
    cr_expect_eq(calls, 3, "at_snapshot ran %d times for 3 snapshots", calls);
    cr_assert_eq(tu_sh("grep -c '\"stub_calls\": 3' %s/summary.json", out), 0, "%s", tu_out);
    kpf_experiment_free(ex);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
    munmap(base, 2 * page);
}

Test(analysis_abi, an_unknown_analysis_is_a_located_error_listing_the_known_ones)
{
    kpf_registry *reg = registry();
    kpf_config *cfg = NULL;
    kpf_experiment *ex = NULL;
    /* theorem1 belongs to a study: a registry without the studies lacks it */
    cr_assert_eq(load(reg, "analysis:\n  at: [0]\n  theorem1: {activation: tanh}\n", &cfg, &ex),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "u.yaml:8:13: analysis.theorem1: no analysis named 'theorem1' "
                              "(known analyses: spectra, pca, lyapunov, delta_w, cp, "
                              "interference, alignment, fixed_points, dw_shuffle, w_spectrum;"),
              "%s", err.msg);
    cr_expect_null(ex);
    kpf_config_free(cfg);
    cr_assert_eq(load(reg, "analysis:\n  spectrum: {}\n", &cfg, &ex), KPF_ECONFIG);
    cr_expect(strstr(err.msg, "u.yaml:7:13: analysis.spectrum: no analysis named"), "%s",
              err.msg);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
}

Test(analysis_abi, spectra_settings_in_one_place_only)
{
    kpf_registry *reg = registry();
    kpf_config *cfg = NULL;
    kpf_experiment *ex = NULL;
    cr_assert_eq(load(reg, "analysis:\n  k: 3\n  spectra: {operators: [K]}\n", &cfg, &ex),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "u.yaml:7:6: analysis.k: the spectra's settings are under "
                              "analysis.spectra here; move k there"),
              "%s", err.msg);
    kpf_config_free(cfg);
    cr_assert_eq(load(reg, "analysis:\n  spectra: {k: 3, operators: [K], kk: 1}\n", &cfg, &ex),
                 KPF_ECONFIG);
    cr_expect(strstr(err.msg, "analysis.spectra.kk: unknown key"), "%s", err.msg);
    kpf_config_free(cfg);
    cr_assert_eq(load(reg, "analysis:\n  spectra: {k: 3, operators: [K]}\n", &cfg, &ex), KPF_OK,
                 "%s", err.msg);
    kpf_experiment_free(ex);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
}

/* ---- from a shared object, through the kpf command -------------------------------- */

static double *read_all(kpf_h5 *h, const char *path, size_t *n)
{
    cr_assert_eq(kpf_h5_count(h, path, n, &err), KPF_OK, "%s %s", path, err.msg);
    double *v = malloc(*n * sizeof(double));
    cr_assert_eq(kpf_h5_read(h, path, *n, v, &err), KPF_OK, "%s", err.msg);
    return v;
}

/* ‖θ‖ from the host's own θ snapshot /snapshots/<it>/theta/<block>. */
static double theta_norm(kpf_h5 *h, size_t it)
{
    char group[64], path[128];
    snprintf(group, sizeof group, "/snapshots/%zu/theta", it);
    char **names = NULL;
    size_t nb = 0;
    cr_assert_eq(kpf_h5_list(h, group, &names, &nb, &err), KPF_OK, "%s", err.msg);
    cr_assert_gt(nb, 1);
    double sum = 0.0;
    for (size_t b = 0; b < nb; b++) {
        size_t n;
        snprintf(path, sizeof path, "%s/%s", group, names[b]);
        double *v = read_all(h, path, &n);
        for (size_t i = 0; i < n; i++)
            sum += v[i] * v[i];
        free(v);
    }
    kpf_h5_names_free(names, nb);
    return sqrt(sum);
}

Test(analysis_abi, an_analysis_from_a_shared_object_runs_from_yaml, .timeout = 120)
{
    tu_write("f.yaml", "task: {name: memory_pro, t_stim: 4, t_memory: 4, t_response: 4}\n"
                       "model: {plugin: rnn, n: 8}\n"
                       "train: {iterations: 6, batch: 4, lr: 0.05, eval_trials: 4}\n"
                       "analysis: {at: [0, 3, 6], trials: 3, k: 2, operators: [K],\n"
                       "           theta_norm: {scale: 2.0}}\n"
                       "simulate: {trials: 2}\n");
    cr_assert_eq(tu_sh("KPF_PLUGIN_PATH=%s %s run %s/f.yaml -o %s/o", KPF_TEST_PLUGIN_DIR,
                       KPF_CLI_PATH, tu_tmp, tu_tmp),
                 0, "%s", tu_out);
    char p[256], summary[65536];
    snprintf(p, sizeof p, "%s/o/analysis.h5", tu_tmp);
    kpf_h5 *h = NULL;
    cr_assert_eq(kpf_h5_open(p, &h, &err), KPF_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/o/summary.json", tu_tmp);
    FILE *fp = fopen(p, "r");
    cr_assert_not_null(fp);
    summary[fread(summary, 1, sizeof summary - 1, fp)] = '\0';
    fclose(fp);
    const size_t at[3] = {0, 3, 6};
    const char *cursor = summary;
    double first = 0.0, last = 0.0;
    for (int s = 0; s < 3; s++) {
        size_t n;
        snprintf(p, sizeof p, "/snapshots/%zu/theta_norm/value", at[s]);
        double *v = read_all(h, p, &n), want = 2.0 * theta_norm(h, at[s]);
        cr_assert_eq(n, 1);
        cr_expect_float_eq(v[0], want, 1e-12 * want, "iteration %zu: %g, want %g", at[s], v[0],
                           want);
        /* and the same value in that snapshot's summary entry, in order */
        cursor = strstr(cursor, "\"theta_norm\": ");
        cr_assert_not_null(cursor, "snapshot %d has no theta_norm in summary.json", s);
        cursor += strlen("\"theta_norm\": ");
        cr_expect_float_eq(strtod(cursor, NULL), v[0], 1e-15 * want);
        first = s == 0 ? v[0] : first;
        last = v[0];
        free(v);
    }
    cr_expect_neq(first, last, "θ did not change over training");
    size_t n;
    double *count = read_all(h, "/theta_norm/snapshots", &n);
    cr_expect_eq(count[0], 3.0);
    free(count);
    kpf_h5_close(h, NULL);
    cr_expect(strstr(summary, "\"theta_norm_snapshots\": 3"), "%s", summary);
    /* a key the analysis does not read is located like any other */
    tu_write("g.yaml", "task: {name: memory_pro}\nmodel: {plugin: rnn, n: 4}\n"
                       "analysis:\n  theta_norm: {scale: 2.0, scael: 1}\n");
    cr_assert_eq(tu_sh("KPF_PLUGIN_PATH=%s %s run %s/g.yaml -o %s/p", KPF_TEST_PLUGIN_DIR,
                       KPF_CLI_PATH, tu_tmp, tu_tmp),
                 2, "%s", tu_out);
    cr_expect(strstr(tu_out, "g.yaml:4:28: analysis.theta_norm.scael: unknown key"), "%s",
              tu_out);
    cr_expect_not(tu_exists("p"));
}
