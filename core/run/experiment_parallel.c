/* Trial-parallel experiments (kpf_experiment_set_comm): the `parallel:`
 * section, and handing the ranks to the training loops.
 *
 *   parallel:
 *     trials: mpi      # split over the launcher's ranks (the default under
 *                      # mpirun); none: refuse to run on more than one rank
 *     reduce: fast     # MPI_Allreduce's order; ordered: rank order,
 *                      # bitwise reproducible at a fixed rank count
 *
 * Training and pretraining are data-parallel (kpf/train.h: every rank draws
 * the whole batch, keeps its block of trials, one sum of m + 3 values per
 * step), so θ is the same on every rank after every step.  Snapshot
 * analyses that declare KPF_ANALYSIS_SPLIT_TRIALS (the spectra) run on each
 * rank's share of the analysis trials through the split operators
 * (kpf_analyses_set_comm); the others, the final simulation and the outputs
 * run on every rank alike, and the kpf command lets rank 0 alone write into
 * the run folder. */
#include <string.h>

#include "experiment_internal.h"

static const char *const trials_choices[] = {"mpi", "none", NULL};
static const char *const reduce_choices[] = {"fast", "ordered", NULL};

int kpf_internal_parallel_load(kpf_experiment *ex, const kpf_node *root, kpf_error *err)
{
    const kpf_node *p = NULL;
    int trials = 0, reduce = 0;
    int rc = kpf_cfg_map(root, "parallel", KPF_CFG_OPTIONAL, &p, err);
    if (!rc)
        rc = kpf_cfg_choice(p, "trials", KPF_CFG_OPTIONAL, trials_choices, 0, &trials, err);
    if (!rc)
        rc = kpf_cfg_choice(p, "reduce", KPF_CFG_OPTIONAL, reduce_choices, 0, &reduce, err);
    ex->parallel_node = p;
    ex->split_trials = trials == 0;
    ex->reduce_ordered = reduce == 1;
    return rc;
}

/* A training section's batch and evaluation set must give every rank a
 * trial: refused at the key, before anything is written. */
static int check_split(const kpf_node *train, const kpf_train_opts *o, int N, kpf_error *err)
{
    const char *keys[] = {"batch", "eval_trials"};
    size_t values[] = {o->batch, o->eval_trials};
    for (size_t i = 0; train && i < 2; i++)
        if (values[i] < (size_t)N) {
            const kpf_node *at = kpf_node_get(train, keys[i]);
            return kpf_node_error(at ? at : train, err,
                                  "%s = %zu trials cannot be split over %d ranks: every rank "
                                  "needs at least one (use more trials or fewer ranks)",
                                  keys[i], values[i], N);
        }
    return KPF_OK;
}

int kpf_experiment_set_comm(kpf_experiment *ex, kpf_comm *comm, kpf_error *err)
{
    int N = kpf_comm_size(comm);
    if (N > 1 && !ex->split_trials)
        return kpf_node_error(kpf_node_get(ex->parallel_node, "trials"), err,
                              "parallel.trials is none, and this run was started on %d ranks: "
                              "start it without mpirun",
                              N);
    int rc = check_split(ex->train_node, &ex->topts, N, err);
    if (!rc && ex->pre.node)
        rc = check_split(kpf_node_get(ex->pre.node, "train"), &ex->pre.topts, N, err);
    if (!rc && ex->an)
        rc = kpf_analyses_set_comm(ex->an, N > 1 ? comm : NULL, err);
    if (rc)
        return rc;
    if (N > 1 && ex->reduce_ordered)
        kpf_comm_set_order(comm, KPF_REDUCE_ORDERED);
    ex->topts.comm = N > 1 ? comm : NULL;
    ex->pre.topts.comm = ex->topts.comm;
    return KPF_OK;
}
