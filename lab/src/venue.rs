//! The venue bench: websocket round trips (ping/pong, Deribit `public/test`) and order-to-ack
//! latency (Binance `order.place`, Deribit `private/buy`) against a venue or `ballast venue-sim`,
//! one request in flight, requests scheduled at a fixed rate. Latency is recorded twice: from the
//! moment the request was sent, and from its intended send time (start + k / rate), which charges a
//! slow response to the requests it delayed (no coordinated omission).
//!
//! The client is the engine's own websocket connection ([`WsConn`], the receive path of the
//! execution adapters), waiting in its `recv` for the answer.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use engine::clock::Clock;
use engine::latency::new_histogram;
use net::ws::{WsConn, WsRecv};

/// What each request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Probe {
    /// A websocket ping control frame; the response is the pong with the same payload.
    Ping,
    /// Deribit JSON-RPC `public/test`.
    DeribitTest,
    /// Binance websocket API `ping` (its test request).
    BinancePing,
    /// Binance websocket API `order.place` (limit IOC), signed when a key and secret are given.
    BinanceOrder,
    /// Deribit JSON-RPC `private/buy` (limit IOC), after `public/auth` when a key and secret are
    /// given.
    DeribitOrder,
}

impl Probe {
    /// Its name (also the series name: `<name>_rtt` and `<name>_rtt_co`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::DeribitTest => "deribit-test",
            Self::BinancePing => "binance-ping",
            Self::BinanceOrder => "binance-order",
            Self::DeribitOrder => "deribit-order",
        }
    }
}

/// A venue bench.
#[derive(Debug, Clone)]
pub struct VenueBench {
    /// `ws://` (or `wss://`) URL.
    pub url: String,
    /// Request kind.
    pub probe: Probe,
    /// Requests recorded (after the warm-up).
    pub count: u64,
    /// Requests sent first and not recorded.
    pub warmup: u64,
    /// Scheduled requests per second.
    pub rate_per_s: f64,
    /// How long to wait for one response before counting it lost.
    pub timeout: Duration,
    /// Symbol (Binance) or instrument name (Deribit) of the order probes.
    pub symbol: String,
    /// Limit price of the order probes, a decimal.
    pub price: String,
    /// Quantity (Binance) or amount (Deribit) of the order probes, a decimal.
    pub qty: String,
    /// API key for the signed order probes.
    pub api_key: Option<String>,
    /// API secret for the signed order probes.
    pub api_secret: Option<String>,
    /// Length of one interval of [`VenueResult::intervals`].
    pub interval: Duration,
}

/// Outcome of a venue bench.
#[derive(Debug)]
pub struct VenueResult {
    /// Send → response, ns.
    pub rtt: Histogram<u64>,
    /// Intended send time → response, ns.
    pub rtt_co: Histogram<u64>,
    /// `rtt_co` per interval of the schedule (for interval logs).
    pub intervals: Vec<Histogram<u64>>,
    /// Requests sent (warm-up included).
    pub sent: u64,
    /// Responses received (warm-up included).
    pub received: u64,
    /// Responses carrying an error (still timed: the venue answered).
    pub rejected: u64,
    /// Requests that got no response within the timeout.
    pub timeouts: u64,
    /// The first error answer, as received (to tell why the venue refused).
    pub first_error: Option<String>,
    /// Wall time of the recorded part, ns.
    pub elapsed_ns: u64,
}

