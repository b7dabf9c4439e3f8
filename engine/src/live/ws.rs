//! A websocket client connection: `ws://` over plain TCP, `wss://` through rustls (webpki roots).
//! After the handshake the socket is non-blocking: [`WsConn::read`] returns at once when nothing
//! has arrived, so the feed and execution threads poll it without blocking (one `recv` per poll).

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

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
    /// The connection closed or failed after the handshake.
    #[error("connection lost: {0}")]
    Closed(String),
}

/// What one [`WsConn::recv`] produced: the payload borrows the connection's buffer and is valid
/// until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsRecv<'a> {
    /// A text or binary message (its payload).
    Frame(&'a [u8]),
    /// A control frame (ping/pong) was handled; counts as liveness.
    Control,
    /// Nothing has arrived.
    Nothing,
}

/// What one [`WsConn::read`] produced (owned copy of [`WsRecv`]).
#[derive(Debug)]
pub enum WsRead {
    /// A text or binary frame (its payload).
    Frame(Vec<u8>),
    /// A control frame (ping/pong) was handled; counts as liveness.
    Control,
    /// Nothing has arrived.
    Nothing,
}

/// An open websocket connection.
///
/// Reads go through tungstenite. Text frames built by the caller go out through
/// [`WsConn::send_text_bytes`] without a heap allocation: the client frame (FIN + text opcode,
/// length, 4-byte mask, masked payload) is written into a buffer reused across messages and
/// straight into the stream, after tungstenite's own write buffer has been flushed so frames never
/// interleave. The masks come from a xorshift generator seeded from the OS at connect.
#[derive(Debug)]
pub struct WsConn {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    /// Our frames not yet accepted by the socket: `out[out_sent..]` goes out before anything else.
    out: Vec<u8>,
    out_sent: usize,
    mask_state: u64,
    /// The last message handed out by [`WsConn::recv`].
    rx: Vec<u8>,
}

/// Capacity of the reused outgoing frame buffer (grows once if a message is longer).
const OUT_CAPACITY: usize = 16 * 1024;

