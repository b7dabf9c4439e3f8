//! A small blocking HTTP/1.1 `GET` for REST snapshots (`http://`, or `https://` through
//! rustls), with chunked bodies decoded.

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use crate::addr::{host_port, tcp_connect};
use crate::tls::tls_client;
use crate::ws::WsError;

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

    #[test]
    fn chunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"5\r\nab").is_none());
    }
}
