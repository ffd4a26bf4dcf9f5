/* The phases of an experiment, as a listener hears them (kpf/progress.h)
 * and as summary.json times them: pretrain, train, analysis, plots,
 * simulate.  Time spent in the analyses at training snapshots is moved
 * from the train phase to the analysis phase, so the phases add up to the
 * run's wall time without counting anything twice. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "experiment_internal.h"
#include "kpf/blas.h"

double kpf_internal_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The bucket of phase `name`, appended when new; NULL when full. */
static double *bucket(kpf_experiment *ex, const char *name)
{
    run_timing *t = &ex->timing;
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->name[i], name))
            return &t->seconds[i];
    if (t->n == KPF_RUN_MAX_PHASES)
        return NULL;
    t->name[t->n] = name;
    t->seconds[t->n] = 0;
    return &t->seconds[t->n++];
}

void kpf_internal_phase(kpf_experiment *ex, const char *name, size_t total)
{
    run_timing *t = &ex->timing;
    double now = kpf_internal_now();
    if (!t->started) {
        t->started = 1;
        t->t_start = now;
    }
    double *b = t->current ? bucket(ex, t->current) : NULL;
    if (b)
        *b += now - t->t_phase;
    t->current = name;
    t->t_phase = now;
    if (!name)
        return;
    bucket(ex, name); /* listed from its start: summary.json is written inside a phase */
    kpf_progress_send(ex->progress, (kpf_progress_event){.kind = KPF_PROGRESS_PHASE,
                                                         .name = name, .total = total});
}

void kpf_internal_phase_move(kpf_experiment *ex, const char *to, double seconds)
{
    double *from = ex->timing.current ? bucket(ex, ex->timing.current) : NULL;
    double *dst = bucket(ex, to);
    if (from && dst && from != dst) {
        *from -= seconds;
        *dst += seconds;
    }
}

void kpf_internal_summary_timing(kpf_json *j, const kpf_experiment *ex)
{
    const run_timing *t = &ex->timing;
    double now = kpf_internal_now();
    kpf_json_key(j, "timings");
    kpf_json_object_begin(j);
    for (size_t i = 0; i < t->n; i++) {
        double s = t->seconds[i];
        if (t->current && !strcmp(t->name[i], t->current))
            s += now - t->t_phase; /* the phase still running (summary is its last act) */
        kpf_json_key(j, t->name[i]);
        kpf_json_double(j, s);
    }
    kpf_json_key(j, "total");
    kpf_json_double(j, t->started ? now - t->t_start : 0.0);
    kpf_json_object_end(j);
    kpf_json_key(j, "threads");
    kpf_json_uint(j, (unsigned long long)kpf_blas_threads());
}

/* ---- the public settings of an experiment ---------------------------------- */

void kpf_experiment_set_progress(kpf_experiment *ex, const kpf_progress *p)
{
    if (!ex)
        return;
    ex->progress = p;
    ex->topts.progress = p;
    ex->pre.topts.progress = p;
    kpf_analyses_set_progress(ex->an, p);
}

kpf_model *kpf_experiment_model(kpf_experiment *ex)
{
    return ex ? ex->model : NULL;
}
