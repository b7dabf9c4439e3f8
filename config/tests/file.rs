//! The configuration file: every enumerated key takes exactly its documented spellings, and every
//! bad value or key is an error naming the dotted key, the line and what is allowed.

use config::{BinanceAuthMode, Config, ExecAdapter, VolSourceKind};
use engine::pipeline::{Backpressure, Wait};
use engine::topology::Topology;
use feeds::multi::Venue;
use feeds::Market;
use options::{IvSource, VolSource};
use risk_core::greeks_limits::HedgeTo;
use risk_core::margin::{Contract, Side};

/// A minimal `[live]` table with `line` added.
fn live(line: &str) -> String {
    format!("[live]\nvenue = \"binance\"\n{line}\n")
}

#[test]
fn defaults_resolve_and_errors_name_the_field() {
    Config::default().resolve().unwrap();
    let e = Config::from_toml("topology = \"single\"\n[sizing]\ncapitl = 5\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("capitl") && e.contains("line 3"), "{e}");
    let e = Config::from_toml("[sizing]\nband = 1.5\n")
        .unwrap()
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("sizing.band"), "{e}");
    let e = Config::from_toml("[instrument]\nlot = \"0.000000001\"\n")
        .unwrap()
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("instrument.lot"), "{e}");
    // A topology is checked when the file is read.
    let e = Config::from_toml("topology = \"feed,kernel\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("topology"), "{e}");
}

#[test]
fn a_bad_value_of_each_enumerated_key_names_the_key_the_line_and_the_allowed_values() {
    let cases: Vec<(String, &str, &str, &[&str])> = vec![
        (
            "topology = \"feed@0,kernal+exec@1\"\n".into(),
            "`topology`",
            "line 1",
            &["`auto`", "`single`", "feed@0,kernel+exec@1", "kernal"],
        ),
        (
            "backpressure = \"drop\"\n".into(),
            "`backpressure`",
            "line 1",
            &["`drop`", "`block`", "`conflate`"],
        ),
        (
            "event_ring = 8\nwait = \"sleep\"\n".into(),
            "`wait`",
            "line 2",
            &["`sleep`", "`spin`", "`spin-yield`", "`spin-park`", "`auto`"],
        ),
        (
            "[instrument]\nmarket = \"futures\"\n".into(),
            "`instrument.market`",
            "line 2",
            &["`futures`", "`spot`", "`usdm`", "`coinm`", "`deribit`"],
        ),
        (
            "[sizing]\ndirection = \"flat\"\n".into(),
            "`sizing.direction`",
            "line 2",
            &["`flat`", "`long`", "`short`"],
        ),
        (
            "[live]\nvenue = \"okx\"\n".into(),
            "`live.venue`",
            "line 2",
            &["`okx`", "`binance`", "`deribit`"],
        ),
        (
            live("adapter = \"fix\""),
            "`live.adapter`",
            "line 3",
            &["`fix`", "`paper`", "`binance`", "`deribit`"],
        ),
        (
            live("auth = \"rsa\""),
            "`live.auth`",
            "line 3",
            &["`rsa`", "`logon`", "`hmac`"],
        ),
        (
            "[options]\nhedge_to = \"middle\"\n".into(),
            "`options.hedge_to`",
            "line 2",
            &["`middle`", "`edge`", "`center`"],
        ),
        (
            "[options]\nvol_source = \"realized\"\n".into(),
            "`options.vol_source`",
            "line 2",
            &[
                "`realized`",
                "`forecast`",
                "`implied`",
                "`blend`",
                "`garch`",
                "`garch_blend`",
            ],
        ),
        (
            "[options.surface]\niv_source = \"bid\"\n".into(),
            "`options.surface.iv_source`",
            "line 2",
            &["`bid`", "`mark`", "`mid`"],
        ),
        (
            "[options.underlying.ETH.surface]\niv_source = \"ask\"\n".into(),
            "`options.underlying.ETH.surface.iv_source`",
            "line 2",
            &["`ask`", "`mark`", "`mid`"],
        ),
        (
            "[hedge]\ncontract = \"quanto\"\n".into(),
            "`hedge.contract`",
            "line 2",
            &["`quanto`", "`inverse`", "`linear`"],
        ),
        (
            "[portfolio.covariance]\nlambda = 0.9\nshrinkage = \"oas\"\n".into(),
            "`portfolio.covariance.shrinkage`",
            "line 3",
            &["\"oas\"", "[0, 1]", "`ledoit-wolf`"],
        ),
    ];
    for (toml, key, line, allowed) in cases {
        let e = Config::from_toml(&toml).unwrap_err().to_string();
        assert!(e.starts_with(key), "{toml}: {e}");
        assert!(e.contains(line), "{toml}: {e}");
        for a in allowed {
            assert!(e.contains(a), "{toml}: `{a}` missing from {e}");
        }
    }
    // Spellings are exact: no case folding, as before.
    let e = Config::from_toml("backpressure = \"Block\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("`backpressure`"), "{e}");
    // A `[live]` table needs its venue.
    let e = Config::from_toml("[live]\nurl = \"ws://127.0.0.1:1\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`venue`") && e.contains("live"), "{e}");
}

