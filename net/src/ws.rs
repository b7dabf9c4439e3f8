//! A websocket client connection of its own (RFC 6455, client side): `ws://` over plain TCP,
//! `wss://` through rustls (webpki roots). The HTTP/1.1 upgrade is done by hand; after it the
//! socket is non-blocking and [`WsConn::recv`] parses server frames straight out of a read buffer
//! allocated once at connect, handing out each message as a slice of that buffer (or, for a
//! fragmented message, of a second buffer reused across messages): no heap allocation per frame,
//! and at most one `recv` syscall per poll. Pings are answered with masked pongs through the same
//! outgoing buffer as the caller's frames, so frame order on the wire is kept.
//!
//! Never: a panic on anything the server sends (a bad handshake answer, a malformed or oversized
//! frame is an error that names it), or an allocation on the receive path once a connection is up,
//! except to grow a buffer for a message bigger than any before (bounded by [`MAX_MESSAGE`]).
//! Through TLS, rustls's buffered connection keeps its own per-record buffers.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// A transport error, with what failed.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The URL is not a websocket URL with a host.
    #[error("bad websocket URL `{0}`")]
    Url(String),
    /// TCP connect failed.
    #[error("connect {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The websocket (or TLS) handshake failed.
    #[error("handshake with {url}: {message}")]
    Handshake {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The connection closed or failed after the handshake (a close from the peer names its code
    /// and reason; a protocol violation names the rule the frame broke).
    #[error("connection lost: {0}")]
    Closed(String),
}

/// What one [`WsConn::recv`] produced: the payload borrows the connection's buffer and is valid
/// until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsRecv<'a> {
    /// A text or binary message (its payload; a fragmented message reassembled).
    Frame(&'a [u8]),
    /// A control frame (ping, answered with a pong; or pong) was handled; counts as liveness.
    Control,
    /// No complete message yet.
    Nothing,
}

/// Size of the read buffer allocated at connect (a frame larger than it grows it once).
pub const READ_BUFFER: usize = 256 * 1024;
/// Largest message accepted (one frame or a reassembled fragmented message), bytes; a longer one
/// fails the connection (close code 1009).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// Capacity of the reused outgoing frame buffer (grows once if a message is longer).
const OUT_CAPACITY: usize = 16 * 1024;
/// Capacity reserved at connect for reassembling fragmented messages.
const MSG_CAPACITY: usize = 64 * 1024;
/// Largest HTTP response head accepted during the handshake.
const MAX_HEAD: usize = 16 * 1024;
/// Compact the read buffer before a read when less than this is free at its end.
const READ_MIN: usize = 16 * 1024;
/// RFC 6455 1.3: appended to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Appends the masked client frame of `payload` with `opcode` to `out` (RFC 6455 5.2: FIN, the
/// opcode, the mask bit, a 7/16/64-bit length, the masking key, then the payload XORed with it).
pub fn encode_client_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | (opcode & 0x0f));
    let n = payload.len();
    if n < 126 {
        // n < 126: fits the 7-bit length.
        out.push(0x80 | n as u8);
    } else if let Ok(n16) = u16::try_from(n) {
        out.push(0x80 | 126);
        out.extend_from_slice(&n16.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    // Eight bytes at a time (the mask repeated twice), then the tail byte by byte.
    let m8 = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let body = &mut out[start..];
    let mut chunks = body.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ m8).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        // The remainder starts at a multiple of 8, so mask index i & 3 still lines up.
        *b ^= mask[i & 3];
    }
}

