//! Deribit execution over JSON-RPC 2.0 (one websocket, `…/ws/api/v2`): `public/auth` with client
//! credentials, `private/buy` / `private/sell` as limit immediate-or-cancel orders labelled with
//! the engine's order id, `private/edit`, `private/cancel`, and order state from the responses and
//! the `user.orders` subscription.
//!
//! Every order gets exactly one final report: from the `private/buy|sell` response when its
//! `order_state` is final (`filled`, `cancelled`, `rejected`), else from a `user.orders`
//! notification (lost or late acks), else — after a reconnect or `settle_timeout_ms` — from the
//! account's trades on the instrument (`private/get_user_trades_by_instrument`), summed by label:
//! an immediate-or-cancel order's fills are all there is to it.
//!
//! Answers and notifications are read without allocating ([`super::ack`]), the in-flight map is
//! sized at start-up ([`super::INFLIGHT_CAPACITY`]). The recovery by trades (after a reconnect or
//! a settle timeout, rare) builds its requests with `json!` and may allocate.

use std::collections::HashMap;
use std::time::Duration;

use feeds::{Instrument, Side};
use serde_json::json;

use super::ack::{
    deribit_message, deribit_order_outcome, deribit_trades_outcome, label_order, DeribitOrder,
};
use super::encode;
use super::{cancelled, Credentials, ExecutionAdapter, INFLIGHT_CAPACITY};
use engine::clock::Clock;
use engine::order::{Fill, Order};
use net::ws::WsConn;
use net::ws::WsRecv;

/// Configuration of [`DeribitExec`].
#[derive(Debug, Clone)]
pub struct DeribitExecConfig {
    /// JSON-RPC websocket URL.
    pub url: String,
    /// `client_id` / `client_secret`.
    pub credentials: Credentials,
    /// Ask the account's trades when an order has no final state after this long, ms.
    pub settle_timeout_ms: u64,
    /// Connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Prefix of order labels (`{prefix}{order id}`).
    pub label_prefix: String,
}

/// Counters of [`DeribitExec`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeribitExecStats {
    /// Orders sent.
    pub sent: u64,
    /// Final reports from order responses.
    pub acks: u64,
    /// Final reports from `user.orders` notifications.
    pub from_notifications: u64,
    /// Final reports from the account's trades.
    pub from_trades: u64,
    /// Trade queries sent.
    pub trade_queries: u64,
    /// Requests the venue rejected.
    pub rejects: u64,
    /// Orders not sent because the connection was down.
    pub not_sent: u64,
    /// Connections made.
    pub connects: u64,
    /// Edits and cancels sent.
    pub edits_cancels: u64,
    /// `public/auth` requests the venue refused (after a reconnect; at start-up a refusal fails
    /// [`DeribitExec::connect`]).
    pub auth_failures: u64,
    /// Frames read from the venue by [`ExecutionAdapter::poll`].
    pub frames: u64,
}

