//! Spot and USD-M `BTCUSDT` merged into one stream stay two instruments: each keeps its own book,
//! and every event of each equals what its capture gives alone.

use feeds::multi::{InputKind, InputSpec, MultiFeed};
use feeds::{Market, MarketEvent, Registry};
use testkit::data::shared_data;

/// Events of one tagged capture replayed alone.
fn alone(spec: &InputSpec) -> Vec<MarketEvent> {
    let mut feed =
        MultiFeed::open(std::slice::from_ref(spec), Registry::new(), Vec::new()).unwrap();
    let mut out = Vec::new();
    while feed.next(&mut |_, e| out.push(*e)).unwrap().is_some() {}
    out
}

#[test]
fn spot_and_usdm_of_one_symbol_never_share_a_book() {
    let (Some(spot), Some(usdm)) = (
        shared_data("binance/spot_btcusdt_20240808.gz"),
        shared_data("binance/usdm_btcusdt_20240808.gz"),
    ) else {
        return;
    };
    let specs = [
        InputSpec::parse_tagged(&format!("binance-spot={}", spot.display())).unwrap(),
        InputSpec::parse_tagged(&format!("binance-usdm={}", usdm.display())).unwrap(),
    ];
    assert_eq!(specs[1].kind().tag(), "binance-usdm");

    let mut merged = MultiFeed::open(&specs, Registry::new(), Vec::new()).unwrap();
    let mut by_input: [Vec<MarketEvent>; 2] = [Vec::new(), Vec::new()];
    while merged
        .next(&mut |i, e| by_input[i].push(*e))
        .unwrap()
        .is_some()
    {}
    let reg = merged.registry();
    let spot_id = reg.id_in(Market::BinanceSpot, "BTCUSDT").unwrap();
    let usdm_id = reg.id_in(Market::BinanceUsdM, "BTCUSDT").unwrap();
    assert_ne!(spot_id, usdm_id);
    assert_eq!(reg.len(), 2);
    assert_eq!(merged.rejected(0) + merged.rejected(1), 0);

    for (i, (spec, id)) in specs.iter().zip([spot_id, usdm_id]).enumerate() {
        let solo = alone(spec);
        assert!(solo.len() > 10_000, "input {i}: {} events", solo.len());
        assert_eq!(by_input[i].len(), solo.len(), "input {i}");
        for (m, s) in by_input[i].iter().zip(&solo) {
            assert_eq!(m.instrument, id);
            let mut s = *s;
            s.instrument = id;
            assert_eq!(*m, s, "input {i}");
        }
    }
}

#[test]
fn capture_tags_are_checked() {
    for tag in InputKind::TAGS {
        let spec = InputSpec::parse_tagged(&format!("{tag}=x.gz")).unwrap();
        assert_eq!(spec.kind().tag(), tag);
    }
    let err = InputSpec::parse_tagged("binance-perp=x.gz").unwrap_err();
    assert!(err.to_string().contains("unknown capture tag"), "{err}");
    let err = InputSpec::parse_tagged("x.gz").unwrap_err();
    assert!(err.to_string().contains("TAG=FILE"), "{err}");
    let err = InputSpec::parse_tagged("deribit=").unwrap_err();
    assert!(err.to_string().contains("no file"), "{err}");
}
