//! Binance WebSocket API execution: `order.place` / `order.cancel` / `order.status` over one
//! websocket (`…/ws-api/v3`), limit IOC orders at the kernel's price.
//!
//! Authentication, two ways:
//! - [`BinanceAuth::Hmac`]: every request carries `apiKey`, `timestamp` and an HMAC-SHA256
//!   `signature` over its parameters sorted by key (the keyed state is precomputed, see
//!   [`super::sign`]);
//! - [`BinanceAuth::Ed25519Logon`]: one `session.logon` signed with the Ed25519 key at connect;
//!   later requests carry no key or signature, so signing leaves the order path.
//!
//! Every order gets exactly one final report: from the `order.place` response when it is final
//! (`FILLED`, `EXPIRED`, `CANCELED`, `REJECTED`), else from `order.status` queries sent after
//! `ack_timeout_ms` (lost or late acks) and after a reconnect. A late ack for an order already
//! reported is ignored. A request rejected by the venue reports the order wholly cancelled.
//!
//! Answers are read without allocating ([`super::ack`]); the in-flight map and the list of due
//! status queries are sized at start-up ([`super::INFLIGHT_CAPACITY`]).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use feeds::{Instrument, InstrumentId, Side};

use super::ack::{binance_order_outcome, binance_req_id, binance_response, BinanceOrder};
use super::encode;
use super::sign::HmacSigner;
use super::{cancelled, Credentials, ExecutionAdapter, INFLIGHT_CAPACITY};
use engine::clock::Clock;
use engine::order::{Fill, Order};
use net::ws::WsConn;
use net::ws::WsRecv;

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum BinanceAuth {
    /// HMAC-SHA256 signature on every request.
    Hmac(Credentials),
    /// `session.logon` once with an Ed25519 key: `key` is the API key, `secret` the base64 of the
    /// 32-byte Ed25519 seed.
    Ed25519Logon(Credentials),
}

/// Configuration of [`BinanceExec`].
#[derive(Debug, Clone)]
pub struct BinanceExecConfig {
    /// WebSocket API URL (`ws://127.0.0.1:9000/ws-api/v3`, `wss://ws-api.binance.com/ws-api/v3`).
    pub url: String,
    /// Authentication.
    pub auth: BinanceAuth,
    /// `recvWindow`, ms.
    pub recv_window_ms: u64,
    /// Query the order's state when no response came within this, ms.
    pub ack_timeout_ms: u64,
    /// Connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Prefix of client order ids (`{prefix}{order id}`), unique per session.
    pub client_id_prefix: String,
}

/// Counters of [`BinanceExec`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinanceExecStats {
    /// `order.place` requests sent.
    pub sent: u64,
    /// Final reports from `order.place` responses.
    pub acks: u64,
    /// Final reports from `order.status` responses.
    pub recovered: u64,
    /// `order.status` queries sent.
    pub status_queries: u64,
    /// Requests the venue rejected.
    pub rejects: u64,
    /// Orders not sent because the connection was down (reported cancelled).
    pub not_sent: u64,
    /// Connections made.
    pub connects: u64,
    /// Responses for orders already reported (late acks), ignored.
    pub late_acks: u64,
    /// `cancel_all` calls.
    pub cancel_alls: u64,
    /// `order.cancel` requests sent.
    pub cancels: u64,
    /// `session.logon` requests the venue accepted (one per connection under Ed25519 auth).
    pub logons: u64,
    /// `session.logon` requests the venue refused.
    pub logon_failures: u64,
    /// Frames read from the venue by [`ExecutionAdapter::poll`].
    pub frames: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    order: Order,
    last_try_ns: u64,
}

/// The Binance WebSocket API execution adapter.
pub struct BinanceExec {
    cfg: BinanceExecConfig,
    instruments: Vec<Instrument>,
    signer: Option<HmacSigner>,
    conn: Option<WsConn>,
    inflight: HashMap<u64, Pending>,
    /// Order ids due a status query (or a cancel), reused.
    due: Vec<u64>,
    sent_ids: Vec<u64>,
    stats: BinanceExecStats,
    epoch0_ms: u64,
    raw0: u64,
    clock: Clock,
    /// Signature payload, reused.
    payload: Vec<u8>,
    /// Encoded request, reused.
    out: Vec<u8>,
    next_req: u64,
}

