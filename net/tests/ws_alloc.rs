//! Zero heap allocations per received websocket message after warm-up, counted on the reading
//! thread with the counting allocator: text frames of typical feed sizes (7-bit, 16-bit and
//! 64-bit lengths, frames straddling the end of the read buffer), fragmented messages with
//! interleaved pings (each answered with a pong), and polls that find nothing.

use testkit::alloc as counting;
mod ws_server;

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use net::ws::{WsConn, WsRecv};
use ws_server::{frame, handshake, payload, read_client_frame, spawn};

/// One round of messages: (bytes on the wire, messages, pings, sum of message lengths).
fn round(seed: usize) -> (Vec<u8>, usize, usize, usize) {
    let mut b = Vec::new();
    let (mut msgs, mut pings, mut len) = (0, 0, 0);
    for (k, n) in [60usize, 300, 1_200, 8_000, 60_000, 125, 126, 65_536, 2_500]
        .into_iter()
        .enumerate()
    {
        b.extend(frame(true, 0x1, &payload(n, seed + k)));
        msgs += 1;
        len += n;
    }
    // A fragmented message with a ping between its fragments, and a ping of its own.
    b.extend(frame(false, 0x1, &payload(4_000, seed)));
    b.extend(frame(true, 0x9, b"keepalive-123456"));
    b.extend(frame(false, 0x0, &payload(4_000, seed + 1)));
    b.extend(frame(true, 0x0, &payload(1_000, seed + 2)));
    b.extend(frame(true, 0x9, &payload(125, seed)));
    msgs += 1;
    pings += 2;
    len += 9_000;
    (b, msgs, pings, len)
}

#[test]
fn counter_counts() {
    let (v, k) = counting::measure(|| std::hint::black_box(vec![1u8; 64]));
    assert_eq!(v.len(), 64);
    assert!(k >= 1);
}

#[test]
fn receiving_allocates_nothing_after_warm_up() {
    const WARM: usize = 4;
    const ROUNDS: usize = 60;
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (url, h) = spawn(move |mut s: TcpStream| {
        handshake(&mut s, &[]);
        let mut pings = 0;
        for r in 0..WARM + ROUNDS {
            if r == WARM {
                // The client has read the warm-up rounds and starts counting.
                go_rx.recv().unwrap();
            }
            let (b, _, p, _) = round(r);
            s.write_all(&b).unwrap();
            pings += p;
        }
        let mut pongs = 0;
        while let Some(f) = read_client_frame(&mut s) {
            match f.opcode {
                0xA if f.masked => pongs += 1,
                0x8 => break,
                _ => {}
            }
        }
        (pings, pongs)
    });
    let mut c = WsConn::connect(&url, Duration::from_secs(5)).expect("connect");
    let deadline = Instant::now() + Duration::from_secs(30);
    let read = |c: &mut WsConn, rounds: std::ops::Range<usize>| {
        let (mut want_msgs, mut want_ctl, mut want_len) = (0, 0, 0);
        for r in rounds {
            let (_, m, p, l) = round(r);
            want_msgs += m;
            want_ctl += p;
            want_len += l;
        }
        let (mut msgs, mut ctl, mut len, mut empty_polls) = (0, 0, 0, 0u64);
        let counted = counting::measure(|| {
            while (msgs < want_msgs || ctl < want_ctl) && Instant::now() < deadline {
                match c.recv() {
                    Ok(WsRecv::Frame(p)) => {
                        msgs += 1;
                        len += p.len();
                    }
                    Ok(WsRecv::Control) => ctl += 1,
                    Ok(WsRecv::Nothing) => empty_polls += 1,
                    Err(_) => break,
                }
            }
        })
        .1;
        assert_eq!((msgs, ctl, len), (want_msgs, want_ctl, want_len));
        (counted, empty_polls)
    };
    let (_, _) = read(&mut c, 0..WARM);
    go_tx.send(()).unwrap();
    let (allocs, empty_polls) = read(&mut c, WARM..WARM + ROUNDS);
    assert_eq!(
        allocs, 0,
        "{allocs} allocations over {ROUNDS} rounds ({empty_polls} empty polls)"
    );
    c.close();
    let (pings, pongs) = h.join().unwrap();
    assert_eq!(pongs, pings, "every ping answered with a masked pong");
}
