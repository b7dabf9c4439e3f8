"""Fit of the central-region rational in risk-core/src/greeks/normal.rs (constants N, M).

erfc(y)·e^{y²} ≈ P₈(y)/Q₈(y) on [0, B] (Q monic): linearized least squares on Chebyshev
points in 50-digit arithmetic, Sanathanan–Koerner iterations (weights 1/(f·Q_prev)), then
Lawson reweighting toward minimax; prints the best maximum relative error, the error with the
coefficients rounded to doubles, and the doubles.  `python3 fit_erfcx.py 8 8 4` (about a minute).
"""
import sys
from mpmath import mp, mpf, erfc, exp, matrix, qr_solve, cos, pi, sqrt

mp.dps = 50
NP, NQ, B = int(sys.argv[1]), int(sys.argv[2]), mpf(sys.argv[3])
M = 600
xs = [mpf(0)] + [B / 2 - B / 2 * cos(pi * (i + mpf(0.5)) / M) for i in range(M)] + [B]
fs = [erfc(x) * exp(x * x) for x in xs]


def horner(c, x):
    r = mpf(0)
    for a in reversed(c):
        r = r * x + a
    return r


lawson = [mpf(1)] * len(xs)
q = [mpf(1)]  # first pass: weights 1/f
best = None
for it in range(40):
    w = [l / (f * horner(q, x)) for l, x, f in zip(lawson, xs, fs)]
    rows = [[wi * x**j for j in range(NP + 1)] + [-wi * f * x**j for j in range(NQ)]
            for x, f, wi in zip(xs, fs, w)]
    rhs = [wi * f * x**NQ for x, f, wi in zip(xs, fs, w)]
    sol, _ = qr_solve(matrix(rows), matrix(rhs))
    p = [sol[j] for j in range(NP + 1)]
    q = [sol[NP + 1 + j] for j in range(NQ)] + [mpf(1)]
    errs = [horner(p, x) / horner(q, x) / f - 1 for x, f in zip(xs, fs)]
    m = max(abs(e) for e in errs)
    if best is None or m < best[0]:
        best = (m, p, q)
    print(it, mp.nstr(m, 5), file=sys.stderr)
    if it >= 8:
        lawson = [l * sqrt(abs(e) / m + mpf("1e-30")) for l, e in zip(lawson, errs)]
m, p, q = best
print("max rel", mp.nstr(m, 5))
pd, qd = [float(c) for c in p], [float(c) for c in q]
mx = max(abs(horner([mpf(c) for c in pd], x) / horner([mpf(c) for c in qd], x)
             / (erfc(x) * exp(x * x)) - 1) for x in (B * i / 4000 for i in range(4001)))
print("double-coef max rel", mp.nstr(mx, 5))
print("N", [repr(c) for c in pd])
print("M", [repr(c) for c in qd])
