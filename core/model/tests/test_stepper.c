/* Steppers: accuracy against exact solutions of a linear ODE, convergence
 * order, exactness of the discrete tangent/adjoint, divergence reporting. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "kpf/instance.h"
#include "kpf/plugin.h"
#include "kpf/stepper.h"
#include "kpf/trajectory.h"

static kpf_registry *reg;
static kpf_config *cfg;
static kpf_model *m;
static kpf_error err;

static void make_model(const char *yaml)
{
    kpf_error_clear(&err);
    cr_assert_eq(kpf_registry_alloc(&reg, &err), KPF_OK);
    const kpf_plugin *p = NULL;
    cr_assert_eq(kpf_registry_add_file(reg, KPF_TEST_PLUGIN_DIR "/linode.so", &err), KPF_OK,
                 "%s", err.msg);
    cr_assert_eq(kpf_registry_find(reg, "linode", &p, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_config_load_string(yaml, "t.yaml", &cfg, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_model_create(p, kpf_config_root(cfg), 1, 1, 2, 7, &m, &err), KPF_OK, "%s",
                 err.msg);
}

static void cleanup(void)
{
    kpf_model_free(m);
    kpf_config_free(cfg);
    kpf_registry_free(reg);
    m = NULL;
    cfg = NULL;
    reg = NULL;
}

TestSuite(stepper, .fini = cleanup);

/* exp(A t) q, with A and q read from θ. */
static void exact(double t, double *z)
{
    size_t n = m->n;
    gsl_matrix *At = gsl_matrix_alloc(n, n), *E = gsl_matrix_alloc(n, n);
    for (size_t i = 0; i < n * n; i++)
        At->data[i] = m->theta[i] * t;
    cr_assert_eq(gsl_linalg_exponential_ss(At, E, GSL_PREC_DOUBLE), 0);
    const double *q = m->theta + kpf_model_block(m, "q")->offset;
    for (size_t i = 0; i < n; i++) {
        z[i] = 0;
        for (size_t j = 0; j < n; j++)
            z[i] += gsl_matrix_get(E, i, j) * q[j];
    }
    gsl_matrix_free(At);
    gsl_matrix_free(E);
}

/* Max abs error at t_end = 2 for step size dt (x = 0). */
static double error_at_end(double dt)
{
    m->dt = dt;
    size_t T = (size_t)lround(2.0 / dt);
    kpf_traj *tr = NULL;
    cr_assert_eq(kpf_traj_alloc(m, 2, T, &tr, &err), KPF_OK, "%s", err.msg);
    cr_assert_eq(kpf_simulate(m, tr, &err), KPF_OK, "%s", err.msg);
    double z[16], e = 0;
    exact(2.0, z);
    for (size_t b = 0; b < 2; b++)
        for (size_t i = 0; i < m->n; i++)
            e = fmax(e, fabs(tr->z[((T - 1) * 2 + b) * m->n + i] - z[i]));
    kpf_traj_free(tr);
    return e;
}

Test(stepper, rk4_matches_matrix_exponential_with_order_4)
{
    make_model("n: 4\nstep: rk4\n");
    cr_assert_str_eq(m->stepper->name, "rk4");
    double e1 = error_at_end(0.1), e2 = error_at_end(0.05), e3 = error_at_end(0.025);
    cr_assert_lt(e1, 1e-4, "rk4 error %g at dt 0.1", e1);
    double p1 = log2(e1 / e2), p2 = log2(e2 / e3);
    cr_assert(fabs(p1 - 4) < 0.3 && fabs(p2 - 4) < 0.3, "observed orders %g, %g", p1, p2);
}

Test(stepper, euler_has_order_1)
{
    make_model("n: 4\nstep: euler\n");
    double e1 = error_at_end(0.02), e2 = error_at_end(0.01);
    double p = log2(e1 / e2);
    cr_assert(fabs(p - 1) < 0.1, "observed order %g", p);
}

/* For f = A z the RK4 map is the degree-4 Taylor polynomial of exp(hA):
 * the tangent must reproduce it exactly and the adjoint its transpose. */
Test(stepper, rk4_tangent_and_adjoint_are_the_exact_discrete_linearisation)
{
    make_model("n: 5\nstep: rk4\ndt: 0.3\n");
    size_t n = 5;
    kpf_traj *tr = NULL;
    cr_assert_eq(kpf_traj_alloc(m, 1, 1, &tr, &err), KPF_OK);
    cr_assert_eq(kpf_simulate(m, tr, &err), KPF_OK, "%s", err.msg);
    kpf_step_rows s = kpf_traj_step_rows(tr, 0);
    double v[5] = {0.3, -1.2, 0.5, 2.0, -0.7}, out[5], outT[5], p[5], pT[5], term[5], termT[5];
    memcpy(term, v, sizeof v);
    memcpy(termT, v, sizeof v);
    memcpy(p, v, sizeof v);
    memcpy(pT, v, sizeof v);
    const double *A = m->theta, h = 0.3;
    for (int k = 1; k <= 4; k++) { /* term_k = (hA)^k v / k! */
        double nt[5] = {0}, ntT[5] = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                nt[i] += h * A[i * n + j] * term[j] / k;
                ntT[i] += h * A[j * n + i] * termT[j] / k;
            }
        for (size_t i = 0; i < n; i++) {
            term[i] = nt[i];
            termT[i] = ntT[i];
            p[i] += nt[i];
            pT[i] += ntT[i];
        }
    }
    cr_assert_eq(kpf_step_tangent(m, &s, v, out, &err), KPF_OK);
    cr_assert_eq(kpf_step_adjoint(m, &s, v, outT, &err), KPF_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_float_eq(out[i], p[i], 1e-13, "tangent[%zu] %g vs %g", i, out[i], p[i]);
        cr_assert_float_eq(outT[i], pT[i], 1e-13, "adjoint[%zu] %g vs %g", i, outT[i], pT[i]);
    }
    kpf_traj_free(tr);
}

Test(stepper, learned_initial_state_is_used)
{
    make_model("n: 3\n");
    kpf_traj *tr = NULL;
    cr_assert_eq(kpf_traj_alloc(m, 3, 2, &tr, &err), KPF_OK);
    cr_assert_eq(kpf_simulate(m, tr, &err), KPF_OK, "%s", err.msg);
    const double *q = m->theta + kpf_model_block(m, "q")->offset;
    for (size_t b = 0; b < 3; b++)
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq(tr->z0[b * 3 + i], q[i]);
    kpf_traj_free(tr);
}

Test(stepper, divergence_names_step_and_trial)
{
    make_model("n: 3\ndecay: -50\nstep: euler\ndt: 1\n");
    kpf_traj *tr = NULL;
    cr_assert_eq(kpf_traj_alloc(m, 2, 400, &tr, &err), KPF_OK);
    int rc = kpf_simulate(m, tr, &err);
    cr_assert_eq(rc, KPF_ENUMERIC, "status %d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, "non-finite state at step"), "%s", err.msg);
    cr_assert(strstr(err.msg, "of trial"), "%s", err.msg);
    kpf_traj_free(tr);
}

Test(stepper, discrete_keys_rejected_and_lookup)
{
    cr_assert_null(kpf_stepper_by_name("midpoint"));
    cr_assert_eq(kpf_stepper_by_name("rk4"), &kpf_stepper_rk4);
    make_model("n: 2\n");
    cr_assert_float_eq(m->dt, 0.1, 0, "plugin default dt not used");
    cr_assert_str_eq(m->stepper->name, "euler");
}
