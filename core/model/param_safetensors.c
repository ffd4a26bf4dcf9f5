/* θ from and to .safetensors files under PyTorch's names (see
 * kpf/param_safetensors.h).  The file format itself is kpf/safetensors.h's;
 * this file only maps tensors onto blocks. */
#include "kpf/param_safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/stepper.h"

#define NAME_MAX_LEN 512

int kpf_is_safetensors_path(const char *path)
{
    static const char ext[] = ".safetensors";
    size_t n = path ? strlen(path) : 0, k = sizeof ext - 1;
    return n > k && !strcmp(path + n - k, ext);
}

static int is_core_readout_block(const kpf_model *m, size_t i)
{
    return m->core_readout && i >= m->layout.n_blocks;
}

static const kpf_torch_names *torch_names(const kpf_model *m)
{
    return kpf_model_extension(m, KPF_TORCH_NAMES_INTERFACE);
}

static const kpf_torch_name *torch_entry(const kpf_torch_names *t, const char *block)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->names[i].block && !strcmp(t->names[i].block, block))
            return &t->names[i];
    return NULL;
}

/* The name the caller maps `block` to, or NULL. */
static const char *mapped(const kpf_st_names *nm, const char *block)
{
    for (const char *const *p = nm && nm->map ? nm->map : NULL; p && p[0] && p[1]; p += 2)
        if (!strcmp(p[0], block))
            return p[1];
    return NULL;
}

static const char *prefix_of(const kpf_st_names *nm)
{
    return nm && nm->prefix ? nm->prefix : "";
}

/* ---- reading ----------------------------------------------------------------- */

/* The tensor called prefix+base, or prefix+base+"_l0"; its name in `used`. */
static const kpf_st_tensor *find_torch(const kpf_safetensors *st, const char *prefix,
                                       const char *base, char *name, size_t size)
{
    snprintf(name, size, "%s%s", prefix, base);
    const kpf_st_tensor *t = kpf_safetensors_find(st, name);
    if (!t) {
        char layer[NAME_MAX_LEN];
        snprintf(layer, sizeof layer, "%s%s_l0", prefix, base);
        if ((t = kpf_safetensors_find(st, layer)))
            snprintf(name, size, "%s", layer);
    }
    return t;
}

static void shape_text(const kpf_st_tensor *t, char *buf, size_t size)
{
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->rank && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%zu", i ? ", " : "", t->shape[i]);
    if (at < size)
        snprintf(buf + at, size - at, "]");
}

static int check_shape(const kpf_st_tensor *t, const kpf_param_block *b, const kpf_model *m,
                       const char *path, kpf_error *err)
{
    int ok = (t->rank == 2 && t->shape[0] == b->rows && t->shape[1] == b->cols) ||
             (t->rank == 1 && b->cols == 1 && t->shape[0] == b->rows);
    if (ok)
        return KPF_OK;
    char have[128], want[64];
    shape_text(t, have, sizeof have);
    if (b->cols == 1)
        snprintf(want, sizeof want, "[%zu] or [%zu, 1]", b->rows, b->rows);
    else
        snprintf(want, sizeof want, "[%zu, %zu]", b->rows, b->cols);
    return kpf_error_set(err, KPF_EIO,
                         "%s: tensor '%s' has shape %s; block '%s' of plugin '%s' needs %s", path,
                         t->name, have, b->name, m->desc->name, want);
}

/* What one block reads: its tensor and, for a summed block, the second. */
typedef struct source {
    const kpf_st_tensor *t, *plus;
} source;

/* "'rnn.weight_hh' (or 'rnn.weight_hh_l0')" — the names looked for. */
static void looked_for(const kpf_model *m, size_t i, const kpf_st_names *nm, char *buf,
                       size_t size)
{
    const char *name = m->blocks[i].name, *pre = prefix_of(nm), *map = mapped(nm, name);
    const kpf_torch_name *e = torch_entry(torch_names(m), name);
    if (map)
        snprintf(buf, size, "'%s' (init.names)", map);
    else if (e)
        snprintf(buf, size, "'%s%s' or '%s%s_l0'", pre, e->torch, pre, e->torch);
    else
        snprintf(buf, size, "'%s%s'", pre, name);
}

