/* Host side of a model: creation from YAML or typed features, θ
 * ownership, scratch space and the op wrappers that attach it, extension
 * tables. */
#include "kpf/instance.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "kpf/param_io.h"
#include "kpf/param_safetensors.h"
#include "kpf/rng.h"
#include "model_internal.h"
#include "kpf/stepper.h"

static const char *const step_names[] = {"euler", "rk4", NULL};

/* Bounds on a layout's sizes (doubles): per row 2^32, fixed scratch 2^40. */
#define LAYOUT_ROW_MAX ((size_t)1 << 32)
#define LAYOUT_FIXED_MAX ((size_t)1 << 40)

/* The layout a plugin reports is untrusted: every size the host will
 * multiply, sum or index with is checked here, before anything is
 * allocated or any op is called.  One line per fault, naming the plugin. */
static int check_blocks(const kpf_model *m, kpf_error *err)
{
    const kpf_model_layout *L = &m->layout;
    const char *nm = m->desc->name;
    if (L->n_blocks && !L->blocks)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "plugin '%s' reports %zu parameter blocks but no block table "
                             "(blocks is NULL)",
                             nm, L->n_blocks);
    size_t off = 0;
    for (size_t i = 0; i < L->n_blocks; i++) {
        const kpf_param_block *b = &L->blocks[i];
        size_t size;
        if (!b->name || !b->name[0])
            return kpf_error_set(err, KPF_EPLUGIN, "plugin '%s': parameter block %zu has no name",
                                 nm, i);
        if (b->offset != off)
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "plugin '%s': parameter block %zu does not start where the "
                                 "previous one ends (offset %zu, expected %zu)",
                                 nm, i, b->offset, off);
        if (__builtin_mul_overflow(b->rows, b->cols, &size) ||
            __builtin_add_overflow(off, size, &off))
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "plugin '%s': parameter block '%s' (%zu × %zu at offset %zu) "
                                 "does not fit in memory sizes (size_t overflow)",
                                 nm, b->name, b->rows, b->cols, b->offset);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(L->blocks[j].name, b->name))
                return kpf_error_set(err, KPF_EPLUGIN,
                                     "plugin '%s': two parameter blocks are named '%s'", nm,
                                     b->name);
    }
    if (off != L->n_theta)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "plugin '%s': blocks cover %zu parameters but n_theta = %zu", nm,
                             off, L->n_theta);
    return KPF_OK;
}

static int check_layout(const kpf_model *m, const kpf_model_args *a, kpf_error *err)
{
    const kpf_model_layout *L = &m->layout;
    const char *nm = m->desc->name;
    if (L->n == 0)
        return kpf_error_set(err, KPF_EPLUGIN, "plugin '%s' reports state size 0", nm);
    if (L->n_in != a->n_in)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "plugin '%s' reports n_in = %zu but was created with %zu", nm,
                             L->n_in, a->n_in);
    /* Per-row sizes that later products (rows × steps × stages × width)
     * could overflow with are refused while they are still one number. */
    const struct {
        const char *name;
        size_t v, max;
    } sizes[] = {{"n", L->n, LAYOUT_ROW_MAX},          {"n_out", L->n_out, LAYOUT_ROW_MAX},
                 {"tape_width", L->tape_width, LAYOUT_ROW_MAX},
                 {"work_per_row", L->work_per_row, LAYOUT_ROW_MAX},
                 {"work_fixed", L->work_fixed, LAYOUT_FIXED_MAX}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v > sizes[i].max)
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "plugin '%s' reports %s = %zu, more than the %zu doubles kpf "
                                 "accepts",
                                 nm, sizes[i].name, sizes[i].v, sizes[i].max);
    int rc = check_blocks(m, err);
    if (rc)
        return rc;
    if (L->n_theta && !L->theta0)
        return kpf_error_set(err, KPF_EPLUGIN, "plugin '%s' gives no initial θ (theta0)", nm);
    for (size_t i = 0; i < L->n_theta; i++)
        if (!isfinite(L->theta0[i]))
            return kpf_error_set(err, KPF_EPLUGIN,
                                 "plugin '%s': initial θ entry %zu is not finite", nm, i);
    if (L->tape_width && !KPF_DESC_OP(m->desc, tape))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "plugin '%s' declares tape_width = %zu but has no tape op, so "
                             "its J ops would read a tape nobody fills; give a tape op or "
                             "set tape_width = 0",
                             nm, L->tape_width);
    if (KPF_DESC_OP(m->desc, readout) && L->n_out != a->n_out)
        return kpf_error_set(err, KPF_EPLUGIN,
                             "plugin '%s' has a readout of n_out = %zu outputs but the task "
                             "has %zu; the readout must give one value per task output",
                             nm, L->n_out, a->n_out);
    return KPF_OK;
}

