/* Reading a check report (kpf/check.h): op names, the likely causes of a
 * set of failures, and --only's pattern.
 *
 * One wrong op fails many checks: a jzT that is not the transpose of jz
 * fails f's adjoint identity, each stepper's, and every gradient check
 * (the adjoint sweep runs on jzT), while jz's own finite-difference check
 * passes.  So an op is cleared by a passed check that tests it alone (its
 * FD check, or its adjoint check against a forward op that is itself
 * cleared) unless a check of it alone failed, and each failure is blamed
 * on the uncleared op it depends on that most failures share. */
#include "kpf/check.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static const char *const op_names[KPF_CHECK_N_OPS] = {
    [KPF_CHECK_OP_NONE] = "",
    [KPF_CHECK_OP_CREATE] = "create",
    [KPF_CHECK_OP_F] = "f",
    [KPF_CHECK_OP_TAPE] = "tape",
    [KPF_CHECK_OP_JZ] = "jz",
    [KPF_CHECK_OP_JZT] = "jzT",
    [KPF_CHECK_OP_JTH] = "jth",
    [KPF_CHECK_OP_JTHT] = "jthT",
    [KPF_CHECK_OP_READOUT] = "readout",
    [KPF_CHECK_OP_READOUT_JZ] = "readout_jz",
    [KPF_CHECK_OP_READOUT_JZT] = "readout_jzT",
    [KPF_CHECK_OP_READOUT_JTH] = "readout_jth",
    [KPF_CHECK_OP_READOUT_JTHT] = "readout_jthT",
    [KPF_CHECK_OP_INIT_STATE] = "init_state",
    [KPF_CHECK_OP_INIT_STATE_JTH] = "init_state_jth",
    [KPF_CHECK_OP_INIT_STATE_JTHT] = "init_state_jthT",
    [KPF_CHECK_OP_EXTENSION] = "extension",
    [KPF_CHECK_OP_GRADIENT] = "gradient",
};

const char *kpf_check_op_name(int op)
{
    return op >= 0 && op < KPF_CHECK_N_OPS ? op_names[op] : "";
}

/* The forward op a transpose is the transpose of (or -1), and what the
 * op is the derivative of. */
static int forward_of(int op)
{
    switch (op) {
    case KPF_CHECK_OP_JZT: return KPF_CHECK_OP_JZ;
    case KPF_CHECK_OP_JTHT: return KPF_CHECK_OP_JTH;
    case KPF_CHECK_OP_READOUT_JZT: return KPF_CHECK_OP_READOUT_JZ;
    case KPF_CHECK_OP_READOUT_JTHT: return KPF_CHECK_OP_READOUT_JTH;
    case KPF_CHECK_OP_INIT_STATE_JTHT: return KPF_CHECK_OP_INIT_STATE_JTH;
    default: return -1;
    }
}

static const char *derivative_of(int op)
{
    switch (op) {
    case KPF_CHECK_OP_JZ: return "f in z";
    case KPF_CHECK_OP_JTH: return "f in theta";
    case KPF_CHECK_OP_READOUT_JZ: return "the readout in z";
    case KPF_CHECK_OP_READOUT_JTH: return "the readout in theta";
    case KPF_CHECK_OP_INIT_STATE_JTH: return "the initial state in theta";
    default: return NULL;
    }
}

static int single(const kpf_check_item *it)
{
    return it->uses == (1u << it->op);
}

/* cleared[op]: a passed check tests op alone and no check of it alone failed. */
static void clear_ops(const kpf_check_report *rep, int *cleared)
{
    int failed_alone[KPF_CHECK_N_OPS] = {0};
    memset(cleared, 0, KPF_CHECK_N_OPS * sizeof *cleared);
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        if (it->op > 0 && it->op < KPF_CHECK_N_OPS && !it->pass && single(it))
            failed_alone[it->op] = 1;
    }
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        if (it->pass && it->kind == KPF_CHECK_KIND_FD && single(it))
            cleared[it->op] = 1;
    }
    for (size_t i = 0; i < rep->n_items; i++) { /* transposes, after their forward ops */
        const kpf_check_item *it = &rep->items[i];
        int fwd = forward_of(it->op);
        if (it->pass && it->kind == KPF_CHECK_KIND_ADJOINT && fwd >= 0 && cleared[fwd])
            cleared[it->op] = 1;
    }
    /* f, the readout and the initial state are what the derivatives are
     * measured against, and the tape has no reference but batching: each
     * is blamed only by a failed check of its own. */
    static const int references[] = {KPF_CHECK_OP_F, KPF_CHECK_OP_READOUT,
                                     KPF_CHECK_OP_INIT_STATE, KPF_CHECK_OP_TAPE,
                                     KPF_CHECK_OP_CREATE};
    for (size_t k = 0; k < sizeof references / sizeof *references; k++)
        cleared[references[k]] = 1;
    for (int op = 0; op < KPF_CHECK_N_OPS; op++)
        if (failed_alone[op])
            cleared[op] = 0;
}

