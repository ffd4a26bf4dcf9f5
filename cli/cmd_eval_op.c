/* `kpf eval-op PLUGIN OP --in in.h5 --out out.h5`: one op of a plugin on
 * arrays given in an HDF5 file, the result written to another, so that an
 * author can compare f or a Jacobian product with a reference implementation
 * (numpy, PyTorch) without writing C.
 *
 * Only the public API: the plugin is created by kpf_model_create (so θ gets
 * the core readout blocks exactly as in a run) and evaluated through the
 * kpf_model_* / kpf_readout* / kpf_init_state* wrappers; arrays through
 * kpf/h5io.h.  docs/writing-a-plugin.md ("Scaffold and eval-op") has the
 * dataset table; eval_op_usage below repeats it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kpf/h5io.h"
#include "kpf/instance.h"
#include "kpf/param_io.h"

#define MAX_SETS 64

/* What an op reads besides z, x, trial, t and what it writes. */
enum { NEEDS_V = 1, NEEDS_W = 2, NEEDS_DTH = 4, NO_Z = 8 };
enum { OUT_N, OUT_NOUT, OUT_M, OUT_TAPE };
enum { DIM_N, DIM_NOUT }; /* the width of v or w */

typedef struct op_spec {
    const char *name;
    unsigned needs;
    int vw_dim; /* columns of v / w */
    int out;
    const char *does;
} op_spec;

static const op_spec ops[] = {
    {"f", 0, DIM_N, OUT_N, "f(z, x, t; θ)                [R, n]"},
    {"tape", 0, DIM_N, OUT_TAPE, "the plugin's tape             [R, tape_width]"},
    {"jz", NEEDS_V, DIM_N, OUT_N, "∂f/∂z · v                    [R, n]"},
    {"jzT", NEEDS_W, DIM_N, OUT_N, "∂f/∂zᵀ · w                   [R, n]"},
    {"jth", NEEDS_DTH, DIM_N, OUT_N, "∂f/∂θ · dθ                   [R, n]"},
    {"jthT", NEEDS_W, DIM_N, OUT_M, "Σ_r ∂f/∂θᵀ · w_r             [m]"},
    {"readout", 0, DIM_N, OUT_NOUT, "y = g(z; θ)                  [R, n_out]"},
    {"readout_jz", NEEDS_V, DIM_N, OUT_NOUT, "∂g/∂z · v                    [R, n_out]"},
    {"readout_jzT", NEEDS_W, DIM_NOUT, OUT_N, "∂g/∂zᵀ · w  (w: [R, n_out])  [R, n]"},
    {"readout_jth", NEEDS_DTH, DIM_N, OUT_NOUT, "∂g/∂θ · dθ                   [R, n_out]"},
    {"readout_jthT", NEEDS_W, DIM_NOUT, OUT_M, "Σ_r ∂g/∂θᵀ · w_r (w: [R, n_out]) [m]"},
    {"init_state", NO_Z, DIM_N, OUT_N, "z₀(θ, trial)                 [R, n]"},
    {"init_state_jth", NO_Z | NEEDS_DTH, DIM_N, OUT_N, "∂z₀/∂θ · dθ                  [R, n]"},
    {"init_state_jthT", NO_Z | NEEDS_W, DIM_N, OUT_M, "Σ_r ∂z₀/∂θᵀ · w_r            [m]"},
    {NULL, 0, 0, 0, NULL}};

typedef struct args {
    const char *plugin, *op, *in, *out;
    const char *sets[MAX_SETS];
    int n_sets;
    unsigned long long seed;
    long n_in, n_out, trials; /* −1: from the input file or the default */
    int no_tape;
} args;

/* Everything read from in.h5 (malloc'd; NULL when absent). */
typedef struct inputs {
    size_t R, n_z, n_x;
    double *z, *x, *v, *w, *dth, *t;
    size_t *trial;
    size_t n_trials;
} inputs;

