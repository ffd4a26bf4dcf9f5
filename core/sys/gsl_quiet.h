/* GSL's default error handler prints and aborts, which library code must
 * never do.  libkpf turns it off when it is loaded (gsl_handler.c), so no
 * GSL call in kpf can reach it.  Calls that can fail (workspace allocation,
 * iteration limits, singular systems) may still run between
 * kpf_internal_gsl_quiet() and kpf_internal_gsl_restore(): that keeps them
 * silent even in a program that installed a GSL handler of its own after
 * loading libkpf.  Their return status becomes a kpf status.  The handler
 * is process-global (GSL's design), so it is always restored. */
#ifndef KPF_GSL_QUIET_H
#define KPF_GSL_QUIET_H

#include <gsl/gsl_errno.h>

static inline gsl_error_handler_t *kpf_internal_gsl_quiet(void)
{
    return gsl_set_error_handler_off();
}

static inline void kpf_internal_gsl_restore(gsl_error_handler_t *h)
{
    gsl_set_error_handler(h);
}

#endif