/* Whether map has key, without marking it read (kpf_node_get would). */
static int has_key(const kpf_node *map, const char *key)
{
    for (size_t i = 0; i < kpf_node_len(map); i++)
        if (kpf_node_key_at(map, i) && strcmp(kpf_node_key_at(map, i), key) == 0)
            return 1;
    return 0;
}

/* Core keys: step/dt for continuous models, readout for the core readout,
 * init.from (a parameter file; *init_from = the init map, or NULL). */
static int read_core_keys(kpf_model *m, const kpf_node *node, double *init_std,
                          const kpf_node **init_from, kpf_error *err)
{
    int rc;
    const kpf_node *init = NULL;
    const char *from = NULL;
    *init_from = NULL;
    if ((rc = kpf_cfg_map(node, "init", KPF_CFG_OPTIONAL, &init, err)))
        return rc;
    /* init without `from` is the plugin's own draw (rnn's init.dist and
     * init.gain); a plugin that reads neither leaves them unknown keys. */
    int own = has_key(init, "dist") || has_key(init, "gain");
    if ((rc = kpf_cfg_string(init, "from", init && !own ? KPF_CFG_REQUIRED : KPF_CFG_OPTIONAL,
                              NULL, &from, err)))
        return rc;
    if (from)
        *init_from = init;
    if (m->desc->flags & KPF_MODEL_CONTINUOUS) {
        /* absent `step`: the plugin's declared default_stepper, else Euler */
        const char *ds = KPF_DESC_OP(m->desc, default_stepper);
        int step = 0;
        for (int i = 0; ds && step_names[i]; i++)
            if (strcmp(ds, step_names[i]) == 0)
                step = i;
        double dt_def = m->layout.dt_default > 0 ? m->layout.dt_default : 1.0;
        if ((rc = kpf_cfg_choice(node, "step", KPF_CFG_OPTIONAL, step_names, step, &step, err)))
            return rc;
        if ((rc = kpf_cfg_double(node, "dt", KPF_CFG_OPTIONAL, dt_def, 1e-12, 1e6, &m->dt,
                                 err)))
            return rc;
        m->stepper = kpf_stepper_by_name(step_names[step]);
    } else {
        const char *keys[] = {"step", "dt"};
        for (int i = 0; i < 2; i++) {
            const kpf_node *v = kpf_node_get(node, keys[i]);
            if (v)
                return kpf_node_error(v, err,
                                      "plugin '%s' is a discrete map; '%s' does not apply",
                                      m->desc->name, keys[i]);
        }
        m->stepper = &kpf_stepper_discrete;
        m->dt = 1.0;
    }
    *init_std = 1.0 / sqrt((double)m->n);
    if (!m->core_readout)
        return KPF_OK;
    const kpf_node *ro = NULL;
    if ((rc = kpf_cfg_map(node, "readout", KPF_CFG_OPTIONAL, &ro, err)))
        return rc;
    return kpf_cfg_double(ro, "init_std", KPF_CFG_OPTIONAL, *init_std, 0.0, 1e6, init_std,
                          err);
}

