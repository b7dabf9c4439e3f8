//! The crash-safe capture writer: round trips through the capture reader (plain, gzip, zstd,
//! rotation), and captures cut by SIGKILL mid-write replay up to their last complete line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use feeds::capture_writer::{CaptureWriter, CaptureWriterConfig, Compression, Rotation};
use feeds::{CaptureReader, MalformedReason};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ballast-cw-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join("cap.txt")
}

fn frame(i: u64) -> Vec<u8> {
    format!(
        "{{\"stream\":\"btcusdt@trade\",\"data\":{{\"i\":{i},\"pad\":\"{}\"}}}}",
        "x".repeat((i % 97) as usize)
    )
    .into_bytes()
}

fn read_plain_or_gzip(paths: &[PathBuf]) -> (Vec<(u64, Vec<u8>)>, Vec<feeds::MalformedLine>) {
    let mut r = CaptureReader::open(paths).unwrap();
    let mut out = Vec::new();
    while let Some((ts, f)) = r.next_frame().unwrap() {
        out.push((ts, f.to_vec()));
    }
    (out, r.malformed().to_vec())
}

/// Complete lines of a zstd capture, decoding until the stream ends or breaks.
fn read_zstd(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = BufReader::new(zstd::stream::read::Decoder::new(f).unwrap());
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.last() == Some(&b'\n') => {
                let sp = line.iter().position(|&c| c == b' ').unwrap();
                let ts = std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap();
                out.push((ts, line[sp + 1..line.len() - 1].to_vec()));
            }
            Ok(_) => break,
        }
    }
    out
}

#[test]
fn round_trips_plain_gzip_zstd_and_rotation() {
    for comp in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let path = tmp(&format!("rt-{comp:?}"));
        let mut cfg = CaptureWriterConfig::new(&path);
        cfg.compression = comp;
        let mut w = CaptureWriter::create(cfg).unwrap();
        for i in 0..2000 {
            w.write_frame(1_000 + i, &frame(i)).unwrap();
        }
        assert_eq!(w.stats().lines, 2000);
        let paths = w.finish().unwrap();
        assert_eq!(paths, vec![path.clone()]);
        let got = if comp == Compression::Zstd {
            read_zstd(&path)
        } else {
            read_plain_or_gzip(&paths).0
        };
        let want: Vec<(u64, Vec<u8>)> = (0..2000).map(|i| (1_000 + i, frame(i))).collect();
        assert_eq!(got, want, "{comp:?}");
    }
    // Rotation by size: several complete files that continue each other.
    let path = tmp("rot");
    let mut cfg = CaptureWriterConfig::new(&path);
    cfg.compression = Compression::Gzip;
    cfg.rotation = Rotation {
        max_bytes: Some(20_000),
        max_age: None,
    };
    let mut w = CaptureWriter::create(cfg).unwrap();
    for i in 0..3000 {
        w.write_frame(i, &frame(i)).unwrap();
    }
    let paths = w.finish().unwrap();
    assert!(paths.len() > 5, "{}", paths.len());
    assert!(paths[1].to_string_lossy().ends_with("cap.txt.00001"));
    let (got, bad) = read_plain_or_gzip(&paths);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(got.len(), 3000);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, (ts, f))| *ts == i as u64 && *f == frame(i as u64)));
}

#[test]
fn raw_newlines_become_spaces() {
    let path = tmp("nl");
    let mut w = CaptureWriter::create(CaptureWriterConfig::new(&path)).unwrap();
    w.write_frame(5, b"{\"a\":\n1}").unwrap();
    assert_eq!(w.stats().frames_rewritten, 1);
    w.finish().unwrap();
    let (got, _) = read_plain_or_gzip(&[path]);
    assert_eq!(got, vec![(5, b"{\"a\": 1}".to_vec())]);
}

/// Writer half of the SIGKILL test: writes frames forever into `BALLAST_CW_OUT`. Run only as a
/// child process by `sigkill_mid_write_replays_to_last_complete_line`.
#[test]
#[ignore = "child process of the SIGKILL test"]
fn child_writer() {
    let Some(out) = std::env::var_os("BALLAST_CW_OUT") else {
        return;
    };
    let comp = match std::env::var("BALLAST_CW_COMP").as_deref() {
        Ok("gzip") => Compression::Gzip,
        Ok("zstd") => Compression::Zstd,
        _ => Compression::None,
    };
    let mut cfg = CaptureWriterConfig::new(PathBuf::from(out));
    cfg.compression = comp;
    cfg.flush_interval = Duration::from_millis(2);
    let mut w = CaptureWriter::create(cfg).unwrap();
    let mut i = 0u64;
    loop {
        w.write_frame(i, &frame(i)).unwrap();
        i += 1;
    }
}

#[test]
fn sigkill_mid_write_replays_to_last_complete_line() {
    let exe = std::env::current_exe().unwrap();
    for comp in ["plain", "gzip", "zstd"] {
        let path = tmp(&format!("kill-{comp}"));
        let mut child = std::process::Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "child_writer",
                "--test-threads",
                "1",
            ])
            .env("BALLAST_CW_OUT", &path)
            .env("BALLAST_CW_COMP", comp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while std::fs::metadata(&path).map_or(0, |m| m.len()) < 300_000 {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "child wrote nothing"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Kill mid-write: `Child::kill` sends SIGKILL on Unix.
        child.kill().unwrap();
        child.wait().unwrap();
        let got = if comp == "zstd" {
            read_zstd(&path)
        } else {
            let (got, bad) = read_plain_or_gzip(std::slice::from_ref(&path));
            // At most the cut tail is reported, and only as the file's end.
            assert!(bad.len() <= 1, "{comp}: {bad:?}");
            if let Some(b) = bad.first() {
                assert!(
                    matches!(
                        b.reason,
                        MalformedReason::TruncatedLine | MalformedReason::CorruptGzip
                    ),
                    "{comp}: {b}"
                );
            }
            got
        };
        assert!(got.len() > 1000, "{comp}: only {} lines", got.len());
        for (i, (ts, f)) in got.iter().enumerate() {
            assert_eq!((*ts, f), (i as u64, &frame(i as u64)), "{comp}: line {i}");
        }
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
