//! A seeded synthetic Deribit market in Deribit's real notification format: `BTC-PERPETUAL`
//! (book changes chained by `change_id`, ticker, trades) and six options on one expiry 30 days
//! out (strikes at 90 %, 100 %, 110 % of the opening price, calls and puts) whose marks follow
//! Black-76 on the perpetual's mid with a fixed smile, with books, tickers (`mark_iv`,
//! `bid_iv`/`ask_iv`, `underlying_price`, delta) and a matching `get_instruments` chain.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use risk_core::greeks::norm_cdf;
use serde_json::{json, Value};

use super::server::SourceData;
use synth::SynthConfig;

const SCALE: f64 = 1e8;
/// Perpetual tick 0.5 USD; option tick 0.0005 coin (mantissas at scale 8).
const PERP_TICK: i64 = 50_000_000;
const OPT_TICK: i64 = 50_000;
const PERP: &str = "BTC-PERPETUAL";

fn dec(m: i64) -> String {
    let mut v = Vec::new();
    feeds::write_decimal(&mut v, m, 8, 1);
    String::from_utf8(v).unwrap_or_default()
}

#[derive(Default)]
struct Book {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    change_id: u64,
    started: bool,
}

struct Opt {
    name: String,
    strike: f64,
    call: bool,
    book: Book,
}

/// Black-76 price (in USD) and delta.
fn black76(f: f64, k: f64, t: f64, sigma: f64, call: bool) -> (f64, f64) {
    let sd = sigma * t.sqrt();
    let d1 = ((f / k).ln() + 0.5 * sd * sd) / sd;
    let d2 = d1 - sd;
    if call {
        (f * norm_cdf(d1) - k * norm_cdf(d2), norm_cdf(d1))
    } else {
        (k * norm_cdf(-d2) - f * norm_cdf(-d1), norm_cdf(d1) - 1.0)
    }
}

/// Deribit expiry code of a day count since the epoch (`24SEP21`).
fn expiry_code(days: i64) -> String {
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    const M: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    format!("{}{}{:02}", d, M[(m - 1) as usize], y % 100)
}

fn note(channel: &str, data: &str) -> Vec<u8> {
    format!("{{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"{channel}\",\"data\":{data}}}}}").into_bytes()
}

/// Moves `book` to the levels `want` and renders the notification (snapshot the first time).
fn book_frame(
    name: &str,
    book: &mut Book,
    want_bids: &BTreeMap<i64, i64>,
    want_asks: &BTreeMap<i64, i64>,
    ts_ms: u64,
) -> Option<Vec<u8>> {
    let side = |cur: &BTreeMap<i64, i64>, want: &BTreeMap<i64, i64>, desc: bool| -> Vec<String> {
        let mut out = Vec::new();
        for (px, q) in want {
            match cur.get(px) {
                None => out.push(format!("[\"new\",{},{}]", dec(*px), dec(*q))),
                Some(c) if c != q => out.push(format!("[\"change\",{},{}]", dec(*px), dec(*q))),
                _ => {}
            }
        }
        for px in cur.keys() {
            if !want.contains_key(px) {
                out.push(format!("[\"delete\",{},0.0]", dec(*px)));
            }
        }
        if desc {
            out.reverse();
        }
        out
    };
    let prev = book.change_id;
    book.change_id += 1 + u64::from(ts_ms % 3 == 0);
    let data = if book.started {
        let b = side(&book.bids, want_bids, true);
        let a = side(&book.asks, want_asks, false);
        if b.is_empty() && a.is_empty() {
            book.change_id = prev;
            return None;
        }
        format!(
            "{{\"type\":\"change\",\"timestamp\":{ts_ms},\"prev_change_id\":{prev},\"instrument_name\":\"{name}\",\"change_id\":{},\"bids\":[{}],\"asks\":[{}]}}",
            book.change_id,
            b.join(","),
            a.join(",")
        )
    } else {
        book.started = true;
        let b: Vec<String> = want_bids
            .iter()
            .rev()
            .map(|(p, q)| format!("[\"new\",{},{}]", dec(*p), dec(*q)))
            .collect();
        let a: Vec<String> = want_asks
            .iter()
            .map(|(p, q)| format!("[\"new\",{},{}]", dec(*p), dec(*q)))
            .collect();
        format!(
            "{{\"type\":\"snapshot\",\"timestamp\":{ts_ms},\"instrument_name\":\"{name}\",\"change_id\":{},\"bids\":[{}],\"asks\":[{}]}}",
            book.change_id,
            b.join(","),
            a.join(",")
        )
    };
    book.bids.clone_from(want_bids);
    book.asks.clone_from(want_asks);
    Some(note(&format!("book.{name}.100ms"), &data))
}