static void eval_op_usage(FILE *fp)
{
    fputs("usage: kpf eval-op PLUGIN OP --in IN.h5 --out OUT.h5 [options]\n"
          "  evaluates one op of a model plugin (a name or a path to a .so) on the arrays\n"
          "  in IN.h5 and writes /out (and the θ used: /theta, /theta_blocks/<block>)\n"
          "  to OUT.h5, which must not exist.\n"
          "\n"
          "ops:\n",
          fp);
    for (const op_spec *o = ops; o->name; o++)
        fprintf(fp, "  %-16s %s\n", o->name, o->does);
    fputs("\n"
          "datasets in IN.h5 (row r is one row of the block the op sees):\n"
          "  /z       [R, n]       state (every op but init_state*)\n"
          "  /x       [R, n_in]    input; zeros when absent\n"
          "  /v       [R, n]       for jz, readout_jz\n"
          "  /w       [R, n]       for jzT, jthT, init_state_jthT; [R, n_out] for\n"
          "                        readout_jzT, readout_jthT\n"
          "  /dtheta  [m]          for jth, readout_jth, init_state_jth\n"
          "  /theta   [m] flat, or a group /theta/<block> [rows, cols] (blocks not\n"
          "           given keep their value); absent: the plugin's θ₀ for --seed\n"
          "  /trial   [R]          trial index of each row; default 0, 1, …, R−1\n"
          "  /t       [R]          time of each row; default 0\n"
          "  m counts the plugin's blocks and, when it has no readout op, the core's\n"
          "  W_out [n_out, n] and b_out [n_out] after them (as in a run).\n"
          "\n"
          "options:\n"
          "  --set key=value  a key of the plugin's model: map (e.g. n=8); repeatable\n"
          "  --seed N         seed of θ₀ (default 0)\n"
          "  --n-in K         input size when /x is absent (default 1)\n"
          "  --n-out K        readout size (default: columns of /w for readout_jzT and\n"
          "                   readout_jthT, else 1)\n"
          "  --trials N       trials the model is created for (default: max /trial + 1)\n"
          "  --no-tape        call the op with rows->tape = NULL (default: the tape is\n"
          "                   filled at the same rows first, as kpf's core does)\n",
          fp);
}

static int parse_long(const char *opt, const char *s, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0)
        return fprintf(stderr, "kpf eval-op: %s needs a non-negative integer, not '%s'\n", opt,
                       s),
               -1;
    *out = v;
    return 0;
}

static int takes_value(const char *s)
{
    static const char *const opts[] = {"--in", "--out", "--set", "--seed", "--n-in",
                                       "--n-out", "--trials", NULL};
    for (const char *const *o = opts; *o; o++)
        if (!strcmp(s, *o))
            return 1;
    return 0;
}

static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--help") || !strcmp(s, "-h"))
            return eval_op_usage(stdout), 1;
        int rc = 0;
        if (!strcmp(s, "--no-tape"))
            a->no_tape = 1;
        else if (!next && s[0] == '-' && strcmp(s, "--no-tape") && takes_value(s))
            return fprintf(stderr, "kpf eval-op: %s needs a value (see kpf eval-op --help)\n",
                           s),
                   -1;
        else if (!strcmp(s, "--in"))
            a->in = argv[++i];
        else if (!strcmp(s, "--out"))
            a->out = argv[++i];
        else if (!strcmp(s, "--set") && a->n_sets < MAX_SETS)
            a->sets[a->n_sets++] = argv[++i];
        else if (!strcmp(s, "--seed")) {
            long v;
            rc = parse_long(s, argv[++i], &v);
            a->seed = (unsigned long long)v;
        } else if (!strcmp(s, "--n-in"))
            rc = parse_long(s, argv[++i], &a->n_in);
        else if (!strcmp(s, "--n-out"))
            rc = parse_long(s, argv[++i], &a->n_out);
        else if (!strcmp(s, "--trials"))
            rc = parse_long(s, argv[++i], &a->trials);
        else if (s[0] == '-')
            return fprintf(stderr, "kpf eval-op: unknown option '%s' (see kpf eval-op --help)\n",
                           s),
                   -1;
        else if (!a->plugin)
            a->plugin = s;
        else if (!a->op)
            a->op = s;
        else
            return fprintf(stderr, "kpf eval-op: unexpected argument '%s'\n", s), -1;
        if (rc)
            return -1;
    }
    if (!a->plugin || !a->op || !a->in || !a->out)
        return fprintf(stderr, "usage: kpf eval-op PLUGIN OP --in IN.h5 --out OUT.h5 "
                               "[options] (kpf eval-op --help)\n"),
               -1;
    return 0;
}

