/* HDF5 output: exclusive file creation, datasets with intermediate groups,
 * attributes.  HDF5 prints its error stack by default; every call here runs
 * inside H5E_BEGIN_TRY so the library stays silent.
 *
 * Files opened for writing go through kpf's own driver (h5_vfd.h), which
 * keeps HDF5 consistent when the disk fails: HDF5 1.10 otherwise crashes at
 * exit after a failed flush.  The driver records the first write errno in
 * write_errno, and every call that writes reports it, naming the file. */
#include "kpf/h5io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "h5_vfd.h"

struct kpf_h5 {
    hid_t file;
    char *path;
    int write_errno; /* set by the driver; outlives the HDF5 file */
    int open_errno;  /* why the driver's latest open failed             */
    hid_t driver;    /* kpf's driver, unregistered after H5Fclose (h5_vfd.h) */
};

/* The disk refused a write (now or earlier): the file is incomplete. */
static int write_failed(const kpf_h5 *h, const char *what, kpf_error *err)
{
    return kpf_error_set(err, KPF_EIO,
                         "%s: %s: %s; the file is incomplete (free space on that disk or "
                         "choose another output folder, then run again)",
                         h->path, what, strerror(h->write_errno));
}

static int open_file(const char *path, int mode, kpf_h5 **out, kpf_error *err);

int kpf_h5_create(const char *path, kpf_h5 **out, kpf_error *err)
{
    return open_file(path, 0, out, err);
}

int kpf_h5_create_trunc(const char *path, kpf_h5 **out, kpf_error *err)
{
    return open_file(path, 1, out, err);
}

int kpf_h5_open(const char *path, kpf_h5 **out, kpf_error *err)
{
    return open_file(path, 2, out, err);
}

int kpf_h5_open_rw(const char *path, kpf_h5 **out, kpf_error *err)
{
    return open_file(path, 3, out, err);
}

int kpf_h5_create_sealed(const char *path, kpf_h5 **out, kpf_error *err)
{
    return open_file(path, 4, out, err);
}

static void drop_driver(kpf_h5 *h)
{
    if (h->driver >= 0) {
        H5E_BEGIN_TRY { H5FDunregister(h->driver); }
        H5E_END_TRY;
        h->driver = -1;
    }
}

/* mode 0: create exclusively, 1: create or truncate, 2: open read-only,
 * 3: open read-write, 4: create or truncate with room for a seal. */
static int open_file(const char *path, int mode, kpf_h5 **out, kpf_error *err)
{
    kpf_h5 *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    }
    h->file = -1;
    h->driver = -1;
    H5E_BEGIN_TRY
    {
        /* Reading needs no protection from write failures: HDF5's own driver. */
        hid_t fapl = mode == 2 ? H5Pcreate(H5P_FILE_ACCESS)
                               : kpf_internal_h5_vfd_fapl(&h->write_errno, &h->open_errno,
                                                          &h->driver);
        if (fapl >= 0 && mode == 2)
            H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
        if (fapl >= 0 && (mode == 2 || mode == 3))
            h->file = H5Fopen(path, mode == 2 ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl);
        else if (fapl >= 0) {
            hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
            if (fcpl >= 0 && (mode != 4 || H5Pset_userblock(fcpl, KPF_H5_SEAL_BYTES) >= 0))
                h->file = H5Fcreate(path, mode ? H5F_ACC_TRUNC : H5F_ACC_EXCL, fcpl, fapl);
            if (fcpl >= 0)
                H5Pclose(fcpl);
        }
        if (fapl >= 0)
            H5Pclose(fapl);
    }
    H5E_END_TRY;
    if (h->file < 0) {
        int why = h->open_errno;
        drop_driver(h);
        free(h->path);
        free(h);
        if (mode == 2 || mode == 3)
            return kpf_error_set(err, KPF_EIO, "%s: cannot open as an HDF5 file", path);
        if (why && why != EEXIST)
            return kpf_error_set(err, KPF_EIO, "%s: cannot create HDF5 file: %s", path,
                                 strerror(why));
        return kpf_error_set(err, KPF_EIO,
                             "%s: cannot create HDF5 file (it may already exist; kpf never "
                             "overwrites outputs)",
                             path);
    }
    *out = h;
    return KPF_OK;
}

/* The close degree is STRONG (set at open), so H5Fclose also closes any
 * object of the file still open; with kpf's driver it cannot fail on a
 * full disk, and the driver's record says whether everything got there. */
