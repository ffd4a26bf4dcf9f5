/* Hodgkin–Huxley rate functions (see hh_rates.h).
 *
 * GSL's gsl_sf_exprel would serve for 1/q, but on overflow (V far below the
 * physiological range) it reports through gsl_error, whose default handler
 * aborts; a plugin must never abort, so q is written with expm1, which is
 * accurate to a few ulps for every y and overflows quietly to ±inf/0. */
#include "hh_rates.h"

#include <math.h>

double hh_q(double y)
{
    return y == 0.0 ? 1.0 : y / expm1(y);
}

/* q'(y) = −q (1 − 1/y + 1/(e^y − 1)); near 0 that cancels, so its Taylor
 * series (from the Bernoulli numbers) is used for |y| < 0.1, where the
 * first omitted term is below 1e-16. */
double hh_dq(double y)
{
    if (fabs(y) < 0.1) {
        double y2 = y * y;
        return -0.5 + y * (1.0 / 6.0 +
                           y2 * (-1.0 / 180.0 + y2 * (1.0 / 5040.0 + y2 * (-1.0 / 151200.0))));
    }
    double e = expm1(y);
    if (isinf(e)) /* y > ~709: q and q' are 0 to double precision */
        return 0.0;
    return -(y / e) * (1.0 - 1.0 / y + 1.0 / e);
}

/* q and q' with one expm1. */
static void q_dq(double y, double *q, double *dq)
{
    if (fabs(y) < 0.1) {
        *q = hh_q(y);
        *dq = hh_dq(y);
        return;
    }
    double e = expm1(y);
    *q = y / e;
    *dq = isinf(e) ? 0.0 : -*q * (1.0 - 1.0 / y + 1.0 / e);
}

void hh_rates(double V, hh_rate *m, hh_rate *n, hh_rate *h)
{
    double ym = -(V + 40.0) / 10.0, yn = -(V + 55.0) / 10.0, q, dq;
    q_dq(ym, &q, &dq);
    m->a = q;
    m->da = -dq / 10.0;
    m->b = 4.0 * exp(-(V + 65.0) / 18.0);
    m->db = -m->b / 18.0;

    q_dq(yn, &q, &dq);
    n->a = 0.1 * q;
    n->da = -0.01 * dq;
    n->b = 0.125 * exp(-(V + 65.0) / 80.0);
    n->db = -n->b / 80.0;

    h->a = 0.07 * exp(-(V + 65.0) / 20.0);
    h->da = -h->a / 20.0;
    h->b = 1.0 / (1.0 + exp(-(V + 35.0) / 10.0));
    h->db = h->b * (1.0 - h->b) / 10.0;
}
