//! The websocket opening handshake (RFC 6455 4.1): the target of a URL, the upgrade request,
//! and the checks on the server's answer.

use std::io::ErrorKind;
use std::time::Instant;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::stream::Stream;
use super::{WsError, READ_BUFFER};
use crate::addr::host_port;

/// Largest HTTP response head accepted during the handshake.
const MAX_HEAD: usize = 16 * 1024;
/// RFC 6455 1.3: appended to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#[must_use]
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// What the handshake needs from a websocket URL.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) tls: bool,
    pub(super) host: String,
    /// `Host` header value: the host (IPv6 in brackets), with the port when not the default.
    pub(super) host_header: String,
    /// Path and query (`/` when the URL has none), without a fragment.
    pub(super) resource: String,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Self, WsError> {
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

/// Sends the upgrade request for `target` with a fresh key over `stream` (blocking) and reads the
/// answer's head, until `deadline`, into a read buffer of [`READ_BUFFER`] bytes, then checks it.
/// Returns the buffer, the end of the head and the end of the bytes read (those after the head
/// are the first frames); the error names what went wrong.
pub(super) fn upgrade(
    stream: &mut Stream,
    target: &Target,
    deadline: Instant,
) -> Result<(Vec<u8>, usize, usize), String> {
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.resource, target.host_header
    );
    stream
        .write_all_blocking(req.as_bytes())
        .map_err(|e| format!("sending the upgrade request: {e}"))?;
    let mut rbuf = vec![0u8; READ_BUFFER];
    let mut n = 0;
    let head_end = loop {
        let searched = n.min(MAX_HEAD);
        if let Some(i) = rbuf[..searched].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if n >= MAX_HEAD {
            return Err(format!(
                "no end of the response head in its first {MAX_HEAD} bytes"
            ));
        }
        if Instant::now() >= deadline {
            return Err("timed out waiting for the upgrade response".into());
        }
        match stream.read_blocking(&mut rbuf[n..]) {
            Ok(0) => {
                return Err(format!(
                    "connection closed after {n} bytes of the upgrade response"
                ))
            }
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err("timed out waiting for the upgrade response".into())
            }
            Err(e) => return Err(format!("reading the upgrade response: {e}")),
        }
    };
    check_upgrade(&rbuf[..head_end], &key)?;
    Ok((rbuf, head_end, n))
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
}
