"""Reference Ledoit-Wolf constant-correlation shrinkage from PyPortfolioOpt
(pip install pyportfolioopt). PyPortfolioOpt's `_ledoit_wolf_constant_correlation` takes its
sample covariance from pandas (divided by T - 1); the paper (and Ballast) divide by T, so the
sample matrix is replaced by the 1/T one before calling it.
Writes lw_returns.csv (T rows of n comma-separated returns, no header) and lw_reference.json.
Run from this directory:  python3 gen_shrinkage.py
"""
import json

import numpy as np
import pandas as pd
from pypfopt.risk_models import CovarianceShrinkage

T, N = 240, 8
rng = np.random.default_rng(77)
market = rng.standard_normal(T) * 0.01
loadings = rng.uniform(0.5, 1.5, N)
X = np.outer(market, loadings) + rng.standard_t(5, (T, N)) * 0.008
with open("lw_returns.csv", "w") as f:
    for row in X:
        f.write(",".join(repr(float(v)) for v in row) + "\n")
X = np.loadtxt("lw_returns.csv", delimiter=",")
df = pd.DataFrame(X, columns=[f"a{i}" for i in range(N)])
cs = CovarianceShrinkage(df, returns_data=True, frequency=1)
cs.S = df.cov(ddof=0).values
shrunk, delta = cs._ledoit_wolf_constant_correlation()
json.dump({"t": T, "n": N, "intensity": float(delta),
           "cov": [[float(v) for v in row] for row in shrunk]},
          open("lw_reference.json", "w"), indent=1)
print("delta", delta)
