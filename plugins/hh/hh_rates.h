/* hh_rates.h — the classic Hodgkin–Huxley opening/closing rates (squid
 * axon, resting potential −65 mV convention, V in mV, rates in 1/ms) and
 * their derivatives in V.  Internal to the hh plugin. */
#ifndef KPF_HH_RATES_H
#define KPF_HH_RATES_H

/* One gate's rates α, β at V and dα/dV, dβ/dV. */
typedef struct hh_rate {
    double a, b, da, db;
} hh_rate;

/*   α_m = 0.1 (V+40) / (1 − e^{−(V+40)/10})   β_m = 4 e^{−(V+65)/18}
 *   α_h = 0.07 e^{−(V+65)/20}                 β_h = 1 / (1 + e^{−(V+35)/10})
 *   α_n = 0.01 (V+55) / (1 − e^{−(V+55)/10})  β_n = 0.125 e^{−(V+65)/80}
 * α_m and α_n have removable singularities at V = −40 and −55 mV; they are
 * evaluated through y/(e^y − 1) (the reciprocal of GSL's exprel) with
 * expm1, so they and their derivatives are finite and smooth everywhere. */
void hh_rates(double V, hh_rate *m, hh_rate *n, hh_rate *h);

/* q(y) = y / (e^y − 1) = 1 / exprel(y), q(0) = 1, and q'(y). */
double hh_q(double y);
double hh_dq(double y);

#endif
