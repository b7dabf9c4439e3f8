//! The websocket client (`net::ws::WsConn`) against a raw test server on 127.0.0.1:
//! the handshake (request as sent, bad answers refused), frames split at every byte boundary and
//! at random cuts, 16/64-bit lengths, a message larger than the read buffer, fragmented messages
//! with interleaved pings (answered with masked pongs carrying the same payload), frames in the
//! same segment as the `101`, the peer's close, and every protocol violation: an error, never a
//! panic.

mod ws_server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use net::ws::{WsConn, WsError, WsRecv, MAX_MESSAGE, READ_BUFFER};
use proptest::prelude::*;
use ws_server::{frame, handshake, payload, read_client_frame, spawn, text, ClientFrame};

const T: Duration = Duration::from_secs(5);

/// What the client saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Msg(Vec<u8>),
    Control,
}

/// The server side of a delivery: the bytes after the handshake and the events the client must
/// see, with the pongs it must send back.
struct Script {
    bytes: Vec<u8>,
    want: Vec<Got>,
    pongs: Vec<Vec<u8>>,
}

impl Script {
    fn new() -> Self {
        Self {
            bytes: Vec::new(),
            want: Vec::new(),
            pongs: Vec::new(),
        }
    }
    fn msg(mut self, opcode: u8, p: &[u8]) -> Self {
        self.bytes.extend(frame(true, opcode, p));
        self.want.push(Got::Msg(p.to_vec()));
        self
    }
    fn ping(mut self, p: &[u8]) -> Self {
        self.bytes.extend(frame(true, 0x9, p));
        self.want.push(Got::Control);
        self.pongs.push(p.to_vec());
        self
    }
    fn pong(mut self, p: &[u8]) -> Self {
        self.bytes.extend(frame(true, 0xA, p));
        self.want.push(Got::Control);
        self
    }
    /// A message in fragments of the given sizes, with a ping after the first fragment and a pong
    /// after the second (when there are that many).
    fn fragmented(mut self, opcode: u8, parts: &[usize], seed: usize) -> Self {
        let mut whole = Vec::new();
        for (k, &n) in parts.iter().enumerate() {
            let p = payload(n, seed + k);
            let op = if k == 0 { opcode } else { 0x0 };
            self.bytes.extend(frame(k + 1 == parts.len(), op, &p));
            whole.extend_from_slice(&p);
            if k + 1 < parts.len() {
                if k == 0 {
                    let pp = format!("ping-{seed}").into_bytes();
                    self = self.ping(&pp);
                } else if k == 1 {
                    self = self.pong(b"late pong");
                }
            }
        }
        self.want.push(Got::Msg(whole));
        self
    }
}

/// Server side of [`deliver_over`]: the handshake, the pieces in lock step, then the client's frames
/// up to its close.
fn serve_pieces<S: Read + Write>(
    s: &mut S,
    pieces: Vec<Vec<u8>>,
    sent_tx: &mpsc::Sender<()>,
    go_rx: &mpsc::Receiver<()>,
) -> Vec<ClientFrame> {
    handshake(s, &[]);
    for p in pieces {
        if !p.is_empty() {
            s.write_all(&p).unwrap();
            s.flush().unwrap();
        }
        sent_tx.send(()).unwrap();
        if go_rx.recv().is_err() {
            break;
        }
    }
    let mut back = Vec::new();
    while let Some(f) = read_client_frame(s) {
        let close = f.opcode == 0x8;
        back.push(f);
        if close {
            break;
        }
    }
    back
}

/// Serves `script` in pieces cut at `cuts` (sorted byte offsets), one write per piece, in lock
/// step with the client (which drains what arrived before the next piece goes out, so frames
/// really are split in its buffer), through TLS when `tls` (`wss://`, the test CA); returns what
/// the client saw and the frames it sent back.
fn deliver_over(script: &Script, cuts: &[usize], tls: bool) -> (Vec<Got>, Vec<ClientFrame>) {
    let mut pieces = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&script.bytes.len())) {
        let c = c.clamp(at, script.bytes.len());
        pieces.push(script.bytes[at..c].to_vec());
        at = c;
    }
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let n_pieces = pieces.len();
    let (url, h) = spawn(move |mut s: TcpStream| {
        if tls {
            serve_pieces(&mut ws_server::tls_server(s), pieces, &sent_tx, &go_rx)
        } else {
            serve_pieces(&mut s, pieces, &sent_tx, &go_rx)
        }
    });
    let mut c = if tls {
        let url = url.replacen("ws://", "wss://", 1);
        WsConn::connect_with(&url, T, Some(ws_server::tls_client_config())).expect("connect")
    } else {
        WsConn::connect(&url, T).expect("connect")
    };
    let mut got = Vec::new();
    for _ in 0..n_pieces {
        sent_rx.recv().unwrap();
        poll(&mut c, &mut got);
        let _ = go_tx.send(());
    }
    let deadline = Instant::now() + T;
    while got.len() < script.want.len() && Instant::now() < deadline {
        poll(&mut c, &mut got);
    }
    c.close();
    (got, h.join().unwrap())
}

