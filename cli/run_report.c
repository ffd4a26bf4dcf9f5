/* Progress on stderr while a run goes, and its results block on stdout at
 * the end (see run_report.h).  On a terminal the progress is one line
 * redrawn in place at most ten times a second; elsewhere (a log, CI, a
 * pipe) it is one plain line per evaluation, so a log stays readable. */
#include "run_report.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define REDRAW_EVERY 0.1 /* seconds between redraws of the live line */
#define BAR_WIDTH 20

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void kpf_cli_format_seconds(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 1e9)
        snprintf(buf, size, "?");
    else if (s < 60)
        snprintf(buf, size, "%.1f s", s);
    else if (s < 3600)
        snprintf(buf, size, "%d:%02d", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, size, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
}

void kpf_cli_progress_init(kpf_cli_progress *p, int verbosity)
{
    memset(p, 0, sizeof *p);
    p->out = stderr;
    p->verbosity = verbosity;
    const char *mode = getenv("KPF_PROGRESS");
    p->live = mode && !strcmp(mode, "live")    ? 1
              : mode && !strcmp(mode, "plain") ? 0
                                               : isatty(STDERR_FILENO);
    p->t0 = p->t_phase = now();
    p->eval_loss = NAN;
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 100;
}

/* Seconds left in the phase at the rate of the iterations seen so far. */
static double eta(const kpf_cli_progress *p)
{
    size_t done = p->iteration > p->it_phase0 ? p->iteration - p->it_phase0 : 0;
    if (!done || p->total <= p->iteration)
        return p->total <= p->iteration ? 0 : NAN;
    return (now() - p->t_phase) / (double)done * (double)(p->total - p->iteration);
}

/* "train 240/600  loss 0.0412  eval 0.0398 (it 200)  elapsed 12.3 s  ETA 17.2 s" */
static void status_text(const kpf_cli_progress *p, char *buf, size_t size, int bar)
{
    char el[32], left[32];
    kpf_cli_format_seconds(now() - p->t0, el, sizeof el);
    kpf_cli_format_seconds(eta(p), left, sizeof left);
    size_t at = (size_t)snprintf(buf, size, "%s %zu/%zu", p->phase ? p->phase : "run",
                                 p->iteration, p->total);
    if (bar && p->total && at < size) {
        int fill = (int)((double)BAR_WIDTH * (double)p->iteration / (double)p->total);
        char b[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++)
            b[i] = i < fill ? '#' : '.';
        b[BAR_WIDTH] = '\0';
        at += (size_t)snprintf(buf + at, size - at, " [%s]", b);
    }
    if (p->iteration && at < size)
        at += (size_t)snprintf(buf + at, size - at, "  train loss %.4g", p->loss);
    if (!isnan(p->eval_loss) && p->eval_iteration == p->iteration && at < size)
        at += (size_t)snprintf(buf + at, size - at, "  eval loss %.4g", p->eval_loss);
    else if (!isnan(p->eval_loss) && at < size)
        at += (size_t)snprintf(buf + at, size - at, "  eval loss %.4g (at %zu)", p->eval_loss,
                               p->eval_iteration);
    if (at < size)
        at += (size_t)snprintf(buf + at, size - at, "  %s elapsed", el);
    if (strcmp(left, "?") && at < size)
        snprintf(buf + at, size - at, ", ETA %s", left);
}

static void draw(kpf_cli_progress *p)
{
    char line[512];
    status_text(p, line, sizeof line, 1);
    if (p->analysis[0])
        snprintf(line + strlen(line), sizeof line - strlen(line), "  | %s", p->analysis);
    int w = term_width() - 1;
    if ((int)strlen(line) > w)
        line[w] = '\0';
    fprintf(p->out, "\r\033[K%s", line);
    fflush(p->out);
    p->line_open = 1;
    p->t_drawn = now();
}

void kpf_cli_progress_end(kpf_cli_progress *p)
{
    if (p->line_open) {
        fprintf(p->out, "\r\033[K");
        fflush(p->out);
        p->line_open = 0;
    }
}