/// The three strikes (90, 100 and 110 % of `s0`, rounded to 1,000) of calls and puts expiring at
/// `expiry_ns` (`code`), and the `get_instruments` chain of the perpetual and those options.
fn options_and_chain(s0: f64, code: &str, expiry_ns: u64) -> (Vec<Opt>, Vec<Value>) {
    let mut opts: Vec<Opt> = Vec::new();
    for m in [0.9, 1.0, 1.1] {
        let k = ((s0 * m / 1000.0).round() * 1000.0).max(1000.0);
        for call in [true, false] {
            let name = format!("BTC-{code}-{}-{}", k as i64, if call { "C" } else { "P" });
            opts.push(Opt {
                name,
                strike: k,
                call,
                book: Book {
                    change_id: 1_000_000,
                    ..Book::default()
                },
            });
        }
    }
    let mut chain = vec![
        json!({"tick_size": 0.5, "settlement_period": "perpetual", "min_trade_amount": 10, "kind": "future",
        "instrument_name": PERP, "expiration_timestamp": 32_503_708_800_000u64, "contract_size": 10, "base_currency": "BTC",
        "quote_currency": "USD", "is_active": true}),
    ];
    for o in &opts {
        chain.push(json!({"tick_size": 0.0005, "strike": o.strike, "settlement_period": "month", "option_type": if o.call { "call" } else { "put" },
            "min_trade_amount": 0.1, "kind": "option", "instrument_name": o.name, "expiration_timestamp": expiry_ns / 1_000_000,
            "contract_size": 1.0, "base_currency": "BTC", "quote_currency": "BTC", "is_active": true}));
    }
    (opts, chain)
}

/// The perpetual's ticker at `mid` with its best bid and ask (price and amount mantissas).
fn perp_ticker(ts_ms: u64, mid: f64, (bb, bq): (i64, i64), (ba, aq): (i64, i64)) -> String {
    format!(
        "{{\"timestamp\":{ts_ms},\"stats\":{{}},\"state\":\"open\",\"settlement_price\":{m},\"open_interest\":1000000,\"min_price\":{lo},\"max_price\":{hi},\"mark_price\":{m},\"last_price\":{m},\"instrument_name\":\"{PERP}\",\"index_price\":{m},\"funding_8h\":0.0001,\"current_funding\":0.0,\"best_bid_price\":{},\"best_bid_amount\":{},\"best_ask_price\":{},\"best_ask_amount\":{},\"interest_value\":0.0}}",
        dec(bb),
        dec(bq),
        dec(ba),
        dec(aq),
        m = dec(((mid * 100.0).round() as i64) * 1_000_000),
        lo = dec(((mid * 97.0).round() as i64) * 1_000_000),
        hi = dec(((mid * 103.0).round() as i64) * 1_000_000),
    )
}

