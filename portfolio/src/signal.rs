//! Expected returns from an input signal, for the Kelly policy.
//!
//! A signal file is CSV, one update a line: `recv_ns,factor,expected_return` — the receive time
//! (ns since the Unix epoch, on the captures' clock) from which the update is known, the factor's
//! name, and its annualized expected return (the same unit as a factor's configured
//! `expected_return`). A header line naming those three columns is required; blank lines and
//! lines starting with `#` are skipped; times must not decrease. A bad line is an error naming
//! the file, the line and the field: a signal that silently lost an update would size on a stale
//! view.
//!
//! The kernel applies an update at the first sample boundary after its receive time (the same
//! instant a market event of that time would be seen), so a replay is identical in every
//! topology; the next sample's rebalance uses it (trigger `signal`).

use std::path::Path;

/// One expected-return update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// Receive time from which it is known, ns.
    pub recv_ns: u64,
    /// Index of the factor in the spec.
    pub factor: usize,
    /// Annualized expected return.
    pub expected_return: f64,
}

/// Why a signal file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A line is not a valid update.
    #[error("{path}:{line}: `{field}`: {message}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The column at fault (`recv_ns`, `factor`, `expected_return`, or `line` for the line
        /// as a whole).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The columns, in order.
const COLUMNS: [&str; 3] = ["recv_ns", "factor", "expected_return"];

/// Reads the signal file at `path` against the factor names `factors`.
///
/// # Errors
/// [`SignalError`] naming the file, and for a bad line its number and field.
pub fn read_signals(path: &Path, factors: &[&str]) -> Result<Vec<Signal>, SignalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| SignalError::Io {
        path: shown.clone(),
        error,
    })?;
    parse_signals(&text, &shown, factors)
}

/// Parses signal text (see the module docs); `origin` names it in errors.
///
/// # Errors
/// [`SignalError::Line`] for the first bad line, or when the header is missing.
pub fn parse_signals(
    text: &str,
    origin: &str,
    factors: &[&str],
) -> Result<Vec<Signal>, SignalError> {
    let bad = |line: usize, field: &'static str, message: String| SignalError::Line {
        path: origin.to_owned(),
        line,
        field,
        message,
    };
    let mut out = Vec::new();
    let mut header = false;
    let mut last = 0u64;
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if !header {
            if cells != COLUMNS {
                return Err(bad(
                    no,
                    "line",
                    format!("expected the header `{}`", COLUMNS.join(",")),
                ));
            }
            header = true;
            continue;
        }
        let [t, name, mu] = cells[..] else {
            return Err(bad(
                no,
                "line",
                format!("expected 3 comma-separated fields, found {}", cells.len()),
            ));
        };
        let recv_ns: u64 = t
            .parse()
            .map_err(|_| bad(no, "recv_ns", format!("`{t}` is not a time in ns")))?;
        if recv_ns < last {
            return Err(bad(
                no,
                "recv_ns",
                format!(
                    "{recv_ns} is earlier than the line before ({last}): times must not decrease"
                ),
            ));
        }
        last = recv_ns;
        let factor = factors.iter().position(|f| *f == name).ok_or_else(|| {
            bad(
                no,
                "factor",
                format!("`{name}` is not a factor (known: {})", factors.join(", ")),
            )
        })?;
        let expected_return: f64 =
            mu.parse()
                .ok()
                .filter(|m: &f64| m.is_finite())
                .ok_or_else(|| {
                    bad(
                        no,
                        "expected_return",
                        format!("`{mu}` is not a finite number"),
                    )
                })?;
        out.push(Signal {
            recv_ns,
            factor,
            expected_return,
        });
    }
    if !header {
        return Err(bad(
            1,
            "line",
            format!("no header: expected `{}`", COLUMNS.join(",")),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: [&str; 2] = ["BTC", "ETH"];

    fn err(text: &str) -> String {
        parse_signals(text, "s.csv", &F).unwrap_err().to_string()
    }

    #[test]
    fn reads_updates_in_order() {
        let s = parse_signals(
            "# momentum\nrecv_ns,factor,expected_return\n10,BTC,0.25\n\n10,ETH,-0.1\n20,BTC,1e-1\n",
            "s.csv",
            &F,
        )
        .unwrap();
        assert_eq!(
            s,
            vec![
                Signal {
                    recv_ns: 10,
                    factor: 0,
                    expected_return: 0.25
                },
                Signal {
                    recv_ns: 10,
                    factor: 1,
                    expected_return: -0.1
                },
                Signal {
                    recv_ns: 20,
                    factor: 0,
                    expected_return: 0.1
                },
            ]
        );
        assert!(parse_signals("recv_ns,factor,expected_return\n", "s", &F)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_bad_line_names_the_line_and_field() {
        let h = "recv_ns,factor,expected_return\n";
        assert_eq!(
            err("1,BTC,0.1\n"),
            "s.csv:1: `line`: expected the header `recv_ns,factor,expected_return`"
        );
        assert_eq!(
            err(""),
            "s.csv:1: `line`: no header: expected `recv_ns,factor,expected_return`"
        );
        assert_eq!(
            err(&format!("{h}x,BTC,0.1\n")),
            "s.csv:2: `recv_ns`: `x` is not a time in ns"
        );
        assert_eq!(
            err(&format!("{h}1,SOL,0.1\n")),
            "s.csv:2: `factor`: `SOL` is not a factor (known: BTC, ETH)"
        );
        assert_eq!(
            err(&format!("{h}1,BTC,NaN\n")),
            "s.csv:2: `expected_return`: `NaN` is not a finite number"
        );
        assert_eq!(
            err(&format!("{h}1,BTC,inf\n")),
            "s.csv:2: `expected_return`: `inf` is not a finite number"
        );
        assert_eq!(
            err(&format!("{h}1,BTC\n")),
            "s.csv:2: `line`: expected 3 comma-separated fields, found 2"
        );
        assert_eq!(
            err(&format!("{h}5,BTC,0.1\n4,BTC,0.1\n")),
            "s.csv:3: `recv_ns`: 4 is earlier than the line before (5): times must not decrease"
        );
    }
}