/// Appends the masked client text frame of `payload` to `out` ([`encode_client_frame`] with the
/// text opcode).
pub fn encode_client_text_frame(out: &mut Vec<u8>, payload: &[u8], mask: [u8; 4]) {
    encode_client_frame(out, OP_TEXT, payload, mask);
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 4.2.2: base64 of SHA-1 of the key and the GUID).
#[must_use]
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Host and port of a `ws://`/`wss://`/`http://` URL (default ports 80/443).
///
/// # Errors
/// [`WsError::Url`] for anything else.
pub fn host_port(url: &str) -> Result<(String, u16), WsError> {
    let bad = || WsError::Url(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let default = match scheme {
        "ws" | "http" => 80,
        "wss" | "https" => 443,
        _ => return Err(bad()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => default,
    };
    Ok((host.to_owned(), port))
}

/// What the handshake needs from a websocket URL.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    /// `Host` header value: the host (IPv6 in brackets), with the port when not the default.
    host_header: String,
    /// Path and query (`/` when the URL has none), without a fragment.
    resource: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, WsError> {
        let (host, port) = host_port(url)?;
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| WsError::Url(url.to_owned()))?;
        let tls = match scheme {
            "ws" => false,
            "wss" => true,
            _ => return Err(WsError::Url(url.to_owned())),
        };
        let default = if tls { 443 } else { 80 };
        let rest = rest.split('#').next().unwrap_or("");
        let resource = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => format!("/{}", &rest[i..]),
            Some(i) => rest[i..].to_owned(),
            None => "/".to_owned(),
        };
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let host_header = if port == default {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        Ok(Self {
            tls,
            host,
            host_header,
            resource,
        })
    }
}

/// The client TLS configuration (webpki roots, ring provider), built once per process.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CFG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CFG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Arc::new(cfg))
    })
    .clone()
}

fn tls_client(
    host: &str,
    cfg: Option<Arc<rustls::ClientConfig>>,
) -> Result<rustls::ClientConnection, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("TLS server name `{host}`: {e}"))?;
    let cfg = match cfg {
        Some(c) => c,
        None => tls_config()?,
    };
    rustls::ClientConnection::new(cfg, name).map_err(|e| format!("TLS: {e}"))
}

/// Opens a TCP connection to `url`'s host (first address that answers within `timeout`).
pub(crate) fn tcp_connect(url: &str, timeout: Duration) -> Result<TcpStream, WsError> {
    let (host, port) = host_port(url)?;
    let addr = format!("{host}:{port}");
    let conn_err = |source| WsError::Connect {
        addr: addr.clone(),
        source,
    };
    let mut last = std::io::Error::new(ErrorKind::NotFound, "no address");
    for a in (host.as_str(), port).to_socket_addrs().map_err(conn_err)? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(conn_err(last))
}

