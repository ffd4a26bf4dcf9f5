/* The core's built-in task types, enumerated like a shared object's
 * kpf_task_descriptor, in the order `kpf plugins` lists them.  A task outside
 * the core is a descriptor in any shared object on the plugin path
 * (docs/writing-a-plugin.md); nothing here needs to change for it. */
#include <stddef.h>

#include "kpf/task.h"

/* Defined in memory_pro.c. */
extern const kpf_task_type kpf_task_memory_pro;
extern const kpf_task_type kpf_task_memory_anti;
extern const kpf_task_type kpf_task_delay_pro;
extern const kpf_task_type kpf_task_delay_anti;
/* multitask.c */
extern const kpf_task_type kpf_task_multitask4;
/* flip_flop.c */
extern const kpf_task_type kpf_task_flip_flop;
extern const kpf_task_type kpf_task_flip_flop_schuessler;
/* mante.c, tasks/romo.c, tasks/constant_input.c */
extern const kpf_task_type kpf_task_mante;
extern const kpf_task_type kpf_task_romo;
extern const kpf_task_type kpf_task_constant_input;
static const kpf_task_type *const builtin[] = {
    &kpf_task_memory_pro,
    &kpf_task_memory_anti,
    &kpf_task_delay_pro,
    &kpf_task_delay_anti,
    &kpf_task_multitask4,
    &kpf_task_flip_flop,
    &kpf_task_flip_flop_schuessler,
    &kpf_task_mante,
    &kpf_task_romo,
    &kpf_task_constant_input,
    NULL,
};

const kpf_task_desc *kpf_builtin_task_descriptor(uint32_t index)
{
    return index < sizeof builtin / sizeof builtin[0] ? builtin[index] : NULL;
}

const kpf_task_type *const *kpf_task_types(void)
{
    return builtin;
}
