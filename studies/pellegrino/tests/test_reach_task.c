/* `reach_curl` (reach_task.c): shapes, masks, periods, the task conformance
 * checks, and the ground truth of its inverse-dynamics formulation — the
 * target forces, held over each step and integrated through the point-mass
 * plant (m ÿ = u + b R ẏ) by an independent RK4, put the hand on the
 * minimum-jerk reach and on the target, with and without the curl field. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "kpf/check.h"
#include "reach_task.h"
#include "test_util.h"

static kpf_error err;

typedef struct made {
    kpf_config *cfg;
    kpf_task *task;
    kpf_task_batch *bt;
} made;

/* The `task:` map "{name: reach_curl, …}" for keys "{…}". */
static const char *named(const char *keys)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "{name: reach_curl%s%s", keys[1] == '}' ? "" : ", ", keys + 1);
    return buf;
}

/* The task from YAML keys ("{key: value, …}") and one batch of B trials. */
static made make(const char *keys, size_t B, unsigned long seed)
{
    made m = {0};
    const kpf_task_desc *d = kpf_pellegrino_task_descriptor(0);
    cr_assert_eq(kpf_config_load_string(named(keys), "(test)", &m.cfg, &err), KPF_OK, "%s",
                 err.msg);
    cr_assert_eq(kpf_task_create_from(&d, 1, kpf_config_root(m.cfg), &m.task, &err), KPF_OK,
                 "%s", err.msg);
    cr_assert_eq(kpf_task_batch_alloc(m.task, B, &m.bt, &err), KPF_OK, "%s", err.msg);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    cr_assert_eq(kpf_task_generate(m.task, r, m.bt, &err), KPF_OK, "%s", err.msg);
    gsl_rng_free(r);
    return m;
}

static void unmake(made *m)
{
    kpf_task_batch_free(m->bt);
    kpf_task_free(m->task);
    kpf_config_free(m->cfg);
}

static int create_rc(const char *keys)
{
    kpf_config *cfg = NULL;
    kpf_task *task = NULL;
    const kpf_task_desc *d = kpf_pellegrino_task_descriptor(0);
    cr_assert_eq(kpf_config_load_string(named(keys), "(test)", &cfg, &err), KPF_OK, "%s",
                 err.msg);
    int rc = kpf_task_create_from(&d, 1, kpf_config_root(cfg), &task, &err);
    if (!rc) /* as a run does after loading every section */
        rc = kpf_config_check_unused(cfg, &err);
    kpf_task_free(task);
    kpf_config_free(cfg);
    return rc;
}

Test(reach_task, descriptor_enumerates_one_task)
{
    const kpf_task_desc *d = kpf_pellegrino_task_descriptor(0);
    cr_assert_not_null(d);
    cr_assert_str_eq(d->name, "reach_curl");
    cr_assert_null(kpf_pellegrino_task_descriptor(1));
    cr_assert_eq(kpf_task_desc_validate(d, "test", &err), KPF_OK, "%s", err.msg);
}

Test(reach_task, min_jerk_profile)
{
    double s, ds, dds;
    kpf_reach_min_jerk(0.5, &s, &ds, &dds);
    cr_assert_float_eq(s, 0.5, 1e-15);
    cr_assert_float_eq(ds, 1.875, 1e-15); /* peak speed 15/8 */
    cr_assert_float_eq(dds, 0.0, 1e-15);
    kpf_reach_min_jerk(-0.1, &s, &ds, &dds);
    cr_assert(s == 0.0 && ds == 0.0 && dds == 0.0);
    kpf_reach_min_jerk(1.2, &s, &ds, &dds);
    cr_assert(s == 1.0 && ds == 0.0 && dds == 0.0);
    /* ds and dds are the derivatives of s (central differences) */
    for (double t = 0.05; t < 1.0; t += 0.1) {
        double a, b, da, db, v, acc;
        const double h = 1e-6;
        kpf_reach_min_jerk(t + h, &a, &da, NULL);
        kpf_reach_min_jerk(t - h, &b, &db, NULL);
        kpf_reach_min_jerk(t, NULL, &v, &acc);
        cr_assert_float_eq((a - b) / (2 * h), v, 1e-7, "t=%g", t);
        cr_assert_float_eq((da - db) / (2 * h), acc, 1e-6, "t=%g", t);
    }
}