impl std::fmt::Debug for BinanceExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceExec")
            .field("url", &self.cfg.url)
            .field("inflight", &self.inflight.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Errors of [`BinanceExec::connect`].
#[derive(Debug, thiserror::Error)]
pub enum BinanceExecError {
    /// Transport.
    #[error(transparent)]
    Ws(#[from] net::ws::WsError),
    /// The Ed25519 secret is neither base64 of a 32-byte seed nor a PKCS#8 Ed25519 key.
    #[error(
        "Ed25519 secret must be the base64 of a 32-byte seed or the PKCS#8 key of \
         `openssl genpkey -algorithm ed25519` (its PEM body)"
    )]
    BadSeed,
    /// The venue refused the `session.logon` (its error code and message), or did not answer it
    /// within the connect timeout (code 0).
    #[error("session.logon refused: {code} {msg}")]
    Logon {
        /// The venue's error code (0 = no answer).
        code: i64,
        /// The venue's message.
        msg: String,
    },
}

/// PKCS#8 v1 DER prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows it.
const PKCS8_ED25519: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The Ed25519 seed held in `secret`: the base64 of the 32-byte seed, or of the key's PKCS#8 DER
/// (what `openssl genpkey -algorithm ed25519` writes between the `-----BEGIN PRIVATE KEY-----`
/// lines, which may be left in). `None` for anything else.
#[must_use]
pub fn ed25519_seed(secret: &str) -> Option<[u8; 32]> {
    let body: String = secret
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let b = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    match b.len() {
        32 => <[u8; 32]>::try_from(b.as_slice()).ok(),
        48 if b[..16] == PKCS8_ED25519 => <[u8; 32]>::try_from(&b[16..]).ok(),
        _ => None,
    }
}

/// A parameter value of a WebSocket API request.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    /// A string (sent as a JSON string).
    Str(&'a str),
    /// An exact decimal `(mantissa, scale)`, sent as a JSON string (`"0.002"`).
    Dec(i64, u8),
    /// An integer, sent as a JSON number.
    Int(u64),
    /// A prefix then an integer (client order ids `{prefix}{id}`), sent as a JSON string.
    Id(&'a str, u64),
}

impl Param<'_> {
    /// The value as signed (`k=v` of the signature payload).
    fn raw(&self, out: &mut Vec<u8>) {
        match *self {
            Param::Str(s) => out.extend_from_slice(s.as_bytes()),
            Param::Dec(m, scale) => encode::decimal(out, m, scale),
            Param::Int(v) => encode::uint(out, v),
            Param::Id(p, v) => {
                out.extend_from_slice(p.as_bytes());
                encode::uint(out, v);
            }
        }
    }

    /// The value as JSON.
    fn json(&self, out: &mut Vec<u8>) {
        match *self {
            Param::Str(s) => encode::json_str(out, s),
            Param::Dec(m, scale) => {
                out.push(b'"');
                encode::decimal(out, m, scale);
                out.push(b'"');
            }
            Param::Int(v) => encode::uint(out, v),
            Param::Id(p, v) => {
                out.push(b'"');
                encode::json_str_body(out, p);
                encode::uint(out, v);
                out.push(b'"');
            }
        }
    }
}

/// The id of a request: `{kind}{order id}` and, when `seq` > 0, `-{seq}` (`p7`, `s7-3`).
#[derive(Debug, Clone, Copy)]
pub struct ReqId {
    /// `p` (place), `s` (status), `c` (cancel).
    pub kind: u8,
    /// Engine order id.
    pub order: u64,
    /// Request sequence number (0: none).
    pub seq: u64,
}

/// Most parameters a request may carry (with `timestamp`, `recvWindow` and `apiKey`).
pub const MAX_PARAMS: usize = 16;

