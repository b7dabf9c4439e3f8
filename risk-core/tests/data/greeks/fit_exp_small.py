"""Fit of EXP_SMALL_C in risk-core/src/greeks/elementary.rs (exp_small).

p(x) ≈ (e^x − 1 − x)/x² on [−H, H] by mpmath.chebyfit (near-minimax), degree D; prints the fit
error, the relative error of 1 + x + x²·p(x) with the coefficients rounded to doubles (evaluated
in 50 digits on 4,001 points), and the doubles, highest power first.
`python3 fit_exp_small.py 0.25 8` (a few seconds).
"""
import mpmath as mp, sys
mp.mp.dps = 50
H = mp.mpf(sys.argv[1]); deg = int(sys.argv[2])
def f(x):
    if abs(x) < mp.mpf('1e-30'): return mp.mpf(1)/2 + x/6
    return (mp.exp(x) - 1 - x) / x**2
poly, err = mp.chebyfit(f, [-H, H], deg + 1, error=True)
cs = [float(c) for c in poly]  # highest power first
print("fit err (abs on p)", mp.nstr(err, 3))
# error of e^x = 1 + (x + x^2 p(x)) with coefficients rounded, evaluated exactly
worst = 0
for i in range(4001):
    x = -H + 2*H*i/4000
    xd = mp.mpf(float(x))
    p = mp.mpf(0)
    for c in cs: p = p*xd + mp.mpf(c)
    v = 1 + xd + xd**2*p
    e = abs(v/mp.exp(xd) - 1)
    worst = max(worst, e)
print("rel err of e^x with doubles coefs", mp.nstr(worst, 3))
for c in cs: print(repr(c))
