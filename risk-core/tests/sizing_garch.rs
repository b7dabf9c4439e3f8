//! GARCH(1,1) and EWMA against the `arch` Python package's maximum-likelihood fits
//! (fixtures from `tests/data/sizing/gen_garch.py`): α, β within 0.005, log-likelihood within
//! 0.5, forecasts within 1 %.

use risk_core::vol::garch::{self, FitOptions, Innovation, MeanModel};
use risk_core::vol::Ewma;
use serde_json::Value;
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sizing")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(data_dir().join("garch_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Returns of a fixture: the `return` column, or log returns of the `price` column.
fn returns(file: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(data_dir().join(file)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let vals: Vec<f64> = lines.map(|l| l.trim().parse::<f64>().unwrap()).collect();
    if header == "price" {
        vals.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
    } else {
        vals
    }
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} missing"))
}

#[test]
fn garch_fits_match_arch() {
    let refs = reference();
    let mut checked = 0;
    for (name, case) in refs.as_object().unwrap() {
        if name.starts_with("ewma") {
            continue;
        }
        let r = returns(case["file"].as_str().unwrap());
        assert_eq!(r.len() as u64, case["n"].as_u64().unwrap());
        let opts = FitOptions {
            mean: if case["mean"] == "constant" {
                MeanModel::Constant
            } else {
                MeanModel::Zero
            },
            innovation: if case["dist"] == "t" {
                Innovation::StudentT
            } else {
                Innovation::Normal
            },
            std_errors: true,
        };
        let fit = garch::fit(&r, &opts).unwrap();
        let (da, db) = (
            fit.params.alpha - f(case, "alpha"),
            fit.params.beta - f(case, "beta"),
        );
        let dll = fit.loglik - f(case, "loglik");
        eprintln!(
            "{name}: alpha {:.6} ({da:+.2e}) beta {:.6} ({db:+.2e}) loglik {:.4} ({dll:+.2e})",
            fit.params.alpha, fit.params.beta, fit.loglik
        );
        assert!(fit.converged, "{name}: not converged");
        assert!(
            da.abs() < 0.005,
            "{name}: alpha {} vs {}",
            fit.params.alpha,
            f(case, "alpha")
        );
        assert!(
            db.abs() < 0.005,
            "{name}: beta {} vs {}",
            fit.params.beta,
            f(case, "beta")
        );
        assert!(
            dll.abs() < 0.5,
            "{name}: loglik {} vs {}",
            fit.loglik,
            f(case, "loglik")
        );
        // Never worse than the reference optimum by more than rounding.
        assert!(dll > -1e-3, "{name}: loglik below arch's by {dll}");
        assert!(
            ((fit.params.omega / f(case, "omega")) - 1.0).abs() < 0.1,
            "{name}: omega"
        );
        if opts.mean == MeanModel::Constant {
            assert!(
                (fit.mu - f(case, "mu")).abs() < 1e-4,
                "{name}: mu {} vs {}",
                fit.mu,
                f(case, "mu")
            );
        }
        if let Some(nu) = fit.nu {
            assert!(
                (nu - f(case, "nu")).abs() < 0.2,
                "{name}: nu {nu} vs {}",
                f(case, "nu")
            );
        }
        for (h, want) in case["forecast"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            let got = fit.forecast(h as u32 + 1);
            assert!(
                ((got / want) - 1.0).abs() < 0.01,
                "{name}: forecast h={} {got} vs {want}",
                h + 1
            );
        }
        // Robust standard errors agree with arch's sandwich to a coarse tolerance (away from
        // the alpha = 0 boundary, where they are not defined).
        if fit.params.alpha < 0.01 {
            checked += 1;
            continue;
        }
        let se = fit.std_errors.expect("standard errors").robust;
        let want_a = case["se_robust"]["alpha[1]"].as_f64().unwrap();
        assert!(
            ((se.alpha / want_a) - 1.0).abs() < 0.25,
            "{name}: se(alpha) {} vs {want_a}",
            se.alpha
        );
        checked += 1;
    }
    assert!(checked >= 7);
}

#[test]
fn online_filter_reproduces_the_fit_and_likelihood() {
    let refs = reference();
    let case = &refs["daily_normal"];
    let r = returns(case["file"].as_str().unwrap());
    let fit = garch::fit(&r, &FitOptions::default()).unwrap();
    // Start a filter at the backcast and run it over the sample: same next-step variance.
    let p = fit.params;
    let mut g = garch::Garch11::new(p, 0.0, p.omega + (p.alpha + p.beta) * fit.backcast).unwrap();
    for &x in &r {
        g.update(x);
    }
    assert!((g.variance() / fit.variance_next - 1.0).abs() < 1e-12);
    let ll = garch::loglikelihood(&p, 0.0, None, &r, fit.backcast);
    assert!((ll - fit.loglik).abs() < 1e-6);
    // arch's backcast definition.
    assert!((garch::backcast(&r) / fit.backcast - 1.0).abs() < 1e-12);
}

#[test]
fn ewma_with_backcast_seed_matches_arch_riskmetrics() {
    let refs = reference();
    let case = &refs["ewma_daily_normal"];
    let r = returns(case["file"].as_str().unwrap());
    let lambda = f(case, "lambda");
    let mut e = Ewma::seeded(lambda, garch::backcast(&r)).unwrap();
    let mut ll = 0.0;
    for &x in &r {
        let v = e.variance().unwrap();
        ll += -0.5 * ((2.0 * std::f64::consts::PI).ln() + v.ln() + x * x / v);
        e.update(x);
    }
    assert!(
        (ll - f(case, "loglik")).abs() < 1e-6,
        "{ll} vs {}",
        f(case, "loglik")
    );
    let want = case["forecast"][0].as_f64().unwrap();
    assert!((e.variance().unwrap() / want - 1.0).abs() < 1e-10);
}
