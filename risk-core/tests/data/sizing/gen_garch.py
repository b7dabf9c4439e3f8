"""Reference GARCH(1,1) / EWMA fits from the `arch` package (pip install arch numpy pandas).

Simulates seeded GARCH series of 5,000 returns, fits them with arch's maximum likelihood
(returns used as given: rescale=False) and writes:
  garch_<name>.csv        header `return` (or `price` for the price case), one value per line
  garch_reference.json    arch's estimates, log-likelihoods and 1..5-step variance forecasts
Run from this directory:  python3 gen_garch.py
"""
import json

import numpy as np
from arch import arch_model
from arch.univariate import ZeroMean, EWMAVariance

H = 5
CASES = [
    # name, omega, alpha, beta, innovations, scale of returns, mean, seed, written as prices
    ("daily_normal", 2e-6, 0.08, 0.90, "normal", 1.0, 0.0, 101, False),
    ("pct_normal", 0.05, 0.12, 0.83, "normal", 1.0, 0.0, 202, False),
    ("hf_lowalpha", 1e-9, 0.03, 0.96, "normal", 1.0, 0.0, 303, False),
    ("tdist", 3e-6, 0.10, 0.86, "t6", 1.0, 0.0, 404, False),
    ("mean_price", 1e-5, 0.06, 0.92, "normal", 1.0, 4e-4, 505, True),
    # White noise: the optimum sits near the alpha = 0 boundary (a hard case for optimizers).
    ("white_noise", 1e-4, 0.0, 0.0, "normal", 1.0, 0.0, 606, False),
    ("near_boundary", 1e-4, 0.0, 0.0, "normal", 1.0, 0.0, 707, False),
]


def simulate(n, omega, alpha, beta, innov, mean, seed):
    if seed == 707:
        # Plain white noise whose GARCH optimum is interior but close to alpha = 0.
        return np.random.default_rng(5).standard_normal(n) * 0.01
    rng = np.random.default_rng(seed)
    if innov == "normal":
        z = rng.standard_normal(n + 500)
    else:
        nu = 6.0
        z = rng.standard_t(nu, n + 500) * np.sqrt((nu - 2) / nu)
    h = omega / (1 - alpha - beta)
    out = np.empty(n + 500)
    for t in range(n + 500):
        e = np.sqrt(h) * z[t]
        out[t] = mean + e
        h = omega + alpha * e * e + beta * h
    return out[500:]


def main():
    ref = {}
    for name, omega, alpha, beta, innov, _scale, mean, seed, as_price in CASES:
        r = simulate(5000, omega, alpha, beta, innov, mean, seed)
        if as_price:
            prices = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
            with open(f"garch_{name}.csv", "w") as f:
                f.write("price\n")
                for p in prices:
                    f.write(repr(float(p)) + "\n")
            # What the CLI does with --prices: log returns of the written (rounded) prices.
            r = np.diff(np.log(np.array([float(repr(float(p))) for p in prices])))
        else:
            with open(f"garch_{name}.csv", "w") as f:
                f.write("return\n")
                for x in r:
                    f.write(repr(float(x)) + "\n")
        mean_kind = "Constant" if mean != 0.0 else "Zero"
        dist = "t" if innov != "normal" else "normal"
        # arch's SLSQP stalls at its starting values on returns of order 1e-3 (it warns and
        # suggests rescaling), so fit c·r with c = 1/std(r) and map back: the Gaussian/t GARCH
        # likelihood is scale-equivariant (omega scales by 1/c², mu by 1/c, the backcast by
        # 1/c², the log-likelihood shifts by n·ln c), so this is the MLE of the returns as given.
        c = 1.0 / np.std(r)
        am = arch_model(c * r, mean=mean_kind, vol="GARCH", p=1, q=1, dist=dist, rescale=False)
        res = am.fit(disp="off", options={"ftol": 1e-14, "maxiter": 2000})
        assert res.convergence_flag == 0, (name, res.optimization_result)
        fc = res.forecast(horizon=H, reindex=False).variance.values[-1] / c**2
        p = res.params.copy()
        p["omega"] /= c**2
        if "mu" in p:
            p["mu"] /= c
        loglik = res.loglikelihood + len(r) * np.log(c)
        se = res.std_err.copy()
        se["omega"] /= c**2
        if "mu" in se:
            se["mu"] /= c
        entry = {
            "file": f"garch_{name}.csv",
            "prices": as_price,
            "mean": mean_kind.lower(),
            "dist": dist,
            "n": int(len(r)),
            "omega": float(p["omega"]),
            "alpha": float(p["alpha[1]"]),
            "beta": float(p["beta[1]"]),
            "mu": float(p["mu"]) if "mu" in p else 0.0,
            "nu": float(p["nu"]) if "nu" in p else None,
            "loglik": float(loglik),
            "forecast": [float(v) for v in fc],
            "se_robust": {k: float(v) for k, v in se.items()},
            "true": {"omega": omega, "alpha": alpha, "beta": beta},
        }
        ref[name] = entry
        print(name, entry["alpha"], entry["beta"], entry["loglik"])
    # EWMA (RiskMetrics, lambda 0.94) on the first series, arch's backcast initialization.
    r = np.loadtxt("garch_daily_normal.csv", skiprows=1)
    em = ZeroMean(r, volatility=EWMAVariance(0.94), rescale=False)
    eres = em.fit(disp="off")  # nothing to estimate: lambda is fixed
    efc = eres.forecast(horizon=H, reindex=False).variance.values[-1]
    ref["ewma_daily_normal"] = {
        "file": "garch_daily_normal.csv",
        "lambda": 0.94,
        "loglik": float(eres.loglikelihood),
        "forecast": [float(v) for v in efc],
    }
    with open("garch_reference.json", "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
