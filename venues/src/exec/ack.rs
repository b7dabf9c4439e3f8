//! Venue answers on the execution path — Binance WebSocket API responses, Deribit JSON-RPC
//! responses and `user.orders` notifications — read straight from the frame's bytes, with no heap
//! allocation.
//!
//! Each frame is read in one pass: objects and arrays are walked entry by entry, a value the
//! adapter wants is read where it is met (nested ones descended into) and every other value is
//! skipped by the Deribit feed's walker (`feeds::deribit::walk`,
//! rather than copied: one JSON skipper in the workspace). The values are read from their spans:
//! strings borrowed from the frame (escapes decoded on the fly, or into a stack buffer for short
//! values), integers checked, decimals straight into mantissas by [`parse_decimal`] (strings) or
//! [`json_decimal`] (JSON numbers), never through `f64`. Arrays (Binance `fills`, Deribit
//! `trades`) are iterated in place, nothing is collected.
//!
//! What the adapters read matches what `serde_json::Value` gave them before: a key repeated
//! takes its last value, `status` / `id` count only as unsigned integers, a string escaped in the
//! frame compares by its decoded text. A frame that is cut short, not an object, or malformed in
//! its structure gives `None`; a field that is missing or of the wrong type gives `None` for that
//! field. Nothing here panics on any input (property-tested on arbitrary bytes and mutated
//! answers). Scalars the adapters do not read are checked only for their extent, so a frame that
//! is broken only inside such a scalar is read where `serde_json` would have dropped it whole.

use feeds::decimal::parse_decimal;
use feeds::deribit::num::json_decimal;

use feeds::deribit::walk::{self, skip_value, ws};
pub use feeds::json_str::JsonStr;

/// Escaped strings up to this many decoded bytes are decoded into a stack buffer (request ids,
/// decimals); longer ones are none of ours.
pub const STR_BUF: usize = 96;

/// A JSON unsigned integer, as `serde_json::Value::as_u64` reads it (digits only, no leading
/// zero, within `u64`).
#[must_use]
pub fn json_u64(v: &[u8]) -> Option<u64> {
    if v.len() > 1 && v[0] == b'0' {
        return None;
    }
    walk::uint(v)
}

/// A JSON integer within `i64`, as `serde_json::Value::as_i64` reads it.
#[must_use]
pub fn json_i64(v: &[u8]) -> Option<i64> {
    match v.strip_prefix(b"-") {
        Some(d) => i64::try_from(-i128::from(json_u64(d)?)).ok(),
        None => i64::try_from(json_u64(v)?).ok(),
    }
}

/// The mantissa at `scale` decimals of a decimal string value (`"0.00200000"`).
#[must_use]
pub fn str_decimal(v: &[u8], scale: u8) -> Option<i64> {
    let mut buf = [0u8; STR_BUF];
    let s = JsonStr::of(v)?.decode_into(&mut buf)?;
    parse_decimal(s, scale).ok().map(|d| d.mantissa)
}

/// The mantissa at `scale` decimals of a JSON number (`4714.0`, `1e-05`, exactly) or a decimal
/// string value.
#[must_use]
pub fn num_decimal(v: &[u8], scale: u8) -> Option<i64> {
    match v.first()? {
        b'"' => str_decimal(v, scale),
        b'-' | b'0'..=b'9' => json_decimal(v, scale).ok(),
        _ => None,
    }
}

/// The decoded key of an object entry: borrowed when it has no escapes, else decoded into `buf`
/// (`b""` when it cannot be: none of the keys read here).
fn key<'b>(raw: &'b [u8], buf: &'b mut [u8; STR_BUF]) -> &'b [u8] {
    JsonStr::from_inner(raw).decode_into(buf).unwrap_or(b"")
}

/// [`walk::object`] with each key decoded (escapes) before `f(key, value start)` sees it.
fn object(s: &[u8], i: usize, mut f: impl FnMut(&[u8], usize) -> Option<usize>) -> Option<usize> {
    let mut buf = [0u8; STR_BUF];
    walk::object(s, i, |raw, v| f(key(raw, &mut buf), v))
}

/// Walks the array whose `[` is at `s[i]`: for each element calls `f(element start)`, which
/// reads or skips it and returns where it ends. Returns the end of the array.
fn array(s: &[u8], i: usize, mut f: impl FnMut(usize) -> Option<usize>) -> Option<usize> {
    if s.get(i) != Some(&b'[') {
        return None;
    }
    let mut j = ws(s, i + 1);
    if s.get(j) == Some(&b']') {
        return Some(j + 1);
    }
    loop {
        j = ws(s, f(j)?);
        match s.get(j)? {
            b',' => j = ws(s, j + 1),
            b']' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// Skips the value at `s[v]` into `slot` (raw); returns its end.
fn take<'a>(s: &'a [u8], v: usize, slot: &mut Option<&'a [u8]>) -> Option<usize> {
    let end = skip_value(s, v)?;
    *slot = Some(&s[v..end]);
    Some(end)
}

/// Whether `s` holds nothing but whitespace from `end`.
fn ends(s: &[u8], end: usize) -> bool {
    ws(s, end) == s.len()
}

/// The raw values of `keys` in the object `obj`, found in one pass (a repeated key gives its last
/// value, as `serde_json` keeps; keys compare by their decoded text). `None` when `obj` is not
/// one well-formed object (leading and trailing whitespace allowed).
#[must_use]
pub fn fields<'a, const N: usize>(obj: &'a [u8], keys: [&str; N]) -> Option<[Option<&'a [u8]>; N]> {
    let mut out = [None; N];
    let end = object(obj, ws(obj, 0), |k, v| {
        match keys.iter().position(|want| want.as_bytes() == k) {
            Some(j) => take(obj, v, &mut out[j]),
            None => skip_value(obj, v),
        }
    })?;
    ends(obj, end).then_some(out)
}

/// Calls `f` on each element (raw) of the array `arr`, in order; returns how many. `None` when
/// `arr` is not one well-formed array, or when `f` returned `None` (it stops there).
pub fn elements<'a>(arr: &'a [u8], mut f: impl FnMut(&'a [u8]) -> Option<()>) -> Option<usize> {
    let mut n = 0;
    let end = array(arr, ws(arr, 0), |j| {
        let e = skip_value(arr, j)?;
        f(&arr[j..e])?;
        n += 1;
        Some(e)
    })?;
    ends(arr, end).then_some(n)
}

/// Whether the raw value is an array with at least one element (what `as_array()` plus
/// `!is_empty()` asked of a `Value`; the elements are checked when iterated).
fn non_empty_array(v: &[u8]) -> bool {
    let i = ws(v, 0);
    v.get(i) == Some(&b'[') && v.get(ws(v, i + 1)).is_some_and(|&c| c != b']')
}

/// The quantity-weighted price of the objects of the array `arr` (raw), each read in one pass
/// for its `px_key` and `qty_key` (decimal strings or JSON numbers through `dec`); `None` when an
/// element is not an object or lacks a readable price or quantity, or the sums overflow.
fn vwap_of(
    arr: &[u8],
    px_key: &[u8],
    qty_key: &[u8],
    dec: fn(&[u8], u8) -> Option<i64>,
    px_scale: u8,
    qty_scale: u8,
) -> Option<Vwap> {
    let mut w = Vwap::default();
    array(arr, ws(arr, 0), |j| {
        let (mut p, mut q) = (None, None);
        let end = object(arr, j, |k, v| {
            if k == px_key {
                take(arr, v, &mut p)
            } else if k == qty_key {
                take(arr, v, &mut q)
            } else {
                skip_value(arr, v)
            }
        })?;
        w.add(dec(p?, px_scale)?, dec(q?, qty_scale)?)?;
        Some(end)
    })?;
    Some(w)
}

/// How a final order state ended, in the instrument's mantissas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Quantity filled (0..= the order's quantity).
    pub filled: i64,
    /// Average fill price (the order's limit when nothing filled).
    pub px: i64,
}