/* Default keys: 3 inputs, 2 outputs, T = 4/0.1 = 40; the target is shown
 * with the hold cue for the first 20 steps, then the inputs are 0; every
 * step is scored; the force is 0 before the go cue and after the reach. */
Test(reach_task, shapes_inputs_masks_periods)
{
    made m = make("{}", 64, 3);
    const kpf_task_batch *bt = m.bt;
    cr_assert_eq(m.task->n_in, 3);
    cr_assert_eq(m.task->n_out, 2);
    cr_assert_eq(m.task->T, 40);
    int seen[8] = {0};
    for (size_t b = 0; b < bt->B; b++) {
        const int k = bt->cond[b];
        cr_assert(k >= 0 && k < 8);
        seen[k] = 1;
        const double th = 2 * M_PI * k / 8.0;
        for (size_t t = 0; t < bt->T; t++) {
            const double *x = bt->x + (t * bt->B + b) * 3, *y = bt->y + (t * bt->B + b) * 2;
            const int p = bt->period[t * bt->B + b];
            cr_assert_eq(bt->mask[t * bt->B + b], 1.0);
            if (t < 20) {
                cr_assert_eq(p, 0);
                cr_assert_float_eq(x[0], cos(th), 1e-15);
                cr_assert_float_eq(x[1], sin(th), 1e-15);
                cr_assert_eq(x[2], 1.0);
                cr_assert(y[0] == 0.0 && y[1] == 0.0, "force before the go cue");
            } else {
                cr_assert(x[0] == 0.0 && x[1] == 0.0 && x[2] == 0.0);
                cr_assert_eq(p, t < 30 ? 2 : 3, "t=%zu", t); /* reach for t_move = 1 */
                if (t >= 30)
                    cr_assert(y[0] == 0.0 && y[1] == 0.0, "force after the reach");
                else /* b = 0: the force points along ±e */
                    cr_assert_float_eq(y[0] * sin(th) - y[1] * cos(th), 0.0, 1e-12);
            }
        }
    }
    for (int k = 0; k < 8; k++)
        cr_assert(seen[k], "target %d never drawn in 64 trials", k);
    unmake(&m);
}

/* The same seed gives the same batch, another seed other targets. */
Test(reach_task, deterministic_given_the_seed)
{
    made a = make("{curl: 1.5}", 32, 7), b = make("{curl: 1.5}", 32, 7),
         c = make("{curl: 1.5}", 32, 8);
    const size_t ny = 40 * 32 * 2;
    cr_assert_eq(memcmp(a.bt->y, b.bt->y, ny * sizeof(double)), 0);
    cr_assert_eq(memcmp(a.bt->cond, b.bt->cond, 32 * sizeof(int)), 0);
    cr_assert_neq(memcmp(a.bt->cond, c.bt->cond, 32 * sizeof(int)), 0);
    unmake(&a);
    unmake(&b);
    unmake(&c);
}

/* ---- ground truth: the target forces through the plant ----------------- */

/* d/dt (p, v) for m v̇ = u + b R v, R v = (v_y, −v_x). */
static void plant_rhs(const double s[4], const double u[2], double m, double curl, double out[4])
{
    out[0] = s[2];
    out[1] = s[3];
    out[2] = (u[0] + curl * s[3]) / m;
    out[3] = (u[1] - curl * s[2]) / m;
}