int kpf_h5_close(kpf_h5 *h, kpf_error *err)
{
    if (!h)
        return KPF_OK;
    herr_t st;
    H5E_BEGIN_TRY { st = H5Fclose(h->file); }
    H5E_END_TRY;
    drop_driver(h);
    int rc = h->write_errno ? write_failed(h, "closing failed", err)
             : st < 0       ? kpf_error_set(err, KPF_EIO, "%s: closing failed", h->path)
                            : KPF_OK;
    free(h->path);
    free(h);
    return rc;
}

int kpf_h5_flush(kpf_h5 *h, kpf_error *err)
{
    herr_t st;
    H5E_BEGIN_TRY { st = H5Fflush(h->file, H5F_SCOPE_GLOBAL); }
    H5E_END_TRY;
    if (h->write_errno)
        return write_failed(h, "flush failed", err);
    return st < 0 ? kpf_error_set(err, KPF_EIO, "%s: flush failed", h->path) : KPF_OK;
}

/* Link creation property list that creates missing parent groups. */
static hid_t lcpl_parents(void)
{
    hid_t l = H5Pcreate(H5P_LINK_CREATE);
    if (l >= 0)
        H5Pset_create_intermediate_group(l, 1);
    return l;
}

static int write_typed(kpf_h5 *h, const char *path, int rank, const size_t *dims,
                       hid_t type, const void *data, kpf_error *err)
{
    hsize_t hd[8];
    if (rank < 1 || rank > 8)
        return kpf_error_set(err, KPF_EINVAL, "%s: rank %d not supported", path, rank);
    for (int i = 0; i < rank; i++)
        hd[i] = dims[i];
    herr_t st = -1;
    H5E_BEGIN_TRY
    {
        hid_t sp = H5Screate_simple(rank, hd, NULL);
        hid_t l = lcpl_parents();
        hid_t ds = H5Dcreate2(h->file, path, type, sp, l, H5P_DEFAULT, H5P_DEFAULT);
        if (ds >= 0)
            st = H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        if (ds >= 0)
            H5Dclose(ds);
        H5Pclose(l);
        H5Sclose(sp);
    }
    H5E_END_TRY;
    if (h->write_errno) {
        char what[512];
        snprintf(what, sizeof what, "cannot write dataset %s", path);
        return write_failed(h, what, err);
    }
    if (st < 0)
        return kpf_error_set(err, KPF_EIO, "%s: cannot write dataset %s", h->path, path);
    return KPF_OK;
}

int kpf_h5_write(kpf_h5 *h, const char *path, int rank, const size_t *dims,
                 const double *data, kpf_error *err)
{
    return write_typed(h, path, rank, dims, H5T_NATIVE_DOUBLE, data, err);
}

int kpf_h5_write_int(kpf_h5 *h, const char *path, int rank, const size_t *dims,
                     const int *data, kpf_error *err)
{
    return write_typed(h, path, rank, dims, H5T_NATIVE_INT, data, err);
}

int kpf_h5_write_traj(kpf_h5 *h, const char *path, size_t B, size_t T, size_t d,
                      const double *data, kpf_error *err)
{
    size_t w = d ? d : 1;
    double *buf = malloc(B * T * w * sizeof(double));
    if (!buf)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory writing %s", path);
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            memcpy(buf + (b * T + t) * w, data + (t * B + b) * w, w * sizeof(double));
    size_t dims[3] = {B, T, d};
    int rc = kpf_h5_write(h, path, d ? 3 : 2, dims, buf, err);
    free(buf);
    return rc;
}

int kpf_h5_write_bytes(kpf_h5 *h, const char *path, size_t n, const void *data,
                       kpf_error *err)
{
    size_t d[1] = {n};
    return write_typed(h, path, 1, d, H5T_NATIVE_UCHAR, data, err);
}

int kpf_h5_remove(kpf_h5 *h, const char *path, kpf_error *err)
{
    herr_t st = 0;
    H5E_BEGIN_TRY
    {
        if (H5Lexists(h->file, path, H5P_DEFAULT) > 0)
            st = H5Ldelete(h->file, path, H5P_DEFAULT);
    }
    H5E_END_TRY;
    if (st < 0)
        return kpf_error_set(err, KPF_EIO, "%s: cannot remove %s", h->path, path);
    return KPF_OK;
}

int kpf_h5_count(kpf_h5 *h, const char *path, size_t *count, kpf_error *err)
{
    hssize_t np = -1;
    H5E_BEGIN_TRY
    {
        hid_t ds = H5Dopen2(h->file, path, H5P_DEFAULT);
        if (ds >= 0) {
            hid_t sp = H5Dget_space(ds);
            np = H5Sget_simple_extent_npoints(sp);
            H5Sclose(sp);
            H5Dclose(ds);
        }
    }
    H5E_END_TRY;
    if (np < 0)
        return kpf_error_set(err, KPF_EIO, "%s: no dataset %s", h->path, path);
    *count = (size_t)np;
    return KPF_OK;
}

