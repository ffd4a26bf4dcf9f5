/* YAML configuration tree: libyaml's document API is converted into our own
 * nodes, each carrying its file, 1-based line/column and dotted path, so that
 * typed getters, --set overrides and the unknown-key check can all report
 * "file:line:col: path: problem (expected …)". */
#include "kpf/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config_scan.h"

/* config_scan.c holds the limits before libyaml loads a text; these are
 * the loader's own backstops for the same (recursive anchors, aliases). */
enum { MAX_DEPTH = KPF_CONFIG_MAX_DEPTH };
#define MAX_NODES ((size_t)1000000)

struct kpf_node {
    int kind;
    char *key;          /* NULL for the root and for sequence items */
    char *scalar;       /* NULL unless a scalar */
    char *path;
    const char *file;   /* owned by the config's file list */
    int line, col;      /* of the value */
    int key_line, key_col; /* of the key, for map entries */
    bool used;
    kpf_node **kids;
    size_t n_kids, cap_kids;
    char **asked;       /* keys a getter asked this map for, present or not */
    size_t n_asked, cap_asked;
};

struct kpf_config {
    kpf_node *root;
    char **files;       /* [0] is the source; then one per --set */
    size_t n_files, cap_files;
};

/* Getters take const nodes because reading is all they do; the used marks
 * and asked-key lists are bookkeeping on nodes the config allocated mutable. */
static kpf_node *mut(const kpf_node *n) { return (kpf_node *)n; }

/* ---- small helpers -------------------------------------------------------- */

__attribute__((format(printf, 1, 2)))
static char *fmt_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static char *child_path(const char *parent, const char *key)
{
    return parent[0] ? fmt_alloc("%s.%s", parent, key) : strdup(key);
}

static char *item_path(const char *parent, size_t i)
{
    return fmt_alloc("%s[%zu]", parent, i);
}

static int push_str(char ***arr, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 4;
        char **p = realloc(*arr, ncap * sizeof *p);
        if (!p)
            return KPF_ENOMEM;
        *arr = p;
        *cap = ncap;
    }
    (*arr)[(*n)++] = s;
    return KPF_OK;
}

static int push_kid(kpf_node *parent, kpf_node *kid)
{
    if (parent->n_kids == parent->cap_kids) {
        size_t ncap = parent->cap_kids ? 2 * parent->cap_kids : 4;
        kpf_node **p = realloc(parent->kids, ncap * sizeof *p);
        if (!p)
            return KPF_ENOMEM;
        parent->kids = p;
        parent->cap_kids = ncap;
    }
    parent->kids[parent->n_kids++] = kid;
    return KPF_OK;
}

/* Takes ownership of path (freed on failure). */
static kpf_node *node_new(int kind, const char *file, int line, int col, char *path)
{
    kpf_node *n = path ? calloc(1, sizeof *n) : NULL;
    if (!n) {
        free(path);
        return NULL;
    }
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    n->path = path;
    return n;
}

static void node_free(kpf_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        node_free(n->kids[i]);
    for (size_t i = 0; i < n->n_asked; i++)
        free(n->asked[i]);
    free(n->kids);
    free(n->asked);
    free(n->key);
    free(n->scalar);
    free(n->path);
    free(n);
}

static kpf_node *find_kid(const kpf_node *map, const char *key, size_t len, size_t *slot)
{
    for (size_t i = 0; i < map->n_kids; i++) {
        const char *k = map->kids[i]->key;
        if (k && strlen(k) == len && memcmp(k, key, len) == 0) {
            if (slot)
                *slot = i;
            return map->kids[i];
        }
    }
    return NULL;
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case KPF_NODE_MAP: return "mapping";
    case KPF_NODE_SEQ: return "sequence";
    default: return "scalar";
    }
}

/* ---- errors --------------------------------------------------------------- */

