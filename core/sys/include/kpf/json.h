/* kpf/json.h — a small streaming JSON writer for summary files.
 *
 * Writes one object with nested objects/arrays, escaping strings and
 * printing doubles with 17 significant digits (round-trip exact); non-finite
 * numbers become null, since JSON has no NaN. */
#ifndef KPF_JSON_H
#define KPF_JSON_H

#include "kpf/export.h"

#include <stdio.h>

KPF_BEGIN_DECLS

typedef struct kpf_json {
    FILE *fp;
    int depth;
    int state[32]; /* per depth: 0 empty, 1 has items, 2 key written */
} kpf_json;

void kpf_json_begin(kpf_json *j, FILE *fp); /* opens the top-level object */
void kpf_json_end(kpf_json *j);             /* closes it, adds a newline  */
void kpf_json_key(kpf_json *j, const char *key);
void kpf_json_object_begin(kpf_json *j);
void kpf_json_object_end(kpf_json *j);
void kpf_json_array_begin(kpf_json *j);
void kpf_json_array_end(kpf_json *j);
void kpf_json_string(kpf_json *j, const char *s);
void kpf_json_double(kpf_json *j, double v);
void kpf_json_uint(kpf_json *j, unsigned long long v);
void kpf_json_bool(kpf_json *j, int v);

KPF_END_DECLS
#endif
