/* The folders of a trial-parallel run (cmd_run.c): rank 0 writes the run
 * folder, and every other rank runs the same experiment into a private
 * scratch folder ($TMPDIR, else /tmp), removed when it ends, so no two
 * processes ever write one file.  A resumed run's scratch folder starts as
 * a copy of the run folder, which holds the checkpoint and the θ records
 * the resumed run reads. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char *copy_from, *copy_to;
static size_t from_len;

static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    int ok = in && out;
    char buf[65536];
    size_t k;
    while (ok && (k = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, k, out) == k;
    if (in && ferror(in))
        ok = 0;
    if (in)
        fclose(in);
    if (out && fclose(out))
        ok = 0;
    return ok ? 0 : -1;
}

/* nftw hands no context: the two roots are the walk's, set just before. */
static int copy_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char dst[8192];
    snprintf(dst, sizeof dst, "%s%s", copy_to, path + from_len);
    if (flag == FTW_D)
        return mkdir(dst, 0777) && errno != EEXIST ? -1 : 0;
    if (flag == FTW_F)
        return copy_file(path, dst);
    return 0; /* links and the rest: a run folder has none */
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int kpf_cli_rank_scratch(const char *dir, int resume, char *buf, size_t size, kpf_error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, size, "%s/kpf-rank-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(buf))
        return kpf_error_set(err, KPF_EIO, "%s: cannot create a scratch folder (%s)", buf,
                             strerror(errno));
    if (!resume)
        return KPF_OK;
    copy_from = dir;
    copy_to = buf;
    from_len = strlen(dir);
    if (nftw(dir, copy_entry, 16, FTW_PHYS) != 0)
        return kpf_error_set(err, KPF_EIO, "%s: cannot copy %s into it to resume (%s)", buf, dir,
                             strerror(errno));
    return KPF_OK;
}

void kpf_cli_rank_scratch_remove(const char *scratch)
{
    if (scratch && *scratch)
        nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