static int vlocated(kpf_error *err, const char *file, int line, int col, const char *path,
                    const char *fmt, va_list ap)
{
    char msg[KPF_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (path && path[0])
        return kpf_error_set(err, KPF_ECONFIG, "%s:%d:%d: %s: %s", file, line, col, path, msg);
    return kpf_error_set(err, KPF_ECONFIG, "%s:%d:%d: %s", file, line, col, msg);
}

__attribute__((format(printf, 6, 7)))
static int located(kpf_error *err, const char *file, int line, int col, const char *path,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vlocated(err, file, line, col, path, fmt, ap);
    va_end(ap);
    return rc;
}

int kpf_node_error(const kpf_node *node, kpf_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc;
    if (node) {
        rc = vlocated(err, node->file, node->line, node->col, node->path, fmt, ap);
    } else {
        char msg[KPF_ERROR_MSG_MAX];
        vsnprintf(msg, sizeof msg, fmt, ap);
        rc = kpf_error_set(err, KPF_ECONFIG, "%s", msg);
    }
    va_end(ap);
    return rc;
}

static int type_error(const kpf_node *n, const char *expect, kpf_error *err)
{
    if (n->kind == KPF_NODE_SCALAR)
        return kpf_node_error(n, err, "expected %s (got '%s')", expect, n->scalar);
    return kpf_node_error(n, err, "expected %s, got a %s", expect, kind_name(n->kind));
}

/* ---- conversion from libyaml ---------------------------------------------- */

typedef struct loader {
    yaml_document_t *doc;
    const char *file;
    size_t count;
    kpf_error *err;
} loader;

static int convert(loader *ld, yaml_node_t *yn, char *path, int depth, kpf_node **out);

static int convert_seq(loader *ld, yaml_node_t *yn, kpf_node *n, int depth)
{
    size_t i = 0;
    for (yaml_node_item_t *it = yn->data.sequence.items.start;
         it < yn->data.sequence.items.top; it++, i++) {
        kpf_node *kid;
        int rc = convert(ld, yaml_document_get_node(ld->doc, *it), item_path(n->path, i),
                         depth + 1, &kid);
        if (rc)
            return rc;
        if (push_kid(n, kid)) {
            node_free(kid);
            return kpf_error_set(ld->err, KPF_ENOMEM, "out of memory loading %s", ld->file);
        }
    }
    return KPF_OK;
}

static int key_error(loader *ld, const yaml_node_t *yk, const kpf_node *n)
{
    return located(ld->err, ld->file, (int)yk->start_mark.line + 1,
                   (int)yk->start_mark.column + 1, n->path, "expected a string key, got a %s",
                   yk->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
}

static int convert_pair(loader *ld, yaml_node_pair_t *pair, kpf_node *n, int depth)
{
    yaml_node_t *yk = yaml_document_get_node(ld->doc, pair->key);
    int kl = (int)yk->start_mark.line + 1, kc = (int)yk->start_mark.column + 1;
    if (yk->type != YAML_SCALAR_NODE)
        return key_error(ld, yk, n);
    const char *key = (const char *)yk->data.scalar.value;
    char *path = child_path(n->path, key);
    if (!path)
        return kpf_error_set(ld->err, KPF_ENOMEM, "out of memory loading %s", ld->file);
    kpf_node *kid;
    int rc = convert(ld, yaml_document_get_node(ld->doc, pair->value), path, depth + 1, &kid);
    if (rc)
        return rc;
    kid->key_line = kl;
    kid->key_col = kc;
    kid->key = strdup(key);
    if (!kid->key || push_kid(n, kid)) {
        node_free(kid);
        return kpf_error_set(ld->err, KPF_ENOMEM, "out of memory loading %s", ld->file);
    }
    return KPF_OK;
}

/* Duplicate keys, found by sorting (a linear search per key made a map of
 * 100 000 keys take minutes). */
typedef struct key_ref {
    const char *key;
    size_t index;
} key_ref;

static int key_ref_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* The first pair (in document order) whose key is not a string or repeats
 * an earlier one, or n when none; *first: the earlier pair it repeats. */
static size_t first_bad_key(loader *ld, yaml_node_t *yn, size_t n, size_t *first, int *ok)
{
    yaml_node_pair_t *pairs = yn->data.mapping.pairs.start;
    key_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    *ok = refs != NULL;
    size_t bad = n, m = 0;
    for (size_t i = 0; refs && i < n && bad == n; i++) {
        yaml_node_t *yk = yaml_document_get_node(ld->doc, pairs[i].key);
        if (yk->type != YAML_SCALAR_NODE)
            bad = i;
        else
            refs[m++] = (key_ref){(const char *)yk->data.scalar.value, i};
    }
    if (refs)
        qsort(refs, m, sizeof *refs, key_ref_cmp);
    for (size_t i = 1; refs && i < m; i++)
        if (!strcmp(refs[i].key, refs[i - 1].key) && refs[i].index < bad &&
            (i < 2 || strcmp(refs[i].key, refs[i - 2].key))) {
            bad = refs[i].index;
            *first = refs[i - 1].index;
        }
    free(refs);
    return bad;
}

static int convert_map(loader *ld, yaml_node_t *yn, kpf_node *n, int depth)
{
    yaml_node_pair_t *pairs = yn->data.mapping.pairs.start;
    size_t np = (size_t)(yn->data.mapping.pairs.top - pairs), first = 0;
    int ok;
    size_t bad = first_bad_key(ld, yn, np, &first, &ok);
    if (!ok)
        return kpf_error_set(ld->err, KPF_ENOMEM, "out of memory loading %s", ld->file);
    for (size_t i = 0; i < bad; i++) {
        int rc = convert_pair(ld, &pairs[i], n, depth);
        if (rc)
            return rc;
    }
    if (bad == np)
        return KPF_OK;
    yaml_node_t *yk = yaml_document_get_node(ld->doc, pairs[bad].key);
    if (yk->type != YAML_SCALAR_NODE)
        return key_error(ld, yk, n);
    const char *key = (const char *)yk->data.scalar.value;
    char *path = child_path(n->path, key);
    if (!path)
        return kpf_error_set(ld->err, KPF_ENOMEM, "out of memory loading %s", ld->file);
    int rc = located(ld->err, ld->file, (int)yk->start_mark.line + 1,
                     (int)yk->start_mark.column + 1, path, "duplicate key '%s' (first at line %d)",
                     key, (int)yaml_document_get_node(ld->doc, pairs[first].key)->start_mark.line + 1);
    free(path);
    return rc;
}

/* Takes ownership of path. */
static int convert(loader *ld, yaml_node_t *yn, char *path, int depth, kpf_node **out)
{
    int line = (int)yn->start_mark.line + 1, col = (int)yn->start_mark.column + 1;
    if (depth > MAX_DEPTH || ++ld->count > MAX_NODES) {
        int rc = located(ld->err, ld->file, line, col, path,
                         "document too deeply nested or too large (recursive alias?)");
        free(path);
        return rc;
    }
    int kind = yn->type == YAML_MAPPING_NODE ? KPF_NODE_MAP
               : yn->type == YAML_SEQUENCE_NODE ? KPF_NODE_SEQ : KPF_NODE_SCALAR;
    kpf_node *n = node_new(kind, ld->file, line, col, path);
    if (!n)
        return kpf_error_set(ld->err, KPF_ENOMEM, "out of memory loading %s", ld->file);
    int rc = KPF_OK;
    if (kind == KPF_NODE_SCALAR) {
        n->scalar = strndup((const char *)yn->data.scalar.value, yn->data.scalar.length);
        if (!n->scalar)
            rc = kpf_error_set(ld->err, KPF_ENOMEM, "out of memory loading %s", ld->file);
    } else {
        rc = kind == KPF_NODE_MAP ? convert_map(ld, yn, n, depth) : convert_seq(ld, yn, n, depth);
    }
    if (rc) {
        node_free(n);
        return rc;
    }
    *out = n;
    return KPF_OK;
}

static bool is_empty_scalar(const yaml_node_t *yn)
{
    return yn->type == YAML_SCALAR_NODE && yn->data.scalar.length == 0 &&
           yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* An empty document (or a bare "---") is an empty root map. */
/* any_root: a --set flow value may be a sequence or map; a file must be a map. */
static int build_root(yaml_document_t *doc, const char *file, int any_root, kpf_node **out,
                      kpf_error *err)
{
    yaml_node_t *yn = yaml_document_get_root_node(doc);
    if (!yn || is_empty_scalar(yn)) {
        *out = node_new(KPF_NODE_MAP, file, 1, 1, strdup(""));
        return *out ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "out of memory loading %s", file);
    }
    loader ld = {doc, file, 0, err};
    char *path = strdup("");
    if (!path)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory loading %s", file);
    int rc = convert(&ld, yn, path, 0, out);
    if (rc)
        return rc;
    if (!any_root && (*out)->kind != KPF_NODE_MAP) {
        rc = type_error(*out, "a mapping at the top level", err);
        node_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Reader errors (NUL bytes, invalid UTF-8, control characters) come with
 * a byte offset only; the line and column are counted from the text. */
static int syntax_error(const yaml_parser_t *p, const char *text, size_t len, const char *file,
                        kpf_error *err)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR)
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory while parsing", file);
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        kpf_internal_yaml_mark_at(text, len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            return located(err, file, line, col, NULL, "YAML syntax error: %s (byte 0x%02X)",
                           problem, (unsigned)p->problem_value & 0xFFu);
        return located(err, file, line, col, NULL, "YAML syntax error: %s", problem);
    }
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->context)
        return located(err, file, line, col, NULL, "YAML syntax error: %s (%s)", problem,
                       p->context);
    return located(err, file, line, col, NULL, "YAML syntax error: %s", problem);
}

/* A second document would otherwise be silently ignored. */
static int check_single(yaml_parser_t *p, const char *text, size_t len, const char *file,
                        kpf_error *err)
{
    yaml_document_t doc;
    if (!yaml_parser_load(p, &doc))
        return syntax_error(p, text, len, file, err);
    yaml_node_t *yn = yaml_document_get_root_node(&doc);
    int rc = KPF_OK;
    if (yn)
        rc = located(err, file, (int)yn->start_mark.line + 1, (int)yn->start_mark.column + 1,
                     NULL, "expected a single YAML document, found another");
    yaml_document_delete(&doc);
    return rc;
}

static int parse_text(const char *text, size_t len, const char *file, int any_root,
                      kpf_node **root, kpf_error *err)
{
    int rc = kpf_internal_yaml_prescan(text, len, file, err);
    if (rc)
        return rc;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory while parsing", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&p, &doc)) {
        rc = syntax_error(&p, text, len, file, err);
    } else {
        rc = build_root(&doc, file, any_root, root, err);
        yaml_document_delete(&doc);
        if (!rc)
            rc = check_single(&p, text, len, file, err);
        if (rc) {
            node_free(*root);
            *root = NULL;
        }
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ---- documents ------------------------------------------------------------ */

/* Takes ownership of s; returns the stored pointer or NULL. */
static const char *add_file(kpf_config *cfg, char *s)
{
    if (!s || push_str(&cfg->files, &cfg->n_files, &cfg->cap_files, s)) {
        free(s);
        return NULL;
    }
    return s;
}

static int load_text(const char *text, size_t len, const char *name, kpf_config **out,
                     kpf_error *err)
{
    kpf_config *cfg = calloc(1, sizeof *cfg);
    const char *file = cfg ? add_file(cfg, strdup(name)) : NULL;
    if (!file) {
        kpf_config_free(cfg);
        return kpf_error_set(err, KPF_ENOMEM, "out of memory loading %s", name);
    }
    int rc = parse_text(text, len, file, 0, &cfg->root, err);
    if (rc) {
        kpf_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return KPF_OK;
}

/* Refused before libyaml sees it; located where the limit is crossed. */
static int too_large(const char *text, size_t len, const char *file, kpf_error *err)
{
    int line, col;
    kpf_internal_yaml_mark_at(text, len, KPF_CONFIG_MAX_BYTES, &line, &col);
    return located(err, file, line, col, NULL,
                   "the config is larger than %d bytes, the most kpf reads (is it the right "
                   "file?)",
                   KPF_CONFIG_MAX_BYTES);
}

int kpf_config_load_string(const char *yaml, const char *name, kpf_config **out,
                           kpf_error *err)
{
    if (!yaml || !out)
        return kpf_error_set(err, KPF_EINVAL, "kpf_config_load_string: NULL argument");
    *out = NULL;
    size_t len = strnlen(yaml, (size_t)KPF_CONFIG_MAX_BYTES + 1);
    if (len > KPF_CONFIG_MAX_BYTES)
        return too_large(yaml, len, name ? name : "<string>", err);
    return load_text(yaml, len, name ? name : "<string>", out, err);
}

/* Reads the whole file so read failures (a directory, EIO) are reported with
 * errno rather than as a vague libyaml reader error; stops one byte past
 * KPF_CONFIG_MAX_BYTES, so *len > the limit means "too large". */
static int read_all(const char *path, char **text, size_t *len, kpf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kpf_error_set(err, KPF_EIO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", path);
    while (!rc) {
        size_t want = cap - n, room = (size_t)KPF_CONFIG_MAX_BYTES + 1 - n;
        n += fread(buf + n, 1, want < room ? want : room, f);
        if (ferror(f))
            rc = kpf_error_set(err, KPF_EIO, "cannot read %s: %s", path, strerror(errno));
        else if (feof(f))
            break;
        else if (n > KPF_CONFIG_MAX_BYTES)
            break;
        else if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            rc = p ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", path);
            buf = p ? p : buf;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return KPF_OK;
}

int kpf_config_load_file(const char *path, kpf_config **out, kpf_error *err)
{
    if (!path || !out)
        return kpf_error_set(err, KPF_EINVAL, "kpf_config_load_file: NULL argument");
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = read_all(path, &text, &len, err);
    if (rc)
        return rc;
    rc = len > KPF_CONFIG_MAX_BYTES ? too_large(text, len, path, err)
                                    : load_text(text, len, path, out, err);
    free(text);
    return rc;
}

void kpf_config_free(kpf_config *cfg)
{
    if (!cfg)
        return;
    node_free(cfg->root);
    for (size_t i = 0; i < cfg->n_files; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg);
}

const kpf_node *kpf_config_root(const kpf_config *cfg) { return cfg ? cfg->root : NULL; }

const char *kpf_config_source(const kpf_config *cfg)
{
    return cfg && cfg->n_files ? cfg->files[0] : NULL;
}

/* ---- --set overrides ------------------------------------------------------ */

typedef struct segment {
    const char *name;
    size_t len;
    int col;      /* 1-based, in the assignment text */
    long index;   /* -1 when the segment has no [i] */
} segment;

typedef struct setter {
    kpf_config *cfg;
    const char *text;  /* the assignment */
    const char *file;  /* "--set <assignment>" */
    const char *value;
    int value_col;
    segment *segs;
    size_t n_segs;
    kpf_error *err;
} setter;

__attribute__((format(printf, 4, 5)))
static int set_error(const setter *s, int col, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vlocated(s->err, s->file, 1, col, path, fmt, ap);
    va_end(ap);
    return rc;
}

static int malformed(const setter *s, int col, const char *why)
{
    return set_error(s, col, NULL, "malformed assignment: %s (expected KEY.PATH=VALUE)", why);
}

/* Parses "name" or "name[i]" starting at p, ending at end. */
static int parse_segment(setter *s, const char *p, const char *end, segment *seg)
{
    const char *br = memchr(p, '[', (size_t)(end - p));
    seg->name = p;
    seg->len = (size_t)((br ? br : end) - p);
    seg->col = (int)(p - s->text) + 1;
    seg->index = -1;
    if (seg->len == 0)
        return malformed(s, seg->col, "empty path segment");
    if (!br)
        return KPF_OK;
    const char *q = br + 1;
    long idx = 0;
    for (; q < end && isdigit((unsigned char)*q) && idx < 100000000; q++)
        idx = 10 * idx + (*q - '0');
    if (q == br + 1 || q + 1 != end || *q != ']')
        return malformed(s, (int)(br - s->text) + 1, "bad index, expected [N]");
    seg->index = idx;
    return KPF_OK;
}

static int parse_assignment(setter *s)
{
    const char *eq = strchr(s->text, '=');
    if (!eq)
        return malformed(s, 1, "no '='");
    if (eq == s->text)
        return malformed(s, 1, "empty key");
    s->value = eq + 1;
    s->value_col = (int)(eq - s->text) + 2;
    size_t n = 1;
    for (const char *p = s->text; p < eq; p++)
        n += *p == '.';
    s->segs = calloc(n, sizeof *s->segs);
    if (!s->segs)
        return kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
    for (const char *p = s->text; s->n_segs < n; s->n_segs++) {
        const char *dot = memchr(p, '.', (size_t)(eq - p));
        const char *end = dot ? dot : eq;
        int rc = parse_segment(s, p, end, &s->segs[s->n_segs]);
        if (rc)
            return rc;
        p = end + 1;
    }
    return KPF_OK;
}

static kpf_node *set_node(const setter *s, int kind, const segment *seg, char *path)
{
    kpf_node *n = node_new(kind, s->file, 1, kind == KPF_NODE_SCALAR ? s->value_col : seg->col,
                           path);
    if (!n)
        return NULL;
    n->key_line = 1;
    n->key_col = seg->col;
    if (kind == KPF_NODE_SCALAR && !(n->scalar = strdup(s->value))) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* Re-roots a parsed flow value at `path`: its nodes get the key path they
 * now live under (the value's own paths start at the document root). */
static int reroot(kpf_node *n, const char *path)
{
    const char *own = n->path;
    char *p = !own[0] ? strdup(path) : own[0] == '[' ? fmt_alloc("%s%s", path, own)
                                                     : child_path(path, own);
    if (!p)
        return -1;
    free(n->path);
    n->path = p;
    for (size_t i = 0; i < n->n_kids; i++) /* kids' own paths are still from the old root */
        if (reroot(n->kids[i], path))
            return -1;
    return 0;
}

/* The value node of an assignment: a scalar, or, when the value starts
 * with '[' or '{', the flow sequence or map it spells (`--set
 * train.blocks=[W, W_in]`).  The value is parsed in place of the whole
 * assignment with the key blanked out, so errors point at its columns. */
static int value_node(const setter *s, const segment *seg, char *path, kpf_node **out)
{
    const char *v = s->value + strspn(s->value, " ");
    if (*v != '[' && *v != '{') {
        *out = set_node(s, KPF_NODE_SCALAR, seg, path);
        return *out ? KPF_OK : kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
    }
    size_t len = strlen(s->text), key = (size_t)(s->value - s->text);
    char *text = malloc(len + 1);
    if (!text) {
        free(path);
        return kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
    }
    memset(text, ' ', key);
    memcpy(text + key, s->value, len - key + 1);
    kpf_node *n = NULL;
    int rc = parse_text(text, len, s->file, 1, &n, s->err);
    free(text);
    if (!rc && reroot(n, path))
        rc = kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
    free(path);
    if (rc) {
        node_free(n);
        return rc;
    }
    n->key_line = 1;
    n->key_col = seg->col;
    *out = n;
    return KPF_OK;
}

/* Builds maps for segs[i..] under `map` (all absent), ending in the scalar.
 * The chain is built detached so a failure leaves the tree untouched. */
static int create_chain(const setter *s, kpf_node *map, size_t i)
{
    for (size_t j = i; j < s->n_segs; j++)
        if (s->segs[j].index >= 0)
            return set_error(s, s->segs[j].col, map->path, "no key '%.*s' to index into",
                             (int)s->segs[j].len, s->segs[j].name);
    kpf_node *head = NULL, *parent = NULL;
    const char *ppath = map->path;
    for (size_t j = i; j < s->n_segs; j++) {
        const segment *seg = &s->segs[j];
        char *key = strndup(seg->name, seg->len);
        kpf_node *n = NULL;
        int rc = !key ? kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set")
                 : j + 1 == s->n_segs ? value_node(s, seg, child_path(ppath, key), &n)
                                      : KPF_OK;
        if (!rc && !n && !(n = set_node(s, KPF_NODE_MAP, seg, child_path(ppath, key))))
            rc = kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
        if (n)
            n->key = key;
        else
            free(key);
        if (!rc && parent && push_kid(parent, n))
            rc = kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
        if (rc) { /* n, if any, is not attached yet */
            node_free(n);
            node_free(head);
            return rc;
        }
        head = head ? head : n;
        parent = n;
        ppath = n->path;
    }
    if (push_kid(map, head)) {
        node_free(head);
        return kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
    }
    return KPF_OK;
}

/* Replaces parent->kids[slot] by the --set scalar, keeping key and path. */
static int replace(const setter *s, kpf_node *parent, size_t slot, const segment *seg)
{
    kpf_node *old = parent->kids[slot], *n = NULL;
    int rc = value_node(s, seg, strdup(old->path), &n);
    if (rc)
        return rc;
    if (old->key && !(n->key = strdup(old->key))) {
        node_free(n);
        return kpf_error_set(s->err, KPF_ENOMEM, "out of memory applying --set");
    }
    node_free(old);
    parent->kids[slot] = n;
    return KPF_OK;
}

static int cross_error(const setter *s, const kpf_node *cur, const segment *seg)
{
    if (cur->kind == KPF_NODE_SEQ)
        return set_error(s, seg->col, cur->path,
                         "is a sequence; address its items with an index like [0]");
    return set_error(s, seg->col, cur->path, "is a scalar; cannot set key '%.*s' inside it",
                     (int)seg->len, seg->name);
}

static int apply(const setter *s)
{
    kpf_node *cur = s->cfg->root;
    for (size_t i = 0; i < s->n_segs; i++) {
        const segment *seg = &s->segs[i];
        if (cur->kind != KPF_NODE_MAP)
            return cross_error(s, cur, seg);
        size_t slot;
        kpf_node *parent = cur, *child = find_kid(cur, seg->name, seg->len, &slot);
        if (!child)
            return create_chain(s, cur, i);
        if (seg->index >= 0) {
            if (child->kind != KPF_NODE_SEQ)
                return set_error(s, seg->col, child->path, "is a %s, not a sequence",
                                 kind_name(child->kind));
            if ((size_t)seg->index >= child->n_kids)
                return set_error(s, seg->col, child->path,
                                 "index %ld is out of range (the sequence has %zu items)",
                                 seg->index, child->n_kids);
            parent = child;
            slot = (size_t)seg->index;
            child = child->kids[slot];
        }
        if (i + 1 == s->n_segs)
            return replace(s, parent, slot, seg);
        cur = child;
    }
    return KPF_OK;
}

/* "--set <assignment>", the file name in its messages; a long assignment
 * is cut (at a character boundary) so the line and column still fit. */
static char *set_label(const char *assignment)
{
    enum { KEEP = 80 };
    size_t n = strlen(assignment);
    if (n <= KEEP + 3)
        return fmt_alloc("--set %s", assignment);
    size_t k = KEEP;
    while (k > 0 && ((unsigned char)assignment[k] & 0xC0) == 0x80)
        k--;
    return fmt_alloc("--set %.*s…", (int)k, assignment);
}

int kpf_config_set(kpf_config *cfg, const char *assignment, kpf_error *err)
{
    if (!cfg || !assignment)
        return kpf_error_set(err, KPF_EINVAL, "kpf_config_set: NULL argument");
    setter s = {.cfg = cfg, .text = assignment, .err = err};
    /* Kept in the config even on failure: set nodes and messages point at it. */
    s.file = add_file(cfg, set_label(assignment));
    if (!s.file)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory applying --set");
    int rc = parse_assignment(&s);
    if (!rc)
        rc = apply(&s);
    free(s.segs);
    return rc;
}

/* ---- unknown keys --------------------------------------------------------- */

static int unknown_key(const kpf_node *map, const kpf_node *kid, kpf_error *err)
{
    if (map->n_asked == 0)
        return located(err, kid->file, kid->key_line, kid->key_col, kid->path,
                       "unknown key (this section takes no keys)");
    char known[KPF_ERROR_MSG_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < map->n_asked && used < sizeof known; i++) {
        int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                         map->asked[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    return located(err, kid->file, kid->key_line, kid->key_col, kid->path,
                   "unknown key (known here: %s)", known);
}

/* Complains only about keys inside maps; descends into used entries only,
 * since an unread section is itself the unknown key. */
static int find_unused(const kpf_node *n, kpf_error *err)
{
    for (size_t i = 0; i < n->n_kids; i++) {
        const kpf_node *kid = n->kids[i];
        if (n->kind == KPF_NODE_MAP && !kid->used)
            return unknown_key(n, kid, err);
        if (kid->kind != KPF_NODE_SCALAR) {
            int rc = find_unused(kid, err);
            if (rc)
                return rc;
        }
    }
    return KPF_OK;
}

int kpf_node_check_unused(const kpf_node *node, kpf_error *err)
{
    return node ? find_unused(node, err) : KPF_OK;
}

int kpf_config_check_unused(const kpf_config *cfg, kpf_error *err)
{
    return cfg ? find_unused(cfg->root, err) : KPF_OK;
}

/* ---- node accessors ------------------------------------------------------- */

int kpf_node_kind(const kpf_node *node) { return node ? node->kind : -1; }
const char *kpf_node_path(const kpf_node *node) { return node ? node->path : NULL; }
const char *kpf_node_file(const kpf_node *node) { return node ? node->file : NULL; }
int kpf_node_line(const kpf_node *node) { return node ? node->line : 0; }
int kpf_node_col(const kpf_node *node) { return node ? node->col : 0; }
const char *kpf_node_scalar(const kpf_node *node) { return node ? node->scalar : NULL; }

int kpf_node_file_path(const kpf_node *node, char **out, kpf_error *err)
{
    const char *p = node ? node->scalar : NULL, *file = node ? node->file : NULL;
    if (!p)
        return kpf_node_error(node, err, "expected a file name");
    const char *slash = file && strncmp(file, "--set ", 6) != 0 ? strrchr(file, '/') : NULL;
    size_t dir = p[0] != '/' && slash ? (size_t)(slash - file) + 1 : 0;
    char *path = malloc(dir + strlen(p) + 1);
    if (!path)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    memcpy(path, file, dir);
    strcpy(path + dir, p);
    *out = path;
    return KPF_OK;
}

size_t kpf_node_len(const kpf_node *node)
{
    return node && node->kind != KPF_NODE_SCALAR ? node->n_kids : 0;
}

/* Walking a map's entries by index is reading them, so it marks them used. */
const kpf_node *kpf_node_at(const kpf_node *node, size_t i)
{
    if (!node || node->kind == KPF_NODE_SCALAR || i >= node->n_kids)
        return NULL;
    mut(node->kids[i])->used = true;
    return node->kids[i];
}

const char *kpf_node_key_at(const kpf_node *node, size_t i)
{
    if (!node || node->kind != KPF_NODE_MAP || i >= node->n_kids)
        return NULL;
    return node->kids[i]->key;
}

/* A failed allocation here only shortens a later "known here" list, so it is
 * not worth failing the lookup for. */
static void remember_asked(kpf_node *map, const char *key)
{
    for (size_t i = 0; i < map->n_asked; i++)
        if (strcmp(map->asked[i], key) == 0)
            return;
    char *k = strdup(key);
    if (k && push_str(&map->asked, &map->n_asked, &map->cap_asked, k))
        free(k);
}

const kpf_node *kpf_node_get(const kpf_node *map, const char *key)
{
    if (!map || !key || map->kind != KPF_NODE_MAP)
        return NULL;
    remember_asked(mut(map), key);
    kpf_node *kid = find_kid(map, key, strlen(key), NULL);
    if (kid)
        kid->used = true;
    return kid;
}

void kpf_node_mark_used(const kpf_node *node)
{
    if (!node)
        return;
    mut(node)->used = true;
    for (size_t i = 0; i < node->n_kids; i++)
        kpf_node_mark_used(node->kids[i]);
}

/* ---- typed getters -------------------------------------------------------- */

static int missing(const kpf_node *map, const char *key, const char *expect, kpf_error *err)
{
    if (!map)
        return kpf_error_set(err, KPF_ECONFIG, "%s: missing required key (expected %s)", key,
                             expect);
    char *path = child_path(map->path, key);
    if (!path)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = located(err, map->file, map->line, map->col, path,
                     "missing required key (expected %s)", expect);
    free(path);
    return rc;
}

/* *val = map[key], or NULL when absent and optional. */
static int lookup(const kpf_node *map, const char *key, unsigned flags, const char *expect,
                  const void *out, const kpf_node **val, kpf_error *err)
{
    *val = NULL;
    if (!key || !out)
        return kpf_error_set(err, KPF_EINVAL, "config getter: NULL key or output");
    if (map && map->kind != KPF_NODE_MAP)
        return type_error(map, "a mapping", err);
    *val = kpf_node_get(map, key);
    if (*val || !(flags & KPF_CFG_REQUIRED))
        return KPF_OK;
    return missing(map, key, expect, err);
}

/* Shortest text that reads back as x, so a range is quoted exactly. */
static void fmt_double(char *buf, size_t size, double x)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

static void describe_double(double lo, double hi, char *buf, size_t size)
{
    char a[40], b[40];
    fmt_double(a, sizeof a, lo);
    fmt_double(b, sizeof b, hi);
    bool has_lo = isfinite(lo), has_hi = isfinite(hi);
    if (has_lo && has_hi)
        snprintf(buf, size, "a number in [%s, %s]", a, b);
    else if (has_lo)
        snprintf(buf, size, "a number >= %s", a);
    else if (has_hi)
        snprintf(buf, size, "a number <= %s", b);
    else
        snprintf(buf, size, "a number");
}

static bool parse_double(const char *s, double *out)
{
    if (!s[0] || isspace((unsigned char)s[0]))
        return false;
    char *end;
    double x = strtod(s, &end);
    if (*end)
        return false;
    *out = x;
    return true;
}

int kpf_cfg_double(const kpf_node *map, const char *key, unsigned flags, double dflt,
                   double lo, double hi, double *out, kpf_error *err)
{
    char expect[128];
    describe_double(lo, hi, expect, sizeof expect);
    const kpf_node *v;
    int rc = lookup(map, key, flags, expect, out, &v, err);
    if (rc || !v) {
        if (!rc)
            *out = dflt;
        return rc;
    }
    double x;
    if (v->kind != KPF_NODE_SCALAR || !parse_double(v->scalar, &x))
        return type_error(v, "a number", err);
    if (!isfinite(x))
        return type_error(v, "a finite number", err);
    if (x < lo || x > hi)
        return kpf_node_error(v, err, "%s is out of range (expected %s)", v->scalar, expect);
    *out = x;
    return KPF_OK;
}

enum { UINT_OK, UINT_NOT_INT, UINT_NEGATIVE, UINT_OVERFLOW };

static int parse_u64(const char *s, uint64_t *out)
{
    double ignored;
    if (s[0] == '-' && parse_double(s, &ignored))
        return UINT_NEGATIVE;
    if (!isdigit((unsigned char)s[0]))
        return UINT_NOT_INT;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return UINT_NOT_INT;
    if (errno == ERANGE)
        return UINT_OVERFLOW;
    *out = (uint64_t)v;
    return UINT_OK;
}

/* Reads an integer scalar no larger than max; range checks are the caller's. */
static int get_uint(const kpf_node *v, uint64_t max, const char *expect, uint64_t *x,
                    kpf_error *err)
{
    if (v->kind != KPF_NODE_SCALAR)
        return type_error(v, "an integer", err);
    switch (parse_u64(v->scalar, x)) {
    case UINT_NOT_INT: return type_error(v, "an integer", err);
    case UINT_NEGATIVE: return type_error(v, "a non-negative integer", err);
    case UINT_OVERFLOW: break;
    default:
        if (*x <= max)
            return KPF_OK;
    }
    return kpf_node_error(v, err, "%s is out of range (expected %s)", v->scalar, expect);
}

static void describe_size(size_t lo, size_t hi, char *buf, size_t size)
{
    if (hi == SIZE_MAX && lo == 0)
        snprintf(buf, size, "a non-negative integer");
    else if (hi == SIZE_MAX)
        snprintf(buf, size, "an integer >= %zu", lo);
    else
        snprintf(buf, size, "an integer in [%zu, %zu]", lo, hi);
}

int kpf_cfg_size(const kpf_node *map, const char *key, unsigned flags, size_t dflt,
                 size_t lo, size_t hi, size_t *out, kpf_error *err)
{
    char expect[128];
    describe_size(lo, hi, expect, sizeof expect);
    const kpf_node *v;
    int rc = lookup(map, key, flags, expect, out, &v, err);
    if (rc || !v) {
        if (!rc)
            *out = dflt;
        return rc;
    }
    uint64_t x;
    rc = get_uint(v, SIZE_MAX, expect, &x, err);
    if (rc)
        return rc;
    if (x < lo || x > hi)
        return kpf_node_error(v, err, "%s is out of range (expected %s)", v->scalar, expect);
    *out = (size_t)x;
    return KPF_OK;
}

int kpf_cfg_u64(const kpf_node *map, const char *key, unsigned flags, uint64_t dflt,
                uint64_t *out, kpf_error *err)
{
    const char *expect = "a non-negative integer below 2^64";
    const kpf_node *v;
    int rc = lookup(map, key, flags, "a non-negative integer", out, &v, err);
    if (rc || !v) {
        if (!rc)
            *out = dflt;
        return rc;
    }
    return get_uint(v, UINT64_MAX, expect, out, err);
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

int kpf_cfg_bool(const kpf_node *map, const char *key, unsigned flags, int dflt, int *out,
                 kpf_error *err)
{
    const char *expect = "true or false";
    const kpf_node *v;
    int rc = lookup(map, key, flags, expect, out, &v, err);
    if (rc || !v) {
        if (!rc)
            *out = dflt;
        return rc;
    }
    int b = v->kind == KPF_NODE_SCALAR ? parse_bool(v->scalar) : -1;
    if (b < 0)
        return type_error(v, expect, err);
    *out = b;
    return KPF_OK;
}

int kpf_cfg_string(const kpf_node *map, const char *key, unsigned flags, const char *dflt,
                   const char **out, kpf_error *err)
{
    const kpf_node *v;
    int rc = lookup(map, key, flags, "a string", out, &v, err);
    if (rc || !v) {
        if (!rc)
            *out = dflt;
        return rc;
    }
    if (v->kind != KPF_NODE_SCALAR)
        return type_error(v, "a string", err);
    *out = v->scalar;
    return KPF_OK;
}

static void describe_choices(const char *const *choices, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "one of:");
    for (size_t i = 0; choices[i] && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s %s", i ? "," : "", choices[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

int kpf_cfg_range(const kpf_node *spec, size_t max, double **v, size_t *n, kpf_error *err)
{
    if (kpf_node_len(spec) != 1)
        return kpf_node_error(spec, err, "expected {linspace: [a, b, n]} or {logspace: [a, b, n]}");
    const char *kind = kpf_node_key_at(spec, 0);
    const kpf_node *args = kpf_node_get(spec, kind);
    int logs = !strcmp(kind, "logspace");
    if (!logs && strcmp(kind, "linspace"))
        return kpf_node_error(args, err, "unknown range '%s' (expected linspace or logspace)",
                              kind);
    if (kpf_node_kind(args) != KPF_NODE_SEQ || kpf_node_len(args) != 3)
        return kpf_node_error(args, err, "expected three numbers [start, stop, count]");
    double a[3];
    for (size_t i = 0; i < 3; i++) {
        const char *t = kpf_node_scalar(kpf_node_at(args, i));
        char *end = NULL;
        a[i] = t ? strtod(t, &end) : NAN;
        if (!t || !*t || *end || !isfinite(a[i]))
            return kpf_node_error(kpf_node_at(args, i), err, "expected a number");
    }
    if (a[2] < 1 || a[2] != floor(a[2]) || a[2] > (double)max)
        return kpf_node_error(kpf_node_at(args, 2), err,
                              "expected a whole number of points in [1, %zu]", max);
    *n = (size_t)a[2];
    if (!(*v = malloc(*n * sizeof **v)))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    for (size_t i = 0; i < *n; i++) {
        double t = *n > 1 ? (double)i / (double)(*n - 1) : 0.0, x = a[0] + t * (a[1] - a[0]);
        (*v)[i] = logs ? pow(10.0, x) : x;
    }
    return KPF_OK;
}

int kpf_cfg_choice(const kpf_node *map, const char *key, unsigned flags,
                   const char *const *choices, int dflt, int *out, kpf_error *err)
{
    if (!choices)
        return kpf_error_set(err, KPF_EINVAL, "kpf_cfg_choice: NULL choice list");
    char expect[512];
    describe_choices(choices, expect, sizeof expect);
    const kpf_node *v;
    int rc = lookup(map, key, flags, expect, out, &v, err);
    if (rc || !v) {
        if (!rc)
            *out = dflt;
        return rc;
    }
    if (v->kind != KPF_NODE_SCALAR)
        return type_error(v, expect, err);
    for (int i = 0; choices[i]; i++) {
        if (strcmp(choices[i], v->scalar) == 0) {
            *out = i;
            return KPF_OK;
        }
    }
    return kpf_node_error(v, err, "unknown value '%s' (expected %s)", v->scalar, expect);
}

int kpf_cfg_map(const kpf_node *map, const char *key, unsigned flags, const kpf_node **out,
                kpf_error *err)
{
    const kpf_node *v;
    int rc = lookup(map, key, flags, "a mapping", out, &v, err);
    if (rc || !v) {
        if (!rc)
            *out = NULL;
        return rc;
    }
    if (v->kind != KPF_NODE_MAP)
        return type_error(v, "a mapping", err);
    *out = v;
    return KPF_OK;
}
