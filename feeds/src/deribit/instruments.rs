//! Deribit's instrument chain: what `public/get_instruments` says about each instrument (strike,
//! expiry, call/put, contract size, tick size, minimum amount), or, for an instrument seen in a
//! channel before its definition, what its name says (`BTC-24SEP21-8000-P`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::num::json_decimal;
use super::DERIBIT_SCALE;

/// Kind of a Deribit instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// An option.
    Option,
    /// A dated future.
    Future,
    /// A perpetual.
    Perpetual,
    /// Spot, combos or anything else.
    Other,
}

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionType {
    /// Call.
    Call,
    /// Put.
    Put,
}

/// Static facts about one Deribit instrument. Exact fields are mantissas at
/// [`DERIBIT_SCALE`] decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct DeribitInstrument {
    /// Venue name (`BTC-24SEP21-8000-P`).
    pub name: String,
    /// Option, future, perpetual…
    pub kind: InstrumentKind,
    /// Underlying currency (`BTC`, `ETH`, `XRP_USDC`…).
    pub underlying: String,
    /// Strike (options), mantissa at [`DERIBIT_SCALE`]; 0 otherwise.
    pub strike: i64,
    /// Expiry, ns since the Unix epoch (0 for perpetuals).
    pub expiry_ns: u64,
    /// Call or put (options).
    pub option_type: Option<OptionType>,
    /// Contract size (coin per contract for options), mantissa at [`DERIBIT_SCALE`].
    pub contract_size: i64,
    /// Tick size, mantissa at [`DERIBIT_SCALE`] (0 when unknown).
    pub tick_size: i64,
    /// Minimum trade amount, mantissa at [`DERIBIT_SCALE`] (0 when unknown).
    pub min_trade_amount: i64,
    /// Whether these facts came from `get_instruments` (rather than from the name alone).
    pub from_venue: bool,
}

impl DeribitInstrument {
    /// Strike as `f64` (kernel edge).
    #[must_use]
    pub fn strike_f64(&self) -> f64 {
        self.strike as f64 / 1e8
    }

    /// Contract size as `f64`.
    #[must_use]
    pub fn contract_size_f64(&self) -> f64 {
        self.contract_size as f64 / 1e8
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Days from 1970-01-01 to the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Deribit expiry code (`24SEP21`, `1OCT21`) → expiry at 08:00 UTC, ns since the epoch.
#[must_use]
pub fn parse_expiry(code: &str) -> Option<u64> {
    let b = code.as_bytes();
    let dlen = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&dlen) || b.len() != dlen + 5 {
        return None;
    }
    let day: u32 = code[..dlen].parse().ok()?;
    let mon = MONTHS.iter().position(|m| *m == &code[dlen..dlen + 3])? as u32 + 1;
    let yy: i64 = code[dlen + 3..].parse().ok()?;
    let max_day = match mon {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > max_day {
        return None;
    }
    let days = days_from_civil(2000 + yy, mon, day);
    u64::try_from(days * 86_400 + 8 * 3600)
        .ok()
        .map(|s| s * 1_000_000_000)
}

/// What an instrument's name says about it: `BTC-PERPETUAL`, `BTC-24SEP21`,
/// `BTC-24SEP21-8000-P`, `XRP_USDC-30JUN23-0d625-C` (`d` is the decimal point).
#[must_use]
pub fn parse_name(name: &str) -> Option<DeribitInstrument> {
    let parts: Vec<&str> = name.split('-').collect();
    let base = |kind, underlying: &str| DeribitInstrument {
        name: name.to_owned(),
        kind,
        underlying: underlying.to_owned(),
        strike: 0,
        expiry_ns: 0,
        option_type: None,
        contract_size: 0,
        tick_size: 0,
        min_trade_amount: 0,
        from_venue: false,
    };
    match parts.as_slice() {
        [u, "PERPETUAL"] if !u.is_empty() => Some(base(InstrumentKind::Perpetual, u)),
        [u, exp] if !u.is_empty() => {
            let mut i = base(InstrumentKind::Future, u);
            i.expiry_ns = parse_expiry(exp)?;
            Some(i)
        }
        [u, exp, strike, cp] if !u.is_empty() => {
            let mut i = base(InstrumentKind::Option, u);
            i.expiry_ns = parse_expiry(exp)?;
            i.strike = json_decimal(strike.replace('d', ".").as_bytes(), DERIBIT_SCALE).ok()?;
            i.option_type = Some(match *cp {
                "C" => OptionType::Call,
                "P" => OptionType::Put,
                _ => return None,
            });
            i.contract_size = 100_000_000;
            Some(i)
        }
        _ => None,
    }
}

/// One entry of a `public/get_instruments` result, as sent.
#[derive(Debug, Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    instrument_name: Cow<'a, str>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    base_currency: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    strike: Option<&'a RawValue>,
    #[serde(borrow, default)]
    option_type: Option<Cow<'a, str>>,
    #[serde(default)]
    expiration_timestamp: Option<u64>,
    #[serde(borrow, default)]
    contract_size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tick_size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    min_trade_amount: Option<&'a RawValue>,
    #[serde(borrow, default)]
    settlement_period: Option<Cow<'a, str>>,
}

/// Why a `get_instruments` result was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentsError {
    /// Not a JSON array of instrument objects.
    #[error("get_instruments result is not an array of instruments: {0}")]
    Json(String),
    /// A number field is not an exact decimal at the chain's scale.
    #[error("instrument `{name}`: bad `{field}`")]
    Field {
        /// Instrument.
        name: String,
        /// Field.
        field: &'static str,
    },
}

