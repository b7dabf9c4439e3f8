"""Fit of the implied-volatility lower-branch guess in risk-core/src/greeks/iv.rs (`bachelier_a`).

Inverts v = φ(a)/a − Φ(−a) (the small-s limit of the normalized Black price per unit of |x|,
v = β/|x|, a = |x|/s) for a, as a = L·P(y)/Q(y), y = √L, L = ln(1 + φ(0)/v), Q(0) = 1:
L ~ a for small a and ~ a²/2 for large a, so the form goes as L and as √(2L) at the two ends.
Linearized least squares (a·Q − L·P = 0, relative weights) in 30-digit arithmetic on a from
1e-3 to AMAX (log-spaced, plus a uniform grid on [0.01, 3], a realistic chain's range), with
Sanathanan–Koerner reweighting (1/(a·Q_prev)); prints the maximum relative error per iteration
and the coefficients, lowest power first. `python3 fit_bachelier_inverse.py 3 4 12` (seconds).
"""
import math
import sys

import mpmath as mp

mp.mp.dps = 30
NP, NQ = int(sys.argv[1]), int(sys.argv[2])
AMAX = float(sys.argv[3]) if len(sys.argv) > 3 else 12.0
PHI0 = 1 / mp.sqrt(2 * mp.pi)


def big_l(a):
    a = mp.mpf(a)
    v = mp.npdf(a) / a - mp.ncdf(-a)
    return mp.log(1 + PHI0 / v)


N = 400
pts = [1e-3 * math.exp(i / (N - 1) * math.log(AMAX / 1e-3)) for i in range(N)]
pts += [0.01 + 3.0 * i / 199 for i in range(200)]
data = [(mp.mpf(a), mp.sqrt(big_l(a)), big_l(a)) for a in pts]
w = [1 / d[0] for d in data]
for it in range(8):
    rows, rhs = [], []
    for (a, y, l), wi in zip(data, w):
        rows.append([-l * y**j * wi for j in range(NP + 1)] + [a * y**j * wi for j in range(1, NQ + 1)])
        rhs.append(-a * wi)
    sol = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))[0]
    p = [sol[j] for j in range(NP + 1)]
    q = [mp.mpf(1)] + [sol[NP + j] for j in range(1, NQ + 1)]
    errs, w = [], []
    for a, y, l in data:
        qv = sum(q[j] * y**j for j in range(NQ + 1))
        pv = sum(p[j] * y**j for j in range(NP + 1))
        errs.append(abs(l * pv / qv / a - 1))
        w.append(1 / (a * abs(qv)))
    print(it, "max rel err %.3e" % float(max(errs)), file=sys.stderr)
print("P", [float(v) for v in p])
print("Q", [float(v) for v in q])