static int find_block(const kpf_model *m, size_t i, const kpf_safetensors *st,
                      const kpf_st_names *nm, const char *path, source *src, char *used,
                      kpf_error *err)
{
    const kpf_param_block *b = &m->blocks[i];
    const char *pre = prefix_of(nm), *map = mapped(nm, b->name);
    const kpf_torch_name *e = map ? NULL : torch_entry(torch_names(m), b->name);
    char name[NAME_MAX_LEN];
    src->t = src->plus = NULL;
    if (map)
        src->t = kpf_safetensors_find(st, map);
    else if (e)
        src->t = find_torch(st, pre, e->torch, name, sizeof name);
    else {
        snprintf(name, sizeof name, "%s%s", pre, b->name);
        src->t = kpf_safetensors_find(st, name);
    }
    if (!src->t)
        return KPF_OK; /* the caller decides whether it may be absent */
    if (e && e->plus) {
        src->plus = find_torch(st, pre, e->plus, name, sizeof name);
        if (!src->plus)
            return kpf_error_set(err, KPF_EIO,
                                 "%s: tensor '%s' is there but '%s%s' is not: block '%s' of "
                                 "plugin '%s' is their sum (%s's %s + %s)",
                                 path, src->t->name, pre, e->plus, b->name, m->desc->name,
                                 torch_names(m)->module, e->torch, e->plus);
    }
    int rc = check_shape(src->t, b, m, path, err);
    if (!rc && src->plus)
        rc = check_shape(src->plus, b, m, path, err);
    used[src->t - st->tensors] = 1;
    if (src->plus)
        used[src->plus - st->tensors] = 1;
    return rc;
}

/* Every block's source; core readout blocks may be absent together. */
static int find_all(const kpf_model *m, const kpf_safetensors *st, const kpf_st_names *nm,
                    const char *path, source *src, char *used, kpf_error *err)
{
    int ro_found = 0, ro_count = 0;
    for (size_t i = 0; i < m->n_blocks; i++) {
        int rc = find_block(m, i, st, nm, path, &src[i], used, err);
        if (rc)
            return rc;
        if (is_core_readout_block(m, i)) {
            ro_count++;
            ro_found += src[i].t != NULL;
            continue;
        }
        if (!src[i].t) {
            char want[NAME_MAX_LEN + 64];
            looked_for(m, i, nm, want, sizeof want);
            return kpf_error_set(err, KPF_EIO,
                                 "%s: no tensor for block '%s' of plugin '%s' (looked for %s; "
                                 "map it with model.init.names, or set model.init.prefix)",
                                 path, m->blocks[i].name, m->desc->name, want);
        }
    }
    if (ro_found && ro_found != ro_count)
        return kpf_error_set(err, KPF_EIO,
                             "%s: only one of the core readout's W_out and b_out is there; they "
                             "load together",
                             path);
    return KPF_OK;
}

/* A tensor under the prefix that no block read is a mistake (a typo in a
 * map, a tensor of another model). */
static int check_unused(const kpf_model *m, const kpf_safetensors *st, const kpf_st_names *nm,
                        const char *path, const char *used, kpf_error *err)
{
    const char *pre = prefix_of(nm);
    for (size_t k = 0; k < st->n_tensors; k++) {
        const char *name = st->tensors[k].name;
        if (used[k] || strncmp(name, pre, strlen(pre)))
            continue;
        char list[1024];
        size_t at = 0;
        list[0] = '\0';
        for (size_t i = 0; i < m->n_blocks && at < sizeof list; i++) {
            char want[NAME_MAX_LEN + 64];
            looked_for(m, i, nm, want, sizeof want);
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s: %s", i ? "; " : "",
                                   m->blocks[i].name, want);
        }
        return kpf_error_set(err, KPF_EIO,
                             "%s: tensor '%s' is not a block of plugin '%s' (blocks: %s)%s", path,
                             name, m->desc->name, list,
                             *pre ? "" : "; set model.init.prefix to load part of a bigger "
                                         "state_dict");
    }
    return KPF_OK;
}

