/* Choosing and creating an experiment's output folder without ever reusing
 * one that holds an earlier run. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpf/experiment.h"

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* A run folder without its completion marker (summary.json). */
static int unfinished_run(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/config.yaml", dir);
    if (access(p, F_OK) != 0)
        return 0;
    snprintf(p, sizeof p, "%s/summary.json", dir);
    return access(p, F_OK) != 0;
}

static int mkdir_p(const char *path, kpf_error *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) && errno != EEXIST)
            return kpf_error_set(err, KPF_EIO, "%s: cannot create folder (%s)", tmp,
                                 strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) && errno != EEXIST)
        return kpf_error_set(err, KPF_EIO, "%s: cannot create folder (%s)", tmp,
                             strerror(errno));
    return KPF_OK;
}

static void config_stem(const char *config_path, char *stem, size_t size)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", config_path ? config_path : "run");
    const char *base = basename(copy);
    snprintf(stem, size, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
}

int kpf_output_dir_prepare(const char *requested, const char *config_path, char *buf,
                           size_t size, kpf_error *err)
{
    struct stat st;
    if (requested) {
        char target[4096];
        ssize_t k;
        /* a symbolic link to nothing: mkdir would say only "exists" */
        if (lstat(requested, &st) == 0 && S_ISLNK(st.st_mode) && stat(requested, &st) != 0 &&
            (k = readlink(requested, target, sizeof target - 1)) >= 0) {
            target[k] = '\0';
            return kpf_error_set(err, KPF_EIO,
                                 "%s: is a symbolic link to '%s', which does not exist; "
                                 "create that folder or choose another -o",
                                 requested, target);
        }
        if (stat(requested, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                return kpf_error_set(err, KPF_EIO, "%s: exists and is not a folder",
                                     requested);
            if (!dir_is_empty(requested))
                return kpf_error_set(err, KPF_EIO,
                                     "%s: folder exists and is not empty; kpf never "
                                     "overwrites an earlier run: choose another -o%s%s",
                                     requested, unfinished_run(requested)
                                                    ? " (it holds an unfinished run: "
                                                      "continue it with kpf run --resume "
                                                    : "",
                                     unfinished_run(requested) ? "DIR)" : "");
        }
        snprintf(buf, size, "%s", requested);
        return mkdir_p(buf, err);
    }
    char stem[256];
    config_stem(config_path, stem, sizeof stem);
    snprintf(buf, size, "runs/%s", stem);
    for (int k = 2; stat(buf, &st) == 0; k++) {
        if (k > 100000)
            return kpf_error_set(err, KPF_EIO, "runs/%s: too many earlier runs", stem);
        snprintf(buf, size, "runs/%s-%d", stem, k);
    }
    return mkdir_p(buf, err);
}
