/* kpf/model.h — the model plugin ABI.
 *
 * A plugin is a shared object exporting one function,
 *
 *     const kpf_model_desc *kpf_model_descriptor(uint32_t index);
 *
 * which returns descriptors for index 0, 1, … and NULL after the last one
 * (LADSPA style).  The descriptor begins with `abi_version` and `struct_size`;
 * the host never reads a field that lies beyond `struct_size`, so fields are
 * only ever appended (SQLite-VFS / LV2 style).  Ops in the "required" block
 * must be non-NULL; optional ops are NULL when not provided and the core then
 * supplies its fallback (SUNDIALS N_Vector style).
 *
 * ---------------------------------------------------------------------------
 * The model.
 *   state z ∈ R^n, input x ∈ R^{n_in}, parameters θ ∈ R^m (one flat vector
 *   divided into named blocks, row-major matrices).
 *   A KPF_MODEL_DISCRETE plugin gives the map       z_{k+1} = f(z_k, x_k; θ).
 *   A KPF_MODEL_CONTINUOUS plugin gives the field   dz/dt  = f(z, x, t; θ),
 *   and the core's stepper (Euler, RK4) makes the discrete map of it, with the
 *   exact tangent and adjoint of that stepper.
 *
 * Rows.  Every op works on a block of R rows at once (kpf_rows): row r holds
 *   the state z[r·n … r·n+n−1], the input x[r·n_in …], its trial index and its
 *   time.  The core hands all B trials of one time step at once (simulation,
 *   P, P*), or all B·T rows of a trajectory at once (inside K).  Implement the
 *   ops with CBLAS level-3 calls over the whole block (row-major GEMM with the
 *   R rows as the M dimension); a loop of matrix–vector products over rows is
 *   a defect.
 *
 * Memory.  The caller owns every buffer.  Ops must not allocate: scratch
 *   space is `rows->work`, of (work_fixed + work_per_row·R) doubles as the
 *   plugin declared in its layout.  `rows->tape` is the plugin's own per-row
 *   linearisation cache (σ(z), σ'(z), gates …), tape_width doubles per row,
 *   filled by the `tape` op at the same rows before any J op reads it; it is
 *   NULL when the plugin declares tape_width == 0.  The core's steppers pass
 *   it to f as well, filled at the same rows and θ just before, so f may read
 *   it instead of recomputing (f must still work when it is NULL).
 *
 * θ.  The host owns the parameter vector and passes it to every op; a plugin
 *   that derives quantities from θ (normalised factors, W^{(k)} …) computes
 *   them in `prepare`, which the host calls after each change of θ and before
 *   the next op.  `create` draws the initial θ (from args->rng only, so a
 *   seeded create is deterministic) and exposes it as layout.theta0.
 *
 * Errors.  Every op returns KPF_OK or a kpf_status and fills `err` with a
 *   message.  Plugins never print, exit or abort.
 *
 * Accumulation.  jthT and the other …_jthT ops ADD into g (g += J_θᵀ w,
 *   summed over the rows); everything else overwrites its output.
 *
 * Typed interfaces.  Nothing outside a plugin decodes its θ or formats its
 *   YAML.  A caller that needs model-specific quantities (its activation,
 *   ltr's factors, lrnn's effective weights) asks the `extension` op for a
 *   typed table by versioned name; a caller that configures a plugin from
 *   code passes a typed struct as a feature in kpf_model_args (LV2
 *   extension_data and features).
 * ------------------------------------------------------------------------- */
#ifndef KPF_MODEL_H
#define KPF_MODEL_H

#include "kpf/export.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "kpf/config.h"
#include "kpf/error.h"

KPF_BEGIN_DECLS

#define KPF_ABI_VERSION 1u

#if defined(__GNUC__)
#define KPF_EXPORT __attribute__((visibility("default")))
#else
#define KPF_EXPORT
#endif

/* The one symbol a plugin exports. */
#define KPF_MODEL_DESCRIPTOR_SYMBOL "kpf_model_descriptor"

/* Capability flags. */
#define KPF_MODEL_DISCRETE 0x0u   /* f is the next state               */
#define KPF_MODEL_CONTINUOUS 0x1u /* f is dz/dt; the core steps it      */

