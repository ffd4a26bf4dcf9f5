/* kpf/param_io.h — a model's parameters θ to and from HDF5 files.
 *
 * The file holds one dataset per named parameter block at its root, named
 * exactly as the block (`W`, `W_in`, `weight_hh` …): a matrix block of
 * rows×cols as a 2-D dataset [rows, cols] (row-major, as numpy/h5py and
 * PyTorch store it), a vector block (cols = 1) as a 1-D dataset [rows]
 * ([rows, 1] is accepted when reading).  Any floating or integer type is
 * read (converted to double), so a PyTorch state dict written with h5py
 * (float32) loads unchanged when the plugin uses PyTorch's block names, as
 * `gru` does.
 *
 * Loading requires every plugin block; the core readout blocks `W_out` and
 * `b_out` (present only for plugins without their own readout) are optional
 * — both or neither — and keep their drawn values when absent.  A missing
 * block, a dataset that names no block, or a dataset of the wrong shape is
 * an error naming the dataset and the expected shape; θ is left unchanged
 * on any error.  After a successful load the caller must call
 * kpf_model_theta_changed.
 *
 * The file is read twice: first in a forked child, because HDF5 1.10
 * crashes on some malformed files (fuzz/crashes/h5/hdf5_*); a child that dies is
 * reported as KPF_EIO ("the HDF5 library crashed (SIGSEGV) reading this
 * file …") and the calling process never parses the file.  The function
 * therefore calls fork(): it is safe to call with threads running (the
 * child only reads the file and _exits), but not from a signal handler. */
#ifndef KPF_PARAM_IO_H
#define KPF_PARAM_IO_H

#include "kpf/export.h"

#include "kpf/error.h"
#include "kpf/instance.h"

KPF_BEGIN_DECLS

/* Read θ from the HDF5 file at `path` (see above). */
int kpf_params_load_h5(kpf_model *m, const char *path, kpf_error *err);

/* Write every block of θ (plugin blocks, then W_out and b_out when the core
 * readout is in use) to a new HDF5 file at `path` (never overwritten). */
int kpf_params_save_h5(const kpf_model *m, const char *path, kpf_error *err);

/* Write θ (theta, or the model's own when NULL) into an open file as one
 * dataset per block, `prefix`/<block> (rows×cols; vectors as [rows] when
 * vectors_1d, else [rows, 1]). */
struct kpf_h5;
int kpf_params_write(struct kpf_h5 *h, const kpf_model *m, const double *theta,
                     const char *prefix, int vectors_1d, kpf_error *err);

KPF_END_DECLS
#endif