/// Encodes the WebSocket API request `{"id", "method", "params"}` into `out` (cleared first):
/// `params` plus `timestamp` and `recvWindow` (every signed endpoint needs them, logged on or
/// not), and under HMAC auth (`hmac` = API key and signer) `apiKey` and the `signature` over the
/// parameters sorted by key (built in `payload`, also reused). A logged-on session sends neither
/// key nor signature. No allocation once `out` and `payload` have grown to their working size;
/// parameters beyond [`MAX_PARAMS`] - 3 are dropped.
#[allow(clippy::too_many_arguments)] // A free function over the adapter's disjoint fields.
pub fn encode_request(
    out: &mut Vec<u8>,
    payload: &mut Vec<u8>,
    hmac: Option<(&str, &HmacSigner)>,
    now_ms: u64,
    recv_window_ms: u64,
    id: ReqId,
    method: &str,
    params: &[(&str, Param<'_>)],
) {
    let mut all = [("", Param::Int(0)); MAX_PARAMS];
    let mut n = params.len().min(MAX_PARAMS - 3);
    all[..n].copy_from_slice(&params[..n]);
    all[n] = ("timestamp", Param::Int(now_ms));
    all[n + 1] = ("recvWindow", Param::Int(recv_window_ms));
    n += 2;
    if let Some((key, _)) = hmac {
        all[n] = ("apiKey", Param::Str(key));
        n += 1;
    }
    let all = &mut all[..n];
    let mut sig = None;
    if let Some((_, signer)) = hmac {
        // Unstable sort: in place, no allocation; keys are distinct.
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        payload.clear();
        for (i, (k, v)) in all.iter().enumerate() {
            if i > 0 {
                payload.push(b'&');
            }
            payload.extend_from_slice(k.as_bytes());
            payload.push(b'=');
            v.raw(payload);
        }
        sig = Some(signer.sign_hex(payload));
    }
    out.clear();
    out.extend_from_slice(b"{\"id\":\"");
    out.push(id.kind);
    encode::uint(out, id.order);
    if id.seq > 0 {
        out.push(b'-');
        encode::uint(out, id.seq);
    }
    out.extend_from_slice(b"\",\"method\":");
    encode::json_str(out, method);
    out.extend_from_slice(b",\"params\":{");
    for (i, (k, v)) in all.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        encode::json_str(out, k);
        out.push(b':');
        v.json(out);
    }
    if let Some(sig) = sig {
        out.extend_from_slice(b",\"signature\":\"");
        out.extend_from_slice(&sig);
        out.push(b'"');
    }
    out.extend_from_slice(b"}}");
}

/// The API key and signer under HMAC auth.
fn hmac_of<'a>(
    auth: &'a BinanceAuth,
    signer: Option<&'a HmacSigner>,
) -> Option<(&'a str, &'a HmacSigner)> {
    match auth {
        BinanceAuth::Hmac(c) => signer.map(|s| (c.key(), s)),
        BinanceAuth::Ed25519Logon(_) => None,
    }
}

/// Sends the encoded request; whether it was handed to the socket.
fn send(conn: &mut Option<WsConn>, out: &[u8]) -> bool {
    conn.as_mut()
        .is_some_and(|c| c.send_text_bytes(out).is_ok())
}

fn side_str(s: Side) -> &'static str {
    if s == Side::Sell {
        "SELL"
    } else {
        "BUY"
    }
}

impl BinanceExec {
    /// An adapter for `instruments` (index = instrument id), connected at once.
    ///
    /// # Errors
    /// The connection or the `session.logon` could not be made.
    pub fn connect(
        cfg: BinanceExecConfig,
        instruments: &[Instrument],
        clock: Clock,
    ) -> Result<Self, BinanceExecError> {
        let signer = match &cfg.auth {
            BinanceAuth::Hmac(c) => Some(HmacSigner::new(c.secret().as_bytes())),
            BinanceAuth::Ed25519Logon(_) => None,
        };
        let epoch0_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        let mut s = Self {
            raw0: clock.raw(),
            clock,
            cfg,
            instruments: instruments.to_vec(),
            signer,
            conn: None,
            inflight: HashMap::with_capacity(INFLIGHT_CAPACITY),
            due: Vec::with_capacity(INFLIGHT_CAPACITY),
            sent_ids: Vec::with_capacity(1 << 16),
            stats: BinanceExecStats::default(),
            epoch0_ms,
            payload: Vec::with_capacity(1024),
            out: Vec::with_capacity(2048),
            next_req: 0,
        };
        s.open()?;
        if matches!(s.cfg.auth, BinanceAuth::Ed25519Logon(_)) {
            s.await_logon()?;
        }
        Ok(s)
    }

