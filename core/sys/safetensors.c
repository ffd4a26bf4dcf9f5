/* Reading .safetensors files (kpf/safetensors.h): the header is parsed by
 * Jansson and checked whole before any data byte is read; the data are then
 * read tensor by tensor, in chunks, and converted to double. */
#define _FILE_OFFSET_BITS 64
#include "kpf/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

/* Names are cut to this many bytes in messages, so a hostile name cannot
 * push the file name out of the one-line error. */
#define NM "%.120s"

/* ---- dtypes --------------------------------------------------------------- */

static const char *const dtype_names[] = {"F64", "F32", "F16", "BF16"};
static const size_t dtype_sizes[] = {8, 4, 2, 2};

const char *kpf_st_dtype_name(kpf_st_dtype d)
{
    return (unsigned)d < 4 ? dtype_names[d] : "?";
}

size_t kpf_st_dtype_size(kpf_st_dtype d)
{
    return (unsigned)d < 4 ? dtype_sizes[d] : 0;
}

/* Dtypes of the format that kpf does not read: refused by name rather than
 * as unknown, so the message says what to convert. */
static const char *const other_dtypes[] = {"BOOL", "U8", "I8", "U16", "I16", "U32",
                                           "I32", "U64", "I64", "F8_E4M3", "F8_E5M2",
                                           "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", NULL};

/* ---- conversion: little-endian bytes → double, exact ------------------------ */

static uint64_t le_bytes(const unsigned char *b, size_t k)
{
    uint64_t v = 0;
    for (size_t i = k; i-- > 0;)
        v = (v << 8) | b[i];
    return v;
}

/* IEEE binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits. */
static double f16_to_double(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 0x1f;
    unsigned frac = h & 0x3ffu;
    double v;
    if (e == 0)
        v = ldexp((double)frac, -24); /* zero and subnormals */
    else if (e == 31)
        v = frac ? NAN : INFINITY;
    else
        v = ldexp((double)(frac | 0x400u), e - 25);
    return sign ? -v : v;
}

static double element(kpf_st_dtype d, const unsigned char *b)
{
    switch (d) {
    case KPF_ST_F64: {
        uint64_t u = le_bytes(b, 8);
        double v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    case KPF_ST_F32: {
        uint32_t u = (uint32_t)le_bytes(b, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    case KPF_ST_F16:
        return f16_to_double((uint16_t)le_bytes(b, 2));
    default: { /* BF16 */
        uint32_t u = (uint32_t)le_bytes(b, 2) << 16;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    }
}

/* ---- where the bytes come from: a file or a buffer -------------------------- */

typedef struct source {
    const char *label;
    FILE *fp;                 /* a file, or …        */
    const unsigned char *buf; /* … a buffer in memory */
    uint64_t size;
} source;

static int src_read(const source *s, uint64_t off, void *dst, size_t len, kpf_error *err)
{
    if (off > s->size || len > s->size - off)
        return kpf_error_set(err, KPF_EIO, "%s: read of %zu bytes at %llu passes the end "
                                           "(%llu bytes)",
                             s->label, len, (unsigned long long)off,
                             (unsigned long long)s->size);
    if (s->buf) {
        memcpy(dst, s->buf + off, len);
        return KPF_OK;
    }
    if (fseeko(s->fp, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, len, s->fp) != len)
        return kpf_error_set(err, KPF_EIO, "%s: cannot read %zu bytes at offset %llu "
                                           "(file shorter than when opened?)",
                             s->label, len, (unsigned long long)off);
    return KPF_OK;
}

/* ---- one header entry ------------------------------------------------------- */

typedef struct entry {
    kpf_st_tensor t;
    uint64_t begin, end; /* relative to the data region */
} entry;

/* A JSON integer ≥ 0 as uint64, or an error naming what it was for. */
static int get_uint(const json_t *v, const char *label, const char *name, const char *what,
                    uint64_t *out, kpf_error *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: tensor '" NM "': %s must be a non-negative integer", label,
                             name, what);
    *out = (uint64_t)json_integer_value(v);
    return KPF_OK;
}

static int parse_dtype(const json_t *v, const char *label, const char *name,
                       kpf_st_dtype *out, kpf_error *err)
{
    const char *s = json_string_value(v);
    if (!s)
        return kpf_error_set(err, KPF_EINVAL, "%s: tensor '" NM "': dtype must be a string",
                             label, name);
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, dtype_names[i])) {
            *out = (kpf_st_dtype)i;
            return KPF_OK;
        }
    for (int i = 0; other_dtypes[i]; i++)
        if (!strcmp(s, other_dtypes[i]))
            return kpf_error_set(err, KPF_EUNSUPPORTED,
                                 "%s: tensor '" NM "': dtype %s is not read by kpf "
                                 "(F64, F32, F16, BF16 are; convert the tensor to float)",
                                 label, name, s);
    return kpf_error_set(err, KPF_EINVAL,
                         "%s: tensor '" NM "': unknown dtype '%.40s' (expected F64, F32, "
                         "F16 or BF16)",
                         label, name, s);
}

/* shape → rank, dims and element count, with overflow checks. */
static int parse_shape(const json_t *v, const char *label, entry *e, kpf_error *err)
{
    const char *name = e->t.name;
    if (!json_is_array(v))
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: tensor '" NM "': shape must be a list of integers", label,
                             name);
    size_t rank = json_array_size(v);
    if (rank > KPF_ST_MAX_RANK)
        return kpf_error_set(err, KPF_EUNSUPPORTED,
                             "%s: tensor '" NM "': rank %zu exceeds kpf's limit of %d", label,
                             name, rank, KPF_ST_MAX_RANK);
    size_t count = 1;
    for (size_t i = 0; i < rank; i++) {
        uint64_t d = 0;
        int rc = get_uint(json_array_get(v, i), label, name, "every shape entry", &d, err);
        if (rc)
            return rc;
        if (d > SIZE_MAX || __builtin_mul_overflow(count, (size_t)d, &count))
            return kpf_error_set(err, KPF_EINVAL,
                                 "%s: tensor '" NM "': the shape's element count overflows",
                                 label, name);
        e->t.shape[i] = (size_t)d;
    }
    e->t.rank = (int)rank;
    e->t.count = count;
    return KPF_OK;
}

