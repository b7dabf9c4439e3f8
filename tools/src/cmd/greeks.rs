//! `ballast greeks [FILE] [--iv] [--skip-bad]`: option prices and Greeks (or implied
//! volatilities) for a CSV of options, streamed through the batched SIMD kernel in
//! `risk_core::greeks` in constant memory.
//!
//! Input: a header row with at least `kind,model,underlying,strike,t,vol,r,q` (any order; other
//! columns are passed through). `kind` is `call` or `put`, `model` is `bsm` (underlying = spot
//! S, `q` = dividend/borrow yield) or `black76` (underlying = forward F, `q` ignored), `t` in
//! years, `vol`, `r`, `q` as fractions (0.2 = 20 %). With `--iv` a `price` column replaces `vol`.
//!
//! Output: the input columns, then `price,delta,gamma,vega,theta,rho,vanna,volga` in the
//! canonical units (vega per 1.00 vol, theta −∂V/∂T per year, rho per 1.00 rate; Black-76 delta
//! and gamma with respect to F and rho with F fixed), shortest round-trip decimal form. With
//! `--iv`: the input columns, then `iv` and `delta,gamma,vega,theta,rho,vanna,volga` at that
//! volatility (the input already carries the price).
//!
//! A row that does not parse or whose inputs are invalid (negative strike, price outside the
//! no-arbitrage bounds, ...) stops the run with an error naming its line, or with `--skip-bad`
//! is dropped and counted on stderr. Options at expiry (T = 0) are not bad: they get their
//! intrinsic value.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::PathBuf;

use anyhow::{bail, Context};
use risk_core::greeks::{
    greeks_batch, implied_vol_batch, BatchInputs, BatchOutputs, IvInputs, LaneStatus, Model, Tier,
};

/// Arguments of `ballast greeks`.
#[derive(Debug, clap::Args)]
pub struct GreeksArgs {
    /// CSV input; standard input when absent or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Implied volatility: the input has a `price` column instead of `vol`; the output adds `iv`.
    #[arg(long)]
    pub iv: bool,
    /// Drop bad rows and report their count on stderr instead of stopping at the first one.
    #[arg(long)]
    pub skip_bad: bool,
}

/// Rows per kernel batch (the kernel streams; this bounds memory).
const BATCH: usize = 4096;

const GREEK_COLS: [&str; 8] = [
    "price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga",
];

/// Positions of the required columns in the header.
struct Cols {
    kind: usize,
    model: usize,
    underlying: usize,
    strike: usize,
    t: usize,
    vol_or_price: usize,
    r: usize,
    q: usize,
}

fn find_cols(header: &csv::StringRecord, iv: bool) -> anyhow::Result<Cols> {
    let find = |name: &str| -> anyhow::Result<usize> {
        header
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("header has no `{name}` column (header: {header:?})"))
    };
    Ok(Cols {
        kind: find("kind")?,
        model: find("model")?,
        underlying: find("underlying")?,
        strike: find("strike")?,
        t: find("t")?,
        vol_or_price: find(if iv { "price" } else { "vol" })?,
        r: find("r")?,
        q: find("q")?,
    })
}

/// One parsed row of a model group, in SoA buffers reused across batches.
#[derive(Default)]
struct Group {
    /// Index of the row within the batch.
    row: Vec<usize>,
    s: Vec<f64>,
    k: Vec<f64>,
    t: Vec<f64>,
    v: Vec<f64>,
    r: Vec<f64>,
    q: Vec<f64>,
    call: Vec<bool>,
    out: [Vec<f64>; 9],
    status: Vec<LaneStatus>,
}

impl Group {
    fn clear(&mut self) {
        self.row.clear();
        self.s.clear();
        self.k.clear();
        self.t.clear();
        self.v.clear();
        self.r.clear();
        self.q.clear();
        self.call.clear();
    }