/// A venue bench that could not run.
#[derive(Debug, thiserror::Error)]
pub enum VenueError {
    /// A flag value that cannot be used.
    #[error("{0}")]
    Config(String),
    /// The connection failed or broke.
    #[error("{url}: {message}")]
    Connection {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// Authentication was refused.
    #[error("{url}: authentication refused: {message}")]
    Auth {
        /// The URL.
        url: String,
        /// The venue's answer.
        message: String,
    },
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|&b| b == b'.').count() <= 1
        && s.bytes().any(|b| b.is_ascii_digit())
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The request text of `probe` with id `id` (`None` for [`Probe::Ping`]).
fn request(cfg: &VenueBench, id: u64) -> Option<String> {
    match cfg.probe {
        Probe::Ping => None,
        Probe::DeribitTest => Some(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"public/test","params":{{}}}}"#
        )),
        Probe::BinancePing => Some(format!(r#"{{"id":{id},"method":"ping","params":{{}}}}"#)),
        Probe::DeribitOrder => Some(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"private/buy","params":{{"instrument_name":{},"amount":{},"type":"limit","price":{},"time_in_force":"immediate_or_cancel","label":"ballast-bench-{id}"}}}}"#,
            json_str(&cfg.symbol),
            cfg.qty,
            cfg.price
        )),
        Probe::BinanceOrder => {
            let ts_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let mut params: Vec<(&str, String)> = vec![
                ("newClientOrderId", format!("ballast-bench-{id}")),
                ("price", cfg.price.clone()),
                ("quantity", cfg.qty.clone()),
                ("side", "BUY".into()),
                ("symbol", cfg.symbol.clone()),
                ("timeInForce", "IOC".into()),
                ("timestamp", ts_ms.to_string()),
                ("type", "LIMIT".into()),
            ];
            if let (Some(k), Some(sec)) = (&cfg.api_key, &cfg.api_secret) {
                params.push(("apiKey", k.clone()));
                params.sort_by(|a, b| a.0.cmp(b.0));
                let payload = params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&");
                params.push((
                    "signature",
                    hmac_sha256_hex(sec.as_bytes(), payload.as_bytes()),
                ));
            }
            let body = params
                .iter()
                .map(|(k, v)| {
                    if *k == "timestamp" {
                        format!("\"{k}\":{v}")
                    } else {
                        format!("\"{k}\":{}", json_str(v))
                    }
                })
                .collect::<Vec<_>>()
                .join(",");
            Some(format!(
                r#"{{"id":{id},"method":"order.place","params":{{{body}}}}}"#
            ))
        }
    }
}

/// Lowercase hex HMAC-SHA256 of `msg` under `key` (Binance's request signature).
#[must_use]
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(msg);
    let mut s = String::with_capacity(64);
    for b in mac.finalize().into_bytes() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What a message read from the venue means for request `id`.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// The response to `id`; `true` when it carries an error.
    Response(bool),
    /// Something else (another id, a subscription push, a ping).
    Other,
}

