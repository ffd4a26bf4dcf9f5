/* kpf/h5io.h — writing arrays to HDF5 files.
 *
 * A thin layer over the HDF5 C API: files are created exclusively (an
 * existing file is never overwritten), dataset paths create their groups,
 * and step-major trajectory arrays ([T][B][d] in memory) are written with
 * the papers' shape [B,T,d].  HDF5's own error printing is suppressed; the
 * failing call is named in the kpf_error instead. */
#ifndef KPF_H5IO_H
#define KPF_H5IO_H

#include <stddef.h>

#include "kpf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kpf_h5 kpf_h5;

int kpf_h5_create(const char *path, kpf_h5 **out, kpf_error *err);
/* Create or truncate (for temporary files the caller renames into place). */
int kpf_h5_create_trunc(const char *path, kpf_h5 **out, kpf_error *err);
/* Open an existing file read-only. */
int kpf_h5_open(const char *path, kpf_h5 **out, kpf_error *err);
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
/* Element count of a dataset (error if absent). */
int kpf_h5_count(kpf_h5 *h, const char *path, size_t *count, kpf_error *err);

/* Attributes on the dataset or group at `path` ("/" for the file). */
int kpf_h5_attr_double(kpf_h5 *h, const char *path, const char *name, double v,
                       kpf_error *err);
int kpf_h5_attr_string(kpf_h5 *h, const char *path, const char *name, const char *v,
                       kpf_error *err);

#ifdef __cplusplus
}
#endif
#endif