    /// Run the kernel over the group: Greeks at `v` = vol, or IV from `v` = price then Greeks at
    /// the IV (the IV goes to `out[8]`).
    fn compute(&mut self, model: Model, iv: bool) {
        let n = self.row.len();
        for o in &mut self.out {
            o.clear();
            o.resize(n, 0.0);
        }
        self.status.clear();
        self.status.resize(n, LaneStatus::Ok);
        let mut vol_status = vec![LaneStatus::Ok; 0];
        if iv {
            let inp = IvInputs {
                model,
                underlying: &self.s,
                strike: &self.k,
                t_years: &self.t,
                rate: &self.r,
                carry_q: &self.q,
                is_call: &self.call,
                price: &self.v,
            };
            // Shapes are consistent by construction.
            let _ = implied_vol_batch(&inp, &mut self.out[8], &mut self.status);
            vol_status = self.status.clone();
        }
        let [p, d, g, v, th, rh, va, vo, ivs] = &mut self.out;
        let vol: &[f64] = if iv { ivs } else { &self.v };
        let inp = BatchInputs {
            model,
            underlying: &self.s,
            strike: &self.k,
            t_years: &self.t,
            vol,
            rate: &self.r,
            carry_q: &self.q,
            is_call: &self.call,
        };
        let mut out = BatchOutputs {
            price: p,
            delta: d,
            gamma: g,
            vega: v,
            theta: th,
            rho: rh,
            vanna: va,
            volga: vo,
            status: &mut self.status,
        };
        let _ = greeks_batch(&inp, Tier::All, &mut out);
        if iv {
            // The IV's own status decides whether the row is good.
            for (s, vs) in self.status.iter_mut().zip(vol_status) {
                if !vs.is_ok() || !s.is_ok() {
                    *s = if vs.is_ok() { *s } else { vs };
                }
            }
        }
    }
}

/// A row of the current batch: raw record, its line number, and where its results are.
struct Pending {
    record: csv::StringRecord,
    line: u64,
    /// `None` for a row that failed to parse (with the reason).
    slot: Result<(bool, usize), String>,
}

fn parse_f64(rec: &csv::StringRecord, i: usize, name: &str) -> Result<f64, String> {
    let s = rec.get(i).map(str::trim).unwrap_or("");
    s.parse::<f64>()
        .map_err(|_| format!("column `{name}`: `{s}` is not a number"))
}

fn parse_row(
    rec: &csv::StringRecord,
    c: &Cols,
    iv: bool,
) -> Result<(Model, bool, [f64; 6]), String> {
    let kind = rec.get(c.kind).map(str::trim).unwrap_or("");
    let call = match kind.to_ascii_lowercase().as_str() {
        "call" | "c" => true,
        "put" | "p" => false,
        _ => return Err(format!("column `kind`: `{kind}` is not call or put")),
    };
    let model = rec.get(c.model).map(str::trim).unwrap_or("");
    let model = match model.to_ascii_lowercase().as_str() {
        "bsm" => Model::Bsm,
        "black76" => Model::Black76,
        _ => return Err(format!("column `model`: `{model}` is not bsm or black76")),
    };
    let v_name = if iv { "price" } else { "vol" };
    let vals = [
        parse_f64(rec, c.underlying, "underlying")?,
        parse_f64(rec, c.strike, "strike")?,
        parse_f64(rec, c.t, "t")?,
        parse_f64(rec, c.vol_or_price, v_name)?,
        parse_f64(rec, c.r, "r")?,
        // Black-76 ignores q: an empty cell is fine there.
        match (model, rec.get(c.q).map(str::trim)) {
            (Model::Black76, Some("") | None) => 0.0,
            _ => parse_f64(rec, c.q, "q")?,
        },
    ];
    Ok((model, call, vals))
}

fn push_f64(line: &mut Vec<u8>, x: f64, buf: &mut ryu::Buffer) {
    if x.is_finite() {
        line.extend_from_slice(buf.format_finite(x).as_bytes());
    } else {
        line.extend_from_slice(if x.is_nan() {
            b"NaN"
        } else if x > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
    }
}

/// `Ok(true)` when written, `Ok(false)` when stdout went away (`| head`): stop quietly.
fn written(r: csv::Result<()>) -> anyhow::Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(e) => match e.kind() {
            csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            _ => Err(e).context("writing output"),
        },
    }
}