static const op_spec *find_op(const char *name)
{
    for (const op_spec *o = ops; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

/* ---- reading in.h5 --------------------------------------------------------------- */

/* A [rows, cols] dataset; *cols = 0 when absent and optional. */
static int read_matrix(kpf_h5 *h, const char *path, int required, size_t *rows, size_t *cols,
                       double **data, kpf_error *err)
{
    *data = NULL;
    if (!kpf_h5_is_dataset(h, path)) {
        *rows = *cols = 0;
        return required ? kpf_error_set(err, KPF_EINVAL, "no dataset %s", path) : KPF_OK;
    }
    int rank;
    size_t dims[KPF_H5_MAX_RANK];
    int rc = kpf_h5_shape(h, path, &rank, dims, err);
    if (rc)
        return rc;
    if (rank != 2)
        return kpf_error_set(err, KPF_EINVAL, "%s has rank %d; expected [rows, columns]",
                             path, rank);
    *rows = dims[0];
    *cols = dims[1];
    *data = malloc((dims[0] * dims[1] + 1) * sizeof **data);
    if (!*data)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", path);
    return kpf_h5_read(h, path, dims[0] * dims[1], *data, err);
}

/* A [count] dataset (any shape with that many elements); NULL when absent. */
static int read_vector(kpf_h5 *h, const char *path, size_t count, double **data,
                       kpf_error *err)
{
    *data = NULL;
    if (!kpf_h5_is_dataset(h, path))
        return KPF_OK;
    *data = malloc((count + 1) * sizeof **data);
    if (!*data)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory reading %s", path);
    return kpf_h5_read(h, path, count, *data, err);
}

/* Rows of the first of these datasets present (init_state ops need no /z). */
static size_t rows_of(kpf_h5 *h)
{
    const char *paths[] = {"/trial", "/w", "/t"};
    for (int i = 0; i < 3; i++) {
        int rank;
        size_t dims[KPF_H5_MAX_RANK];
        if (kpf_h5_is_dataset(h, paths[i]) && !kpf_h5_shape(h, paths[i], &rank, dims, NULL) &&
            rank >= 1)
            return dims[0];
    }
    return 1;
}

static int read_rows(kpf_h5 *h, const op_spec *op, inputs *in, kpf_error *err)
{
    size_t rx = 0;
    int rc = read_matrix(h, "/z", !(op->needs & NO_Z), &in->R, &in->n_z, &in->z, err);
    if (!rc)
        rc = read_matrix(h, "/x", 0, &rx, &in->n_x, &in->x, err);
    if (rc)
        return rc;
    if (!in->z)
        in->R = rows_of(h);
    if (in->x && rx != in->R)
        return kpf_error_set(err, KPF_EINVAL, "/x has %zu rows but the op sees %zu", rx,
                             in->R);
    return KPF_OK;
}

static int read_trials(kpf_h5 *h, inputs *in, long trials_opt, kpf_error *err)
{
    double *tr = NULL;
    in->trial = malloc((in->R + 1) * sizeof *in->trial);
    if (!in->trial)
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = read_vector(h, "/trial", in->R, &tr, err);
    if (!rc)
        rc = read_vector(h, "/t", in->R, &in->t, err);
    size_t max = 0;
    for (size_t r = 0; !rc && r < in->R; r++) {
        double v = tr ? tr[r] : (double)r;
        if (!(v >= 0) || v != floor(v) || v > 1e15)
            rc = kpf_error_set(err, KPF_EINVAL, "/trial[%zu] = %g is not a trial index", r, v);
        else
            in->trial[r] = (size_t)v;
        max = !rc && in->trial[r] > max ? in->trial[r] : max;
    }
    free(tr);
    in->n_trials = trials_opt >= 0 ? (size_t)trials_opt : max + 1;
    if (!rc && max >= in->n_trials)
        rc = kpf_error_set(err, KPF_EINVAL, "/trial holds %zu but --trials is %zu", max,
                           in->n_trials);
    if (!rc && !in->t)
        in->t = calloc(in->R + 1, sizeof *in->t);
    return rc ? rc : (in->t ? KPF_OK : kpf_error_set(err, KPF_ENOMEM, "out of memory"));
}

static void inputs_free(inputs *in)
{
    free(in->z);
    free(in->x);
    free(in->v);
    free(in->w);
    free(in->dth);
    free(in->t);
    free(in->trial);
}

/* v and w: [R, cols]; dθ: [m]. */
static int read_operands(kpf_h5 *h, const op_spec *op, const kpf_model *m, inputs *in,
                         kpf_error *err)
{
    size_t cols = op->vw_dim == DIM_NOUT ? m->n_out : m->n, r = 0, c = 0;
    const char *name = op->needs & NEEDS_V ? "/v" : "/w";
    double **dst = op->needs & NEEDS_V ? &in->v : &in->w;
    int rc = KPF_OK;
    if (op->needs & (NEEDS_V | NEEDS_W)) {
        rc = read_matrix(h, name, 1, &r, &c, dst, err);
        if (!rc && (r != in->R || c != cols))
            rc = kpf_error_set(err, KPF_EINVAL, "%s is [%zu, %zu]; %s needs [%zu, %zu] (R, %s)",
                               name, r, c, op->name, in->R, cols,
                               op->vw_dim == DIM_NOUT ? "n_out" : "n");
    }
    if (!rc && (op->needs & NEEDS_DTH)) {
        if (!kpf_h5_is_dataset(h, "/dtheta"))
            return kpf_error_set(err, KPF_EINVAL, "%s needs /dtheta [%zu]", op->name, m->m);
        rc = read_vector(h, "/dtheta", m->m, &in->dth, err);
    }
    return rc;
}

/* θ from /theta: a flat [m] (or [m_model]) dataset, or a group of blocks. */
static int read_theta(kpf_h5 *h, kpf_model *m, kpf_error *err)
{
    if (kpf_h5_is_dataset(h, "/theta")) {
        size_t c;
        int rc = kpf_h5_count(h, "/theta", &c, err);
        if (rc)
            return rc;
        if (c != m->m && c != m->m_model)
            return kpf_error_set(err, KPF_EINVAL,
                                 "/theta has %zu values; the model's θ has %zu (%zu without "
                                 "the core readout)",
                                 c, m->m, m->m_model);
        return kpf_h5_read(h, "/theta", c, m->theta, err);
    }
    char **names = NULL;
    size_t n = 0;
    int rc = kpf_h5_list(h, "/", &names, &n, err), group = 0;
    for (size_t i = 0; !rc && i < n; i++)
        group |= !strcmp(names[i], "theta");
    kpf_h5_names_free(names, n);
    if (rc || !group)
        return rc;
    if ((rc = kpf_h5_list(h, "/theta", &names, &n, err)))
        return rc;
    for (size_t i = 0; !rc && i < n; i++) {
        const kpf_param_block *b = kpf_model_block(m, names[i]);
        char path[600];
        snprintf(path, sizeof path, "/theta/%s", names[i]);
        rc = b ? kpf_h5_read(h, path, b->rows * b->cols, m->theta + b->offset, err)
               : kpf_error_set(err, KPF_EINVAL, "%s names no parameter block of '%s'", path,
                               m->desc->name);
    }
    kpf_h5_names_free(names, n);
    return rc;
}

/* ---- the op ----------------------------------------------------------------------- */

static size_t out_count(const op_spec *op, const kpf_model *m, size_t R, size_t *cols)
{
    switch (op->out) {
    case OUT_N: *cols = m->n; break;
    case OUT_NOUT: *cols = m->n_out; break;
    case OUT_TAPE: *cols = m->layout.tape_width; break;
    default: *cols = 0; return m->m;
    }
    return R * *cols;
}

static int call_op(const op_spec *op, kpf_model *m, const kpf_rows *rows, const inputs *in,
                   double *out, kpf_error *err)
{
    const char *o = op->name;
    if (!strcmp(o, "f"))
        return kpf_model_f(m, rows, out, err);
    if (!strcmp(o, "tape"))
        return kpf_model_tape(m, rows, out, err);
    if (!strcmp(o, "jz"))
        return kpf_model_jz(m, rows, in->v, out, err);
    if (!strcmp(o, "jzT"))
        return kpf_model_jzT(m, rows, in->w, out, err);
    if (!strcmp(o, "jth"))
        return kpf_model_jth(m, rows, in->dth, out, err);
    if (!strcmp(o, "jthT"))
        return kpf_model_jthT(m, rows, in->w, out, err);
    if (!strcmp(o, "readout"))
        return kpf_readout(m, rows, out, err);
    if (!strcmp(o, "readout_jz"))
        return kpf_readout_jz(m, rows, in->v, out, err);
    if (!strcmp(o, "readout_jzT"))
        return kpf_readout_jzT(m, rows, in->w, out, err);
    if (!strcmp(o, "readout_jth"))
        return kpf_readout_jth(m, rows, in->dth, out, err);
    if (!strcmp(o, "readout_jthT"))
        return kpf_readout_jthT(m, rows, in->w, out, err);
    if (!strcmp(o, "init_state"))
        return kpf_init_state(m, rows->R, rows->trial, out, err);
    if (!strcmp(o, "init_state_jth"))
        return kpf_init_state_jth(m, rows->R, rows->trial, in->dth, out, err);
    return kpf_init_state_jthT(m, rows->R, rows->trial, in->w, out, err);
}

/* The op at the rows, with the tape filled first for the ops the core gives
 * it to (f and the four J products). */
static int evaluate(const op_spec *op, kpf_model *m, const inputs *in, int no_tape,
                    double *out, kpf_error *err)
{
    kpf_rows rows = {.R = in->R, .z = in->z, .x = in->x, .trial = in->trial, .t = in->t};
    int rc = kpf_model_reserve(m, in->R, err);
    if (rc)
        return rc;
    if (op->out == OUT_TAPE && m->layout.tape_width == 0)
        return kpf_error_set(err, KPF_EUNSUPPORTED, "plugin '%s' has no tape (tape_width 0)",
                             m->desc->name);
    int taped = op->out != OUT_TAPE && strncmp(op->name, "readout", 7) &&
                strncmp(op->name, "init_state", 10);
    double *tape = NULL;
    if (taped && !no_tape && m->layout.tape_width) {
        tape = malloc(in->R * m->layout.tape_width * sizeof *tape);
        if (!tape)
            return kpf_error_set(err, KPF_ENOMEM, "out of memory for the tape");
        rc = kpf_model_tape(m, &rows, tape, err);
        rows.tape = tape;
    }
    if (!rc)
        rc = call_op(op, m, &rows, in, out, err);
    free(tape);
    return rc;
}

static int write_out(const char *path, const op_spec *op, const kpf_model *m, size_t R,
                     const double *out, kpf_error *err)
{
    kpf_h5 *h = NULL;
    int rc = kpf_h5_create(path, &h, err);
    if (rc)
        return rc;
    size_t cols, count = out_count(op, m, R, &cols);
    size_t dims[2] = {cols ? R : count, cols};
    size_t mdims[1] = {m->m};
    rc = kpf_h5_write(h, "/out", cols ? 2 : 1, dims, out, err);
    if (!rc)
        rc = kpf_h5_write(h, "/theta", 1, mdims, m->theta, err);
    if (!rc)
        rc = kpf_params_write(h, m, NULL, "/theta_blocks", 0, err);
    if (!rc)
        rc = kpf_h5_attr_string(h, "/", "op", op->name, err);
    if (!rc)
        rc = kpf_h5_attr_string(h, "/", "plugin", m->desc->name, err);
    int rc2 = kpf_h5_close(h, rc ? NULL : err);
    return rc ? rc : rc2;
}

/* ---- the command ----------------------------------------------------------------- */

/* The model, sized by the input file and the options; the registry holds
 * the plugin's code and must outlive it. */
static int create_model(const args *a, kpf_registry *reg, kpf_h5 *h, const op_spec *op,
                        inputs *in, kpf_model **m, kpf_error *err)
{
    kpf_config *cfg = NULL;
    const kpf_plugin *p = NULL;
    int rc = kpf_registry_resolve(reg, a->plugin, &p, err);
    if (!rc)
        rc = kpf_config_load_string("{}", "(eval-op --set)", &cfg, err);
    for (int i = 0; !rc && i < a->n_sets; i++)
        rc = kpf_config_set(cfg, a->sets[i], err);
    size_t n_in = in->x ? in->n_x : (size_t)(a->n_in >= 0 ? a->n_in : 1);
    size_t n_out = a->n_out >= 0 ? (size_t)a->n_out : 1;
    if (a->n_out < 0 && op->vw_dim == DIM_NOUT && kpf_h5_is_dataset(h, "/w")) {
        int rank;
        size_t dims[KPF_H5_MAX_RANK];
        if (!kpf_h5_shape(h, "/w", &rank, dims, NULL) && rank == 2)
            n_out = dims[1];
    }
    if (!rc)
        rc = kpf_model_create(p, kpf_config_root(cfg), n_in, n_out, in->n_trials, a->seed, m,
                              err);
    kpf_config_free(cfg);
    return rc;
}

/* The datasets the model needs, once it exists: /z's width checked, zero
 * input when /x is absent, v/w/dθ, θ. */
static int model_inputs(kpf_h5 *h, const op_spec *op, kpf_model *m, inputs *in,
                        kpf_error *err)
{
    if (in->z && in->n_z != m->n)
        return kpf_error_set(err, KPF_EINVAL,
                             "/z has %zu columns but '%s' was created with n = %zu (pass the "
                             "plugin's size key, e.g. --set n=%zu)",
                             in->n_z, m->desc->name, m->n, in->n_z);
    if (!in->x && m->n_in && !(in->x = calloc(in->R * m->n_in + 1, sizeof *in->x)))
        return kpf_error_set(err, KPF_ENOMEM, "out of memory");
    int rc = read_operands(h, op, m, in, err);
    if (!rc)
        rc = read_theta(h, m, err);
    return rc ? rc : kpf_model_theta_changed(m, err);
}

static int run_op(const args *a, const op_spec *op, kpf_error *err)
{
    kpf_registry *reg = NULL;
    kpf_h5 *h = NULL;
    kpf_model *m = NULL;
    inputs in = {0};
    double *out = NULL;
    int rc = kpf_h5_open(a->in, &h, err); /* its message names the file */
    if (!rc && ((rc = read_rows(h, op, &in, err)) || (rc = read_trials(h, &in, a->trials, err))))
        kpf_error_prefix(err, rc, "%s: ", a->in);
    if (!rc)
        rc = kpf_cli_registry(&reg, err);
    if (!rc)
        rc = create_model(a, reg, h, op, &in, &m, err);
    if (!rc && (rc = model_inputs(h, op, m, &in, err)))
        kpf_error_prefix(err, rc, "%s: ", a->in);
    size_t cols, count = m ? out_count(op, m, in.R, &cols) : 0;
    if (!rc && !(out = calloc(count + 1, sizeof *out)))
        rc = kpf_error_set(err, KPF_ENOMEM, "out of memory");
    if (!rc)
        rc = evaluate(op, m, &in, a->no_tape, out, err);
    if (!rc)
        rc = write_out(a->out, op, m, in.R, out, err);
    if (h)
        kpf_h5_close(h, NULL);
    free(out);
    inputs_free(&in);
    kpf_model_free(m);
    kpf_registry_free(reg);
    return rc;
}

int kpf_cmd_eval_op(int argc, char **argv)
{
    args a = {.n_in = -1, .n_out = -1, .trials = -1};
    int p = parse(argc, argv, &a);
    if (p)
        return p > 0 ? KPF_EXIT_OK : KPF_EXIT_USAGE;
    const op_spec *op = find_op(a.op);
    if (!op) {
        fprintf(stderr, "kpf eval-op: unknown op '%s'; one of:", a.op);
        for (const op_spec *o = ops; o->name; o++)
            fprintf(stderr, " %s", o->name);
        fprintf(stderr, "\n");
        return KPF_EXIT_USAGE;
    }
    kpf_error err;
    kpf_error_clear(&err);
    int rc = run_op(&a, op, &err);
    if (rc) {
        fprintf(stderr, "kpf eval-op: %s\n", err.msg);
        return rc == KPF_ECONFIG ? KPF_EXIT_USAGE : KPF_EXIT_FAIL;
    }
    printf("%s\n", a.out);
    return KPF_EXIT_OK;
}