/* A typed configuration handed to create (LV2 "feature"): `name` is a
 * versioned interface name ("kpf.ltr.spec/1") and `data` points to the
 * struct that name defines, owned by the caller and read during create only.
 * The struct behind a name never changes; a different layout gets a new
 * version number.  A plugin ignores names it does not know. */
typedef struct kpf_model_feature {
    const char *name;
    const void *data;
} kpf_model_feature;

/* Arguments to create.  Read only fields within args->struct_size. */
typedef struct kpf_model_args {
    uint32_t struct_size;
    const kpf_node *node; /* the YAML `model:` map (plugin keys only read);
                             may be NULL (no keys)                         */
    size_t n_in;          /* input dimension of the task                 */
    size_t n_out;         /* output dimension of the task                */
    size_t n_trials;      /* trial indices run over 0 … n_trials−1       */
    gsl_rng *rng;         /* the seeded initialisation stream            */
    /* ---- appended (read only within struct_size) ----------------------- */
    /* NULL-terminated list of typed configurations, or NULL.  A plugin that
     * takes its settings from one of them reads no plugin keys from node. */
    const kpf_model_feature *const *features;
} kpf_model_args;

/* The data of feature `name` in args, or NULL (absent, or args too short to
 * hold the list: an older host). */
static inline const void *kpf_model_args_feature(const kpf_model_args *args, const char *name)
{
    if (!args || !name ||
        args->struct_size < offsetof(kpf_model_args, features) + sizeof(args->features) ||
        !args->features)
        return NULL;
    for (const kpf_model_feature *const *f = args->features; *f; f++)
        if ((*f)->name && strcmp((*f)->name, name) == 0)
            return (*f)->data;
    return NULL;
}

/* One named block of θ: a rows×cols row-major matrix (cols = 1 for vectors). */
typedef struct kpf_param_block {
    const char *name;
    size_t offset;
    size_t rows;
    size_t cols;
} kpf_param_block;

/* What `params` reports.  Pointers stay valid until destroy. */
typedef struct kpf_model_layout {
    size_t n;                      /* state dimension                       */
    size_t n_in;                   /* input dimension                       */
    size_t n_out;                  /* readout dimension (readout op only)   */
    size_t n_theta;                /* m                                     */
    size_t n_blocks;
    const kpf_param_block *blocks; /* cover θ, in order, without overlap    */
    const double *theta0;          /* initial θ (m values)                  */
    size_t tape_width;             /* doubles per row of the tape; 0 = none */
    size_t work_fixed;             /* scratch doubles, independent of R     */
    size_t work_per_row;           /* scratch doubles per row               */
    double dt_default;             /* continuous models: default step       */
} kpf_model_layout;

/* A block of R rows.  z, x are row-major R×n and R×n_in; trial and t have R
 * entries.  x may be NULL for ops that do not use inputs (readout, initial
 * state); z is NULL for initial-state ops. */
typedef struct kpf_rows {
    size_t R;
    const double *z;
    const double *x;
    const size_t *trial;
    const double *t;
    const double *tape; /* R×tape_width, or NULL */
    double *work;       /* work_fixed + work_per_row·R doubles */
} kpf_rows;

typedef int (*kpf_op_eval)(void *self, const double *theta, const kpf_rows *rows,
                           double *out, kpf_error *err);
/* out = J · v (v and out have one row per row of `rows`). */
typedef int (*kpf_op_rowmap)(void *self, const double *theta, const kpf_rows *rows,
                             const double *v, double *out, kpf_error *err);
/* out = J_θ · dth  (dth has m entries, shared by all rows). */
typedef int (*kpf_op_jth)(void *self, const double *theta, const kpf_rows *rows,
                          const double *dth, double *out, kpf_error *err);
/* g += Σ_rows J_θᵀ · w  (g has m entries). */
typedef int (*kpf_op_jthT)(void *self, const double *theta, const kpf_rows *rows,
                           const double *w, double *g, kpf_error *err);