/// Receives until nothing more has arrived.
fn poll(c: &mut WsConn, got: &mut Vec<Got>) {
    loop {
        match c.recv().expect("recv") {
            WsRecv::Frame(p) => got.push(Got::Msg(p.to_vec())),
            WsRecv::Control => got.push(Got::Control),
            WsRecv::Nothing => break,
        }
    }
}

fn check(script: &Script, cuts: &[usize]) {
    check_over(script, cuts, false);
}

fn check_over(script: &Script, cuts: &[usize], tls: bool) {
    let (got, back) = deliver_over(script, cuts, tls);
    assert_eq!(got.len(), script.want.len(), "cuts {cuts:?}");
    for (i, (g, w)) in got.iter().zip(&script.want).enumerate() {
        assert!(g == w, "event {i} differs at cuts {cuts:?}");
    }
    let pongs: Vec<&ClientFrame> = back.iter().filter(|f| f.opcode == 0xA).collect();
    assert_eq!(pongs.len(), script.pongs.len(), "pongs at cuts {cuts:?}");
    for (p, want) in pongs.iter().zip(&script.pongs) {
        assert!(p.masked && p.fin, "pong must be a masked final frame");
        assert_eq!(&p.payload, want, "pong payload");
    }
    let last = back.last().expect("a close frame at the end");
    assert_eq!(last.opcode, 0x8);
    assert!(last.masked);
    assert_eq!(last.payload, 1000u16.to_be_bytes());
}

/// Small messages of every length class and kind, short enough to cut at every byte.
fn small_script() -> Script {
    Script::new()
        .msg(0x1, b"")
        .msg(0x1, b"hello")
        .ping(b"p1")
        .msg(0x1, &payload(125, 1))
        .msg(0x2, &[0u8, 255, 7, 128, 1, 2, 3])
        .msg(0x2, &payload(126, 2))
        .fragmented(0x1, &[3, 4, 2], 3)
        .ping(b"")
        .msg(0x1, &payload(300, 4))
        .fragmented(0x2, &[0, 5], 5)
}

#[test]
fn every_byte_boundary() {
    let s = small_script();
    for k in 0..=s.bytes.len() {
        check(&s, &[k]);
    }
}

#[test]
fn one_byte_at_a_time() {
    let s = small_script();
    let cuts: Vec<usize> = (1..s.bytes.len()).collect();
    check(&s, &cuts);
}

/// Large messages: the 16-bit maximum, 64-bit lengths, one larger than the read buffer (which
/// grows once), and a fragmented message with interleaved control frames.
fn big_script() -> Script {
    Script::new()
        .msg(0x1, &payload(65_535, 1))
        .msg(0x1, &payload(65_536, 2))
        .msg(0x2, &payload(70_001, 3))
        .ping(&payload(125, 4))
        .msg(0x1, &payload(READ_BUFFER + 10_000, 5))
        .msg(0x1, b"after the big one")
        .fragmented(0x1, &[30_000, 40_000, 126, 1], 6)
        .msg(0x1, &payload(200, 7))
}

