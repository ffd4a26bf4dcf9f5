/* Writing .safetensors files (kpf/safetensors.h): the header is built and
 * serialised by Jansson, padded with spaces to a multiple of 8 bytes as the
 * reference writer does, and the tensors follow back to back in the order
 * given, little-endian whatever the host. */
#include "kpf/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define NM "%.120s"

static void put_le(unsigned char *b, uint64_t v, size_t k)
{
    for (size_t i = 0; i < k; i++, v >>= 8)
        b[i] = (unsigned char)(v & 0xff);
}

/* Element count of t, or an error. */
static int tensor_count(const kpf_st_write_tensor *t, const char *path, size_t *count,
                        kpf_error *err)
{
    if (t->rank < 0 || t->rank > KPF_ST_MAX_RANK || (t->rank && !t->shape))
        return kpf_error_set(err, KPF_EINVAL, "%s: tensor '" NM "': rank %d (0 … %d, with "
                                              "a shape)",
                             path, t->name, t->rank, KPF_ST_MAX_RANK);
    size_t c = 1;
    for (int i = 0; i < t->rank; i++)
        if (__builtin_mul_overflow(c, t->shape[i], &c))
            return kpf_error_set(err, KPF_EINVAL, "%s: tensor '" NM "': size overflows", path,
                                 t->name);
    if (c && !t->data)
        return kpf_error_set(err, KPF_EINVAL, "%s: tensor '" NM "': no data", path, t->name);
    *count = c;
    return KPF_OK;
}

static int check_names(const kpf_st_write_tensor *t, size_t n, const char *path,
                       kpf_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!t[i].name || !t[i].name[0] || !strcmp(t[i].name, "__metadata__"))
            return kpf_error_set(err, KPF_EINVAL,
                                 "%s: tensor %zu: a name must be non-empty and not "
                                 "__metadata__",
                                 path, i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(t[i].name, t[j].name))
                return kpf_error_set(err, KPF_EINVAL, "%s: two tensors are called '" NM "'",
                                     path, t[i].name);
    }
    return KPF_OK;
}

/* One header entry {dtype, shape, data_offsets}; *offset advances. */
static json_t *entry_json(const kpf_st_write_tensor *t, kpf_st_dtype dtype, size_t count,
                          uint64_t *offset)
{
    json_t *shape = json_array();
    for (int i = 0; shape && i < t->rank; i++)
        if (json_array_append_new(shape, json_integer((json_int_t)t->shape[i])))
            break;
    uint64_t end = *offset + (uint64_t)count * kpf_st_dtype_size(dtype);
    json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", kpf_st_dtype_name(dtype), "shape",
                          shape, "data_offsets", (json_int_t)*offset, (json_int_t)end);
    *offset = end;
    return e;
}

/* The header text, padded so that 8 + its length is a multiple of 8. */
static int build_header(const kpf_st_write_tensor *t, size_t n, kpf_st_dtype dtype,
                        const kpf_st_meta *meta, size_t n_meta, const char *path,
                        char **text, size_t *len, kpf_error *err)
{
    json_t *root = json_object();
    int bad = !root;
    if (n_meta && root) {
        json_t *m = json_object();
        for (size_t i = 0; m && i < n_meta; i++)
            bad |= !meta[i].key || !meta[i].value ||
                   json_object_set_new(m, meta[i].key, json_string(meta[i].value));
        bad |= !m || json_object_set_new(root, "__metadata__", m);
    }
    uint64_t offset = 0;
    for (size_t i = 0; !bad && i < n; i++) {
        size_t count = 0;
        int rc = tensor_count(&t[i], path, &count, err);
        if (rc) {
            json_decref(root);
            return rc;
        }
        bad |= json_object_set_new(root, t[i].name, entry_json(&t[i], dtype, count, &offset));
    }
    char *s = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: cannot build the header (metadata not UTF-8, or out of "
                             "memory)",
                             path);
    size_t k = strlen(s), padded = (k + 7) / 8 * 8;
    *text = realloc(s, padded + 1);
    if (!*text) {
        free(s);
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", path);
    }
    memset(*text + k, ' ', padded - k);
    *len = padded;
    return KPF_OK;
}

static int write_tensor(FILE *fp, const kpf_st_write_tensor *t, kpf_st_dtype dtype,
                        const char *path, kpf_error *err)
{
    size_t count = 1, es = kpf_st_dtype_size(dtype);
    for (int i = 0; i < t->rank; i++)
        count *= t->shape[i]; /* checked in build_header */
    unsigned char buf[1 << 16];
    size_t per = sizeof buf / es;
    for (size_t done = 0; done < count;) {
        size_t k = count - done < per ? count - done : per;
        for (size_t i = 0; i < k; i++) {
            double v = t->data[done + i];
            if (dtype == KPF_ST_F64) {
                uint64_t u;
                memcpy(&u, &v, sizeof u);
                put_le(buf + i * es, u, 8);
            } else {
                float f = (float)v;
                if (isfinite(v) && !isfinite(f))
                    return kpf_error_set(err, KPF_ENUMERIC,
                                         "%s: tensor '" NM "': element %zu = %g is beyond F32's "
                                         "range",
                                         path, t->name, done + i, v);
                uint32_t u;
                memcpy(&u, &f, sizeof u);
                put_le(buf + i * es, u, 4);
            }
        }
        if (fwrite(buf, es, k, fp) != k)
            return kpf_error_set(err, KPF_EIO, "%s: write failed: %s", path, strerror(errno));
        done += k;
    }
    return KPF_OK;
}

int kpf_safetensors_write(const char *path, kpf_st_dtype dtype,
                          const kpf_st_write_tensor *tensors, size_t n,
                          const kpf_st_meta *meta, size_t n_meta, kpf_error *err)
{
    if (!path || (n && !tensors) || (n_meta && !meta))
        return kpf_error_set(err, KPF_EINVAL, "kpf_safetensors_write: NULL argument");
    if (dtype != KPF_ST_F64 && dtype != KPF_ST_F32)
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "%s: kpf writes safetensors as F64 or F32, not %s", path,
                             kpf_st_dtype_name(dtype));
    char *hdr = NULL;
    size_t len = 0;
    int rc = check_names(tensors, n, path, err);
    if (!rc)
        rc = build_header(tensors, n, dtype, meta, n_meta, path, &hdr, &len, err);
    if (rc)
        return rc;
    FILE *fp = fopen(path, "wbx");
    if (!fp) {
        free(hdr);
        return kpf_error_set(err, KPF_EIO, "%s: cannot create: %s", path, strerror(errno));
    }
    unsigned char head[8];
    put_le(head, len, 8);
    if (fwrite(head, 1, 8, fp) != 8 || fwrite(hdr, 1, len, fp) != len)
        rc = kpf_error_set(err, KPF_EIO, "%s: write failed: %s", path, strerror(errno));
    for (size_t i = 0; !rc && i < n; i++)
        rc = write_tensor(fp, &tensors[i], dtype, path, err);
    if (fclose(fp) != 0 && !rc)
        rc = kpf_error_set(err, KPF_EIO, "%s: write failed: %s", path, strerror(errno));
    free(hdr);
    if (rc)
        remove(path);
    return rc;
}
