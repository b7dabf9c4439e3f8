"""Risk-parity peers on the matrices of Ballast's `portfolio_solvers` bench.

Times `riskparityportfolio` (its compiled `vanilla.design`, Spinu coordinate descent in C++, at
its default tolerance 1e-4 and at 1e-12) and `riskfolio-lib` (`Portfolio.rp_optimization`, the
log-barrier convex program through cvxpy and Clarabel, default tolerances) on the SAME seeded
covariances and unequal budgets as the Rust bench, and prints each tool's median time, the
largest relative risk-contribution error it reaches (|RC_i - b_i| / b_i,
RC_i = w_i (S w)_i / w'S w) and its ratio to Ballast's cold and warm solves, read from the JSON
the bench writes (so the ratios cross two runs; Python's call overhead, about a microsecond, is
in the peers' figures). Neither peer takes a warm start, so both are timed cold on the moved
matrix as well ("after update").

How to run (not part of any test suite; touches the network only through pip):

    # 1. the Rust bench writes n{N}_cov.csv, n{N}_cov_moved.csv, n{N}_budgets.csv and
    #    ballast.json to $PORTFOLIO_BENCH_DIR (default: target/portfolio_matrices)
    cargo bench -p ballast-bench --bench portfolio_solvers
    # 2. the peers, in a throw-away virtual environment (riskparityportfolio imports jax)
    python3 -m venv /tmp/pyenv
    /tmp/pyenv/bin/pip install numpy riskparityportfolio riskfolio-lib jax
    # 3. this script, from the workspace root
    /tmp/pyenv/bin/python bench/py/portfolio_peers.py [--dir DIR] [--reps 21]

A peer that is not installed (or fails to import) is reported as missing and skipped.
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import pathlib
import statistics
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_csv(path):
    return np.loadtxt(path, delimiter=",", ndmin=2)


def max_rel_rc_error(cov, w, b):
    sw = cov @ w
    rc = w * sw / (w @ sw)
    return float(np.max(np.abs(rc / b - 1.0)))


def timed(fn, reps):
    """Median seconds of `reps` calls after one warm-up call, and the last result."""
    out = fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def load_vanilla():
    """`riskparityportfolio.vanilla.design`, or (None, reason). The package's __init__ imports
    jax; when that fails the compiled `vanilla` extension is loaded on its own."""
    try:
        import riskparityportfolio as rpp

        return rpp.vanilla.design, None
    except Exception as e:  # noqa: BLE001 - any import failure means "missing"
        reason = f"{type(e).__name__}: {e}"
    spec = importlib.util.find_spec("riskparityportfolio")
    if spec is None or not spec.submodule_search_locations:
        return None, reason
    for d in spec.submodule_search_locations:
        for f in pathlib.Path(d).glob("vanilla*.so"):
            loader = importlib.machinery.ExtensionFileLoader("vanilla", str(f))
            mod = importlib.util.module_from_spec(
                importlib.util.spec_from_loader("vanilla", loader))
            loader.exec_module(mod)
            return mod.design, None
    return None, reason


def load_riskfolio():
    try:
        import pandas as pd
        import riskfolio as rp
    except Exception as e:  # noqa: BLE001
        return None, f"{type(e).__name__}: {e}"

    def solve(cov, b):
        n = cov.shape[0]
        cols = [f"a{i}" for i in range(n)]
        ret = pd.DataFrame(np.random.default_rng(0).standard_normal((max(2 * n, 50), n)) * 0.01,
                           columns=cols)
        port = rp.Portfolio(returns=ret)
        port.assets_stats(method_mu="hist", method_cov="hist")
        port.cov = pd.DataFrame(cov, index=cols, columns=cols)
        port.solvers = ["CLARABEL"]
        w = port.rp_optimization(model="Classic", rm="MV", rf=0, b=b.reshape(-1, 1), hist=True)
        x = w.values.ravel()
        return x / x.sum()

    return solve, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=os.environ.get(
        "PORTFOLIO_BENCH_DIR", str(ROOT / "target" / "portfolio_matrices")))
    ap.add_argument("--reps", type=int, default=21, help="timed calls per figure (fast tools)")
    args = ap.parse_args()
    d = pathlib.Path(args.dir)
    bj = d / "ballast.json"
    if not bj.exists():
        sys.exit(f"{bj}: missing; run `cargo bench -p ballast-bench --bench portfolio_solvers`")
    ballast = {}
    for row in json.loads(bj.read_text())["rows"]:
        ballast[(row["n"], row["solver"])] = row

    peers = []
    design, why = load_vanilla()
    if design is None:
        print(f"riskparityportfolio: not available ({why}); skipped")
    else:
        # Its default stops at tol = 1e-4; the tight variant asks for Ballast's accuracy.
        peers.append(("rpp.vanilla (default tol)", lambda c, b: design(c, b)))
        peers.append(("rpp.vanilla (tol 1e-12)",
                      lambda c, b: design(c, b, tol=1e-12, maxiter=10000)))
    solve, why = load_riskfolio()
    if solve is None:
        print(f"riskfolio-lib: not available ({why}); skipped")
    else:
        peers.append(("riskfolio-lib (Clarabel)", solve))

    print(f"{'n':>4} {'solver':42} {'median µs':>11} {'max RC err':>10} "
          f"{'× Ballast cold':>15} {'× Ballast warm':>15}")
    for n in (10, 30, 100):
        paths = [d / f"n{n}_cov.csv", d / f"n{n}_cov_moved.csv", d / f"n{n}_budgets.csv"]
        if not all(p.exists() for p in paths):
            print(f"{n:>4} matrices missing in {d}; skipped")
            continue
        cov, moved, b = load_csv(paths[0]), load_csv(paths[1]), load_csv(paths[2]).ravel()
        cold = ballast.get((n, "erc_cold"))
        warm = ballast.get((n, "erc_warm"))
        for key, label in [("erc_cold", "Ballast ERC cold"), ("erc_warm", "Ballast ERC warm"),
                           ("erc_previous_cold", "Ballast ERC previous method")]:
            r = ballast.get((n, key))
            if r:
                print(f"{n:>4} {label:42} {r['median_us']:>11.2f} {r['max_rel_rc_error']:>10.1e} "
                      f"{r['median_us'] / cold['median_us']:>15.2f} "
                      f"{r['median_us'] / warm['median_us']:>15.2f}")
        for name, fn in peers:
            for what, m in [("", cov), (" after update", moved)]:
                reps = args.reps if "rpp" in name else max(3, args.reps // 4)
                try:
                    secs, w = timed(lambda m=m: fn(m, b), reps)
                except Exception as e:  # noqa: BLE001 - a peer failing is reported, not fatal
                    print(f"{n:>4} {name + what:42} failed: {type(e).__name__}: {e}")
                    continue
                us = secs * 1e6
                err = max_rel_rc_error(m, np.asarray(w, dtype=float).ravel(), b)
                print(f"{n:>4} {name + what:42} {us:>11.1f} {err:>10.1e} "
                      f"{us / cold['median_us']:>15.1f} {us / warm['median_us']:>15.1f}")


if __name__ == "__main__":
    main()