static int parse_offsets(const json_t *v, const char *label, entry *e, kpf_error *err)
{
    const char *name = e->t.name;
    if (!json_is_array(v) || json_array_size(v) != 2)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: tensor '" NM "': data_offsets must be [begin, end]", label,
                             name);
    int rc = get_uint(json_array_get(v, 0), label, name, "data_offsets begin", &e->begin, err);
    if (!rc)
        rc = get_uint(json_array_get(v, 1), label, name, "data_offsets end", &e->end, err);
    if (!rc && e->begin > e->end)
        rc = kpf_error_set(err, KPF_EINVAL,
                           "%s: tensor '" NM "': data_offsets [%llu, %llu] end before they "
                           "begin",
                           label, name, (unsigned long long)e->begin,
                           (unsigned long long)e->end);
    return rc;
}

/* Everything about one entry that needs no other entry. */
static int parse_entry(const char *key, const json_t *v, const char *label, uint64_t data_size,
                       entry *e, kpf_error *err)
{
    e->t.name = key;
    if (!json_is_object(v))
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: tensor '" NM "': entry must be an object {dtype, shape, "
                             "data_offsets}",
                             label, key);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return kpf_error_set(err, KPF_EINVAL,
                                 "%s: tensor '" NM "': unknown field '%.40s' (expected dtype, "
                                 "shape, data_offsets)",
                                 label, key, k);
    const char *need[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(v, need[i]))
            return kpf_error_set(err, KPF_EINVAL, "%s: tensor '" NM "': no %s", label, key,
                                 need[i]);
    int rc = parse_dtype(json_object_get(v, "dtype"), label, key, &e->t.dtype, err);
    if (!rc)
        rc = parse_shape(json_object_get(v, "shape"), label, e, err);
    if (!rc)
        rc = parse_offsets(json_object_get(v, "data_offsets"), label, e, err);
    if (rc)
        return rc;
    size_t nbytes;
    if (__builtin_mul_overflow(e->t.count, kpf_st_dtype_size(e->t.dtype), &nbytes))
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: tensor '" NM "': its byte count overflows", label, key);
    if (e->end > data_size)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: tensor '" NM "': data_offsets [%llu, %llu] run past the end "
                             "of the data (%llu bytes; file truncated?)",
                             label, key, (unsigned long long)e->begin,
                             (unsigned long long)e->end, (unsigned long long)data_size);
    if (e->end - e->begin != nbytes)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: tensor '" NM "': %zu elements of %s need %zu bytes but "
                             "data_offsets [%llu, %llu] hold %llu",
                             label, key, e->t.count, dtype_names[e->t.dtype], nbytes,
                             (unsigned long long)e->begin, (unsigned long long)e->end,
                             (unsigned long long)(e->end - e->begin));
    return KPF_OK;
}