/// Run `ballast greeks`.
///
/// # Errors
/// Unreadable input, a missing required column, or (without `--skip-bad`) a bad row, named by
/// its line number.
pub fn run(args: GreeksArgs) -> anyhow::Result<()> {
    let (input, name): (Box<dyn Read>, String) = match &args.file {
        Some(p) if p.as_os_str() != "-" => (
            Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?),
            p.display().to_string(),
        ),
        _ => (Box::new(io::stdin().lock()), "<stdin>".to_owned()),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 16, input));
    let header = rdr
        .headers()
        .with_context(|| format!("{name}: reading the header"))?
        .clone();
    let cols = find_cols(&header, args.iv).with_context(|| name.clone())?;

    let stdout = io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut wtr = csv::WriterBuilder::new().flexible(true).from_writer(out);
    // Header: input columns + outputs.
    let mut head = header.clone();
    if args.iv {
        head.push_field("iv");
        for c in &GREEK_COLS[1..] {
            head.push_field(c);
        }
    } else {
        for c in GREEK_COLS {
            head.push_field(c);
        }
    }
    if !written(wtr.write_record(&head))? {
        return Ok(());
    }

    let mut groups = [Group::default(), Group::default()];
    let mut pending: Vec<Pending> = Vec::with_capacity(BATCH);
    let mut bad = 0u64;
    let mut rows = 0u64;
    let mut rec = csv::StringRecord::new();
    let mut done = false;
    let mut fmt = ryu::Buffer::new();
    let mut line_buf: Vec<u8> = Vec::with_capacity(256);
    while !done {
        groups.iter_mut().for_each(Group::clear);
        pending.clear();
        while pending.len() < BATCH {
            let more = rdr
                .read_record(&mut rec)
                .with_context(|| format!("{name}: reading CSV"))?;
            if !more {
                done = true;
                break;
            }
            let line = rec.position().map_or(0, |p| p.line());
            rows += 1;
            let slot = match parse_row(&rec, &cols, args.iv) {
                Ok((model, call, v)) => {
                    let gi = usize::from(model == Model::Black76);
                    let g = &mut groups[gi];
                    g.row.push(pending.len());
                    g.s.push(v[0]);
                    g.k.push(v[1]);
                    g.t.push(v[2]);
                    g.v.push(v[3]);
                    g.r.push(v[4]);
                    g.q.push(v[5]);
                    g.call.push(call);
                    Ok((gi == 1, g.row.len() - 1))
                }
                Err(e) => Err(e),
            };
            pending.push(Pending {
                record: rec.clone(),
                line,
                slot,
            });
        }
        groups[0].compute(Model::Bsm, args.iv);
        groups[1].compute(Model::Black76, args.iv);
        for p in &pending {
            let (g, j) = match &p.slot {
                Ok((b76, j)) => (&groups[usize::from(*b76)], *j),
                Err(e) => {
                    if args.skip_bad {
                        bad += 1;
                        continue;
                    }
                    wtr.flush().ok();
                    bail!("{name}: line {}: {e}", p.line);
                }
            };
            let st = g.status[j];
            if !st.is_ok() {
                if args.skip_bad {
                    bad += 1;
                    continue;
                }
                wtr.flush().ok();
                bail!("{name}: line {}: invalid option ({})", p.line, st.as_str());
            }
            let mut r = p.record.clone();
            let vals: Vec<f64> = if args.iv {
                std::iter::once(g.out[8][j])
                    .chain((1..8).map(|i| g.out[i][j]))
                    .collect()
            } else {
                (0..8).map(|i| g.out[i][j]).collect()
            };
            for x in vals {
                line_buf.clear();
                push_f64(&mut line_buf, x, &mut fmt);
                r.push_field(std::str::from_utf8(&line_buf).unwrap_or("NaN"));
            }
            if !written(wtr.write_record(&r))? {
                return Ok(());
            }
        }
    }
    match wtr.flush() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e).context("writing output"),
    }
    if args.skip_bad && bad > 0 {
        eprintln!("ballast greeks: skipped {bad} bad row(s) of {rows}");
    }
    Ok(())
}