int kpf_params_load_safetensors(kpf_model *m, const char *path, const kpf_st_names *nm,
                                kpf_error *err)
{
    if (!m || !path)
        return kpf_error_set(err, KPF_EINVAL, "kpf_params_load_safetensors: NULL model or path");
    kpf_safetensors *st = NULL;
    int rc = kpf_safetensors_read(path, KPF_ST_REJECT_NONFINITE, &st, err);
    if (rc)
        return rc;
    source *src = calloc(m->n_blocks + 1, sizeof *src);
    char *used = calloc(st->n_tensors + 1, 1);
    double *th = malloc((m->m ? m->m : 1) * sizeof *th);
    if (!src || !used || !th)
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", path);
    if (!rc)
        rc = find_all(m, st, nm, path, src, used, err);
    if (!rc)
        rc = check_unused(m, st, nm, path, used, err);
    if (!rc) {
        memcpy(th, m->theta, m->m * sizeof *th);
        for (size_t i = 0; i < m->n_blocks; i++) {
            const kpf_param_block *b = &m->blocks[i];
            for (size_t k = 0; src[i].t && k < b->rows * b->cols; k++)
                th[b->offset + k] = src[i].t->data[k] + (src[i].plus ? src[i].plus->data[k] : 0);
        }
        memcpy(m->theta, th, m->m * sizeof *th);
    }
    free(th);
    free(used);
    free(src);
    kpf_safetensors_free(st);
    return rc;
}

/* ---- writing ----------------------------------------------------------------- */

/* The names a block is written under (plus: NULL unless summed). */
static void export_names(const kpf_model *m, size_t i, const kpf_st_names *nm, char *name,
                         char *plus, size_t size)
{
    const char *block = m->blocks[i].name, *pre = prefix_of(nm), *map = mapped(nm, block);
    const kpf_torch_name *e = map ? NULL : torch_entry(torch_names(m), block);
    const char *sfx = nm && nm->layer ? "_l0" : "";
    plus[0] = '\0';
    if (map)
        snprintf(name, size, "%s", map);
    else if (e) {
        snprintf(name, size, "%s%s%s", pre, e->torch, sfx);
        if (e->plus)
            snprintf(plus, size, "%s%s%s", pre, e->plus, sfx);
    } else
        snprintf(name, size, "%s%s", pre, block);
}

/* The PyTorch module is this model only at its stepper and step. */
static int check_stepper(const kpf_model *m, kpf_error *err)
{
    const kpf_torch_names *t = torch_names(m);
    if (!t || !t->stepper)
        return KPF_OK;
    if (!strcmp(m->stepper->name, t->stepper) && m->dt == t->dt)
        return KPF_OK;
    return kpf_error_set(err, KPF_EINVAL,
                         "plugin '%s' is PyTorch's %s only with step %s and dt %g; this model "
                         "uses %s with dt %g, so its θ would mean something else there",
                         m->desc->name, t->module, t->stepper, t->dt, m->stepper->name, m->dt);
}

