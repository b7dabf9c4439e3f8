//! Threads of the simulator: accept loop, one thread per connection, the market-data publisher.

use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, MutexGuard};
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

use super::http::{self, Request};
use super::matching::{Conn, Exchange, Out};
use super::{Fault, Shared, SimConfig, SimSource, Venue};

/// Market data and reference data loaded from the source.
#[derive(Debug, Default)]
pub(super) struct SourceData {
    /// `(recv ns, frame)` to publish, in order.
    pub frames: Vec<(u64, Vec<u8>)>,
    /// Deribit `public/get_instruments` result arrays by currency.
    pub instruments: Vec<(String, String)>,
    /// Binance REST snapshot bodies (which carry no symbol): frame index → symbol.
    pub snapshot_for: std::collections::HashMap<usize, String>,
    /// Instruments known before the first frame (symbols of REST snapshots).
    pub registry: feeds::Registry,
}

/// Most messages queued to any subscriber before the market-data thread waits for it.
const MAX_QUEUED: usize = 20_000;

/// How long a connection blocks in a read before it services its outbound queue.
const POLL: Duration = Duration::from_micros(500);

fn io_err(m: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, m)
}

/// Loads the configured source.
pub(super) fn load_source(cfg: &SimConfig) -> std::io::Result<SourceData> {
    match &cfg.source {
        SimSource::Synthetic(s) => {
            let mut s = s.clone();
            s.gap_at = None;
            Ok(match cfg.venue {
                Venue::Binance => SourceData {
                    frames: synth::generate(&s),
                    ..SourceData::default()
                },
                Venue::Deribit => super::dsynth::generate(&s),
            })
        }
        SimSource::Capture(paths) => {
            let mut out = SourceData::default();
            for p in paths {
                if feeds::cryptofeed::is_cryptofeed(p) {
                    let recs = feeds::cryptofeed::read_all(std::slice::from_ref(p))
                        .map_err(|e| io_err(e.to_string()))?;
                    for r in recs {
                        match r.kind {
                            feeds::cryptofeed::RecordKind::Http => {
                                if let Some(cur) =
                                    get_instruments_currency(r.url.as_deref().unwrap_or(""))
                                {
                                    if let Some(result) = result_array(&r.data) {
                                        out.instruments.push((cur, result));
                                    }
                                } else if let Some((sym, market)) = (cfg.venue == Venue::Binance)
                                    .then(|| depth_symbol(r.url.as_deref().unwrap_or("")))
                                    .flatten()
                                {
                                    out.registry.register(&sym, market, 8, 8);
                                    out.snapshot_for.insert(out.frames.len(), sym);
                                    out.frames.push((r.recv_ns, r.data));
                                }
                            }
                            feeds::cryptofeed::RecordKind::Recv => {
                                let market = match cfg.venue {
                                    Venue::Deribit => r
                                        .data
                                        .windows(22)
                                        .any(|w| w == b"\"method\":\"subscription"),
                                    Venue::Binance => true,
                                };
                                if market {
                                    out.frames.push((r.recv_ns, r.data));
                                }
                            }
                            _ => {}
                        }
                    }
                } else {
                    let (frames, _) = feeds::capture::read_all(std::slice::from_ref(p))
                        .map_err(|e| io_err(e.to_string()))?;
                    out.frames.extend(frames);
                }
            }
            Ok(out)
        }
    }
}

/// Symbol and market of a Binance REST depth URL (`…/fapi/v1/depth?symbol=X…`).
fn depth_symbol(url: &str) -> Option<(String, feeds::Market)> {
    if !url.contains("/depth") {
        return None;
    }
    let market = if url.contains("/fapi/") {
        feeds::Market::BinanceUsdM
    } else if url.contains("/dapi/") {
        feeds::Market::BinanceCoinM
    } else {
        feeds::Market::BinanceSpot
    };
    let (_, q) = http::split_target(url);
    q.into_iter()
        .find(|(k, _)| k == "symbol")
        .map(|(_, v)| (v.to_ascii_uppercase(), market))
}