/// Errors of [`DeribitExec::connect`].
#[derive(Debug, thiserror::Error)]
pub enum DeribitExecError {
    /// Transport.
    #[error(transparent)]
    Ws(#[from] net::ws::WsError),
    /// The venue refused `public/auth` (its error code and message), or did not answer it within
    /// the connect timeout (code 0).
    #[error("public/auth refused: {code} {msg}")]
    Auth {
        /// The venue's error code (0 = no answer).
        code: i64,
        /// The venue's message.
        msg: String,
    },
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    order: Order,
    since_ns: u64,
    queried: bool,
}

/// The Deribit execution adapter.
pub struct DeribitExec {
    cfg: DeribitExecConfig,
    instruments: Vec<Instrument>,
    conn: Option<WsConn>,
    inflight: HashMap<u64, Pending>,
    /// Order ids settled by a trades answer, reused.
    settled: Vec<u64>,
    sent_ids: Vec<u64>,
    stats: DeribitExecStats,
    clock: Clock,
    raw0: u64,
    next_rpc: u64,
    /// JSON-RPC id of the latest `public/auth`.
    auth_id: u64,
    /// Encoded request, reused across orders.
    out: Vec<u8>,
}

impl std::fmt::Debug for DeribitExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeribitExec")
            .field("url", &self.cfg.url)
            .field("inflight", &self.inflight.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// JSON-RPC ids of order requests are the engine order ids; other requests use ids from here up.
const RPC_BASE: u64 = 1 << 62;

/// Starts a JSON-RPC request in `out` (cleared): `{"jsonrpc":"2.0","id":N,"method":M,"params":{`.
fn rpc_head(out: &mut Vec<u8>, id: u64, method: &str) {
    out.clear();
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    encode::uint(out, id);
    out.extend_from_slice(b",\"method\":");
    encode::json_str(out, method);
    out.extend_from_slice(b",\"params\":{");
}

/// Encodes a limit immediate-or-cancel `private/buy` / `private/sell` of `amount` at `px`
/// (mantissas at `qty_scale` / `px_scale`, printed exactly) labelled `{label_prefix}{id}`, with
/// JSON-RPC id `id`, into `out`. No allocation once `out` has grown to its working size.
#[allow(clippy::too_many_arguments)] // The order's fields, one by one, off any struct.
pub fn encode_order(
    out: &mut Vec<u8>,
    id: u64,
    side: Side,
    instrument_name: &str,
    amount: i64,
    qty_scale: u8,
    px: i64,
    px_scale: u8,
    label_prefix: &str,
) {
    let method = if side == Side::Sell {
        "private/sell"
    } else {
        "private/buy"
    };
    rpc_head(out, id, method);
    out.extend_from_slice(b"\"instrument_name\":");
    encode::json_str(out, instrument_name);
    out.extend_from_slice(b",\"amount\":");
    encode::decimal(out, amount, qty_scale);
    out.extend_from_slice(b",\"type\":\"limit\",\"price\":");
    encode::decimal(out, px, px_scale);
    out.extend_from_slice(b",\"time_in_force\":\"immediate_or_cancel\",\"label\":\"");
    encode::json_str_body(out, label_prefix);
    encode::uint(out, id);
    out.extend_from_slice(b"\"}}");
}

/// Encodes `private/edit` of venue order `order_id` to `amount` at `px` into `out`.
pub fn encode_edit(
    out: &mut Vec<u8>,
    id: u64,
    order_id: &str,
    amount: i64,
    qty_scale: u8,
    px: i64,
    px_scale: u8,
) {
    rpc_head(out, id, "private/edit");
    out.extend_from_slice(b"\"order_id\":");
    encode::json_str(out, order_id);
    out.extend_from_slice(b",\"amount\":");
    encode::decimal(out, amount, qty_scale);
    out.extend_from_slice(b",\"price\":");
    encode::decimal(out, px, px_scale);
    out.extend_from_slice(b"}}");
}

/// Encodes `private/cancel` of venue order `order_id` into `out`.
pub fn encode_cancel(out: &mut Vec<u8>, id: u64, order_id: &str) {
    rpc_head(out, id, "private/cancel");
    out.extend_from_slice(b"\"order_id\":");
    encode::json_str(out, order_id);
    out.extend_from_slice(b"}}");
}

/// Sends the encoded request; whether it was handed to the socket.
fn send(conn: &mut Option<WsConn>, out: &[u8]) -> bool {
    conn.as_mut()
        .is_some_and(|c| c.send_text_bytes(out).is_ok())
}

impl DeribitExec {
    /// An adapter for `instruments` (index = id), connected and authenticated at once (it waits
    /// for the answer to `public/auth`).
    ///
    /// # Errors
    /// The connection could not be made, or the venue refused the credentials.
    pub fn connect(
        cfg: DeribitExecConfig,
        instruments: &[Instrument],
        clock: Clock,
    ) -> Result<Self, DeribitExecError> {
        let mut s = Self {
            raw0: clock.raw(),
            clock,
            cfg,
            instruments: instruments.to_vec(),
            conn: None,
            inflight: HashMap::with_capacity(INFLIGHT_CAPACITY),
            settled: Vec::with_capacity(INFLIGHT_CAPACITY),
            sent_ids: Vec::with_capacity(1 << 16),
            stats: DeribitExecStats::default(),
            next_rpc: RPC_BASE,
            auth_id: 0,
            out: Vec::with_capacity(2048),
        };
        s.open()?;
        s.await_auth()?;
        Ok(s)
    }

    /// Waits (at start-up, before any order) for the answer to `public/auth`.
    fn await_auth(&mut self) -> Result<(), DeribitExecError> {
        let t0 = self.clock.raw();
        let limit_ns = self.cfg.connect_timeout_ms.max(1).saturating_mul(1_000_000);
        while self.clock.delta_ns(t0, self.clock.raw()) < limit_ns {
            let Some(conn) = self.conn.as_mut() else {
                break;
            };
            match conn.recv()? {
                WsRecv::Frame(b) => {
                    let Some(m) = deribit_message(b) else {
                        continue;
                    };
                    if m.id != Some(self.auth_id) {
                        continue;
                    }
                    if m.error.is_none() {
                        return Ok(());
                    }
                    self.stats.auth_failures += 1;
                    let (code, msg) = m.error_code_message();
                    return Err(DeribitExecError::Auth {
                        code: code.unwrap_or(0),
                        msg: msg.map(|m| m.to_string_lossy()).unwrap_or_default(),
                    });
                }
                WsRecv::Control => {}
                WsRecv::Nothing => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        Err(DeribitExecError::Auth {
            code: 0,
            msg: "no answer within the connect timeout".into(),
        })
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> DeribitExecStats {
        self.stats
    }

    /// Engine order ids sent, in order.
    #[must_use]
    pub fn sent_ids(&self) -> &[u64] {
        &self.sent_ids
    }

    fn rpc_id(&mut self) -> u64 {
        self.next_rpc += 1;
        self.next_rpc
    }

    fn open(&mut self) -> Result<(), net::ws::WsError> {
        let mut conn = WsConn::connect(
            &self.cfg.url,
            Duration::from_millis(self.cfg.connect_timeout_ms.max(1)),
        )?;
        self.auth_id = self.rpc_id();
        let auth = json!({"jsonrpc": "2.0", "id": self.auth_id, "method": "public/auth",
            "params": {"grant_type": "client_credentials", "client_id": self.cfg.credentials.key(),
                "client_secret": self.cfg.credentials.secret()}});
        conn.send_text(auth.to_string())?;
        let sub = json!({"jsonrpc": "2.0", "id": self.rpc_id(), "method": "private/subscribe",
            "params": {"channels": ["user.orders.any.any.raw"]}});
        conn.send_text(sub.to_string())?;
        self.stats.connects += 1;
        self.conn = Some(conn);
        Ok(())
    }

    /// A final report for `p` from a Deribit order object's fields and the response's trades,
    /// `None` while it is open or when the object lacks what the report needs.
    fn report_of_order(
        &self,
        p: &Pending,
        o: &DeribitOrder<'_>,
        trades: Option<&[u8]>,
    ) -> Option<Fill> {
        let inst = self.instruments.get(p.order.instrument.0 as usize)?;
        let out = deribit_order_outcome(
            o,
            trades,
            inst.px_scale,
            inst.qty_scale,
            p.order.qty,
            p.order.limit_px,
        )?;
        Some(self.fill(&p.order, out.filled, out.px))
    }

    fn fill(&self, o: &Order, filled: i64, px: i64) -> Fill {
        Fill {
            order_id: o.id,
            instrument: o.instrument,
            side: o.side,
            qty: filled,
            px,
            cancelled_qty: o.qty - filled,
            t_report: self.clock.raw(),
        }
    }

    /// Asks the account's trades on every instrument with an order in flight. The recovery path
    /// (after a reconnect or a settle timeout): rare, so it builds its requests with `json!` and
    /// allocates.
    fn query_trades(&mut self) {
        let mut names: Vec<String> = self
            .inflight
            .values()
            .filter_map(|p| {
                self.instruments
                    .get(p.order.instrument.0 as usize)
                    .map(|i| i.symbol.clone())
            })
            .collect();
        names.sort();
        names.dedup();
        for n in names {
            let id = self.rpc_id();
            let m = json!({"jsonrpc": "2.0", "id": id, "method": "private/get_user_trades_by_instrument",
                "params": {"instrument_name": n, "count": 1000, "include_old": true}});
            self.stats.trade_queries += 1;
            if let Some(c) = self.conn.as_mut() {
                let _ = c.send_text(m.to_string());
            }
        }
        for p in self.inflight.values_mut() {
            p.queried = true;
        }
    }

    /// Handles one frame the venue sent, as [`ExecutionAdapter::poll`] does with each frame it
    /// reads: an order response or `user.orders` notification with a final state reports the
    /// order once; a refusal reports it cancelled; a trades answer settles every order queried.
    /// Returns whether an order was reported. Anything unreadable is ignored. No allocation.
    pub fn on_frame(&mut self, frame: &[u8], report: &mut impl FnMut(Fill)) -> bool {
        let Some(m) = deribit_message(frame) else {
            return false;
        };
        if m.is_subscription() {
            let Some(o) = m.data else {
                return false;
            };
            let Some(id) = o.label.and_then(|l| label_order(l, &self.cfg.label_prefix)) else {
                return false;
            };
            let Some(p) = self.inflight.get(&id).copied() else {
                return false;
            };
            if let Some(f) = self.report_of_order(&p, &o, None) {
                self.inflight.remove(&id);
                self.stats.from_notifications += 1;
                report(f);
                return true;
            }
            return false;
        }
        let Some(id) = m.id else {
            return false;
        };
        if id == self.auth_id {
            // A re-authentication after a reconnect; orders sent before a refusal are refused
            // in turn and reported cancelled.
            if m.error.is_some() {
                self.stats.auth_failures += 1;
            }
            return false;
        }
        if id < RPC_BASE {
            let Some(p) = self.inflight.get(&id).copied() else {
                return false;
            };
            if m.error.is_some() {
                self.stats.rejects += 1;
                self.inflight.remove(&id);
                report(cancelled(&p.order, self.clock.raw()));
                return true;
            }
            if let Some(f) = m.order.and_then(|o| self.report_of_order(&p, &o, m.trades)) {
                self.inflight.remove(&id);
                self.stats.acks += 1;
                report(f);
                return true;
            }
            return false;
        }
        // A trades answer settles every queried order: its fills are the trades with its label.
        let Some(trades) = m.trades else {
            return false;
        };
        self.settled.clear();
        self.settled.extend(
            self.inflight
                .iter()
                .filter(|(_, p)| p.queried)
                .map(|(&id, _)| id),
        );
        let mut any = false;
        for i in 0..self.settled.len() {
            let id = self.settled[i];
            let Some(p) = self.inflight.get(&id).copied() else {
                continue;
            };
            let Some(inst) = self.instruments.get(p.order.instrument.0 as usize) else {
                continue;
            };
            // One pass over the trades per order (the answer is rare, the orders few).
            let Some(out) = deribit_trades_outcome(
                trades,
                &self.cfg.label_prefix,
                id,
                inst.px_scale,
                inst.qty_scale,
                p.order.qty,
                p.order.limit_px,
            ) else {
                // Not an array: nothing settles.
                return any;
            };
            self.inflight.remove(&id);
            self.stats.from_trades += 1;
            report(self.fill(&p.order, out.filled, out.px));
            any = true;
        }
        any
    }

    /// Changes the amount and price of a resting order (`private/edit`) by venue order id. No
    /// allocation.
    pub fn edit(&mut self, venue_order_id: &str, amount: i64, px: i64, inst: &Instrument) {
        let id = self.rpc_id();
        encode_edit(
            &mut self.out,
            id,
            venue_order_id,
            amount,
            inst.qty_scale,
            px,
            inst.px_scale,
        );
        self.stats.edits_cancels += 1;
        if self.conn.is_some() && !send(&mut self.conn, &self.out) {
            self.conn = None;
        }
    }

    /// Cancels a resting order (`private/cancel`) by venue order id. No allocation.
    pub fn cancel(&mut self, venue_order_id: &str) {
        let id = self.rpc_id();
        encode_cancel(&mut self.out, id, venue_order_id);
        self.stats.edits_cancels += 1;
        if self.conn.is_some() && !send(&mut self.conn, &self.out) {
            self.conn = None;
        }
    }
}

impl ExecutionAdapter for DeribitExec {
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
        let Some(inst) = self.instruments.get(o.instrument.0 as usize) else {
            return;
        };
        encode_order(
            &mut self.out,
            o.id,
            o.side,
            &inst.symbol,
            o.qty,
            inst.qty_scale,
            o.limit_px,
            inst.px_scale,
            &self.cfg.label_prefix,
        );
        self.inflight.insert(
            o.id,
            Pending {
                order: *o,
                since_ns: clock.delta_ns(self.raw0, clock.raw()),
                queried: false,
            },
        );
        self.sent_ids.push(o.id);
        self.stats.sent += 1;
        if self.conn.is_some() && !send(&mut self.conn, &self.out) {
            self.conn = None;
        }
    }

    fn poll(&mut self, clock: &Clock, report: &mut impl FnMut(Fill)) -> bool {
        let mut progress = false;
        if self.conn.is_none() {
            if self.inflight.is_empty() || self.open().is_err() {
                return false;
            }
            // Whatever happened while we were away is in the account's trades.
            self.query_trades();
        }
        // The connection is out of `self` while its frames (borrowed from its buffer) are handled.
        if let Some(mut conn) = self.conn.take() {
            for _ in 0..64 {
                match conn.recv() {
                    Ok(WsRecv::Frame(b)) => {
                        self.stats.frames += 1;
                        progress |= self.on_frame(b, report);
                    }
                    Ok(WsRecv::Control) => {}
                    Ok(WsRecv::Nothing) => break,
                    Err(_) => {
                        // Lost: the trades query after reconnecting settles what is in flight.
                        for p in self.inflight.values_mut() {
                            p.queried = false;
                        }
                        return true;
                    }
                }
            }
            self.conn = Some(conn);
        }
        let now = clock.delta_ns(self.raw0, clock.raw());
        let t = self.cfg.settle_timeout_ms.saturating_mul(1_000_000);
        if self
            .inflight
            .values()
            .any(|p| !p.queried && now.saturating_sub(p.since_ns) > t)
        {
            self.query_trades();
        }
        progress
    }

    fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    fn cancel_all(&mut self, _clock: &Clock) {
        // Immediate-or-cancel orders do not rest; cancel anything of ours that might.
        let id = self.rpc_id();
        rpc_head(&mut self.out, id, "private/cancel_all");
        self.out.extend_from_slice(b"}}");
        self.stats.edits_cancels += 1;
        if self.conn.is_some() && !send(&mut self.conn, &self.out) {
            self.conn = None;
        }
    }
}
