#!/usr/bin/env python3
"""Arbitrary-precision references for risk-core's Greeks and implied-volatility tests.

Independent of the Rust code: closed-form Black-Scholes-Merton / Black-76 formulas evaluated with
mpmath at 60 significant digits on inputs that are exact binary64 values (printed with repr, so
the Rust side parses the same doubles). Run from this directory:

    pip install mpmath && python3 gen_references.py

Writes normal_cdf.csv, bsm_black76.csv and implied_vol.csv (seeded; reproducible).
"""
import csv
import random

from mpmath import mp, mpf, sqrt, log, exp, ncdf, npdf, erfc, findroot

mp.dps = 60
rng = random.Random(20240611)


def g17(x):
    """Shortest repr of the double nearest to an mpf."""
    return repr(float(x))


def bsm(model, kind, s, k, t, vol, r, q):
    s, k, t, vol, r, q = map(mpf, (s, k, t, vol, r, q))
    if model == "black76":
        q = r
    w = 1 if kind == "call" else -1
    v = vol * sqrt(t)
    d1 = (log(s / k) + (r - q) * t) / v + v / 2
    d2 = d1 - v
    dq, dr = exp(-q * t), exp(-r * t)
    n1, n2 = ncdf(w * d1), ncdf(w * d2)
    price = w * (s * dq * n1 - k * dr * n2)
    delta = w * dq * n1
    gamma = dq * npdf(d1) / (s * v)
    vega = s * dq * npdf(d1) * sqrt(t)
    theta = -s * dq * npdf(d1) * vol / (2 * sqrt(t)) + w * (q * s * dq * n1 - r * k * dr * n2)
    rho = -t * price if model == "black76" else w * k * t * dr * n2
    vanna = -dq * npdf(d1) * d2 / vol
    volga = vega * d1 * d2 / vol
    return [price, delta, gamma, vega, theta, rho, vanna, volga]


def sample_case():
    model = rng.choice(["bsm", "black76"])
    kind = rng.choice(["call", "put"])
    s = float(mpf(100) * exp(mpf(rng.uniform(-3, 3))))
    t = float(exp(mpf(rng.uniform(float(log(0.005)), float(log(5))))))
    v = exp(mpf(rng.uniform(float(log(1e-3)), float(log(3)))))
    vol = float(v / sqrt(mpf(t)))
    r = rng.choice([0.0, round(rng.uniform(-0.02, 0.12), 4)])
    q = 0.0 if model == "black76" else rng.choice([0.0, round(rng.uniform(-0.01, 0.08), 4)])
    z = mpf(rng.uniform(-6, 6))
    qq = r if model == "black76" else q
    f = mpf(s) * exp((mpf(r) - mpf(qq)) * mpf(t))
    k = float(f * exp(-z * mpf(vol) * sqrt(mpf(t))))
    return model, kind, s, k, t, vol, r, q


def main():
    with open("normal_cdf.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["x", "cdf", "erfc"])
        xs = [0.0, 1e-300, -1e-300, 1e-10, -1e-10]
        xs += [rng.uniform(-40, 10) for _ in range(3000)]
        xs += [rng.uniform(-1.5, 1.5) for _ in range(1000)]
        xs += [-38.4, -37.5, -30.0, -26.5, -10.0, -8.0, -6.0, -5.65, -5.6568, -0.6629, -0.66291, 0.66291, 5.6568, 8.0, 8.3]
        for x in xs:
            w.writerow([repr(x), g17(ncdf(mpf(x))), g17(erfc(mpf(x)))])

    with open("bsm_black76.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "kind", "underlying", "strike", "t", "vol", "r", "q",
                    "price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga"])
        for _ in range(4000):
            c = sample_case()
            out = bsm(*c)
            w.writerow([c[0], c[1]] + [repr(x) for x in c[2:]] + [g17(x) for x in out])

    with open("implied_vol.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "kind", "underlying", "strike", "t", "r", "q", "price", "iv", "tv_rel"])
        n = 0
        while n < 3000:
            model, kind, s, k, t, vol, r, q = sample_case()
            price = float(bsm(model, kind, s, k, t, vol, r, q)[0])
            # Time value relative to the underlying.
            qq = r if model == "black76" else q
            wk = 1 if kind == "call" else -1
            intr = max(wk * (mpf(s) * exp(-mpf(qq) * t) - mpf(k) * exp(-mpf(r) * t)), 0)
            tv = mpf(price) - intr
            tv_rel = tv / mpf(s)
            if tv_rel < mpf("1e-14"):
                continue
            iv = findroot(lambda x: bsm(model, kind, s, k, t, x, r, q)[0] - mpf(price), mpf(vol),
                          tol=mpf(10) ** -50)
            w.writerow([model, kind, repr(s), repr(k), repr(t), repr(r), repr(q), repr(price),
                        g17(iv), g17(tv_rel)])
            n += 1


if __name__ == "__main__":
    main()
