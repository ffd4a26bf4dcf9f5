/* Recovery of a teacher's components (studies/ltr/ltr_match.c, kpf/ltr_fit.h):
 * the components of a network whose units and components are relabelled
 * match exactly; a changed trial factor shows in that component's trial
 * score only; Kruskal ranks of known factor sets; a fit started at the
 * teacher's θ keeps the teacher's loss, and every restart is recorded. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ltr_fit.h"
#include "kpf/plugin.h"

static kpf_error err;
static kpf_registry *reg;
static const kpf_plugin *ltr;

static void load(void)
{
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_scan(reg, KPF_BUILD_PLUGIN_DIR, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "ltr", &ltr, &err), KPF_OK, "%s", err.msg);
}

static void unload(void)
{
    kpf_registry_free(reg);
    reg = NULL;
}

TestSuite(ltr_match, .init = load, .fini = unload);

/* A rank-2 teacher (6 units, 5 neurons × 12 bins × 10 trials, noise-free):
 * its spec, data and θ. */
static void teacher(kpf_ltr_spec *s, kpf_ltr_fit_opts *o, kpf_ltr_data **d, double **th,
                    size_t *m)
{
    kpf_ltr_spec_default(s);
    s->n = 6, s->rank = 2, s->dt = 0.3, s->q_init = 1.0, s->c_init = 0.5, s->length = 4;
    kpf_ltr_fit_opts_default(o);
    kpf_ltr_teacher_opts to;
    kpf_ltr_teacher_opts_default(&to);
    to.noise = 0, to.c_offset = 1.0, to.seed = 3;
    cr_assert_eq(kpf_ltr_data_alloc(5, 12, 10, 0, 1, d, &err), KPF_OK);
    cr_assert_eq(kpf_ltr_teacher(ltr, s, *d, o, &to, th, m, &err), KPF_OK, "%s", err.msg);
    s->K = 10;
}

/* A θ block of the model of this spec (a copy). */
static kpf_param_block block_of(const kpf_ltr_spec *s, const char *name)
{
    kpf_model *m = NULL;
    cr_assert_eq(kpf_ltr_model_create(ltr, s, 0, 5, 0, &m, &err), KPF_OK, "%s", err.msg);
    const kpf_param_block *b = kpf_model_block(m, name);
    cr_assert_not_null(b, "block %s", name);
    kpf_param_block out = *b;
    kpf_model_free(m);
    return out;
}

/* θ of the same network with units permuted and sign-flipped (x_i → s_i
 * x_{π(i)}: tanh is odd, so a, b, M follow), the two components swapped
 * and component 0's sign flipped (a → −a, c̄ → −c̄, q → −q). */
static void relabel(const kpf_ltr_spec *s, const double *th, double *out, size_t m)
{
    const size_t n = s->n, K = s->K, R = 2, pi[6] = {3, 0, 5, 1, 4, 2};
    const double sg[6] = {1, -1, 1, 1, -1, -1};
    memcpy(out, th, m * sizeof(double));
    size_t oa = block_of(s, "a").offset, ob = block_of(s, "b").offset;
    size_t oc = block_of(s, "cbar").offset, oq = block_of(s, "q").offset;
    const kpf_param_block Mblk = block_of(s, "M"), *Mb = &Mblk;
    for (size_t r = 0; r < R; r++) {
        size_t q = 1 - r;                     /* swapped components */
        double f = r == 1 ? -1.0 : 1.0;       /* new component 1 = old 0, flipped */
        for (size_t i = 0; i < n; i++) {
            out[oa + r * n + pi[i]] = f * sg[i] * th[oa + q * n + i];
            out[ob + r * n + pi[i]] = sg[i] * th[ob + q * n + i];
        }
        for (size_t k = 0; k < K; k++)
            out[oc + r * K + k] = f * th[oc + q * K + k];
        out[oq + r] = f * th[oq + q];
    }
    for (size_t j = 0; j < Mb->rows; j++)
        for (size_t i = 0; i < n; i++)
            out[Mb->offset + j * n + pi[i]] = sg[i] * th[Mb->offset + j * n + i];
}

