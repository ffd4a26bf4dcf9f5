/* θ to and from HDF5: one dataset per named block (see kpf/param_io.h). */
#include "kpf/param_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/h5io.h"
#include "isolate.h"

/* "[rows, cols]" for a matrix block, "[rows] or [rows, 1]" for a vector
 * block (a block of one column may be either: bias_hh, or weight_ih of a
 * one-input GRU). */
static void block_shape(const kpf_param_block *b, char *buf, size_t size)
{
    if (b->cols == 1)
        snprintf(buf, size, "[%zu] or [%zu, 1]", b->rows, b->rows);
    else
        snprintf(buf, size, "[%zu, %zu]", b->rows, b->cols);
}

static void dims_text(int rank, const size_t *dims, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%zu", i ? ", " : "", dims[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

static int shape_matches(const kpf_param_block *b, int rank, const size_t *dims)
{
    if (rank == 2)
        return dims[0] == b->rows && dims[1] == b->cols;
    return rank == 1 && b->cols == 1 && dims[0] == b->rows;
}

/* Whether block i is the core readout's (optional in a file). */
static int is_core_readout_block(const kpf_model *m, size_t i)
{
    return m->core_readout && i >= m->layout.n_blocks;
}

/* "W [3, 3], W_in [3, 2], …" for messages. */
static void block_list(const kpf_model *m, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_blocks && len < size; i++) {
        char shp[64];
        const kpf_param_block *b = &m->blocks[i];
        if (b->cols == 1)
            snprintf(shp, sizeof shp, "[%zu]", b->rows);
        else
            block_shape(b, shp, sizeof shp);
        len += (size_t)snprintf(buf + len, size - len, "%s%s %s", i ? ", " : "",
                                m->blocks[i].name, shp);
    }
}

/* Every dataset present with the right shape, no extra object; *load_ro
 * says whether the core readout blocks are in the file. */
static int validate(const kpf_model *m, kpf_h5 *h, const char *path, int *load_ro,
                    kpf_error *err)
{
    const char *pl = m->desc->name;
    int ro_present = 0, ro_count = 0;
    for (size_t i = 0; i < m->n_blocks; i++) {
        const kpf_param_block *b = &m->blocks[i];
        char want[64];
        block_shape(b, want, sizeof want);
        if (!kpf_h5_is_dataset(h, b->name)) {
            if (is_core_readout_block(m, i))
                continue;
            return kpf_error_set(err, KPF_EIO,
                                 "%s: missing dataset '%s' (parameter block of plugin '%s', "
                                 "expected shape %s)",
                                 path, b->name, pl, want);
        }
        if (is_core_readout_block(m, i)) {
            ro_present = 1;
            ro_count++;
        }
        int rank;
        size_t dims[KPF_H5_MAX_RANK];
        int rc = kpf_h5_shape(h, b->name, &rank, dims, err);
        if (rc)
            return rc;
        if (!shape_matches(b, rank, dims)) {
            char have[160];
            dims_text(rank, dims, have, sizeof have);
            return kpf_error_set(err, KPF_EIO, "%s: dataset '%s' has shape %s, expected %s",
                                 path, b->name, have, want);
        }
    }
    if (ro_present && ro_count != 2) {
        const char *have = kpf_h5_is_dataset(h, "W_out") ? "W_out" : "b_out";
        const char *miss = have[0] == 'W' ? "b_out" : "W_out";
        char want[64];
        block_shape(kpf_model_block(m, miss), want, sizeof want);
        return kpf_error_set(err, KPF_EIO,
                             "%s: missing dataset '%s' (core readout block, expected shape "
                             "%s; '%s' is given, and the two load together)",
                             path, miss, want, have);
    }
    *load_ro = ro_present;

    char **names = NULL;
    size_t count = 0;
    int rc = kpf_h5_list(h, "/", &names, &count, err);
    if (rc)
        return rc;
    for (size_t k = 0; k < count && !rc; k++) {
        if (kpf_model_block(m, names[k]))
            continue;
        char list[KPF_ERROR_MSG_MAX / 2];
        block_list(m, list, sizeof list);
        rc = kpf_error_set(err, KPF_EIO,
                           "%s: %s '%s' is not a parameter block of plugin '%s' "
                           "(expected exactly: %s)",
                           path, kpf_h5_is_dataset(h, names[k]) ? "dataset" : "object",
                           names[k], pl, list);
    }
    kpf_h5_names_free(names, count);
    return rc;
}