/// Quantity-weighted price sum, checked (a frame cannot overflow it into a wrong price).
#[derive(Debug, Default, Clone, Copy)]
struct Vwap {
    num: i128,
    den: i128,
}

impl Vwap {
    fn add(&mut self, px: i64, qty: i64) -> Option<()> {
        self.num = self
            .num
            .checked_add(i128::from(px).checked_mul(i128::from(qty))?)?;
        self.den = self.den.checked_add(i128::from(qty))?;
        Some(())
    }

    /// The average, rounded half up; `None` when nothing was added with a quantity or it does not
    /// fit `i64`.
    fn px(&self) -> Option<i64> {
        if self.den == 0 {
            return None;
        }
        i64::try_from(self.num.checked_add(self.den / 2)? / self.den).ok()
    }
}

/// The fields of a Binance order object (the `result` of `order.place` with
/// `newOrderRespType=FULL`, or of `order.status`) the adapter reads, raw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinanceOrder<'a> {
    /// `status`.
    pub status: Option<&'a [u8]>,
    /// `executedQty`.
    pub executed_qty: Option<&'a [u8]>,
    /// `cummulativeQuoteQty`.
    pub quote_qty: Option<&'a [u8]>,
    /// `fills`.
    pub fills: Option<&'a [u8]>,
}

/// Reads the Binance order object whose `{` is at `s[i]`; returns its end too.
fn binance_order_at(s: &[u8], i: usize) -> Option<(usize, BinanceOrder<'_>)> {
    let mut o = BinanceOrder::default();
    let end = object(s, i, |k, v| match k {
        b"status" => take(s, v, &mut o.status),
        b"executedQty" => take(s, v, &mut o.executed_qty),
        b"cummulativeQuoteQty" => take(s, v, &mut o.quote_qty),
        b"fills" => take(s, v, &mut o.fills),
        _ => skip_value(s, v),
    })?;
    Some((end, o))
}

/// Reads a Binance order object (raw); `None` when it is not one well-formed object.
#[must_use]
pub fn binance_order(result: &[u8]) -> Option<BinanceOrder<'_>> {
    let (end, o) = binance_order_at(result, ws(result, 0))?;
    ends(result, end).then_some(o)
}

/// The fields of a Binance WebSocket API response the adapter reads (`{"id", "status", "result"
/// | "error", "rateLimits"}`), in one pass over the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinanceResponse<'a> {
    /// `id`, when a string.
    pub id: Option<JsonStr<'a>>,
    /// `status`, when an unsigned integer.
    pub status: Option<u64>,
    /// `result`, raw.
    pub result: Option<&'a [u8]>,
    /// `result` read as an order object, when it is an object.
    pub order: Option<BinanceOrder<'a>>,
    /// `error.code`, when an integer.
    pub error_code: Option<i64>,
    /// `error.msg`, when a string.
    pub error_msg: Option<JsonStr<'a>>,
}

/// Reads a Binance WebSocket API response; `None` when the frame is not one well-formed JSON
/// object.
#[must_use]
pub fn binance_response(frame: &[u8]) -> Option<BinanceResponse<'_>> {
    let mut r = BinanceResponse::default();
    let (mut id, mut status, mut error) = (None, None, None);
    let end = object(frame, ws(frame, 0), |k, v| match k {
        b"id" => take(frame, v, &mut id),
        b"status" => take(frame, v, &mut status),
        b"result" if frame.get(v) == Some(&b'{') => {
            let (end, o) = binance_order_at(frame, v)?;
            r.result = Some(&frame[v..end]);
            r.order = Some(o);
            Some(end)
        }
        b"result" => {
            r.order = None;
            take(frame, v, &mut r.result)
        }
        b"error" => take(frame, v, &mut error),
        _ => skip_value(frame, v),
    })?;
    if !ends(frame, end) {
        return None;
    }
    let [code, msg] = error
        .and_then(|e| fields(e, ["code", "msg"]))
        .unwrap_or([None, None]);
    r.id = id.and_then(JsonStr::of);
    r.status = status.and_then(json_u64);
    r.error_code = code.and_then(json_i64);
    r.error_msg = msg.and_then(JsonStr::of);
    Some(r)
}

/// The request kind and engine order id of a response id `{kind}{order id}[-{seq}]` (`p7`,
/// `s7-3`); `None` when it has no such shape.
#[must_use]
pub fn binance_req_id(id: JsonStr<'_>) -> Option<(u8, u64)> {
    let mut buf = [0u8; STR_BUF];
    let s = id.decode_into(&mut buf)?;
    let (&kind, rest) = s.split_first()?;
    let digits = rest.split(|&c| c == b'-').next()?;
    Some((kind, walk::uint(digits)?))
}