/// The byte stream under the websocket.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls {
        tls: Box<rustls::ClientConnection>,
        tcp: TcpStream,
    },
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) | Self::Tls { tcp: s, .. } => s,
        }
    }

    /// Blocking write of all of `data` (the handshake; TLS handshake included).
    fn write_all_blocking(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.write_all(data),
            Self::Tls { tls, tcp } => {
                let mut s = rustls::Stream::new(tls.as_mut(), tcp);
                s.write_all(data)?;
                s.flush()
            }
        }
    }

    /// Blocking read (the handshake's response).
    fn read_blocking(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls { tls, tcp } => rustls::Stream::new(tls.as_mut(), tcp).read(buf),
        }
    }

    /// Bytes of the stream into `buf` with at most one `recv` on the socket: `Ok(0)` at the end
    /// of the stream, `WouldBlock` (or `TimedOut`) when nothing is there.
    fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls { tls, tcp } => {
                match tls.reader().read(buf) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    other => return other,
                }
                let n = tls.read_tls(tcp)?;
                let state = tls.process_new_packets();
                // Alerts, key updates: best effort, the next write pushes the rest.
                if tls.wants_write() {
                    let _ = tls.write_tls(tcp);
                }
                state.map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
                match tls.reader().read(buf) {
                    // The end of the stream, with or without close_notify.
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof || n == 0 => Ok(0),
                    other => other,
                }
            }
        }
    }

    /// Writes a prefix of `data`; with TLS, `data` is taken into rustls and its records go out
    /// as far as the socket accepts (the rest through [`Stream::flush_pending`]).
    fn write_some(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(data),
            Self::Tls { tls, tcp } => {
                let n = tls.writer().write(data)?;
                while tls.wants_write() {
                    match tls.write_tls(tcp) {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                if n == 0 && !data.is_empty() {
                    // rustls's send buffer is full until the socket takes more.
                    return Err(ErrorKind::WouldBlock.into());
                }
                Ok(n)
            }
        }
    }

    /// Pushes TLS records still held by rustls; `Ok(true)` when none are left.
    fn flush_pending(&mut self) -> std::io::Result<bool> {
        match self {
            Self::Plain(_) => Ok(true),
            Self::Tls { tls, tcp } => {
                while tls.wants_write() {
                    match tls.write_tls(tcp) {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(true)
            }
        }
    }
}

/// Where the payload of the last message [`WsConn::recv`] handed out lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    None,
    /// `rbuf[start..end]`.
    Buf(usize, usize),
    /// The reassembly buffer.
    Msg,
}

/// What parsing the read buffer gave.
enum Step {
    /// A frame is not complete: it needs this many bytes from `rpos` (at least).
    Incomplete(usize),
    /// A complete message.
    Message(Last),
    /// A control frame, handled.
    Control,
    /// A fragment of a message, taken into the reassembly buffer.
    Fragment,
}

/// An open websocket connection (client side).
///
/// Receive: [`WsConn::recv`] parses the server's frames out of a read buffer allocated at
/// connect and hands each message out as a borrowed slice. Send: frames built by the caller go
/// out through [`WsConn::send_text_bytes`] without a heap allocation: the masked client frame is
/// written into a buffer reused across messages and straight into the stream; what the socket
/// does not take stays queued there, in order, ahead of later frames and pongs. The masks come
/// from a xorshift generator seeded from the OS at connect.
pub struct WsConn {
    stream: Stream,
    /// Read buffer: `rbuf[rpos..rend]` holds received bytes not yet parsed. Its length is its
    /// capacity (zeroed at connect), so reads go straight into it.
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    /// Reassembly of a fragmented message (opcode of its first frame in `frag`).
    msg: Vec<u8>,
    frag: Option<u8>,
    last: Last,
    /// Payload of the last pong received.
    pong: [u8; 125],
    pong_len: usize,
    /// Our frames not yet accepted by the socket: `out[out_sent..]` goes out before anything else.
    out: Vec<u8>,
    out_sent: usize,
    mask_state: u64,
    /// Set once the connection closed or failed: every later call is an error.
    dead: bool,
}

impl std::fmt::Debug for WsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConn")
            .field("stream", &self.stream)
            .field("read_buffer", &self.rbuf.len())
            .field("unparsed", &(self.rend - self.rpos))
            .field("fragmented", &self.frag)
            .field("queued_out", &(self.out.len() - self.out_sent))
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

fn io_closed(e: &std::io::Error) -> WsError {
    WsError::Closed(e.to_string())
}

impl WsConn {
    /// Connects, completes the TLS (for `wss://`) and websocket handshakes (blocking, bounded by
    /// `timeout` per step and `timeout` for the whole response), then switches the socket to
    /// non-blocking.
    ///
    /// # Errors
    /// [`WsError::Url`] for a URL that is not `ws://` or `wss://` with a host,
    /// [`WsError::Connect`] when no address answers, [`WsError::Handshake`] when TLS fails or the
    /// answer is not a valid `101` upgrade for our key (naming what is wrong).
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, WsError> {
        Self::connect_with(url, timeout, None)
    }

    /// [`WsConn::connect`] with `tls` as the client TLS configuration of a `wss://` URL instead
    /// of the default one (webpki roots): a private CA, client certificates.
    ///
    /// # Errors
    /// As [`WsConn::connect`].
    pub fn connect_with(
        url: &str,
        timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, WsError> {
        let target = Target::parse(url)?;
        let tcp = tcp_connect(url, timeout)?;
        let deadline = Instant::now() + timeout;
        let hs = |message: String| WsError::Handshake {
            url: url.to_owned(),
            message,
        };
        let _ = tcp.set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        let _ = tcp.set_write_timeout(Some(timeout.max(Duration::from_millis(1))));
        let mut stream = if target.tls {
            Stream::Tls {
                tls: Box::new(tls_client(&target.host, tls).map_err(hs)?),
                tcp,
            }
        } else {
            Stream::Plain(tcp)
        };
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            target.resource, target.host_header
        );
        stream
            .write_all_blocking(req.as_bytes())
            .map_err(|e| hs(format!("sending the upgrade request: {e}")))?;
        let mut rbuf = vec![0u8; READ_BUFFER];
        let mut n = 0;
        let head_end = loop {
            let searched = n.min(MAX_HEAD);
            if let Some(i) = rbuf[..searched].windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if n >= MAX_HEAD {
                return Err(hs(format!(
                    "no end of the response head in its first {MAX_HEAD} bytes"
                )));
            }
            if Instant::now() >= deadline {
                return Err(hs("timed out waiting for the upgrade response".into()));
            }
            match stream.read_blocking(&mut rbuf[n..]) {
                Ok(0) => {
                    return Err(hs(format!(
                        "connection closed after {n} bytes of the upgrade response"
                    )))
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(hs("timed out waiting for the upgrade response".into()))
                }
                Err(e) => return Err(hs(format!("reading the upgrade response: {e}"))),
            }
        };
        check_upgrade(&rbuf[..head_end], &key).map_err(hs)?;
        stream
            .tcp()
            .set_nonblocking(true)
            .map_err(|e| WsError::Closed(e.to_string()))?;
        // xorshift64 needs a non-zero state.
        let mask_state = rand::random::<u64>() | 1;
        Ok(Self {
            stream,
            rbuf,
            // Bytes after the head (same segment as the 101) are the first frames.
            rpos: head_end,
            rend: n,
            msg: Vec::with_capacity(MSG_CAPACITY),
            frag: None,
            last: Last::None,
            pong: [0; 125],
            pong_len: 0,
            out: Vec::with_capacity(OUT_CAPACITY),
            out_sent: 0,
            mask_state,
            dead: false,
        })
    }

    /// Switches between polling (`None`: non-blocking, the default after connect) and waiting
    /// (`Some(t)`: a [`WsConn::recv`] waits up to `t` for bytes before it answers `Nothing`).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the socket refuses the setting.
    pub fn set_wait(&mut self, wait: Option<Duration>) -> Result<(), WsError> {
        let tcp = self.stream.tcp();
        match wait {
            None => tcp.set_nonblocking(true),
            Some(t) => tcp
                .set_nonblocking(false)
                .and_then(|()| tcp.set_read_timeout(Some(t.max(Duration::from_micros(1))))),
        }
        .map_err(|e| io_closed(&e))
    }

    fn next_mask(&mut self) -> [u8; 4] {
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.mask_state = x;
        // The high half of xorshift64 is its better-mixed half.
        ((x >> 32) as u32).to_ne_bytes()
    }

    /// Marks the connection dead and returns the error for `why`.
    fn lost(&mut self, why: String) -> WsError {
        self.dead = true;
        WsError::Closed(why)
    }

    /// A protocol violation by the server: answers a close with `code` (best effort), marks the
    /// connection dead and returns the error naming the rule.
    fn fail(&mut self, code: u16, why: &str) -> WsError {
        self.queue(OP_CLOSE, &code.to_be_bytes());
        let _ = self.drain_out();
        self.lost(format!("protocol error: {why} (closed with {code})"))
    }

    /// Appends our frame to the outgoing buffer (behind anything still queued).
    fn queue(&mut self, opcode: u8, payload: &[u8]) {
        if self.out_sent == self.out.len() {
            self.out.clear();
            self.out_sent = 0;
        }
        let mask = self.next_mask();
        encode_client_frame(&mut self.out, opcode, payload, mask);
    }

    /// Writes what is left of our own frames; `Ok(true)` when nothing is left.
    fn drain_out(&mut self) -> Result<bool, WsError> {
        while self.out_sent < self.out.len() {
            match self.stream.write_some(&self.out[self.out_sent..]) {
                Ok(0) => return Err(self.lost("socket accepted no bytes".into())),
                Ok(n) => self.out_sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.lost(e.to_string())),
            }
        }
        self.out.clear();
        self.out_sent = 0;
        match self.stream.flush_pending() {
            Ok(done) => Ok(done),
            Err(e) => Err(self.lost(e.to_string())),
        }
    }

    fn check_alive(&self) -> Result<(), WsError> {
        if self.dead {
            Err(WsError::Closed("the connection is already closed".into()))
        } else {
            Ok(())
        }
    }

    /// Sends `text` (UTF-8 JSON the caller built) as one masked text frame, with no heap
    /// allocation once the reused buffer is large enough. A full socket keeps the rest queued for
    /// [`WsConn::flush`] / the next send or receive (then, and only then, the buffer may grow).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn send_text_bytes(&mut self, text: &[u8]) -> Result<(), WsError> {
        self.check_alive()?;
        self.queue(OP_TEXT, text);
        self.drain_out().map(|_| ())
    }

    /// Makes room in the read buffer for a frame needing `need` bytes from `rpos`: moves the
    /// unread tail to the front when little room is left at the end or the frame would not fit
    /// behind `rpos`, and grows the buffer only for a frame bigger than all of it.
    fn make_room(&mut self, need: usize) {
        let cap = self.rbuf.len();
        let room = cap - self.rend;
        if self.rpos > 0 && (room < READ_MIN || self.rpos + need > cap) {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        if need > self.rbuf.len() {
            // Bounded: `need` is at most a header plus MAX_MESSAGE (checked when parsed).
            self.rbuf.resize(need, 0);
        }
    }

    /// Parses one frame at `rpos`.
    fn step(&mut self) -> Result<Step, WsError> {
        let avail = &self.rbuf[self.rpos..self.rend];
        let have = avail.len();
        if have < 2 {
            return Ok(Step::Incomplete(2));
        }
        let (b0, b1) = (avail[0], avail[1]);
        let (len, hlen) = match b1 & 0x7f {
            126 => match avail.get(2..4) {
                Some(l) => (u64::from(u16::from_be_bytes([l[0], l[1]])), 4),
                None => return Ok(Step::Incomplete(4)),
            },
            127 => match avail.get(2..10) {
                Some(l) => {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(l);
                    (u64::from_be_bytes(w), 10)
                }
                None => return Ok(Step::Incomplete(10)),
            },
            l => (u64::from(l), 2),
        };
        let fin = b0 & 0x80 != 0;
        let op = b0 & 0x0f;
        if b0 & 0x70 != 0 {
            return Err(self.fail(1002, "RSV bits set without a negotiated extension"));
        }
        if b1 & 0x80 != 0 {
            return Err(self.fail(1002, "masked frame from the server"));
        }
        match op {
            OP_CONT | OP_TEXT | OP_BINARY => {
                if len > MAX_MESSAGE as u64 {
                    return Err(self.fail(1009, "frame longer than the message limit"));
                }
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin {
                    return Err(self.fail(1002, "fragmented control frame"));
                }
                if len > 125 {
                    return Err(self.fail(1002, "control frame payload over 125 bytes"));
                }
            }
            _ => return Err(self.fail(1002, "unknown opcode")),
        }
        // len <= MAX_MESSAGE: fits usize.
        let total = hlen + len as usize;
        if have < total {
            return Ok(Step::Incomplete(total));
        }
        let start = self.rpos + hlen;
        let end = self.rpos + total;
        self.rpos = end;
        match op {
            OP_TEXT | OP_BINARY => {
                if self.frag.is_some() {
                    return Err(self.fail(1002, "new message inside a fragmented one"));
                }
                if fin {
                    if op == OP_TEXT && std::str::from_utf8(&self.rbuf[start..end]).is_err() {
                        return Err(self.fail(1007, "text message is not UTF-8"));
                    }
                    return Ok(Step::Message(Last::Buf(start, end)));
                }
                self.frag = Some(op);
                self.msg.clear();
                self.msg.extend_from_slice(&self.rbuf[start..end]);
                Ok(Step::Fragment)
            }
            OP_CONT => {
                let Some(first) = self.frag else {
                    return Err(self.fail(1002, "continuation frame outside a message"));
                };
                if self.msg.len() + (end - start) > MAX_MESSAGE {
                    return Err(self.fail(1009, "fragmented message longer than the limit"));
                }
                self.msg.extend_from_slice(&self.rbuf[start..end]);
                if !fin {
                    return Ok(Step::Fragment);
                }
                self.frag = None;
                if first == OP_TEXT && std::str::from_utf8(&self.msg).is_err() {
                    return Err(self.fail(1007, "text message is not UTF-8"));
                }
                Ok(Step::Message(Last::Msg))
            }
            OP_PING => {
                // The pong goes behind anything queued, so frames keep their order.
                if self.out_sent == self.out.len() {
                    self.out.clear();
                    self.out_sent = 0;
                }
                let mask = self.next_mask();
                encode_client_frame(&mut self.out, OP_PONG, &self.rbuf[start..end], mask);
                self.drain_out()?;
                Ok(Step::Control)
            }
            OP_PONG => {
                let n = end - start;
                self.pong[..n].copy_from_slice(&self.rbuf[start..end]);
                self.pong_len = n;
                Ok(Step::Control)
            }
            _ => {
                // OP_CLOSE.
                let p = &self.rbuf[start..end];
                let (code, reason) = match p.len() {
                    0 => (None, String::new()),
                    1 => return Err(self.fail(1002, "close frame with a 1-byte payload")),
                    _ => (
                        Some(u16::from_be_bytes([p[0], p[1]])),
                        String::from_utf8_lossy(&p[2..]).into_owned(),
                    ),
                };
                // Answer with the same code (RFC 6455 5.5.1), best effort.
                match code {
                    Some(c) => self.queue(OP_CLOSE, &c.to_be_bytes()),
                    None => self.queue(OP_CLOSE, &[]),
                }
                let _ = self.drain_out();
                let _ = self.stream.flush_pending();
                Err(self.lost(match code {
                    Some(c) if reason.is_empty() => format!("closed by peer: code {c}"),
                    Some(c) => format!("closed by peer: code {c} ({reason})"),
                    None => "closed by peer: no code".into(),
                }))
            }
        }
    }

    /// Reads what has arrived: one message, a handled control frame, or nothing. The payload
    /// borrows the connection and is valid until the next call. A ping is answered with a pong
    /// carrying its payload. At most one `recv` syscall per call, and none while the buffer
    /// still holds a complete frame.
    ///
    /// # Errors
    /// [`WsError::Closed`] when the peer closed (its code and reason in the text), the stream
    /// ended or failed, or a frame broke the protocol (the connection is then closed with
    /// 1002/1007/1009); every later call fails too.
    pub fn recv(&mut self) -> Result<WsRecv<'_>, WsError> {
        self.check_alive()?;
        self.last = Last::None;
        if self.out_sent < self.out.len() || matches!(self.stream, Stream::Tls { .. }) {
            // Frames the socket did not take before (a pong, the caller's frame) go on first.
            self.drain_out()?;
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        }
        let mut read = false;
        loop {
            match self.step()? {
                Step::Message(l) => {
                    self.last = l;
                    return Ok(WsRecv::Frame(self.last_message()));
                }
                Step::Control => return Ok(WsRecv::Control),
                Step::Fragment => {}
                Step::Incomplete(need) => {
                    if read {
                        return Ok(WsRecv::Nothing);
                    }
                    self.make_room(need);
                    match self.stream.read_some(&mut self.rbuf[self.rend..]) {
                        Ok(0) => return Err(self.lost("connection closed by the peer".into())),
                        Ok(n) => self.rend += n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                ErrorKind::WouldBlock
                                    | ErrorKind::TimedOut
                                    | ErrorKind::Interrupted
                            ) =>
                        {
                            return Ok(WsRecv::Nothing)
                        }
                        Err(e) => return Err(self.lost(e.to_string())),
                    }
                    read = true;
                }
            }
        }
    }

    /// The payload of the last [`WsRecv::Frame`] [`WsConn::recv`] returned, until the next
    /// `recv` (empty when that call returned something else): lets a caller that must drop the
    /// borrow of `recv`'s result (to touch its other fields) hand the payload out afterwards
    /// without a copy.
    #[must_use]
    pub fn last_message(&self) -> &[u8] {
        match self.last {
            Last::None => &[],
            Last::Buf(s, e) => &self.rbuf[s..e],
            Last::Msg => &self.msg,
        }
    }

    /// Payload of the last pong received (empty before the first).
    #[must_use]
    pub fn last_pong(&self) -> &[u8] {
        &self.pong[..self.pong_len]
    }

    /// Sends a text frame (as [`WsConn::send_text_bytes`]).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn send_text(&mut self, text: String) -> Result<(), WsError> {
        self.send_text_bytes(text.as_bytes())
    }

    /// Sends a ping (liveness probe; the pong comes back as [`WsRecv::Control`]).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn ping(&mut self) -> Result<(), WsError> {
        self.ping_with(b"ballast")
    }

    /// Sends a ping carrying `payload` (its first 125 bytes, the most a control frame holds); the
    /// pong's payload is then [`WsConn::last_pong`].
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn ping_with(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.check_alive()?;
        self.queue(OP_PING, &payload[..payload.len().min(125)]);
        self.drain_out().map(|_| ())
    }

    /// Pushes out queued frames.
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn flush(&mut self) -> Result<(), WsError> {
        self.check_alive()?;
        self.drain_out().map(|_| ())
    }

    /// Closes politely (best effort): a close frame with code 1000, and TLS's close_notify.
    pub fn close(mut self) {
        if self.dead {
            return;
        }
        self.queue(OP_CLOSE, &1000u16.to_be_bytes());
        let _ = self.drain_out();
        if let Stream::Tls { tls, .. } = &mut self.stream {
            tls.send_close_notify();
        }
        let _ = self.stream.flush_pending();
    }
}