/* ---- the whole header --------------------------------------------------------- */

static int by_offset(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->t.name, y->t.name);
}

/* Sorted by offset, the tensors must tile [0, data_size) exactly. */
static int check_tiling(const entry *e, size_t n, const char *label, uint64_t data_size,
                        kpf_error *err)
{
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin < at)
            return kpf_error_set(err, KPF_EINVAL,
                                 "%s: tensors '" NM "' and '" NM "' overlap (bytes %llu … "
                                 "%llu of the data are claimed twice)",
                                 label, e[i - 1].t.name, e[i].t.name,
                                 (unsigned long long)e[i].begin, (unsigned long long)at);
        if (e[i].begin > at)
            return kpf_error_set(err, KPF_EINVAL,
                                 "%s: tensor '" NM "' starts at %llu, leaving bytes %llu … "
                                 "%llu of the data to no tensor",
                                 label, e[i].t.name, (unsigned long long)e[i].begin,
                                 (unsigned long long)at, (unsigned long long)e[i].begin);
        at = e[i].end;
    }
    if (at != data_size)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: the tensors end at byte %llu of the data but the data "
                             "region has %llu bytes",
                             label, (unsigned long long)at, (unsigned long long)data_size);
    return KPF_OK;
}

static int parse_metadata(const json_t *v, const char *label, kpf_safetensors *st,
                          kpf_error *err)
{
    if (!json_is_object(v))
        return kpf_error_set(err, KPF_EINVAL, "%s: __metadata__ must be an object of strings",
                             label);
    size_t n = json_object_size(v);
    st->meta = calloc(n ? n : 1, sizeof *st->meta);
    if (!st->meta)
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", label);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        if (!json_is_string(x))
            return kpf_error_set(err, KPF_EINVAL,
                                 "%s: __metadata__ entry '" NM "' must be a string", label, k);
        kpf_st_meta *m = &st->meta[st->n_meta++];
        m->key = strdup(k);
        m->value = strdup(json_string_value(x));
        if (!m->key || !m->value)
            return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", label);
    }
    return KPF_OK;
}

/* Entries of the header (names still borrowed from it), sorted and checked. */
static int parse_header(const json_t *root, const char *label, uint64_t data_size,
                        kpf_safetensors *st, entry **out, size_t *n_out, kpf_error *err)
{
    if (!json_is_object(root))
        return kpf_error_set(err, KPF_EINVAL, "%s: the header must be a JSON object", label);
    size_t cap = json_object_size(root), n = 0;
    entry *e = calloc(cap ? cap : 1, sizeof *e);
    if (!e)
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", label);
    *out = e;
    const char *k;
    json_t *v;
    int rc = KPF_OK;
    json_object_foreach((json_t *)root, k, v) {
        if (!strcmp(k, "__metadata__"))
            rc = parse_metadata(v, label, st, err);
        else
            rc = parse_entry(k, v, label, data_size, &e[n++], err);
        if (rc)
            return rc;
    }
    *n_out = n;
    qsort(e, n, sizeof *e, by_offset);
    return check_tiling(e, n, label, data_size, err);
}

/* ---- the data ------------------------------------------------------------------- */

/* The values of t, whose bytes lie at [begin, …) of the data region. */
static int read_values(const source *s, uint64_t data_start, uint64_t begin, kpf_st_tensor *t,
                       unsigned flags, kpf_error *err)
{
    if (t->count == 0)
        return KPF_OK;
    t->data = malloc(t->count * sizeof *t->data);
    if (!t->data)
        return kpf_error_set(err, KPF_ENOMEM, "%s: tensor '" NM "': cannot allocate %zu values",
                             s->label, t->name, t->count);
    size_t es = kpf_st_dtype_size(t->dtype);
    unsigned char chunk[1 << 16];
    size_t per = sizeof chunk / es, done = 0;
    while (done < t->count) {
        size_t k = t->count - done < per ? t->count - done : per;
        int rc = src_read(s, data_start + begin + done * es, chunk, k * es, err);
        if (rc)
            return kpf_error_prefix(err, rc, "tensor '" NM "': ", t->name);
        for (size_t i = 0; i < k; i++) {
            double v = element(t->dtype, chunk + i * es);
            t->data[done + i] = v;
            t->n_nonfinite += !isfinite(v);
            if (!isfinite(v) && (flags & KPF_ST_REJECT_NONFINITE))
                return kpf_error_set(err, KPF_ENUMERIC,
                                     "%s: tensor '" NM "': element %zu is %g (non-finite "
                                     "values refused)",
                                     s->label, t->name, done + i, v);
        }
        done += k;
    }
    return KPF_OK;
}

