"""Reference risk-parity weights from `riskfolio-lib` (pip install riskfolio-lib), whose
`rp_optimization` solves the log-barrier (Spinu-type) convex program with Clarabel; the
solver tolerances are tightened to 1e-14 so that its weights are accurate to ~1e-9.

Writes, for each case, rp_<name>_cov.csv (square matrix, no header) or, for the 500-asset
case, rp_<name>_factors.csv (rows: k loadings then the specific variance; Σ = B Bᵀ + diag(d)),
rp_<name>_budget.csv when budgets are used (one per line), and rp_reference.json with the
weights. Also records the published example of Maillard, Roncalli & Teiletche (2010):
ERC weights 38.4 %, 19.2 %, 24.3 %, 18.2 % (rounded to 0.1 %).
Run from this directory:  python3 gen_risk_parity.py
"""
import json
import warnings

import numpy as np
import pandas as pd
import riskfolio as rp

warnings.filterwarnings("ignore")
TIGHT = {"CLARABEL": {"tol_gap_abs": 1e-14, "tol_gap_rel": 1e-14, "tol_feas": 1e-14,
                      "tol_ktratio": 1e-12, "max_iter": 500}}


def riskfolio_rp(cov, b=None):
    n = cov.shape[0]
    cols = [f"a{i}" for i in range(n)]
    ret = pd.DataFrame(np.random.default_rng(0).standard_normal((max(2 * n, 50), n)) * 0.01,
                       columns=cols)
    port = rp.Portfolio(returns=ret)
    port.assets_stats(method_mu="hist", method_cov="hist")
    port.cov = pd.DataFrame(cov, index=cols, columns=cols)
    port.solvers = ["CLARABEL"]
    port.sol_params = TIGHT
    bb = None if b is None else np.asarray(b).reshape(-1, 1)
    w = port.rp_optimization(model="Classic", rm="MV", rf=0, b=bb, hist=True)
    x = w.values.ravel()
    return x / x.sum()


def rc(cov, x):
    return x * (cov @ x) / (x @ cov @ x)


def random_cov(n, k, seed):
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.0, 0.15, (n, k))
    loadings[:, 0] = np.abs(loadings[:, 0]) + 0.05  # a market factor, positively loaded
    spec = rng.uniform(0.01, 0.09, n)
    return loadings, spec, loadings @ loadings.T + np.diag(spec)


def write_matrix(path, m):
    with open(path, "w") as f:
        for row in m:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def write_vec(path, v):
    with open(path, "w") as f:
        for x in v:
            f.write(repr(float(x)) + "\n")


def main():
    ref = {}
    sig = np.array([0.1, 0.2, 0.3, 0.4])
    corr = np.array([[1, 0.8, 0, 0], [0.8, 1, 0, 0], [0, 0, 1, -0.5], [0, 0, -0.5, 1]])
    cases = [("mrt2010", np.outer(sig, sig) * corr, None, None)]
    for name, n, k, seed, budgets in [("n10_budget", 10, 2, 11, True), ("n50", 50, 3, 12, False),
                                      ("n100_budget", 100, 4, 13, True), ("n500", 500, 5, 14, False)]:
        loadings, spec, cov = random_cov(n, k, seed)
        b = None
        if budgets:
            raw = np.random.default_rng(seed + 1000).uniform(0.5, 2.0, n)
            b = raw / raw.sum()
            # Written to 17 digits: normalize what the reader will see.
            b = np.array([float(repr(float(v))) for v in b])
        cases.append((name, cov, b, (loadings, spec) if n >= 500 else None))
    for name, cov, b, factors in cases:
        n = cov.shape[0]
        entry = {"n": n}
        if factors is None:
            write_matrix(f"rp_{name}_cov.csv", cov)
            entry["cov"] = f"rp_{name}_cov.csv"
        else:
            loadings, spec = factors
            write_matrix(f"rp_{name}_factors.csv", np.column_stack([loadings, spec]))
            entry["factors"] = f"rp_{name}_factors.csv"
            cov = loadings @ loadings.T + np.diag(spec)
        if b is not None:
            write_vec(f"rp_{name}_budget.csv", b)
            entry["budget"] = f"rp_{name}_budget.csv"
        w = riskfolio_rp(cov, b)
        target = b if b is not None else np.full(n, 1.0 / n)
        err = float(np.max(np.abs(rc(cov, w) / target - 1)))
        entry["weights"] = [float(v) for v in w]
        entry["reference_max_rel_rc_error"] = err
        print(name, n, "riskfolio max rel RC error", err)
        ref[name] = entry
    ref["mrt2010"]["published_weights"] = [0.384, 0.192, 0.243, 0.182]
    with open("rp_reference.json", "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