/* One step of length dt with u held, by RK4 in `sub` substeps. */
static void plant_step(double s[4], const double u[2], double m, double curl, double dt, int sub)
{
    const double h = dt / sub;
    for (int i = 0; i < sub; i++) {
        double k1[4], k2[4], k3[4], k4[4], tmp[4];
        plant_rhs(s, u, m, curl, k1);
        for (int j = 0; j < 4; j++) tmp[j] = s[j] + 0.5 * h * k1[j];
        plant_rhs(tmp, u, m, curl, k2);
        for (int j = 0; j < 4; j++) tmp[j] = s[j] + 0.5 * h * k2[j];
        plant_rhs(tmp, u, m, curl, k3);
        for (int j = 0; j < 4; j++) tmp[j] = s[j] + h * k3[j];
        plant_rhs(tmp, u, m, curl, k4);
        for (int j = 0; j < 4; j++) s[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    }
}

/* Drive the plant (mass m, curl field `plant_curl`) with trial b's target
 * forces; the largest distance from the min-jerk reach at the step
 * boundaries, and the final hand position in *end. */
static double drive(const made *mk, size_t b, double m, double plant_curl, double dt,
                    double t_go, double t_move, double dist, double end[2])
{
    const kpf_task_batch *bt = mk->bt;
    const double th = 2 * M_PI * bt->cond[b] / 8.0;
    double s[4] = {0, 0, 0, 0}, worst = 0;
    for (size_t t = 0; t < bt->T; t++) {
        plant_step(s, bt->y + (t * bt->B + b) * 2, m, plant_curl, dt, 20);
        double p;
        kpf_reach_min_jerk(((double)(t + 1) * dt - t_go) / t_move, &p, NULL, NULL);
        const double ex = hypot(s[0] - dist * p * cos(th), s[1] - dist * p * sin(th));
        worst = fmax(worst, ex);
    }
    end[0] = s[0] - dist * cos(th);
    end[1] = s[1] - dist * sin(th);
    return worst;
}

/* Baseline (b = 0): the hand follows the min-jerk reach within O(dt²)
 * (4.9e-3 distances at dt = 0.1) and ends on the target, for every target;
 * with m = 2 and d = 1.5 as well. */
Test(reach_task, baseline_forces_reach_the_target_through_the_plant)
{
    made m = make("{}", 16, 1);
    for (size_t b = 0; b < 16; b++) {
        double end[2];
        const double worst = drive(&m, b, 1.0, 0.0, 0.1, 2.0, 1.0, 1.0, end);
        cr_assert_lt(worst, 6e-3, "trial %zu: %g off the reach", b, worst); /* 4.9e-3 */
        cr_assert_lt(hypot(end[0], end[1]), 2e-3, "trial %zu misses the target", b);
    }
    unmake(&m);
    made h = make("{mass: 2, distance: 1.5, dt: 0.05, t_move: 1.5}", 8, 2);
    for (size_t b = 0; b < 8; b++) {
        double end[2];
        const double worst = drive(&h, b, 2.0, 0.0, 0.05, 2.0, 1.5, 1.5, end);
        cr_assert_lt(worst, 2e-3, "trial %zu: %g off the reach", b, worst);
        cr_assert_lt(hypot(end[0], end[1]), 1e-3);
    }
    unmake(&h);
}

/* Curl field b = 2: the task's forces compensate it exactly (the hand in
 * the curled plant follows the same reach), while the baseline forces in
 * the curled plant — the naive network on its first perturbed trial — and
 * the compensating forces without the field both miss by a lot. */
Test(reach_task, curl_forces_compensate_the_field)
{
    made cu = make("{curl: 2}", 8, 5), base = make("{}", 8, 5);
    for (size_t b = 0; b < 8; b++) {
        cr_assert_eq(cu.bt->cond[b], base.bt->cond[b]); /* same draws */
        double end[2];
        double worst = drive(&cu, b, 1.0, 2.0, 0.1, 2.0, 1.0, 1.0, end);
        cr_assert_lt(worst, 1e-2, "compensated trial %zu: %g off the reach", b, worst);
        cr_assert_lt(hypot(end[0], end[1]), 5e-3);
        worst = drive(&base, b, 1.0, 2.0, 0.1, 2.0, 1.0, 1.0, end);
        cr_assert_gt(worst, 1.0, "uncompensated trial %zu only %g off", b, worst);
        worst = drive(&cu, b, 1.0, 0.0, 0.1, 2.0, 1.0, 1.0, end);
        cr_assert_gt(worst, 1.0, "over-compensated trial %zu only %g off", b, worst);
    }
    unmake(&cu);
    unmake(&base);
}

/* The gap to the reach is second order in dt: halving dt quarters it. */
Test(reach_task, the_gap_to_the_reach_is_second_order_in_dt)
{
    made a = make("{dt: 0.1}", 1, 4), b = make("{dt: 0.05}", 1, 4);
    double end[2];
    const double ea = drive(&a, 0, 1.0, 0.0, 0.1, 2.0, 1.0, 1.0, end);
    const double eb = drive(&b, 0, 1.0, 0.0, 0.05, 2.0, 1.0, 1.0, end);
    cr_assert(ea / eb > 3.5 && ea / eb < 4.5, "dt 0.1: %g, dt 0.05: %g", ea, eb);
    unmake(&a);
    unmake(&b);
}

/* t_react delays the movement: the hand waits, still, then reaches. */
Test(reach_task, reaction_time_delays_the_reach)
{
    made m = make("{t_react: 0.5, t_end: 4.5}", 4, 9);
    cr_assert_eq(m.task->T, 45);
    const kpf_task_batch *bt = m.bt;
    for (size_t t = 20; t < 25; t++) {
        cr_assert_eq(bt->period[t * bt->B], 1);
        cr_assert(fabs(bt->y[t * bt->B * 2]) < 1e-12 && fabs(bt->y[t * bt->B * 2 + 1]) < 1e-12);
    }
    cr_assert_eq(bt->period[25 * bt->B], 2);
    for (size_t b = 0; b < 4; b++) {
        double end[2];
        cr_assert_lt(drive(&m, b, 1.0, 0.0, 0.1, 2.5, 1.0, 1.0, end), 6e-3);
    }
    unmake(&m);
}

/* ---- checks and configuration errors -------------------------------------- */

static void check_passes(const char *keys)
{
    kpf_config *cfg = NULL;
    kpf_task_check_opts o;
    kpf_task_check_opts_default(&o);
    if (keys) {
        cr_assert_eq(kpf_config_load_string(keys, "(test)", &cfg, &err), KPF_OK, "%s",
                     err.msg);
        o.task = kpf_config_root(cfg);
    }
    kpf_check_report rep;
    cr_assert_eq(kpf_check_task(kpf_pellegrino_task_descriptor(0), &o, &rep, &err), KPF_OK,
                 "%s", err.msg);
    for (size_t i = 0; i < rep.n_items; i++)
        cr_expect(rep.items[i].pass, "%s: %s: %s", keys ? keys : "{}", rep.items[i].name,
                  rep.items[i].detail);
    cr_assert_eq(rep.n_failed, 0);
    cr_assert_gt(rep.n_items, 5);
    kpf_check_report_free(&rep);
    kpf_config_free(cfg);
}

Test(reach_task, passes_the_task_checks)
{
    check_passes(NULL);
    check_passes("{curl: -3, mass: 0.5, t_react: 0.2, targets: 4}");
}

Test(reach_task, bad_keys_are_located_config_errors)
{
    cr_assert_eq(create_rc("{t_move: 2.5}"), KPF_ECONFIG); /* ends after t_end */
    cr_assert(strstr(err.msg, "t_move"), "%s", err.msg);
    cr_assert_eq(create_rc("{t_go: 0.05}"), KPF_ECONFIG); /* under one step */
    cr_assert_eq(create_rc("{targets: 0}"), KPF_ECONFIG);
    cr_assert_eq(create_rc("{mass: 0}"), KPF_ECONFIG);
    cr_assert_eq(create_rc("{curl_strength: 1}"), KPF_ECONFIG); /* not a key */
    cr_assert_eq(create_rc("{curl: -1.5, t_react: 0.3}"), KPF_OK, "%s", err.msg);
}

/* The kpf command registers the task with the studies: check-plugin finds
 * it by name. */
Test(reach_task, the_kpf_command_knows_it, .init = tu_mktmp, .fini = tu_rmtmp)
{
    cr_assert_eq(tu_sh("%s check-plugin reach_curl --task-set curl=1", KPF_CLI_PATH), 0, "%s",
                 tu_out);
}
