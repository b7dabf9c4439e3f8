//! The allocation on a covariance held fixed: equal to the solvers `ballast size erc` and
//! `ballast size kelly` call, risk contributions at budget, and each portfolio limit binding and
//! named.

mod common;

use portfolio::allocate::risk_contributions;
use portfolio::{Allocator, FactorBinding};
use risk_core::kelly::{KellyOptions, KellySolver};
use risk_core::risk_parity::RiskParitySolver;

/// A 3-factor annualized covariance (vols 50 %, 70 %, 90 %; correlations 0.6, 0.4, 0.5).
const COV: [f64; 9] = [
    0.25,
    0.6 * 0.5 * 0.7,
    0.4 * 0.5 * 0.9,
    0.6 * 0.5 * 0.7,
    0.49,
    0.5 * 0.7 * 0.9,
    0.4 * 0.5 * 0.9,
    0.5 * 0.7 * 0.9,
    0.81,
];

fn three_factors(extra: &str) -> portfolio::PortfolioSpec {
    common::spec_with(|s| {
        let s = s.replace(
            "[[factors]]\nname = \"ETH\"\nbudget = 0.4\n",
            "[[factors]]\nname = \"ETH\"\nbudget = 0.3\nexpected_return = 0.4\n\n[[factors]]\nname = \"SOL\"\nbudget = 0.1\nexpected_return = 0.2\n\n[[instruments]]\nmarket = \"binance-usdm\"\nsymbol = \"SOLUSDT\"\nfactor = \"SOL\"\naccount = \"usdm\"\ncontract = \"linear\"\nlot = 1.0\n",
        );
        let s = s.replace(
            "name = \"BTC\"\nbudget = 0.6\n",
            "name = \"BTC\"\nbudget = 0.6\nexpected_return = 0.3\n",
        );
        format!("{extra}\n{s}")
    })
}

fn allocate(
    spec: &portfolio::PortfolioSpec,
) -> (Vec<f64>, Vec<FactorBinding>, portfolio::AllocReport) {
    let mut a = Allocator::new(3);
    let mut e = vec![0.0; 3];
    let mut b = vec![FactorBinding::Model; 3];
    let r = a.allocate(spec, &[0, 1, 2], &COV, &mut e, &mut b).unwrap();
    (e, b, r)
}

#[test]
fn risk_parity_equals_the_solver_of_size_erc_and_hits_the_budgets() {
    let spec = three_factors("");
    let (e, b, r) = allocate(&spec);
    assert!(b.iter().all(|x| *x == FactorBinding::Model));
    let mut w = vec![0.0; 3];
    RiskParitySolver::new(3)
        .solve(&COV, 3, Some(&[0.6, 0.3, 0.1]), &mut w)
        .unwrap();
    let total: f64 = e.iter().sum();
    for (ei, wi) in e.iter().zip(&w) {
        assert!((ei / total - wi).abs() < 1e-10, "{ei} {wi}");
    }
    let mut rc = [0.0; 3];
    let mut sx = [0.0; 3];
    assert!(risk_contributions(&COV, &e, &mut sx, &mut rc));
    for (x, b) in rc.iter().zip([0.6, 0.3, 0.1]) {
        assert!((x - b).abs() / b < 1e-8, "{x} {b}");
    }
    assert!((r.portfolio_vol - 0.3).abs() < 1e-12);
}

#[test]
fn kelly_equals_the_solver_of_size_kelly() {
    let spec = three_factors("").clone();
    let spec = portfolio::PortfolioSpec {
        policy: portfolio::Policy::Kelly,
        target_vol: None,
        kelly_fraction: 0.5,
        ..spec
    };
    let (e, b, _) = allocate(&spec);
    assert!(b.iter().all(|x| *x == FactorBinding::Model));
    let mut f = vec![0.0; 3];
    KellySolver::new(3)
        .solve(
            &[0.3, 0.4, 0.2],
            &COV,
            &KellyOptions {
                rf: 0.0,
                fraction: 0.5,
                max_gross_leverage: None,
            },
            &mut f,
        )
        .unwrap();
    for (ei, fi) in e.iter().zip(&f) {
        assert!((ei / spec.capital - fi).abs() < 1e-10, "{ei} {fi}");
    }
}