#[test]
fn every_spelling_accepted_before_is_accepted() {
    let c = Config::from_toml(
        "topology = \"feed@0,kernel+exec@1\"\nbackpressure = \"conflate\"\nwait = \"spin-yield\"\n\
         [instrument]\nmarket = \"coinm\"\n[sizing]\ndirection = \"short\"\n\
         [live]\nvenue = \"deribit\"\nadapter = \"deribit\"\nauth = \"hmac\"\n\
         [options]\nhedge_to = \"centre\"\nvol_source = \"garch_blend\"\n\
         [options.surface]\niv_source = \"mid\"\n[hedge]\ncontract = \"linear\"\n",
    )
    .unwrap();
    assert_eq!(c.topology, Topology::parse("feed@0,kernel+exec@1").unwrap());
    assert_eq!(c.backpressure, Backpressure::Conflate);
    assert_eq!(c.wait, Some(Wait::SpinYield));
    assert_eq!(c.instrument.market, Market::BinanceCoinM);
    assert_eq!(c.sizing.direction, Side::Short);
    let l = c.live.as_ref().unwrap();
    assert_eq!(
        (l.venue, l.adapter, l.auth),
        (Venue::Deribit, ExecAdapter::Deribit, BinanceAuthMode::Hmac)
    );
    let o = c.options.as_ref().unwrap();
    assert_eq!(o.hedge_to, HedgeTo::Center);
    assert_eq!(o.vol_source, VolSourceKind::GarchBlend);
    assert_eq!(o.surface.as_ref().unwrap().iv_source, IvSource::Mid);
    assert_eq!(c.hedge.as_ref().unwrap().contract, Contract::Linear);
    let r = c.resolve().unwrap();
    assert_eq!(r.sizing.direction, -1.0);
    assert_eq!(r.market, Market::BinanceCoinM);

    for (text, want) in [
        ("spin", Some(Wait::Spin)),
        ("spin-park", Some(Wait::SpinPark)),
        ("auto", None),
    ] {
        let c = Config::from_toml(&format!("wait = \"{text}\"\n")).unwrap();
        assert_eq!(c.wait, want, "{text}");
    }
    let c = Config::from_toml("topology = \"single\"\n[instrument]\nmarket = \"usdm\"\n").unwrap();
    assert_eq!(c.topology, Topology::single());
    assert_eq!(c.instrument.market, Market::BinanceUsdM);
    let c = Config::from_toml("topology = \"auto\"\n").unwrap();
    assert_eq!(c.topology, Config::default().topology);
    for (text, want) in [
        ("\"\"", ExecAdapter::Paper),
        ("\"paper\"", ExecAdapter::Paper),
        ("\"binance\"", ExecAdapter::Binance),
    ] {
        let c = Config::from_toml(&live(&format!("adapter = {text}"))).unwrap();
        assert_eq!(c.live.unwrap().adapter, want, "{text}");
    }
    let l = Config::from_toml(&live("")).unwrap().live.unwrap();
    assert_eq!(
        (l.adapter, l.auth, l.heartbeat_s),
        (ExecAdapter::Paper, BinanceAuthMode::Logon, 10)
    );
    for (text, want) in [
        ("forecast", VolSource::Forecast),
        ("implied", VolSource::Implied),
        (
            "blend",
            VolSource::Blend {
                forecast_weight: 0.5,
            },
        ),
    ] {
        let c = Config::from_toml(&format!("[options]\nvol_source = \"{text}\"\n")).unwrap();
        let r = c.options.unwrap().resolve_for("BTC").unwrap();
        assert_eq!(r.cfg.vol_source, want, "{text}");
    }
    let c = Config::from_toml("[options]\nhedge_to = \"center\"\n").unwrap();
    assert_eq!(c.options.unwrap().hedge_to, HedgeTo::Center);
}

