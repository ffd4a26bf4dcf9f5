/* Shared by the analysis suites that check an analysis against a dense or
 * ground-truth reference: a model from YAML (built-in plugins or the test
 * fixtures), a simulated trajectory, dense operators, and a run's θ and
 * analysis trials rebuilt through the public API. */
#ifndef KPF_SNAPSHOT_FIXTURE_H
#define KPF_SNAPSHOT_FIXTURE_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "kpf/h5io.h"
#include "kpf/instance.h"
#include "kpf/kpflow.h"
#include "kpf/operator.h"
#include "kpf/plugin.h"
#include "kpf/rng.h"
#include "kpf/task.h"
#include "kpf/trajectory.h"

#define OK(call) cr_assert_eq((call), KPF_OK, "%s", sf_err.msg)

static kpf_error sf_err;

typedef struct sf_model {
    kpf_registry *reg;
    kpf_config *cfg;
    kpf_model *m;
} sf_model;

/* The model `plugin` from the `model:` YAML map text (built-in plugins, or
 * a fixture .so of tests/plugins when `fixture` names it). */
static inline void sf_model_make(sf_model *f, const char *plugin, const char *fixture,
                                 const char *yaml, size_t n_in, size_t n_out, size_t trials,
                                 uint64_t seed)
{
    memset(f, 0, sizeof *f);
    const kpf_plugin *p = NULL;
    OK(kpf_registry_alloc(&f->reg, &sf_err));
    if (fixture) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.so", KPF_TEST_PLUGIN_DIR, fixture);
        OK(kpf_registry_add_file(f->reg, path, &sf_err));
    } else {
        OK(kpf_registry_scan(f->reg, KPF_BUILD_PLUGIN_DIR, &sf_err));
    }
    OK(kpf_registry_find(f->reg, plugin, &p, &sf_err));
    OK(kpf_config_load_string(yaml, "fixture.yaml", &f->cfg, &sf_err));
    OK(kpf_model_create(p, kpf_config_root(f->cfg), n_in, n_out, trials, seed, &f->m,
                        &sf_err));
}

static inline void sf_model_free(sf_model *f)
{
    kpf_model_free(f->m);
    kpf_config_free(f->cfg);
    kpf_registry_free(f->reg);
    memset(f, 0, sizeof *f);
}

/* B trials of T steps with N(0, 1) inputs from seed, simulated. */
static inline kpf_traj *sf_traj_random(kpf_model *m, size_t B, size_t T, unsigned long seed)
{
    kpf_traj *tr = NULL;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    OK(kpf_traj_alloc(m, B, T, &tr, &sf_err));
    for (size_t i = 0; i < B * T * m->n_in; i++)
        tr->x[i] = gsl_ran_gaussian(r, 1.0);
    gsl_rng_free(r);
    OK(kpf_simulate(m, tr, &sf_err));
    return tr;
}

static inline double *sf_dense(kpf_op *A)
{
    size_t N = kpf_space_size(&A->in) * kpf_space_size(&A->out);
    double *D = malloc(N * sizeof *D);
    cr_assert_not_null(D);
    OK(kpf_op_to_dense(A, (size_t)1 << 24, D, &sf_err));
    return D;
}

static inline double *sf_read(kpf_h5 *h, const char *path, size_t *n)
{
    size_t cnt = 0;
    OK(kpf_h5_count(h, path, &cnt, &sf_err));
    double *v = malloc((cnt ? cnt : 1) * sizeof(double));
    OK(kpf_h5_read(h, path, cnt, v, &sf_err));
    if (n)
        *n = cnt;
    return v;
}

/* θ of a run's snapshot (/snapshots/<it>/theta/<block>) into m. */
static inline void sf_theta_from_run(kpf_model *m, kpf_h5 *h, size_t it)
{
    for (size_t b = 0; b < m->n_blocks; b++) {
        const kpf_param_block *k = &m->blocks[b];
        char path[256];
        snprintf(path, sizeof path, "/snapshots/%zu/theta/%s", it, k->name);
        OK(kpf_h5_read(h, path, k->rows * k->cols, m->theta + k->offset, &sf_err));
    }
    OK(kpf_model_theta_changed(m, &sf_err));
}

/* The analysis trials the host draws: B noise-free trials from the
 * evaluation stream of the run's seed. */
static inline kpf_task_batch *sf_analysis_batch(kpf_task *task, size_t B, uint64_t seed)
{
    kpf_task_batch *bt = NULL;
    gsl_rng *r = NULL;
    OK(kpf_rng_alloc(seed, KPF_RNG_EVAL, &r, &sf_err));
    OK(kpf_task_batch_alloc(task, B, &bt, &sf_err));
    kpf_task_set_noise_scale(task, 0.0);
    OK(kpf_task_generate(task, r, bt, &sf_err));
    kpf_task_set_noise_scale(task, 1.0);
    gsl_rng_free(r);
    return bt;
}

static inline double sf_maxdiff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

#endif