int kpf_params_save_safetensors(const kpf_model *m, const char *path, kpf_st_dtype dtype,
                                const kpf_st_names *nm, kpf_error *err)
{
    if (!m || !path)
        return kpf_error_set(err, KPF_EINVAL, "kpf_params_save_safetensors: NULL model or path");
    int rc = check_stepper(m, err);
    if (rc)
        return rc;
    size_t cap = 2 * m->n_blocks, n = 0;
    kpf_st_write_tensor *w = calloc(cap + 1, sizeof *w);
    char (*names)[NAME_MAX_LEN] = calloc(cap + 1, sizeof *names);
    size_t (*shapes)[2] = calloc(cap + 1, sizeof *shapes);
    size_t max_block = 1;
    for (size_t i = 0; i < m->n_blocks; i++)
        if (m->blocks[i].rows * m->blocks[i].cols > max_block)
            max_block = m->blocks[i].rows * m->blocks[i].cols;
    double *zeros = calloc(max_block, sizeof *zeros);
    if (!w || !names || !shapes || !zeros)
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory writing %s", path);
    for (size_t i = 0; !rc && i < m->n_blocks; i++) {
        const kpf_param_block *b = &m->blocks[i];
        char plus[NAME_MAX_LEN];
        export_names(m, i, nm, names[n], plus, NAME_MAX_LEN);
        shapes[n][0] = b->rows;
        shapes[n][1] = b->cols;
        int rank = b->cols == 1 ? 1 : 2; /* PyTorch's vectors are 1-D */
        w[n] = (kpf_st_write_tensor){names[n], rank, shapes[n], m->theta + b->offset};
        n++;
        if (plus[0]) {
            snprintf(names[n], NAME_MAX_LEN, "%s", plus);
            shapes[n][0] = b->rows;
            shapes[n][1] = b->cols;
            w[n] = (kpf_st_write_tensor){names[n], rank, shapes[n], zeros};
            n++;
        }
    }
    const kpf_torch_names *t = torch_names(m);
    kpf_st_meta meta[3] = {{"kpf_plugin", m->desc->name},
                           {"format", "pt"},
                           {"torch_module", t && t->module ? t->module : ""}};
    if (!rc)
        rc = kpf_safetensors_write(path, dtype, w, n, meta, t && t->module ? 3 : 2, err);
    free(zeros);
    free(shapes);
    free(names);
    free(w);
    return rc;
}

/* ---- model.init from YAML ------------------------------------------------------ */

/* init.names: a map block → tensor name, every block a block of the model. */
static int read_map(const kpf_model *m, const kpf_node *names, const char ***out,
                    kpf_error *err)
{
    *out = NULL;
    if (!names)
        return KPF_OK;
    if (kpf_node_kind(names) != KPF_NODE_MAP)
        return kpf_node_error(names, err, "expected a map from block names to tensor names "
                                          "({weight_hh: \"encoder.weight_hh_l0\", …})");
    size_t k = kpf_node_len(names);
    const char **map = calloc(2 * k + 1, sizeof *map);
    if (!map)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        const char *block = kpf_node_key_at(names, i);
        const kpf_node *v = kpf_node_get(names, block);
        if (!kpf_model_block(m, block)) {
            free(map);
            return kpf_node_error(v, err, "'%s' is not a parameter block of plugin '%s'", block,
                                  m->desc->name);
        }
        if (!kpf_node_scalar(v) || !*kpf_node_scalar(v)) {
            free(map);
            return kpf_node_error(v, err, "expected a tensor name");
        }
        map[2 * i] = block;
        map[2 * i + 1] = kpf_node_scalar(v);
    }
    *out = map;
    return KPF_OK;
}

int kpf_params_init_safetensors(kpf_model *m, const kpf_node *init, kpf_error *err)
{
    const kpf_node *from = kpf_node_get(init, "from");
    const char *prefix = NULL;
    const char **map = NULL;
    char *path = NULL;
    int rc = kpf_cfg_string(init, "prefix", KPF_CFG_OPTIONAL, "", &prefix, err);
    if (!rc)
        rc = read_map(m, kpf_node_get(init, "names"), &map, err);
    if (!rc)
        rc = kpf_node_file_path(from, &path, err);
    if (!rc) {
        kpf_st_names nm = {.prefix = prefix, .map = map};
        kpf_error e = {0};
        rc = kpf_params_load_safetensors(m, path, &nm, &e);
        if (rc == KPF_ENOMEM)
            kpf_error_set(err, rc, "%s", e.msg);
        else if (rc)
            rc = kpf_node_error(from, err, "%s", e.msg);
    }
    free(path);
    free(map);
    return rc;
}
