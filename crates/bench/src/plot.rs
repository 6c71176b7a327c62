//! A dependency-free SVG plot of latency distributions: one line per series, percentile on the x
//! axis, latency on a logarithmic y axis — tails show as the climb at the right.

use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 320.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// `series`: (label, [(percentile 0–100, latency µs)]).
pub(crate) fn latency_svg(title: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let values = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1))
        .filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (1.0, 10.0) };
    let (log_lo, log_hi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    // Percentiles are spread so that 90–100 gets as much room as 0–90.
    let x = |p: f64| {
        let t = if p <= 90.0 {
            p / 180.0
        } else {
            0.5 + (p - 90.0) / 20.0
        };
        LEFT + t * plot_w
    };
    let y = |us: f64| TOP + plot_h * (1.0 - (us.max(1e-3).log10() - log_lo) / (log_hi - log_lo));

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(
        svg,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        escape(title)
    );
    let mut decade = log_lo;
    while decade <= log_hi {
        let us = 10f64.powf(decade);
        let yy = y(us);
        let label = if us >= 1000.0 {
            format!("{} ms", us / 1000.0)
        } else {
            format!("{us} µs")
        };
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0
        );
        decade += 1.0;
    }
    for p in [0.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
        let xx = x(p);
        let _ = write!(
            svg,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">p{p}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile (right half: p90–p100)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    for (i, (label, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(p, us)| format!("{:.1},{:.1}", x(*p), y(*us)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + plot_w + 15.0;
        let _ = write!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_line_and_legend_entry_per_series() {
        let svg = latency_svg(
            "t <1>",
            &[
                ("a".into(), vec![(0.0, 10.0), (50.0, 20.0), (100.0, 500.0)]),
                ("b & c".into(), vec![(0.0, 100.0), (100.0, 2000.0)]),
            ],
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("b &amp; c") && svg.contains("t &lt;1&gt;"));
    }

    #[test]
    fn decades_are_evenly_spaced() {
        let svg = latency_svg("t", &[("a".into(), vec![(0.0, 15.0), (100.0, 1500.0)])]);
        // The y of each decade's grid line: 10 µs, 100 µs, 1 ms, 10 ms.
        let ys: Vec<f64> = svg
            .split(r#"<line x1="70" y1=""#)
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(ys.len() >= 3, "{ys:?}");
        let gaps: Vec<f64> = ys.windows(2).map(|w| w[0] - w[1]).collect();
        assert!(gaps.iter().all(|g| (g - gaps[0]).abs() < 0.2), "{gaps:?}");
    }
}
