/* libFuzzer harness: HDF5 files kpf reads back (issue 13).
 *
 * Input: the bytes of an HDF5 file.  They are written to a file in /dev/shm
 * (kpf opens files by name) and loaded every way a run reads them:
 *
 *   1. as a checkpoint (kpf_checkpoint_load, what `kpf run --resume` does),
 *      into a small rnn model with an Adam optimiser, RNG streams and a
 *      history: a damaged file must fail the seal check;
 *   2. as an `init.from` parameter file (kpf_params_load_h5);
 *   3. as a checkpoint again after sealing the file anew (kpf_h5_seal), as
 *      someone who edits a checkpoint on purpose would: the field checks
 *      and HDF5 itself now see the bytes.
 *
 * Beyond "no crash, no sanitizer report": a refusal is one line, and leaves
 * θ as it was; an accepted checkpoint holds only finite θ and moments.
 * State is reset before every input, so each run depends on its input only.
 *
 * Seed corpus: fuzz/corpus/h5/ (a real checkpoint and parameter file of the
 * model in fuzz_h5.h, written by fuzz/h5/make_seeds.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpf/checkpoint.h"
#include "kpf/config.h"
#include "kpf/h5io.h"
#include "kpf/param_io.h"
#include "kpf/plugin.h"
#include "kpf/rng.h"
#include "kpf/task.h"
#include "fuzz_h5.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzzing target's fixed objects and their pristine state. */
typedef struct target {
    kpf_registry *reg;
    kpf_config *cfg;
    kpf_task *task;
    kpf_model *model;
    kpf_optim *optim;
    gsl_rng *data, *batch;
    double *theta0;
    unsigned char *data0, *batch0;
    char path[64];
} target;

static target T;

static void die(const char *what, const kpf_error *err)
{
    fprintf(stderr, "fuzz_h5: %s: %s\n", what, err ? err->msg : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kpf_error err = {0};
    const kpf_plugin *p = NULL;
    if (kpf_registry_alloc(&T.reg, &err) ||
        kpf_registry_add_file(T.reg, KPF_FUZZ_PLUGIN_DIR "/rnn.so", &err) ||
        kpf_registry_find(T.reg, "rnn", &p, &err))
        die("registry", &err);
    if (kpf_config_load_string(KPF_FUZZ_H5_CONFIG, "fuzz", &T.cfg, &err) ||
        kpf_task_create(kpf_node_get(kpf_config_root(T.cfg), "task"), &T.task, &err) ||
        kpf_model_create(p, kpf_node_get(kpf_config_root(T.cfg), "model"), T.task->n_in,
                         T.task->n_out, 4, 1, &T.model, &err))
        die("model", &err);
    if (kpf_optim_alloc(KPF_OPTIM_ADAM, T.model->m, 1e-3, &T.optim, &err) ||
        kpf_rng_alloc(1, KPF_RNG_DATA, &T.data, &err) ||
        kpf_rng_alloc(1, KPF_RNG_BATCH, &T.batch, &err))
        die("optimiser", &err);
    size_t m = T.model->m, r = gsl_rng_size(T.data);
    T.theta0 = malloc(m * sizeof(double));
    T.data0 = malloc(r);
    T.batch0 = malloc(r);
    if (!T.theta0 || !T.data0 || !T.batch0)
        die("out of memory", NULL);
    memcpy(T.theta0, T.model->theta, m * sizeof(double));
    memcpy(T.data0, gsl_rng_state(T.data), r);
    memcpy(T.batch0, gsl_rng_state(T.batch), r);
    snprintf(T.path, sizeof T.path, "/dev/shm/kpf-fuzz-h5-%ld.h5", (long)getpid());
    return 0;
}

static void reset(void)
{
    size_t m = T.model->m, r = gsl_rng_size(T.data);
    memcpy(T.model->theta, T.theta0, m * sizeof(double));
    memset(T.optim->mom, 0, m * sizeof(double));
    memset(T.optim->vel, 0, m * sizeof(double));
    T.optim->t = 0;
    memcpy(gsl_rng_state(T.data), T.data0, r);
    memcpy(gsl_rng_state(T.batch), T.batch0, r);
}

static int write_input(const uint8_t *data, size_t size)
{
    FILE *f = fopen(T.path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(data, 1, size, f);
    return fclose(f) || k != size ? -1 : 0;
}

static int theta_is_pristine(void)
{
    return !memcmp(T.model->theta, T.theta0, T.model->m * sizeof(double));
}

/* KPF_FUZZ_VERBOSE=1: say what became of each input (replaying by hand). */
static void say(const char *step, int rc, const kpf_error *err)
{
    if (getenv("KPF_FUZZ_VERBOSE"))
        fprintf(stderr, "  %s: %s\n", step, rc ? err->msg : "accepted");
}

static void check_refusal(int rc, const kpf_error *err)
{
    if (!err->msg[0] || memchr(err->msg, '\n', strnlen(err->msg, sizeof err->msg)))
        abort();
    if (rc != KPF_ENOMEM && !theta_is_pristine())
        abort(); /* a refused file changed θ */
}

static void try_checkpoint(void)
{
    kpf_train_history hist = {0};
    kpf_checkpoint c = {0, T.model, T.optim, T.data, T.batch, &hist};
    kpf_error err = {0};
    int rc = kpf_checkpoint_load(T.path, &c, &err);
    say("checkpoint", rc, &err);
    if (rc) {
        check_refusal(rc, &err);
    } else {
        for (size_t i = 0; i < T.model->m; i++)
            if (!isfinite(T.model->theta[i]) || !isfinite(T.optim->mom[i]) ||
                !(T.optim->vel[i] >= 0) || !isfinite(T.optim->vel[i]))
                abort();
        /* The restored generators must be usable. */
        volatile double u = gsl_rng_uniform(T.data) + gsl_rng_uniform_pos(T.batch);
        (void)u;
    }
    kpf_train_history_free(&hist);
}

/* Finite weights are issue 13's item 17 (a later change to param_io.c):
 * only crashes and refusals are checked here. */
static void try_params(void)
{
    kpf_error err = {0};
    int rc = kpf_params_load_h5(T.model, T.path, &err);
    say("init.from", rc, &err);
    if (rc)
        check_refusal(rc, &err);
    else
        kpf_model_theta_changed(T.model, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (write_input(data, size))
        return 0;
    reset();
    try_checkpoint();
    reset();
    try_params();
    /* Sealing writes the first KPF_H5_SEAL_BYTES: last, after the file was
     * read as it came. */
    kpf_error err = {0};
    if (size >= KPF_H5_SEAL_BYTES && !kpf_h5_seal(T.path, &err)) {
        reset();
        try_checkpoint();
    }
    unlink(T.path);
    return 0;
}
