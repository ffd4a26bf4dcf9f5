/* kpf/param_safetensors.h — a model's θ from and to .safetensors files
 * (the format PyTorch users save state_dicts in; kpf/safetensors.h reads
 * and writes it), under PyTorch's tensor names.
 *
 * Names.  Each θ block is looked for under one tensor name:
 *   1. the name the caller maps it to (YAML `init.names: {W: "rnn.weight_hh_l0"}`),
 *      used exactly as given;
 *   2. else, when the plugin says what PyTorch calls its blocks (the
 *      "kpf.torch.names/1" extension: gru's weight_ih … are PyTorch's own;
 *      rnn's W is weight_hh, W_in weight_ih, b = bias_ih + bias_hh), prefix +
 *      that name, or prefix + that name + "_l0" (nn.GRU / nn.RNN rather than
 *      the Cell);
 *   3. else prefix + the block's own name (W_out, b_out, any plugin's).
 * Every plugin block must be found; the core readout's W_out and b_out are
 * optional (both or neither) and keep their drawn values when absent.
 * Every tensor whose name starts with the prefix (every tensor, without a
 * prefix) must be used: a stray one is an error listing the names looked
 * for, so a misspelt map never passes silently.  Tensors outside the prefix
 * (the rest of a bigger module's state_dict) are ignored.
 *
 * Values.  F64, F32, F16 and BF16 are read exactly as doubles; a shape must
 * be the block's [rows, cols] ([rows] or [rows, 1] for a vector); NaN or
 * ±Inf is refused, naming the tensor.  θ is unchanged on any error; after
 * a successful load the caller calls kpf_model_theta_changed.
 *
 * Export writes every block under the same names (with the prefix, "_l0"
 * for layer names), so safetensors.torch.load_file gives a state_dict that
 * the PyTorch module loads with load_state_dict; a block summed on load (rnn's
 * b) is written as the first tensor with the second one zero. */
#ifndef KPF_PARAM_SAFETENSORS_H
#define KPF_PARAM_SAFETENSORS_H

#include "kpf/export.h"

#include "kpf/config.h"
#include "kpf/error.h"
#include "kpf/instance.h"
#include "kpf/safetensors.h"

KPF_BEGIN_DECLS

/* The extension table a plugin returns for KPF_TORCH_NAMES_INTERFACE: what
 * PyTorch calls its blocks.  The plugin's, valid until destroy. */
#define KPF_TORCH_NAMES_INTERFACE "kpf.torch.names/1"

typedef struct kpf_torch_name {
    const char *block; /* the θ block                                          */
    const char *torch; /* its tensor in the Cell's state_dict ("weight_hh")    */
    const char *plus;  /* or NULL: a second tensor summed into the block on load
                          ("bias_hh" into rnn's b), exported as zeros          */
} kpf_torch_name;

typedef struct kpf_torch_names {
    const char *module;          /* "nn.GRUCell", for messages and metadata    */
    size_t n;
    const kpf_torch_name *names;
    /* The PyTorch module computes this model only with this stepper and step
     * ("euler", 1.0 for rnn); NULL: any (a discrete map).  Export refuses
     * another. */
    const char *stepper;
    double dt;
} kpf_torch_names;

/* How tensor names are formed (see the top of this file). */
typedef struct kpf_st_names {
    const char *prefix;        /* "rnn."; NULL or "": none                       */
    const char *const *map;    /* block, tensor, block, tensor, …, NULL; or NULL */
    int layer;                 /* export: the "_l0" names of nn.GRU / nn.RNN     */
} kpf_st_names;

/* Read θ from the .safetensors file at path (names may be NULL: defaults). */
int kpf_params_load_safetensors(kpf_model *m, const char *path, const kpf_st_names *names,
                                kpf_error *err);

/* Write θ to a new .safetensors file at path (never overwritten) as dtype
 * (KPF_ST_F64 or KPF_ST_F32), with metadata naming the plugin and, when
 * the plugin gives one, the PyTorch module. */
int kpf_params_save_safetensors(const kpf_model *m, const char *path, kpf_st_dtype dtype,
                                const kpf_st_names *names, kpf_error *err);

/* model.init when its `from` names a .safetensors file: reads `prefix` and
 * `names` (a map block: tensor) from the init map, loads, and locates every
 * error at the key it concerns. */
int kpf_params_init_safetensors(kpf_model *m, const kpf_node *init, kpf_error *err);

/* Whether path ends in ".safetensors". */
int kpf_is_safetensors_path(const char *path);

KPF_END_DECLS
#endif
