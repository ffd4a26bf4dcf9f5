/* kpf_run_compare A B — whether two run folders hold the same results.
 *
 * The same file names (recursively; or two files, compared alike); every HDF5 file with the same datasets,
 * each of the same type, shape and bytes; summary.json the same JSON apart
 * from what differs between any two runs (timings, the config's path); every
 * other file byte for byte.  Prints each difference and exits 1, or prints
 * "same" and exits 0 (2: cannot read a folder).  The fault-injection suite
 * holds every resumed run to this against an uninterrupted one. */
#include <dirent.h>
#include <hdf5.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int n_diff;

static void diff(const char *fmt, const char *a, const char *b)
{
    printf(fmt, a, b);
    putchar('\n');
    n_diff++;
}

/* ---- file lists -------------------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static void add_name(names *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = strdup(s);
}

static int list_files(const char *root, const char *rel, names *out)
{
    char path[8192];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char r[4096], full[8192];
        struct stat st;
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, r);
        if (lstat(full, &st))
            continue;
        if (S_ISDIR(st.st_mode))
            list_files(root, r, out);
        else
            add_name(out, r);
    }
    closedir(d);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- HDF5 --------------------------------------------------------------------- */

typedef struct h5side {
    hid_t f;
    names sets;
} h5side;

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    (void)obj;
    if (info->type == H5O_TYPE_DATASET)
        add_name(data, name);
    return 0;
}

/* The dataset's bytes in its native form; *size its byte count. */
static unsigned char *read_set(hid_t f, const char *name, hid_t *type, hsize_t *dims, int *rank,
                               size_t *size)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    *type = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    *rank = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    *size = n * H5Tget_size(*type);
    unsigned char *buf = calloc(*size + 1, 1);
    if (buf && H5Dread(d, *type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

static void compare_set(const char *file, hid_t fa, hid_t fb, const char *name)
{
    hid_t ta = -1, tb = -1;
    hsize_t da[32], db[32];
    int ra = 0, rb = 0;
    size_t sa = 0, sb = 0;
    char where[8192];
    snprintf(where, sizeof where, "%s:/%s", file, name);
    unsigned char *a = read_set(fa, name, &ta, da, &ra, &sa);
    unsigned char *b = read_set(fb, name, &tb, db, &rb, &sb);
    if (!a || !b)
        diff("%s: %s", where, "cannot be read in both");
    else if (!H5Tequal(ta, tb) || ra != rb || memcmp(da, db, (size_t)ra * sizeof *da))
        diff("%s: %s", where, "type or shape differs");
    else if (sa != sb || memcmp(a, b, sa))
        diff("%s: %s", where, "values differ");
    if (ta >= 0) H5Tclose(ta);
    if (tb >= 0) H5Tclose(tb);
    free(a);
    free(b);
}

static void compare_h5(const char *file, const char *pa, const char *pb)
{
    h5side s[2] = {{0}, {0}};
    const char *p[2] = {pa, pb};
    for (int i = 0; i < 2; i++) {
        s[i].f = H5Fopen(p[i], H5F_ACC_RDONLY, H5P_DEFAULT);
        if (s[i].f < 0) {
            diff("%s: cannot open %s as HDF5", file, p[i]);
            goto done;
        }
        H5Ovisit(s[i].f, H5_INDEX_NAME, H5_ITER_INC, visit, &s[i].sets);
        qsort(s[i].sets.v, s[i].sets.n, sizeof(char *), by_name);
    }
    size_t i = 0, j = 0;
    while (i < s[0].sets.n || j < s[1].sets.n) {
        int c = i == s[0].sets.n ? 1 : j == s[1].sets.n ? -1
                                                        : strcmp(s[0].sets.v[i], s[1].sets.v[j]);
        if (c < 0)
            diff("%s:/%s: only in the first", file, s[0].sets.v[i++]);
        else if (c > 0)
            diff("%s:/%s: only in the second", file, s[1].sets.v[j++]);
        else
            compare_set(file, s[0].f, s[1].f, s[0].sets.v[i++]), j++;
    }
done:
    for (int k = 0; k < 2; k++) {
        if (s[k].f > 0)
            H5Fclose(s[k].f);
        for (size_t q = 0; q < s[k].sets.n; q++)
            free(s[k].sets.v[q]);
        free(s[k].sets.v);
    }
}

/* ---- summary.json --------------------------------------------------------------- */

/* Keys whose values differ between any two runs of one config. */
static int ignored_key(const char *k)
{
    return !strcmp(k, "timings") || !strcmp(k, "config") || strstr(k, "seconds");
}

static void compare_json(const char *where, json_t *a, json_t *b)
{
    if (json_typeof(a) != json_typeof(b) && !(json_is_number(a) && json_is_number(b))) {
        diff("%s: %s", where, "types differ");
        return;
    }
    char sub[4096];
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) {
            if (ignored_key(k))
                continue;
            snprintf(sub, sizeof sub, "%s.%s", where, k);
            json_t *w = json_object_get(b, k);
            if (!w)
                diff("%s: %s", sub, "only in the first");
            else
                compare_json(sub, v, w);
        }
        json_object_foreach(b, k, v)
            if (!ignored_key(k) && !json_object_get(a, k)) {
                snprintf(sub, sizeof sub, "%s.%s", where, k);
                diff("%s: %s", sub, "only in the second");
            }
    } else if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            diff("%s: %s", where, "lengths differ");
        for (size_t i = 0; i < json_array_size(a) && i < json_array_size(b); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            compare_json(sub, json_array_get(a, i), json_array_get(b, i));
        }
    } else if (!json_equal(a, b)) {
        char *sa = json_dumps(a, JSON_ENCODE_ANY), *sb = json_dumps(b, JSON_ENCODE_ANY);
        printf("%s: %s != %s\n", where, sa, sb);
        n_diff++;
        free(sa);
        free(sb);
    }
}

