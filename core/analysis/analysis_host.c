/* The analysis host (kpf/analysis.h): reads the `analysis:` section, creates
 * the analyses it names from a registry, and at every scheduled snapshot
 * simulates the analysis trials, stores θ and hands the snapshot to each
 * analysis in run order.  The per-snapshot scalars the analyses report are
 * kept here for summary.json. */
#include "kpf/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpf/param_io.h"
#include "kpf/rng.h"

/* Built-ins that run without a key of their own, in this order. */
static const char *const default_analyses[] = {"spectra", "pca", NULL}; /* in_list: NULL ends */
#define N_DEFAULT (sizeof default_analyses / sizeof default_analyses[0] - 1)
/* Keys of the section that are the host's, and the spectra analysis's
 * settings, which sit directly under `analysis:` since before analyses were
 * extensions. */
static const char *const host_keys[] = {"at", "trials", NULL};
static const char *const spectra_keys[] = {"k", "operators", NULL};

typedef struct scalar_entry {
    char name[KPF_ANALYSIS_SCALAR_NAME_MAX + 1];
    double value;
} scalar_entry;

struct kpf_snapshot_report {
    size_t iteration;
    scalar_entry *e;
    size_t n, cap;
};

typedef struct instance {
    const kpf_analysis_desc *desc;
    void *self;
} instance;

struct kpf_analyses {
    kpf_model *m;        /* borrowed */
    kpf_task *task;      /* borrowed */
    kpf_h5 *h5;          /* borrowed, from begin */
    uint64_t seed;
    size_t *at, n_at;    /* the schedule, shortened by final / skip_before */
    size_t trials;
    instance *an;        /* in run order */
    size_t n_an;
    kpf_task_batch *batch;
    kpf_traj *tr;        /* every trial; NULL when every analysis takes part */
    const kpf_comm *comm; /* trial-parallel run: its ranks; NULL: alone */
    kpf_traj *part;      /* this rank's trials (split analyses); or NULL */
    kpf_snapshot_report *reports; /* one per schedule entry */
    size_t n_done;
    int resumed;
    const kpf_progress *progress; /* borrowed; NULL: nobody listens */
};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

/* ---- configuration ---------------------------------------------------------- */

static int read_schedule(const kpf_node *node, size_t last, kpf_analyses *a, kpf_error *err)
{
    const kpf_node *at = kpf_node_get(node, "at");
    if (!at) {
        a->n_at = last ? 2 : 1;
        if (!(a->at = malloc(2 * sizeof(size_t))))
            return kpf_error_set(err, KPF_ENOMEM, "out of memory");
        a->at[0] = 0;
        a->at[1] = last;
        return KPF_OK;
    }
    if (kpf_node_kind(at) != KPF_NODE_SEQ || kpf_node_len(at) == 0)
        return kpf_node_error(at, err, "expected a non-empty list of iterations");
    a->n_at = kpf_node_len(at);
    if (!(a->at = malloc(a->n_at * sizeof(size_t))))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; i < a->n_at; i++) {
        const kpf_node *it = kpf_node_at(at, i);
        const char *s = kpf_node_scalar(it);
        char *end = NULL;
        unsigned long long v = s ? strtoull(s, &end, 10) : 0;
        if (!s || !*s || *end || s[0] == '-')
            return kpf_node_error(it, err, "expected an iteration number");
        if (v > last)
            return kpf_node_error(it, err, "iteration %llu is after the last one (%zu)", v,
                                  last);
        if (i && v <= a->at[i - 1])
            return kpf_node_error(it, err, "iterations must increase");
        a->at[i] = (size_t)v;
    }
    return KPF_OK;
}