/// Checks the upgrade response head (status line and headers, up to and including the blank
/// line) against RFC 6455 4.1 for our `key`; the error names what is wrong.
fn check_upgrade(head: &[u8], key: &str) -> Result<(), String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_owned())?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || code != "101" {
        return Err(format!("expected `HTTP/1.1 101`, got `{status}`"));
    }
    let has_token = |v: &str, t: &str| v.split(',').any(|x| x.trim().eq_ignore_ascii_case(t));
    let (mut upgrade, mut connection, mut accept) = (false, false, None);
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed header line `{line}`"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept = Some(value);
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") && !value.is_empty() {
            return Err(format!(
                "server chose extensions `{value}` that were not offered"
            ));
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") && !value.is_empty() {
            return Err(format!(
                "server chose subprotocol `{value}` that was not offered"
            ));
        }
    }
    if !upgrade {
        return Err("no `Upgrade: websocket` header".into());
    }
    if !connection {
        return Err("no `Connection: upgrade` header".into());
    }
    let want = accept_key(key);
    match accept {
        None => Err("no Sec-WebSocket-Accept header".into()),
        Some(a) if a == want => Ok(()),
        Some(a) => Err(format!(
            "Sec-WebSocket-Accept `{a}` does not match the key (expected `{want}`)"
        )),
    }
}

