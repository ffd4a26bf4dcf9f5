/* Limits on a YAML text, checked on libyaml's event stream before its
 * document loader runs (see config_scan.h for why). */
#include "config_scan.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kpf/config.h"

/* What one kpf_node costs besides its strings: the struct, its slot in the
 * parent and allocator overhead, rounded up. */
enum { NODE_COST = 256 };

typedef struct anchor {
    char *name;
    int open;           /* its collection has not ended yet */
    size_t scalar_len;  /* when it names a scalar (a key may use it) */
    int is_scalar;
    /* Its subtree: nodes, bytes (less count × its own path length, which an
     * alias replaces by the alias's), and levels below it. */
    uint64_t count, bytes;
    int depth;
    uint64_t count0, bytes0; /* totals when it opened */
    size_t path_len;
} anchor;

typedef struct frame {
    int is_map;
    size_t path_len; /* of the collection's own dotted path */
    size_t items;    /* nodes read in it (a map counts keys and values) */
    size_t key_len;  /* a map's pending key */
    int depth, max_depth;
    int anchor;      /* index in anchors, or −1 */
} frame;

typedef struct scan {
    const char *file;
    kpf_error *err;
    frame stack[KPF_CONFIG_MAX_DEPTH + 1];
    int top;
    anchor anchors[KPF_CONFIG_MAX_ANCHORS];
    size_t n_anchors, n_aliases;
    uint64_t count, bytes;
} scan;