/// Generates the market: frames in receive order and the `get_instruments` chain.
pub(super) fn generate(cfg: &SynthConfig) -> SourceData {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let step_ns = cfg.step_ms.max(1) * 1_000_000;
    let day_ns: u64 = 86_400_000_000_000;
    let expiry_day = (cfg.start_ns / day_ns + 30) as i64;
    let expiry_ns = expiry_day as u64 * day_ns + 8 * 3_600_000_000_000;
    let code = expiry_code(expiry_day);
    let s0 = cfg.start_px.max(1.0);
    let (mut opts, chain) = options_and_chain(s0, &code, expiry_ns);
    let mut frames = Vec::with_capacity(cfg.steps as usize * 3 + 16);
    let mut perp = Book {
        change_id: 5_000_000,
        ..Book::default()
    };
    let mut log_mid = s0.ln();
    let steps_per_year = 365.25 * 86_400_000.0 / cfg.step_ms.max(1) as f64;
    let shock_step = (cfg.shock_at * f64::from(cfg.steps)) as u32;
    let mut trade_seq = 1u64;
    let levels = cfg.levels.clamp(2, 50) as i64;
    for step in 0..cfg.steps {
        let recv = cfg.start_ns + u64::from(step) * step_ns;
        let ts_ms = recv / 1_000_000;
        let vol = if step >= shock_step {
            cfg.base_vol * cfg.shock_mult
        } else {
            cfg.base_vol
        };
        let z: f64 = {
            // Box-Muller.
            let u1: f64 = rng.gen_range(1e-12..1.0);
            let u2: f64 = rng.gen();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        log_mid += vol / steps_per_year.sqrt() * z;
        let mid = log_mid.exp();
        let mid_t = ((mid * SCALE) as i64 / PERP_TICK).max(levels + 2);
        let mut bids = BTreeMap::new();
        let mut asks = BTreeMap::new();
        for k in 0..levels {
            bids.insert(
                (mid_t - 1 - k) * PERP_TICK,
                rng.gen_range(1..200) * 10 * 100_000_000,
            );
            asks.insert(
                (mid_t + 1 + k) * PERP_TICK,
                rng.gen_range(1..200) * 10 * 100_000_000,
            );
        }
        if let Some(f) = book_frame(PERP, &mut perp, &bids, &asks, ts_ms) {
            frames.push((recv, f));
        }
        let (bb, ba) = (
            bids.keys().next_back().copied().unwrap_or(0),
            asks.keys().next().copied().unwrap_or(0),
        );
        let (bq, aq) = (
            bids.get(&bb).copied().unwrap_or(0),
            asks.get(&ba).copied().unwrap_or(0),
        );
        let tk = perp_ticker(ts_ms, mid, (bb, bq), (ba, aq));
        frames.push((recv + 1_000, note(&format!("ticker.{PERP}.100ms"), &tk)));
        if rng.gen_bool(0.2) {
            let buy = rng.gen_bool(0.5);
            let px = if buy { ba } else { bb };
            let tr = format!(
                "[{{\"trade_seq\":{trade_seq},\"trade_id\":\"{}\",\"timestamp\":{ts_ms},\"tick_direction\":0,\"price\":{},\"mark_price\":{},\"instrument_name\":\"{PERP}\",\"index_price\":{},\"direction\":\"{}\",\"amount\":{}}}]",
                100_000_000 + trade_seq,
                dec(px),
                dec(px),
                dec(px),
                if buy { "buy" } else { "sell" },
                dec(rng.gen_range(1..50) * 10 * 100_000_000)
            );
            trade_seq += 1;
            frames.push((recv + 2_000, note(&format!("trades.{PERP}.100ms"), &tr)));
        }
        if step % 5 == 0 {
            let t = (expiry_ns.saturating_sub(recv)) as f64 / (365.0 * day_ns as f64);
            for (j, o) in opts.iter_mut().enumerate() {
                let iv = 0.6 + 0.15 * ((o.strike / mid).ln()).powi(2) * 10.0;
                let (usd, delta) = black76(mid, o.strike, t.max(1e-6), iv, o.call);
                let coin = (usd / mid).max(0.0);
                let mark_t = ((coin * SCALE) as i64 / OPT_TICK).max(2);
                let mut ob = BTreeMap::new();
                let mut oa = BTreeMap::new();
                for k in 0..3 {
                    if mark_t - 1 - k > 0 {
                        ob.insert(
                            (mark_t - 1 - k) * OPT_TICK,
                            rng.gen_range(1..200) * 10_000_000,
                        );
                    }
                    oa.insert(
                        (mark_t + 1 + k) * OPT_TICK,
                        rng.gen_range(1..200) * 10_000_000,
                    );
                }
                let rt = recv + 3_000 + j as u64 * 100;
                if let Some(f) = book_frame(&o.name, &mut o.book, &ob, &oa, ts_ms) {
                    frames.push((rt, f));
                }
                let mark_iv = (iv * 10_000.0).round() / 100.0;
                let data = json!({"underlying_price": (mid * 100.0).round() / 100.0, "underlying_index": format!("BTC-{code}"),
                    "timestamp": ts_ms, "state": "open", "mark_price": (coin * 1e8).round() / 1e8, "mark_iv": mark_iv,
                    "bid_iv": ((mark_iv - 2.0) * 100.0).round() / 100.0, "ask_iv": ((mark_iv + 2.0) * 100.0).round() / 100.0,
                    "interest_rate": 0.0, "instrument_name": o.name, "index_price": (mid * 100.0).round() / 100.0,
                    "best_bid_price": ob.keys().next_back().map_or(Value::from(0.0), |p| Value::from(*p as f64 / SCALE)),
                    "best_ask_price": oa.keys().next().map_or(Value::from(0.0), |p| Value::from(*p as f64 / SCALE)),
                    "best_bid_amount": ob.values().next_back().map_or(0.0, |q| *q as f64 / SCALE),
                    "best_ask_amount": oa.values().next().map_or(0.0, |q| *q as f64 / SCALE),
                    "greeks": {"delta": (delta * 1e5).round() / 1e5}});
                frames.push((
                    rt + 50,
                    note(&format!("ticker.{}.100ms", o.name), &data.to_string()),
                ));
            }
        }
    }
    frames.sort_by_key(|(t, _)| *t);
    SourceData {
        frames,
        instruments: vec![("BTC".into(), Value::from(chain).to_string())],
        ..SourceData::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_codes() {
        // 2021-09-24 is day 18894.
        assert_eq!(expiry_code(18_894), "24SEP21");
        assert_eq!(expiry_code(0), "1JAN70");
    }

    #[test]
    fn synthetic_market_parses_and_chains() {
        let cfg = SynthConfig {
            steps: 400,
            ..SynthConfig::default()
        };
        let src = generate(&cfg);
        let mut feed = feeds::deribit::DeribitFeed::new(feeds::Registry::new());
        feed.load_instruments(&src.instruments[0].1).unwrap();
        let mut gaps = 0;
        let mut opt_tickers = 0;
        for (ts, f) in &src.frames {
            feed.on_frame(*ts, f, &mut |e| {
                if e.kind == feeds::EventKind::Gap {
                    gaps += 1;
                }
                if e.kind == feeds::EventKind::OptionTicker {
                    opt_tickers += 1;
                }
            })
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(f)));
        }
        assert_eq!(gaps, 0);
        assert_eq!(opt_tickers, 6 * 80);
        let id = feed.registry().id(PERP).unwrap();
        assert!(feed.book(id).unwrap().is_valid());
        assert_eq!(feed.registry().len(), 7);
    }
}
