/* kpf/h5io.h — writing arrays to HDF5 files.
 *
 * A thin layer over the HDF5 C API: files are created exclusively (an
 * existing file is never overwritten), dataset paths create their groups,
 * and step-major trajectory arrays ([T][B][d] in memory) are written with
 * the papers' shape [B,T,d].  HDF5's own error printing is suppressed; the
 * failing call is named in the kpf_error instead. */
#ifndef KPF_H5IO_H
#define KPF_H5IO_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

typedef struct kpf_h5 kpf_h5;

int kpf_h5_create(const char *path, kpf_h5 **out, kpf_error *err);
/* Create or truncate (for temporary files the caller renames into place). */
int kpf_h5_create_trunc(const char *path, kpf_h5 **out, kpf_error *err);
/* Open an existing file read-only. */
int kpf_h5_open(const char *path, kpf_h5 **out, kpf_error *err);
/* Open an existing file to add datasets (resumed runs). */
int kpf_h5_open_rw(const char *path, kpf_h5 **out, kpf_error *err);
/* Writes everything so far to disk: a process killed afterwards leaves a
 * readable file holding at least this much. */
int kpf_h5_flush(kpf_h5 *h, kpf_error *err);
/* Closes and frees; returns an error if the final flush failed. */
int kpf_h5_close(kpf_h5 *h, kpf_error *err);

/* A dataset of doubles with `rank` dimensions dims[0 … rank−1], row-major. */
int kpf_h5_write(kpf_h5 *h, const char *path, int rank, const size_t *dims,
                 const double *data, kpf_error *err);
int kpf_h5_write_int(kpf_h5 *h, const char *path, int rank, const size_t *dims,
                     const int *data, kpf_error *err);
/* Step-major data [T][B][d] written as a [B,T,d] dataset (d = 0: [B,T]). */
int kpf_h5_write_traj(kpf_h5 *h, const char *path, size_t B, size_t T, size_t d,
                      const double *data, kpf_error *err);
int kpf_h5_write_bytes(kpf_h5 *h, const char *path, size_t n, const void *data,
                       kpf_error *err);

/* Read a whole dataset of exactly `count` elements; a missing dataset or a
 * different element count is an error naming the dataset and both sizes. */
int kpf_h5_read(kpf_h5 *h, const char *path, size_t count, double *data, kpf_error *err);
int kpf_h5_read_bytes(kpf_h5 *h, const char *path, size_t count, void *data, kpf_error *err);
/* Unlink a dataset or group if present (used when a resumed run redoes a
 * snapshot the interrupted process had started). */
int kpf_h5_remove(kpf_h5 *h, const char *path, kpf_error *err);

/* Element count of a dataset (error if absent). */
int kpf_h5_count(kpf_h5 *h, const char *path, size_t *count, kpf_error *err);

/* Attributes on the dataset or group at `path` ("/" for the file). */
int kpf_h5_attr_double(kpf_h5 *h, const char *path, const char *name, double v,
                       kpf_error *err);
int kpf_h5_attr_string(kpf_h5 *h, const char *path, const char *name, const char *v,
                       kpf_error *err);

KPF_END_DECLS
#endif

/* ---- reading shapes and listing (appended for param_io.c) ---------------- */
#ifndef KPF_H5IO_SHAPE_DECLARED
#define KPF_H5IO_SHAPE_DECLARED
KPF_BEGIN_DECLS

#define KPF_H5_MAX_RANK 8

/* 1 when `path` names a dataset in the file, 0 otherwise (never an error). */
int kpf_h5_is_dataset(kpf_h5 *h, const char *path);
/* Rank and dimensions of the dataset at `path` (dims has KPF_H5_MAX_RANK
 * entries; a scalar dataset has rank 0).  Error if absent or of higher rank. */
int kpf_h5_shape(kpf_h5 *h, const char *path, int *rank, size_t *dims, kpf_error *err);
/* The names of the links in group `group` ("/" for the root), in the file's
 * name order; *names is an array of *count malloc'd strings, freed with
 * kpf_h5_names_free. */
int kpf_h5_list(kpf_h5 *h, const char *group, char ***names, size_t *count,
                kpf_error *err);
void kpf_h5_names_free(char **names, size_t count);

KPF_END_DECLS
#endif

/* ---- sealed files ---------------------------------------------------------- */
#ifndef KPF_H5IO_SEAL_DECLARED
#define KPF_H5IO_SEAL_DECLARED
KPF_BEGIN_DECLS

/* A sealed file (checkpoints) starts with a KPF_H5_SEAL_BYTES HDF5 user
 * block, which HDF5 and h5py skip, holding the length and CRC-32 of the
 * rest.  Create it with kpf_h5_create_sealed (create or truncate), write
 * and close it, then kpf_h5_seal(path).  kpf_h5_check_seal(path) reads the
 * file once, without HDF5, and refuses (KPF_EIO, naming the file) one that
 * has no seal or no longer matches it: a damaged or edited file never
 * reaches HDF5, which can crash on malformed files. */
#define KPF_H5_SEAL_BYTES 512
int kpf_h5_create_sealed(const char *path, kpf_h5 **out, kpf_error *err);
int kpf_h5_seal(const char *path, kpf_error *err);
int kpf_h5_check_seal(const char *path, kpf_error *err);

KPF_END_DECLS
#endif
