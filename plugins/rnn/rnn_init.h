/* rnn_init — the initialisation keys both forms of the rnn plugin share
 * (rnn_init.c):
 *
 *   g     [1.0]  the recurrent gain (shorthand for init.gain)
 *   init: {dist: gaussian | uniform_pytorch, gain: g}
 *         gaussian          W ~ N(0, gain²/n)              (kpf, KPFlow eq. 8)
 *         uniform_pytorch   every weight and bias U(−1/√n, 1/√n), PyTorch's
 *                           nn.RNN default, then the recurrent matrix × gain
 *                           (KPFlow's `init_level`)
 *
 * U(−a, a) has variance a²/3, so uniform_pytorch with gain g has the
 * recurrent spectrum of gaussian with gain g/√3: the paper's g = 3 is kpf's
 * Gaussian g ≈ 1.73, and the chaotic transition (Gaussian g = 1) sits at
 * paper-g ≈ √3.  `init.from` (a weights file) is the core's key and
 * replaces whatever was drawn. */
#ifndef KPF_RNN_INIT_H
#define KPF_RNN_INIT_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/error.h"

enum { RNN_INIT_GAUSSIAN = 0, RNN_INIT_UNIFORM_PYTORCH = 1 };

typedef struct rnn_init {
    int dist;    /* RNN_INIT_*                                      */
    double gain; /* g or init.gain                                  */
} rnn_init;

/* Reads `g` and `init.dist`, `init.gain` from the model node; `plugin`
 * names the plugin in messages.  Giving both g and init.gain is a located
 * error (one gain, one place). */
int rnn_init_read(const kpf_node *node, const char *plugin, int dflt_dist, rnn_init *out,
                  kpf_error *err);

/* x[0..count) ~ U(−a, a), drawn in order from rng. */
void rnn_fill_uniform(gsl_rng *rng, double a, size_t count, double *x);

/* x[0..count) ~ N(0, sd²), drawn in order from rng. */
void rnn_fill_gaussian(gsl_rng *rng, double sd, size_t count, double *x);

#endif
