//! Live-path costs, each beside a baseline measured in the same run:
//! - loopback websocket frame → normalized event latency (p50, p99, p99.9), the server stamping
//!   each frame just before it writes it and the feed thread stamping after the event is out,
//!   beside the same parse with the frames already in memory (no socket);
//! - sustained frames/s one feed thread handles from a socket, beside the in-memory parse;
//! - HMAC-SHA256 request signing: precomputed keyed state vs keying per request.
//!
//! `cargo bench -p ballast-bench --bench live`. Two shared cores here: figures are noisy, ratios
//! are what to read.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::clock::Clock;
use feeds::{BinanceFeed, Registry};
use net::ws::{WsConn, WsRecv};
use synth::{generate, SynthConfig};
use tungstenite::Message;
use venues::exec::sign::{sign_hex_unkeyed, HmacSigner};

/// CLOCK_MONOTONIC ns since the first call: comparable across threads and cores (a VM's TSC may
/// not be synchronized between vCPUs, so the cross-thread stamps do not use the TSC clock).
fn mono_ns() -> u64 {
    static T0: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    u64::try_from(T0.get_or_init(std::time::Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Serves `frames` over one websocket on 127.0.0.1; `gap_ns` between frames (0 = blast),
/// stamping each frame's send time in `sent`.
fn serve(
    frames: Arc<Vec<Vec<u8>>>,
    gap_ns: u64,
    sent: Arc<Vec<AtomicU64>>,
    clock: Clock,
) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let _ = s.set_nodelay(true);
        let mut ws = tungstenite::accept(s).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        for (i, f) in frames.iter().enumerate() {
            if gap_ns > 0 {
                let t0 = clock.raw();
                while clock.delta_ns(t0, clock.raw()) < gap_ns {
                    std::hint::spin_loop();
                }
            }
            // Release: pairs with the client's Acquire load after it received frame i.
            sent[i].store(mono_ns(), Ordering::Release);
            let text = String::from_utf8_lossy(f).into_owned();
            if ws.send(Message::Text(text)).is_err() {
                return;
            }
        }
        let _ = ws.close(None);
        let _ = ws.flush();
        std::thread::sleep(Duration::from_millis(100));
    });
    (addr, h)
}

/// Reads every frame through the feed; returns (per-frame latency ns for frames that produced an
/// event, elapsed ns from the first frame to the last).
fn client(
    addr: std::net::SocketAddr,
    n: usize,
    sent: &[AtomicU64],
    clock: &Clock,
) -> (Vec<u64>, u64) {
    let mut c = WsConn::connect(&format!("ws://{addr}/stream"), Duration::from_secs(2)).unwrap();
    let mut feed = BinanceFeed::new(Registry::new());
    let mut lat = Vec::with_capacity(n);
    let (mut i, mut t_first) = (0usize, 0u64);
    let mut t_last = 0;
    while i < n {
        match c.recv() {
            Ok(WsRecv::Frame(f)) => {
                if i == 0 {
                    t_first = clock.raw();
                }
                let mut got = false;
                let _ = feed.on_frame(0, f, &mut |_| got = true);
                let t = clock.raw();
                if got {
                    // Acquire: pairs with the server's Release store before it sent frame i.
                    let now = mono_ns();
                    lat.push(now.saturating_sub(sent[i].load(Ordering::Acquire)));
                    let _ = t;
                }
                t_last = t;
                i += 1;
            }
            Ok(_) => std::hint::spin_loop(),
            Err(_) => break,
        }
    }
    (lat, clock.delta_ns(t_first, t_last))
}

