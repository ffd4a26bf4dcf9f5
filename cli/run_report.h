/* What `kpf run` tells the person running it: progress while it runs
 * (the library's kpf_progress events, drawn here) and a short results block
 * at the end (read back from the summary.json the run wrote). */
#ifndef KPF_CLI_RUN_REPORT_H
#define KPF_CLI_RUN_REPORT_H

#include <stdio.h>

#include "kpf/progress.h"

/* -q, (default), -v */
enum { KPF_CLI_QUIET = -1, KPF_CLI_NORMAL = 0, KPF_CLI_VERBOSE = 1 };

typedef struct kpf_cli_progress {
    FILE *out;            /* stderr                                      */
    int verbosity;
    int live;             /* a terminal: one line redrawn in place        */
    int line_open;        /* the live line is on screen                   */
    double t0;            /* when the run began                           */
    double t_phase;       /* when the current phase began                 */
    double t_drawn;       /* when the live line was last drawn            */
    const char *phase;    /* "train", "pretrain", …                      */
    size_t iteration, total, it_phase0;
    double loss;          /* last minibatch loss                          */
    double eval_loss;     /* last evaluation loss (NaN before the first)  */
    size_t eval_iteration;
    char analysis[160];   /* the analysis running, for the live line      */
} kpf_cli_progress;

/* Set up for a run with this verbosity; live iff stderr is a terminal
 * (KPF_PROGRESS=plain|live overrides, for tests and logs). */
void kpf_cli_progress_init(kpf_cli_progress *p, int verbosity);
/* The listener to hand to kpf_experiment_set_progress (p must outlive it). */
kpf_progress kpf_cli_progress_listener(kpf_cli_progress *p);
/* Clear the live line before other output. */
void kpf_cli_progress_end(kpf_cli_progress *p);

/* The results block of the run in dir, on stdout, from its summary.json:
 * initial → final eval loss, convergence, effective ranks at the first and
 * last snapshot, state size, wall time, where the plots and data are. */
void kpf_cli_print_results(const char *dir, int verbosity);

/* "1:02:03" / "4:05" / "12.3 s" */
void kpf_cli_format_seconds(double s, char *buf, size_t size);

#endif
