/* sweep_fixture.h — the tiny sweep the sweep suites share (job-array slices,
 * the MPI task farm): six points of a few tenths of a second each, with
 * checkpoints every 10 steps so a killed point resumes.  Include after
 * test_util.h. */
#ifndef KPF_TEST_SWEEP_FIXTURE_H
#define KPF_TEST_SWEEP_FIXTURE_H

#include <stdio.h>

static const char *const tiny_sweep =
    "seed: 3\n"
    "threads: 1\n"
    "task: {name: memory_pro, n_conditions: 4, t_stim: 4, t_memory: 4, t_response: 4}\n"
    "model: {plugin: rnn, n: 8, activation: tanh}\n"
    "train: {iterations: %d, batch: 8, lr: 0.01, eval_every: 10, eval_trials: 8,\n"
    "        checkpoint_every: 10}\n"
    "analysis: {trials: 4, k: 3, operators: [K, P]}\n"
    "simulate: {trials: 4}\n"
    "output: {trajectory: false}\n"
    "sweep:\n"
    "  values:\n"
    "    model.g: [0.5, 1.0, 1.5]\n"
    "  repeats: 2\n"
    "  plot: {x: model.g, y: effrank_K_initial}\n";

/* tu_tmp/tiny.yaml: the sweep with `iterations` training steps per point. */
static inline void write_tiny(int iterations)
{
    char text[2048];
    snprintf(text, sizeof text, tiny_sweep, iterations);
    tu_write("tiny.yaml", text);
}

#endif
