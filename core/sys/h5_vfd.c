/* The write-failure-proof HDF5 driver (see h5_vfd.h for why).
 *
 * Plain POSIX I/O until a write fails; from then on writes go to an
 * overlay of 4 KiB pages kept in memory (each page first filled from the
 * file, so partial pages stay exact) and reads look there first.  The errno
 * of the first failure goes to the int the file access list points at,
 * which outlives the file, so h5io.c can report it even after H5Fclose. */
#include "h5_vfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <H5FDpublic.h>

enum { PAGE = 4096 };
/* Largest address a file offset can hold, as sec2 has it. */
#define MAXADDR (((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1)

typedef struct vfd_info {
    int *failed;      /* where the first write errno goes               */
    int *open_failed; /* the errno of the latest failed open (HDF5 tries
                         more than one open per H5Fcreate)               */
} vfd_info;

typedef struct vfd_file {
    H5FD_t pub; /* first: HDF5 sees the file as this */
    int fd;
    dev_t dev;
    ino_t ino;
    haddr_t eoa, eof;
    int *failed;
    int own_failed;     /* the sink when the list gave none */
    size_t n_pages, cap_pages;
    uint64_t *page_no;  /* sorted */
    unsigned char **page;
} vfd_file;

static int read_disk(int fd, haddr_t addr, size_t size, unsigned char *buf)
{
    while (size) {
        ssize_t n = pread(fd, buf, size, (off_t)addr);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* past the end of the file: zeros, as sec2 */
            memset(buf, 0, size);
            return 0;
        }
        addr += (haddr_t)n;
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

/* Index of page p in the overlay, or where it would go. */
static size_t page_slot(const vfd_file *f, uint64_t p)
{
    size_t lo = 0, hi = f->n_pages;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->page_no[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static unsigned char *page_find(const vfd_file *f, uint64_t p)
{
    size_t s = page_slot(f, p);
    return s < f->n_pages && f->page_no[s] == p ? f->page[s] : NULL;
}

static unsigned char *page_get(vfd_file *f, uint64_t p)
{
    size_t s = page_slot(f, p);
    if (s < f->n_pages && f->page_no[s] == p)
        return f->page[s];
    if (f->n_pages == f->cap_pages) {
        size_t cap = f->cap_pages ? 2 * f->cap_pages : 64;
        uint64_t *no = realloc(f->page_no, cap * sizeof *no);
        if (no)
            f->page_no = no;
        unsigned char **pg = no ? realloc(f->page, cap * sizeof *pg) : NULL;
        if (!pg)
            return NULL;
        f->page = pg;
        f->cap_pages = cap;
    }
    unsigned char *data = malloc(PAGE);
    if (!data || read_disk(f->fd, (haddr_t)p * PAGE, PAGE, data)) {
        free(data);
        return NULL;
    }
    memmove(f->page_no + s + 1, f->page_no + s, (f->n_pages - s) * sizeof *f->page_no);
    memmove(f->page + s + 1, f->page + s, (f->n_pages - s) * sizeof *f->page);
    f->page_no[s] = p;
    f->page[s] = data;
    f->n_pages++;
    return data;
}

/* Splits [addr, addr+size) at page boundaries. */
static size_t chunk_len(haddr_t addr, size_t size)
{
    size_t room = PAGE - (size_t)(addr % PAGE);
    return size < room ? size : room;
}

static int overlay_write(vfd_file *f, haddr_t addr, size_t size, const unsigned char *buf)
{
    while (size) {
        size_t n = chunk_len(addr, size);
        unsigned char *pg = page_get(f, addr / PAGE);
        if (!pg)
            return -1;
        memcpy(pg + addr % PAGE, buf, n);
        addr += n;
        buf += n;
        size -= n;
    }
    return 0;
}

static int overlay_read(const vfd_file *f, haddr_t addr, size_t size, unsigned char *buf)
{
    while (size) {
        size_t n = chunk_len(addr, size);
        const unsigned char *pg = page_find(f, addr / PAGE);
        if (pg)
            memcpy(buf, pg + addr % PAGE, n);
        else if (read_disk(f->fd, addr, n, buf))
            return -1;
        addr += n;
        buf += n;
        size -= n;
    }
    return 0;
}

static void fail(vfd_file *f, int e)
{
    if (!*f->failed)
        *f->failed = e ? e : EIO;
}

/* ---- driver callbacks ------------------------------------------------------ */

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr)
{
    if (!name || !*name || maxaddr == 0 || maxaddr == HADDR_UNDEF || maxaddr > MAXADDR)
        return NULL;
    int o = flags & H5F_ACC_RDWR ? O_RDWR : O_RDONLY;
    o |= flags & H5F_ACC_TRUNC ? O_TRUNC : 0;
    o |= flags & H5F_ACC_CREAT ? O_CREAT : 0;
    o |= flags & H5F_ACC_EXCL ? O_EXCL : 0;
    vfd_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    struct stat st;
    const vfd_info *info = H5Pget_driver_info(fapl);
    f->fd = open(name, o | O_CLOEXEC, 0666);
    if (f->fd < 0 || fstat(f->fd, &st)) {
        /* kept for the caller's message (EEXIST, ENOSPC, EACCES …): HDF5's
         * own error stack is silenced and says nothing as useful */
        if (info && info->open_failed)
            *info->open_failed = errno ? errno : EIO;
        if (f->fd >= 0)
            close(f->fd);
        free(f);
        return NULL;
    }
    f->failed = info && info->failed ? info->failed : &f->own_failed;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->eof = (haddr_t)st.st_size;
    return &f->pub;
}

static herr_t vfd_close(H5FD_t *file)
{
    vfd_file *f = (vfd_file *)file;
    if (close(f->fd) && !f->n_pages)
        fail(f, errno); /* NFS and friends report late write errors here */
    for (size_t i = 0; i < f->n_pages; i++)
        free(f->page[i]);
    free(f->page);
    free(f->page_no);
    free(f);
    return 0;
}

static int vfd_cmp(const H5FD_t *a, const H5FD_t *b)
{
    const vfd_file *x = (const vfd_file *)a, *y = (const vfd_file *)b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return 0;
}

static herr_t vfd_query(const H5FD_t *file, unsigned long *flags)
{
    (void)file;
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA |
             H5FD_FEAT_DATA_SIEVE | H5FD_FEAT_AGGREGATE_SMALLDATA |
             H5FD_FEAT_POSIX_COMPAT_HANDLE | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *file, H5FD_mem_t type)
{
    (void)type;
    return ((const vfd_file *)file)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr)
{
    (void)type;
    ((vfd_file *)file)->eoa = addr;
    return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *file, H5FD_mem_t type)
{
    (void)type;
    return ((const vfd_file *)file)->eof;
}

static herr_t vfd_get_handle(H5FD_t *file, hid_t fapl, void **handle)
{
    (void)fapl;
    *handle = &((vfd_file *)file)->fd;
    return 0;
}

static int bad_range(const vfd_file *f, haddr_t addr, size_t size)
{
    return addr == HADDR_UNDEF || addr > f->pub.maxaddr || size > f->pub.maxaddr - addr;
}

static herr_t vfd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                       void *buf)
{
    (void)type;
    (void)dxpl;
    vfd_file *f = (vfd_file *)file;
    if (bad_range(f, addr, size))
        return -1;
    return f->n_pages ? overlay_read(f, addr, size, buf) : read_disk(f->fd, addr, size, buf);
}

static herr_t vfd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        const void *data)
{
    (void)type;
    (void)dxpl;
    vfd_file *f = (vfd_file *)file;
    if (bad_range(f, addr, size))
        return -1;
    const unsigned char *buf = data;
    haddr_t end = addr + size;
    while (!*f->failed && size) {
        ssize_t n = pwrite(f->fd, buf, size, (off_t)addr);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail(f, n < 0 ? errno : ENOSPC);
            break;
        }
        addr += (haddr_t)n;
        buf += n;
        size -= (size_t)n;
    }
    if (size && overlay_write(f, addr, size, buf))
        return -1; /* out of memory: nothing else can be done */
    if (end > f->eof)
        f->eof = end;
    return 0;
}

