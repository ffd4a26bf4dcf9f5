/* kpf_internal_isolated: see isolate.h for why. */
#include "isolate.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit codes of a child that returned; anything else is a crash. */
enum { CHILD_OK = 0, CHILD_FAILED = 113 };

static void describe(int st, char *how, size_t how_size)
{
    if (!how || !how_size)
        return;
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"},
                 {SIGILL, "SIGILL"},   {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}};
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (names[i].sig == sig) {
                snprintf(how, how_size, "%s", names[i].name);
                return;
            }
        snprintf(how, how_size, "signal %d", sig);
    } else
        snprintf(how, how_size, "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int kpf_internal_isolated(int (*fn)(void *arg), void *arg, kpf_isolated_outcome *outcome,
                          char *how, size_t how_size, kpf_error *err)
{
    *outcome = KPF_ISOLATED_CRASHED;
    if (how && how_size)
        how[0] = '\0';
    fflush(NULL); /* the child must not flush the parent's buffers again */
    pid_t pid = fork();
    if (pid < 0)
        return kpf_error_set(err, KPF_EIO, "cannot start a checking process (fork: %s)",
                             strerror(errno));
    if (pid == 0) {
        /* A crash in the child ends it by its signal: the parent's handlers
         * (a sanitizer's report, a fuzzer's crash dump, a CLI's cleanup)
         * belong to the parent's failures, not to this trial read. */
        static const int deadly[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof deadly / sizeof deadly[0]; i++)
            signal(deadly[i], SIG_DFL);
        _exit(fn(arg) == 0 ? CHILD_OK : CHILD_FAILED);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return kpf_error_set(err, KPF_EIO, "lost the checking process (waitpid: %s)",
                                 strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK)
        *outcome = KPF_ISOLATED_OK;
    else if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_FAILED)
        *outcome = KPF_ISOLATED_FAILED;
    else
        describe(st, how, how_size);
    return KPF_OK;
}