/* Weights are untrusted input: a NaN or an infinity would only show up as
 * a diverged run later, so it is refused here, located in its dataset. */
static int check_finite(const char *path, const kpf_param_block *b, const double *v,
                        kpf_error *err)
{
    for (size_t i = 0; i < b->rows * b->cols; i++)
        if (!isfinite(v[i])) {
            char at[64];
            if (b->cols == 1)
                snprintf(at, sizeof at, "[%zu]", i);
            else
                snprintf(at, sizeof at, "[%zu, %zu]", i / b->cols, i % b->cols);
            return kpf_error_set(err, KPF_EIO,
                                 "%s: dataset '%s' holds %s at %s; weights must be finite",
                                 path, b->name, isnan(v[i]) ? "NaN" : "an infinity", at);
        }
    return KPF_OK;
}

static int load_h5(kpf_model *m, const char *path, kpf_error *err)
{
    kpf_h5 *h = NULL;
    int rc = kpf_h5_open(path, &h, err);
    if (rc)
        return rc;
    int load_ro = 0;
    double *th = NULL;
    if ((rc = validate(m, h, path, &load_ro, err)))
        goto done;
    th = malloc((m->m ? m->m : 1) * sizeof *th);
    if (!th) {
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", path);
        goto done;
    }
    memcpy(th, m->theta, m->m * sizeof *th);
    for (size_t i = 0; i < m->n_blocks && !rc; i++) {
        const kpf_param_block *b = &m->blocks[i];
        if (is_core_readout_block(m, i) && !load_ro)
            continue;
        rc = kpf_h5_read(h, b->name, b->rows * b->cols, th + b->offset, err);
        if (!rc)
            rc = check_finite(path, b, th + b->offset, err);
    }
    if (!rc)
        memcpy(m->theta, th, m->m * sizeof *th);
done:
    free(th);
    kpf_h5_close(h, NULL);
    return rc;
}

typedef struct {
    kpf_model *m;
    const char *path;
} trial_read;

static int read_in_child(void *arg)
{
    trial_read *t = arg;
    kpf_error e = {0};
    return load_h5(t->m, t->path, &e);
}

int kpf_params_load_h5(kpf_model *m, const char *path, kpf_error *err)
{
    if (!m || !path)
        return kpf_error_set(err, KPF_EINVAL, "kpf_params_load_h5: NULL model or path");
    /* The file may come from any program, and HDF5 1.10 crashes on some
     * malformed ones (isolate.h): read it once in a child first. */
    trial_read t = {m, path};
    kpf_isolated_outcome how;
    char what[32];
    int rc = kpf_internal_isolated(read_in_child, &t, &how, what, sizeof what, err);
    if (rc)
        return rc;
    if (how == KPF_ISOLATED_CRASHED)
        return kpf_error_set(err, KPF_EIO,
                             "%s: the HDF5 library crashed (%s) reading this file, so it is "
                             "malformed; write the weights again (h5py, kpf) or as safetensors "
                             "(docs/safetensors.md)",
                             path, what);
    return load_h5(m, path, err);
}

int kpf_params_save_h5(const kpf_model *m, const char *path, kpf_error *err)
{
    if (!m || !path)
        return kpf_error_set(err, KPF_EINVAL, "kpf_params_save_h5: NULL model or path");
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create(path, &h, err);
    if (rc)
        return rc;
    rc = kpf_params_write(h, m, NULL, "", 1, err);
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    return rc ? rc : rc2;
}

int kpf_params_write(kpf_h5 *h, const kpf_model *m, const double *theta, const char *prefix,
                     int vectors_1d, kpf_error *err)
{
    const double *th = theta ? theta : m->theta;
    int rc = KPF_OK;
    for (size_t i = 0; i < m->n_blocks && !rc; i++) {
        const kpf_param_block *b = &m->blocks[i];
        size_t dims[2] = {b->rows, b->cols};
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", b->name);
        rc = kpf_h5_write(h, path, vectors_1d && b->cols == 1 ? 1 : 2, dims, th + b->offset,
                          err);
    }
    return rc;
}