/// A message from the venue, as the bench sees it.
#[derive(Debug, Clone, Copy)]
enum Incoming<'a> {
    /// A text (or binary) message.
    Text(&'a [u8]),
    /// A control frame; the payload of the last pong received.
    Pong(&'a [u8]),
}

fn classify(probe: Probe, msg: Incoming<'_>, id: u64) -> Answer {
    match (probe, msg) {
        (Probe::Ping, Incoming::Pong(p)) if p == id.to_le_bytes() => Answer::Response(false),
        (Probe::Ping, _) => Answer::Other,
        (_, Incoming::Text(t)) => {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(t) else {
                return Answer::Other;
            };
            let matches = match v.get("id") {
                Some(serde_json::Value::Number(n)) => n.as_u64() == Some(id),
                Some(serde_json::Value::String(s)) => s.parse::<u64>().ok() == Some(id),
                _ => false,
            };
            if !matches {
                return Answer::Other;
            }
            let error = v.get("error").is_some_and(|e| !e.is_null())
                || v.get("status")
                    .and_then(serde_json::Value::as_u64)
                    .is_some_and(|s| s >= 400);
            Answer::Response(error)
        }
        _ => Answer::Other,
    }
}

/// The engine's own websocket client (the execution adapters' receive path), waiting in `recv`
/// up to `timeout` for bytes (one request in flight: nothing else to do meanwhile).
fn connect(url: &str, timeout: Duration) -> Result<WsConn, VenueError> {
    let conn_err = |e: net::ws::WsError| VenueError::Connection {
        url: url.to_owned(),
        message: e.to_string(),
    };
    let mut ws = WsConn::connect(url, timeout.max(Duration::from_millis(1))).map_err(conn_err)?;
    ws.set_wait(Some(timeout.max(Duration::from_millis(1))))
        .map_err(conn_err)?;
    Ok(ws)
}

/// Waits for the answer to `id` until `deadline_raw` passes: `Some((error text if the answer is an
/// error, receive time))`, `None` on timeout.
fn await_answer(
    ws: &mut WsConn,
    probe: Probe,
    id: u64,
    clock: &Clock,
    deadline_raw: (u64, u64),
    url: &str,
) -> Result<Option<(Option<String>, u64)>, VenueError> {
    loop {
        if clock.delta_ns(deadline_raw.0, clock.raw()) >= deadline_raw.1 {
            return Ok(None);
        }
        match ws.recv() {
            Ok(WsRecv::Frame(b)) => {
                let t = clock.raw();
                if let Answer::Response(err) = classify(probe, Incoming::Text(b), id) {
                    let text = err.then(|| String::from_utf8_lossy(b).chars().take(300).collect());
                    return Ok(Some((text, t)));
                }
            }
            Ok(WsRecv::Control) => {
                let t = clock.raw();
                if let Answer::Response(_) = classify(probe, Incoming::Pong(ws.last_pong()), id) {
                    return Ok(Some((None, t)));
                }
            }
            Ok(WsRecv::Nothing) => {}
            Err(e) => {
                return Err(VenueError::Connection {
                    url: url.to_owned(),
                    message: e.to_string(),
                })
            }
        }
    }
}

/// Runs the bench, calling `progress(done, total)` after each request.
///
/// # Errors
/// Bad order parameters, a connection that fails or breaks, or refused authentication.
pub fn run(
    cfg: &VenueBench,
    clock: &Clock,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VenueResult, VenueError> {
    if matches!(cfg.probe, Probe::BinanceOrder | Probe::DeribitOrder)
        && !(is_decimal(&cfg.price) && is_decimal(&cfg.qty))
    {
        return Err(VenueError::Config(format!(
            "--price `{}` and --qty `{}` must be plain decimals such as 1000.5",
            cfg.price, cfg.qty
        )));
    }
    if !(cfg.rate_per_s.is_finite() && cfg.rate_per_s > 0.0) {
        return Err(VenueError::Config(format!(
            "--rate {}: expected a positive number of requests per second",
            cfg.rate_per_s
        )));
    }
    let mut ws = connect(&cfg.url, cfg.timeout)?;
    let timeout_ns = u64::try_from(cfg.timeout.as_nanos()).unwrap_or(u64::MAX);
    if cfg.probe == Probe::DeribitOrder {
        if let (Some(k), Some(s)) = (&cfg.api_key, &cfg.api_secret) {
            let auth = format!(
                r#"{{"jsonrpc":"2.0","id":0,"method":"public/auth","params":{{"grant_type":"client_credentials","client_id":{},"client_secret":{}}}}}"#,
                json_str(k),
                json_str(s)
            );
            send(&mut ws, Some(&auth), 0, &cfg.url)?;
            match await_answer(
                &mut ws,
                cfg.probe,
                0,
                clock,
                (clock.raw(), timeout_ns),
                &cfg.url,
            )? {
                Some((None, _)) => {}
                Some((Some(text), _)) => {
                    return Err(VenueError::Auth {
                        url: cfg.url.clone(),
                        message: text,
                    })
                }
                None => {
                    return Err(VenueError::Auth {
                        url: cfg.url.clone(),
                        message: "no answer to public/auth".into(),
                    })
                }
            }
        }
    }
    let mut out = VenueResult {
        rtt: new_histogram(),
        rtt_co: new_histogram(),
        intervals: Vec::new(),
        sent: 0,
        received: 0,
        rejected: 0,
        timeouts: 0,
        first_error: None,
        elapsed_ns: 0,
    };
    let period_ns = 1e9 / cfg.rate_per_s;
    let interval_ns = u64::try_from(cfg.interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1_000_000);
    let total = cfg.warmup + cfg.count;
    let mut t0 = clock.raw();
    for k in 0..total {
        if k == cfg.warmup {
            t0 = clock.raw();
        }
        let j = k.saturating_sub(cfg.warmup);
        // The schedule restarts after the warm-up so the recorded part starts on time.
        let due_ns = if k < cfg.warmup {
            0
        } else {
            (j as f64 * period_ns) as u64
        };
        let sched_start = if k < cfg.warmup { clock.raw() } else { t0 };
        loop {
            let el = clock.delta_ns(sched_start, clock.raw());
            if el >= due_ns {
                break;
            }
            let left = due_ns - el;
            if left > 2_000_000 {
                std::thread::sleep(Duration::from_nanos(left - 1_000_000));
            } else {
                std::hint::spin_loop();
            }
        }
        let id = k + 1;
        let text = request(cfg, id);
        let t_send = clock.raw();
        send(&mut ws, text.as_deref(), id, &cfg.url)?;
        out.sent += 1;
        match await_answer(
            &mut ws,
            cfg.probe,
            id,
            clock,
            (t_send, timeout_ns),
            &cfg.url,
        )? {
            Some((err, t_recv)) => {
                out.received += 1;
                if let Some(text) = err {
                    out.rejected += 1;
                    out.first_error.get_or_insert(text);
                }
                if k >= cfg.warmup {
                    let rtt = clock.delta_ns(t_send, t_recv);
                    let late = clock.delta_ns(sched_start, t_send).saturating_sub(due_ns);
                    out.rtt.saturating_record(rtt.max(1));
                    let co = rtt.saturating_add(late).max(1);
                    out.rtt_co.saturating_record(co);
                    let slot = usize::try_from(due_ns / interval_ns).unwrap_or(usize::MAX);
                    if slot < 100_000 {
                        while out.intervals.len() <= slot {
                            out.intervals.push(new_histogram());
                        }
                        out.intervals[slot].saturating_record(co);
                    }
                }
            }
            None => out.timeouts += 1,
        }
        progress(k + 1, total);
    }
    out.elapsed_ns = clock.delta_ns(t0, clock.raw());
    ws.close();
    Ok(out)
}

/// Sends `text`, or without one (the ping probe) a ping carrying `id`.
fn send(ws: &mut WsConn, text: Option<&str>, id: u64, url: &str) -> Result<(), VenueError> {
    let r = match text {
        Some(t) => ws.send_text_bytes(t.as_bytes()),
        None => ws.ping_with(&id.to_le_bytes()),
    };
    r.map_err(|e| VenueError::Connection {
        url: url.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(probe: Probe) -> VenueBench {
        VenueBench {
            url: String::new(),
            probe,
            count: 1,
            warmup: 0,
            rate_per_s: 1.0,
            timeout: Duration::from_secs(1),
            symbol: "BTCUSDT".into(),
            price: "1000.5".into(),
            qty: "0.001".into(),
            api_key: Some("key".into()),
            api_secret: Some("secret".into()),
            interval: Duration::from_secs(1),
        }
    }

    #[test]
    fn requests_are_valid_json_with_the_id() {
        for p in [
            Probe::DeribitTest,
            Probe::BinancePing,
            Probe::DeribitOrder,
            Probe::BinanceOrder,
        ] {
            let text = request(&cfg(p), 42).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["id"], 42, "{text}");
        }
        let b: serde_json::Value =
            serde_json::from_str(&request(&cfg(Probe::BinanceOrder), 7).unwrap()).unwrap();
        assert_eq!(b["method"], "order.place");
        assert_eq!(b["params"]["signature"].as_str().unwrap().len(), 64);
        assert!(request(&cfg(Probe::Ping), 1).is_none());
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn answers_are_matched_by_id_and_errors_seen() {
        let t = |s: &'static str| Incoming::Text(s.as_bytes());
        assert_eq!(
            classify(Probe::DeribitTest, t(r#"{"id":3,"result":{}}"#), 3),
            Answer::Response(false)
        );
        assert_eq!(
            classify(Probe::DeribitTest, t(r#"{"id":"3","error":{"code":1}}"#), 3),
            Answer::Response(true)
        );
        assert_eq!(
            classify(Probe::BinanceOrder, t(r#"{"id":3,"status":400}"#), 3),
            Answer::Response(true)
        );
        assert_eq!(
            classify(Probe::DeribitTest, t(r#"{"id":2,"result":{}}"#), 3),
            Answer::Other
        );
        assert_eq!(
            classify(Probe::DeribitTest, t("not json"), 3),
            Answer::Other
        );
        assert_eq!(
            classify(Probe::Ping, Incoming::Pong(&3u64.to_le_bytes()), 3),
            Answer::Response(false)
        );
        assert_eq!(
            classify(Probe::Ping, Incoming::Pong(&[1]), 3),
            Answer::Other
        );
        assert!(!is_decimal("1e5") && is_decimal("0.001") && !is_decimal("."));
    }
}