/// Blocking HTTP/1.1 `GET` of `url` (`http://`, or `https://` through rustls with the webpki
/// roots): the REST depth snapshot. Returns the body of a `200` answer.
///
/// # Errors
/// [`WsError`] for connection or TLS failures, another scheme, or a non-200 answer.
pub fn http_get(url: &str, timeout: Duration) -> Result<Vec<u8>, WsError> {
    let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(r), _) => (r, false),
        (_, Some(r)) => (r, true),
        _ => return Err(WsError::Url(url.to_owned())),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let tcp = tcp_connect(url, timeout)?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let closed = |e: std::io::Error| WsError::Closed(format!("GET {url}: {e}"));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
    );
    let mut buf = Vec::with_capacity(64 * 1024);
    if tls {
        let (host, _) = host_port(url)?;
        let conn =
            tls_client(&host, None).map_err(|e| WsError::Closed(format!("GET {url}: {e}")))?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        s.write_all(req.as_bytes()).map_err(closed)?;
        match s.read_to_end(&mut buf) {
            Ok(_) => {}
            // Servers often close without close_notify after `Connection: close`.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && !buf.is_empty() => {}
            Err(e) => return Err(closed(e)),
        }
    } else {
        let mut tcp = tcp;
        tcp.write_all(req.as_bytes()).map_err(closed)?;
        tcp.read_to_end(&mut buf).map_err(closed)?;
    }
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| WsError::Closed(format!("GET {url}: no HTTP head")))?;
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        let line = head.lines().next().unwrap_or("").to_owned();
        return Err(WsError::Closed(format!("GET {url}: {line}")));
    }
    let mut body = buf.split_off(head_end + 4);
    let lower = head.to_ascii_lowercase();
    if lower.contains("transfer-encoding: chunked") {
        body = dechunk(&body).ok_or_else(|| WsError::Closed(format!("GET {url}: bad chunks")))?;
    } else if let Some(n) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        body.truncate(n);
    }
    Ok(body)
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len());
    loop {
        let i = b.windows(2).position(|w| w == b"\r\n")?;
        let size_txt = std::str::from_utf8(&b[..i]).ok()?;
        let size = usize::from_str_radix(size_txt.split(';').next()?.trim(), 16).ok()?;
        b = &b[i + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 1.3's example key and answer.
    #[test]
    fn accept_key_matches_the_rfc() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            host_port("ws://127.0.0.1:9001/stream?x").unwrap(),
            ("127.0.0.1".into(), 9001)
        );
        assert_eq!(
            host_port("wss://stream.binance.com/ws").unwrap(),
            ("stream.binance.com".into(), 443)
        );
        assert_eq!(
            host_port("http://localhost/api").unwrap(),
            ("localhost".into(), 80)
        );
        assert!(host_port("ftp://x").is_err());
        assert!(host_port("ws://").is_err());
        assert!(host_port("ws://h:notaport/").is_err());
    }

    /// The frame unmasks to the payload at every length class (7-bit, 16-bit, 64-bit) and at
    /// every tail length of the 8-byte masking.
    #[test]
    fn client_frames() {
        for n in [
            0usize, 1, 7, 8, 9, 125, 126, 127, 1000, 65_535, 65_536, 70_001,
        ] {
            let payload: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            let mask = [0x12, 0x9a, 0x00, 0xff];
            let mut f = vec![0xee];
            encode_client_text_frame(&mut f, &payload, mask);
            let f = &f[1..];
            assert_eq!(f[0], 0x81);
            assert_eq!(f[1] & 0x80, 0x80);
            let (len, at) = match f[1] & 0x7f {
                126 => (usize::from(u16::from_be_bytes([f[2], f[3]])), 4),
                127 => (
                    usize::try_from(u64::from_be_bytes(f[2..10].try_into().unwrap())).unwrap(),
                    10,
                ),
                l => (usize::from(l), 2),
            };
            assert_eq!(len, n);
            assert_eq!(&f[at..at + 4], &mask);
            let body: Vec<u8> = f[at + 4..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(body, payload, "length {n}");
        }
    }

    #[test]
    fn chunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"5\r\nab").is_none());
    }
}
