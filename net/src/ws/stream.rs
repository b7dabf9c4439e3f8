//! The byte stream under a websocket: plain TCP or TLS over it, with the blocking calls of the
//! handshake and the non-blocking ones of a connection that is up.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

#[derive(Debug)]
pub(super) enum Stream {
    Plain(TcpStream),
    Tls {
        tls: Box<rustls::ClientConnection>,
        tcp: TcpStream,
    },
}

impl Stream {
    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) | Self::Tls { tcp: s, .. } => s,
        }
    }

    /// Blocking write of all of `data` (the handshake; TLS handshake included).
    pub(super) fn write_all_blocking(&mut self, data: &[u8]) -> std::io::Result<()> {
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
    pub(super) fn read_blocking(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls { tls, tcp } => rustls::Stream::new(tls.as_mut(), tcp).read(buf),
        }
    }

    /// Bytes of the stream into `buf` with at most one `recv` on the socket: `Ok(0)` at the end
    /// of the stream, `WouldBlock` (or `TimedOut`) when nothing is there.
    pub(super) fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
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
    pub(super) fn write_some(&mut self, data: &[u8]) -> std::io::Result<usize> {
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
    pub(super) fn flush_pending(&mut self) -> std::io::Result<bool> {
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