/// Appends the masked client text frame of `payload` to `out` (RFC 6455 5.2: FIN, opcode 1, the
/// mask bit, a 7/16/64-bit length, the masking key, then the payload XORed with it).
pub fn encode_client_text_frame(out: &mut Vec<u8>, payload: &[u8], mask: [u8; 4]) {
    out.push(0x81);
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
    let authority = rest.split(['/', '?']).next().unwrap_or("");
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

impl WsConn {
    /// Connects and completes the handshake (blocking, bounded by `timeout` per step), then
    /// switches the socket to non-blocking.
    ///
    /// # Errors
    /// [`WsError`] naming what failed.
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, WsError> {
        let tcp = tcp_connect(url, timeout)?;
        let _ = tcp.set_read_timeout(Some(timeout));
        let _ = tcp.set_write_timeout(Some(timeout));
        let handle = tcp.try_clone().map_err(|e| WsError::Connect {
            addr: url.to_owned(),
            source: e,
        })?;
        let req = url
            .into_client_request()
            .map_err(|_| WsError::Url(url.to_owned()))?;
        let (ws, _resp) =
            tungstenite::client_tls_with_config(req, tcp, None, None).map_err(|e| {
                WsError::Handshake {
                    url: url.to_owned(),
                    message: e.to_string(),
                }
            })?;
        handle
            .set_nonblocking(true)
            .map_err(|e| WsError::Closed(e.to_string()))?;
        // xorshift64 needs a non-zero state.
        let mask_state = rand::random::<u64>() | 1;
        Ok(Self {
            ws,
            out: Vec::with_capacity(OUT_CAPACITY),
            out_sent: 0,
            mask_state,
            rx: Vec::with_capacity(OUT_CAPACITY),
        })
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

    /// Writes what is left of our own frames; `Ok(true)` when nothing is left.
    fn drain_out(&mut self) -> Result<bool, WsError> {
        use std::io::Write;
        while self.out_sent < self.out.len() {
            match self.ws.get_mut().write(&self.out[self.out_sent..]) {
                Ok(0) => return Err(WsError::Closed("socket accepted no bytes".into())),
                Ok(n) => self.out_sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(WsError::Closed(e.to_string())),
            }
        }
        match self.ws.get_mut().flush() {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(WsError::Closed(e.to_string())),
        }
        self.out.clear();
        self.out_sent = 0;
        Ok(true)
    }

    /// Sends `text` (UTF-8 JSON the caller built) as one masked text frame, with no heap
    /// allocation once the reused buffer is large enough. A full socket keeps the rest queued for
    /// [`WsConn::flush`] / the next send (then, and only then, the buffer may grow).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn send_text_bytes(&mut self, text: &[u8]) -> Result<(), WsError> {
        // tungstenite's queued frames (pongs, earlier messages) go first.
        match self.ws.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                // Still queued inside tungstenite: hand this one over too so order is kept (rare;
                // the only allocating path).
                return self.send_text(String::from_utf8_lossy(text).into_owned());
            }
            Err(e) => return Err(WsError::Closed(e.to_string())),
        }
        if self.out_sent == self.out.len() {
            self.out.clear();
            self.out_sent = 0;
        }
        let mask = self.next_mask();
        encode_client_text_frame(&mut self.out, text, mask);
        self.drain_out().map(|_| ())
    }

    /// Reads what has arrived: one message, a handled control frame, or nothing. The payload
    /// borrows the connection and is valid until the next call.
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection closed or failed.
    pub fn recv(&mut self) -> Result<WsRecv<'_>, WsError> {
        // tungstenite may write (a pong) while reading: our partly sent frame must be out first.
        if !self.drain_out()? {
            return Ok(WsRecv::Nothing);
        }
        match self.ws.read() {
            Ok(Message::Text(t)) => {
                self.rx.clear();
                self.rx.extend_from_slice(t.as_bytes());
                Ok(WsRecv::Frame(&self.rx))
            }
            Ok(Message::Binary(b)) => {
                self.rx.clear();
                self.rx.extend_from_slice(&b);
                Ok(WsRecv::Frame(&self.rx))
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {
                // A pong to a ping is queued by tungstenite; push it out now.
                let _ = self.flush();
                Ok(WsRecv::Control)
            }
            Ok(Message::Close(c)) => Err(WsError::Closed(format!("closed by peer: {c:?}"))),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                Ok(WsRecv::Nothing)
            }
            Err(e) => Err(WsError::Closed(e.to_string())),
        }
    }

    /// The payload of the last [`WsRecv::Frame`] [`WsConn::recv`] returned (empty before the
    /// first), until the next `recv`: lets a caller that must drop the borrow of `recv`'s result
    /// (to touch its other fields) hand the payload out afterwards without a copy.
    #[must_use]
    pub fn last_message(&self) -> &[u8] {
        &self.rx
    }

    /// [`WsConn::recv`] with the payload copied into a new `Vec` (kept for callers not yet on
    /// `recv`; allocates per message).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection closed or failed.
    pub fn read(&mut self) -> Result<WsRead, WsError> {
        Ok(match self.recv()? {
            WsRecv::Frame(b) => WsRead::Frame(b.to_vec()),
            WsRecv::Control => WsRead::Control,
            WsRecv::Nothing => WsRead::Nothing,
        })
    }

    /// Queues a text frame and tries to send it (a full socket keeps it queued for
    /// [`WsConn::flush`]).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn send_text(&mut self, text: String) -> Result<(), WsError> {
        if !self.drain_out()? {
            // Our frame is half out: queue behind it (tungstenite writes on its next flush).
            return match self.ws.write(Message::Text(text)) {
                Ok(()) => Ok(()),
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(WsError::Closed(e.to_string())),
            };
        }
        match self.ws.send(Message::Text(text)) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(WsError::Closed(e.to_string())),
        }
    }

    /// Sends a ping (liveness probe; the pong comes back as [`WsRead::Control`]).
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn ping(&mut self) -> Result<(), WsError> {
        if !self.drain_out()? {
            return Ok(());
        }
        match self.ws.send(Message::Ping(b"ballast".to_vec())) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(WsError::Closed(e.to_string())),
        }
    }

    /// Pushes out queued frames.
    ///
    /// # Errors
    /// [`WsError::Closed`] when the connection failed.
    pub fn flush(&mut self) -> Result<(), WsError> {
        if !self.drain_out()? {
            return Ok(());
        }
        match self.ws.flush() {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(WsError::Closed(e.to_string())),
        }
    }

    /// Closes politely (best effort).
    pub fn close(mut self) {
        let _ = self.drain_out();
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

/// Blocking HTTP/1.1 `GET` of `url` (`http://`, or `https://` through rustls with the webpki
/// roots): the REST depth snapshot. Returns the body of a `200` answer.
///
/// # Errors
/// [`WsError`] for connection or TLS failures, another scheme, or a non-200 answer.
pub fn http_get(url: &str, timeout: Duration) -> Result<Vec<u8>, WsError> {
    use std::io::{Read, Write};
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
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| WsError::Closed(format!("GET {url}: TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|_| WsError::Url(url.to_owned()))?;
        let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name)
            .map_err(|e| WsError::Closed(format!("GET {url}: TLS: {e}")))?;
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