/* The sentence for a cause: from the kinds of failures it explains. */
static void cause_text(const kpf_check_report *rep, size_t index, int op, char *buf,
                       size_t size)
{
    int fd = 0, adj = 0, acc = 0, batch = 0, det = 0;
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        if (it->pass || it->cause != (int)index || it->op != op)
            continue;
        fd |= it->kind == KPF_CHECK_KIND_FD;
        adj |= it->kind == KPF_CHECK_KIND_ADJOINT;
        acc |= it->kind == KPF_CHECK_KIND_ACCUMULATE;
        batch |= it->kind == KPF_CHECK_KIND_BATCH;
        det |= it->kind == KPF_CHECK_KIND_DETERMINISM;
    }
    const char *name = kpf_check_op_name(op), *of = derivative_of(op);
    int fwd = forward_of(op);
    if (fd && of)
        snprintf(buf, size, "%s is not the derivative of %s (it disagrees with finite "
                            "differences)", name, of);
    else if (acc)
        snprintf(buf, size, "%s overwrites g instead of adding into it", name);
    else if (adj && fwd >= 0)
        snprintf(buf, size, "%s is not the transpose of %s", name, kpf_check_op_name(fwd));
    else if (batch)
        snprintf(buf, size, "%s depends on how rows are batched (R rows at once differ from "
                            "one row at a time: a stride or per-row index?)", name);
    else if (det)
        snprintf(buf, size, "create's initial theta does not follow the seed (draw only from "
                            "args->rng)");
    else if (op == KPF_CHECK_OP_GRADIENT)
        snprintf(buf, size, "the loss gradient disagrees with finite differences of the loss "
                            "while every op passes its own checks (a stepper or tape problem?)");
    else
        snprintf(buf, size, "%s is wrong", name);
}

/* The uncleared op used by most failures not yet explained (-1: none). */
static int most_shared(const kpf_check_report *rep, const int *cleared)
{
    size_t count[KPF_CHECK_N_OPS] = {0};
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        if (it->pass || it->cause >= 0)
            continue;
        for (int op = 1; op < KPF_CHECK_N_OPS; op++)
            if ((it->uses >> op & 1u) && !cleared[op])
                count[op]++;
    }
    int best = -1;
    for (int op = 1; op < KPF_CHECK_N_OPS; op++)
        if (count[op] && (best < 0 || count[op] > count[best]))
            best = op;
    return best;
}

size_t kpf_check_diagnose(kpf_check_report *rep, kpf_check_cause *causes, size_t cap)
{
    int cleared[KPF_CHECK_N_OPS];
    clear_ops(rep, cleared);
    for (size_t i = 0; i < rep->n_items; i++)
        rep->items[i].cause = -1;
    size_t n = 0;
    int op;
    while ((op = most_shared(rep, cleared)) >= 0) {
        size_t explained = 0;
        for (size_t i = 0; i < rep->n_items; i++) {
            kpf_check_item *it = &rep->items[i];
            if (!it->pass && it->cause < 0 && (it->uses >> op & 1u)) {
                it->cause = (int)n;
                explained++;
            }
        }
        if (n < cap) {
            causes[n].op = op;
            causes[n].n_items = explained;
            cause_text(rep, n, op, causes[n].text, sizeof causes[n].text);
        }
        n++;
        cleared[op] = 1; /* the next round looks past it */
    }
    return n;
}

/* ---- --only --------------------------------------------------------------------- */

static void lower(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

int kpf_check_name_matches(const char *name, int op, const char *pattern)
{
    if (!pattern || !*pattern)
        return 1;
    char pat[256], nm[KPF_CHECK_NAME_MAX + 2], opn[64];
    lower(pattern, pat + 1, sizeof pat - 2); /* "*pattern*": anywhere in the name */
    pat[0] = '*';
    size_t k = strlen(pat);
    pat[k] = '*';
    pat[k + 1] = '\0';
    lower(name, nm, sizeof nm);
    lower(kpf_check_op_name(op), opn, sizeof opn);
    if (!fnmatch(pat, nm, 0))
        return 1;
    /* the op's name must match whole: "jz" is not "jzT" */
    char whole[256];
    lower(pattern, whole, sizeof whole);
    return opn[0] && !fnmatch(whole, opn, 0);
}

void kpf_check_report_filter(kpf_check_report *rep, const char *pattern)
{
    size_t keep = 0;
    rep->n_failed = 0;
    for (size_t i = 0; i < rep->n_items; i++) {
        const kpf_check_item *it = &rep->items[i];
        if (!kpf_check_name_matches(it->name, it->op, pattern))
            continue;
        rep->n_failed += !it->pass;
        rep->items[keep++] = *it;
    }
    rep->n_items = keep;
}
