/* kpf/safetensors.h — reading and writing .safetensors files.
 *
 * The format (the one PyTorch users save state_dicts in):
 *
 *     8 bytes   N, the header length, unsigned little-endian
 *     N bytes   a JSON object (UTF-8), conventionally padded with spaces:
 *                 { "<name>": {"dtype": "F32", "shape": [r, c],
 *                              "data_offsets": [begin, end]}, …,
 *                   "__metadata__": {"<key>": "<string>", …} }   (optional)
 *     the rest  the data region: each tensor's bytes, C order (row-major),
 *               little-endian, at [begin, end) relative to the region start.
 *
 * The header is parsed with Jansson (duplicate keys refused).  The reader
 * follows the reference implementation's rules and checks everything before
 * it reads a data byte: N fits in the file; every entry has exactly dtype,
 * shape and data_offsets; the dtype is F64, F32, F16 or BF16 (other dtypes
 * are refused by name); shapes are non-negative integers whose product times
 * the dtype size neither overflows nor differs from end − begin; begin ≤ end
 * ≤ the data region's size; sorted by offset, the tensors neither overlap
 * nor leave gaps, and they cover the data region exactly.  Each refusal is a
 * one-line error naming the file and, where there is one, the tensor.  No
 * byte outside the file (or buffer) is ever read.
 *
 * Values are converted to double exactly (every F32, F16 and BF16 value is
 * a double).  The writer stores F64 or F32 with an 8-byte aligned,
 * space-padded header, as the reference writer does, so
 * safetensors.torch.load_file reads what it writes.
 *
 * docs/safetensors.md describes the use in kpf. */
#ifndef KPF_SAFETENSORS_H
#define KPF_SAFETENSORS_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

#define KPF_ST_MAX_RANK 8
/* The reference implementation's cap on the header length (100 MB). */
#define KPF_ST_MAX_HEADER 100000000u

/* Read flags. */
#define KPF_ST_REJECT_NONFINITE 0x1u /* a NaN or ±Inf value is an error */

typedef enum kpf_st_dtype {
    KPF_ST_F64 = 0,
    KPF_ST_F32 = 1,
    KPF_ST_F16 = 2,  /* IEEE binary16                         */
    KPF_ST_BF16 = 3  /* bfloat16: the top half of a binary32  */
} kpf_st_dtype;

/* One tensor as read: its values converted to double, in C order. */
typedef struct kpf_st_tensor {
    const char *name;
    kpf_st_dtype dtype;          /* as stored in the file                  */
    int rank;                    /* 0 … KPF_ST_MAX_RANK (0: a scalar)      */
    size_t shape[KPF_ST_MAX_RANK];
    size_t count;                /* product of shape (1 for a scalar)      */
    double *data;                /* count values; NULL when count == 0     */
    size_t n_nonfinite;          /* NaN/Inf values found (0 with the flag) */
} kpf_st_tensor;

/* One "__metadata__" entry. */
typedef struct kpf_st_meta {
    const char *key;
    const char *value;
} kpf_st_meta;

/* A whole file.  Everything (names, data) is owned by it and freed by
 * kpf_safetensors_free.  Tensors are listed in the order of their data in
 * the file (ties between empty tensors broken by name). */
typedef struct kpf_safetensors {
    size_t n_tensors;
    kpf_st_tensor *tensors;
    size_t n_meta;
    kpf_st_meta *meta;
} kpf_safetensors;

/* Read a file (flags: KPF_ST_REJECT_NONFINITE or 0). */
int kpf_safetensors_read(const char *path, unsigned flags, kpf_safetensors **out,
                         kpf_error *err);
/* Read from memory (size bytes at buf); `label` names it in messages. */
int kpf_safetensors_read_buffer(const void *buf, size_t size, const char *label,
                                unsigned flags, kpf_safetensors **out, kpf_error *err);
void kpf_safetensors_free(kpf_safetensors *st);

/* The tensor called `name`, or NULL. */
const kpf_st_tensor *kpf_safetensors_find(const kpf_safetensors *st, const char *name);

/* "F64", "F32", "F16", "BF16" and the size of one element in bytes. */
const char *kpf_st_dtype_name(kpf_st_dtype dtype);
size_t kpf_st_dtype_size(kpf_st_dtype dtype);

/* One tensor to write: `rank` dimensions shape[0 … rank−1] and
 * product(shape) values in C order. */
typedef struct kpf_st_write_tensor {
    const char *name;
    int rank;
    const size_t *shape;
    const double *data;
} kpf_st_write_tensor;

/* Write n tensors, all as `dtype` (KPF_ST_F64 or KPF_ST_F32), in the given
 * order, with n_meta "__metadata__" strings (meta may be NULL when n_meta is
 * 0).  The file is created exclusively (an existing file is an error) and
 * removed again if writing fails.  Names must be non-empty, unique and not
 * "__metadata__"; an F32 file refuses finite values beyond F32's range. */
int kpf_safetensors_write(const char *path, kpf_st_dtype dtype,
                          const kpf_st_write_tensor *tensors, size_t n,
                          const kpf_st_meta *meta, size_t n_meta, kpf_error *err);

KPF_END_DECLS
#endif
