/* Private to config.c: the limits a YAML text must meet before libyaml
 * builds a document from it.
 *
 * Why a separate pass.  libyaml's document loader trusts its input: it
 * nests as deep as the text does (and its scanner is quadratic in flow
 * depth: 100 000 nested `[` took over a minute), and it keeps aliases as
 * references that kpf's tree then copies out, so a small file whose
 * aliases repeat a large node can expand to gigabytes.  This pass reads
 * the text once as a stream of libyaml events, which costs no more than the
 * text itself, and stops at the first limit crossed, with the place:
 *
 *   - nesting deeper than KPF_CONFIG_MAX_DEPTH (counting what aliases
 *     bring in);
 *   - more than KPF_CONFIG_MAX_ANCHORS anchors or KPF_CONFIG_MAX_ALIASES
 *     aliases (libyaml resolves each alias by a linear search);
 *   - a tree that would take more than KPF_CONFIG_MAX_EXPANDED bytes once
 *     aliases are expanded (scalars, keys, dotted paths and per-node
 *     overhead, counted as kpf_config will allocate them);
 *   - an alias to a node that contains it, or to no earlier anchor.
 *
 * YAML syntax errors are left to the loader, which reports them itself. */
#ifndef KPF_CONFIG_SCAN_H
#define KPF_CONFIG_SCAN_H

#include <stddef.h>

#include "kpf/error.h"

/* KPF_OK, or KPF_ECONFIG located "file:line:col: …" (KPF_ENOMEM). */
int kpf_internal_yaml_prescan(const char *text, size_t len, const char *file, kpf_error *err);

/* 1-based line and column of byte `offset` in text (columns count UTF-8
 * characters, as libyaml's marks do). */
void kpf_internal_yaml_mark_at(const char *text, size_t len, size_t offset, int *line,
                               int *col);

#endif
