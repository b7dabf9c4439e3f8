//! SVG plots of latency by percentile.

use std::path::Path;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use plotters::prelude::*;

/// Points of a percentile distribution: x = nines (−log10(1 − q)), y = latency in µs.
fn points(h: &Histogram<u64>, max_nines: f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    if h.is_empty() {
        return pts;
    }
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let x = if q >= 1.0 {
            max_nines
        } else {
            (-(1.0 - q).log10()).min(max_nines)
        };
        pts.push((x, (v.value_iterated_to() as f64 / 1e3).max(1e-3)));
    }
    pts
}

fn label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let mut s = format!("{p:.4}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    format!("{s}%")
}

/// Draws latency by percentile on a log "nines" axis, one line per series, as SVG.
pub(super) fn percentiles(
    path: &Path,
    title: &str,
    series: &[(String, &Histogram<u64>)],
) -> anyhow::Result<()> {
    let max_count = series
        .iter()
        .map(|(_, h)| h.len())
        .max()
        .unwrap_or(1)
        .max(10);
    let max_nines = (max_count as f64).log10().ceil().clamp(1.0, 7.0);
    let lines: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(n, h)| (n.as_str(), points(h, max_nines)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for (_, p) in &lines {
        for &(_, y) in p {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.001, 1.0);
    }
    let (lo, hi) = (lo / 1.5, hi * 1.5);
    let root = SVGBackend::new(path, (1000, 620)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..max_nines, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(max_nines as usize + 1)
            .x_label_formatter(&|x| label(*x))
            .y_label_formatter(&|y| {
                if *y >= 1.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.3}")
                }
            })
            .x_desc("percentile")
            .y_desc("latency (µs)")
            .draw()?;
        for (i, (name, pts)) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("drawing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plot_writes_an_svg_with_one_line_per_series() {
        let mut a = engine::latency::new_histogram();
        let mut b = engine::latency::new_histogram();
        for v in 1..=10_000u64 {
            a.record(v * 10).unwrap();
            b.record(v * 30).unwrap();
        }
        let p = std::env::temp_dir().join(format!("ballast-plot-{}.svg", std::process::id()));
        percentiles(&p, "t", &[("a".into(), &a), ("b".into(), &b)]).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(
            svg.matches(r#"stroke-width="2" points="#).count(),
            2,
            "one data line per series"
        );
        assert!(
            svg.contains(">\na\n<") && svg.contains(">\nb\n<"),
            "legend names each series"
        );
        assert!(svg.contains("99.99%"));
        let _ = std::fs::remove_file(&p);
    }
}