void kpf_safetensors_free(kpf_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_tensors; i++) {
        free((char *)st->tensors[i].name);
        free(st->tensors[i].data);
    }
    for (size_t i = 0; i < st->n_meta; i++) {
        free((char *)st->meta[i].key);
        free((char *)st->meta[i].value);
    }
    free(st->tensors);
    free(st->meta);
    free(st);
}

/* Copy the checked entries into st, names out of the JSON tree. */
static int adopt_entries(kpf_safetensors *st, entry *e, size_t n, const char *label,
                         kpf_error *err)
{
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors)
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", label);
    for (size_t i = 0; i < n; i++) {
        st->tensors[i] = e[i].t;
        st->tensors[i].name = strdup(e[i].t.name);
        st->n_tensors++;
        if (!st->tensors[i].name)
            return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", label);
    }
    return KPF_OK;
}

static int read_header_bytes(const source *s, char **hdr, uint64_t *len, kpf_error *err)
{
    unsigned char b[8];
    if (s->size < 8)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: %llu bytes is too short for a safetensors file (the header "
                             "length alone takes 8)",
                             s->label, (unsigned long long)s->size);
    int rc = src_read(s, 0, b, 8, err);
    if (rc)
        return rc;
    uint64_t n = le_bytes(b, 8);
    if (n > KPF_ST_MAX_HEADER)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: header length %llu exceeds the format's limit of %u bytes "
                             "(not a safetensors file?)",
                             s->label, (unsigned long long)n, KPF_ST_MAX_HEADER);
    if (n > s->size - 8)
        return kpf_error_set(err, KPF_EINVAL,
                             "%s: header length %llu runs past the end of the file (%llu "
                             "bytes; truncated?)",
                             s->label, (unsigned long long)n, (unsigned long long)s->size);
    *hdr = malloc(n ? n : 1);
    if (!*hdr)
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", s->label);
    *len = n;
    return src_read(s, 8, *hdr, n, err);
}

static int read_source(const source *s, unsigned flags, kpf_safetensors **out, kpf_error *err)
{
    *out = NULL;
    char *hdr = NULL;
    uint64_t len = 0;
    json_t *root = NULL;
    entry *e = NULL;
    size_t n = 0;
    kpf_safetensors *st = calloc(1, sizeof *st);
    int rc = st ? read_header_bytes(s, &hdr, &len, err)
                : kpf_error_set(err, KPF_ENOMEM, "%s: out of memory", s->label);
    if (!rc) {
        json_error_t je;
        root = json_loadb(hdr, (size_t)len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
            rc = kpf_error_set(err, KPF_EINVAL,
                               "%s: the header is not valid JSON: %s (header byte %d)",
                               s->label, je.text, je.position);
    }
    if (!rc)
        rc = parse_header(root, s->label, s->size - 8 - len, st, &e, &n, err);
    if (!rc)
        rc = adopt_entries(st, e, n, s->label, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = read_values(s, 8 + len, e[i].begin, &st->tensors[i], flags, err);
    json_decref(root);
    free(hdr);
    free(e);
    if (rc) {
        kpf_safetensors_free(st);
        return rc;
    }
    *out = st;
    return KPF_OK;
}

int kpf_safetensors_read_buffer(const void *buf, size_t size, const char *label,
                                unsigned flags, kpf_safetensors **out, kpf_error *err)
{
    if (!out || (!buf && size))
        return kpf_error_set(err, KPF_EINVAL, "kpf_safetensors_read_buffer: NULL argument");
    source s = {label ? label : "(buffer)", NULL, buf, size};
    return read_source(&s, flags, out, err);
}

int kpf_safetensors_read(const char *path, unsigned flags, kpf_safetensors **out,
                         kpf_error *err)
{
    if (!path || !out)
        return kpf_error_set(err, KPF_EINVAL, "kpf_safetensors_read: NULL argument");
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return kpf_error_set(err, KPF_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return kpf_error_set(err, KPF_EIO, "%s: not a regular file", path);
    }
    source s = {path, fp, NULL, (uint64_t)sb.st_size};
    int rc = read_source(&s, flags, out, err);
    fclose(fp);
    return rc;
}

const kpf_st_tensor *kpf_safetensors_find(const kpf_safetensors *st, const char *name)
{
    for (size_t i = 0; st && name && i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name))
            return &st->tensors[i];
    return NULL;
}