/* A file is untrusted: HDF5 sizes its conversion and chunk buffers from
 * what the file declares, so a damaged or hostile one could make it
 * allocate gigabytes for a single number.  kpf reads numbers only: an
 * integer or floating type of at most 16 bytes, in chunks of at most
 * MAX_CHUNK_BYTES. */
enum { MAX_TYPE_BYTES = 16 };
#define MAX_CHUNK_BYTES ((hsize_t)256 << 20)

/* Compact or contiguous storage that holds fewer bytes than the dataset's
 * shape needs: HDF5 1.10 copies past the end of a short compact buffer
 * (a heap overflow found by fuzz_h5) or from a missing one (a NULL read).
 * Unallocated contiguous storage (0 bytes) is fine: HDF5 reads the fill
 * value; compact data lives in the header and is never unallocated. */
static void storage_short(hid_t ds, int compact, size_t type_bytes, char *why, size_t size)
{
    hid_t sp = H5Dget_space(ds);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0)
        H5Sclose(sp);
    hsize_t have = H5Dget_storage_size(ds);
    if (n < 0 || (hsize_t)n > (hsize_t)-1 / type_bytes) {
        snprintf(why, size, "has an unreadable shape");
        return;
    }
    hsize_t need = (hsize_t)n * type_bytes;
    if ((have || compact) && have < need)
        snprintf(why, size, "is damaged (its storage holds %llu bytes of the %llu it needs)",
                 (unsigned long long)have, (unsigned long long)need);
}

static const char *bad_layout(hid_t ds, char *why, size_t size)
{
    hid_t t = H5Dget_type(ds), dcpl = H5Dget_create_plist(ds);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    size_t bytes = t >= 0 ? H5Tget_size(t) : 0;
    why[0] = '\0';
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        snprintf(why, size, "does not hold numbers");
    else if (bytes == 0 || bytes > MAX_TYPE_BYTES)
        snprintf(why, size, "has %zu-byte elements (at most %d)", bytes, MAX_TYPE_BYTES);
    else if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t dims[H5S_MAX_RANK], total = bytes;
        int r = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims);
        for (int i = 0; i < r && total <= MAX_CHUNK_BYTES; i++)
            total = dims[i] && total > MAX_CHUNK_BYTES / dims[i] ? MAX_CHUNK_BYTES + 1
                                                                  : total * dims[i];
        if (r < 0 || total > MAX_CHUNK_BYTES)
            snprintf(why, size, "is stored in chunks over %llu MiB",
                     (unsigned long long)(MAX_CHUNK_BYTES >> 20));
    }
    H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    if (!why[0] && (layout == H5D_COMPACT || layout == H5D_CONTIGUOUS))
        storage_short(ds, layout == H5D_COMPACT, bytes, why, size);
    if (t >= 0)
        H5Tclose(t);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return why[0] ? why : NULL;
}

static int read_typed(kpf_h5 *h, const char *path, size_t count, hid_t type, void *data,
                      kpf_error *err)
{
    size_t have;
    int rc = kpf_h5_count(h, path, &have, err);
    if (rc)
        return rc;
    if (have != count)
        return kpf_error_set(err, KPF_EIO, "%s: dataset %s has %zu elements, expected %zu",
                             h->path, path, have, count);
    herr_t st = -1;
    char why[128] = "";
    H5E_BEGIN_TRY
    {
        hid_t ds = H5Dopen2(h->file, path, H5P_DEFAULT);
        if (ds >= 0) {
            if (!bad_layout(ds, why, sizeof why))
                st = H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
            H5Dclose(ds);
        }
    }
    H5E_END_TRY;
    if (why[0])
        return kpf_error_set(err, KPF_EIO, "%s: dataset %s %s", h->path, path, why);
    if (st < 0)
        return kpf_error_set(err, KPF_EIO, "%s: cannot read dataset %s", h->path, path);
    return KPF_OK;
}

int kpf_h5_read(kpf_h5 *h, const char *path, size_t count, double *data, kpf_error *err)
{
    return read_typed(h, path, count, H5T_NATIVE_DOUBLE, data, err);
}

int kpf_h5_read_bytes(kpf_h5 *h, const char *path, size_t count, void *data, kpf_error *err)
{
    return read_typed(h, path, count, H5T_NATIVE_UCHAR, data, err);
}

