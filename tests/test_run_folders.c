/* Run folders are always finished, clearly failed, or resumable (issue 13,
 * items 2, 5, 16, 17): the completion marker comes last, a failed run is
 * marked FAILED with its message, a config error leaves no folder, long
 * --set values survive --resume, weights files are validated on load, and
 * a dangling -o link is refused with the reason.  The kill and full-disk
 * cases of every phase are in tests/fault/test_faults.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpf/instance.h"
#include "kpf/param_io.h"
#include "kpf/plugin.h"
#include "test_util.h"

TestSuite(run_folders, .init = tu_mktmp, .fini = tu_rmtmp, .timeout = 120);

static const char *const small =
    "seed: 1\n"
    "task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n"
    "model: {plugin: rnn, n: 4}\n"
    "train: {iterations: 2, batch: 2, eval_trials: 2, eval_every: 1, checkpoint_every: 1}\n"
    "simulate: {trials: 2}\n"
    "output: {trajectory: false}\n";

static char *slurp(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tu_tmp, name);
    FILE *fp = fopen(p, "r");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *s = malloc((size_t)n + 1);
    size_t k = fread(s, 1, (size_t)n, fp);
    s[k] = '\0';
    fclose(fp);
    return s;
}

/* A --set value of 100 000 bytes ("task.n_conditions=000…08") is kept whole
 * in overrides.txt and re-applied by --resume; it used to be cut at 64 KB,
 * so the resumed run had another config, or none that parsed. */
Test(run_folders, a_set_value_over_64_kb_survives_resume)
{
    tu_write("c.yaml", small);
    const int zeros = 100000;
    char script[256];
    snprintf(script, sizeof script, "%s/cmd.sh", tu_tmp);
    FILE *fp = fopen(script, "w"); /* longer than tu_sh's command buffer */
    cr_assert_not_null(fp);
    fprintf(fp, "%s run -q %s/c.yaml -o %s/out --set 'task.n_conditions=%0*d8'\n",
            KPF_CLI_PATH, tu_tmp, tu_tmp, zeros, 0);
    fclose(fp);
    cr_assert_eq(tu_sh("sh %s", script), 0, "%s", tu_out);
    char *ov = slurp("out/overrides.txt");
    cr_assert_not_null(ov);
    const char *line = strstr(ov, "task.n_conditions=");
    cr_assert_not_null(line, "%.200s", ov);
    cr_expect_eq((size_t)(strchr(line, '\n') - line), strlen("task.n_conditions=") + zeros + 1,
                 "the value was cut or split");
    free(ov);
    /* as if killed before summary.json: --resume reads the value back */
    char p[256];
    snprintf(p, sizeof p, "%s/out/summary.json", tu_tmp);
    cr_assert_eq(unlink(p), 0);
    cr_expect_eq(tu_sh("%s run -q --resume %s/out", KPF_CLI_PATH, tu_tmp), 0, "%s", tu_out);
    cr_expect(tu_exists("out/summary.json"));
}

Test(run_folders, a_set_value_with_a_newline_is_refused_at_once)
{
    tu_write("c.yaml", small);
    cr_assert_eq(tu_sh("%s run %s/c.yaml -o %s/out --set \"$(printf 'seed=1\\nx')\"",
                       KPF_CLI_PATH, tu_tmp, tu_tmp),
                 2, "%s", tu_out);
    cr_expect(strstr(tu_out, "a --set value cannot contain a newline"), "%s", tu_out);
    cr_expect_not(tu_exists("out"));
}

/* A weights file with a NaN (issue 13, item 17): refused when the config is
 * loaded, located at init.from and naming the dataset and the entry, before
 * any folder exists. */
