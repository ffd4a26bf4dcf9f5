/* libFuzzer harness for the safetensors reader (kpf/safetensors.h).
 *
 * Any input must either be refused with a one-line message or yield tensors
 * whose every value can be read; nothing may be read outside the input.  The
 * input is copied into a buffer of exactly its size so that AddressSanitizer
 * sees any overrun.  Seed corpus: fuzz/corpus/safetensors/ (files written by
 * core/sys/tests/safetensors_ref.py).
 *
 *   clang -g -fsanitize=fuzzer,address fuzz/safetensors/fuzz_safetensors.c \
 *         $(pkg-config --cflags --libs kpf) -o fuzz_safetensors
 *   ./fuzz_safetensors fuzz/corpus/safetensors
 *
 * Without libFuzzer the same entry point replays corpus files (the fuzz/
 * replay build). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpf/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    for (unsigned flags = 0; flags < 2; flags++) {
        kpf_safetensors *st = NULL;
        kpf_error err = {0};
        int rc = kpf_safetensors_read_buffer(copy, size, "fuzz", flags, &st, &err);
        if (rc) {
            if (st || !err.msg[0] || memchr(err.msg, '\n', sizeof err.msg))
                abort(); /* a refusal leaves no result and one line */
            continue;
        }
        volatile double sum = 0;
        for (size_t i = 0; i < st->n_tensors; i++) {
            const kpf_st_tensor *t = &st->tensors[i];
            if (kpf_safetensors_find(st, t->name) == NULL || t->rank > KPF_ST_MAX_RANK)
                abort();
            size_t count = 1;
            for (int d = 0; d < t->rank; d++)
                count *= t->shape[d];
            if (count != t->count || (count && !t->data))
                abort();
            for (size_t k = 0; k < t->count; k++)
                sum += t->data[k];
        }
        for (size_t i = 0; i < st->n_meta; i++)
            sum += (double)strlen(st->meta[i].key) + (double)strlen(st->meta[i].value);
        (void)sum;
        kpf_safetensors_free(st);
    }
    free(copy);
    return 0;
}