/* "spectra, pca, …" for the unknown-name message (truncated to cap). */
static void known_analyses(const kpf_registry *reg, char *buf, size_t cap)
{
    size_t len = 0, n = kpf_registry_ext_count(reg, KPF_KIND_ANALYSIS);
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        const kpf_extension *e = kpf_registry_ext_at(reg, KPF_KIND_ANALYSIS, i);
        int k = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", e->desc->name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

/* How many analyses of reg are called `name`. */
static size_t count_named(const kpf_registry *reg, const char *name)
{
    size_t hits = 0, n = kpf_registry_ext_count(reg, KPF_KIND_ANALYSIS);
    for (size_t i = 0; i < n; i++)
        hits += !strcmp(kpf_registry_ext_at(reg, KPF_KIND_ANALYSIS, i)->desc->name, name);
    return hits;
}

/* The descriptor registered as `name`; `at` locates the complaint. */
static int find_desc(const kpf_registry *reg, const char *name, const kpf_node *at,
                     const kpf_analysis_desc **out, kpf_error *err)
{
    if (!count_named(reg, name)) {
        char names[1024];
        known_analyses(reg, names, sizeof names);
        return kpf_node_error(at, err,
                              "no analysis named '%s' (known analyses: %s; settings: at, "
                              "trials, k, operators); an analysis from a plugin file is "
                              "found through KPF_PLUGIN_PATH",
                              name, names[0] ? names : "none registered");
    }
    const kpf_extension *e = NULL;
    kpf_error ferr;
    kpf_error_clear(&ferr);
    if (kpf_registry_ext_find(reg, KPF_KIND_ANALYSIS, name, &e, &ferr))
        return kpf_node_error(at, err, "%s", ferr.msg); /* two files define it */
    /* A registry scanned before the analysis validator was installed has
     * only checked the head: check the whole descriptor before using it. */
    const kpf_analysis_desc *d = (const kpf_analysis_desc *)e->desc;
    if (kpf_analysis_desc_validate(d, e->path, &ferr))
        return kpf_node_error(at, err, "%s", ferr.msg);
    *out = d;
    return KPF_OK;
}

/* Create one analysis from `node` and append it to the run order. */
static int add_analysis(kpf_analyses *a, const kpf_analysis_desc *d, const kpf_node *node,
                        const kpf_node *section, const kpf_analysis_setup *setup,
                        kpf_error *err)
{
    instance *in = &a->an[a->n_an];
    in->desc = d;
    int rc = d->create(node, setup, &in->self, err);
    if (rc)
        return rc;
    a->n_an++;
    /* Keys the create did not read are typos; the section itself (spectra's
     * legacy settings) is checked as a whole by the config at the end. */
    if (node && node != section && kpf_node_kind(node) == KPF_NODE_MAP)
        rc = kpf_node_check_unused(node, err);
    return rc;
}

/* spectra's settings: `spectra: {…}` or, as always, k and operators
 * directly under `analysis:` — not both. */
static int spectra_node(const kpf_node *section, const kpf_node **out, kpf_error *err)
{
    const kpf_node *own = kpf_node_get(section, "spectra");
    *out = own ? own : section;
    for (size_t i = 0; own && spectra_keys[i]; i++) {
        const kpf_node *legacy = kpf_node_get(section, spectra_keys[i]);
        if (legacy)
            return kpf_node_error(legacy, err,
                                  "the spectra's settings are under analysis.spectra here; "
                                  "move %s there",
                                  spectra_keys[i]);
    }
    return KPF_OK;
}

static int create_all(kpf_analyses *a, const kpf_registry *reg, const kpf_node *section,
                      const kpf_analysis_setup *setup, kpf_error *err)
{
    size_t nk = kpf_node_len(section);
    if (!(a->an = calloc(nk + N_DEFAULT, sizeof *a->an)))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = KPF_OK;
    for (size_t i = 0; !rc && i < N_DEFAULT; i++) {
        const char *name = default_analyses[i];
        const kpf_node *node = NULL;
        if (!strcmp(name, "spectra"))
            rc = spectra_node(section, &node, err);
        else
            node = kpf_node_get(section, name);
        const kpf_analysis_desc *d = NULL;
        if (!rc) rc = find_desc(reg, name, node ? node : section, &d, err);
        if (!rc) rc = add_analysis(a, d, node, section, setup, err);
    }
    for (size_t i = 0; !rc && i < nk; i++) {
        const char *key = kpf_node_key_at(section, i);
        const kpf_node *node = kpf_node_at(section, i);
        if (in_list(host_keys, key) || in_list(spectra_keys, key) ||
            in_list(default_analyses, key))
            continue;
        kpf_node_get(section, key); /* the key is read: its value is the analysis's */
        const kpf_analysis_desc *d = NULL;
        rc = find_desc(reg, key, node, &d, err);
        if (!rc)
            rc = add_analysis(a, d, node, section, setup, err);
    }
    return rc;
}

int kpf_analyses_load(const kpf_registry *reg, const kpf_node *section, kpf_model *m,
                      kpf_task *task, size_t last, uint64_t seed, kpf_analyses **out,
                      kpf_error *err)
{
    *out = NULL;
    if (kpf_node_kind(section) != KPF_NODE_MAP)
        return kpf_node_error(section, err, "expected a map of analysis settings");
    kpf_analyses *a = calloc(1, sizeof *a);
    if (!a)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    a->m = m;
    a->task = task;
    a->seed = seed;
    int rc = read_schedule(section, last, a, err);
    if (!rc)
        rc = kpf_cfg_size(section, "trials", KPF_CFG_OPTIONAL, 16, 1, 100000, &a->trials, err);
    if (!rc && !(a->reports = calloc(a->n_at, sizeof *a->reports)))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    kpf_analysis_setup setup = {.model = m, .task = task, .trials = a->trials,
                                .steps = task->T, .max_snapshots = a->n_at, .seed = seed};
    if (!rc)
        rc = create_all(a, reg, section, &setup, err);
    if (rc) {
        kpf_analyses_free(a);
        return rc;
    }
    *out = a;
    return KPF_OK;
}

void kpf_analyses_free(kpf_analyses *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_an; i++)
        a->an[i].desc->destroy(a->an[i].self);
    for (size_t i = 0; a->reports && i < a->n_at; i++)
        free(a->reports[i].e);
    free(a->reports);
    free(a->an);
    free(a->at);
    kpf_task_batch_free(a->batch);
    kpf_traj_free(a->tr);
    kpf_traj_free(a->part);
    free(a);
}

