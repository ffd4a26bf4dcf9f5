"""The C declarations the binding calls, copied from libkpf's public headers.

cffi's ABI mode reads these instead of the headers, so every line here must
match its header exactly (the header named in each comment).  Only structs
that the public API hands to callers to fill or read are mirrored: the
error object, the plugin ABI's row block and parameter block, the task
ABI's batch, and the option/diagnostic structs of the spectral, Lyapunov
and optimiser calls; those the binding allocates itself come from
_lib.new_struct, with room for fields a newer libkpf may append.
kpf_model, kpf_traj, kpf_op, kpf_task, kpf_config,
the registry and the gradient workspace stay opaque: they are read through
functions (kpf/model_access.h, kpf/traj_access.h, kpf/op_access.h).
"""

CDEF = r"""
/* ---- kpf/error.h -------------------------------------------------------- */
typedef struct kpf_error { int code; char msg[1024]; } kpf_error;
const char *kpf_status_string(int code);

/* ---- kpf/config.h ------------------------------------------------------- */
typedef struct kpf_config kpf_config;
typedef struct kpf_node kpf_node;
int kpf_config_load_string(const char *yaml, const char *name, kpf_config **out,
                           kpf_error *err);
void kpf_config_free(kpf_config *cfg);
const kpf_node *kpf_config_root(const kpf_config *cfg);
const kpf_node *kpf_node_get(const kpf_node *map, const char *key);
int kpf_node_check_unused(const kpf_node *node, kpf_error *err);

/* ---- kpf/model.h (plugin ABI structs) ---------------------------------- */
typedef struct kpf_param_block {
    const char *name; size_t offset; size_t rows; size_t cols;
} kpf_param_block;
typedef struct kpf_rows {
    size_t R; const double *z; const double *x; const size_t *trial; const double *t;
    const double *tape; double *work;
} kpf_rows;

/* ---- kpf/plugin.h ------------------------------------------------------- */
typedef struct kpf_registry kpf_registry;
typedef struct kpf_plugin kpf_plugin;
typedef struct kpf_task kpf_task;
typedef enum kpf_kind {
    KPF_KIND_MODEL = 0, KPF_KIND_TASK = 1, KPF_KIND_ANALYSIS = 2, KPF_KIND_STUDY = 3
} kpf_kind;
typedef struct kpf_desc_head {
    uint32_t abi_version; uint32_t struct_size; const char *name; const char *summary;
} kpf_desc_head;
typedef struct kpf_extension {
    kpf_kind kind; const kpf_desc_head *desc; const char *path; uint32_t index;
} kpf_extension;
int kpf_registry_alloc(kpf_registry **out, kpf_error *err);
void kpf_registry_free(kpf_registry *reg);
int kpf_registry_scan(kpf_registry *reg, const char *dirs, kpf_error *err);
size_t kpf_registry_ext_count(const kpf_registry *reg, kpf_kind kind);
const kpf_extension *kpf_registry_ext_at(const kpf_registry *reg, kpf_kind kind, size_t i);
int kpf_registry_resolve(kpf_registry *reg, const char *name_or_path,
                         const kpf_plugin **out, kpf_error *err);
size_t kpf_registry_problem_count(const kpf_registry *reg);
const char *kpf_registry_problem(const kpf_registry *reg, size_t i);
int kpf_registry_task_create(const kpf_registry *reg, const kpf_node *node, kpf_task **out,
                             kpf_error *err);
char *kpf_plugin_search_path(const char *exe_dir, char *buf, size_t size);

/* ---- kpf/instance.h ----------------------------------------------------- */
typedef struct kpf_model kpf_model;
int kpf_model_create(const kpf_plugin *plugin, const kpf_node *model_node,
                     size_t n_in, size_t n_out, size_t n_trials, uint64_t seed,
                     kpf_model **out, kpf_error *err);
void kpf_model_free(kpf_model *m);
int kpf_model_reserve(kpf_model *m, size_t R, kpf_error *err);
int kpf_model_theta_changed(kpf_model *m, kpf_error *err);
int kpf_model_f(kpf_model *m, const kpf_rows *rows, double *out, kpf_error *err);
int kpf_model_tape(kpf_model *m, const kpf_rows *rows, double *tape, kpf_error *err);
int kpf_model_jz(kpf_model *m, const kpf_rows *rows, const double *v, double *out,
                 kpf_error *err);
int kpf_model_jzT(kpf_model *m, const kpf_rows *rows, const double *w, double *out,
                  kpf_error *err);
int kpf_model_jth(kpf_model *m, const kpf_rows *rows, const double *dth, double *out,
                  kpf_error *err);
int kpf_model_jthT(kpf_model *m, const kpf_rows *rows, const double *w, double *g,
                   kpf_error *err);
int kpf_readout(kpf_model *m, const kpf_rows *rows, double *y, kpf_error *err);

/* ---- kpf/model_access.h ------------------------------------------------- */
size_t kpf_model_state_size(const kpf_model *m);
size_t kpf_model_input_size(const kpf_model *m);
size_t kpf_model_output_size(const kpf_model *m);
size_t kpf_model_trial_count(const kpf_model *m);
size_t kpf_model_param_count(const kpf_model *m);
size_t kpf_model_plugin_param_count(const kpf_model *m);
double *kpf_model_params(kpf_model *m);
size_t kpf_model_block_count(const kpf_model *m);
const kpf_param_block *kpf_model_block_at(const kpf_model *m, size_t i);
double kpf_model_step_size(const kpf_model *m);
size_t kpf_model_tape_width(const kpf_model *m);
int kpf_model_is_continuous(const kpf_model *m);
int kpf_model_core_readout(const kpf_model *m);
const char *kpf_model_plugin_name(const kpf_model *m);
const char *kpf_model_stepper_name(const kpf_model *m);

/* ---- kpf/param_io.h ----------------------------------------------------- */
int kpf_params_load_h5(kpf_model *m, const char *path, kpf_error *err);
int kpf_params_save_h5(const kpf_model *m, const char *path, kpf_error *err);

/* ---- kpf/trajectory.h, kpf/traj_access.h -------------------------------- */
typedef struct kpf_traj kpf_traj;
int kpf_traj_alloc(const kpf_model *m, size_t B, size_t T, kpf_traj **out, kpf_error *err);
void kpf_traj_free(kpf_traj *tr);
int kpf_simulate(kpf_model *m, kpf_traj *tr, kpf_error *err);
int kpf_simulate_from(kpf_model *m, kpf_traj *tr, const double *z0, kpf_error *err);
void kpf_traj_shape(const kpf_traj *tr, size_t *B, size_t *T, size_t *n, size_t *n_in);
double kpf_traj_step_size(const kpf_traj *tr);
double *kpf_traj_inputs(kpf_traj *tr);
size_t *kpf_traj_trial_ids(kpf_traj *tr);
const double *kpf_traj_states(const kpf_traj *tr);
const double *kpf_traj_initial_states(const kpf_traj *tr);
const double *kpf_traj_times(const kpf_traj *tr);

/* ---- kpf/task.h, kpf/rng.h ---------------------------------------------- */
typedef struct kpf_task_batch {
    size_t B, T, n_in, n_out;
    double *x; double *y; double *mask; int *period; int *cond; size_t *trial;
} kpf_task_batch;
void kpf_task_free(kpf_task *task);
int kpf_task_batch_alloc(const kpf_task *task, size_t B, kpf_task_batch **out,
                         kpf_error *err);
void kpf_task_batch_free(kpf_task_batch *batch);
void kpf_task_set_noise_scale(kpf_task *task, double scale);
typedef struct gsl_rng gsl_rng;
int kpf_task_generate(const kpf_task *task, gsl_rng *rng, kpf_task_batch *batch,
                      kpf_error *err);
int kpf_rng_alloc(uint64_t seed, uint64_t stream, gsl_rng **out, kpf_error *err);
void gsl_rng_free(gsl_rng *r);

/* ---- kpf/gradient.h, kpf/loss.h ----------------------------------------- */
typedef struct kpf_grad_ws kpf_grad_ws;
int kpf_grad_ws_alloc(const kpf_model *m, size_t B, size_t T, kpf_grad_ws **out,
                      kpf_error *err);
void kpf_grad_ws_free(kpf_grad_ws *ws);
int kpf_loss_eval(kpf_model *m, const kpf_task_batch *batch, kpf_grad_ws *ws,
                  double *loss, kpf_error *err);
int kpf_loss_grad(kpf_model *m, const kpf_task_batch *batch, size_t window,
                  kpf_grad_ws *ws, double *loss, double *grad, kpf_error *err);

/* ---- kpf/optim.h -------------------------------------------------------- */
typedef struct kpf_optim {
    int kind; size_t m; double lr, beta1, beta2, eps; double clip;
    unsigned char *trainable; double *mom, *vel; uint64_t t; double last_norm;
} kpf_optim;
int kpf_optim_alloc(int kind, size_t m, double lr, kpf_optim **out, kpf_error *err);
void kpf_optim_free(kpf_optim *o);
void kpf_optim_set_trainable(kpf_optim *o, size_t offset, size_t len, int trainable);
int kpf_optim_step(kpf_optim *o, double *theta, double *grad, kpf_error *err);

/* ---- kpf/operator.h, kpf/op_access.h ------------------------------------ */
typedef struct kpf_op kpf_op;
void kpf_op_space_shape(const kpf_op *op, int output, size_t *B, size_t *T, size_t *n,
                        double *weight);
const char *kpf_op_type_name(const kpf_op *op);
void kpf_op_free(kpf_op *op);
int kpf_op_apply(kpf_op *op, const double *in, double *out, kpf_error *err);
int kpf_op_apply_adjoint(kpf_op *op, const double *in, double *out, kpf_error *err);
int kpf_op_is_self_adjoint(const kpf_op *op);
int kpf_op_compose(kpf_op *A, kpf_op *B, kpf_op **out, kpf_error *err);
int kpf_op_adjoint(kpf_op *A, kpf_op **out, kpf_error *err);
int kpf_op_sum(double a, kpf_op *A, double b, kpf_op *B, kpf_op **out, kpf_error *err);
int kpf_op_scale(double s, kpf_op *A, kpf_op **out, kpf_error *err);
int kpf_op_gram(kpf_op *A, kpf_op **out, kpf_error *err);
int kpf_op_restrict_trials(kpf_op *A, const size_t *rows, size_t n_rows, const size_t *cols,
                           size_t n_cols, kpf_op **out, kpf_error *err);
int kpf_op_average(kpf_op *A, unsigned axes, kpf_op **out, kpf_error *err);
int kpf_op_adjoint_test(kpf_op *A, unsigned long seed, int trials, double *rel,
                        kpf_error *err);
int kpf_op_to_dense(kpf_op *A, size_t max_entries, double *dense, kpf_error *err);

/* ---- kpf/kpflow.h ------------------------------------------------------- */
int kpf_op_propagator(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_propagator_adjoint(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                              kpf_error *err);
int kpf_op_propagator_direct(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                             kpf_error *err);
int kpf_op_propagator_inverse(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                              kpf_error *err);
int kpf_op_fundamental(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_fundamental_adjoint(kpf_model *m, const kpf_traj *tr, kpf_op **out,
                               kpf_error *err);
int kpf_op_param(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_param_block(kpf_model *m, const kpf_traj *tr, const char *block, kpf_op **out,
                       kpf_error *err);
int kpf_op_param_init(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_init_term(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_readout(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_pkp(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_pp(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_output_ntk(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);
int kpf_op_hidden_ntk(kpf_model *m, const kpf_traj *tr, kpf_op **out, kpf_error *err);

/* ---- kpf/spectral.h, kpf/linalg.h --------------------------------------- */
typedef enum kpf_eig_which {
    KPF_EIG_LARGEST_ALGEBRAIC = 0, KPF_EIG_LARGEST_MAGNITUDE = 1
} kpf_eig_which;
typedef struct kpf_eig_opts {
    kpf_eig_which which; double tol; int max_iter; size_t ncv; uint64_t seed;
} kpf_eig_opts;
typedef struct kpf_eig_info { int iterations; size_t n_apply; size_t n_converged; } kpf_eig_info;
int kpf_eigsh(kpf_op *A, size_t k, const kpf_eig_opts *o, double *vals, double *vecs,
              kpf_eig_info *info, kpf_error *err);
int kpf_svds(kpf_op *A, size_t k, const kpf_eig_opts *o, double *s, double *U, double *V,
             kpf_eig_info *info, kpf_error *err);
int kpf_eigsh_dense(kpf_op *A, size_t k, kpf_eig_which which, double *vals, double *vecs,
                    kpf_error *err);
int kpf_svd_dense(kpf_op *A, size_t k, double *s, double *U, double *V, kpf_error *err);
int kpf_consensus_svds(kpf_op *A, unsigned axes, size_t k, const kpf_eig_opts *o, double *s,
                       double *U, double *V, kpf_error *err);
int kpf_consensus_gram(kpf_op *A, unsigned axes, size_t k, const kpf_eig_opts *o, double *s,
                       double *U, kpf_error *err);
int kpf_rayleigh(kpf_op *A, const double *q, double *r, kpf_error *err);
int kpf_op_alignment(kpf_op *A, kpf_op *B, size_t n_probe, uint64_t seed, double *cos,
                     kpf_error *err);
int kpf_hutchpp(kpf_op *A, size_t n_apply, uint64_t seed, double *trace, kpf_error *err);
int kpf_explained_variance(const double *sv, size_t k, double total_var, double *cum,
                           kpf_error *err);
int kpf_effrank(const double *sv, size_t k, double total_var, double thresh, double *rank,
                kpf_error *err);

/* ---- kpf/lyapunov.h ----------------------------------------------------- */
typedef struct kpf_lyap_opts {
    size_t k; size_t t_ons; size_t start; size_t transient; uint64_t seed;
} kpf_lyap_opts;
typedef struct kpf_lyap_diag {
    double cond_first; double cond_diag_max; int ill_conditioned; size_t n_qr; double time;
} kpf_lyap_diag;
int kpf_lyapunov_qr(kpf_model *m, const kpf_traj *tr, const kpf_lyap_opts *o,
                    double *lambda, kpf_lyap_diag *diag, kpf_error *err);
int kpf_lyapunov_dns(kpf_model *m, const kpf_traj *tr, const kpf_lyap_opts *o,
                     double eps_rel, double *lambda_max, kpf_error *err);
int kpf_lyapunov_ftle(kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1,
                      size_t t_ons, double *ftle, kpf_error *err);
int kpf_lyapunov_consensus(kpf_model *m, const kpf_traj *tr, size_t k0, size_t k1,
                           size_t t_ons, double *lambda, kpf_error *err);
int kpf_kaplan_yorke(const double *lambda, size_t k, double *dim, kpf_error *err);

/* ---- kpf/h5io.h (reading run outputs without h5py) ----------------------- */
typedef struct kpf_h5 kpf_h5;
int kpf_h5_open(const char *path, kpf_h5 **out, kpf_error *err);
int kpf_h5_close(kpf_h5 *h, kpf_error *err);
int kpf_h5_read(kpf_h5 *h, const char *path, size_t count, double *data, kpf_error *err);
int kpf_h5_is_dataset(kpf_h5 *h, const char *path);
int kpf_h5_shape(kpf_h5 *h, const char *path, int *rank, size_t *dims, kpf_error *err);
int kpf_h5_list(kpf_h5 *h, const char *group, char ***names, size_t *count,
                kpf_error *err);
void kpf_h5_names_free(char **names, size_t count);
"""
