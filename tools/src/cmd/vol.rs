//! `ballast vol fit`: fit GARCH(1,1) or EWMA to a CSV of returns or prices and print the
//! estimates and variance forecasts as JSON. Also home of the strict numeric-CSV readers that
//! `ballast size` shares: every bad cell is reported with its file, row and column.

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use risk_core::vol::garch::{self, FitOptions, Innovation, MeanModel};
use risk_core::vol::Ewma;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `ballast vol`.
#[derive(Debug, Args)]
pub struct VolArgs {
    #[command(subcommand)]
    cmd: VolCmd,
}

#[derive(Debug, Subcommand)]
enum VolCmd {
    /// Fit a volatility model to FILE and print JSON:
    /// {"model", "omega", "alpha", "beta", "loglik", "n", "forecast": [variance for h = 1..H]}
    /// (plus "mu" with --mean constant, "nu" with --dist t, "lambda" for EWMA).
    ///
    /// FILE is CSV with a header row and a `return` column (or, with --prices, a `price`
    /// column turned into log returns). Returns are used as given (no rescaling); variances are
    /// per observation. The GARCH recursion starts from the `arch` package's backcast
    /// (0.94-weighted mean square of the first 75 residuals); EWMA is seeded the same way.
    Fit(FitArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    /// GARCH(1,1), maximum likelihood.
    Garch11,
    /// EWMA (RiskMetrics) with a fixed λ.
    Ewma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mean {
    /// Zero mean.
    Zero,
    /// A constant mean (estimated jointly for GARCH; the sample mean for EWMA).
    Constant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Dist {
    /// Gaussian innovations.
    Normal,
    /// Standardized Student-t innovations (ν estimated).
    T,
}

#[derive(Debug, Args)]
struct FitArgs {
    /// Model to fit.
    #[arg(long, value_enum, default_value = "garch11")]
    model: Model,
    /// Read a `price` column and use its log returns instead of a `return` column.
    #[arg(long)]
    prices: bool,
    /// Mean model.
    #[arg(long, value_enum, default_value = "zero")]
    mean: Mean,
    /// Innovation distribution (GARCH only).
    #[arg(long, value_enum, default_value = "normal")]
    dist: Dist,
    /// Number of forecast steps H.
    #[arg(long, default_value_t = 5)]
    horizon: u32,
    /// EWMA decay λ.
    #[arg(long, default_value_t = risk_core::vol::ewma::DEFAULT_LAMBDA)]
    lambda: f64,
    /// Also print robust (sandwich) and classic standard errors (GARCH only).
    #[arg(long)]
    std_errors: bool,
    /// CSV file with a header row.
    file: PathBuf,
}

/// Run `ballast vol`.
///
/// # Errors
/// Unreadable or malformed input (named by file, row and column), or a fit that fails.
pub fn run(args: VolArgs) -> anyhow::Result<()> {
    match args.cmd {
        VolCmd::Fit(a) => {
            let out = fit(&a)?;
            println!("{out}");
            Ok(())
        }
    }
}

fn fit(a: &FitArgs) -> anyhow::Result<String> {
    let column = if a.prices { "price" } else { "return" };
    let (col, values) = read_named_column(&a.file, column)?;
    let returns: Vec<f64> = if a.prices {
        for &(row, p) in &values {
            if p <= 0.0 {
                bail!(
                    "{}: row {row}, column {col} (`price`): price {p} is not positive",
                    a.file.display()
                );
            }
        }
        values.windows(2).map(|w| (w[1].1 / w[0].1).ln()).collect()
    } else {
        values.into_iter().map(|(_, v)| v).collect()
    };
    if a.horizon == 0 {
        bail!("--horizon must be at least 1");
    }
    let mut out = Json::default();
    match a.model {
        Model::Garch11 => {
            let opts = FitOptions {
                mean: match a.mean {
                    Mean::Zero => MeanModel::Zero,
                    Mean::Constant => MeanModel::Constant,
                },
                innovation: match a.dist {
                    Dist::Normal => Innovation::Normal,
                    Dist::T => Innovation::StudentT,
                },
                std_errors: a.std_errors,
            };
            let f = garch::fit(&returns, &opts)
                .with_context(|| format!("{}: GARCH(1,1) fit failed", a.file.display()))?;
            let mut fc = vec![0.0; a.horizon as usize];
            f.filter().forecast_into(&mut fc);
            out.str("model", "garch11");
            out.num("omega", f.params.omega);
            out.num("alpha", f.params.alpha);
            out.num("beta", f.params.beta);
            if opts.mean == MeanModel::Constant {
                out.num("mu", f.mu);
            }
            if let Some(nu) = f.nu {
                out.num("nu", nu);
            }
            out.num("loglik", f.loglik);
            out.int("n", f.n);
            out.nums("forecast", &fc);
            out.raw("converged", if f.converged { "true" } else { "false" });
            if a.std_errors {
                match f.std_errors {
                    Some(se) => {
                        for (name, s) in [
                            ("std_errors_robust", se.robust),
                            ("std_errors_classic", se.classic),
                        ] {
                            let mut inner = Json::default();
                            inner.num("omega", s.omega);
                            inner.num("alpha", s.alpha);
                            inner.num("beta", s.beta);
                            if let Some(m) = s.mu {
                                inner.num("mu", m);
                            }
                            if let Some(n) = s.nu {
                                inner.num("nu", n);
                            }
                            out.raw(name, &inner.finish());
                        }
                    }
                    None => out.raw("std_errors_robust", "null"),
                }
            }
        }
        Model::Ewma => {
            if a.dist != Dist::Normal {
                bail!("--dist t applies to garch11 only");
            }
            if returns.len() < 2 {
                bail!(
                    "{}: need at least 2 returns, got {}",
                    a.file.display(),
                    returns.len()
                );
            }
            let mu = match a.mean {
                Mean::Zero => 0.0,
                Mean::Constant => returns.iter().sum::<f64>() / returns.len() as f64,
            };
            let resid: Vec<f64> = returns.iter().map(|r| r - mu).collect();
            let mut e = Ewma::seeded(a.lambda, garch::backcast(&resid))
                .with_context(|| format!("--lambda {} must be in (0, 1)", a.lambda))?;
            let mut ll = 0.0;
            for &x in &resid {
                let v = e.variance().unwrap_or(0.0);
                if !(v > 0.0) {
                    bail!(
                        "{}: the EWMA variance reached zero (constant returns?)",
                        a.file.display()
                    );
                }
                ll += -0.5 * ((2.0 * std::f64::consts::PI).ln() + v.ln() + x * x / v);
                e.update(x);
            }
            let v = e.variance().unwrap_or(0.0);
            out.str("model", "ewma");
            out.num("lambda", a.lambda);
            out.num("omega", 0.0);
            out.num("alpha", 1.0 - a.lambda);
            out.num("beta", a.lambda);
            if a.mean == Mean::Constant {
                out.num("mu", mu);
            }
            out.num("loglik", ll);
            out.int("n", resid.len());
            out.nums("forecast", &vec![v; a.horizon as usize]);
        }
    }
    Ok(out.finish())
}

/// A tiny ordered JSON object writer (keys in insertion order).
#[derive(Default)]
struct Json {
    body: String,
}

impl Json {
    fn key(&mut self, k: &str) {
        if !self.body.is_empty() {
            self.body.push_str(", ");
        }
        let _ = write!(self.body, "\"{k}\": ");
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        let _ = write!(self.body, "\"{v}\"");
    }
    fn num(&mut self, k: &str, v: f64) {
        self.key(k);
        self.body.push_str(&json_num(v));
    }
    fn int(&mut self, k: &str, v: usize) {
        self.key(k);
        let _ = write!(self.body, "{v}");
    }
    fn nums(&mut self, k: &str, v: &[f64]) {
        self.key(k);
        let parts: Vec<String> = v.iter().map(|x| json_num(*x)).collect();
        let _ = write!(self.body, "[{}]", parts.join(", "));
    }
    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.body.push_str(v);
    }
    fn finish(self) -> String {
        format!("{{{}}}", self.body)
    }
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        serde_json::to_string(&v).unwrap_or_else(|_| "null".into())
    } else {
        "null".into()
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Parse one cell as a finite number, or name its place.
pub(crate) fn cell(
    path: &Path,
    row: usize,
    col: usize,
    col_name: Option<&str>,
    text: &str,
) -> anyhow::Result<f64> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => {
            let col = match col_name {
                Some(n) => format!("column {col} (`{n}`)"),
                None => format!("column {col}"),
            };
            bail!(
                "{}: row {row}, {col}: {t:?} is not a finite number",
                path.display()
            )
        }
    }
}

/// The column named `name` of a CSV file with a header row: its 1-based column number, and the
/// values with their 1-based row numbers (the header is row 1).
pub(crate) fn read_named_column(
    path: &Path,
    name: &str,
) -> anyhow::Result<(usize, Vec<(usize, f64)>)> {
    let text = read_text(path)?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((hrow, header)) = lines.next() else {
        bail!(
            "{}: empty file (expected a header row with a `{name}` column)",
            path.display()
        );
    };
    let cols: Vec<&str> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let Some(idx) = cols.iter().position(|c| c.eq_ignore_ascii_case(name)) else {
        bail!(
            "{}: row {}: no `{name}` column in the header {header:?}",
            path.display(),
            hrow + 1
        );
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != cols.len() {
            bail!(
                "{}: row {}, column {}: {} columns, the header has {}",
                path.display(),
                i + 1,
                cells.len().min(cols.len()) + 1,
                cells.len(),
                cols.len()
            );
        }
        out.push((i + 1, cell(path, i + 1, idx + 1, Some(name), cells[idx])?));
    }
    Ok((idx + 1, out))
}

/// A headerless numeric CSV: rows of numbers, every row the same length (blank lines are
/// skipped; rows keep their line numbers for messages). Returns rows with their line numbers.
pub(crate) fn read_matrix(path: &Path) -> anyhow::Result<Vec<(usize, Vec<f64>)>> {
    let text = read_text(path)?;
    let mut rows: Vec<(usize, Vec<f64>)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = i + 1;
        let vals = line
            .split(',')
            .enumerate()
            .map(|(j, c)| cell(path, row, j + 1, None, c))
            .collect::<anyhow::Result<Vec<f64>>>()?;
        if let Some((_, first)) = rows.first() {
            if vals.len() != first.len() {
                bail!(
                    "{}: row {row}, column {}: ragged matrix: {} columns, row {} has {}",
                    path.display(),
                    vals.len().min(first.len()) + 1,
                    vals.len(),
                    rows[0].0,
                    first.len()
                );
            }
        }
        rows.push((row, vals));
    }
    if rows.is_empty() {
        bail!("{}: no numbers in the file", path.display());
    }
    Ok(rows)
}

/// One number per line.
pub(crate) fn read_vector(path: &Path) -> anyhow::Result<Vec<(usize, f64)>> {
    let rows = read_matrix(path)?;
    if rows[0].1.len() != 1 {
        bail!(
            "{}: row {}, column 2: expected one number per line, found {} columns",
            path.display(),
            rows[0].0,
            rows[0].1.len()
        );
    }
    Ok(rows.into_iter().map(|(r, v)| (r, v[0])).collect())
}

/// A square matrix, row-major, with its dimension.
pub(crate) fn read_square(path: &Path) -> anyhow::Result<(Vec<f64>, usize)> {
    let rows = read_matrix(path)?;
    let n = rows.len();
    let m = rows[0].1.len();
    if m != n {
        let (row, col) = if m > n {
            (rows[n - 1].0, n + 1)
        } else {
            (rows[m].0, 1)
        };
        bail!(
            "{}: row {row}, column {col}: matrix is not square ({n} rows, {m} columns)",
            path.display()
        );
    }
    Ok((rows.into_iter().flat_map(|(_, v)| v).collect(), n))
}