Test(ltr_match, a_relabelled_network_matches_exactly)
{
    kpf_ltr_spec s;
    kpf_ltr_fit_opts o;
    kpf_ltr_data *d = NULL;
    double *th = NULL;
    size_t m = 0;
    teacher(&s, &o, &d, &th, &m);
    double *th2 = malloc(m * sizeof(double));
    relabel(&s, th, th2, m);
    kpf_cp a, b;
    cr_assert_eq(kpf_ltr_components(ltr, &s, d, &o, th, m, &a, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_ltr_components(ltr, &s, d, &o, th2, m, &b, &err), KPF_OK, "%s", err.msg);
    kpf_ltr_match mt;
    cr_assert_eq(kpf_ltr_match_components(&a, &b, &mt, &err), KPF_OK, "%s", err.msg);
    cr_expect(fabs(mt.score - 1) < 1e-10, "score %.12f", mt.score);
    cr_expect(fabs(mt.neuron - 1) < 1e-10 && fabs(mt.time - 1) < 1e-10 &&
                  fabs(mt.trial - 1) < 1e-10,
              "modes %.12f %.12f %.12f", mt.neuron, mt.time, mt.trial);
    cr_expect(mt.perm[0] == 1 && mt.perm[1] == 0, "perm %zu %zu", mt.perm[0], mt.perm[1]);
    for (size_t r = 0; r < 2; r++)
        cr_expect(fabs(mt.trial_corr[r] - 1) < 1e-10, "trial corr %zu: %.12f", r,
                  mt.trial_corr[r]);
    kpf_cp_free(&a);
    kpf_cp_free(&b);
    free(th2);
    free(th);
    kpf_ltr_data_free(d);
}

Test(ltr_match, a_changed_trial_factor_shows_in_its_trial_correlation)
{
    kpf_ltr_spec s;
    kpf_ltr_fit_opts o;
    kpf_ltr_data *d = NULL;
    double *th = NULL;
    size_t m = 0;
    teacher(&s, &o, &d, &th, &m);
    double *th2 = malloc(m * sizeof(double));
    memcpy(th2, th, m * sizeof(double));
    /* component 1's trial factor runs backwards over the trials */
    size_t oc = block_of(&s, "cbar").offset;
    double a[2 * 6], b[2 * 6], C[2 * 10];
    cr_assert_eq(kpf_ltr_factors_of(ltr, &s, 0, 5, th, m, a, b, C, &err), KPF_OK);
    for (size_t k = 0; k < 10; k++)
        th2[oc + 10 + k] = th[oc + 10 + 9 - k];
    double a2[12], b2[12], C2[20];
    cr_assert_eq(kpf_ltr_factors_of(ltr, &s, 0, 5, th2, m, a2, b2, C2, &err), KPF_OK);
    kpf_cp x, y;
    cr_assert_eq(kpf_ltr_components(ltr, &s, d, &o, th, m, &x, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_ltr_components(ltr, &s, d, &o, th2, m, &y, &err), KPF_OK, "%s", err.msg);
    kpf_ltr_match mt;
    cr_assert_eq(kpf_ltr_match_components(&x, &y, &mt, &err), KPF_OK, "%s", err.msg);
    cr_expect(mt.perm[0] == 0 && mt.perm[1] == 1);
    cr_expect(fabs(mt.neuron - 1) < 1e-12, "a and M are unchanged: %.12f", mt.neuron);
    cr_expect(fabs(mt.trial_corr[0] - 1) < 1e-12, "c_0 is unchanged: %.12f", mt.trial_corr[0]);
    /* the reversed factor's correlation with the original (computed here) */
    double mu = 0, mv = 0, uv = 0, uu = 0, vv = 0;
    for (size_t k = 0; k < 10; k++)
        mu += C[10 + k] / 10, mv += C2[10 + k] / 10;
    for (size_t k = 0; k < 10; k++) {
        double u = C[10 + k] - mu, v = C2[10 + k] - mv;
        uv += u * v, uu += u * u, vv += v * v;
    }
    cr_expect(fabs(mt.trial_corr[1] - uv / sqrt(uu * vv)) < 1e-12, "%.12f vs %.12f",
              mt.trial_corr[1], uv / sqrt(uu * vv));
    cr_expect_lt(mt.trial_corr[1], 0.9, "a reversed factor is not recovered");
    kpf_cp_free(&x);
    kpf_cp_free(&y);
    free(th2);
    free(th);
    kpf_ltr_data_free(d);
}

Test(ltr_match, kruskal_ranks_of_known_factor_sets)
{
    /* rows are factors of length 4 */
    const double ortho[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    const double dup[12] = {1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0};   /* two parallel */
    const double plane[12] = {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0}; /* three in a plane */
    cr_expect_eq(kpf_ltr_kruskal_rank(ortho, 3, 4, 1e-6), 3);
    cr_expect_eq(kpf_ltr_kruskal_rank(dup, 3, 4, 1e-6), 1);
    cr_expect_eq(kpf_ltr_kruskal_rank(plane, 3, 4, 1e-6), 2);
    double sv[3];
    cr_assert_eq(kpf_ltr_factor_sv(ortho, 3, 4, 0, sv, &err), KPF_OK);
    for (size_t i = 0; i < 3; i++)
        cr_expect(fabs(sv[i] - 1) < 1e-12, "sv %zu = %g", i, sv[i]);
    /* a constant plus a ramp: after centring the constant row is 0 */
    const double offs[8] = {1, 1, 1, 1, 1, 2, 3, 4};
    cr_assert_eq(kpf_ltr_factor_sv(offs, 2, 4, 0, sv, &err), KPF_OK);
    cr_expect_gt(sv[1], 0.1);
    cr_assert_eq(kpf_ltr_factor_sv(offs, 2, 4, 1, sv, &err), KPF_OK);
    cr_expect(fabs(sv[1]) < 1e-12 && fabs(sv[0] - 1) < 1e-12, "centred: %g %g", sv[0], sv[1]);
}

Test(ltr_match, a_fit_from_the_teacher_keeps_its_loss_and_every_restart_is_recorded)
{
    kpf_ltr_spec s;
    kpf_ltr_fit_opts o;
    kpf_ltr_data *d = NULL;
    double *th = NULL;
    size_t m = 0;
    teacher(&s, &o, &d, &th, &m);
    o.iterations = 3, o.lr = 1e-9, o.restarts = 2, o.seed = 7, o.theta_init = th;
    kpf_ltr_fit_result r;
    cr_assert_eq(kpf_ltr_fit(ltr, &s, d, NULL, NULL, &o, &r, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(r.restarts, 2);
    /* noise-free data: the teacher with M by least squares fits exactly, up
     * to the readout's ridge (1e-6 of the mean diagonal) */
    cr_expect_lt(r.restart_loss[0], 1e-7, "from the teacher: loss %g", r.restart_loss[0]);
    cr_expect_gt(r.restart_loss[1], 1e-4, "a random start: loss %g", r.restart_loss[1]);
    cr_expect_eq(r.seed, 7, "restart 0 is kept");
    cr_expect_eq(r.train_loss, r.restart_loss[0]);
    cr_expect(isnan(r.restart_test_uv[0]), "no test mask: NaN");
    const size_t oM = block_of(&s, "M").offset;
    for (size_t i = 0; i < oM; i++)
        cr_assert(fabs(r.restart_theta[i] - th[i]) < 1e-6, "θ[%zu] moved: %g vs %g", i,
                  r.restart_theta[i], th[i]);
    cr_expect(memcmp(r.theta, r.restart_theta, m * sizeof(double)) == 0, "kept θ = restart 0");
    kpf_ltr_fit_result_free(&r);
    free(th);
    kpf_ltr_data_free(d);
}

/* Adam hovers around a minimum; the BFGS polish converges: from the same
 * start, Adam + polish ends far below Adam alone, and from the teacher's θ
 * on noise-free data the polish stays at the teacher's (zero) loss. */
Test(ltr_match, the_bfgs_polish_converges_where_adam_hovers, .timeout = 120)
{
    kpf_ltr_spec s;
    kpf_ltr_fit_opts o;
    kpf_ltr_data *d = NULL;
    double *th = NULL;
    size_t m = 0;
    teacher(&s, &o, &d, &th, &m);
    s.c_init = 0.1, s.c_mean = 1.0;
    o.iterations = 100, o.lr = 0.05, o.seed = 11;
    kpf_ltr_fit_result adam, pol;
    cr_assert_eq(kpf_ltr_fit(ltr, &s, d, NULL, NULL, &o, &adam, &err), KPF_OK, "%s", err.msg);
    o.polish = 300;
    cr_assert_eq(kpf_ltr_fit(ltr, &s, d, NULL, NULL, &o, &pol, &err), KPF_OK, "%s", err.msg);
    cr_expect_lt(pol.train_loss, 0.5 * adam.train_loss, "Adam %g, + polish %g", adam.train_loss,
                 pol.train_loss);
    kpf_ltr_fit_result_free(&adam);
    kpf_ltr_fit_result_free(&pol);
    o.theta_init = th, o.iterations = 1, o.lr = 1e-12, o.polish = 50;
    cr_assert_eq(kpf_ltr_fit(ltr, &s, d, NULL, NULL, &o, &pol, &err), KPF_OK, "%s", err.msg);
    cr_expect_lt(pol.train_loss, 1e-7, "from the teacher: %g", pol.train_loss);
    kpf_ltr_fit_result_free(&pol);
    free(th);
    kpf_ltr_data_free(d);
}