/// Binance order statuses after which nothing more happens to the order.
const BINANCE_FINAL: [&[u8]; 5] = [
    b"FILLED",
    b"EXPIRED",
    b"CANCELED",
    b"REJECTED",
    b"EXPIRED_IN_MATCH",
];

/// The outcome of a Binance order object (raw; see [`binance_order_outcome`]).
#[must_use]
pub fn binance_outcome(
    result: &[u8],
    px_scale: u8,
    qty_scale: u8,
    order_qty: i64,
    limit_px: i64,
) -> Option<Outcome> {
    binance_order_outcome(
        &binance_order(result)?,
        px_scale,
        qty_scale,
        order_qty,
        limit_px,
    )
}

/// The outcome of a Binance order object of an order of `order_qty` at `limit_px`: `None` while
/// its `status` is not final, or when a field it needs is missing or malformed. Filled quantity
/// from `executedQty`; price from the `fills` (quantity-weighted), else from
/// `cummulativeQuoteQty` / filled.
#[must_use]
pub fn binance_order_outcome(
    o: &BinanceOrder<'_>,
    px_scale: u8,
    qty_scale: u8,
    order_qty: i64,
    limit_px: i64,
) -> Option<Outcome> {
    let status = JsonStr::of(o.status?)?;
    if !BINANCE_FINAL.iter().any(|s| status.is(s)) {
        return None;
    }
    let filled = str_decimal(o.executed_qty?, qty_scale)?
        .min(order_qty)
        .max(0);
    if filled == 0 {
        return Some(Outcome {
            filled,
            px: limit_px,
        });
    }
    if let Some(fills) = o.fills.filter(|f| non_empty_array(f)) {
        let w = vwap_of(fills, b"price", b"qty", str_decimal, px_scale, qty_scale)?;
        // Fills that all have quantity 0 sum to price 0 (as before).
        let px = if w.den == 0 { 0 } else { w.px()? };
        return Some(Outcome { filled, px });
    }
    let quote = str_decimal(o.quote_qty?, px_scale.saturating_add(qty_scale).min(18))?;
    let (q, f) = (i128::from(quote), i128::from(filled));
    Some(Outcome {
        filled,
        px: i64::try_from((q + f / 2) / f).ok()?,
    })
}

/// The fields of a Deribit order object (an order response's `result.order`, a `user.orders`
/// notification's `params.data`) the adapter reads, raw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeribitOrder<'a> {
    /// `order_state`.
    pub state: Option<&'a [u8]>,
    /// `filled_amount`.
    pub filled: Option<&'a [u8]>,
    /// `average_price`.
    pub avg_px: Option<&'a [u8]>,
    /// `label`.
    pub label: Option<&'a [u8]>,
}

/// Reads the Deribit order object whose `{` is at `s[i]`; returns its end too.
fn deribit_order_at(s: &[u8], i: usize) -> Option<(usize, DeribitOrder<'_>)> {
    let mut o = DeribitOrder::default();
    let end = object(s, i, |k, v| match k {
        b"order_state" => take(s, v, &mut o.state),
        b"filled_amount" => take(s, v, &mut o.filled),
        b"average_price" => take(s, v, &mut o.avg_px),
        b"label" => take(s, v, &mut o.label),
        _ => skip_value(s, v),
    })?;
    Some((end, o))
}

/// Reads a Deribit order object (raw); `None` when it is not one well-formed object.
#[must_use]
pub fn deribit_order(o: &[u8]) -> Option<DeribitOrder<'_>> {
    let (end, d) = deribit_order_at(o, ws(o, 0))?;
    ends(o, end).then_some(d)
}

/// The fields of a Deribit JSON-RPC message the adapter reads — a response (`id`, `result` |
/// `error`) or a notification (`method: "subscription"`, `params`) — in one pass over the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeribitMessage<'a> {
    /// `method`, when a string.
    pub method: Option<JsonStr<'a>>,
    /// `id`, when an unsigned integer.
    pub id: Option<u64>,
    /// `error`, raw (present, whatever its value, means the request failed).
    pub error: Option<&'a [u8]>,
    /// `result`, raw.
    pub result: Option<&'a [u8]>,
    /// `result.order`, read (an order response).
    pub order: Option<DeribitOrder<'a>>,
    /// `result.trades`, raw (an order response, or the account's trades).
    pub trades: Option<&'a [u8]>,
    /// `params.data`, read, when it is an object (a `user.orders` notification).
    pub data: Option<DeribitOrder<'a>>,
}

impl<'a> DeribitMessage<'a> {
    /// Whether this is a subscription notification.
    #[must_use]
    pub fn is_subscription(&self) -> bool {
        self.method.is_some_and(|m| m.is(b"subscription"))
    }

    /// `error.code` and `error.message`.
    #[must_use]
    pub fn error_code_message(&self) -> (Option<i64>, Option<JsonStr<'a>>) {
        match self.error.and_then(|e| fields(e, ["code", "message"])) {
            Some([c, m]) => (c.and_then(json_i64), m.and_then(JsonStr::of)),
            None => (None, None),
        }
    }
}