#[test]
fn big_messages_in_one_piece() {
    check(&big_script(), &[]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_cuts(mut cuts in proptest::collection::vec(0usize..700_000, 0..24)) {
        let s = big_script();
        for c in &mut cuts {
            *c %= s.bytes.len() + 1;
        }
        cuts.sort_unstable();
        cuts.dedup();
        check(&s, &cuts);
    }
}

#[test]
fn frames_in_the_same_segment_as_the_101_are_kept() {
    let s = Script::new()
        .msg(0x1, b"first")
        .msg(0x1, &payload(70_000, 1))
        .ping(b"early")
        .msg(0x1, b"third");
    let bytes = s.bytes.clone();
    let (url, h) = spawn(move |mut st: TcpStream| {
        handshake(&mut st, &bytes);
        let mut back = Vec::new();
        while let Some(f) = read_client_frame(&mut st) {
            back.push(f);
        }
        back
    });
    let mut c = WsConn::connect(&url, T).expect("connect");
    let mut got = Vec::new();
    let deadline = Instant::now() + T;
    while got.len() < s.want.len() && Instant::now() < deadline {
        match c.recv().expect("recv") {
            WsRecv::Frame(p) => got.push(Got::Msg(p.to_vec())),
            WsRecv::Control => got.push(Got::Control),
            WsRecv::Nothing => {}
        }
    }
    assert_eq!(got, s.want);
    c.close();
    let back = h.join().unwrap();
    assert_eq!(back[0].opcode, 0xA);
    assert_eq!(back[0].payload, b"early");
}

#[test]
fn request_is_a_proper_upgrade() {
    let (url, h) = spawn(|mut s: TcpStream| handshake(&mut s, &[]));
    let port = url
        .trim_start_matches("ws://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let c = WsConn::connect(&url, T).expect("connect");
    let req = h.join().unwrap();
    assert_eq!(req.resource, "/feed?x=1");
    assert_eq!(
        req.header("host"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(req.header("upgrade"), Some("websocket"));
    assert!(req
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("upgrade")));
    assert_eq!(req.header("sec-websocket-version"), Some("13"));
    let key = req.header("sec-websocket-key").unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key)
        .expect("key is base64");
    assert_eq!(raw.len(), 16);
    drop(c);
}

/// Connects to a server that answers the upgrade with `answer(key)`.
fn connect_with_answer(
    answer: impl FnOnce(&str) -> Vec<u8> + Send + 'static,
) -> Result<WsConn, WsError> {
    let (url, h) = spawn(move |mut s: TcpStream| {
        let (req, _) = ws_server::read_request(&mut s);
        let key = req.header("sec-websocket-key").unwrap().to_owned();
        let _ = s.write_all(&answer(&key));
        // Keep the socket open a moment so the client sees the answer, not a reset.
        std::thread::sleep(Duration::from_millis(50));
    });
    let r = WsConn::connect(&url, Duration::from_secs(2));
    h.join().unwrap();
    r
}

fn handshake_error(answer: impl FnOnce(&str) -> Vec<u8> + Send + 'static) -> String {
    match connect_with_answer(answer) {
        Err(WsError::Handshake { message, .. }) => message,
        Err(e) => panic!("expected a handshake error, got {e}"),
        Ok(_) => panic!("expected a handshake error, the connection was accepted"),
    }
}

#[test]
fn bad_handshakes_are_refused() {
    let ok = |k: &str| ws_server::accept_for(k);
    let m = handshake_error(|_| {
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            .to_vec()
    });
    assert!(m.contains("Sec-WebSocket-Accept"), "{m}");
    let m = handshake_error(move |k| {
        format!(
            "HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            ok(k)
        )
        .into_bytes()
    });
    assert!(m.contains("101"), "{m}");
    let m = handshake_error(move |k| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            ok(k)
        )
        .into_bytes()
    });
    assert!(m.contains("Upgrade: websocket"), "{m}");
    let m = handshake_error(move |k| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            ok(k)
        )
        .into_bytes()
    });
    assert!(m.contains("Connection"), "{m}");
    let m = handshake_error(move |k| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            ok(k)
        )
        .into_bytes()
    });
    assert!(m.contains("extensions"), "{m}");
    let m = handshake_error(|_| {
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            .to_vec()
    });
    assert!(m.contains("Sec-WebSocket-Accept"), "{m}");
    // A head that never ends, one that is cut, and bytes that are not HTTP at all.
    let m = handshake_error(|_| vec![b'x'; 40_000]);
    assert!(m.contains("no end"), "{m}");
    let m = handshake_error(|_| b"HTTP/1.1 101 Switching".to_vec());
    assert!(m.contains("closed"), "{m}");
    let m = handshake_error(|_| b"\xff\xfe\r\n\r\n".to_vec());
    assert!(m.contains("UTF-8") || m.contains("101"), "{m}");
}

#[test]
fn token_lists_and_case_are_accepted() {
    let c = connect_with_answer(|k| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n\
             CONNECTION: keep-alive, Upgrade\r\nsec-websocket-accept:   {}  \r\n\r\n",
            ws_server::accept_for(k)
        )
        .into_bytes()
    });
    assert!(c.is_ok(), "{:?}", c.err());
}

/// Sends `bytes` after the handshake and ends the stream; receives until an error (or the
/// deadline). Returns the error text and the frames the client sent.
fn run_until_error(bytes: Vec<u8>) -> (Option<String>, Vec<ClientFrame>) {
    let (url, h) = spawn(move |mut s: TcpStream| {
        handshake(&mut s, &bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut back = Vec::new();
        while let Some(f) = read_client_frame(&mut s) {
            back.push(f);
        }
        back
    });
    let mut c = WsConn::connect(&url, T).expect("connect");
    let deadline = Instant::now() + T;
    let mut err = None;
    while Instant::now() < deadline {
        match c.recv() {
            Ok(_) => {}
            Err(WsError::Closed(m)) => {
                err = Some(m);
                break;
            }
            Err(e) => panic!("unexpected error kind {e}"),
        }
    }
    // Every later call fails too.
    if err.is_some() {
        assert!(c.recv().is_err());
        assert!(c.send_text_bytes(b"{}").is_err());
    }
    drop(c);
    (err, h.join().unwrap())
}

#[test]
fn peer_close_is_answered_and_reported_with_its_code() {
    let mut close = 1001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"going away");
    let mut bytes = text(b"last words");
    bytes.extend(frame(true, 0x8, &close));
    let (err, back) = run_until_error(bytes);
    let err = err.expect("a Closed error");
    assert!(err.contains("1001") && err.contains("going away"), "{err}");
    let answer = back.iter().find(|f| f.opcode == 0x8).expect("close answer");
    assert!(answer.masked);
    assert_eq!(answer.payload, 1001u16.to_be_bytes());
}