fn num(v: Option<&RawValue>, name: &str, field: &'static str) -> Result<i64, InstrumentsError> {
    match v.map(RawValue::get) {
        None | Some("null") => Ok(0),
        Some(t) => json_decimal(t.as_bytes(), DERIBIT_SCALE).map_err(|_| InstrumentsError::Field {
            name: name.to_owned(),
            field,
        }),
    }
}

/// Parses the `result` array of `public/get_instruments`.
///
/// # Errors
/// [`InstrumentsError`] when it is not an array of instrument objects or a number is not exact.
pub fn parse_instruments(result: &str) -> Result<Vec<DeribitInstrument>, InstrumentsError> {
    let entries: Vec<Entry<'_>> =
        serde_json::from_str(result).map_err(|e| InstrumentsError::Json(e.to_string()))?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let name = e.instrument_name.as_ref();
        let perpetual =
            e.settlement_period.as_deref() == Some("perpetual") || name.ends_with("-PERPETUAL");
        let kind = match e.kind.as_deref() {
            Some("option") => InstrumentKind::Option,
            Some("future") if perpetual => InstrumentKind::Perpetual,
            Some("future") => InstrumentKind::Future,
            _ => InstrumentKind::Other,
        };
        let option_type = match e.option_type.as_deref() {
            Some("call") => Some(OptionType::Call),
            Some("put") => Some(OptionType::Put),
            _ => None,
        };
        let underlying = match &e.base_currency {
            Some(b) => b.to_string(),
            None => name.split('-').next().unwrap_or("").to_owned(),
        };
        out.push(DeribitInstrument {
            name: name.to_owned(),
            kind,
            underlying,
            strike: num(e.strike, name, "strike")?,
            expiry_ns: if perpetual {
                0
            } else {
                e.expiration_timestamp
                    .unwrap_or(0)
                    .saturating_mul(1_000_000)
            },
            option_type,
            contract_size: num(e.contract_size, name, "contract_size")?,
            tick_size: num(e.tick_size, name, "tick_size")?,
            min_trade_amount: num(e.min_trade_amount, name, "min_trade_amount")?,
            from_venue: true,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        let i = parse_name("BTC-24SEP21-8000-P").unwrap();
        assert_eq!(i.kind, InstrumentKind::Option);
        assert_eq!(i.underlying, "BTC");
        assert_eq!(i.strike, 8000 * 100_000_000);
        assert_eq!(i.option_type, Some(OptionType::Put));
        // 2021-09-24 08:00:00 UTC.
        assert_eq!(i.expiry_ns, 1_632_470_400 * 1_000_000_000);
        assert_eq!(
            parse_name("BTC-PERPETUAL").unwrap().kind,
            InstrumentKind::Perpetual
        );
        assert_eq!(
            parse_name("ETH-1OCT21").unwrap().expiry_ns,
            1_633_075_200 * 1_000_000_000
        );
        assert_eq!(
            parse_name("XRP_USDC-30JUN23-0d625-C").unwrap().strike,
            62_500_000
        );
        assert!(parse_name("BTC-31FEB21-1-C").is_none());
        assert!(parse_name("BTC-24SEP21-8000-X").is_none());
        assert!(parse_name("").is_none());
    }

    #[test]
    fn get_instruments_entry() {
        let r = r#"[{"tick_size":0.0005,"strike":40000.0,"settlement_period":"month","option_type":"put","min_trade_amount":0.1,"kind":"option","instrument_name":"BTC-24SEP21-40000-P","expiration_timestamp":1632470400000,"contract_size":1.0,"base_currency":"BTC"},
            {"tick_size":0.5,"settlement_period":"perpetual","min_trade_amount":10,"kind":"future","instrument_name":"BTC-PERPETUAL","expiration_timestamp":32503708800000,"contract_size":10,"base_currency":"BTC"}]"#;
        let v = parse_instruments(r).unwrap();
        assert_eq!(v[0].strike, 40_000 * 100_000_000);
        assert_eq!(v[0].tick_size, 50_000);
        assert_eq!(v[0].min_trade_amount, 10_000_000);
        assert_eq!(v[0].expiry_ns, 1_632_470_400_000_000_000);
        assert_eq!(v[0].option_type, Some(OptionType::Put));
        assert_eq!(v[1].kind, InstrumentKind::Perpetual);
        assert_eq!(v[1].expiry_ns, 0);
        assert!(parse_instruments("{}").is_err());
        assert!(parse_instruments(r#"[{"instrument_name":"X","tick_size":"a"}]"#).is_err());
    }
}