/// Reads a Deribit JSON-RPC message; `None` when the frame is not one well-formed JSON object.
#[must_use]
pub fn deribit_message(frame: &[u8]) -> Option<DeribitMessage<'_>> {
    let s = frame;
    let mut m = DeribitMessage::default();
    let (mut method, mut id) = (None, None);
    let end = object(s, ws(s, 0), |k, v| match k {
        b"method" => take(s, v, &mut method),
        b"id" => take(s, v, &mut id),
        b"error" => take(s, v, &mut m.error),
        b"result" => {
            // A repeated key counts by its last value, so its parts start afresh.
            let (mut order, mut trades) = (None, None);
            let end = if s.get(v) == Some(&b'{') {
                object(s, v, |k, v| match k {
                    b"order" if s.get(v) == Some(&b'{') => {
                        let (end, o) = deribit_order_at(s, v)?;
                        order = Some(o);
                        Some(end)
                    }
                    b"order" => {
                        order = None;
                        skip_value(s, v)
                    }
                    b"trades" => take(s, v, &mut trades),
                    _ => skip_value(s, v),
                })?
            } else {
                skip_value(s, v)?
            };
            (m.result, m.order, m.trades) = (Some(&s[v..end]), order, trades);
            Some(end)
        }
        b"params" => {
            let mut data = None;
            let end = if s.get(v) == Some(&b'{') {
                object(s, v, |k, v| match k {
                    b"data" if s.get(v) == Some(&b'{') => {
                        let (end, o) = deribit_order_at(s, v)?;
                        data = Some(o);
                        Some(end)
                    }
                    b"data" => {
                        data = None;
                        skip_value(s, v)
                    }
                    _ => skip_value(s, v),
                })?
            } else {
                skip_value(s, v)?
            };
            m.data = data;
            Some(end)
        }
        _ => skip_value(s, v),
    })?;
    if !ends(s, end) {
        return None;
    }
    m.method = method.and_then(JsonStr::of);
    m.id = id.and_then(json_u64);
    Some(m)
}

/// The engine order id in an order's `label` value `{prefix}{id}` (raw JSON value); `None` for
/// any other value. Decoded on the fly, whatever its length.
#[must_use]
pub fn label_order(label: &[u8], prefix: &str) -> Option<u64> {
    let label = JsonStr::of(label)?;
    let prefix = prefix.as_bytes();
    let (mut at, mut id, mut digits) = (0usize, 0u64, 0usize);
    label.pieces(|p| {
        for &c in p {
            if at < prefix.len() {
                (prefix[at] == c).then_some(())?;
                at += 1;
            } else {
                (c.is_ascii_digit() && digits < 20).then_some(())?;
                id = id.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                digits += 1;
            }
        }
        Some(())
    })?;
    (at == prefix.len() && digits > 0).then_some(id)
}

/// Deribit order states after which nothing more happens to the order.
const DERIBIT_FINAL: [&[u8]; 3] = [b"filled", b"cancelled", b"rejected"];

/// The outcome of a Deribit order object (raw; see [`deribit_order_outcome`]).
#[must_use]
pub fn deribit_outcome(
    order: &[u8],
    trades: Option<&[u8]>,
    px_scale: u8,
    qty_scale: u8,
    order_qty: i64,
    limit_px: i64,
) -> Option<Outcome> {
    deribit_order_outcome(
        &deribit_order(order)?,
        trades,
        px_scale,
        qty_scale,
        order_qty,
        limit_px,
    )
}

/// The outcome of a Deribit order object of an order of `order_qty` at `limit_px`, with the
/// response's `result.trades` if any: `None` while its `order_state` is open, or when a field it
/// needs is missing or malformed. Filled quantity from `filled_amount`; price from the trades
/// (amount-weighted), else `average_price`.
#[must_use]
pub fn deribit_order_outcome(
    o: &DeribitOrder<'_>,
    trades: Option<&[u8]>,
    px_scale: u8,
    qty_scale: u8,
    order_qty: i64,
    limit_px: i64,
) -> Option<Outcome> {
    let state = JsonStr::of(o.state?)?;
    if !DERIBIT_FINAL.iter().any(|s| state.is(s)) {
        return None;
    }
    let filled = num_decimal(o.filled?, qty_scale)?.min(order_qty).max(0);
    let px = match trades.filter(|t| non_empty_array(t)) {
        Some(t) => vwap_of(t, b"price", b"amount", num_decimal, px_scale, qty_scale)?.px()?,
        None if filled > 0 => num_decimal(o.avg_px?, px_scale)?,
        None => limit_px,
    };
    Some(Outcome { filled, px })
}