static int attr_write(kpf_h5 *h, const char *path, const char *name, hid_t type,
                      const void *v, kpf_error *err)
{
    herr_t st = -1;
    H5E_BEGIN_TRY
    {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate_by_name(h->file, path, name, type, sp, H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT);
        if (a >= 0) {
            st = H5Awrite(a, type, v);
            H5Aclose(a);
        }
        H5Sclose(sp);
    }
    H5E_END_TRY;
    if (h->write_errno)
        return write_failed(h, "cannot write an attribute", err);
    if (st < 0)
        return kpf_error_set(err, KPF_EIO, "%s: cannot write attribute %s on %s", h->path,
                             name, path);
    return KPF_OK;
}

int kpf_h5_attr_double(kpf_h5 *h, const char *path, const char *name, double v,
                       kpf_error *err)
{
    return attr_write(h, path, name, H5T_NATIVE_DOUBLE, &v, err);
}

int kpf_h5_attr_string(kpf_h5 *h, const char *path, const char *name, const char *v,
                       kpf_error *err)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    int rc = attr_write(h, path, name, t, v, err);
    H5Tclose(t);
    return rc;
}

/* ---- reading shapes and listing ----------------------------------------- */

int kpf_h5_is_dataset(kpf_h5 *h, const char *path)
{
    int yes = 0;
    H5E_BEGIN_TRY
    {
        if (H5Lexists(h->file, path, H5P_DEFAULT) > 0) {
            hid_t o = H5Oopen(h->file, path, H5P_DEFAULT);
            if (o >= 0) {
                yes = H5Iget_type(o) == H5I_DATASET;
                H5Oclose(o);
            }
        }
    }
    H5E_END_TRY;
    return yes;
}

int kpf_h5_shape(kpf_h5 *h, const char *path, int *rank, size_t *dims, kpf_error *err)
{
    if (!kpf_h5_is_dataset(h, path))
        return kpf_error_set(err, KPF_EIO, "%s: no dataset %s", h->path, path);
    int r = -1;
    hsize_t hd[KPF_H5_MAX_RANK];
    H5E_BEGIN_TRY
    {
        hid_t ds = H5Dopen2(h->file, path, H5P_DEFAULT);
        if (ds >= 0) {
            hid_t sp = H5Dget_space(ds);
            if (sp >= 0) {
                r = H5Sget_simple_extent_ndims(sp);
                if (r >= 0 && r <= KPF_H5_MAX_RANK)
                    H5Sget_simple_extent_dims(sp, hd, NULL);
                H5Sclose(sp);
            }
            H5Dclose(ds);
        }
    }
    H5E_END_TRY;
    if (r < 0)
        return kpf_error_set(err, KPF_EIO, "%s: cannot read the shape of dataset %s", h->path,
                             path);
    if (r > KPF_H5_MAX_RANK)
        return kpf_error_set(err, KPF_EIO, "%s: dataset %s has rank %d (at most %d supported)",
                             h->path, path, r, KPF_H5_MAX_RANK);
    *rank = r;
    for (int i = 0; i < r; i++)
        dims[i] = (size_t)hd[i];
    return KPF_OK;
}

void kpf_h5_names_free(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int kpf_h5_list(kpf_h5 *h, const char *group, char ***names, size_t *count, kpf_error *err)
{
    *names = NULL;
    *count = 0;
    H5G_info_t info;
    herr_t st = -1;
    H5E_BEGIN_TRY { st = H5Gget_info_by_name(h->file, group, &info, H5P_DEFAULT); }
    H5E_END_TRY;
    if (st < 0)
        return kpf_error_set(err, KPF_EIO, "%s: no group %s", h->path, group);
    size_t n = (size_t)info.nlinks;
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory listing %s", group);
    for (size_t i = 0; i < n; i++) {
        ssize_t len = -1;
        H5E_BEGIN_TRY
        {
            len = H5Lget_name_by_idx(h->file, group, H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i,
                                     NULL, 0, H5P_DEFAULT);
            if (len >= 0 && (out[i] = malloc((size_t)len + 1)))
                len = H5Lget_name_by_idx(h->file, group, H5_INDEX_NAME, H5_ITER_INC,
                                         (hsize_t)i, out[i], (size_t)len + 1, H5P_DEFAULT);
        }
        H5E_END_TRY;
        if (len < 0 || !out[i]) {
            kpf_h5_names_free(out, n);
            return kpf_error_set(err, len < 0 ? KPF_EIO : KPF_ENOMEM,
                                 "%s: cannot list group %s", h->path, group);
        }
    }
    *names = out;
    *count = n;
    return KPF_OK;
}
