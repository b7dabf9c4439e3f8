"""Fit of EXP_SMALL_C in risk-core/src/greeks/elementary.rs (exp_small).

q(x) ≈ (e^x − 1)/x on [−H, H] by mpmath.chebyfit (near-minimax), D coefficients; prints the fit
error, the relative error of 1 + x·q(x) with the coefficients rounded to doubles (evaluated in
50 digits on 4,001 points), and the doubles, highest power first (the last one is 1).
`python3 fit_exp_small.py 0.25 10` (a few seconds).
"""
import sys

import mpmath as mp

mp.mp.dps = 50
H = mp.mpf(sys.argv[1])
D = int(sys.argv[2])


def f(x):
    if abs(x) < mp.mpf("1e-30"):
        return 1 + x / 2
    return (mp.exp(x) - 1) / x


poly, err = mp.chebyfit(f, [-H, H], D, error=True)
cs = [float(c) for c in poly]  # highest power first
print("fit error of q", mp.nstr(err, 3))
worst = 0
for i in range(4001):
    xd = mp.mpf(float(-H + 2 * H * i / 4000))
    q = mp.mpf(0)
    for c in cs:
        q = q * xd + mp.mpf(c)
    worst = max(worst, abs((1 + xd * q) / mp.exp(xd) - 1))
print("relative error of e^x with the doubles", mp.nstr(worst, 3))
for c in cs:
    print(repr(c))
