/* Sealed HDF5 files (kpf/h5io.h): the first KPF_H5_SEAL_BYTES of the file
 * are an HDF5 user block, which HDF5 and h5py skip; kpf writes into it the
 * length and the CRC-32 (zlib) of everything after it, once the file is
 * closed.  Checking the seal reads the file once and needs no HDF5: a file
 * that was cut short, damaged on disk or edited is refused before HDF5
 * parses a byte of it (HDF5 1.10 can crash on a malformed file). */
#include "kpf/h5io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define SEAL_MAGIC "kpf sealed HDF5 1\n"

/* Length and CRC-32 of f from offset KPF_H5_SEAL_BYTES to its end. */
static int digest(FILE *f, uint64_t *len, uint32_t *crc)
{
    if (fseek(f, KPF_H5_SEAL_BYTES, SEEK_SET))
        return -1;
    unsigned char buf[1 << 16];
    uLong c = crc32(0L, Z_NULL, 0);
    *len = 0;
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) {
        c = crc32(c, buf, (uInt)n);
        *len += n;
    }
    *crc = (uint32_t)c;
    return ferror(f) ? -1 : 0;
}

int kpf_h5_seal(const char *path, kpf_error *err)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return kpf_error_set(err, KPF_EIO, "%s: cannot seal: %s", path, strerror(errno));
    uint64_t len;
    uint32_t crc;
    char head[KPF_H5_SEAL_BYTES] = {0};
    int rc = digest(f, &len, &crc);
    if (!rc) {
        snprintf(head, sizeof head, SEAL_MAGIC "bytes %" PRIu64 "\ncrc32 %08" PRIx32 "\n", len,
                 crc);
        rc = fseek(f, 0, SEEK_SET) || fwrite(head, 1, sizeof head, f) != sizeof head ||
             fflush(f) || fsync(fileno(f));
    }
    int e = errno;
    if (fclose(f) && !rc) {
        rc = -1;
        e = errno;
    }
    return rc ? kpf_error_set(err, KPF_EIO, "%s: cannot seal: %s", path, strerror(e)) : KPF_OK;
}

int kpf_h5_check_seal(const char *path, kpf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kpf_error_set(err, KPF_EIO, "%s: cannot open: %s", path, strerror(errno));
    char head[KPF_H5_SEAL_BYTES + 1] = {0};
    size_t n = fread(head, 1, KPF_H5_SEAL_BYTES, f);
    uint64_t want_len = 0, len = 0;
    uint32_t want_crc = 0, crc = 0;
    int sealed = n == KPF_H5_SEAL_BYTES && !strncmp(head, SEAL_MAGIC, strlen(SEAL_MAGIC)) &&
                 sscanf(head + strlen(SEAL_MAGIC), "bytes %" SCNu64 "\ncrc32 %" SCNx32,
                        &want_len, &want_crc) == 2;
    int rc = sealed ? digest(f, &len, &crc) : 0;
    int e = errno;
    fclose(f);
    if (rc)
        return kpf_error_set(err, KPF_EIO, "%s: cannot read: %s", path, strerror(e));
    if (!sealed)
        return kpf_error_set(err, KPF_EIO,
                             "%s: no kpf seal (the file was damaged, or written by another "
                             "program or an older kpf)",
                             path);
    if (len != want_len)
        return kpf_error_set(err, KPF_EIO,
                             "%s: %" PRIu64 " bytes where its seal says %" PRIu64
                             " (the file was cut short or extended)",
                             path, len + KPF_H5_SEAL_BYTES, want_len + KPF_H5_SEAL_BYTES);
    if (crc != want_crc)
        return kpf_error_set(err, KPF_EIO,
                             "%s: contents do not match its seal (CRC-32 %08" PRIx32
                             ", sealed %08" PRIx32 "): the file was altered or damaged",
                             path, crc, want_crc);
    return KPF_OK;
}
