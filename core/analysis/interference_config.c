/* The `interference` analysis: its settings (validated at create, every
 * mistake located) and its buffers.
 *
 *   interference:
 *     matched_trials: 8   matched-stimulus trials per sub-task for the task
 *                         alignment (default 8 when the task can make them,
 *                         else 0 = none; > 0 with a task that cannot is an error)
 *     rayleigh: true      the Rayleigh-alignment matrix R(K_ij, P_j* Err_j)
 *     filters:            S×S 0/1 masks by name (Fig. 4E), rows and columns
 *       pro_anti: [[0,0,1,0], [0,0,0,1], [1,0,0,0], [0,1,0,0]]   in sub-task order
 *
 * "offdiag" (every pair i ≠ j) is always filter 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interference_internal.h"
#include "kpf/rng.h"

void kpf_internal_itf_free(itf *s)
{
    if (!s)
        return;
    for (size_t f = 0; f < s->n_filters; f++)
        free(s->filters[f].F);
    free(s->filters);
    free(s->iteration);
    for (int i = 0; i < ITF_N_MATS; i++)
        free(s->mat[i]);
    free(s->group);
    free(s->errv);
    free(s->y);
    free(s->dy);
    kpf_task_batch_free(s->mb);
    kpf_traj_free(s->mtr);
    free(s);
}

static int valid_filter_name(const char *s)
{
    size_t n = 0;
    for (; *s; s++, n++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return n > 0 && n <= ITF_FILTER_NAME_MAX;
}

static void name_filter(itf_filter *f, const char *name)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->scalar[0], sizeof f->scalar[0], "interference_cum_%s", name);
    snprintf(f->scalar[1], sizeof f->scalar[1], "task_alignment_%s", name);
}

/* One S×S 0/1 mask from a list of S lists of S numbers. */
static int read_mask(const kpf_node *m, size_t S, const char *const *names, double *F,
                     kpf_error *err)
{
    if (kpf_node_kind(m) != KPF_NODE_SEQ || kpf_node_len(m) != S)
        return kpf_node_error(m, err, "expected a %zu×%zu 0/1 matrix: a list of %zu rows (%s …)",
                              S, S, S, names[0]);
    for (size_t i = 0; i < S; i++) {
        const kpf_node *row = kpf_node_at(m, i);
        if (kpf_node_kind(row) != KPF_NODE_SEQ || kpf_node_len(row) != S)
            return kpf_node_error(row, err, "row %zu (%s) must list %zu entries, 0 or 1", i,
                                  names[i], S);
        for (size_t j = 0; j < S; j++) {
            const char *v = kpf_node_scalar(kpf_node_at(row, j));
            if (!v || (strcmp(v, "0") && strcmp(v, "1")))
                return kpf_node_error(kpf_node_at(row, j), err,
                                      "entry (%s, %s) must be 0 or 1", names[i], names[j]);
            F[i * S + j] = v[0] == '1';
        }
    }
    return KPF_OK;
}

static int read_filters(const kpf_node *node, itf *s, kpf_error *err)
{
    const kpf_node *fm = NULL;
    int rc = kpf_cfg_map(node, "filters", KPF_CFG_OPTIONAL, &fm, err);
    size_t nf = fm ? kpf_node_len(fm) : 0;
    if (!rc && !(s->filters = calloc(nf + 1, sizeof *s->filters)))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t f = 0; !rc && f <= nf; f++)
        if (!(s->filters[f].F = calloc(s->S * s->S, sizeof(double))))
            rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (rc)
        return rc;
    s->n_filters = nf + 1;
    name_filter(&s->filters[0], "offdiag");
    for (size_t i = 0; i < s->S * s->S; i++)
        s->filters[0].F[i] = i / s->S != i % s->S;
    for (size_t f = 0; !rc && f < nf; f++) {
        const char *key = kpf_node_key_at(fm, f);
        const kpf_node *m = kpf_node_get(fm, key);
        if (!valid_filter_name(key) || !strcmp(key, "offdiag"))
            return kpf_node_error(m, err,
                                  "filter name '%s' must be [a-z0-9_]+ of at most %d "
                                  "characters and not 'offdiag' (always there)",
                                  key, ITF_FILTER_NAME_MAX);
        name_filter(&s->filters[f + 1], key);
        rc = read_mask(m, s->S, s->names, s->filters[f + 1].F, err);
    }
    if (!rc && fm)
        kpf_node_mark_used(fm);
    return rc;
}

/* Matched trials: drawn once, noise off like the analysis trials, from the
 * evaluation stream of the seed. */