#[test]
fn each_portfolio_limit_binds_and_is_named() {
    // Kelly above its volatility ceiling.
    let spec = portfolio::PortfolioSpec {
        policy: portfolio::Policy::Kelly,
        target_vol: Some(0.05),
        ..three_factors("")
    };
    let (_, b, r) = allocate(&spec);
    assert!(b.iter().all(|x| *x == FactorBinding::VolTarget), "{b:?}");
    assert!((r.portfolio_vol - 0.05).abs() < 1e-12);
    assert_eq!(FactorBinding::VolTarget.as_str(), "vol_target");

    // A factor cap clips one factor.
    let mut spec = three_factors("");
    spec.factors[2].max_weight = 0.01;
    let (e, b, _) = allocate(&spec);
    assert_eq!(b[2], FactorBinding::FactorCap);
    assert_eq!(b[0], FactorBinding::Model);
    assert!((e[2] - 0.01 * spec.capital).abs() < 1e-6);
    assert_eq!(b[2].as_str(), "factor_cap");

    // Gross, then net leverage scale all (risk shares unchanged).
    for (gross, net, want) in [
        (0.2, f64::INFINITY, FactorBinding::GrossLeverage),
        (f64::INFINITY, 0.15, FactorBinding::NetLeverage),
    ] {
        let spec = portfolio::PortfolioSpec {
            max_gross_leverage: gross,
            max_net_leverage: net,
            ..three_factors("")
        };
        let (e, b, r) = allocate(&spec);
        assert!(b.iter().all(|x| *x == want), "{b:?}");
        let lev = e.iter().map(|x| x.abs()).sum::<f64>() / spec.capital;
        assert!((lev - gross.min(net)).abs() < 1e-12, "{lev}");
        assert!((r.gross_leverage - lev).abs() < 1e-12);
        let mut rc = [0.0; 3];
        let mut sx = [0.0; 3];
        risk_contributions(&COV, &e, &mut sx, &mut rc);
        assert!((rc[0] - 0.6).abs() < 1e-8);
    }
    assert_eq!(FactorBinding::GrossLeverage.as_str(), "gross_leverage");
    assert_eq!(FactorBinding::NetLeverage.as_str(), "net_leverage");
}

#[test]
fn spec_errors_name_their_key() {
    let cases = [
        ("budget = 0.6", "budget = 0.7", "budgets sum to"),
        (
            "factor = \"ETH\"",
            "factor = \"DOGE\"",
            "instruments[1].factor",
        ),
        (
            "account = \"spot\"",
            "account = \"coinm\"",
            "instruments[2].account",
        ),
        (
            "market = \"binance-spot\"",
            "market = \"binance-perp\"",
            "instruments[2].market",
        ),
        ("lambda = 0.9", "lambda = 1.5", "covariance.lambda"),
        (
            "target_vol = 0.3",
            "target_vol = 0.3\nsignals = \"mu.csv\"",
            "portfolio.signals",
        ),
    ];
    for (from, to, want) in cases {
        let spec = common::spec_with(|s| s.replacen(from, to, 1));
        let err = spec.check().unwrap_err().to_string();
        assert!(err.contains(want), "{to}: {err}");
    }
    let bad = toml::from_str::<portfolio::PortfolioSpec>(
        &common::SPEC.replace("policy = \"risk-parity\"", "policy = \"equal\""),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("risk-parity") && bad.contains("kelly"),
        "{bad}"
    );
}

#[test]
fn covariance_shrinkage_is_a_number_or_ledoit_wolf() {
    use portfolio::spec::Shrinkage;
    for (text, want) in [
        ("shrinkage = 0.25", Shrinkage::Fixed(0.25)),
        ("shrinkage = 1", Shrinkage::Fixed(1.0)),
        ("shrinkage = \"ledoit-wolf\"", Shrinkage::LedoitWolf),
    ] {
        let spec = common::spec_with(|s| s.replacen("shrinkage = 0.0", text, 1));
        assert_eq!(spec.covariance.shrinkage, want, "{text}");
        spec.check().unwrap();
    }
    assert_eq!(
        common::spec_with(str::to_owned).covariance.shrinkage,
        Shrinkage::Fixed(0.0)
    );
    // Absent: the default fixed intensity.
    let spec = common::spec_with(|s| s.replacen("shrinkage = 0.0\n", "", 1));
    assert_eq!(spec.covariance.shrinkage, Shrinkage::Fixed(0.1));
    // A number out of range: the check names the key.
    let e = common::spec_with(|s| s.replacen("shrinkage = 0.0", "shrinkage = 1.5", 1))
        .check()
        .unwrap_err();
    assert_eq!(e.key, "portfolio.covariance.shrinkage");
    assert!(e.message.contains("ledoit-wolf"), "{e}");
    // Any other string or type: the parser points at the key's line and says what is allowed.
    for bad in ["\"ledoit_wolf\"", "\"oas\"", "true", "[0.1]"] {
        let text = common::SPEC.replacen("shrinkage = 0.0", &format!("shrinkage = {bad}"), 1);
        let e = toml::from_str::<portfolio::PortfolioSpec>(&text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("shrinkage = {bad}"))
                && e.contains("`ledoit-wolf`")
                && e.contains("[0, 1]"),
            "{bad}: {e}"
        );
    }
}
