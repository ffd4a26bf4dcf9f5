/* kpf/progress.h — how a long computation tells its caller how far it got.
 *
 * The library never prints.  A caller that wants to show progress (the kpf
 * command's live line, a notebook's bar, a log) hands a kpf_progress to the
 * computation (kpf_train_opts.progress, kpf_experiment_set_progress,
 * kpf_analyses_set_progress); the computation calls progress->fn with one
 * event at a time, from the thread that runs it, and goes on when fn
 * returns.  fn must not call back into the computation.  NULL (or fn NULL)
 * means nobody listens.
 *
 * Events are append-only like the descriptors: a listener reads no field
 * beyond ev->struct_size, and new kinds may appear (ignore unknown ones). */
#ifndef KPF_PROGRESS_H
#define KPF_PROGRESS_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>

KPF_BEGIN_DECLS

typedef enum kpf_progress_kind {
    /* A phase of a run begins: name = "pretrain", "train", "analysis",
     * "plots", "simulate" (the experiment's; others may come).  total:
     * iterations of a training phase (0 otherwise). */
    KPF_PROGRESS_PHASE = 0,
    /* A training iteration finished: iteration (1 …) of total, loss = its
     * minibatch loss. */
    KPF_PROGRESS_ITERATION = 1,
    /* An evaluation: iteration of total, loss = the evaluation loss. */
    KPF_PROGRESS_EVAL = 2,
    /* An analysis starts at a snapshot: name (its registered name), what
     * (its one-line summary: what it computes), iteration = the snapshot. */
    KPF_PROGRESS_ANALYSIS_BEGIN = 3,
    /* ... and finished it: seconds = its wall time at this snapshot. */
    KPF_PROGRESS_ANALYSIS_END = 4,
    /* A sweep point finished: iteration = points done so far of total,
     * failed = how many of them failed, name = this point's status. */
    KPF_PROGRESS_POINT = 5
} kpf_progress_kind;

typedef struct kpf_progress_event {
    uint32_t struct_size;  /* sizeof(kpf_progress_event) as the sender built it */
    kpf_progress_kind kind;
    const char *name;      /* phase or analysis name; NULL when none           */
    const char *what;      /* a sentence saying what is computed; or NULL      */
    size_t iteration;      /* see the kinds                                    */
    size_t total;          /* see the kinds; 0 when unknown                    */
    double loss;           /* ITERATION, EVAL; 0 otherwise                     */
    double seconds;        /* ANALYSIS_END: wall time; 0 otherwise             */
    size_t failed;         /* POINT: points failed so far                      */
} kpf_progress_event;

typedef struct kpf_progress {
    /* Called for every event; user is passed back unchanged. */
    void (*fn)(void *user, const kpf_progress_event *ev);
    void *user;
} kpf_progress;

/* Send ev (whose struct_size is filled here) to p; nothing when p or p->fn
 * is NULL. */
static inline void kpf_progress_send(const kpf_progress *p, kpf_progress_event ev)
{
    if (!p || !p->fn)
        return;
    ev.struct_size = (uint32_t)sizeof ev;
    p->fn(p->user, &ev);
}

KPF_END_DECLS
#endif
