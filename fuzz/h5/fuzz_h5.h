/* The model the h5 harness loads into, shared with make_seeds.c so that the
 * seed checkpoint and parameter file fit it. */
#ifndef KPF_FUZZ_H5_H
#define KPF_FUZZ_H5_H

#define KPF_FUZZ_H5_CONFIG                                                      \
    "task: {name: memory_pro, t_stim: 2, t_memory: 2, t_response: 2}\n"         \
    "model: {n: 4}\n"

#endif