fn options(toml: &str) -> config::OptionsSection {
    Config::from_toml(toml).unwrap().options.expect("[options]")
}

#[test]
fn options_garch_and_surface_resolve_with_overrides_and_name_bad_keys() {
    let o = options(
        "[options]\nvol_source = \"garch_blend\"\nforecast_weight = 0.25\n\
         [options.garch]\nomega = 1e-10\nalpha = 0.05\nbeta = 0.9\n\
         [options.surface]\niv_source = \"mid\"\nmin_refit_interval_ms = 250\n\
         [options.underlying.ETH.garch]\nomega = 4e-10\nalpha = 0.1\nbeta = 0.8\n\
         [options.underlying.ETH.surface]\nmin_points = 9\n",
    );
    let btc = o.resolve_for("BTC").unwrap();
    assert_eq!(
        btc.cfg.vol_source,
        VolSource::GarchBlend {
            forecast_weight: 0.25
        }
    );
    let g = btc.extras.garch.expect("garch");
    assert_eq!((g.omega, g.alpha, g.beta), (1e-10, 0.05, 0.9));
    let s = btc.extras.surface.expect("surface");
    assert_eq!(s.iv_source, IvSource::Mid);
    assert_eq!(s.min_refit_interval_ns, 250_000_000);
    let eth = o.resolve_for("ETH").unwrap();
    let g = eth.extras.garch.expect("garch");
    assert_eq!((g.omega, g.alpha, g.beta), (4e-10, 0.1, 0.8));
    let s = eth.extras.surface.expect("surface");
    assert_eq!((s.iv_source, s.min_points), (IvSource::Mark, 9));
    // Off unless configured.
    let plain = options("[options]\n").resolve_for("BTC").unwrap();
    assert_eq!(plain.extras, ::options::EngineExtras::default());

    for (toml, key) in [
        (
            "[options.garch]\nomega = 1e-9\nalpha = 0.5\nbeta = 0.5\n",
            "`options.garch.alpha + options.garch.beta` = 1",
        ),
        (
            "[options.garch]\nomega = 0\nalpha = 0.1\nbeta = 0.5\n",
            "`options.garch.omega` = 0",
        ),
        (
            "[options.garch]\nomega = 1e-9\nalpha = -0.1\nbeta = 0.5\n",
            "`options.garch.alpha` = -0.1",
        ),
        (
            "[options.garch]\nomega = 1e-9\nalpha = 0.1\nbeta = nan\n",
            "`options.garch.beta` = NaN",
        ),
        (
            "[options.underlying.BTC.garch]\nomega = 1e-9\nalpha = 0.1\nbeta = 0.95\n",
            "`options.underlying.BTC.garch.alpha + options.underlying.BTC.garch.beta`",
        ),
        ("[options]\nvol_source = \"garch\"\n", "`options.garch`"),
        (
            "[options.underlying.BTC.surface]\nmin_points = 4\n",
            "`options.underlying.BTC.surface.min_points` = 4",
        ),
    ] {
        let e = options(toml).resolve_for("BTC").unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
    // An unknown `iv_source` is named when the file is read (key and value).
    let e = Config::from_toml("[options.surface]\niv_source = \"bid\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`options.surface.iv_source`") && e.contains("bid"),
        "{e}"
    );
    // A missing GARCH key is named by the parser.
    let e = Config::from_toml("[options.garch]\nomega = 1e-9\nalpha = 0.1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("beta"), "{e}");
}