/// `currency` of a `…/public/get_instruments?currency=X…` URL.
fn get_instruments_currency(url: &str) -> Option<String> {
    if !url.contains("get_instruments") {
        return None;
    }
    let (_, q) = http::split_target(url);
    q.into_iter()
        .find(|(k, _)| k == "currency")
        .map(|(_, v)| v.to_ascii_uppercase())
}

/// The `result` array of a JSON-RPC response body, re-serialized.
fn result_array(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let r = v.get("result")?;
    r.is_array().then(|| r.to_string())
}

pub(super) fn lock(sh: &Shared) -> MutexGuard<'_, Exchange> {
    match sh.exch.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Accepts connections until stopped; one thread each.
pub(super) fn accept_loop(sh: &Arc<Shared>, listener: &TcpListener) {
    let mut next_id = 1u64;
    for stream in listener.incoming() {
        // Relaxed: flag polled; see `SimHandle::shutdown`.
        if sh.stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = next_id;
        next_id += 1;
        let sh = Arc::clone(sh);
        let _ = std::thread::Builder::new()
            .name(format!("sim-conn-{id}"))
            .spawn(move || {
                let _ = serve(&sh, id, stream);
            });
    }
}

/// Serves one connection: HTTP request or websocket session.
fn serve(sh: &Arc<Shared>, id: u64, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let req = http::peek_head(&stream)?;
    if !req.websocket {
        http::consume_request(&mut stream)?;
        let (status, ctype, body) = route_http(sh, &req);
        return http::respond(&mut stream, status, ctype, body.as_bytes());
    }
    let known = match sh.cfg.venue {
        Venue::Binance => req.path == "/stream" || req.path == "/ws-api/v3",
        Venue::Deribit => req.path == "/ws/api/v2",
    };
    if !known {
        http::consume_request(&mut stream)?;
        return http::respond(&mut stream, 404, "text/plain", b"unknown websocket path\n");
    }
    let ws = tungstenite::accept(stream.try_clone()?).map_err(|e| io_err(e.to_string()))?;
    session(sh, id, ws, &stream, &req)
}

fn route_http(sh: &Arc<Shared>, req: &Request) -> (u16, &'static str, String) {
    let json = "application/json";
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/sim/fault") => match parse_fault(req) {
            Ok(f) => {
                sh.inject(f);
                (200, json, format!("{{\"injected\":\"{f:?}\"}}"))
            }
            Err(m) => (400, json, serde_json::json!({ "error": m }).to_string()),
        },
        ("POST", "/sim/stop") => {
            // Relaxed: polled flag.
            sh.stop.store(true, Ordering::Relaxed);
            (200, json, "{\"stopping\":true}".into())
        }
        ("GET", "/sim/record") => (200, json, lock(sh).record.to_json()),
        ("GET", "/api/v3/depth" | "/fapi/v1/depth" | "/dapi/v1/depth")
            if sh.cfg.venue == Venue::Binance =>
        {
            match super::binance::rest_depth(&lock(sh), req) {
                Ok(b) => (200, json, b),
                Err(e) => (
                    400,
                    json,
                    serde_json::json!({"code": e.code, "msg": e.msg}).to_string(),
                ),
            }
        }
        ("GET", "/api/v2/public/get_instruments") if sh.cfg.venue == Venue::Deribit => {
            let cur = req.param("currency").unwrap_or("any");
            let res = super::deribit::instruments_result(&lock(sh), cur);
            (200, json, format!("{{\"jsonrpc\":\"2.0\",\"result\":{res},\"usIn\":0,\"usOut\":0,\"usDiff\":0,\"testnet\":false}}"))
        }
        _ => (
            404,
            "text/plain",
            format!("no route {} {}\n", req.method, req.path),
        ),
    }
}

