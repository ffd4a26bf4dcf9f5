/* libFuzzer harness: a config's way in (issue 13).
 *
 * Input: YAML text, then up to four `--set` assignments, separated by NUL
 * bytes ("model: {n: 4}\0model.g=2\0train.lr=0.1").  Each input is
 *
 *   1. loaded (kpf_config_load_string),
 *   2. overridden by the assignments (kpf_config_set),
 *   3. read as a sweep (kpf_sweep_parse; its first and last points applied
 *      to a second copy, and a failure there blamed on the spec), and
 *   4. validated as an experiment (kpf_experiment_load) against a registry
 *      holding the rnn plugin and the built-in tasks and analyses.
 *
 * Beyond "no crash, no sanitizer report": every refusal of steps 1–3 must be
 * one line with a file:line:col location (the config layer's promise), and
 * a sweep never has 0 or more than KPF_SWEEP_MAX_POINTS points.  A broken
 * promise is abort(), so libFuzzer keeps the input.
 *
 *   bash scripts/fuzz.sh SECONDS          (builds with clang, runs all)
 *   build/bin/fuzz_config_replay fuzz/corpus/config   (replay, no libFuzzer) */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/config.h"
#include "kpf/experiment.h"
#include "kpf/plugin.h"
#include "kpf/sweep.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_SETS = 4 };

static kpf_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kpf_error err = {0};
    if (kpf_registry_alloc(&reg, &err) ||
        kpf_registry_add_file(reg, KPF_FUZZ_PLUGIN_DIR "/rnn.so", &err)) {
        fprintf(stderr, "fuzz_config: %s\n", err.msg);
        abort();
    }
    return 0;
}

/* "…:LINE:COL: " somewhere in the message. */
static int has_location(const char *msg)
{
    for (const char *p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
        const char *q = p + 1;
        if (!isdigit((unsigned char)*q))
            continue;
        while (isdigit((unsigned char)*q))
            q++;
        if (*q != ':' || !isdigit((unsigned char)q[1]))
            continue;
        q++;
        while (isdigit((unsigned char)*q))
            q++;
        if (*q == ':')
            return 1;
    }
    return 0;
}

/* KPF_FUZZ_VERBOSE=1: say what became of each step (replaying by hand). */
static void say(const char *step, int rc, const kpf_error *err)
{
    if (getenv("KPF_FUZZ_VERBOSE"))
        fprintf(stderr, "  %s: %s\n", step, rc ? err->msg : "accepted");
}

/* A refusal: one line; a config mistake is located. */
static void check_refusal(int rc, const kpf_error *err)
{
    if (!rc)
        return;
    if (!err->msg[0] || memchr(err->msg, '\n', strnlen(err->msg, sizeof err->msg)))
        abort();
    if (rc == KPF_ECONFIG && !has_location(err->msg))
        abort();
}

static void try_sweep(const kpf_config *cfg, const char *text, char **sets, size_t n_sets)
{
    kpf_error err = {0};
    kpf_sweep sw;
    int rc = kpf_sweep_parse(kpf_node_get(kpf_config_root(cfg), "sweep"), 7, &sw, &err);
    say("sweep", rc, &err);
    check_refusal(rc, &err);
    if (rc || sw.n_keys == 0)
        return;
    if (sw.n_points == 0 || sw.n_points > KPF_SWEEP_MAX_POINTS)
        abort();
    size_t last = sw.n_points - 1, points[2] = {0, last};
    for (int k = 0; k < 2; k++) {
        kpf_config *copy = NULL;
        if (kpf_config_load_string(text, "fuzz.yaml", &copy, &err))
            abort(); /* it loaded a moment ago */
        for (size_t i = 0; i < n_sets; i++)
            kpf_config_set(copy, sets[i], &err);
        kpf_error_clear(&err);
        rc = kpf_sweep_apply(&sw, points[k], copy, &err);
        check_refusal(rc, &err);
        kpf_config_free(copy);
    }
    kpf_sweep_clear(&sw);
}

static void try_experiment(const kpf_config *cfg)
{
    kpf_error err = {0};
    kpf_experiment *ex = NULL;
    int rc = kpf_experiment_load(cfg, reg, &ex, &err);
    say("experiment", rc, &err);
    if (rc && (!err.msg[0] || ex))
        abort();
    kpf_experiment_free(ex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* Parts after the YAML text: the --set assignments. */
    char *sets[MAX_SETS];
    size_t n_sets = 0, len = strlen(text);
    for (char *p = text + len; p < text + size && n_sets < MAX_SETS; p += strlen(p)) {
        p++;
        sets[n_sets++] = p;
    }
    kpf_config *cfg = NULL;
    kpf_error err = {0};
    int rc = kpf_config_load_string(text, "fuzz.yaml", &cfg, &err);
    say("load", rc, &err);
    check_refusal(rc, &err);
    if (rc) {
        if (cfg)
            abort();
        free(text);
        return 0;
    }
    for (size_t i = 0; i < n_sets; i++) {
        kpf_error_clear(&err);
        rc = kpf_config_set(cfg, sets[i], &err);
        say("--set", rc, &err);
        check_refusal(rc, &err);
    }
    try_sweep(cfg, text, sets, n_sets);
    try_experiment(cfg);
    kpf_config_free(cfg);
    free(text);
    return 0;
}