/* ---- running ---------------------------------------------------------------- */

/* The descriptor's flags (0 when it predates them). */
static uint32_t flags_of(const kpf_analysis_desc *d)
{
    return KPF_ANALYSIS_HAS(d, flags) ? d->flags : 0;
}

static int splits(const kpf_analyses *a, const instance *in)
{
    return kpf_comm_size(a->comm) > 1 && (flags_of(in->desc) & KPF_ANALYSIS_SPLIT_TRIALS);
}

/* Whether some analysis takes this rank's share (part = 1) or every trial. */
static int needs(const kpf_analyses *a, int part)
{
    for (size_t i = 0; i < a->n_an; i++)
        if (splits(a, &a->an[i]) == part)
            return 1;
    return 0;
}

/* This rank's trials of the analysis batch: their inputs and indices. */
static void take_share(kpf_analyses *a)
{
    kpf_traj *p = a->part;
    size_t lo = p->trial[0], ni = a->m->n_in, B = a->batch->B;
    for (size_t t = 0; t < p->T; t++)
        memcpy(p->x + t * p->B * ni, a->batch->x + (t * B + lo) * ni, p->B * ni * sizeof(double));
    for (size_t b = 0; b < p->B; b++)
        p->trial[b] = a->batch->trial[lo + b];
}

int kpf_analyses_set_comm(kpf_analyses *a, const kpf_comm *comm, kpf_error *err)
{
    a->comm = kpf_comm_size(comm) > 1 ? comm : NULL;
    if (a->comm && needs(a, 1) && a->trials < (size_t)kpf_comm_size(comm))
        return kpf_error_set(err, KPF_ECONFIG,
                             "analysis.trials = %zu trials cannot be split over %d ranks: "
                             "every rank needs at least one (use more trials or fewer ranks)",
                             a->trials, kpf_comm_size(comm));
    return KPF_OK;
}

int kpf_analyses_begin(kpf_analyses *a, kpf_h5 *h5, kpf_error *err)
{
    size_t B = a->trials;
    gsl_rng *rng = NULL;
    a->h5 = h5;
    int rc = kpf_rng_alloc(a->seed, KPF_RNG_EVAL, &rng, err);
    if (!rc) rc = kpf_task_batch_alloc(a->task, B, &a->batch, err);
    if (!rc) {
        kpf_task_set_noise_scale(a->task, 0.0);
        rc = kpf_task_generate(a->task, rng, a->batch, err);
        kpf_task_set_noise_scale(a->task, 1.0);
    }
    if (!rc && needs(a, 0)) rc = kpf_traj_alloc(a->m, B, a->task->T, &a->tr, err);
    if (!rc && needs(a, 1)) rc = kpf_traj_alloc_part(a->m, a->comm, B, a->task->T, &a->part, err);
    if (rng)
        gsl_rng_free(rng);
    if (!rc && a->tr) {
        memcpy(a->tr->x, a->batch->x, B * a->task->T * a->m->n_in * sizeof(double));
        memcpy(a->tr->trial, a->batch->trial, B * sizeof(size_t));
    }
    if (!rc && a->part)
        take_share(a);
    return rc;
}

