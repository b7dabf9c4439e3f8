//! A raw websocket test server on 127.0.0.1 (std only, one thread per connection): the server
//! side of the RFC 6455 handshake written by hand (so a test can break it on purpose), server
//! frames built byte by byte, and the client's frames read back and unmasked.

#![allow(dead_code)] // Each test binary uses its own part of the helpers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// RFC 6455 1.3.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for `key`, computed here independently of the client's code.
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// The client's upgrade request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET <resource> HTTP/1.1`.
    pub resource: String,
    /// Header names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the request head; returns it and any bytes that came after it.
pub fn read_request<S: Read>(s: &mut S) -> (Request, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).expect("server: read request");
        assert!(n > 0, "server: client closed during the request");
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = std::str::from_utf8(&buf[..end]).expect("request head is UTF-8");
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap();
    let mut parts = first.split(' ');
    assert_eq!(parts.next(), Some("GET"), "request line `{first}`");
    let resource = parts.next().unwrap().to_owned();
    assert_eq!(parts.next(), Some("HTTP/1.1"), "request line `{first}`");
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    (Request { resource, headers }, buf[end..].to_vec())
}

/// The standard `101` answer for `req`.
pub fn answer_101(req: &Request) -> Vec<u8> {
    let key = req.header("sec-websocket-key").expect("key header");
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(key)
    )
    .into_bytes()
}

/// Binds 127.0.0.1:0 and runs `serve` on the first connection, in a thread. Returns the
/// `ws://` URL (path `/feed?x=1`) and the thread.
pub fn spawn<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().expect("accept");
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        serve(s)
    });
    (format!("ws://{addr}/feed?x=1"), h)
}

/// Performs the server handshake (standard answer), then writes `extra` in the same write as the
/// `101` head (frames that arrive in the same segment).
pub fn handshake<S: Read + Write>(s: &mut S, extra: &[u8]) -> Request {
    let (req, rest) = read_request(s);
    assert!(rest.is_empty(), "client sent bytes before the 101");
    let mut out = answer_101(&req);
    out.extend_from_slice(extra);
    s.write_all(&out).expect("server: write 101");
    s.flush().expect("server: flush 101");
    req
}

/// An unmasked server frame.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    let n = payload.len();
    if n < 126 {
        f.push(n as u8);
    } else if n <= 0xffff {
        f.push(126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// A text message in one frame.
pub fn text(payload: &[u8]) -> Vec<u8> {
    frame(true, 0x1, payload)
}

/// A frame from the client, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrame {
    /// FIN bit.
    pub fin: bool,
    /// Opcode.
    pub opcode: u8,
    /// Whether the mask bit was set.
    pub masked: bool,
    /// Payload, unmasked.
    pub payload: Vec<u8>,
}

fn read_exact<S: Read>(s: &mut S, n: usize) -> Option<Vec<u8>> {
    let mut v = vec![0u8; n];
    s.read_exact(&mut v).ok()?;
    Some(v)
}

/// Reads one client frame (`None` at the end of the stream or on a timeout).
pub fn read_client_frame<S: Read>(s: &mut S) -> Option<ClientFrame> {
    let h = read_exact(s, 2)?;
    let masked = h[1] & 0x80 != 0;
    let len = match h[1] & 0x7f {
        126 => {
            let l = read_exact(s, 2)?;
            usize::from(u16::from_be_bytes([l[0], l[1]]))
        }
        127 => {
            let l = read_exact(s, 8)?;
            usize::try_from(u64::from_be_bytes(l.try_into().unwrap())).unwrap()
        }
        l => usize::from(l),
    };
    let mask = if masked {
        read_exact(s, 4)?
    } else {
        vec![0; 4]
    };
    let mut payload = read_exact(s, len)?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    Some(ClientFrame {
        fin: h[0] & 0x80 != 0,
        opcode: h[0] & 0x0f,
        masked,
        payload,
    })
}

/// Deterministic payload bytes (printable ASCII, so valid text) of length `n`, varied by `seed`.
pub fn payload(n: usize, seed: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b' ' + ((i * 7 + seed * 13) % 94) as u8)
        .collect()
}

/// TLS (rustls, ring) for the test server: the test CA's leaf for 127.0.0.1 (`tests/ws_tls`).
pub fn tls_server(tcp: TcpStream) -> rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let chain = vec![
        CertificateDer::from(include_bytes!("../ws_tls/server.der").to_vec()),
        CertificateDer::from(include_bytes!("../ws_tls/ca.der").to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("../ws_tls/server.key.der").to_vec(),
    ));
    let cfg = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("test certificate and key");
    let conn = rustls::ServerConnection::new(std::sync::Arc::new(cfg)).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// A client TLS configuration trusting only the test CA.
pub fn tls_client_config() -> std::sync::Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            include_bytes!("../ws_tls/ca.der").to_vec(),
        ))
        .expect("test CA");
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    std::sync::Arc::new(cfg)
}
