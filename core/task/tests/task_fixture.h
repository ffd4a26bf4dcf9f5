/* Shared by the task-generator suites: one task built from a YAML
 * document holding a `task:` map, with a generated batch. */
#ifndef KPF_TASK_FIXTURE_H
#define KPF_TASK_FIXTURE_H

#include <criterion/criterion.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/task.h"

/* One task built from a YAML document holding a `task:` map. */
typedef struct fixture {
    kpf_config *cfg;
    kpf_task *task;
    kpf_task_batch *bt;
    gsl_rng *rng;
} fixture;

/* Build the task; returns its status and leaves the message in *err. */
static int try_task(const char *yaml, fixture *f, kpf_error *err)
{
    memset(f, 0, sizeof *f);
    int rc = kpf_config_load_string(yaml, "test.yaml", &f->cfg, err);
    cr_assert_eq(rc, KPF_OK, "yaml: %s", err->msg);
    const kpf_node *node = kpf_node_get(kpf_config_root(f->cfg), "task");
    return kpf_task_create(node, &f->task, err);
}

/* Build the task and one generated batch of B trials from seed. */
static void make(const char *yaml, size_t B, unsigned long seed, fixture *f)
{
    kpf_error err = {0};
    cr_assert_eq(try_task(yaml, f, &err), KPF_OK, "create: %s", err.msg);
    cr_assert_eq(kpf_config_check_unused(f->cfg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_task_batch_alloc(f->task, B, &f->bt, &err), KPF_OK, "%s", err.msg);
    f->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(f->rng, seed);
    cr_assert_eq(kpf_task_generate(f->task, f->rng, f->bt, &err), KPF_OK, "%s",
                 err.msg);
}

static void drop(fixture *f)
{
    kpf_task_batch_free(f->bt);
    kpf_task_free(f->task);
    kpf_config_free(f->cfg);
    if (f->rng)
        gsl_rng_free(f->rng);
    memset(f, 0, sizeof *f);
}

#endif