/// What the account's trades (`private/get_user_trades_by_instrument`'s `result.trades`, raw)
/// say of the order labelled `{prefix}{order_id}`: the amounts of its trades summed (an amount
/// that does not parse counts 0) and clamped to 0..=`order_qty`, and the amount-weighted price,
/// `limit_px` when nothing filled or a trade of it has no readable price and amount. `None` when
/// `trades` is not an array. Used by the recovery after a reconnect (rare), one pass per order.
#[must_use]
pub fn deribit_trades_outcome(
    trades: &[u8],
    prefix: &str,
    order_id: u64,
    px_scale: u8,
    qty_scale: u8,
    order_qty: i64,
    limit_px: i64,
) -> Option<Outcome> {
    let (mut sum, mut w, mut priced) = (0i64, Vwap::default(), true);
    elements(trades, |t| {
        let Some([label, p, q]) = fields(t, ["label", "price", "amount"]) else {
            return Some(());
        };
        if label.and_then(|l| label_order(l, prefix)) != Some(order_id) {
            return Some(());
        }
        if let Some(q) = q {
            sum = sum.saturating_add(num_decimal(q, qty_scale).unwrap_or(0));
        }
        match (
            p.and_then(|p| num_decimal(p, px_scale)),
            q.and_then(|q| num_decimal(q, qty_scale)),
        ) {
            (Some(p), Some(q)) if priced => priced = w.add(p, q).is_some(),
            _ => priced = false,
        }
        Some(())
    })?;
    let filled = sum.min(order_qty).max(0);
    let px = if filled > 0 && priced {
        w.px().unwrap_or(limit_px)
    } else {
        limit_px
    };
    Some(Outcome { filled, px })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strings_decode() {
        let s = JsonStr::of(br#""a\"b\\c\/\n\u0041\u00e9\ud83d\ude00""#).unwrap();
        let mut buf = [0u8; STR_BUF];
        assert_eq!(
            s.decode_into(&mut buf).unwrap(),
            "a\"b\\c/\nAé😀".as_bytes()
        );
        assert!(s.is("a\"b\\c/\nAé😀".as_bytes()));
        assert!(!s.is(b"a\"b"));
        assert_eq!(s.to_string_lossy(), "a\"b\\c/\nAé😀");
        for bad in [
            &br#""\x""#[..],
            br#""\u12""#,
            br#""\ud83d""#,
            br#""\ude00""#,
            br#""\ud83d\u0041""#,
            br#""\""#,
        ] {
            let s = JsonStr::of(bad).unwrap();
            assert_eq!(s.decode_into(&mut buf), None, "{bad:?}");
        }
        assert_eq!(JsonStr::of(b"12"), None);
        assert_eq!(JsonStr::of(b"\""), None);
        let long = format!("\"\\u0041{}\"", "x".repeat(STR_BUF));
        assert_eq!(
            JsonStr::of(long.as_bytes()).unwrap().decode_into(&mut buf),
            None
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(json_u64(b"200"), Some(200));
        assert_eq!(json_u64(b"0"), Some(0));
        for bad in [
            &b"012"[..],
            b"-1",
            b"2.0",
            b"2e2",
            b"",
            b"null",
            b"\"200\"",
            b"18446744073709551616",
        ] {
            assert_eq!(json_u64(bad), None, "{bad:?}");
        }
        assert_eq!(json_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(json_i64(b"-2013"), Some(-2013));
        assert_eq!(json_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(json_i64(b"9223372036854775808"), None);
        assert_eq!(json_i64(b"-"), None);
        assert_eq!(str_decimal(br#""0.00200000""#, 8), Some(200_000));
        assert_eq!(str_decimal(br#""0.0\u0030200000""#, 8), Some(200_000));
        assert_eq!(str_decimal(b"0.002", 8), None);
        assert_eq!(str_decimal(br#""0.000000001""#, 8), None);
        assert_eq!(str_decimal(br#""99999999999999999999""#, 8), None);
        assert_eq!(num_decimal(b"4714.0", 8), Some(471_400_000_000));
        assert_eq!(num_decimal(b"1e-05", 8), Some(1_000));
        assert_eq!(num_decimal(br#""10""#, 8), Some(1_000_000_000));
        assert_eq!(num_decimal(b"null", 8), None);
        assert_eq!(num_decimal(b"1e400", 8), None);
    }

    #[test]
    fn objects_and_arrays() {
        let o = br#" {"a":1, "b" : [1,{"x":"]"}], "\u0061":2, "c":{"d":[]}} "#;
        let [a, b, c, z] = fields(o, ["a", "b", "c", "z"]).unwrap();
        assert_eq!(
            a,
            Some(&b"2"[..]),
            "the last of a repeated key, escapes decoded"
        );
        assert_eq!(b, Some(&br#"[1,{"x":"]"}]"#[..]));
        assert_eq!(c, Some(&br#"{"d":[]}"#[..]));
        assert_eq!(z, None);
        let mut seen = Vec::new();
        assert_eq!(
            elements(b.unwrap(), |e| {
                seen.push(e);
                Some(())
            }),
            Some(2)
        );
        assert_eq!(seen, [&b"1"[..], br#"{"x":"]"}"#]);
        assert_eq!(elements(b" [ ] ", |_| None), Some(0));
        assert_eq!(elements(b"[1,]", |_| Some(())), None);
        assert_eq!(elements(b"[1 2]", |_| Some(())), None);
        assert_eq!(elements(b"{}", |_| Some(())), None);
        assert_eq!(fields(br#"{"a":1}x"#, ["a"]), None);
        assert_eq!(fields(br#"{"a":1"#, ["a"]), None);
        assert_eq!(fields(b"[1]", ["a"]), None);
        assert!(non_empty_array(b" [ 1 ]") && !non_empty_array(b"[ ]") && !non_empty_array(b"{}"));
    }

    /// Answers as the venue simulator writes them (`venue_sim::binance`), and as Binance does.
    const B_FILLED: &str = r#"{"id":"p7","status":200,"result":{"symbol":"BTCUSDT","orderId":12,"orderListId":-1,"clientOrderId":"alloc-7","transactTime":1700000000000,"price":"60000.01000000","origQty":"0.00300000","executedQty":"0.00300000","cummulativeQuoteQty":"180.00003000","status":"FILLED","timeInForce":"IOC","type":"LIMIT","side":"BUY","workingTime":1700000000000,"selfTradePreventionMode":"NONE","fills":[{"price":"60000.00000000","qty":"0.00100000","commission":"0","commissionAsset":"BNB","tradeId":5},{"price":"60000.01500000","qty":"0.00200000","commission":"0","commissionAsset":"BNB","tradeId":6}]},"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1}]}"#;

    #[test]
    fn binance_answers() {
        let r = binance_response(B_FILLED.as_bytes()).unwrap();
        assert_eq!(r.status, Some(200));
        assert_eq!(binance_req_id(r.id.unwrap()), Some((b'p', 7)));
        let o = binance_outcome(r.result.unwrap(), 8, 8, 300_000, 6_000_001_000_000).unwrap();
        // (1 × 60000 + 2 × 60000.015) / 3 = 60000.01
        assert_eq!(
            o,
            Outcome {
                filled: 300_000,
                px: 6_000_001_000_000
            }
        );
        // Without fills: cummulativeQuoteQty / executedQty.
        let no_fills = B_FILLED.replace(r#""fills":"#, r#""fillz":"#);
        let r = binance_response(no_fills.as_bytes()).unwrap();
        let o = binance_outcome(r.result.unwrap(), 8, 8, 300_000, 1).unwrap();
        assert_eq!(o.px, 6_000_001_000_000);
        // Still working: no outcome; expired unfilled: the limit price.
        let new = B_FILLED.replace(r#""status":"FILLED""#, r#""status":"NEW""#);
        let r = binance_response(new.as_bytes()).unwrap();
        assert_eq!(binance_outcome(r.result.unwrap(), 8, 8, 300_000, 1), None);
        let exp = r#"{"id":"s9-3","status":200,"result":{"status":"EXP\u0049RED","executedQty":"0.00000000","cummulativeQuoteQty":"0.00000000"}}"#;
        let r = binance_response(exp.as_bytes()).unwrap();
        assert_eq!(binance_req_id(r.id.unwrap()), Some((b's', 9)));
        assert_eq!(
            binance_outcome(r.result.unwrap(), 8, 8, 5, 42),
            Some(Outcome { filled: 0, px: 42 })
        );
        // More filled than ordered is clamped.
        let r = binance_response(B_FILLED.as_bytes()).unwrap();
        assert_eq!(
            binance_outcome(r.result.unwrap(), 8, 8, 100_000, 1)
                .unwrap()
                .filled,
            100_000
        );
        // Errors and the logon answer.
        let rej = r#"{"id":"s3-1","status":400,"error":{"code":-2013,"msg":"Order does not exist."},"rateLimits":[]}"#;
        let r = binance_response(rej.as_bytes()).unwrap();
        assert_eq!((r.status, r.error_code), (Some(400), Some(-2013)));
        assert_eq!(
            r.error_msg.unwrap().to_string_lossy(),
            "Order does not exist."
        );
        let logon = r#"{"id":"logon","status":200,"result":{"apiKey":"k","authorizedSince":1,"connectedSince":1,"returnRateLimits":false,"serverTime":1},"rateLimits":[]}"#;
        let r = binance_response(logon.as_bytes()).unwrap();
        assert!(r.id.unwrap().is(b"logon") && r.status == Some(200));
    }

    #[test]
    fn binance_bad_answers() {
        fn r(s: &str) -> Option<BinanceResponse<'_>> {
            binance_response(s.as_bytes())
        }
        // Cut short, not an object, trailing garbage.
        for n in [0, 1, 10, B_FILLED.len() / 2, B_FILLED.len() - 1] {
            assert_eq!(r(&B_FILLED[..n]), None, "cut at {n}");
        }
        assert_eq!(r("[1,2]"), None);
        assert_eq!(r(&format!("{B_FILLED}x")), None);
        // Wrong types: the field reads as absent.
        let x = r(r#"{"id":7,"status":"200","error":{"code":"x"}}"#).unwrap();
        assert_eq!((x.id, x.status, x.error_code), (None, None, None));
        assert_eq!(binance_req_id(JsonStr::of(br#""p""#).unwrap()), None);
        assert_eq!(binance_req_id(JsonStr::of(br#""""#).unwrap()), None);
        assert_eq!(
            binance_req_id(JsonStr::of("\"pé\"".as_bytes()).unwrap()),
            None
        );
        assert_eq!(
            binance_req_id(JsonStr::of(br#""p99999999999999999999999""#).unwrap()),
            None
        );
        // Fields of the result missing, of the wrong type or huge.
        let res = |s: &str| binance_outcome(s.as_bytes(), 8, 8, 1_000, 7);
        assert_eq!(res(r#"{"status":"FILLED"}"#), None);
        assert_eq!(res(r#"{"status":"FILLED","executedQty":5}"#), None);
        assert_eq!(res(r#"{"status":1,"executedQty":"5"}"#), None);
        assert_eq!(
            res(
                r#"{"status":"FILLED","executedQty":"0.00000005","fills":[{"price":"1","qty":"x"}]}"#
            ),
            None
        );
        assert_eq!(
            res(r#"{"status":"FILLED","executedQty":"0.00000005","fills":[7]}"#),
            None
        );
        assert_eq!(
            res(r#"{"status":"FILLED","executedQty":"99999999999999999999"}"#),
            None
        );
        // Fills whose price × quantity sums overflow any integer: no outcome, no panic.
        let huge = r#"{"price":"92233720368.54775807","qty":"92233720368.54775807"}"#;
        let many = [huge; 8].join(",");
        assert_eq!(
            res(&format!(
                r#"{{"status":"FILLED","executedQty":"0.00000005","fills":[{many}]}}"#
            )),
            None
        );
        // An empty fills array falls back on the quote quantity.
        assert_eq!(
            res(
                r#"{"status":"FILLED","executedQty":"0.00000005","fills":[],"cummulativeQuoteQty":"0.00000010"}"#
            ),
            Some(Outcome {
                filled: 5,
                px: 200_000_000
            })
        );
    }

    const D_ORDER: &str = r#"{"jsonrpc":"2.0","id":7,"result":{"order":{"order_id":"31","order_state":"filled","order_type":"limit","direction":"buy","price":60001.0,"amount":30.0,"filled_amount":30.0,"average_price":60000.5,"label":"alloc-7","instrument_name":"BTC-PERPETUAL","creation_timestamp":1,"last_update_timestamp":1,"time_in_force":"immediate_or_cancel","post_only":false,"reduce_only":false,"api":true,"web":false,"replaced":false,"is_liquidation":false,"max_show":30.0,"commission":0.0,"cancel_reason":""},"trades":[{"trade_id":"5","trade_seq":5,"order_id":"31","instrument_name":"BTC-PERPETUAL","direction":"buy","price":60000.0,"amount":10.0,"timestamp":1,"state":"filled","fee":0.0,"fee_currency":"BTC","liquidity":"T","label":"alloc-7","order_type":"limit","index_price":0.0,"mark_price":0.0,"tick_direction":0,"matching_id":null,"api":true,"post_only":false,"reduce_only":false},{"trade_id":"6","price":6.00005e4,"amount":20,"label":"alloc-7"}]},"usIn":1,"usOut":1,"usDiff":0,"testnet":true}"#;

    #[test]
    fn deribit_answers() {
        let m = deribit_message(D_ORDER.as_bytes()).unwrap();
        assert_eq!((m.id, m.error, m.is_subscription()), (Some(7), None, false));
        let (o, t) = (m.order.unwrap(), m.trades);
        // (10 × 60000 + 20 × 60000.5) / 30 = 60000.3333… → 60000.33333333 at 8 decimals.
        assert_eq!(
            deribit_order_outcome(&o, t, 8, 8, 3_000_000_000, 1),
            Some(Outcome {
                filled: 3_000_000_000,
                px: 6_000_033_333_333
            })
        );
        // Without trades: the average price.
        assert_eq!(
            deribit_order_outcome(&o, None, 8, 8, 3_000_000_000, 1)
                .unwrap()
                .px,
            6_000_050_000_000
        );
        assert_eq!(label_order(o.label.unwrap(), "alloc-"), Some(7));
        let open = D_ORDER.replace(r#""order_state":"filled""#, r#""order_state":"open""#);
        let m = deribit_message(open.as_bytes()).unwrap();
        assert_eq!(
            deribit_order_outcome(&m.order.unwrap(), None, 8, 8, 1, 1),
            None
        );
        // A user.orders notification.
        let n = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"user.orders.any.any.raw","data":{"order_state":"cancelled","filled_amount":0.0,"average_price":0.0,"label":"b\"x-12"}}}"#;
        let m = deribit_message(n.as_bytes()).unwrap();
        assert!(m.is_subscription() && m.id.is_none());
        let d = m.data.unwrap();
        assert_eq!(label_order(d.label.unwrap(), "b\"x-"), Some(12));
        assert_eq!(
            deribit_order_outcome(&d, None, 8, 8, 5, 9),
            Some(Outcome { filled: 0, px: 9 })
        );
        // An error, and the auth answer's code and message.
        let e = r#"{"jsonrpc":"2.0","id":4611686018427387905,"error":{"code":13004,"message":"invalid_credentials"},"testnet":true}"#;
        let m = deribit_message(e.as_bytes()).unwrap();
        assert_eq!(m.id, Some((1 << 62) + 1));
        let (c, msg) = m.error_code_message();
        assert_eq!(
            (c, msg.map(|s| s.to_string_lossy())),
            (Some(13004), Some("invalid_credentials".into()))
        );
        // `"error": null` still counts as an error (as `Value::get` saw it).
        let m = deribit_message(br#"{"id":3,"error":null}"#).unwrap();
        assert!(m.error.is_some());
    }

    #[test]
    fn deribit_trades_recovery() {
        let t = br#"[{"label":"a-1","price":100.0,"amount":1.0},{"label":"a-2","price":5,"amount":2},{"label":"a-1","price":200,"amount":3},{"price":1,"amount":1},7]"#;
        let o = |id, qty| deribit_trades_outcome(t, "a-", id, 0, 0, qty, 42);
        // (1 × 100 + 3 × 200) / 4 = 175
        assert_eq!(o(1, 10), Some(Outcome { filled: 4, px: 175 }));
        assert_eq!(o(1, 3), Some(Outcome { filled: 3, px: 175 }));
        assert_eq!(o(2, 10), Some(Outcome { filled: 2, px: 5 }));
        assert_eq!(o(3, 10), Some(Outcome { filled: 0, px: 42 }));
        // A trade of the order without a readable price: its amount counts, the price is the limit.
        let t = br#"[{"label":"a-1","price":"x","amount":1},{"label":"a-1","price":5,"amount":2}]"#;
        assert_eq!(
            deribit_trades_outcome(t, "a-", 1, 0, 0, 10, 42),
            Some(Outcome { filled: 3, px: 42 })
        );
        assert_eq!(deribit_trades_outcome(b"{}", "a-", 1, 0, 0, 10, 42), None);
    }

    #[test]
    fn labels() {
        assert_eq!(label_order(br#""alloc-7""#, "alloc-"), Some(7));
        assert_eq!(label_order(br#""\u0061lloc-7""#, "alloc-"), Some(7));
        assert_eq!(label_order(br#""alloc-""#, "alloc-"), None);
        assert_eq!(label_order(br#""alloc-7x""#, "alloc-"), None);
        assert_eq!(label_order(br#""other-7""#, "alloc-"), None);
        assert_eq!(
            label_order(br#""alloc-99999999999999999999""#, "alloc-"),
            None
        );
        assert_eq!(label_order(b"7", ""), None);
        let long = "p".repeat(300);
        let label = format!("\"\\u0070{}-18446744073709551615\"", &long[1..]);
        assert_eq!(
            label_order(label.as_bytes(), &format!("{long}-")),
            Some(u64::MAX)
        );
    }

    /// The former reading of a Binance order object (`serde_json::Value`, the adapter up to
    /// commit ed053ad), the reference on valid answers.
    fn binance_reference(r: &str, qty: i64, limit: i64) -> Option<(i64, i64)> {
        use serde_json::Value;
        let r: Value = serde_json::from_str(r).ok()?;
        let status = r.get("status")?.as_str()?;
        if !matches!(
            status,
            "FILLED" | "EXPIRED" | "CANCELED" | "REJECTED" | "EXPIRED_IN_MATCH"
        ) {
            return None;
        }
        let d = |v: &Value, scale: u8| -> Option<i64> {
            parse_decimal(v.as_str()?.as_bytes(), scale)
                .ok()
                .map(|x| x.mantissa)
        };
        let filled = d(r.get("executedQty")?, 8)?.clamp(0, qty);
        let px = if filled == 0 {
            limit
        } else if let Some(fills) = r
            .get("fills")
            .and_then(Value::as_array)
            .filter(|f| !f.is_empty())
        {
            let (mut num, mut den) = (0i128, 0i128);
            for f in fills {
                let (p, q) = (d(f.get("price")?, 8)?, d(f.get("qty")?, 8)?);
                num += i128::from(p) * i128::from(q);
                den += i128::from(q);
            }
            i64::try_from((num + den / 2) / den.max(1)).ok()?
        } else {
            let quote = d(r.get("cummulativeQuoteQty")?, 16)?;
            let (q, f) = (i128::from(quote), i128::from(filled));
            i64::try_from((q + f / 2) / f).ok()?
        };
        Some((filled, px))
    }

    /// The former reading of a Deribit order object and trades (decimals through `serde_json`'s
    /// number text), the reference on valid answers whose numbers survive `f64`.
    fn deribit_reference(
        o: &str,
        trades: Option<&str>,
        qty: i64,
        limit: i64,
    ) -> Option<(i64, i64)> {
        use serde_json::Value;
        let num_text = |v: &Value| match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        };
        let d = |v: &Value, s: u8| {
            parse_decimal(num_text(v)?.as_bytes(), s)
                .ok()
                .map(|x| x.mantissa)
        };
        let o: Value = serde_json::from_str(o).ok()?;
        let trades: Option<Value> = match trades {
            Some(t) => Some(serde_json::from_str(t).ok()?),
            None => None,
        };
        let trades = trades.as_ref().and_then(Value::as_array);
        let state = o.get("order_state")?.as_str()?;
        if !matches!(state, "filled" | "cancelled" | "rejected") {
            return None;
        }
        let filled = d(o.get("filled_amount")?, 8)?.clamp(0, qty);
        let px = match trades.filter(|t| !t.is_empty()) {
            Some(t) => {
                let (mut num, mut den) = (0i128, 0i128);
                for t in t {
                    let (p, q) = (d(t.get("price")?, 8)?, d(t.get("amount")?, 8)?);
                    num += i128::from(p) * i128::from(q);
                    den += i128::from(q);
                }
                if den == 0 {
                    return None;
                }
                i64::try_from((num + den / 2) / den).ok()?
            }
            None if filled > 0 => d(o.get("average_price")?, 8)?,
            None => limit,
        };
        Some((filled, px))
    }

    /// Decimal strings as Binance writes them, and some it does not.
    fn b_dec() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,8}\\.[0-9]{8}",
            "[0-9]{1,8}(\\.[0-9]{0,9})?",
            Just(String::new()),
            "-[0-9]{1,3}",
        ]
    }

    /// JSON numbers (that survive `f64`) and decimal strings, as Deribit writes them.
    fn d_num() -> impl Strategy<Value = String> {
        prop_oneof![
            "[1-9][0-9]{0,5}(\\.[0-9]{1,8})?",
            // Not below 0.1: `f64` text turns 1e-5 into exponent form, which the former reading
            // could not parse (the new one reads it exactly).
            "0\\.[1-9][0-9]{0,7}",
            Just("0".to_owned()),
            "\"[0-9]{1,6}(\\.[0-9]{1,8})?\"",
            Just("null".to_owned()),
            Just("true".to_owned()),
        ]
    }

    fn read_all(b: &[u8]) {
        if let Some(r) = binance_response(b) {
            let _ = r.id.map(binance_req_id);
            let _ = r.error_msg.map(|m| m.to_string_lossy());
            if let Some(res) = r.result {
                let _ = binance_outcome(res, 8, 8, i64::MAX, 1);
            }
            if let Some(o) = r.order {
                let _ = binance_order_outcome(&o, 18, 18, 5, 1);
            }
        }
        if let Some(m) = deribit_message(b) {
            let _ = m.data.map(|d| deribit_order_outcome(&d, None, 8, 8, 5, 1));
            let _ = m.error_code_message();
            if let Some(o) = m.order {
                let _ = deribit_order_outcome(&o, m.trades, 8, 8, 1 << 40, 1);
                let _ = o.label.map(|l| label_order(l, "alloc-"));
            }
            if let Some(t) = m.trades {
                let _ = deribit_trades_outcome(t, "alloc-", 7, 8, 8, 1 << 40, 1);
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            read_all(&b);
        }

        /// Valid answers with bytes overwritten, inserted or cut: a defined outcome, no panic.
        #[test]
        fn mutated_answers_never_panic(
            which in 0usize..2,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
        ) {
            let mut b = [B_FILLED, D_ORDER][which].as_bytes().to_vec();
            for (at, byte, op) in edits {
                let at = at % (b.len() + 1);
                match op {
                    0 if at < b.len() => b[at] = byte,
                    1 => b.insert(at, byte),
                    _ => b.truncate(at),
                }
            }
            read_all(&b);
        }

        /// On valid Binance order objects the reading agrees with the former `serde_json::Value`
        /// one, field order, spacing and escapes aside.
        #[test]
        fn binance_agrees_with_value(
            status in prop::sample::select(vec!["FILLED", "EXPIRED", "CANCELED", "NEW", "PARTIALLY_FILLED", "EXPIRED_IN_MATCH"]),
            executed in b_dec(),
            quote in b_dec(),
            fills in proptest::option::of(proptest::collection::vec((b_dec(), b_dec()), 0..4)),
            escape in any::<bool>(),
            qty in 0i64..10_000_000_000,
        ) {
            let mut r = serde_json::json!({
                "symbol": "BTCUSDT", "orderId": 1, "status": status, "executedQty": executed,
                "cummulativeQuoteQty": quote, "rateLimits": [{"count": [1, {"x": null}]}],
            });
            if let Some(f) = &fills {
                r["fills"] = f.iter().map(|(p, q)| serde_json::json!({"price": p, "qty": q, "tradeId": 3})).collect();
            }
            let mut text = serde_json::to_string_pretty(&r).unwrap();
            if escape {
                text = text.replace("\"status\"", "\"st\\u0061tus\"").replace('E', "\\u0045");
            }
            prop_assert_eq!(
                binance_outcome(text.as_bytes(), 8, 8, qty, 77).map(|o| (o.filled, o.px)),
                binance_reference(&text, qty, 77)
            );
        }

        /// On valid Deribit order objects and trades the reading agrees with the former one.
        #[test]
        fn deribit_agrees_with_value(
            state in prop::sample::select(vec!["filled", "cancelled", "rejected", "open", "untriggered"]),
            filled in d_num(),
            avg in d_num(),
            trades in proptest::option::of(proptest::collection::vec((d_num(), d_num()), 0..4)),
            qty in 0i64..10_000_000_000_000,
        ) {
            let o = format!(
                r#"{{"order_id":"ETH-1","order_state":"{state}","filled_amount":{filled},"average_price":{avg},"label":"x-1","price":1.5,"web":false}}"#
            );
            let t = trades.map(|t| {
                let items: Vec<String> = t
                    .iter()
                    .map(|(p, a)| format!(r#"{{"price":{p},"amount":{a},"fee":1e-07,"label":"x-1"}}"#))
                    .collect();
                format!("[{}]", items.join(" , "))
            });
            prop_assert_eq!(
                deribit_outcome(o.as_bytes(), t.as_deref().map(str::as_bytes), 8, 8, qty, 77)
                    .map(|o| (o.filled, o.px)),
                deribit_reference(&o, t.as_deref(), qty, 77)
            );
        }

        /// Whatever the venue writes in the quantity fields, the filled quantity stays within the
        /// order's.
        #[test]
        fn filled_within_order(q in "[0-9]{1,22}(\\.[0-9]{1,10})?", qty in 0i64..1_000_000_000) {
            let r = format!(r#"{{"status":"FILLED","executedQty":"{q}","cummulativeQuoteQty":"1"}}"#);
            if let Some(o) = binance_outcome(r.as_bytes(), 8, 8, qty, 3) {
                prop_assert!((0..=qty).contains(&o.filled));
            }
            let d = format!(r#"{{"order_state":"filled","filled_amount":{q},"average_price":1}}"#);
            if let Some(o) = deribit_outcome(d.as_bytes(), None, 8, 8, qty, 3) {
                prop_assert!((0..=qty).contains(&o.filled));
            }
        }
    }
}
