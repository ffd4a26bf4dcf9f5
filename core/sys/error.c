/* Per-call error objects: formatting and prefixing of messages. */
#include "kpf/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kpf_error_set(kpf_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int kpf_error_prefix(kpf_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char head[KPF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    /* Keep as much of the original message as fits after the new head. */
    size_t h = strlen(head), t = strnlen(err->msg, sizeof err->msg);
    if (h >= sizeof err->msg)
        h = sizeof err->msg - 1;
    if (h + t >= sizeof err->msg)
        t = sizeof err->msg - 1 - h;
    memmove(err->msg + h, err->msg, t);
    memcpy(err->msg, head, h);
    err->msg[h + t] = '\0';
    if (code)
        err->code = code;
    return code;
}

void kpf_error_clear(kpf_error *err)
{
    if (!err)
        return;
    err->code = KPF_OK;
    err->msg[0] = '\0';
}

const char *kpf_status_string(int code)
{
    switch (code) {
    case KPF_OK: return "success";
    case KPF_EINVAL: return "invalid argument";
    case KPF_ECONFIG: return "bad configuration";
    case KPF_ENOMEM: return "out of memory";
    case KPF_EPLUGIN: return "plugin error";
    case KPF_EABI: return "plugin ABI mismatch";
    case KPF_ENUMERIC: return "numerical failure";
    case KPF_EIO: return "input/output error";
    case KPF_EUNSUPPORTED: return "unsupported operation";
    case KPF_ECHECK: return "check failed";
    default: return "unknown status";
    }
}