fn main() {
    let clock = Clock::new();
    let frames: Vec<Vec<u8>> = generate(&SynthConfig {
        steps: 20_000,
        gap_at: None,
        levels: 20,
        ..SynthConfig::default()
    })
    .into_iter()
    .map(|(_, f)| f)
    .collect();
    let n = frames.len();
    let frames = Arc::new(frames);

    // Baseline: the same parse, frames in memory.
    let mut feed = BinanceFeed::new(Registry::new());
    let mut mem = Vec::with_capacity(n);
    let t0 = clock.raw();
    for f in frames.iter() {
        let a = clock.raw();
        let mut got = false;
        let _ = feed.on_frame(0, f, &mut |_| got = true);
        if got {
            mem.push(clock.delta_ns(a, clock.raw()));
        }
    }
    let mem_total = clock.delta_ns(t0, clock.raw()).max(1);

    // Paced socket run (latency): one frame every 20 µs.
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let (addr, h) = serve(
        Arc::clone(&frames),
        20_000,
        Arc::clone(&sent),
        clock.clone(),
    );
    let (mut lat, _) = client(addr, n, &sent, &clock);
    h.join().unwrap();

    // Blast socket run (throughput).
    let sent2: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let (addr, h) = serve(Arc::clone(&frames), 0, Arc::clone(&sent2), clock.clone());
    let (_, sock_total) = client(addr, n, &sent2, &clock);
    h.join().unwrap();

    println!("frames: {n} synthetic Binance frames (depth, trades, tickers)");
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "frame → event latency, ns", "p50", "p99", "p99.9"
    );
    let (m50, m99, m999) = (
        pct(&mut mem, 0.5),
        pct(&mut mem, 0.99),
        pct(&mut mem, 0.999),
    );
    let (s50, s99, s999) = (
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        pct(&mut lat, 0.999),
    );
    println!(
        "{:<44} {m50:>10} {m99:>10} {m999:>10}",
        "parse only (in memory, baseline)"
    );
    println!(
        "{:<44} {s50:>10} {s99:>10} {s999:>10}",
        "loopback websocket → event"
    );
    println!(
        "{:<44} {:>10.1} {:>10.1} {:>10.1}",
        "ratio socket / parse",
        s50 as f64 / m50.max(1) as f64,
        s99 as f64 / m99.max(1) as f64,
        s999 as f64 / m999.max(1) as f64
    );
    let mem_fps = n as f64 / (mem_total as f64 * 1e-9);
    let sock_fps = n as f64 / (sock_total.max(1) as f64 * 1e-9);
    println!(
        "{:<44} {:>14.0}",
        "frames/s, parse only (baseline)", mem_fps
    );
    println!(
        "{:<44} {:>14.0}",
        "frames/s, one feed thread from the socket", sock_fps
    );
    println!(
        "{:<44} {:>14.2}",
        "ratio socket / parse",
        sock_fps / mem_fps
    );

    // Signing.
    let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    let payload = b"apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&newClientOrderId=bl123-4567&newOrderRespType=FULL&price=60000.01000000&quantity=0.00200000&recvWindow=5000&side=BUY&symbol=BTCUSDT&timeInForce=IOC&timestamp=1700000000000&type=LIMIT";
    let signer = HmacSigner::new(secret);
    let iters = 200_000u32;
    let mut acc = 0u8;
    let t = clock.raw();
    for _ in 0..iters {
        acc ^= std::hint::black_box(signer.sign_hex(std::hint::black_box(payload)))[0];
    }
    let keyed = clock.delta_ns(t, clock.raw()) as f64 / f64::from(iters);
    let t = clock.raw();
    for _ in 0..iters {
        acc ^= std::hint::black_box(sign_hex_unkeyed(secret, std::hint::black_box(payload)))[0];
    }
    let unkeyed = clock.delta_ns(t, clock.raw()) as f64 / f64::from(iters);
    std::hint::black_box(acc);
    println!(
        "HMAC-SHA256 of a {}-byte order.place payload (CPU SHA extensions: {})",
        payload.len(),
        std::arch::is_x86_feature_detected!("sha")
    );
    println!(
        "{:<44} {:>10.0} ns",
        "keyed per request (baseline)", unkeyed
    );
    println!(
        "{:<44} {:>10.0} ns",
        "precomputed keyed state (HmacSigner)", keyed
    );
    println!(
        "{:<44} {:>10.2}",
        "ratio precomputed / per request",
        keyed / unkeyed
    );
}
