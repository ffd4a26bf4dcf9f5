/* The built-in task types, in the order `kpf tasks` lists them.  Adding a task
 * means writing core/src/tasks/<name>.c and one line here. */
#include <stddef.h>

#include "kpf/task.h"

/* Defined in tasks/memory_pro.c. */
extern const kpf_task_type kpf_task_memory_pro;
extern const kpf_task_type kpf_task_memory_anti;
extern const kpf_task_type kpf_task_delay_pro;
extern const kpf_task_type kpf_task_delay_anti;

/* Read by task.c (kpf_task_types); NULL-terminated. */
extern const kpf_task_type *const kpf_task_registry[];

const kpf_task_type *const kpf_task_registry[] = {
    &kpf_task_memory_pro,
    &kpf_task_memory_anti,
    &kpf_task_delay_pro,
    &kpf_task_delay_anti,
    NULL,
};
