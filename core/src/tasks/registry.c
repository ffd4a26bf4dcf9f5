/* The built-in task types, in the order `kpf tasks` lists them.  Adding a task
 * means writing core/src/tasks/<name>.c and one line here. */
#include <stddef.h>

#include "kpf/task.h"

/* Defined in tasks/memory_pro.c. */
extern const kpf_task_type kpf_task_memory_pro;
extern const kpf_task_type kpf_task_memory_anti;
extern const kpf_task_type kpf_task_delay_pro;
extern const kpf_task_type kpf_task_delay_anti;
/* tasks/multitask.c */
extern const kpf_task_type kpf_task_multitask4;
/* tasks/flip_flop.c */
extern const kpf_task_type kpf_task_flip_flop;
extern const kpf_task_type kpf_task_flip_flop_schuessler;
/* tasks/mante.c, tasks/romo.c, tasks/constant_input.c */
extern const kpf_task_type kpf_task_mante;
extern const kpf_task_type kpf_task_romo;
extern const kpf_task_type kpf_task_constant_input;
/* tasks/lrnn_svd.c, lrnn_rotation.c, lrnn_integration.c (Proca et al.) */
extern const kpf_task_type kpf_task_lrnn_svd;
extern const kpf_task_type kpf_task_lrnn_rotation;
extern const kpf_task_type kpf_task_lrnn_integration;

/* Read by task.c (kpf_task_types); NULL-terminated. */
extern const kpf_task_type *const kpf_task_registry[];

const kpf_task_type *const kpf_task_registry[] = {
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
    &kpf_task_lrnn_svd,
    &kpf_task_lrnn_rotation,
    &kpf_task_lrnn_integration,
    NULL,
};
