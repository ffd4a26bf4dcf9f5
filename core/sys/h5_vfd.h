/* Private to h5io.c: an HDF5 file driver that never lets a failed write
 * reach HDF5.
 *
 * Why.  HDF5 1.10 cannot survive a failed write: a flush that fails leaves
 * its metadata cache inconsistent, every later H5Fclose of that file fails
 * too, the file is freed while its ID stays registered, and HDF5's exit
 * handler then crashes on it (SIGSEGV after "No space left on device";
 * fixed upstream only in 1.14.1).  Retrying the close, closing the file's
 * objects first or a STRONG close degree do not help: the damage is done
 * by the first failed write.
 *
 * What.  A POSIX driver (pread/pwrite, like HDF5's sec2) whose first failed
 * write switches the file to a private in-memory overlay: that write and
 * all later ones land in the overlay, reads see the overlay over the file,
 * and HDF5 carries on, consistent, to a clean close.  The failure (errno)
 * is kept; h5io.c reports it on the next kpf call, naming the file, and the
 * file on disk is left as it was when the disk gave out.  The overlay holds
 * only what is written after the failure. */
#ifndef KPF_H5_VFD_H
#define KPF_H5_VFD_H

#include <hdf5.h>

/* A file access list (close with H5Pclose) that selects the driver and a
 * STRONG close degree (H5Fclose closes the file's open objects too, so a
 * forgotten dataset never keeps the file open until exit).  *failed stays 0
 * while every write reaches the disk and otherwise receives the errno of
 * the first failed write; it must outlive the file.  *open_failed receives
 * the errno of the latest open(2) that failed (the reason a create failed).
 * Negative on failure.
 * *driver receives the driver's registration (or a negative id), which the
 * caller unregisters with H5FDunregister only after H5Fclose: HDF5 1.10's
 * H5FD_close reads the driver's class after dropping the file's reference
 * to it, so the last reference must not be the file's (valgrind saw the
 * use after free). */
hid_t kpf_internal_h5_vfd_fapl(int *failed, int *open_failed, hid_t *driver);

#endif