/// Parses `kind=…&ms=…&n=…` of `POST /sim/fault`.
pub(super) fn parse_fault(req: &Request) -> Result<Fault, String> {
    let num = |k: &str| -> Result<u64, String> {
        req.param(k)
            .ok_or_else(|| format!("fault needs `{k}`"))?
            .parse::<u64>()
            .map_err(|_| format!("`{k}` must be an unsigned integer"))
    };
    match req.param("kind").unwrap_or("") {
        "disconnect" => Ok(Fault::Disconnect),
        "stall" => Ok(Fault::Stall(Duration::from_millis(num("ms")?))),
        "malformed" => Ok(Fault::Malformed(
            u32::try_from(num("n")?).map_err(|_| "`n` too large")?,
        )),
        "skip" => Ok(Fault::SkipSequence),
        "delay_acks" => Ok(Fault::DelayAcks(Duration::from_millis(num("ms")?))),
        "lose_acks" => Ok(Fault::LoseAcks(
            u32::try_from(num("n")?).map_err(|_| "`n` too large")?,
        )),
        other => Err(format!(
            "unknown fault kind `{other}` (disconnect|stall|malformed|skip|delay_acks|lose_acks)"
        )),
    }
}

/// Per-connection state that is not shared.
#[derive(Debug)]
pub(super) struct Local {
    pub id: u64,
    pub path: String,
    /// Deribit heartbeat interval, if set.
    pub hb_interval: Option<Duration>,
    pub hb_last: Instant,
    /// A `test_request` awaits its `public/test` since then.
    pub hb_outstanding: Option<Instant>,
}

/// A websocket session: read requests, write queued messages, until closed or faulted.
fn session(
    sh: &Arc<Shared>,
    id: u64,
    mut ws: WebSocket<TcpStream>,
    raw: &TcpStream,
    req: &Request,
) -> std::io::Result<()> {
    raw.set_read_timeout(Some(POLL))?;
    let (tx, rx) = mpsc::channel::<Out>();
    let queued = Arc::new(AtomicUsize::new(0));
    // Relaxed: the epoch is a plain counter compared for change.
    let epoch = sh.faults.disconnect_epoch.load(Ordering::Relaxed);
    {
        let mut ex = lock(sh);
        let mut c = Conn::new(tx, Arc::clone(&queued));
        if sh.cfg.venue == Venue::Binance && req.path == "/stream" {
            if let Some(s) = req.param("streams") {
                for name in s.split('/').filter(|n| !n.is_empty()) {
                    if let Some(b) = super::binance::parse_stream(name) {
                        c.bstreams.push(b);
                    }
                }
            }
        }
        let subscribed = !c.bstreams.is_empty();
        ex.conns.insert(id, c);
        if subscribed {
            // Relaxed: flag polled by the market-data thread.
            sh.md_started.store(true, Ordering::Relaxed);
        }
    }
    let mut local = Local {
        id,
        path: req.path.clone(),
        hb_interval: None,
        hb_last: Instant::now(),
        hb_outstanding: None,
    };
    let mut pending: VecDeque<(Instant, String)> = VecDeque::new();
    let result = loop {
        // Relaxed: polled flags.
        if sh.stop.load(Ordering::Relaxed) {
            let _ = ws.close(None);
            let _ = ws.flush();
            break Ok(());
        }
        if sh.faults.disconnect_epoch.load(Ordering::Relaxed) != epoch {
            let _ = raw.shutdown(std::net::Shutdown::Both);
            break Ok(());
        }
        let stalled = sh.stalled();
        if !stalled {
            // Relaxed: see `Faults`.
            let delay = Duration::from_nanos(sh.faults.ack_delay_ns.load(Ordering::Relaxed));
            let now = Instant::now();
            while let Ok(o) = rx.try_recv() {
                queued.fetch_sub(1, Ordering::Relaxed);
                let due = if o.ack { now + delay } else { now };
                pending.push_back((due, o.text));
            }
            let mut wrote = false;
            while pending.front().is_some_and(|(due, _)| *due <= now) {
                let Some((_, text)) = pending.pop_front() else {
                    break;
                };
                if let Err(e) = ws.write(Message::Text(text)) {
                    if !would_block(&e) {
                        break;
                    }
                }
                wrote = true;
            }
            if wrote {
                if let Err(e) = ws.flush() {
                    if !would_block(&e) {
                        break Ok(());
                    }
                }
            }
            if let Some(hb) = local.hb_interval {
                if let Some(since) = local.hb_outstanding {
                    if since.elapsed() > hb * 3 {
                        // Deribit closes a connection that does not answer its test requests.
                        let _ = raw.shutdown(std::net::Shutdown::Both);
                        break Ok(());
                    }
                }
                if local.hb_last.elapsed() >= hb {
                    local.hb_last = Instant::now();
                    let r#type = if local.hb_outstanding.is_none() {
                        "test_request"
                    } else {
                        "heartbeat"
                    };
                    let _ = ws.write(Message::Text(format!(
                        "{{\"jsonrpc\":\"2.0\",\"method\":\"heartbeat\",\"params\":{{\"type\":\"{}\"}}}}",
                        r#type
                    )));
                    let _ = ws.flush();
                    if local.hb_outstanding.is_none() {
                        local.hb_outstanding = Some(Instant::now());
                    }
                }
            }
        }
        match ws.read() {
            Ok(Message::Text(t)) => match sh.cfg.venue {
                Venue::Binance => super::binance::on_text(sh, &mut local, &t),
                Venue::Deribit => super::deribit::on_text(sh, &mut local, &t),
            },
            Ok(Message::Close(_)) => break Ok(()),
            Ok(_) => {}
            Err(e) if would_block(&e) => {
                if stalled {
                    std::thread::sleep(POLL);
                }
            }
            Err(_) => break Ok(()),
        }
    };
    lock(sh).conns.remove(&id);
    result
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
}

