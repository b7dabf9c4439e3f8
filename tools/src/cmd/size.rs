//! `ballast size`: Kelly fractions, risk-parity weights and liquidation-aware sizes from CSV
//! inputs (headerless, comma-separated, one row per line).

use super::vol::{read_square, read_vector};
use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use risk_core::kelly::{KellyOptions, KellySolver};
use risk_core::linalg::{self, LinalgError};
use risk_core::margin::{
    max_safe_qty, Contract, MarginMode, MarginTiers, MmrTier, Position, SafeSizeBound,
    SafeSizeSpec, Side,
};
use risk_core::risk_parity::{risk_contributions, RiskParitySolver};
use std::path::{Path, PathBuf};

/// `ballast size`.
#[derive(Debug, Args)]
pub struct SizeArgs {
    #[command(subcommand)]
    cmd: SizeCmd,
}

#[derive(Debug, Subcommand)]
enum SizeCmd {
    /// Many-asset Kelly fractions f = c Σ⁻¹(μ − r) (Cholesky solve); prints CSV `asset,fraction`
    /// (assets numbered from 1 in the order of MU's rows). Full Kelly and no leverage cap unless
    /// asked for.
    Kelly(KellyArgs),
    /// Risk-parity weights (equal risk contribution, or the budgets of --budget); prints CSV
    /// `asset,weight,risk_contribution` with weights summing to 1 and contributions as shares of
    /// total risk.
    Erc(ErcArgs),
    /// Liquidation price of a perpetual/futures position with tiered maintenance margin and,
    /// with --sigma, --horizon and --k, the largest safe position opened at the entry price.
    /// Prints CSV `key,value` lines.
    ///
    /// --mmr-tiers FILE: CSV, one bracket per line, `notional_floor,mmr[,maint_amount]` (Binance's
    /// bracket shape), an optional header line; floors start at 0 and increase, in quote for
    /// linear contracts and in coin for inverse ones; mmr is a fraction (0.004 = 0.4 %).
    /// Maintenance margin = notional × mmr − maint_amount; the amounts, when given, must make it
    /// continuous across brackets (they are derived when the column is left out).
    Liq(LiqArgs),
}

#[derive(Debug, Args)]
struct KellyArgs {
    /// Expected returns, one per line.
    #[arg(long)]
    mu: PathBuf,
    /// Covariance matrix (square, symmetric positive definite), same units as MU.
    #[arg(long)]
    cov: PathBuf,
    /// Risk-free rate r, same units as MU.
    #[arg(long, default_value_t = 0.0)]
    rf: f64,
    /// Fractional Kelly c in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    fraction: f64,
    /// Cap on gross leverage Σ|fᵢ| (the portfolio is scaled down uniformly).
    #[arg(long)]
    max_leverage: Option<f64>,
}

