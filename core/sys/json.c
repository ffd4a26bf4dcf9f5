/* Streaming JSON writer (summary.json). */
#include "kpf/json.h"

#include <math.h>

enum { EMPTY = 0, HAS_ITEMS = 1, AFTER_KEY = 2 };

static void newline(kpf_json *j, int indent)
{
    fputc('\n', j->fp);
    for (int i = 0; i < indent; i++)
        fputs("  ", j->fp);
}

/* Separator and indentation before a key, or before an array element; a
 * value that follows its key goes on the key's line. */
static void before_item(kpf_json *j)
{
    int *st = &j->state[j->depth];
    if (*st == AFTER_KEY) {
        *st = HAS_ITEMS;
        return;
    }
    if (*st == HAS_ITEMS)
        fputc(',', j->fp);
    *st = HAS_ITEMS;
    newline(j, j->depth + 1);
}

static void put_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(fp, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", fp);
        else if (*p < 0x20)
            fprintf(fp, "\\u%04x", *p);
        else
            fputc(*p, fp);
    }
    fputc('"', fp);
}

static void open_container(kpf_json *j, char c)
{
    before_item(j);
    fputc(c, j->fp);
    j->state[++j->depth] = EMPTY;
}

static void close_container(kpf_json *j, char c)
{
    if (j->state[j->depth] != EMPTY)
        newline(j, j->depth);
    j->depth--;
    fputc(c, j->fp);
}

void kpf_json_begin(kpf_json *j, FILE *fp)
{
    j->fp = fp;
    j->depth = 0;
    fputc('{', fp);
    j->state[0] = EMPTY;
}

void kpf_json_end(kpf_json *j) { fputs("\n}\n", j->fp); }

void kpf_json_key(kpf_json *j, const char *key)
{
    before_item(j);
    put_string(j->fp, key);
    fputs(": ", j->fp);
    j->state[j->depth] = AFTER_KEY;
}

void kpf_json_object_begin(kpf_json *j) { open_container(j, '{'); }
void kpf_json_object_end(kpf_json *j) { close_container(j, '}'); }
void kpf_json_array_begin(kpf_json *j) { open_container(j, '['); }
void kpf_json_array_end(kpf_json *j) { close_container(j, ']'); }

void kpf_json_string(kpf_json *j, const char *s)
{
    before_item(j);
    put_string(j->fp, s ? s : "");
}

void kpf_json_double(kpf_json *j, double v)
{
    before_item(j);
    if (isfinite(v))
        fprintf(j->fp, "%.17g", v);
    else
        fputs("null", j->fp);
}

void kpf_json_uint(kpf_json *j, unsigned long long v)
{
    before_item(j);
    fprintf(j->fp, "%llu", v);
}

void kpf_json_bool(kpf_json *j, int v)
{
    before_item(j);
    fputs(v ? "true" : "false", j->fp);
}
