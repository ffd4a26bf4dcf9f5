/* The folder that the slices of a job array share (--points K/N -o DIR):
 * the slices of one array start in any order, and possibly at once, so the
 * sweep's inputs are recorded by whichever comes first, atomically, and
 * every later slice checks that it runs the same sweep. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep_internal.h"

static const char *const inputs[] = {"config.yaml", "overrides.txt"};

/* 1 when the two files hold the same bytes. */
static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        same = x == y;
        if (x == EOF || y == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* Put one input in place (link: never over another slice's), or compare. */
static int place(const char *dir, const char *tmp, const char *name, kpf_error *err)
{
    char mine[4500], there[4500];
    snprintf(mine, sizeof mine, "%s/%s", tmp, name);
    snprintf(there, sizeof there, "%s/%s", dir, name);
    if (link(mine, there) == 0)
        return KPF_OK;
    if (errno != EEXIST)
        return kpf_error_set(err, KPF_EIO, "%s: cannot record the sweep's %s (%s)", dir, name,
                             strerror(errno));
    if (!same_bytes(mine, there))
        return kpf_error_set(err, KPF_ECONFIG,
                             "%s holds another sweep: its %s differs from this one's (give "
                             "every slice the same config and --set values, or another -o DIR)",
                             dir, name);
    return KPF_OK;
}

int kpf_cli_sweep_dir_claim(const char *dir, kpf_cli_save_fn save, void *ctx, kpf_error *err)
{
    char tmp[4400];
    if (mkdir(dir, 0777) && errno != EEXIST)
        return kpf_error_set(err, KPF_EIO, "%s: cannot create the sweep folder (%s)", dir,
                             strerror(errno));
    snprintf(tmp, sizeof tmp, "%s/.slice-%ld", dir, (long)getpid());
    if (mkdir(tmp, 0777))
        return kpf_error_set(err, KPF_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
    int rc = save(ctx, tmp, err);
    for (size_t i = 0; !rc && i < 2; i++)
        rc = place(dir, tmp, inputs[i], err);
    for (size_t i = 0; i < 2; i++) {
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", tmp, inputs[i]);
        remove(p);
    }
    rmdir(tmp);
    return rc;
}
