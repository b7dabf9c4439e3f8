//! Where a URL points: its host and port, and a TCP connection to them.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::ws::WsError;

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
}