#[test]
fn protocol_violations_close_the_connection() {
    let over = (MAX_MESSAGE as u64 + 1).to_be_bytes();
    let mut oversize = vec![0x82, 127];
    oversize.extend_from_slice(&over);
    let mut huge = vec![0x82, 127];
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    let mut long_ping = vec![0x89, 126, 0, 126];
    long_ping.extend(payload(126, 0));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("RSV1", vec![0xC1, 1, b'a'], 1002, "RSV"),
        ("RSV3", vec![0x91, 1, b'a'], 1002, "RSV"),
        ("masked", vec![0x81, 0x81, 1, 2, 3, 4, b'a'], 1002, "masked"),
        ("oversize", oversize, 1009, "limit"),
        ("64-bit top bit", huge, 1009, "limit"),
        ("opcode 3", vec![0x83, 0], 1002, "opcode"),
        ("opcode 11", vec![0x8B, 0], 1002, "opcode"),
        ("fragmented ping", vec![0x09, 0], 1002, "fragmented control"),
        (
            "fragmented close",
            vec![0x08, 0],
            1002,
            "fragmented control",
        ),
        ("ping over 125", long_ping, 1002, "125"),
        (
            "lone continuation",
            vec![0x80, 1, b'a'],
            1002,
            "continuation",
        ),
        (
            "message inside a message",
            vec![0x01, 1, b'a', 0x81, 1, b'b'],
            1002,
            "inside",
        ),
        ("bad UTF-8", vec![0x81, 2, 0xff, 0xfe], 1007, "UTF-8"),
        (
            "bad UTF-8 across fragments",
            vec![0x01, 1, 0xe2, 0x80, 1, 0x28],
            1007,
            "UTF-8",
        ),
        ("1-byte close", vec![0x88, 1, 3], 1002, "1-byte"),
    ];
    for (name, bytes, code, word) in cases {
        let (err, back) = run_until_error(bytes);
        let err = err.unwrap_or_else(|| panic!("{name}: no error"));
        assert!(
            err.contains("protocol error") && err.contains(word),
            "{name}: {err}"
        );
        let close = back
            .iter()
            .find(|f| f.opcode == 0x8)
            .unwrap_or_else(|| panic!("{name}: no close frame sent"));
        assert!(close.masked, "{name}");
        assert_eq!(close.payload, code.to_be_bytes(), "{name}");
    }
}

#[test]
fn stream_end_mid_frame_is_an_error() {
    let (err, _) = run_until_error(vec![0x81, 10, b'a', b'b']);
    assert!(err.is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary bytes from the server (then the end of the stream): messages or an error,
    /// never a panic or a hang.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let (err, _) = run_until_error(bytes);
        prop_assert!(err.is_some());
    }
}

/// `wss://`: the same messages through rustls, in one piece and cut inside frames (and so
/// inside TLS records), against a server with the test CA's certificate for 127.0.0.1.
#[test]
fn tls_delivers_the_same_messages() {
    let small = small_script();
    check_over(&small, &[], true);
    check_over(&small, &[1, 7, 50, 51, 200], true);
    let big = big_script();
    check_over(&big, &[], true);
    check_over(&big, &[3, 65_000, 65_541, 200_000, 300_001], true);
}

/// A certificate the default roots do not know fails the handshake with a TLS error.
#[test]
fn tls_with_an_unknown_issuer_is_refused() {
    let (url, h) = spawn(|s: TcpStream| {
        let mut t = ws_server::tls_server(s);
        let mut b = [0u8; 1];
        // The client aborts the TLS handshake: an error here, never a request.
        t.read(&mut b).is_err()
    });
    let url = url.replacen("ws://", "wss://", 1);
    match WsConn::connect(&url, T) {
        Err(WsError::Handshake { message, .. }) => {
            assert!(
                message.to_ascii_lowercase().contains("certificate"),
                "{message}"
            );
        }
        Err(e) => panic!("expected a handshake error, got {e}"),
        Ok(_) => panic!("an unknown issuer was accepted"),
    }
    assert!(h.join().unwrap());
}