static int write_theta(kpf_analyses *a, const char *group, kpf_error *err)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s/theta", group);
    return kpf_params_write(a->h5, a->m, NULL, prefix, 0, err);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One analysis at one snapshot, announced to the listener before and after
 * (a spectrum or a Lyapunov run can take minutes: say what it computes). */
static int run_one(kpf_analyses *a, const instance *in, const kpf_snapshot *s, kpf_error *err)
{
    const kpf_analysis_desc *d = in->desc;
    kpf_progress_send(a->progress, (kpf_progress_event){.kind = KPF_PROGRESS_ANALYSIS_BEGIN,
                                                        .name = d->name, .what = d->summary,
                                                        .iteration = s->iteration});
    double t0 = now();
    int rc = d->at_snapshot(in->self, s, err);
    if (rc)
        return kpf_error_prefix(err, rc, "%s: ", d->name);
    kpf_progress_send(a->progress, (kpf_progress_event){.kind = KPF_PROGRESS_ANALYSIS_END,
                                                        .name = d->name, .what = d->summary,
                                                        .iteration = s->iteration,
                                                        .seconds = now() - t0});
    return KPF_OK;
}

void kpf_analyses_set_progress(kpf_analyses *a, const kpf_progress *p)
{
    if (a)
        a->progress = p;
}

int kpf_analyses_at(kpf_analyses *a, size_t it, kpf_error *err)
{
    if (a->n_done == a->n_at || a->at[a->n_done] != it)
        return KPF_OK;
    kpf_snapshot_report *rep = &a->reports[a->n_done];
    rep->iteration = it;
    rep->n = 0;
    char group[64];
    snprintf(group, sizeof group, "/snapshots/%zu", it);
    kpf_snapshot s = {.model = a->m, .batch = a->batch, .traj = a->tr, .iteration = it,
                      .index = a->n_done, .resumed = a->resumed, .h5 = a->h5,
                      .group = group, .seed = a->seed, .report = rep};
    int rc = kpf_h5_remove(a->h5, group, err); /* a resumed run redoing it */
    if (!rc && a->tr) rc = kpf_simulate(a->m, a->tr, err);
    if (!rc && a->part) rc = kpf_simulate(a->m, a->part, err);
    if (!rc) rc = write_theta(a, group, err);
    for (size_t i = 0; !rc && i < a->n_an; i++) {
        s.traj = splits(a, &a->an[i]) ? a->part : a->tr;
        rc = run_one(a, &a->an[i], &s, err);
    }
    if (!rc) rc = kpf_h5_flush(a->h5, err); /* a kill later keeps this snapshot */
    if (rc)
        return kpf_error_prefix(err, rc, "analysis at iteration %zu: ", it);
    a->n_done++;
    return KPF_OK;
}

int kpf_analyses_final(kpf_analyses *a, size_t it, kpf_error *err)
{
    if (a->n_done && a->reports[a->n_done - 1].iteration == it)
        return KPF_OK;
    if (a->n_done == a->n_at) /* schedule exhausted before `it`: no slot */
        return KPF_OK;
    a->at[a->n_done] = it;
    a->n_at = a->n_done + 1;
    return kpf_analyses_at(a, it, err);
}

void kpf_analyses_skip_before(kpf_analyses *a, size_t it)
{
    size_t drop = 0;
    while (drop < a->n_at && a->at[drop] < it)
        drop++;
    if (drop)
        a->resumed = 1;
    memmove(a->at, a->at + drop, (a->n_at - drop) * sizeof(size_t));
    a->n_at -= drop;
}

int kpf_analyses_finish(kpf_analyses *a, kpf_error *err)
{
    kpf_analysis_end e = {.model = a->m, .h5 = a->h5, .n_snapshots = a->n_done,
                          .resumed = a->resumed};
    for (size_t i = 0; i < a->n_an; i++) {
        const kpf_analysis_desc *d = a->an[i].desc;
        int (*finish)(void *, const kpf_analysis_end *, kpf_error *) =
            KPF_ANALYSIS_OP(d, finish);
        int rc = finish ? finish(a->an[i].self, &e, err) : KPF_OK;
        if (rc)
            return kpf_error_prefix(err, rc, "%s after the last snapshot: ", d->name);
    }
    return KPF_OK;
}

