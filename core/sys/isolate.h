/* Running a call that may crash in a child process.
 *
 * HDF5 1.10.8 (Debian 12) crashes on some malformed files before kpf can
 * check anything (fuzz/crashes/h5/hdf5_*.h5).  Files kpf writes are sealed
 * against that (h5seal.c), but weight files written by other programs are
 * not, so they are first parsed in a forked child: if the child dies, the
 * parent refuses the file instead of dying with it.  The child's writes to memory
 * are lost; only how it ended comes back.
 *
 * The child leaves through _exit (no atexit handlers: HDF5's would close
 * the parent's files), with a code of its own, so a child that ends any
 * other way (a sanitizer that turns a fault into a report and exit(1))
 * still counts as a crash.  Deadly signals get their default action back
 * in the child. */
#ifndef KPF_ISOLATE_H
#define KPF_ISOLATE_H

#include "kpf/error.h"

typedef enum {
    KPF_ISOLATED_OK,     /* fn returned KPF_OK in the child              */
    KPF_ISOLATED_FAILED, /* fn returned an error status in the child     */
    KPF_ISOLATED_CRASHED /* the child died (signal or any other exit)    */
} kpf_isolated_outcome;

/* Runs fn(arg) in a child.  *outcome says how it ended; *how describes a
 * crash ("SIGSEGV", "exit status 1") in how_size bytes.  Returns KPF_OK, or
 * KPF_EIO when the child could not be started or waited for. */
int kpf_internal_isolated(int (*fn)(void *arg), void *arg, kpf_isolated_outcome *outcome,
                          char *how, size_t how_size, kpf_error *err);

#endif