/* A line that stays: the live line is cleared first and redrawn after. */
static void say(kpf_cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(kpf_cli_progress *p, const char *fmt, ...)
{
    int was_open = p->line_open;
    kpf_cli_progress_end(p);
    va_list ap;
    va_start(ap, fmt);
    fputs("kpf: ", p->out);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
    if (was_open)
        draw(p);
}

static int training(const char *phase)
{
    return phase && (!strcmp(phase, "train") || !strcmp(phase, "pretrain"));
}

static void on_phase(kpf_cli_progress *p, const kpf_progress_event *ev)
{
    kpf_cli_progress_end(p);
    p->phase = ev->name;
    p->total = ev->total;
    p->iteration = p->it_phase0 = 0;
    p->t_phase = now();
    p->eval_loss = NAN;
    p->analysis[0] = '\0';
    if (training(ev->name))
        say(p, "%s: %zu iterations", ev->name, ev->total);
    else if (p->verbosity > 0)
        say(p, "%s", ev->name);
}

static void on_iteration(kpf_cli_progress *p, const kpf_progress_event *ev)
{
    if (!p->iteration) { /* the first in this process: a resumed run starts late */
        p->it_phase0 = ev->iteration - 1;
        p->t_phase = now();
    }
    p->iteration = ev->iteration;
    p->loss = ev->loss;
    if (p->live && (now() - p->t_drawn >= REDRAW_EVERY || ev->iteration == ev->total))
        draw(p);
}

static void on_eval(kpf_cli_progress *p, const kpf_progress_event *ev)
{
    p->eval_loss = ev->loss;
    p->eval_iteration = ev->iteration;
    if (!p->iteration)
        p->iteration = ev->iteration;
    char line[512];
    status_text(p, line, sizeof line, 0);
    if (!p->live || p->verbosity > 0)
        say(p, "%s", line);
    else
        draw(p);
}

static void on_analysis(kpf_cli_progress *p, const kpf_progress_event *ev)
{
    if (ev->kind == KPF_PROGRESS_ANALYSIS_END) {
        p->analysis[0] = '\0';
        if (p->verbosity > 0)
            say(p, "  %s at iteration %zu took %.2f s", ev->name, ev->iteration, ev->seconds);
        else if (p->live && p->line_open)
            draw(p);
        return;
    }
    snprintf(p->analysis, sizeof p->analysis, "%s at iteration %zu: %s", ev->name,
             ev->iteration, ev->what ? ev->what : "");
    if (p->live && p->verbosity <= 0 && training(p->phase))
        draw(p);
    else
        say(p, "analysis %s", p->analysis);
}

static void on_point(kpf_cli_progress *p, const kpf_progress_event *ev)
{
    char el[32];
    kpf_cli_format_seconds(now() - p->t0, el, sizeof el);
    char line[256];
    snprintf(line, sizeof line, "sweep %zu/%zu points done, %zu failed (point %s)  %s elapsed",
             ev->iteration, ev->total, ev->failed, ev->name ? ev->name : "?", el);
    if (p->live && p->verbosity <= 0) {
        kpf_cli_progress_end(p);
        fprintf(p->out, "\r\033[K%s", line);
        fflush(p->out);
        p->line_open = ev->iteration < ev->total;
        if (!p->line_open)
            fputc('\n', p->out);
    } else {
        say(p, "%s", line);
    }
}

static void listen(void *user, const kpf_progress_event *ev)
{
    kpf_cli_progress *p = user;
    if (p->verbosity < 0 || ev->struct_size < sizeof(kpf_progress_event))
        return;
    switch (ev->kind) {
    case KPF_PROGRESS_PHASE: on_phase(p, ev); break;
    case KPF_PROGRESS_ITERATION: on_iteration(p, ev); break;
    case KPF_PROGRESS_EVAL: on_eval(p, ev); break;
    case KPF_PROGRESS_ANALYSIS_BEGIN:
    case KPF_PROGRESS_ANALYSIS_END: on_analysis(p, ev); break;
    case KPF_PROGRESS_POINT: on_point(p, ev); break;
    default: break; /* a newer kind */
    }
}

kpf_progress kpf_cli_progress_listener(kpf_cli_progress *p)
{
    return (kpf_progress){.fn = listen, .user = p};
}

/* ---- the results block ---------------------------------------------------------- */

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* "K 3.2 → 5.1, P 12 → 9.4" for every effrank_* (and pca_effdim) of the
 * first and the last snapshot. */
static void ranks_line(const json_t *snaps, const char *prefix, char *buf, size_t size)
{
    size_t n = json_array_size(snaps), at = 0;
    buf[0] = '\0';
    if (!n)
        return;
    const json_t *a = json_array_get(snaps, 0), *b = json_array_get(snaps, n - 1);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v) {
        if (strncmp(k, prefix, strlen(prefix)) || !json_is_number(v) || at >= size)
            continue;
        const char *label = k + strlen(prefix);
        double x0 = num(a, k), x1 = json_number_value(v);
        if (n > 1)
            at += (size_t)snprintf(buf + at, size - at, "%s%s%s%.3g → %.3g", at ? ", " : "",
                                   label, *label ? " " : "", x0, x1);
        else
            at += (size_t)snprintf(buf + at, size - at, "%s%s%s%.3g", at ? ", " : "", label,
                                   *label ? " " : "", x1);
    }
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in dir ending in suf, sorted, space-separated. */
static void files_with(const char *dir, const char *suf, char *buf, size_t size)
{
    char *names[256];
    size_t n = 0, at = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && n < 256 && (e = readdir(d)))
        if (has_suffix(e->d_name, suf) && (names[n] = strdup(e->d_name)))
            n++;
    if (d)
        closedir(d);
    qsort(names, n, sizeof *names, by_name);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (at < size)
            at += (size_t)snprintf(buf + at, size - at, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
}

static void row(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row(const char *key, const char *fmt, ...)
{
    printf("  %-14s ", key);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void losses(const json_t *s)
{
    const json_t *tr = json_object_get(s, "train");
    if (!json_is_object(tr)) {
        row("readout MSE", "%.4g (untrained model)", num(s, "readout_mse"));
        return;
    }
    double l0 = num(tr, "eval_loss_initial"), l1 = num(tr, "eval_loss_final");
    double it = num(tr, "iterations"), thr = num(tr, "loss_threshold");
    row("eval loss", "%.4g → %.4g  (%.0f iterations)", l0, l1, it);
    const json_t *at = json_object_get(tr, "converged_at");
    if (!(thr > 0))
        row("convergence", "not tested (no train.loss_threshold)");
    else if (json_is_number(at))
        row("convergence", "at iteration %.0f (eval loss below %g)", json_number_value(at), thr);
    else
        row("convergence", "no (eval loss never below %g)", thr);
}

static void where(const char *dir)
{
    char list[2048];
    files_with(dir, ".png", list, sizeof list);
    row("plots", "%s", list[0] ? list : "(none)");
    files_with(dir, ".h5", list, sizeof list);
    row("data", "summary.json %s", list);
    char src[4200];
    snprintf(src, sizeof src, "%s/plot-src", dir);
    DIR *d = opendir(src);
    if (d) {
        closedir(d);
        row("plot sources", "plot-src/ (.dat tables and .gp scripts: edit, rerun gnuplot)");
    }
}

void kpf_cli_print_results(const char *dir, int verbosity)
{
    if (verbosity < 0)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    if (!json_is_object(s)) {
        json_decref(s);
        printf("%s\n", path);
        return;
    }
    const json_t *t = json_object_get(s, "timings");
    char wall[32];
    kpf_cli_format_seconds(num(t, "total"), wall, sizeof wall);
    double threads = num(s, "threads");
    printf("results in %s/  (%s wall, %.0f BLAS thread%s)\n", dir, wall, threads,
           threads == 1 ? "" : "s");
    losses(s);
    char line[1024];
    const json_t *snaps = json_object_get(s, "analysis");
    ranks_line(snaps, "effrank_", line, sizeof line);
    if (line[0])
        row("effective rank", "%s", line);
    ranks_line(snaps, "pca_effdim", line, sizeof line);
    if (line[0])
        row("PCA dimension", "%s", line);
    const json_t *m = json_object_get(s, "model");
    double n = num(m, "n"), no = num(m, "n_observed");
    if (isfinite(no) && no != n)
        row("state", "n = %.0f, observed %.0f", n, no);
    else if (isfinite(n) && verbosity > 0)
        row("state", "n = %.0f", n);
    const json_t *pe = json_object_get(s, "plot_error");
    if (json_is_string(pe))
        row("plot error", "%s", json_string_value(pe));
    if (verbosity > 0 && json_is_object(t)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)t, k, v) {
            char sec[32];
            kpf_cli_format_seconds(json_number_value(v), sec, sizeof sec);
            char key[64];
            snprintf(key, sizeof key, "time %s", k);
            row(key, "%s", sec);
        }
    }
    where(dir);
    json_decref(s);
}