/* θ from the file named at init.from: a relative path is taken relative to
 * the folder of the config file that gave it (the working directory for
 * --set values and configs read from strings); errors are located there. */
static int load_init_from(kpf_model *m, const kpf_node *init, kpf_error *err)
{
    const kpf_node *from = kpf_node_get(init, "from");
    if (kpf_is_safetensors_path(kpf_node_scalar(from))) /* with init.prefix, init.names */
        return kpf_params_init_safetensors(m, init, err);
    char *path = NULL;
    int rc = kpf_node_file_path(from, &path, err);
    if (rc)
        return rc;
    kpf_error e = {0};
    rc = kpf_params_load_h5(m, path, &e);
    free(path);
    if (rc == KPF_ENOMEM)
        return kpf_error_set(err, rc, "%s", e.msg);
    return rc ? kpf_node_error(from, err, "%s", e.msg) : KPF_OK;
}

static int build_theta(kpf_model *m, double init_std, gsl_rng *rng, kpf_error *err)
{
    const kpf_model_layout *L = &m->layout;
    m->m_model = L->n_theta;
    size_t extra = 0;
    if (m->core_readout && (__builtin_mul_overflow(m->n_out, m->n, &extra) ||
                            __builtin_add_overflow(extra, m->n_out, &extra)))
        extra = SIZE_MAX;
    if (extra == SIZE_MAX || __builtin_add_overflow(m->m_model, extra, &m->m) ||
        m->m > SIZE_MAX / sizeof(double))
        return kpf_error_set(err, KPF_EPLUGIN,
                             "plugin '%s': θ of %zu plugin parameters plus a %zu×%zu readout "
                             "does not fit in memory sizes",
                             m->desc->name, m->m_model, m->n_out, m->n);
    m->n_blocks = L->n_blocks + (m->core_readout ? 2 : 0);
    m->theta = calloc(m->m ? m->m : 1, sizeof(double));
    m->blocks = calloc(m->n_blocks ? m->n_blocks : 1, sizeof(kpf_param_block));
    if (!m->theta || !m->blocks)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate θ (%zu values)", m->m);
    if (m->m_model)
        memcpy(m->theta, L->theta0, m->m_model * sizeof(double));
    if (L->n_blocks)
        memcpy(m->blocks, L->blocks, L->n_blocks * sizeof(kpf_param_block));
    if (!m->core_readout)
        return KPF_OK;
    size_t nw = m->n_out * m->n;
    m->blocks[L->n_blocks] = (kpf_param_block){"W_out", m->m_model, m->n_out, m->n};
    m->blocks[L->n_blocks + 1] = (kpf_param_block){"b_out", m->m_model + nw, m->n_out, 1};
    /* Drawn after the plugin's own draws, from the same init stream. */
    for (size_t i = 0; i < nw; i++)
        m->theta[m->m_model + i] = gsl_ran_gaussian(rng, init_std);
    return KPF_OK;
}

