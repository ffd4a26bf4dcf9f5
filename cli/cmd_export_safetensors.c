/* `kpf export-safetensors RUN_DIR OUT.safetensors`: a run's trained θ as a
 * .safetensors file under PyTorch's names (kpf/param_safetensors.h), so
 * the model loads back into PyTorch:
 *
 *     from safetensors.torch import load_file
 *     cell = torch.nn.GRUCell(n_in, n); cell.load_state_dict(load_file(OUT))
 *
 * The model is rebuilt from the run's own config.yaml and overrides.txt (as
 * --resume does), then θ is read from the run's train.h5 (or, for a run
 * without training, trajectory.h5): /theta/<block>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kpf/experiment.h"
#include "kpf/h5io.h"
#include "kpf/param_safetensors.h"
#include "kpf/study.h"

#define MAX_NAMES 64

typedef struct args {
    const char *dir, *out, *prefix;
    const char *map[2 * MAX_NAMES + 1];
    size_t n_map;
    int layer, f32, help;
} args;

static void export_usage(FILE *fp)
{
    fputs("usage: kpf export-safetensors RUN_DIR OUT.safetensors [options]\n"
          "  writes the trained θ of the run in RUN_DIR (train.h5, or trajectory.h5 for a\n"
          "  run without training) to OUT.safetensors, which must not exist, with the\n"
          "  names PyTorch gives the model's blocks: gru's weight_ih, weight_hh, bias_ih,\n"
          "  bias_hh (nn.GRUCell); rnn's W, W_in, b as weight_hh, weight_ih, bias_ih\n"
          "  (+ a zero bias_hh; nn.RNNCell, for an rnn with step: euler and dt: 1); any\n"
          "  other block (the core readout's W_out, b_out) under its own name.\n"
          "\n"
          "options:\n"
          "  --prefix P          prepend P to every name (\"rnn.\": a submodule's keys)\n"
          "  --layer             nn.GRU / nn.RNN names (weight_hh_l0 …) instead of the\n"
          "                      Cell's\n"
          "  --name BLOCK=NAME   write block BLOCK as NAME exactly (repeatable)\n"
          "  --f32               float32 tensors (default float64)\n"
          "  -h, --help          this text\n"
          "\n"
          "  Loading it back in kpf: model: {init: {from: OUT.safetensors, prefix: P}}\n"
          "  (docs/safetensors.md).\n",
          fp);
}

static int bad(const char *what, const char *s)
{
    fprintf(stderr, "kpf export-safetensors: %s '%s' (see 'kpf export-safetensors --help')\n",
            what, s);
    return -1;
}

static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int has_value = i + 1 < argc;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            a->help = 1;
            return 0;
        } else if (!strcmp(s, "--layer")) {
            a->layer = 1;
        } else if (!strcmp(s, "--f32")) {
            a->f32 = 1;
        } else if (!strcmp(s, "--prefix") && has_value) {
            a->prefix = argv[++i];
        } else if (!strcmp(s, "--name") && has_value) {
            char *eq = strchr(argv[++i], '=');
            if (!eq || eq == argv[i] || !eq[1])
                return bad("--name needs BLOCK=NAME, not", argv[i]);
            if (a->n_map == MAX_NAMES)
                return bad("too many --name options at", argv[i]);
            *eq = '\0';
            a->map[2 * a->n_map] = argv[i];
            a->map[2 * a->n_map + 1] = eq + 1;
            a->n_map++;
        } else if (!strcmp(s, "--prefix") || !strcmp(s, "--name")) {
            return bad("missing the value after", s);
        } else if (s[0] == '-' && s[1]) {
            return bad("unknown option", s);
        } else if (!a->dir) {
            a->dir = s;
        } else if (!a->out) {
            a->out = s;
        } else {
            return bad("one run and one output file, not also", s);
        }
    }
    if (!a->dir || !a->out) {
        fprintf(stderr, "usage: kpf export-safetensors RUN_DIR OUT.safetensors [--prefix P] "
                        "[--layer] [--name BLOCK=NAME]... [--f32]\n"
                        "(see 'kpf export-safetensors --help')\n");
        return -1;
    }
    return 0;
}

/* The run's config with the overrides it was run with. */
static int load_config(const char *dir, kpf_config **cfg, kpf_error *err)
{
    char path[4200], line[4096];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    if (access(path, R_OK))
        return kpf_error_set(err, KPF_EIO, "%s: missing; is %s a kpf run folder? (a sweep's "
                                           "points are exported from their own config)",
                             path, dir);
    int rc = kpf_config_load_file(path, cfg, err);
    snprintf(path, sizeof path, "%s/overrides.txt", dir);
    FILE *fp = rc ? NULL : fopen(path, "r");
    while (fp && !rc && fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && line[0] != '#')
            rc = kpf_config_set(*cfg, line, err);
    }
    if (fp)
        fclose(fp);
    return rc;
}

