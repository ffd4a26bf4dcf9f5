/* ABI test (test_layout.c, check-plugin): a descriptor compiled before any
 * optional op existed — struct_size = KPF_MODEL_DESC_MIN_SIZE — and
 * physically that short: its last byte ends a page whose successor is
 * inaccessible, so a host that reads any optional field (readout, tape,
 * extension …) past struct_size without KPF_DESC_OP crashes. */
#include <sys/mman.h>
#include <unistd.h>

#include "minimal_ops.h"

static const kpf_model_desc *placed;

KPF_EXPORT const kpf_model_desc *kpf_model_descriptor(uint32_t i)
{
    if (i != 0)
        return NULL;
    if (!placed) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE), size = KPF_MODEL_DESC_MIN_SIZE;
        char *base = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
        if (base == MAP_FAILED || mprotect(base + page, page, PROT_NONE))
            return NULL;
        kpf_model_desc full = MINIMAL_DESC("short_desc");
        full.struct_size = (uint32_t)size;
        memcpy(base + page - size, &full, size);
        mprotect(base, page, PROT_READ);
        placed = (const kpf_model_desc *)(base + page - size);
    }
    return placed;
}