/// Publishes the source's frames at the configured pace, applying them to the simulator's books
/// and matching resting orders after each.
pub(super) fn market_data(sh: &Arc<Shared>) {
    // Relaxed: polled flags.
    while !sh.md_started.load(Ordering::Relaxed) {
        if sh.stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let speed = sh.cfg.speed;
    let paced = speed.is_finite() && speed > 0.0;
    let mut t_start = Instant::now();
    let mut first_ts: Option<u64> = None;
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            return;
        }
        if sh.stalled() {
            let before = Instant::now();
            while sh.stalled() && !sh.stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
            }
            t_start += before.elapsed();
        }
        // Back-pressure: wait for slow subscribers rather than queue without bound.
        loop {
            let max_q = lock(sh)
                .conns
                .values()
                .map(|c| c.queued.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0);
            if max_q < MAX_QUEUED || sh.stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let ts = {
            let ex = lock(sh);
            match ex.frames.get(ex.next_frame) {
                Some((ts, _)) => *ts,
                None => {
                    drop(ex);
                    lock(sh).source_done = true;
                    return;
                }
            }
        };
        if paced {
            let f0 = *first_ts.get_or_insert(ts);
            let due = t_start + Duration::from_nanos((ts.saturating_sub(f0) as f64 / speed) as u64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(Duration::from_millis(50)));
                if due > Instant::now() {
                    continue;
                }
            }
        }
        let now_ns = sh.now_ns();
        let mut ex = lock(sh);
        let i = ex.next_frame;
        ex.next_frame += 1;
        let frame = std::mem::take(&mut ex.frames[i].1);
        match sh.cfg.venue {
            Venue::Binance => super::binance::publish(sh, &mut ex, &frame, now_ns),
            Venue::Deribit => super::deribit::publish(sh, &mut ex, &frame, now_ns),
        }
    }
}

/// Takes one pending malformed-frame fault.
pub(super) fn take_malformed(sh: &Shared) -> bool {
    sh.faults
        .malformed
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// Takes one pending skip-sequence fault.
pub(super) fn take_skip(sh: &Shared) -> bool {
    sh.faults
        .skip
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}
