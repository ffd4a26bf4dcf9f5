/* Schuessler et al.'s linear theory (linear_theory.h): the (1−g²)² speed-up,
 * the rank-one update along (I−W₀)⁻ᵀw ⊗ (I−W₀)⁻¹m and the shuffle test. */
#include <criterion/criterion.h>
#include <math.h>

#include "linear_theory.h"

static kpf_error err;


Test(linear_theory, linear_theory_speedup_is_one_minus_g2_squared, .timeout = 300)
{
    /* two networks per g (seeds 1, 2): τ* and ‖ΔW‖ are averaged, the rest
     * checked on each */
    const double gs[3] = {0.0, 0.3, 0.6};
    kpf_lin_result r[3], r2;
    for (int i = 0; i < 3; i++) {
        kpf_lin_opts o;
        kpf_lin_opts_default(&o);
        o.N = 400;
        o.g = gs[i];
        o.seed = 2;
        cr_assert_eq(kpf_dw_linear_theory(&o, &r2, &err), KPF_OK, "%s", err.msg);
        o.seed = 1;
        cr_assert_eq(kpf_dw_linear_theory(&o, &r[i], &err), KPF_OK, "%s", err.msg);
        cr_assert(!isnan(r[i].tau_star) && !isnan(r2.tau_star), "g = %g did not converge",
                  gs[i]);
        cr_expect_lt(r2.s[1], 0.05 * r2.s[0]);
        r[i].tau_star = 0.5 * (r[i].tau_star + r2.tau_star);
        r[i].dw_norm = 0.5 * (r[i].dw_norm + r2.dw_norm);
        /* one dominant singular value (eq. 14: s₂ = O(τ³)) */
        cr_expect_lt(r[i].s[1], 0.05 * r[i].s[0], "g = %g: s = %g, %g", gs[i], r[i].s[0],
                     r[i].s[1]);
        /* ΔW grows along (I−W₀)⁻ᵀw ⊗ (I−W₀)⁻¹m (eq. 11) */
        cr_expect_gt(r[i].proj_u, 0.95, "g = %g: |cos(u₁, Bᵀw)| = %g", gs[i], r[i].proj_u);
        cr_expect_gt(r[i].proj_v, 0.95, "g = %g: |cos(v₁, Bm)| = %g", gs[i], r[i].proj_v);
    }
    for (int i = 1; i < 3; i++) {
        double pred = pow(1 - gs[i] * gs[i], 2), got = r[i].tau_star / r[0].tau_star;
        cr_expect_lt(fabs(got / pred - 1), 0.10, "g = %g: τ*(g)/τ*(0) = %.4f, (1−g²)² = %.4f",
                     gs[i], got, pred);
        /* ‖ΔW‖ shrinks by about 1 − g² (first order) */
        double nr = r[i].dw_norm / r[0].dw_norm;
        cr_expect_lt(fabs(nr / (1 - gs[i] * gs[i]) - 1), 0.10, "g = %g: ‖ΔW‖ ratio %.3f",
                     gs[i], nr);
    }
    /* shuffling W₀ breaks the trained network at g = 0.6 (Fig. 4d) */
    cr_expect_gt(r[2].shuffle_loss, 4 * r[2].loss, "shuffle %g vs trained %g",
                 r[2].shuffle_loss, r[2].loss);
    cr_expect_gt(r[2].shuffle_loss / r[2].L0, 0.1, "L_shuf/L0 = %g (theory 0.35)",
                 r[2].shuffle_loss / r[2].L0);
}