Test(run_folders, a_nan_in_init_from_weights_is_refused_before_any_output)
{
    kpf_registry *reg = NULL;
    const kpf_plugin *pl = NULL;
    kpf_model *m = NULL;
    kpf_error err = {0};
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_resolve(reg, "rnn", &pl, &err), KPF_OK, "%s", err.msg);
    /* the run's model: n 4; memory_pro has 3 inputs and 3 outputs */
    kpf_config *mc = NULL;
    cr_assert_eq(kpf_config_load_string("{n: 4}", "m.yaml", &mc, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_create(pl, kpf_config_root(mc), 3, 3, 4, 1, &m, &err), KPF_OK, "%s",
                 err.msg);
    kpf_config_free(mc);
    const kpf_param_block *W = kpf_model_block(m, "W");
    cr_assert_not_null(W);
    m->theta[W->offset + 1 * W->cols + 2] = NAN;
    char path[256];
    snprintf(path, sizeof path, "%s/w.h5", tu_tmp);
    cr_assert_eq(kpf_params_save_h5(m, path, &err), KPF_OK, "%s", err.msg);
    kpf_model_free(m);
    kpf_registry_free(reg);

    tu_write("c.yaml", "seed: 1\n"
                       "task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n"
                       "model: {plugin: rnn, n: 4, init: {from: w.h5}}\n"
                       "train: {iterations: 2, batch: 2, eval_trials: 2}\n");
    cr_assert_eq(tu_sh("%s run %s/c.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_expect(strstr(tu_out, "c.yaml:3:"), "not located at init.from: %s", tu_out);
    cr_expect(strstr(tu_out, "dataset 'W' holds NaN at [1, 2]; weights must be finite"), "%s",
              tu_out);
    cr_expect_not(tu_exists("out"), "a folder was left for a refused config");
}

/* A weights file that crashes HDF5 1.10 itself (a broken local heap,
 * SIGSEGV inside H5Lexists; fuzz/crashes/h5/hdf5_broken_local_heap_a.h5)
 * is read in a child first, so the run is refused with a located error
 * instead of dying with exit 139. */
Test(run_folders, a_weights_file_that_crashes_hdf5_is_refused_not_fatal)
{
    char src[512];
    snprintf(src, sizeof src, "%s/fuzz/crashes/h5/hdf5_broken_local_heap_a.h5",
             KPF_SOURCE_DIR);
    cr_assert_eq(tu_sh("cp '%s' %s/bad.h5", src, tu_tmp), 0, "%s", tu_out);
    tu_write("c.yaml", "seed: 1\n"
                       "task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n"
                       "model: {plugin: rnn, n: 4, init: {from: bad.h5}}\n"
                       "train: {iterations: 2, batch: 2, eval_trials: 2}\n");
    int rc = tu_sh("%s run %s/c.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, tu_out);
    cr_expect(strstr(tu_out, "c.yaml:3:"), "not located at init.from: %s", tu_out);
    /* (SIGSEGV), or (exit status 1) where AddressSanitizer reports it */
    cr_expect(strstr(tu_out, "the HDF5 library crashed (") &&
                  strstr(tu_out, ") reading this file, so it is malformed"),
              "%s", tu_out);
    cr_expect_not(tu_exists("out"), "a folder was left for a refused config");
}

/* An oversized batch fails after the folder exists (it is memory, not
 * syntax): the folder is marked FAILED with the message, never left
 * looking like a run in progress or a result. */
Test(run_folders, an_oversized_batch_leaves_a_folder_marked_failed)
{
    tu_write("c.yaml", small);
    cr_assert_eq(tu_sh("%s run -q %s/c.yaml -o %s/out --set train.batch=1000000000000",
                       KPF_CLI_PATH, tu_tmp, tu_tmp),
                 1, "%s", tu_out);
    cr_expect(strstr(tu_out, "cannot allocate"), "%s", tu_out);
    cr_expect(strstr(tu_out, "marked by"), "%s", tu_out);
    char *failed = slurp("out/FAILED");
    cr_assert_not_null(failed, "no FAILED in the folder");
    cr_expect(strstr(failed, "cannot allocate a task batch of 1000000000000 trials"), "%s",
              failed);
    free(failed);
    cr_expect_not(tu_exists("out/summary.json"));
}

Test(run_folders, a_dangling_output_link_is_refused_with_the_reason)
{
    tu_write("c.yaml", small);
    char link[256], target[256];
    snprintf(link, sizeof link, "%s/out", tu_tmp);
    snprintf(target, sizeof target, "%s/nowhere/run", tu_tmp);
    cr_assert_eq(symlink(target, link), 0);
    cr_assert_eq(tu_sh("%s run %s/c.yaml -o %s", KPF_CLI_PATH, tu_tmp, link), 2, "%s", tu_out);
    cr_expect(strstr(tu_out, "is a symbolic link to"), "%s", tu_out);
    cr_expect(strstr(tu_out, "which does not exist"), "%s", tu_out);
    cr_expect_not(tu_exists("nowhere"), "something was created behind the link");
}

/* summary.json is the completion marker: written last and atomically, so
 * a finished folder has it and nothing half-written (*.partial); a resumed
 * folder without it is finished by --resume; FAILED of an earlier attempt
 * goes when a resume succeeds. */
Test(run_folders, the_completion_marker_is_last_and_failed_marks_go_on_success)
{
    tu_write("c.yaml", small);
    cr_assert_eq(tu_sh("%s run -q %s/c.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    cr_expect_eq(tu_sh("ls -A %s/out | grep -c partial", tu_tmp), 1, "left: %s", tu_out);
    cr_expect_not(tu_exists("out/.kpf-resume"), "the θ records stayed after the run");
    /* as a run killed after train.h5 leaves it, plus an earlier failure */
    char p[256];
    snprintf(p, sizeof p, "%s/out/summary.json", tu_tmp);
    cr_assert_eq(unlink(p), 0);
    tu_write("out/FAILED", "an earlier attempt failed\n");
    cr_assert_eq(tu_sh("%s run -q --resume %s/out", KPF_CLI_PATH, tu_tmp), 0, "%s", tu_out);
    cr_expect(tu_exists("out/summary.json"));
    cr_expect_not(tu_exists("out/FAILED"), "FAILED stayed after the successful resume");
    /* a finished run is never marked FAILED by a refused resume */
    cr_assert_eq(tu_sh("%s run -q --resume %s/out", KPF_CLI_PATH, tu_tmp), 1, "%s", tu_out);
    cr_expect(strstr(tu_out, "already finished"), "%s", tu_out);
    cr_expect_not(tu_exists("out/FAILED"));
}

/* -o on an unfinished run folder says how to continue it. */
Test(run_folders, reusing_an_unfinished_folder_points_to_resume)
{
    tu_write("c.yaml", small);
    cr_assert_eq(tu_sh("%s run -q %s/c.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 0, "%s",
                 tu_out);
    char p[256];
    snprintf(p, sizeof p, "%s/out/summary.json", tu_tmp);
    cr_assert_eq(unlink(p), 0);
    cr_assert_eq(tu_sh("%s run %s/c.yaml -o %s/out", KPF_CLI_PATH, tu_tmp, tu_tmp), 2, "%s",
                 tu_out);
    cr_expect(strstr(tu_out, "it holds an unfinished run: continue it with kpf run --resume"),
              "%s", tu_out);
}
