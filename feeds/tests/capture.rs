//! Capture reader: plain and gzip, several files continuing each other, malformed lines reported
//! with file and line number, truncated gzip and cut last line, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use feeds::capture::{read_all, CaptureError, CaptureReader, MalformedReason, MAX_MALFORMED_KEPT};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ballast_capture_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(p: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(p, bytes).unwrap();
    p.to_path_buf()
}

#[test]
fn plain_and_gzip_read_alike_detected_by_magic_not_extension() {
    let d = tmpdir("magic");
    let text = b"1 {\"a\":1}\n2 {\"b\":2}\r\n3 x y\n";
    let plain = write(&d.join("cap.gz"), text); // misleading extension
    let gz = write(&d.join("cap.txt"), &gzip(text));
    let (a, ra) = read_all(&[plain]).unwrap();
    let (b, rb) = read_all(&[gz]).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a,
        vec![
            (1, b"{\"a\":1}".to_vec()),
            (2, b"{\"b\":2}".to_vec()),
            (3, b"x y".to_vec())
        ]
    );
    assert_eq!(
        (ra.malformed_count(), rb.malformed_count(), ra.lines()),
        (0, 0, 3)
    );
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn files_continue_each_other_and_malformed_lines_are_located() {
    let d = tmpdir("multi");
    let f1 = write(&d.join("one.gz"), &gzip(b"10 {}\nbad line\n11 {}\n"));
    let f2 = write(
        &d.join("two.txt"),
        b"12 {}\n\n13\n 14 {}\n15 \n-1 {}\n16 {}\n",
    );
    let mut r = CaptureReader::open(&[f1.clone(), f2.clone()]).unwrap();
    let mut ts = Vec::new();
    while let Some((t, f)) = r.next_frame().unwrap() {
        assert_eq!(f, b"{}");
        ts.push(t);
    }
    assert_eq!(ts, [10, 11, 12, 16]);
    let m: Vec<(PathBuf, u64, MalformedReason)> = r
        .malformed()
        .iter()
        .map(|m| (m.path.clone(), m.line_no, m.reason))
        .collect();
    assert_eq!(
        m,
        [
            (f1.clone(), 2, MalformedReason::BadTimestamp),
            (f2.clone(), 2, MalformedReason::NoSeparator),
            (f2.clone(), 3, MalformedReason::NoSeparator),
            (f2.clone(), 4, MalformedReason::BadTimestamp),
            (f2.clone(), 5, MalformedReason::EmptyFrame),
            (f2.clone(), 6, MalformedReason::BadTimestamp),
        ]
    );
    assert_eq!(r.malformed_count(), 6);
    assert!(r.malformed()[0].to_string().contains("one.gz:2: "));
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn cut_last_line_and_truncated_gzip_are_reported_and_reading_goes_on() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let real = std::fs::read(dir.join("binance/spot_btcusdt_20240808.gz")).unwrap();
    let d = tmpdir("trunc");
    let cut_gz = write(&d.join("cut.gz"), &real[..real.len() / 2]);
    let cut_plain = write(&d.join("cut.txt"), b"1 {}\n2 {\"unterminated");
    let tail = write(&d.join("tail.txt"), b"3 {}\n");
    let mut r = CaptureReader::open(&[cut_gz.clone(), cut_plain.clone(), tail]).unwrap();
    let mut n = 0u64;
    let mut last = 0u64;
    while let Some((t, _)) = r.next_frame().unwrap() {
        n += 1;
        last = t;
    }
    assert_eq!(last, 3, "reading continued into the following files");
    assert!(n > 1000, "the intact first half of the gzip was read ({n})");
    let m = r.malformed();
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[0].path, cut_gz);
    assert!(matches!(
        m[0].reason,
        MalformedReason::CorruptGzip | MalformedReason::TruncatedLine
    ));
    assert_eq!(
        m[0].line_no,
        n - 1,
        "located right after the last good line of that file"
    );
    assert_eq!(
        (m[1].path.clone(), m[1].line_no, m[1].reason),
        (cut_plain, 2, MalformedReason::TruncatedLine)
    );
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn garbage_gzip_and_binary_do_not_panic() {
    let d = tmpdir("garbage");
    let mut junk = vec![0x1f, 0x8b];
    junk.extend((0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let g = write(&d.join("junk.gz"), &junk);
    let b = write(&d.join("junk.bin"), &junk[2..]);
    let mut r = CaptureReader::open(&[g, b]).unwrap();
    while r.next_frame().unwrap().is_some() {}
    assert!(r.malformed_count() >= 1);
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn missing_file_is_named_before_anything_is_read_and_list_is_capped() {
    let d = tmpdir("missing");
    let ok = write(&d.join("ok.txt"), b"1 {}\n");
    let missing = d.join("nope.gz");
    match CaptureReader::open(&[ok.clone(), missing.clone()]) {
        Err(e @ CaptureError::Open { .. }) => assert!(e.to_string().contains("nope.gz"), "{e}"),
        other => panic!("expected an open error, got {other:?}"),
    }
    assert!(matches!(
        CaptureReader::open(&[]),
        Err(CaptureError::NoFiles)
    ));
    assert!(matches!(
        CaptureReader::open(std::slice::from_ref(&d)),
        Err(CaptureError::Open { .. })
    ));
    let many = write(&d.join("many.txt"), "x\n".repeat(1500).as_bytes());
    let mut r = CaptureReader::open(&[many]).unwrap();
    assert!(r.next_frame().unwrap().is_none());
    assert_eq!(
        (r.malformed().len(), r.malformed_count()),
        (MAX_MALFORMED_KEPT, 1500)
    );
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn zstd_reads_like_plain_and_a_cut_stream_keeps_its_complete_lines() {
    let d = tmpdir("zstd");
    let mut text = Vec::new();
    for i in 1..=2000u64 {
        text.extend_from_slice(format!("{i} {{\"n\":{i}}}\n").as_bytes());
    }
    let plain = write(&d.join("p.txt"), &text);
    let z = zstd::encode_all(&text[..], 3).unwrap();
    let zs = write(&d.join("z.bin"), &z);
    let (a, _) = read_all(&[plain]).unwrap();
    let (b, rb) = read_all(&[zs]).unwrap();
    assert_eq!(a, b);
    assert_eq!(rb.malformed_count(), 0);
    // Cut the compressed stream: no panic, a prefix of the lines, the cut counted.
    let cut = write(&d.join("cut.bin"), &z[..z.len() / 2]);
    let (c, rc) = read_all(&[cut]).unwrap();
    assert!(c.len() < a.len());
    assert_eq!(&a[..c.len()], &c[..]);
    assert!(rc.malformed_count() >= 1);
    std::fs::remove_dir_all(d).ok();
}