__attribute__((format(printf, 3, 4)))
static int located(scan *s, const yaml_event_t *ev, const char *fmt, ...)
{
    char msg[KPF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kpf_error_set(s->err, KPF_ECONFIG, "%s:%d:%d: %s", s->file,
                         (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1, msg);
}

static size_t digits(size_t i)
{
    size_t d = 1;
    while (i >= 10) {
        i /= 10;
        d++;
    }
    return d;
}

static int charge(scan *s, const yaml_event_t *ev, uint64_t nodes, uint64_t bytes)
{
    s->count += nodes;
    s->bytes += bytes;
    if (s->bytes <= KPF_CONFIG_MAX_EXPANDED)
        return KPF_OK;
    if (s->n_aliases)
        return located(s, ev,
                       "the document expands to more than %d MiB once its aliases are expanded "
                       "(at most %d MiB; use fewer or smaller aliases, or split the config)",
                       KPF_CONFIG_MAX_EXPANDED >> 20, KPF_CONFIG_MAX_EXPANDED >> 20);
    return located(s, ev,
                   "the document expands to more than %d MiB (at most %d MiB; split the config)",
                   KPF_CONFIG_MAX_EXPANDED >> 20, KPF_CONFIG_MAX_EXPANDED >> 20);
}

/* Where a new node goes: its path length, or *is_key when it is a map key
 * (keys are strings of their map, not nodes). */
static void place(scan *s, size_t *path_len, int *is_key)
{
    *path_len = 0;
    *is_key = 0;
    if (!s->top)
        return;
    frame *p = &s->stack[s->top - 1];
    if (p->is_map && p->items % 2 == 0) {
        *is_key = 1;
        *path_len = p->path_len;
    } else if (p->is_map) {
        *path_len = p->path_len + (p->path_len ? 1 : 0) + p->key_len;
    } else {
        *path_len = p->path_len + 2 + digits(p->items);
    }
    p->items++;
}

static void note_depth(scan *s, int depth)
{
    if (s->top && s->stack[s->top - 1].max_depth < depth)
        s->stack[s->top - 1].max_depth = depth;
}

static int too_deep(scan *s, const yaml_event_t *ev, const char *via)
{
    return located(s, ev, "nested more than %d levels deep%s (at most %d)",
                   KPF_CONFIG_MAX_DEPTH, via, KPF_CONFIG_MAX_DEPTH);
}

static int new_anchor(scan *s, const yaml_event_t *ev, const yaml_char_t *name, int *index)
{
    *index = -1;
    if (!name)
        return KPF_OK;
    if (s->n_anchors == KPF_CONFIG_MAX_ANCHORS)
        return located(s, ev, "more than %d anchors (&name) in one document",
                       KPF_CONFIG_MAX_ANCHORS);
    anchor *a = &s->anchors[s->n_anchors];
    memset(a, 0, sizeof *a);
    if (!(a->name = strdup((const char *)name)))
        return kpf_error_set(s->err, KPF_ENOMEM, "out of memory reading %s", s->file);
    *index = (int)s->n_anchors++;
    return KPF_OK;
}

static int on_scalar(scan *s, const yaml_event_t *ev)
{
    size_t path_len, len = ev->data.scalar.length;
    int is_key, a;
    place(s, &path_len, &is_key);
    if (is_key)
        s->stack[s->top - 1].key_len = len;
    else if (s->top > KPF_CONFIG_MAX_DEPTH)
        return too_deep(s, ev, "");
    else
        note_depth(s, s->top);
    int rc = new_anchor(s, ev, ev->data.scalar.anchor, &a);
    /* A key costs its copy; a value node, the node, its path and text. */
    uint64_t own = is_key ? len + 1 : NODE_COST + len + 1;
    if (!rc && a >= 0)
        s->anchors[a] = (anchor){.name = s->anchors[a].name, .is_scalar = 1,
                                 .scalar_len = len, .count = 1, .bytes = NODE_COST + len + 1};
    return rc ? rc : charge(s, ev, is_key ? 0 : 1, own + (is_key ? 0 : path_len + 1));
}

static int on_start(scan *s, const yaml_event_t *ev, int is_map)
{
    size_t path_len;
    int is_key, a;
    place(s, &path_len, &is_key);
    if (is_key)
        s->stack[s->top - 1].key_len = 0; /* refused later: keys must be strings */
    if (s->top > KPF_CONFIG_MAX_DEPTH)
        return too_deep(s, ev, "");
    const yaml_char_t *name =
        is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    int rc = new_anchor(s, ev, name, &a);
    if (rc)
        return rc;
    if (a >= 0) {
        anchor *an = &s->anchors[a];
        an->open = 1;
        an->count0 = s->count;
        an->bytes0 = s->bytes;
        an->path_len = path_len;
    }
    s->stack[s->top] = (frame){.is_map = is_map, .path_len = path_len, .depth = s->top,
                               .max_depth = s->top, .anchor = a};
    s->top++;
    return charge(s, ev, 1, NODE_COST + path_len + 1);
}

static void on_end(scan *s)
{
    frame f = s->stack[--s->top];
    if (f.anchor >= 0) {
        anchor *a = &s->anchors[f.anchor];
        a->open = 0;
        a->count = s->count - a->count0;
        uint64_t all = s->bytes - a->bytes0, prefix = a->count * a->path_len;
        a->bytes = all > prefix ? all - prefix : 0;
        a->depth = f.max_depth - f.depth;
    }
    note_depth(s, f.max_depth);
}

static int on_alias(scan *s, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    size_t path_len;
    int is_key;
    place(s, &path_len, &is_key);
    const anchor *a = NULL;
    for (size_t i = s->n_anchors; i-- > 0 && !a;) /* a redefined anchor: the latest */
        if (!strcmp(s->anchors[i].name, name))
            a = &s->anchors[i];
    if (!a)
        return located(s, ev, "alias *%s: no anchor &%s before it", name, name);
    if (a->open)
        return located(s, ev,
                       "alias *%s refers to a node that contains it: a recursive alias makes the "
                       "document too deeply nested",
                       name);
    if (++s->n_aliases > KPF_CONFIG_MAX_ALIASES)
        return located(s, ev, "more than %d aliases (*name) in one document",
                       KPF_CONFIG_MAX_ALIASES);
    if (is_key) {
        s->stack[s->top - 1].key_len = a->is_scalar ? a->scalar_len : 0;
        return charge(s, ev, 0, s->stack[s->top - 1].key_len + 1);
    }
    if (s->top + a->depth > KPF_CONFIG_MAX_DEPTH)
        return too_deep(s, ev, " once the alias is expanded");
    note_depth(s, s->top + a->depth);
    return charge(s, ev, a->count, a->bytes + a->count * (path_len + 1));
}

static void forget_anchors(scan *s)
{
    for (size_t i = 0; i < s->n_anchors; i++)
        free(s->anchors[i].name);
    s->n_anchors = 0;
    s->n_aliases = 0;
}

static int on_event(scan *s, const yaml_event_t *ev, int *done)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: return on_scalar(s, ev);
    case YAML_SEQUENCE_START_EVENT: return on_start(s, ev, 0);
    case YAML_MAPPING_START_EVENT: return on_start(s, ev, 1);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: on_end(s); return KPF_OK;
    case YAML_ALIAS_EVENT: return on_alias(s, ev);
    case YAML_DOCUMENT_START_EVENT: forget_anchors(s); return KPF_OK;
    case YAML_STREAM_END_EVENT: *done = 1; return KPF_OK;
    default: return KPF_OK;
    }
}

int kpf_internal_yaml_prescan(const char *text, size_t len, const char *file, kpf_error *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return kpf_error_set(err, KPF_ENOMEM, "%s: out of memory while parsing", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    scan *s = calloc(1, sizeof *s);
    int rc = s ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "%s: out of memory while parsing", file);
    int done = 0;
    if (s) {
        s->file = file;
        s->err = err;
    }
    while (!rc && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break; /* a syntax error: the loader reports it */
        rc = on_event(s, &ev, &done);
        yaml_event_delete(&ev);
    }
    if (s)
        forget_anchors(s);
    free(s);
    yaml_parser_delete(&p);
    return rc;
}

void kpf_internal_yaml_mark_at(const char *text, size_t len, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || (c == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
            ++*line;
            *col = 1;
        } else if (c != '\r' && (c & 0xC0) != 0x80) {
            ++*col;
        }
    }
}