static int make_matched(itf *s, const kpf_analysis_setup *setup, kpf_error *err)
{
    kpf_task *task = (kpf_task *)setup->task; /* noise toggled and restored, as the host does */
    gsl_rng *rng = NULL;
    int rc = kpf_rng_alloc(setup->seed, KPF_RNG_EVAL, &rng, err);
    if (!rc) rc = kpf_task_batch_alloc(task, s->S * s->matched, &s->mb, err);
    if (!rc) {
        kpf_task_set_noise_scale(task, 0.0);
        rc = kpf_task_generate_matched(task, rng, s->mb, err);
        kpf_task_set_noise_scale(task, 1.0);
    }
    if (rng)
        gsl_rng_free(rng);
    if (!rc) rc = kpf_traj_alloc(setup->model, s->mb->B, s->mb->T, &s->mtr, err);
    if (!rc) {
        memcpy(s->mtr->x, s->mb->x, s->mb->B * s->mb->T * s->mb->n_in * sizeof(double));
        memcpy(s->mtr->trial, s->mb->trial, s->mb->B * sizeof(size_t));
    }
    return rc;
}

static int read_settings(const kpf_node *node, const kpf_analysis_setup *setup, itf *s,
                         kpf_error *err)
{
    const char *tname = setup->task->type->name;
    int can_match = KPF_TASK_OP(setup->task->type, generate_matched) != NULL;
    int rc = kpf_cfg_bool(node, "rayleigh", KPF_CFG_OPTIONAL, 1, &s->rayleigh, err);
    if (!rc)
        rc = kpf_cfg_size(node, "matched_trials", KPF_CFG_OPTIONAL, can_match ? 8 : 0, 0,
                          100000, &s->matched, err);
    if (!rc && s->matched && !can_match)
        rc = kpf_node_error(kpf_node_get(node, "matched_trials"), err,
                            "task '%s' cannot make matched-stimulus trials (no "
                            "generate_matched op); set matched_trials: 0",
                            tname);
    if (!rc && setup->trials < s->S)
        rc = kpf_node_error(node, err,
                            "analysis.trials = %zu leaves some of the %zu sub-tasks without "
                            "trials; use a multiple of %zu",
                            setup->trials, s->S, s->S);
    return rc ? rc : read_filters(node, s, err);
}

static int alloc_buffers(itf *s, const kpf_analysis_setup *setup, kpf_error *err)
{
    const kpf_model *m = setup->model;
    size_t S2 = s->S * s->S, cap = s->cap ? s->cap : 1, rows = s->B * s->T;
    s->iteration = calloc(cap, sizeof(size_t));
    for (int i = 0; i < ITF_N_MATS; i++)
        s->mat[i] = malloc(cap * S2 * sizeof(double));
    s->group = malloc(s->B * sizeof(int));
    s->errv = malloc(rows * m->n * sizeof(double));
    s->y = malloc(rows * m->n_out * sizeof(double));
    s->dy = malloc(rows * m->n_out * sizeof(double));
    int ok = s->iteration && s->group && s->errv && s->y && s->dy;
    for (int i = 0; i < ITF_N_MATS; i++)
        ok = ok && s->mat[i];
    if (!ok)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate the interference analysis");
    for (int i = 0; i < ITF_N_MATS; i++)
        for (size_t k = 0; k < cap * S2; k++)
            s->mat[i][k] = NAN;
    return KPF_OK;
}

int kpf_internal_itf_create(const kpf_node *node, const kpf_analysis_setup *setup, itf **out,
                            kpf_error *err)
{
    if (!node || kpf_node_kind(node) != KPF_NODE_MAP)
        return kpf_node_error(node, err, "expected a map {matched_trials, rayleigh, filters} "
                                         "({} for the defaults)");
    const char *const *names = NULL;
    size_t S = kpf_task_subtasks(setup->task, &names);
    if (S < 2)
        return kpf_node_error(node, err,
                              "task '%s' is not a mixture of sub-tasks (it declares none); "
                              "the interference matrix needs one, such as multitask4",
                              setup->task->type->name);
    itf *s = calloc(1, sizeof *s);
    if (!s)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    *s = (itf){.S = S, .names = names, .cap = setup->max_snapshots, .B = setup->trials,
               .T = setup->steps, .n_state = setup->model->n};
    int rc = read_settings(node, setup, s, err);
    if (!rc) rc = alloc_buffers(s, setup, err);
    if (!rc && s->matched) rc = make_matched(s, setup, err);
    if (rc) {
        kpf_internal_itf_free(s);
        return rc;
    }
    *out = s;
    return KPF_OK;
}