static herr_t vfd_flush(H5FD_t *file, hid_t dxpl, hbool_t closing)
{
    (void)file;
    (void)dxpl;
    (void)closing;
    return 0; /* like sec2: pwrite already handed everything to the kernel */
}

static herr_t vfd_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing)
{
    (void)dxpl;
    (void)closing;
    vfd_file *f = (vfd_file *)file;
    if (f->eoa == f->eof)
        return 0;
    if (!*f->failed && ftruncate(f->fd, (off_t)f->eoa))
        fail(f, errno);
    f->eof = f->eoa;
    return 0;
}

static herr_t vfd_lock(H5FD_t *file, hbool_t rw)
{
    vfd_file *f = (vfd_file *)file;
    if (flock(f->fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) && errno != ENOSYS)
        return -1;
    return 0;
}

static herr_t vfd_unlock(H5FD_t *file)
{
    vfd_file *f = (vfd_file *)file;
    if (flock(f->fd, LOCK_UN) && errno != ENOSYS)
        return -1;
    return 0;
}

static const H5FD_class_t vfd_class = {
    .name = "kpf_posix",
    .maxaddr = MAXADDR,
    .fc_degree = H5F_CLOSE_STRONG,
    .fapl_size = sizeof(vfd_info),
    .open = vfd_open,
    .close = vfd_close,
    .cmp = vfd_cmp,
    .query = vfd_query,
    .get_eoa = vfd_get_eoa,
    .set_eoa = vfd_set_eoa,
    .get_eof = vfd_get_eof,
    .get_handle = vfd_get_handle,
    .read = vfd_read,
    .write = vfd_write,
    .flush = vfd_flush,
    .truncate = vfd_truncate,
    .lock = vfd_lock,
    .unlock = vfd_unlock,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

hid_t kpf_internal_h5_vfd_fapl(int *failed, int *open_failed, hid_t *driver)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t drv = H5FDregister(&vfd_class);
    vfd_info info = {failed, open_failed};
    herr_t st = fapl >= 0 && drv >= 0 ? H5Pset_driver(fapl, drv, &info) : -1;
    if (st >= 0)
        st = H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    if (st < 0 && fapl >= 0) {
        H5Pclose(fapl);
        fapl = -1;
    }
    if (fapl < 0 && drv >= 0) {
        H5FDunregister(drv);
        drv = -1;
    }
    *driver = drv;
    return fapl;
}