#[derive(Debug, Args)]
struct ErcArgs {
    /// Covariance matrix (square, symmetric positive definite).
    #[arg(long)]
    cov: PathBuf,
    /// Risk budgets, one positive number per line, summing to 1 (default: equal).
    #[arg(long)]
    budget: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ContractArg {
    /// Quote-margined: qty in base units, collateral in quote.
    Linear,
    /// Coin-margined: qty is the face value in quote, collateral in coin.
    Inverse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SideArg {
    /// Long.
    Long,
    /// Short.
    Short,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MarginArg {
    /// Isolated margin: --collateral backs the position alone.
    Isolated,
    /// Cross margin: --collateral is the wallet balance, with --others-upnl and --others-mm.
    Cross,
}

#[derive(Debug, Args)]
struct LiqArgs {
    /// Contract type.
    #[arg(long, value_enum)]
    contract: ContractArg,
    /// Side.
    #[arg(long, value_enum)]
    side: SideArg,
    /// Entry price (also the mark for the safe-size computation).
    #[arg(long)]
    entry: f64,
    /// Position size: base units (linear) or quote face value (inverse).
    #[arg(long)]
    qty: f64,
    /// Collateral: quote (linear) or coin (inverse); the wallet balance under cross margin.
    #[arg(long)]
    collateral: f64,
    /// Maintenance-margin brackets (see above).
    #[arg(long)]
    mmr_tiers: PathBuf,
    /// Margin mode.
    #[arg(long, value_enum, default_value = "isolated")]
    margin: MarginArg,
    /// Cross margin: unrealized PnL of the other positions.
    #[arg(long, default_value_t = 0.0)]
    others_upnl: f64,
    /// Cross margin: maintenance margin of the other positions.
    #[arg(long, default_value_t = 0.0)]
    others_mm: f64,
    /// Volatility of returns per unit of --horizon (e.g. daily σ with a horizon in days).
    #[arg(long, requires_all = ["horizon", "k"])]
    sigma: Option<f64>,
    /// Horizon in the units of --sigma.
    #[arg(long, requires = "sigma")]
    horizon: Option<f64>,
    /// Buffer in standard deviations: the liquidation price stays k·σ·√horizon (relative) away.
    #[arg(long, requires = "sigma")]
    k: Option<f64>,
    /// Highest margin ratio (maintenance / equity) allowed at the mark for the safe size.
    #[arg(long, default_value_t = 1.0)]
    max_margin_ratio: f64,
}

/// Run `ballast size`.
///
/// # Errors
/// Unreadable or malformed input, named by file, row and column; invalid parameters.
pub fn run(args: SizeArgs) -> anyhow::Result<()> {
    let out = match args.cmd {
        SizeCmd::Kelly(a) => kelly(&a)?,
        SizeCmd::Erc(a) => erc(&a)?,
        SizeCmd::Liq(a) => liq(&a)?,
    };
    print!("{out}");
    Ok(())
}

/// A covariance matrix read and checked: square, symmetric, positive definite.
fn read_cov(path: &Path) -> anyhow::Result<(Vec<f64>, usize)> {
    let (cov, n) = read_square(path)?;
    match linalg::check_symmetric(&cov, n) {
        Ok(()) => {}
        Err(LinalgError::NotSymmetric { row, col }) => bail!(
            "{}: row {}, column {}: covariance is not symmetric ({} vs {} at row {}, column {})",
            path.display(),
            row + 1,
            col + 1,
            cov[row * n + col],
            cov[col * n + row],
            col + 1,
            row + 1
        ),
        Err(e) => bail!("{}: {e}", path.display()),
    }
    let mut l = vec![0.0; n * n];
    if let Err(LinalgError::NotPositiveDefinite { index, pivot }) =
        linalg::cholesky(&cov, n, &mut l)
    {
        bail!(
            "{}: row {}, column {}: covariance is not positive definite (Cholesky pivot {} = {pivot:e}; \
             singular or indefinite matrix)",
            path.display(),
            index + 1,
            index + 1,
            index + 1
        );
    }
    Ok((cov, n))
}

fn num(v: f64) -> String {
    format!("{v}")
}

fn kelly(a: &KellyArgs) -> anyhow::Result<String> {
    if !(a.fraction > 0.0 && a.fraction <= 1.0) {
        bail!("--fraction {} must be in (0, 1]", a.fraction);
    }
    if let Some(l) = a.max_leverage {
        if !(l > 0.0 && l.is_finite()) {
            bail!("--max-leverage {l} must be positive");
        }
    }
    if !a.rf.is_finite() {
        bail!("--rf must be finite");
    }
    let mu = read_vector(&a.mu)?;
    let (cov, n) = read_cov(&a.cov)?;
    if mu.len() != n {
        let row = mu.get(n).map_or(mu.last().map_or(1, |r| r.0 + 1), |r| r.0);
        bail!(
            "{}: row {row}, column 1: {} expected returns but {} is {n}x{n}",
            a.mu.display(),
            mu.len(),
            a.cov.display()
        );
    }
    let mu: Vec<f64> = mu.into_iter().map(|(_, v)| v).collect();
    let mut solver = KellySolver::new(n);
    let mut f = vec![0.0; n];
    let opts = KellyOptions {
        rf: a.rf,
        fraction: a.fraction,
        max_gross_leverage: a.max_leverage,
    };
    solver
        .solve(&mu, &cov, &opts, &mut f)
        .context("Kelly solve")?;
    let mut out = String::from("asset,fraction\n");
    for (i, x) in f.iter().enumerate() {
        out.push_str(&format!("{},{}\n", i + 1, num(*x)));
    }
    Ok(out)
}

fn erc(a: &ErcArgs) -> anyhow::Result<String> {
    let (cov, n) = read_cov(&a.cov)?;
    let budgets = match &a.budget {
        None => None,
        Some(p) => {
            let b = read_vector(p)?;
            if b.len() != n {
                let row = b.get(n).map_or(b.last().map_or(1, |r| r.0 + 1), |r| r.0);
                bail!(
                    "{}: row {row}, column 1: {} budgets but {} is {n}x{n}",
                    p.display(),
                    b.len(),
                    a.cov.display()
                );
            }
            for &(row, v) in &b {
                if !(v > 0.0) {
                    bail!(
                        "{}: row {row}, column 1: budget {v} is not positive",
                        p.display()
                    );
                }
            }
            let sum: f64 = b.iter().map(|r| r.1).sum();
            if (sum - 1.0).abs() > 1e-9 {
                bail!(
                    "{}: rows {}-{}, column 1: budgets sum to {sum}, not 1",
                    p.display(),
                    b[0].0,
                    b[b.len() - 1].0
                );
            }
            Some(b.into_iter().map(|r| r.1).collect::<Vec<f64>>())
        }
    };
    let mut solver = RiskParitySolver::new(n);
    let mut w = vec![0.0; n];
    solver
        .solve(&cov, n, budgets.as_deref(), &mut w)
        .with_context(|| format!("{}: risk-parity solve", a.cov.display()))?;
    let mut rc = vec![0.0; n];
    risk_contributions(&cov, n, &w, &mut rc)?;
    let mut out = String::from("asset,weight,risk_contribution\n");
    for i in 0..n {
        out.push_str(&format!("{},{},{}\n", i + 1, num(w[i]), num(rc[i])));
    }
    Ok(out)
}

/// Read `notional_floor,mmr[,maint_amount]` brackets.
fn read_tiers(path: &Path) -> anyhow::Result<MarginTiers> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // An optional header: a first non-blank line whose first cell is not a number.
    let first = text.lines().position(|l| !l.trim().is_empty());
    let skip_header = first.is_some_and(|i| {
        let c = text
            .lines()
            .nth(i)
            .unwrap_or("")
            .split(',')
            .next()
            .unwrap_or("")
            .trim();
        c.parse::<f64>().is_err()
            && c.chars().any(|ch| ch.is_ascii_alphabetic())
            && !c.eq_ignore_ascii_case("nan")
            && !c.to_ascii_lowercase().contains("inf")
    });
    let body: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if skip_header && Some(i) == first {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let tmp_rows = parse_rows(path, &body)?;
    let cols = tmp_rows[0].1.len();
    if !(2..=3).contains(&cols) {
        bail!(
            "{}: row {}, column {}: expected 2 or 3 columns (notional_floor,mmr[,maint_amount]), found {cols}",
            path.display(),
            tmp_rows[0].0,
            cols.min(3) + 1
        );
    }
    let brackets: Vec<MmrTier> = tmp_rows
        .iter()
        .map(|(_, v)| MmrTier {
            notional_floor: v[0],
            mmr: v[1],
            maint_amount: v.get(2).copied().unwrap_or(0.0),
        })
        .collect();
    let res = if cols == 3 {
        MarginTiers::with_amounts(&brackets)
    } else {
        let pairs: Vec<(f64, f64)> = brackets.iter().map(|b| (b.notional_floor, b.mmr)).collect();
        MarginTiers::new(&pairs)
    };
    res.map_err(|e| {
        use risk_core::margin::MarginError as E;
        let (idx, col) = match e {
            E::Floors { index } => (index, 1),
            E::Rate { index } => (index, 2),
            E::Amount { index, .. } => (index, 3),
            E::TierCount(_) | E::BadInput(_) => (0, 1),
        };
        let row = tmp_rows.get(idx).map_or(1, |r| r.0);
        anyhow::anyhow!("{}: row {row}, column {col}: {e}", path.display())
    })
}

/// Rows of numbers of `body` (lines numbered as in the file), same length each.
fn parse_rows(path: &Path, body: &str) -> anyhow::Result<Vec<(usize, Vec<f64>)>> {
    let mut rows: Vec<(usize, Vec<f64>)> = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let vals = line
            .split(',')
            .enumerate()
            .map(|(j, c)| super::vol::cell(path, i + 1, j + 1, None, c))
            .collect::<anyhow::Result<Vec<f64>>>()?;
        if let Some((r0, first)) = rows.first() {
            if vals.len() != first.len() {
                bail!(
                    "{}: row {}, column {}: {} columns, row {r0} has {}",
                    path.display(),
                    i + 1,
                    vals.len().min(first.len()) + 1,
                    vals.len(),
                    first.len()
                );
            }
        }
        rows.push((i + 1, vals));
    }
    if rows.is_empty() {
        bail!("{}: no brackets in the file", path.display());
    }
    Ok(rows)
}

fn liq(a: &LiqArgs) -> anyhow::Result<String> {
    for (name, v) in [("--entry", a.entry), ("--qty", a.qty)] {
        if !(v > 0.0 && v.is_finite()) {
            bail!("{name} {v} must be positive");
        }
    }
    for (name, v) in [
        ("--collateral", a.collateral),
        ("--others-upnl", a.others_upnl),
        ("--others-mm", a.others_mm),
    ] {
        if !v.is_finite() {
            bail!("{name} must be finite");
        }
    }
    let tiers = read_tiers(&a.mmr_tiers)?;
    let contract = match a.contract {
        ContractArg::Linear => Contract::Linear,
        ContractArg::Inverse => Contract::Inverse,
    };
    let side = match a.side {
        SideArg::Long => Side::Long,
        SideArg::Short => Side::Short,
    };
    let mode = match a.margin {
        MarginArg::Isolated => MarginMode::Isolated {
            collateral: a.collateral,
        },
        MarginArg::Cross => MarginMode::Cross {
            wallet_balance: a.collateral,
            others_unrealized_pnl: a.others_upnl,
            others_maintenance: a.others_mm,
        },
    };
    let pos = Position {
        contract,
        side,
        entry_px: a.entry,
        qty: a.qty,
    };
    let c = mode.effective_collateral();
    let mut out = String::from("key,value\n");
    match pos.liquidation_price(&tiers, &mode) {
        Some(p) => out.push_str(&format!("liquidation_price,{}\n", num(p))),
        None => out.push_str("liquidation_price,none\n"),
    }
    out.push_str(&format!(
        "maintenance_margin,{}\n",
        num(pos.maintenance_margin(&tiers, a.entry))
    ));
    let ratio = pos.margin_ratio(&tiers, c, a.entry);
    out.push_str(&format!(
        "margin_ratio,{}\n",
        if ratio.is_finite() {
            num(ratio)
        } else {
            "inf".into()
        }
    ));
    if let (Some(sigma), Some(horizon), Some(k)) = (a.sigma, a.horizon, a.k) {
        let spec = SafeSizeSpec {
            contract,
            side,
            mark_px: a.entry,
            collateral: c,
            sigma,
            horizon,
            k,
            max_margin_ratio: a.max_margin_ratio,
        };
        let s = max_safe_qty(&spec, &tiers).context("largest safe position")?;
        let fmt = |q: f64| if q.is_finite() { num(q) } else { "inf".into() };
        out.push_str(&format!("buffer_price,{}\n", num(spec.buffer_px())));
        out.push_str(&format!("max_safe_qty,{}\n", fmt(s.qty)));
        out.push_str(&format!("max_safe_qty_buffer,{}\n", fmt(s.qty_buffer)));
        out.push_str(&format!(
            "max_safe_qty_margin_ratio,{}\n",
            fmt(s.qty_margin_ratio)
        ));
        let b = match s.bound {
            SafeSizeBound::LiquidationBuffer => "liquidation_buffer",
            SafeSizeBound::MarginRatio => "margin_ratio",
        };
        out.push_str(&format!("binding,{b}\n"));
    }
    Ok(out)
}
