/* kpf/plot.h — PNG plots rendered by gnuplot.
 *
 * Each plot writes its data as a plain-text table beside the PNG (NAME.dat)
 * and a gnuplot script (NAME.gp), then runs `gnuplot NAME.gp` with its
 * output sent to NAME.log, so a plot can be re-rendered or restyled by
 * hand.  gnuplot missing or failing is KPF_EIO with the log's path. */
#ifndef KPF_PLOT_H
#define KPF_PLOT_H

#include "kpf/error.h"
#include "kpf/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Training loss per iteration and evaluation loss, log-scale y.
 * `stem` is the path without extension (e.g. "runs/x/loss"). */
int kpf_plot_loss(const char *stem, const kpf_train_history *h, kpf_error *err);

#ifdef __cplusplus
}
#endif
#endif