static void compare_summary(const char *pa, const char *pb)
{
    json_error_t e;
    json_t *a = json_load_file(pa, JSON_ALLOW_NUL, &e), *b = json_load_file(pb, JSON_ALLOW_NUL, &e);
    if (!a || !b)
        diff("summary.json: %s%s", "cannot parse both", "");
    else
        compare_json("summary", a, b);
    json_decref(a);
    json_decref(b);
}

/* ---- everything else ------------------------------------------------------------- */

static void compare_bytes(const char *file, const char *pa, const char *pb)
{
    FILE *a = fopen(pa, "rb"), *b = fopen(pb, "rb");
    int same = a && b;
    while (same) {
        int ca = fgetc(a), cb = fgetc(b);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (!same)
        diff("%s: %s", file, "bytes differ");
    if (a) fclose(a);
    if (b) fclose(b);
}

static int ends_with(const char *s, const char *t)
{
    size_t n = strlen(s), k = strlen(t);
    return n >= k && !strcmp(s + n - k, t);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: kpf_run_compare RUN_A RUN_B | FILE_A FILE_B\n");
        return 2;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat sa, sb;
    if (stat(argv[1], &sa) == 0 && stat(argv[2], &sb) == 0 && S_ISREG(sa.st_mode) &&
        S_ISREG(sb.st_mode)) { /* two files: compared as one file of a run */
        const char *base = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
        if (ends_with(base, ".h5"))
            compare_h5(base, argv[1], argv[2]);
        else if (!strcmp(base, "summary.json"))
            compare_summary(argv[1], argv[2]);
        else
            compare_bytes(base, argv[1], argv[2]);
        printf("%s\n", n_diff ? "different" : "same");
        return n_diff ? 1 : 0;
    }
    names l[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) {
        if (list_files(argv[1 + i], "", &l[i])) {
            fprintf(stderr, "kpf_run_compare: cannot list %s\n", argv[1 + i]);
            return 2;
        }
        qsort(l[i].v, l[i].n, sizeof(char *), by_name);
    }
    size_t i = 0, j = 0;
    while (i < l[0].n || j < l[1].n) {
        int c = i == l[0].n ? 1 : j == l[1].n ? -1 : strcmp(l[0].v[i], l[1].v[j]);
        if (c < 0) {
            diff("%s: only in %s", l[0].v[i++], argv[1]);
            continue;
        }
        if (c > 0) {
            diff("%s: only in %s", l[1].v[j++], argv[2]);
            continue;
        }
        const char *f = l[0].v[i];
        char pa[8192], pb[8192];
        snprintf(pa, sizeof pa, "%s/%s", argv[1], f);
        snprintf(pb, sizeof pb, "%s/%s", argv[2], f);
        if (ends_with(f, ".h5"))
            compare_h5(f, pa, pb);
        else if (!strcmp(f, "summary.json"))
            compare_summary(pa, pb);
        else
            compare_bytes(f, pa, pb);
        i++, j++;
    }
    for (int k = 0; k < 2; k++) {
        for (size_t m = 0; m < l[k].n; m++)
            free(l[k].v[m]);
        free(l[k].v);
    }
    printf("%s\n", n_diff ? "different" : "same");
    return n_diff ? 1 : 0;
}