static int create_with(const kpf_plugin *plugin, const kpf_node *node,
                       const kpf_model_feature *const *features, size_t n_in, size_t n_out,
                       size_t n_trials, uint64_t seed, kpf_model **out, kpf_error *err)
{
    kpf_model *m = calloc(1, sizeof *m);
    gsl_rng *rng = NULL;
    if (!m)
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a model");
    m->plugin = plugin;
    m->desc = plugin->desc;
    m->scratch = calloc(1, sizeof *m->scratch);
    if (!m->scratch) {
        free(m);
        return kpf_error_set(err, KPF_ENOMEM, "cannot allocate a model");
    }
    int rc = kpf_rng_alloc(seed, KPF_RNG_INIT, &rng, err);
    if (rc)
        goto fail;
    kpf_model_args args = {sizeof args, node, n_in, n_out, n_trials, rng, features};
    if ((rc = m->desc->create(&args, &m->self, err)))
        goto fail;
    if ((rc = m->desc->params(m->self, &m->layout, err)))
        goto fail;
    if ((rc = check_layout(m, &args, err)))
        goto fail;
    m->n = m->layout.n;
    m->n_in = n_in;
    m->n_trials = n_trials;
    m->core_readout = KPF_DESC_OP(m->desc, readout) == NULL;
    m->n_out = m->core_readout ? n_out : m->layout.n_out;
    double init_std;
    const kpf_node *init_from;
    if ((rc = read_core_keys(m, node, &init_std, &init_from, err)))
        goto fail;
    if ((rc = build_theta(m, init_std, rng, err)))
        goto fail;
    if (init_from && (rc = load_init_from(m, init_from, err)))
        goto fail;
    if (node && (rc = kpf_node_check_unused(node, err)))
        goto fail;
    if ((rc = kpf_model_theta_changed(m, err)))
        goto fail;
    gsl_rng_free(rng);
    *out = m;
    return KPF_OK;
fail:
    gsl_rng_free(rng);
    kpf_model_free(m);
    return rc;
}

int kpf_model_create(const kpf_plugin *plugin, const kpf_node *model_node, size_t n_in,
                     size_t n_out, size_t n_trials, uint64_t seed, kpf_model **out,
                     kpf_error *err)
{
    return create_with(plugin, model_node, NULL, n_in, n_out, n_trials, seed, out, err);
}

int kpf_model_create_typed(const kpf_plugin *plugin, const kpf_node *model_node,
                           const kpf_model_feature *const *features, size_t n_in,
                           size_t n_out, size_t n_trials, uint64_t seed, kpf_model **out,
                           kpf_error *err)
{
    if (!plugin || !plugin->desc || !out)
        return kpf_error_set(err, KPF_EINVAL, "kpf_model_create_typed: NULL plugin or output");
    return create_with(plugin, model_node, features, n_in, n_out, n_trials, seed, out, err);
}

int kpf_model_create_default(const kpf_plugin *plugin, size_t n_in, size_t n_out,
                             size_t n_trials, uint64_t seed, kpf_model **out,
                             kpf_error *err)
{
    kpf_config *cfg = NULL;
    int rc = kpf_config_load_string("{}", "(defaults)", &cfg, err);
    if (rc)
        return rc;
    rc = create_with(plugin, kpf_config_root(cfg), NULL, n_in, n_out, n_trials, seed, out,
                     err);
    kpf_config_free(cfg);
    return rc;
}

void kpf_model_free(kpf_model *m)
{
    if (!m)
        return;
    if (m->self)
        m->desc->destroy(m->self);
    free(m->theta);
    free(m->blocks);
    if (m->scratch) {
        free(m->scratch->work);
        free(m->scratch->step_work);
        free(m->scratch->step_t);
        free(m->scratch);
    }
    free(m);
}

/* Every stepper may run on this model (checks swap them), so reserve for the
 * hungriest one. */
static size_t step_blocks_needed(void)
{
    size_t b = kpf_stepper_discrete.work_blocks;
    if (kpf_stepper_euler.work_blocks > b)
        b = kpf_stepper_euler.work_blocks;
    if (kpf_stepper_rk4.work_blocks > b)
        b = kpf_stepper_rk4.work_blocks;
    return b;
}

