/* kpf/error.h — status codes and the per-call error object.
 *
 * Library code never prints, exits or aborts: every fallible function returns
 * an int status (KPF_OK == 0) and, when given a non-NULL kpf_error, leaves a
 * one-line human-readable message in it.  The error object belongs to the
 * caller; there is no global error state. */
#ifndef KPF_ERROR_H
#define KPF_ERROR_H

#include "kpf/export.h"

#include <stddef.h>

KPF_BEGIN_DECLS

enum kpf_status {
    KPF_OK = 0,
    KPF_EINVAL = 1,       /* bad argument from the caller                  */
    KPF_ECONFIG = 2,      /* bad configuration value (file:line:col given) */
    KPF_ENOMEM = 3,       /* allocation failed                              */
    KPF_EPLUGIN = 4,      /* plugin could not be loaded or is malformed     */
    KPF_EABI = 5,         /* plugin ABI version / struct size mismatch      */
    KPF_ENUMERIC = 6,     /* non-finite value, divergence                   */
    KPF_EIO = 7,          /* file system or HDF5 failure                    */
    KPF_EUNSUPPORTED = 8, /* operation not provided for this model/config   */
    KPF_ECHECK = 9        /* a conformance check failed                     */
};

#define KPF_ERROR_MSG_MAX 1024

typedef struct kpf_error {
    int code;
    char msg[KPF_ERROR_MSG_MAX];
} kpf_error;

/* Record (code, message) in err (if non-NULL) and return code.  Intended as
 * `return kpf_error_set(err, KPF_EINVAL, "n must be > 0, got %zu", n);` */
int kpf_error_set(kpf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context ("while loading x: ") to an existing message and return
 * `code`, the failing status, whether err is NULL or not:
 * `return kpf_error_prefix(err, rc, "step %zu: ", k);` */
int kpf_error_prefix(kpf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void kpf_error_clear(kpf_error *err);

/* Static description of a status code ("bad configuration", …). */
const char *kpf_status_string(int code);

KPF_END_DECLS
#endif
