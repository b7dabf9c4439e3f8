//! What the command-line tests share: running a binary for its exit code and output, a fresh
//! temporary folder, a one-shot HTTP request to a local server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;

/// Runs `bin` with `args`; returns its exit code (−1 when killed by a signal), stdout and
/// stderr.
///
/// # Panics
/// When the binary cannot be started.
#[must_use]
pub fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An empty folder `ballast-<test process id>-<name>` in the system's temporary folder (what a
/// previous run left there is removed first).
///
/// # Panics
/// When the folder cannot be created.
#[must_use]
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ballast-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    d
}

/// One HTTP/1.1 request without a body to `addr`, read to the end of the connection: the status
/// code (0 when the response has none) and the body.
///
/// # Panics
/// When the connection fails.
#[must_use]
pub fn http(addr: SocketAddr, method: &str, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    (status, body)
}