int kpf_model_reserve(kpf_model *m, size_t R, kpf_error *err)
{
    struct kpf_model_scratch *sc = m->scratch;
    if (R <= sc->rows_cap && sc->work)
        return KPF_OK;
    /* sizes from the plugin's layout times R: refused when they overflow */
    size_t nw, ns;
    if (__builtin_mul_overflow(m->layout.work_per_row, R, &nw) ||
        __builtin_add_overflow(nw, m->layout.work_fixed, &nw) || nw > SIZE_MAX / 8 - 1 ||
        __builtin_mul_overflow(step_blocks_needed() * m->n, R, &ns) || ns > SIZE_MAX / 8 - 1)
        return kpf_error_set(err, KPF_ENOMEM,
                             "plugin '%s': scratch for %zu rows (work_fixed %zu + "
                             "work_per_row %zu per row) does not fit in memory sizes",
                             m->desc->name, R, m->layout.work_fixed, m->layout.work_per_row);
    double *w = realloc(sc->work, (nw ? nw : 1) * sizeof(double));
    double *s = w ? realloc(sc->step_work, ns * sizeof(double) + 1) : NULL;
    if (w)
        sc->work = w;
    if (s)
        sc->step_work = s;
    double *t = s ? realloc(sc->step_t, R * sizeof(double) + 1) : NULL;
    if (!t)
        return kpf_error_set(err, KPF_ENOMEM, "cannot reserve scratch for %zu rows", R);
    sc->step_t = t;
    sc->rows_cap = R;
    return KPF_OK;
}

int kpf_model_theta_changed(kpf_model *m, kpf_error *err)
{
    int (*prep)(void *, const double *, kpf_error *) = KPF_DESC_OP(m->desc, prepare);
    return prep ? prep(m->self, m->theta, err) : KPF_OK;
}

const kpf_param_block *kpf_model_block(const kpf_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_blocks; i++)
        if (strcmp(m->blocks[i].name, name) == 0)
            return &m->blocks[i];
    return NULL;
}

const void *kpf_model_extension(const kpf_model *m, const char *name)
{
    if (!m || !name)
        return NULL;
    const void *(*ext)(void *, const char *) = KPF_DESC_OP(m->desc, extension);
    return ext ? ext(m->self, name) : NULL;
}

/* Attach scratch and check capacity; the plugin then sees a complete row block. */
int kpf_internal_attach_rows(kpf_model *m, const kpf_rows *in, kpf_rows *r, kpf_error *err)
{
    if (in->R > m->scratch->rows_cap)
        return kpf_error_set(err, KPF_EINVAL,
                             "%zu rows exceed the %zu reserved; call kpf_model_reserve first",
                             in->R, m->scratch->rows_cap);
    *r = *in;
    r->work = m->scratch->work;
    return KPF_OK;
}

#define KPF_WRAP(call)                                   \
    do {                                                 \
        kpf_rows r;                                      \
        int rc_ = kpf_internal_attach_rows(m, rows, &r, err);              \
        return rc_ ? rc_ : (call);                       \
    } while (0)

int kpf_model_f(kpf_model *m, const kpf_rows *rows, double *out, kpf_error *err)
{
    KPF_WRAP(m->desc->f(m->self, m->theta, &r, out, err));
}

int kpf_model_tape(kpf_model *m, const kpf_rows *rows, double *tape, kpf_error *err)
{
    kpf_op_eval op = KPF_DESC_OP(m->desc, tape);
    if (!op || m->layout.tape_width == 0)
        return KPF_OK;
    KPF_WRAP(op(m->self, m->theta, &r, tape, err));
}

int kpf_model_jz(kpf_model *m, const kpf_rows *rows, const double *v, double *out,
                 kpf_error *err)
{
    KPF_WRAP(m->desc->jz(m->self, m->theta, &r, v, out, err));
}

int kpf_model_jzT(kpf_model *m, const kpf_rows *rows, const double *w, double *out,
                  kpf_error *err)
{
    KPF_WRAP(m->desc->jzT(m->self, m->theta, &r, w, out, err));
}

int kpf_model_jth(kpf_model *m, const kpf_rows *rows, const double *dth, double *out,
                  kpf_error *err)
{
    KPF_WRAP(m->desc->jth(m->self, m->theta, &r, dth, out, err));
}

int kpf_model_jthT(kpf_model *m, const kpf_rows *rows, const double *w, double *g,
                   kpf_error *err)
{
    KPF_WRAP(m->desc->jthT(m->self, m->theta, &r, w, g, err));
}
