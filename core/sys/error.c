/* Per-call error objects: formatting and prefixing of messages. */
#include "kpf/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A message is one line: control characters that came in with user text
 * (a YAML value holding a newline, a --set argument, a file name) are
 * written as \n, \t, \r or \xHH, cut to fit. */
static void one_line(char *msg, size_t cap)
{
    size_t n = strnlen(msg, cap), bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += (unsigned char)msg[i] < 0x20 || msg[i] == 0x7f;
    if (!bad)
        return;
    char out[KPF_ERROR_MSG_MAX];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < sizeof out; i++) {
        unsigned char c = (unsigned char)msg[i];
        char esc[5] = {0};
        if (c == '\n' || c == '\t' || c == '\r')
            snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02X", c);
        else
            esc[0] = (char)c;
        size_t k = strlen(esc);
        if (o + k + 1 > sizeof out)
            break;
        memcpy(out + o, esc, k);
        o += k;
    }
    out[o] = '\0';
    size_t keep = o < cap ? o : cap - 1;
    memcpy(msg, out, keep);
    msg[keep] = '\0';
}

int kpf_error_set(kpf_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    one_line(err->msg, sizeof err->msg);
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
    one_line(err->msg, sizeof err->msg);
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
