/* Private to train.c and checkpoint.c. */
#ifndef KPF_TRAIN_INTERNAL_H
#define KPF_TRAIN_INTERNAL_H

#include "kpf/train.h"

/* Grow a history to hold n_iter iteration and n_eval evaluation entries. */
int kpf_internal_history_reserve(kpf_train_history *h, size_t n_iter, size_t n_eval);

#endif
