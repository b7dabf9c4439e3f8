//! An open websocket connection: the receive path (frames parsed out of one read buffer), the
//! send path (masked frames through one reused buffer), control frames and closing.

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::frame::{encode_client_frame, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT};
use super::handshake::{upgrade, Target};
use super::stream::Stream;
use super::{WsError, WsRecv, MAX_MESSAGE};
use crate::addr::tcp_connect;
use crate::tls::tls_client;

/// Capacity of the reused outgoing frame buffer (grows once if a message is longer).
const OUT_CAPACITY: usize = 16 * 1024;
/// Capacity reserved at connect for reassembling fragmented messages.
const MSG_CAPACITY: usize = 64 * 1024;
/// Compact the read buffer before a read when less than this is free at its end.
const READ_MIN: usize = 16 * 1024;

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
        let (rbuf, head_end, n) = upgrade(&mut stream, &target, deadline).map_err(hs)?;
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
