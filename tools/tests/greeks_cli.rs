//! End-to-end tests of `ballast greeks`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use risk_core::greeks::{
    greeks, implied_vol, IvOption, LaneStatus, Model, OptionInputs, OptionKind,
};

fn ballast(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .arg("greeks")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ballast");
    let mut si = child.stdin.take().expect("stdin");
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = si.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn prices_and_greeks_match_the_library_bit_for_bit() {
    let input = "id,kind,model,underlying,strike,t,vol,r,q,note\n\
                 a,call,bsm,100,95,0.5,0.25,0.03,0.01,x\n\
                 b,put,black76,19,19,0.75,0.28,0.1,,y\n\
                 c,put,bsm,100,130,2,0.6,0.0,0.02,\"quoted, text\"\n";
    let out = ballast(&[], input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let mut lines = s.lines();
    assert_eq!(
        lines.next(),
        Some("id,kind,model,underlying,strike,t,vol,r,q,note,price,delta,gamma,vega,theta,rho,vanna,volga")
    );
    let want = [
        (
            Model::Bsm,
            OptionKind::Call,
            100.0,
            95.0,
            0.5,
            0.25,
            0.03,
            0.01,
        ),
        (
            Model::Black76,
            OptionKind::Put,
            19.0,
            19.0,
            0.75,
            0.28,
            0.1,
            0.0,
        ),
        (
            Model::Bsm,
            OptionKind::Put,
            100.0,
            130.0,
            2.0,
            0.6,
            0.0,
            0.02,
        ),
    ];
    let mut rdr = csv::Reader::from_reader(s.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("csv")).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[2][9], "quoted, text");
    for (row, w) in rows.iter().zip(want) {
        let (g, st) = greeks(&OptionInputs {
            model: w.0,
            kind: w.1,
            underlying: w.2,
            strike: w.3,
            t_years: w.4,
            vol: w.5,
            rate: w.6,
            carry_q: w.7,
        });
        assert_eq!(st, LaneStatus::Ok);
        let expect = [
            g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga,
        ];
        for (i, e) in expect.iter().enumerate() {
            let got: f64 = row[10 + i].parse().expect("number");
            assert_eq!(got.to_bits(), e.to_bits(), "row {row:?} output {i}");
        }
    }
}

#[test]
fn implied_vol_mode_adds_iv() {
    let input = "kind,model,underlying,strike,t,price,r,q\n\
                 call,bsm,100,100,1,10.450583572185565,0.05,0\n\
                 put,black76,2003.61,2800,0.0202,796.43,0,0\n";
    let out = ballast(&["--iv"], input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let mut rdr = csv::Reader::from_reader(s.as_bytes());
    let h = rdr.headers().expect("header").clone();
    assert_eq!(
        h.iter().skip(8).collect::<Vec<_>>(),
        ["iv", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga"]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("csv")).collect();
    let iv0: f64 = rows[0][8].parse().expect("iv");
    assert!((iv0 - 0.2).abs() < 1e-13, "{iv0}");
    let (want, _) = implied_vol(&IvOption {
        model: Model::Black76,
        kind: OptionKind::Put,
        underlying: 2003.61,
        strike: 2800.0,
        t_years: 0.0202,
        rate: 0.0,
        carry_q: 0.0,
        price: 796.43,
    });
    assert_eq!(
        rows[1][8].parse::<f64>().expect("iv").to_bits(),
        want.to_bits()
    );
}

#[test]
fn bad_rows_name_their_line_or_are_counted() {
    let input = "kind,model,underlying,strike,t,vol,r,q\n\
                 call,bsm,100,100,1,0.2,0.05,0\n\
                 call,bsm,100,-5,1,0.2,0.05,0\n\
                 call,heston,100,100,1,0.2,0.05,0\n\
                 put,bsm,100,100,1,0.2,0.05,0\n";
    let out = ballast(&[], input);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("bad_strike"),
        "{err}"
    );

    let out = ballast(&["--skip-bad"], input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("skipped 2 bad row(s) of 4"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).lines().count(), 3); // header + 2 good rows

    // An IV price outside the no-arbitrage bounds is bad too.
    let out = ballast(
        &["--iv"],
        "kind,model,underlying,strike,t,price,r,q\ncall,bsm,100,100,1,150,0,0\n",
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("line 2") && text(&out.stderr).contains("above_maximum"));

    // A missing column is reported by name.
    let out = ballast(&[], "kind,model,underlying,strike,t,r,q\n");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("`vol`"), "{}", text(&out.stderr));
}

#[test]
fn streams_many_rows_across_batches_in_order() {
    // More rows than one kernel batch, models interleaved, from a file argument.
    let mut input = String::from("n,kind,model,underlying,strike,t,vol,r,q\n");
    let n = 10_007;
    for i in 0..n {
        let model = if i % 3 == 0 { "black76" } else { "bsm" };
        let kind = if i % 2 == 0 { "call" } else { "put" };
        let k = 50.0 + (i % 100) as f64;
        input.push_str(&format!("{i},{kind},{model},100,{k},0.25,0.3,0.02,0.01\n"));
    }
    let dir = std::env::temp_dir().join(format!("ballast-greeks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("chain.csv");
    std::fs::write(&path, &input).expect("write");
    let out = ballast(&[path.to_str().expect("utf8 path")], "");
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    let mut rdr = csv::Reader::from_reader(s.as_bytes());
    let mut count = 0;
    for (i, r) in rdr.records().enumerate() {
        let r = r.expect("csv");
        assert_eq!(r[0].parse::<usize>().expect("n"), i);
        let price: f64 = r[9].parse().expect("price");
        assert!(price > 0.0 && price.is_finite());
        count += 1;
    }
    assert_eq!(count, n);
}
