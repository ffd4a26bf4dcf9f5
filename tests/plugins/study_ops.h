/* Shared by the study test plugins: a tiny valid study that each test file
 * exports as is (study_fixture.c) or bends in one way (study_bad_*.c).
 *
 *   fixture_study:
 *     value: 3          # required, 0 … 100
 *     plugin: rnn       # optional: a model plugin the study looks up itself
 *     fail: false       # optional: run fails (KPF_ENUMERIC) after writing
 *
 * check validates every key (located errors, unknown keys included) and
 * writes nothing; run writes fixture.txt ("value 3"); resume appends
 * "resumed".  Not a study anyone should use. */
#ifndef KPF_TEST_STUDY_OPS_H
#define KPF_TEST_STUDY_OPS_H

#include <stdio.h>

#include "kpf/study.h"

static int fx_parse(kpf_config *cfg, const kpf_registry *reg, double *value, int *fail,
                    kpf_error *err)
{
    const kpf_node *map = NULL;
    const char *plugin = NULL;
    int rc = kpf_cfg_map(kpf_config_root(cfg), "fixture_study", KPF_CFG_REQUIRED, &map, err);
    if (!rc) rc = kpf_cfg_double(map, "value", KPF_CFG_REQUIRED, 0, 0, 100, value, err);
    if (!rc) rc = kpf_cfg_bool(map, "fail", KPF_CFG_OPTIONAL, 0, fail, err);
    if (!rc) rc = kpf_cfg_string(map, "plugin", KPF_CFG_OPTIONAL, NULL, &plugin, err);
    const kpf_plugin *p = NULL;
    kpf_error e;
    if (!rc && plugin && kpf_registry_find(reg, plugin, &p, &e))
        rc = kpf_node_error(kpf_node_get(map, "plugin"), err, "%s", e.msg);
    if (!rc) rc = kpf_config_check_unused(cfg, err);
    return rc;
}

static int fx_check(kpf_config *cfg, const kpf_registry *reg, kpf_error *err)
{
    double v;
    int fail;
    return fx_parse(cfg, reg, &v, &fail, err);
}

static int fx_write(const char *dir, const char *mode, const char *line, kpf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/fixture.txt", dir);
    FILE *fp = fopen(path, mode);
    int bad = !fp || fprintf(fp, "%s\n", line) < 0;
    if (fp && fclose(fp))
        bad = 1;
    return bad ? kpf_error_set(err, KPF_EIO, "%s: cannot write", path) : KPF_OK;
}

static int fx_run(kpf_config *cfg, const kpf_registry *reg, const char *dir, kpf_error *err)
{
    double v;
    int fail;
    int rc = fx_parse(cfg, reg, &v, &fail, err);
    char line[64];
    snprintf(line, sizeof line, "value %g", v);
    if (!rc) rc = fx_write(dir, "wx", line, err);
    if (!rc && fail)
        rc = kpf_error_set(err, KPF_ENUMERIC, "fixture_study: failing as asked (fail: true)");
    return rc;
}

static int fx_resume(kpf_config *cfg, const kpf_registry *reg, const char *dir, kpf_error *err)
{
    double v;
    int fail;
    int rc = fx_parse(cfg, reg, &v, &fail, err);
    return rc ? rc : fx_write(dir, "a", "resumed", err);
}

#define FIXTURE_STUDY(nm)                                                                   \
    {KPF_STUDY_DESC_HEAD, .name = nm, .summary = "test fixture study", .check = fx_check, \
     .run = fx_run, .resume = fx_resume}

#endif
