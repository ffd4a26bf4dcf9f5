/* The `kpf new-plugin` templates, embedded at build time by embed.cmake. */
#ifndef KPF_CLI_TEMPLATES_H
#define KPF_CLI_TEMPLATES_H

#include <stddef.h>

typedef struct kpf_template {
    const char *name;          /* file name in cli/templates/, e.g. "plugin.c.in" */
    const unsigned char *text; /* its bytes (NUL-terminated)                     */
    size_t len;                /* without the NUL                                 */
} kpf_template;

/* Ends with an entry whose name is NULL. */
extern const kpf_template kpf_new_plugin_templates[];

#endif
