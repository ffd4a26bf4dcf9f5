/* No kpf code path reaches GSL's aborting default handler: libkpf turns it
 * off when it is loaded, so an impossible GSL allocation inside a public
 * kpf function is KPF_ENOMEM, not abort() (exit 134).  Each case runs in a
 * child so that an abort fails the test instead of killing the suite. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_matrix.h>

#include "kpf/linalg.h"
#include "kpf/rng.h"

/* Under AddressSanitizer an impossible allocation must also return NULL. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* 2^23 × 2^23 doubles = 512 TiB: more than any x86-64 process can map, so
 * the allocation fails whatever the overcommit policy. */
static const size_t HUGE_N = (size_t)1 << 23;

static int child_status(int (*body)(void))
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        _exit(body());
    int st;
    waitpid(pid, &st, 0);
    cr_assert(!WIFSIGNALED(st), "the process died of signal %d (GSL's default handler "
              "aborts)", WTERMSIG(st));
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int haar_huge(void)
{
    gsl_rng *r = NULL;
    kpf_error err = {0};
    if (kpf_rng_alloc(1, KPF_RNG_INIT, &r, &err))
        return 100;
    double q[1];
    int rc = kpf_haar_orthogonal(r, HUGE_N, q, &err);
    gsl_rng_free(r);
    return rc;
}

Test(gsl_handler, impossible_allocation_in_kpf_is_enomem_not_abort)
{
    cr_assert_eq(child_status(haar_huge), KPF_ENOMEM);
}

static int gsl_alloc_huge(void)
{
    kpf_error err = {0};
    kpf_error_clear(&err); /* libkpf is loaded, so its constructor ran */
    gsl_matrix *m = gsl_matrix_alloc(HUGE_N, HUGE_N);
    return m ? 1 : 0;
}

Test(gsl_handler, handler_is_off_once_libkpf_is_loaded)
{
    cr_assert_eq(child_status(gsl_alloc_huge), 0, "the impossible allocation succeeded?");
    cr_assert_eq(gsl_set_error_handler_off(), gsl_set_error_handler_off(),
                 "GSL's handler was not already off");
}
