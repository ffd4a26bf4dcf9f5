/* kpf/atomic_file.h — files that exist whole or not at all.
 *
 * A file is written under a temporary name in the folder it belongs to
 * (PATH.partial), flushed to the disk (fsync), and only then given its name
 * (link or rename), after which the folder itself is synced, so that after a
 * crash, a kill or a full disk the name PATH holds either nothing or the
 * complete file, never a torn one.  A write that fails removes the
 * temporary file: nothing that failed is ever left looking valid, and a
 * leftover *.partial (the process was killed while writing) says what it is.
 *
 * Completion markers (a run's summary.json) are written this way and last.
 * Nothing here prints. */
#ifndef KPF_ATOMIC_FILE_H
#define KPF_ATOMIC_FILE_H

#include "kpf/export.h"

#include <stdio.h>

#include "kpf/error.h"

KPF_BEGIN_DECLS

/* The suffix of the temporary name: PATH.partial. */
#define KPF_PARTIAL_SUFFIX ".partial"

typedef struct kpf_atomic_file kpf_atomic_file;

/* Begin writing PATH: opens PATH.partial for writing (truncating a leftover
 * of a killed process) and returns the stream to write to in *fp (owned by
 * *out: never fclose it yourself). */
int kpf_atomic_open(const char *path, kpf_atomic_file **out, FILE **fp, kpf_error *err);

/* Finish: flush, fsync and close the stream, then give it the name PATH —
 * never replacing an existing PATH unless `replace` — and fsync the folder.
 * Any failure (a write error the stream kept, ENOSPC at flush, PATH already
 * there) removes the temporary file and names PATH and the reason.  Frees f
 * in every case. */
int kpf_atomic_commit(kpf_atomic_file *f, int replace, kpf_error *err);

/* Give up: close and remove the temporary file; frees f (NULL is fine). */
void kpf_atomic_abort(kpf_atomic_file *f);

/* For files written by other means (HDF5) under tmp_path, already closed:
 * fsync tmp_path, give it the name `path` (never replacing an existing one
 * unless `replace`), fsync the folder.  On failure tmp_path is removed and
 * the message names `path` and the reason. */
int kpf_atomic_publish(const char *tmp_path, const char *path, int replace, kpf_error *err);

/* fsync the folder that holds `path` (so a rename or unlink in it lasts). */
int kpf_fsync_parent(const char *path, kpf_error *err);

KPF_END_DECLS
#endif
