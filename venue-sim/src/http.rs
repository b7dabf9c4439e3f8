//! Minimal HTTP/1.1 for the simulator: read a request head, split the target, answer.

use std::io::{Read, Write};
use std::net::TcpStream;

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// A request head.
#[derive(Debug, Clone, Default)]
pub(super) struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub websocket: bool,
}

impl Request {
    /// Value of query parameter `k`.
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-decodes a query component (`+` is a space).
pub(super) fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `path?query` into the path and decoded `k=v` pairs.
pub(super) fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let query = q
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect();
    (path.to_owned(), query)
}

/// Peeks at the request head without consuming it (so a websocket handshake can read it again).
///
/// # Errors
/// I/O errors, a head over 16 KiB, or a head that is not HTTP.
pub(super) fn peek_head(stream: &TcpStream) -> std::io::Result<Request> {
    let mut buf = vec![0u8; MAX_HEAD];
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    for _ in 0..2000 {
        let n = stream.peek(&mut buf)?;
        if n == 0 {
            return Err(bad("connection closed before the request head"));
        }
        if let Some(end) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            let head =
                std::str::from_utf8(&buf[..end]).map_err(|_| bad("request head is not UTF-8"))?;
            let mut lines = head.split("\r\n");
            let first = lines.next().unwrap_or("");
            let mut parts = first.split(' ');
            let method = parts.next().unwrap_or("").to_owned();
            let target = parts.next().ok_or_else(|| bad("no request target"))?;
            let (path, query) = split_target(target);
            let mut websocket = false;
            for l in lines {
                if let Some((k, v)) = l.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("upgrade")
                        && v.trim().eq_ignore_ascii_case("websocket")
                    {
                        websocket = true;
                    }
                }
            }
            return Ok(Request {
                method,
                path,
                query,
                websocket,
            });
        }
        if n == MAX_HEAD {
            return Err(bad("request head too long"));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(bad("request head incomplete"))
}

/// Consumes the request head (and a `Content-Length` body) from the stream.
pub(super) fn consume_request(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut b)? == 0 {
            return Ok(());
        }
        head.push(b[0]);
        if head.len() > MAX_HEAD {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let len = text
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(())
}

/// Writes a complete response and closes the write side.
pub(super) fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_and_decode() {
        let (p, q) = split_target("/api/v3/depth?symbol=BTCUSDT&limit=5&x=a%2Fb+c");
        assert_eq!(p, "/api/v3/depth");
        assert_eq!(q[0], ("symbol".into(), "BTCUSDT".into()));
        assert_eq!(q[1], ("limit".into(), "5".into()));
        assert_eq!(q[2], ("x".into(), "a/b c".into()));
        assert_eq!(pct_decode("%zz%4"), "%zz%4");
    }
}