/* θ of the run: /theta/<block> of train.h5, else of trajectory.h5. */
static int load_theta(const char *dir, kpf_model *m, kpf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/train.h5", dir);
    if (access(path, R_OK))
        snprintf(path, sizeof path, "%s/trajectory.h5", dir);
    if (access(path, R_OK))
        return kpf_error_set(err, KPF_EIO, "%s: neither train.h5 nor trajectory.h5 is there "
                                           "(has the run finished?)",
                             dir);
    kpf_h5 *h = NULL;
    int rc = kpf_h5_open(path, &h, err);
    for (size_t i = 0; !rc && i < m->n_blocks; i++) {
        const kpf_param_block *b = &m->blocks[i];
        char ds[600];
        snprintf(ds, sizeof ds, "/theta/%s", b->name);
        rc = kpf_h5_read(h, ds, b->rows * b->cols, m->theta + b->offset, err);
    }
    if (h)
        kpf_h5_close(h, NULL);
    return rc ? kpf_error_prefix(err, rc, "%s: ", path) : KPF_OK;
}

static int export_run(const args *a, kpf_error *err)
{
    kpf_config *cfg = NULL;
    kpf_registry *reg = NULL;
    kpf_experiment *ex = NULL;
    const kpf_study_desc *study = NULL;
    int rc = load_config(a->dir, &cfg, err);
    if (!rc)
        rc = kpf_cli_registry(&reg, err);
    if (!rc)
        rc = kpf_study_select(reg, cfg, &study, NULL, err);
    if (!rc && study)
        rc = kpf_error_set(err, KPF_EINVAL, "%s is a `%s:` study's folder; only experiment runs "
                                            "have one model to export",
                           a->dir, study->name);
    if (!rc)
        rc = kpf_experiment_load(cfg, reg, &ex, err);
    kpf_model *m = rc ? NULL : kpf_experiment_model(ex);
    if (!rc)
        rc = load_theta(a->dir, m, err);
    if (!rc) {
        kpf_st_names nm = {.prefix = a->prefix, .map = a->n_map ? a->map : NULL,
                           .layer = a->layer};
        rc = kpf_params_save_safetensors(m, a->out, a->f32 ? KPF_ST_F32 : KPF_ST_F64, &nm, err);
    }
    kpf_experiment_free(ex);
    kpf_registry_free(reg);
    kpf_config_free(cfg);
    return rc;
}

int kpf_cmd_export_safetensors(int argc, char **argv)
{
    args a = {0};
    if (parse(argc, argv, &a))
        return KPF_EXIT_USAGE;
    if (a.help) {
        export_usage(stdout);
        return KPF_EXIT_OK;
    }
    kpf_error err;
    kpf_error_clear(&err);
    int rc = export_run(&a, &err);
    if (rc) {
        fprintf(stderr, "kpf export-safetensors: %s\n", err.msg);
        return rc == KPF_ECONFIG ? KPF_EXIT_USAGE : KPF_EXIT_FAIL;
    }
    printf("%s\n", a.out);
    return KPF_EXIT_OK;
}