typedef struct kpf_model_desc {
    uint32_t abi_version; /* KPF_ABI_VERSION                                   */
    uint32_t struct_size; /* sizeof(kpf_model_desc) as the plugin compiled it  */
    const char *name;     /* unique, [a-z0-9_]+                                */
    const char *summary;  /* one line                                          */
    uint32_t flags;       /* KPF_MODEL_DISCRETE or KPF_MODEL_CONTINUOUS        */

    /* ---- required ------------------------------------------------------ */
    int (*create)(const kpf_model_args *args, void **self, kpf_error *err);
    void (*destroy)(void *self);
    int (*params)(void *self, kpf_model_layout *layout, kpf_error *err);
    kpf_op_eval f;     /* out (R×n) = f(z, x, t; θ)                 */
    kpf_op_rowmap jz;  /* out (R×n) = ∂f/∂z · v   (v: R×n)          */
    kpf_op_rowmap jzT; /* out (R×n) = ∂f/∂zᵀ · w  (w: R×n)          */
    kpf_op_jth jth;    /* out (R×n) = ∂f/∂θ · dθ                    */
    kpf_op_jthT jthT;  /* g (m) += Σ_r ∂f/∂θᵀ · w_r                 */

    /* ---- optional (NULL = not provided) -------------------------------- */
    /* Recompute θ-derived quantities; called after θ changes. */
    int (*prepare)(void *self, const double *theta, kpf_error *err);
    /* Fill tape (R×tape_width) at the given rows; rows->tape is NULL here. */
    kpf_op_eval tape;

    /* The model's own readout y = g(z; θ) ∈ R^{n_out}.  Absent: the core's
     * linear readout W_out z + b_out with its own parameter blocks. */
    kpf_op_eval readout;      /* out (R×n_out)                    */
    kpf_op_rowmap readout_jz; /* v: R×n → out: R×n_out            */
    kpf_op_rowmap readout_jzT;/* w: R×n_out → out: R×n            */
    kpf_op_jth readout_jth;   /* dθ → out: R×n_out                */
    kpf_op_jthT readout_jthT; /* w: R×n_out → g += …              */

    /* A learned initial state z₀(θ, trial).  Absent: z₀ = 0.  rows->z is
     * NULL; rows->trial names the trials. */
    kpf_op_eval init_state;       /* out (R×n)                    */
    kpf_op_jth init_state_jth;    /* dθ → out (R×n)               */
    kpf_op_jthT init_state_jthT;  /* w (R×n) → g += …             */

    /* Model-specific interfaces (LV2 extension_data): the table of interface
     * `name` ("kpf.activation/1", "kpf.ltr.factors/1", …) for this instance,
     * or NULL when the plugin does not provide it.  The table is the
     * plugin's, valid until destroy; its type is defined next to the code
     * that owns the name (kpf/instance.h for the core's, the plugin's own
     * header for plugin-specific ones).  Must return NULL for unknown names. */
    const void *(*extension)(void *self, const char *name);

    /* The observed part of the state: a model whose state holds more than
     * the analyses should look at (an LSTM's [h, c]: h; hh's [V, m, n, h]:
     * V) lists the components that are observed — PCA, task alignment and
     * summary dimensions use only them; the operators, training and the
     * trajectories still see the whole state.  Returns the indices in
     * increasing order, each < n, with *count set to how many (≥ 1); the
     * array is the plugin's, valid until destroy.  NULL op, or a NULL
     * return: every component is observed. */
    const size_t *(*observed)(void *self, size_t *count);

    /* ---- appended: read only within struct_size ------------------------ */
    /* The stepper a continuous model runs with when its config names none
     * (`step:` absent): "euler" or "rk4" (kpf_stepper_by_name).  NULL, or a
     * descriptor too short to hold the field: the core's default, Euler.  A
     * plugin whose dynamics make Euler at its own default dt inaccurate says
     * so here (hh: "rk4"; Euler at 0.01 ms is 7.9 mV off RK4 during spikes);
     * `kpf plugins` shows the choice.  Must be NULL for discrete maps. */
    const char *default_stepper;
} kpf_model_desc;

/* Smallest struct_size a host accepts: everything up to the required ops. */
#define KPF_MODEL_DESC_MIN_SIZE \
    (offsetof(kpf_model_desc, jthT) + sizeof(((kpf_model_desc *)0)->jthT))

/* Whether descriptor d (of d->struct_size bytes) contains `field`. */
#define KPF_DESC_HAS(d, field) \
    ((d)->struct_size >= offsetof(kpf_model_desc, field) + sizeof((d)->field))
/* The field when present and non-NULL, else NULL. */
#define KPF_DESC_OP(d, field) (KPF_DESC_HAS(d, field) ? (d)->field : NULL)

typedef const kpf_model_desc *(*kpf_model_descriptor_fn)(uint32_t index);

KPF_END_DECLS
#endif
