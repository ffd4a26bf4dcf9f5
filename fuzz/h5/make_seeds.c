/* Writes the h5 harness's seed corpus: a real checkpoint (10 Adam
 * iterations of the model in fuzz_h5.h) and its parameter file.
 *   make_seeds OUT_DIR   ->  OUT_DIR/checkpoint.h5, OUT_DIR/params.h5 */
#include <stdio.h>
#include <stdlib.h>

#include "kpf/param_io.h"
#include "kpf/plugin.h"
#include "kpf/task.h"
#include "kpf/train.h"
#include "fuzz_h5.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    kpf_error err = {0};
    kpf_registry *reg = NULL;
    const kpf_plugin *p = NULL;
    kpf_config *cfg = NULL;
    kpf_task *task = NULL;
    kpf_model *m = NULL;
    char ck[4096], par[4096];
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", argv[1]);
    snprintf(par, sizeof par, "%s/params.h5", argv[1]);
    kpf_train_opts o;
    kpf_train_opts_default(&o);
    o.iterations = 10;
    o.batch = 4;
    o.eval_trials = 4;
    o.eval_every = 5;
    o.checkpoint_path = ck;
    kpf_train_history h = {0};
    int rc = kpf_registry_alloc(&reg, &err);
    if (!rc) rc = kpf_registry_add_file(reg, KPF_FUZZ_PLUGIN_DIR "/rnn.so", &err);
    if (!rc) rc = kpf_registry_find(reg, "rnn", &p, &err);
    if (!rc) rc = kpf_config_load_string(KPF_FUZZ_H5_CONFIG, "seeds", &cfg, &err);
    if (!rc) rc = kpf_task_create(kpf_node_get(kpf_config_root(cfg), "task"), &task, &err);
    if (!rc)
        rc = kpf_model_create(p, kpf_node_get(kpf_config_root(cfg), "model"), task->n_in,
                              task->n_out, 4, 1, &m, &err);
    if (!rc) rc = kpf_train(m, task, &o, NULL, NULL, &h, &err);
    if (!rc) rc = kpf_params_save_h5(m, par, &err);
    if (rc)
        fprintf(stderr, "make_seeds: %s\n", err.msg);
    kpf_train_history_free(&h);
    kpf_model_free(m);
    kpf_task_free(task);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
    return rc ? 1 : 0;
}