    /// Waits (at start-up, before any order) for the answer to the first `session.logon`, so
    /// that refused credentials fail the start rather than every order.
    fn await_logon(&mut self) -> Result<(), BinanceExecError> {
        let t0 = self.clock.raw();
        let limit_ns = self.cfg.connect_timeout_ms.max(1).saturating_mul(1_000_000);
        while self.clock.delta_ns(t0, self.clock.raw()) < limit_ns {
            let Some(conn) = self.conn.as_mut() else {
                break;
            };
            match conn.recv()? {
                WsRecv::Frame(b) => {
                    let Some(r) = binance_response(b) else {
                        continue;
                    };
                    if !r.id.is_some_and(|id| id.is(b"logon")) {
                        continue;
                    }
                    if r.status == Some(200) {
                        self.stats.logons += 1;
                        return Ok(());
                    }
                    self.stats.logon_failures += 1;
                    return Err(BinanceExecError::Logon {
                        code: r.error_code.unwrap_or(0),
                        msg: r.error_msg.map(|m| m.to_string_lossy()).unwrap_or_default(),
                    });
                }
                WsRecv::Control => {}
                WsRecv::Nothing => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        Err(BinanceExecError::Logon {
            code: 0,
            msg: "no answer within the connect timeout".into(),
        })
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> BinanceExecStats {
        self.stats
    }

    /// Engine order ids sent to the venue, in order.
    #[must_use]
    pub fn sent_ids(&self) -> &[u64] {
        &self.sent_ids
    }

    fn now_ms(&self) -> u64 {
        self.epoch0_ms + self.clock.delta_ns(self.raw0, self.clock.raw()) / 1_000_000
    }

    fn open(&mut self) -> Result<(), BinanceExecError> {
        let mut conn = WsConn::connect(
            &self.cfg.url,
            Duration::from_millis(self.cfg.connect_timeout_ms.max(1)),
        )?;
        if let BinanceAuth::Ed25519Logon(c) = &self.cfg.auth {
            let seed = ed25519_seed(c.secret()).ok_or(BinanceExecError::BadSeed)?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let ts = self.now_ms();
            let payload = format!("apiKey={}&timestamp={ts}", c.key());
            let sig = ed25519_dalek::Signer::sign(&key, payload.as_bytes());
            let sig = base64::engine::general_purpose::STANDARD.encode(sig.to_bytes());
            let m = serde_json::json!({"id": "logon", "method": "session.logon",
                "params": {"apiKey": c.key(), "timestamp": ts, "signature": sig}});
            conn.send_text(m.to_string())?;
        }
        self.stats.connects += 1;
        self.conn = Some(conn);
        Ok(())
    }

    /// Encodes `method` for `order_id` by its client order id (`order.status`, `order.cancel`)
    /// and sends it; returns whether it was handed to the socket. No allocation.
    fn by_client_id(&mut self, kind: u8, method: &str, order_id: u64, instrument: usize) -> bool {
        let now_ms = self.now_ms();
        let Some(inst) = self.instruments.get(instrument) else {
            return true;
        };
        self.next_req += 1;
        let id = ReqId {
            kind,
            order: order_id,
            seq: self.next_req,
        };
        encode_request(
            &mut self.out,
            &mut self.payload,
            hmac_of(&self.cfg.auth, self.signer.as_ref()),
            now_ms,
            self.cfg.recv_window_ms,
            id,
            method,
            &[
                ("symbol", Param::Str(&inst.symbol)),
                (
                    "origClientOrderId",
                    Param::Id(&self.cfg.client_id_prefix, order_id),
                ),
            ],
        );
        send(&mut self.conn, &self.out)
    }

    fn query_status(&mut self, order_id: u64) -> bool {
        let Some(p) = self.inflight.get(&order_id) else {
            return true;
        };
        let inst = p.order.instrument.0 as usize;
        self.stats.status_queries += 1;
        self.by_client_id(b's', "order.status", order_id, inst)
    }

    /// Cancels order `order_id` of `instrument` (`order.cancel` by its client order id); an
    /// order in flight still gets its final report through [`ExecutionAdapter::poll`]. No
    /// allocation.
    pub fn cancel(&mut self, order_id: u64, instrument: InstrumentId) {
        self.stats.cancels += 1;
        if !self.by_client_id(b'c', "order.cancel", order_id, instrument.0 as usize) {
            self.conn = None;
        }
    }

    /// Turns a final order state (an order object's fields) into a report; `None` while the
    /// order is still working, or when the object lacks what the report needs.
    fn final_report(&self, o: &Order, result: &BinanceOrder<'_>) -> Option<Fill> {
        let inst = self.instruments.get(o.instrument.0 as usize)?;
        let out = binance_order_outcome(result, inst.px_scale, inst.qty_scale, o.qty, o.limit_px)?;
        Some(Fill {
            order_id: o.id,
            instrument: o.instrument,
            side: o.side,
            qty: out.filled,
            px: out.px,
            cancelled_qty: o.qty - out.filled,
            t_report: self.clock.raw(),
        })
    }

    /// Handles one frame the venue sent, as [`ExecutionAdapter::poll`] does with each frame it
    /// reads: an order's final state is reported once, a late answer counted and dropped, a
    /// refusal reported cancelled, a `session.logon` answer counted. Anything unreadable is
    /// ignored. No allocation.
    pub fn on_frame(&mut self, frame: &[u8], report: &mut impl FnMut(Fill)) {
        let Some(r) = binance_response(frame) else {
            return;
        };
        let Some(id) = r.id else {
            return;
        };
        if id.is(b"logon") {
            // A re-logon after a reconnect. Orders sent before a refusal are refused by the
            // venue in turn and reported cancelled.
            if r.status == Some(200) {
                self.stats.logons += 1;
            } else {
                self.stats.logon_failures += 1;
            }
            return;
        }
        // `p{order}` (order.place) and `s{order}-{seq}` (order.status); `c…` (order.cancel)
        // answers change nothing: the order's own answer reports it.
        let Some((kind, order_id)) = binance_req_id(id).filter(|&(k, _)| k == b'p' || k == b's')
        else {
            return;
        };
        let Some(p) = self.inflight.get(&order_id).copied() else {
            self.stats.late_acks += 1;
            return;
        };
        if r.status == Some(200) {
            if let Some(f) = r.order.and_then(|res| self.final_report(&p.order, &res)) {
                self.inflight.remove(&order_id);
                if kind == b'p' {
                    self.stats.acks += 1;
                } else {
                    self.stats.recovered += 1;
                }
                report(f);
            }
            return;
        }
        // An error: for `order.place` the order was refused; for `order.status` "order does not
        // exist" (-2013) means the request never arrived.
        if kind == b'p' || r.error_code == Some(-2013) {
            self.stats.rejects += 1;
            self.inflight.remove(&order_id);
            report(cancelled(&p.order, self.clock.raw()));
        }
    }
}

impl ExecutionAdapter for BinanceExec {
    fn submit(&mut self, o: &Order, clock: &Clock, report: &mut impl FnMut(Fill)) {
        if self.instruments.get(o.instrument.0 as usize).is_none() {
            report(cancelled(o, clock.raw()));
            return;
        }
        if self.conn.is_none() && self.open().is_err() {
            self.stats.not_sent += 1;
            report(cancelled(o, clock.raw()));
            return;
        }
        let now_ms = self.now_ms();
        let Some(inst) = self.instruments.get(o.instrument.0 as usize) else {
            return;
        };
        encode_request(
            &mut self.out,
            &mut self.payload,
            hmac_of(&self.cfg.auth, self.signer.as_ref()),
            now_ms,
            self.cfg.recv_window_ms,
            ReqId {
                kind: b'p',
                order: o.id,
                seq: 0,
            },
            "order.place",
            &[
                ("symbol", Param::Str(&inst.symbol)),
                ("side", Param::Str(side_str(o.side))),
                ("type", Param::Str("LIMIT")),
                ("timeInForce", Param::Str("IOC")),
                ("quantity", Param::Dec(o.qty, inst.qty_scale)),
                ("price", Param::Dec(o.limit_px, inst.px_scale)),
                (
                    "newClientOrderId",
                    Param::Id(&self.cfg.client_id_prefix, o.id),
                ),
                ("newOrderRespType", Param::Str("FULL")),
            ],
        );
        let now = clock.delta_ns(self.raw0, clock.raw());
        self.inflight.insert(
            o.id,
            Pending {
                order: *o,
                last_try_ns: now,
            },
        );
        self.sent_ids.push(o.id);
        self.stats.sent += 1;
        if self.conn.is_some() && !send(&mut self.conn, &self.out) {
            // It may or may not have left: the status query after reconnecting settles it.
            self.conn = None;
        }
    }

    fn poll(&mut self, clock: &Clock, report: &mut impl FnMut(Fill)) -> bool {
        let mut progress = false;
        if self.conn.is_none() {
            if self.inflight.is_empty() || self.open().is_err() {
                return false;
            }
            self.due.clear();
            self.due.extend(self.inflight.keys().copied());
            for i in 0..self.due.len() {
                let id = self.due[i];
                self.query_status(id);
            }
        }
        // The connection is out of `self` while its frames (borrowed from its buffer) are handled.
        if let Some(mut conn) = self.conn.take() {
            for _ in 0..64 {
                match conn.recv() {
                    Ok(WsRecv::Frame(b)) => {
                        self.stats.frames += 1;
                        self.on_frame(b, report);
                        progress = true;
                    }
                    Ok(WsRecv::Control) => {}
                    Ok(WsRecv::Nothing) => break,
                    // Lost: the status queries after reconnecting settle what is in flight.
                    Err(_) => return true,
                }
            }
            self.conn = Some(conn);
        }
        if !self.inflight.is_empty() {
            let now = clock.delta_ns(self.raw0, clock.raw());
            let timeout = self.cfg.ack_timeout_ms.saturating_mul(1_000_000);
            self.due.clear();
            self.due.extend(
                self.inflight
                    .iter()
                    .filter(|(_, p)| now.saturating_sub(p.last_try_ns) > timeout)
                    .map(|(&id, _)| id),
            );
            for i in 0..self.due.len() {
                let id = self.due[i];
                if let Some(p) = self.inflight.get_mut(&id) {
                    p.last_try_ns = now;
                }
                if !self.query_status(id) {
                    self.conn = None;
                    break;
                }
            }
        }
        progress
    }

    fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    fn cancel_all(&mut self, _clock: &Clock) {
        // IOC orders do not rest; cancel whatever is still in flight by client id.
        self.stats.cancel_alls += 1;
        self.due.clear();
        self.due.extend(self.inflight.keys().copied());
        for i in 0..self.due.len() {
            let id = self.due[i];
            if let Some(p) = self.inflight.get(&id) {
                let inst = p.order.instrument;
                self.cancel(id, inst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn order_params() -> [(&'static str, Param<'static>); 5] {
        [
            ("symbol", Param::Str("BTCUSDT")),
            ("side", Param::Str("BUY")),
            ("quantity", Param::Dec(200_000, 8)),
            ("price", Param::Dec(6_000_001_000_000, 8)),
            ("newClientOrderId", Param::Id("b\"x-", 7)),
        ]
    }

    fn id(kind: u8, order: u64, seq: u64) -> ReqId {
        ReqId { kind, order, seq }
    }

    /// Under HMAC every request is signed over its sorted parameters (the simulator's check
    /// agrees); a logged-on session sends `timestamp` and `recvWindow` but no key or signature.
    /// Decimals print exactly, strings are escaped, the buffers are reused.
    #[test]
    fn requests_signed_or_logged_on() {
        let signer = HmacSigner::new(b"s3cr3t");
        let (mut out, mut buf) = (Vec::new(), Vec::new());
        encode_request(
            &mut out,
            &mut buf,
            Some(("k", &signer)),
            1_700_000_000_000,
            5000,
            id(b'p', 1, 0),
            "order.place",
            &order_params(),
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        let p = v["params"].as_object().unwrap();
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            "apiKey=k&newClientOrderId=b\"x-7&price=60000.01&quantity=0.002&recvWindow=5000&side=BUY&symbol=BTCUSDT&timestamp=1700000000000"
        );
        assert_eq!(
            p["signature"].as_str().unwrap(),
            venue_sim::hmac_sha256_hex(
                b"s3cr3t",
                venue_sim::binance_signature_payload(p).as_bytes()
            )
        );
        assert_eq!(p["timestamp"], 1_700_000_000_000u64);
        assert_eq!(p["price"], "60000.01");
        assert_eq!(p["newClientOrderId"], "b\"x-7");
        assert_eq!(v["id"], "p1");
        encode_request(
            &mut out,
            &mut buf,
            None,
            1_700_000_000_001,
            5000,
            id(b's', 2, 9),
            "order.status",
            &order_params(),
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        let p = v["params"].as_object().unwrap();
        let r = String::from_utf8_lossy(&out);
        assert!(
            p.get("apiKey").is_none() && p.get("signature").is_none(),
            "{r}"
        );
        assert_eq!(p["timestamp"], 1_700_000_000_001u64);
        assert_eq!(p["recvWindow"], 5000);
        assert_eq!(
            (v["id"].as_str(), v["method"].as_str(), p["symbol"].as_str()),
            (Some("s2-9"), Some("order.status"), Some("BTCUSDT"))
        );
    }

    /// A throw-away key made with `openssl genpkey -algorithm ed25519`; its seed and public key
    /// as `openssl pkey -noout -text` prints them.
    #[test]
    fn ed25519_seed_from_raw_and_pkcs8() {
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEILfPdj2fY2B/JdwGTpMkR5qrF4LFKcwxpk129zPDyE7k\n\
                   -----END PRIVATE KEY-----\n";
        let seed: [u8; 32] = [
            0xb7, 0xcf, 0x76, 0x3d, 0x9f, 0x63, 0x60, 0x7f, 0x25, 0xdc, 0x06, 0x4e, 0x93, 0x24,
            0x47, 0x9a, 0xab, 0x17, 0x82, 0xc5, 0x29, 0xcc, 0x31, 0xa6, 0x4d, 0x76, 0xf7, 0x33,
            0xc3, 0xc8, 0x4e, 0xe4,
        ];
        let public: [u8; 32] = [
            0x92, 0x08, 0x0f, 0x60, 0xb3, 0x70, 0xe5, 0x90, 0x7f, 0xb4, 0x53, 0xe3, 0x0e, 0xef,
            0xf8, 0x7b, 0x6d, 0xbf, 0xd1, 0xca, 0x5d, 0x51, 0x05, 0xbc, 0x7f, 0x6a, 0xb5, 0x7a,
            0x20, 0x88, 0xe6, 0x69,
        ];
        assert_eq!(ed25519_seed(pem), Some(seed));
        assert_eq!(
            ed25519_seed("MC4CAQAwBQYDK2VwBCIEILfPdj2fY2B/JdwGTpMkR5qrF4LFKcwxpk129zPDyE7k"),
            Some(seed)
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(seed);
        assert_eq!(ed25519_seed(&format!(" {b64} ")), Some(seed));
        assert_eq!(
            ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes(),
            public
        );
        // Wrong length, wrong key type (an X25519 PKCS#8 header), not base64.
        assert_eq!(ed25519_seed(&b64[..40]), None);
        let mut x25519 = PKCS8_ED25519.to_vec();
        x25519[11] = 0x6e;
        x25519.extend_from_slice(&seed);
        let x = base64::engine::general_purpose::STANDARD.encode(x25519);
        assert_eq!(ed25519_seed(&x), None);
        assert_eq!(ed25519_seed("not base64!"), None);
    }
}
