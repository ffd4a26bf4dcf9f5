/* kpf/operator.h — matrix-free linear operators on trajectory space 𝕋.
 *
 * The space.  A kpf_space is a [B,T,n] array (step-major in memory like
 * trajectories: element (b,t,i) at ((t·B)+b)·n + i) with the inner product
 *
 *     ⟨u, v⟩ = weight · Σ_{b,t,i} u·v,     weight = dt / B  for 𝕋,
 *
 * i.e. the paper's mean over trials, sum over time steps times dt, sum over
 * units.  A reduced space (after averaging over an axis) keeps B, T or n = 1
 * and multiplies the weight by the size of the averaged axis, so that the
 * broadcast E: reduced → full has the mean over that axis as its exact
 * adjoint.  Parameter space is {1, 1, m} with weight 1.
 *
 * Distributed spaces.  A space whose `comm` has more than one rank is split
 * over the ranks by trials: each rank holds its own block of trials (B is
 * the local count; the blocks follow rank order, as kpf_comm_share deals
 * them) and the weight is that of the whole space (dt / total trials).
 * kpf_space_dot and kpf_space_norm then sum over every rank, so anything
 * built on them (adjoint tests, Rayleigh quotients, the eigensolvers) sees
 * the whole space.  comm == NULL (what a {B, T, n, w} initialiser leaves)
 * means the space lives in this process alone.
 *
 * The operator.  A kpf_op has an input and an output space, `apply` and
 * `apply_adjoint` (adjoint in the two spaces' inner products; NULL when the
 * type is self-adjoint, then apply serves both).  Buffers belong to the
 * caller; in and out never alias.  Operators built from other operators
 * (compose, sum, gram, average …) BORROW them: free the composite first,
 * then its parts.  Operators own whatever scratch they need, allocated when
 * they are built, so applying one does not allocate. */
#ifndef KPF_OPERATOR_H
#define KPF_OPERATOR_H

#include "kpf/export.h"

#include <stddef.h>

#include "kpf/comm.h"
#include "kpf/error.h"

KPF_BEGIN_DECLS

typedef struct kpf_space {
    size_t B, T, n;
    double weight;
    const kpf_comm *comm; /* NULL: this process holds all of it */
} kpf_space;

/* Values this process holds (B·T·n). */
size_t kpf_space_size(const kpf_space *s);
/* Summed over every rank of a distributed space (NaN if the reduction
 * fails, which MPI reports only for a broken job). */
double kpf_space_dot(const kpf_space *s, const double *u, const double *v);
double kpf_space_norm(const kpf_space *s, const double *u);
int kpf_space_equal(const kpf_space *a, const kpf_space *b);

typedef struct kpf_op kpf_op;

typedef struct kpf_op_type {
    const char *name;
    int (*apply)(kpf_op *op, const double *in, double *out, kpf_error *err);
    /* NULL: self-adjoint (in == out space required). */
    int (*apply_adjoint)(kpf_op *op, const double *in, double *out, kpf_error *err);
    void (*destroy)(kpf_op *op); /* frees op->state (not op itself) */
} kpf_op_type;

struct kpf_op {
    const kpf_op_type *type;
    kpf_space in, out;
    void *state;
};

/* Allocate an operator shell of a given type; state is the type's. */
int kpf_op_new(const kpf_op_type *type, kpf_space in, kpf_space out, void *state,
               kpf_op **op, kpf_error *err);
void kpf_op_free(kpf_op *op);

int kpf_op_apply(kpf_op *op, const double *in, double *out, kpf_error *err);
int kpf_op_apply_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err);
int kpf_op_is_self_adjoint(const kpf_op *op);

/* ---- algebra (all borrow their arguments) ------------------------------ */
/* A ∘ B  (B applied first). */
int kpf_op_compose(kpf_op *A, kpf_op *B, kpf_op **out, kpf_error *err);
/* A*  (apply ↔ apply_adjoint). */
int kpf_op_adjoint(kpf_op *A, kpf_op **out, kpf_error *err);
/* a·A + b·B  (same spaces). */
int kpf_op_sum(double a, kpf_op *A, double b, kpf_op *B, kpf_op **out, kpf_error *err);
/* s·A */
int kpf_op_scale(double s, kpf_op *A, kpf_op **out, kpf_error *err);
/* A A*  (self-adjoint on A's output space). */
int kpf_op_gram(kpf_op *A, kpf_op **out, kpf_error *err);
/* S_rows A S_colsᵀ: restrict input and output to subsets of trials (task
 * blocks).  The restricted spaces have B = count and the same weight per
 * element as the originals' (dt/B of the full space, so blocks of one
 * operator stay comparable).  cols == NULL: the same subset as rows.
 * Refused (KPF_EUNSUPPORTED) on a distributed space. */
int kpf_op_restrict_trials(kpf_op *A, const size_t *rows, size_t n_rows, const size_t *cols,
                           size_t n_cols, kpf_op **out, kpf_error *err);

/* Axes for averaging (KPFlow App. B.3, "consensus" operators). */
#define KPF_AXIS_TRIAL 1u
#define KPF_AXIS_TIME 2u
#define KPF_AXIS_UNIT 4u
/* E* A E on the spaces reduced along `axes`: inputs are broadcast along the
 * averaged axes, A applied, outputs averaged along them.  On a distributed
 * space the trial mean is summed over the ranks, and the space averaged
 * over trials is whole on every rank (comm NULL; every rank holds the same
 * values), so its spectra run on each rank alike. */
int kpf_op_average(kpf_op *A, unsigned axes, kpf_op **out, kpf_error *err);

/* Check ⟨A u, v⟩ = ⟨u, A* v⟩ on `trials` random pairs (seeded); *rel gets
 * the worst |⟨Au,v⟩ − ⟨u,A*v⟩| / (‖Au‖‖v‖ + ‖u‖‖A*v‖). */
int kpf_op_adjoint_test(kpf_op *A, unsigned long seed, int trials, double *rel,
                        kpf_error *err);

/* Dense matrix of a small operator (out_size × in_size, row-major, Euclidean
 * coordinates — the caller applies space weights if it wants them).
 * Refuses above max_entries, and on distributed spaces. */
int kpf_op_to_dense(kpf_op *A, size_t max_entries, double *dense, kpf_error *err);

KPF_END_DECLS
#endif