int kpf_analyses_plot(const kpf_analyses *a, const char *dir, kpf_error *err)
{
    kpf_analysis_plot p = {.dir = dir, .task = a->task, .batch = a->batch};
    int first = KPF_OK;
    for (size_t i = 0; i < a->n_an; i++) {
        int (*plot)(const void *, const kpf_analysis_plot *, kpf_error *) =
            KPF_ANALYSIS_OP(a->an[i].desc, plot);
        kpf_error e;
        kpf_error_clear(&e);
        int rc = plot ? plot(a->an[i].self, &p, &e) : KPF_OK;
        if (rc && !first)
            first = kpf_error_set(err, rc, "%s", e.msg);
    }
    return first;
}

/* ---- results ------------------------------------------------------------------ */

static int valid_scalar_name(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++, n++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return n > 0 && n <= KPF_ANALYSIS_SCALAR_NAME_MAX;
}

int kpf_snapshot_scalar(const kpf_snapshot *s, const char *name, double value, kpf_error *err)
{
    kpf_snapshot_report *r = s->report;
    if (!valid_scalar_name(name))
        return kpf_error_set(err, KPF_EINVAL,
                             "scalar name '%s' is not [A-Za-z0-9_]+ of at most %d bytes",
                             name ? name : "(null)", KPF_ANALYSIS_SCALAR_NAME_MAX);
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->e[i].name, name))
            return kpf_error_set(err, KPF_EINVAL,
                                 "scalar '%s' reported twice at iteration %zu", name,
                                 s->iteration);
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        scalar_entry *e = realloc(r->e, cap * sizeof *e);
        if (!e)
            return kpf_error_set(err, KPF_ENOMEM, "out of memory");
        r->e = e;
        r->cap = cap;
    }
    snprintf(r->e[r->n].name, sizeof r->e[r->n].name, "%s", name);
    r->e[r->n++].value = value;
    return KPF_OK;
}

int kpf_snapshot_write(const kpf_snapshot *s, const char *path, const double *v, size_t n,
                       kpf_error *err)
{
    char full[512];
    snprintf(full, sizeof full, "%s/%s", s->group, path);
    return kpf_h5_write(s->h5, full, 1, &n, v, err);
}

void kpf_analyses_summary(const kpf_analyses *a, kpf_json *j)
{
    kpf_json_key(j, "analysis");
    kpf_json_array_begin(j);
    for (size_t i = 0; i < a->n_done; i++) {
        const kpf_snapshot_report *r = &a->reports[i];
        kpf_json_object_begin(j);
        kpf_json_key(j, "iteration");
        kpf_json_uint(j, r->iteration);
        for (size_t k = 0; k < r->n; k++) {
            kpf_json_key(j, r->e[k].name);
            kpf_json_double(j, r->e[k].value);
        }
        kpf_json_object_end(j);
    }
    kpf_json_array_end(j);
    for (size_t i = 0; i < a->n_an; i++) {
        void (*summary)(const void *, kpf_json *) = KPF_ANALYSIS_OP(a->an[i].desc, summary_json);
        if (summary)
            summary(a->an[i].self, j);
    }
}

size_t kpf_analyses_scalars(const kpf_analyses *a, const char **names, double *v, size_t cap)
{
    size_t total = 0;
    for (size_t i = 0; i < a->n_an; i++) {
        size_t (*scalars)(const void *, const char **, double *, size_t) =
            KPF_ANALYSIS_OP(a->an[i].desc, scalars);
        if (!scalars)
            continue;
        size_t room = total < cap ? cap - total : 0;
        total += scalars(a->an[i].self, room ? names + total : NULL, room ? v + total : NULL,
                         room);
    }
    return total;
}

size_t kpf_analyses_count(const kpf_analyses *a) { return a ? a->n_done : 0; }

int kpf_analyses_next(const kpf_analyses *a, size_t *iteration)
{
    if (!a || a->n_done >= a->n_at)
        return 0;
    *iteration = a->at[a->n_done];
    return 1;
}
