/* Which points one invocation runs: a job-array slice (--points K/N or
 * --points slurm), and under --resume only the points without an outcome. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_internal.h"

/* A non-negative integer that fills the whole string. */
static int parse_size(const char *s, size_t *v)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = (size_t)x;
    return 0;
}

/* Slurm numbers array tasks from --array's first index in steps of its step
 * (--array=1-100:3); the slice is the task's position in that list. */
static int from_slurm(kpf_cli_slice *s, char *msg, size_t size)
{
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *count = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min = getenv("SLURM_ARRAY_TASK_MIN"), *step = getenv("SLURM_ARRAY_TASK_STEP");
    size_t i, lo = 0, st = 1;
    if (!id || !count) {
        snprintf(msg, size, "--points slurm: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT "
                            "are not set (run it from an `sbatch --array` job, or give "
                            "--points K/N)");
        return -1;
    }
    if (parse_size(id, &i) || parse_size(count, &s->n) || (min && parse_size(min, &lo)) ||
        (step && parse_size(step, &st)) || st == 0 || i < lo || (i - lo) % st) {
        snprintf(msg, size, "--points slurm: SLURM_ARRAY_TASK_ID=%s, _MIN=%s, _STEP=%s, "
                            "_COUNT=%s do not name one task of the array",
                 id, min ? min : "(unset)", step ? step : "(unset)", count);
        return -1;
    }
    s->k = (i - lo) / st;
    return 0;
}

int kpf_cli_slice_parse(const char *spec, kpf_cli_slice *s, char *msg, size_t size)
{
    *s = (kpf_cli_slice){0, 1};
    int rc = 0;
    if (!strcmp(spec, "slurm")) {
        rc = from_slurm(s, msg, size);
    } else {
        char k[64], n[64];
        const char *slash = strchr(spec, '/');
        if (!slash || (size_t)(slash - spec) >= sizeof k || strlen(slash + 1) >= sizeof n) {
            snprintf(msg, size, "--points '%s': expected K/N (slice K of N, 0 ≤ K < N) or "
                                "slurm",
                     spec);
            return -1;
        }
        snprintf(k, sizeof k, "%.*s", (int)(slash - spec), spec);
        snprintf(n, sizeof n, "%s", slash + 1);
        if (parse_size(k, &s->k) || parse_size(n, &s->n)) {
            snprintf(msg, size, "--points '%s': K and N must be whole numbers (slice K of N, "
                                "0 ≤ K < N)",
                     spec);
            return -1;
        }
    }
    if (!rc && (s->n == 0 || s->k >= s->n)) {
        snprintf(msg, size, "--points %s: slice %zu of %zu does not exist (slices are numbered "
                            "0 … N−1)",
                 spec, s->k, s->n);
        rc = -1;
    }
    return rc;
}

size_t kpf_cli_points_todo(const kpf_sweep *sw, kpf_cli_slice s, const char *dir, int resume,
                           size_t *todo)
{
    size_t n = 0;
    for (size_t i = s.k; i < sw->n_points; i += s.n) {
        char pdir[4300], status[64];
        kpf_cli_point_dir(dir, i, pdir, sizeof pdir);
        if (!resume || !kpf_cli_point_outcome(pdir, status, sizeof status))
            todo[n++] = i;
    }
    return n;
}
