//! Latency distributions (CDF) drawn as a small, dependency-free SVG: one step line per series,
//! on a shared linear millisecond axis.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const MAX_STEPS: usize = 1000;
const COLOURS: [&str; 4] = ["#d9480f", "#1c7ed6", "#2f9e44", "#7048e8"];

/// Writes the empirical CDFs of `series` (name, samples) to `path` as SVG.
pub fn write_cdf(path: &Path, title: &str, series: &[(&str, &[Duration])]) -> Result<(), String> {
    let svg = cdf_svg(title, series);
    std::fs::write(path, svg).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The SVG text of [`write_cdf`].
pub fn cdf_svg(title: &str, series: &[(&str, &[Duration])]) -> String {
    let max_ms =
        series.iter().flat_map(|(_, s)| s.iter()).map(|d| d.as_secs_f64() * 1000.0).fold(0.0_f64, f64::max).max(1e-3);
    let step = nice_step(max_ms / 6.0);
    let x_max = (max_ms / step).ceil() * step;
    let x = |ms: f64| LEFT + ms / x_max * (W - LEFT - RIGHT);
    let y = |q: f64| H - BOTTOM - q * (H - TOP - BOTTOM);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(out, r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#, W / 2.0, escape(title));
    // Axes, grid and ticks.
    for i in 0..=((x_max / step).round() as usize) {
        let ms = i as f64 * step;
        let _ = write!(
            out,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#e9ecef"/><text x="{0:.1}" y="{3:.1}" text-anchor="middle">{4}</text>"##,
            x(ms),
            y(0.0),
            y(1.0),
            y(0.0) + 16.0,
            trim(ms)
        );
    }
    for i in 0..=4 {
        let q = i as f64 / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="#e9ecef"/><text x="{3:.1}" y="{4:.1}" text-anchor="end">{5}</text>"##,
            LEFT,
            y(q),
            W - RIGHT,
            LEFT - 6.0,
            y(q) + 4.0,
            trim(q)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">latency (ms)</text><text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">fraction of participants</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 16.0,
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0
    );
    // One step line per series, and its legend entry.
    for (i, (name, samples)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len().max(1) as f64;
        let mut points = format!("{:.1},{:.1}", x(0.0), y(0.0));
        // At most MAX_STEPS steps (evenly spaced ranks, the last one included): the picture is
        // the same and the file stays small for N = 10,000.
        let stride = ms.len().div_ceil(MAX_STEPS).max(1);
        for k in (0..ms.len()).filter(|k| k % stride == 0 || k + 1 == ms.len()) {
            let v = ms[k];
            let _ = write!(points, " {:.1},{:.1} {:.1},{:.1}", x(v), y(k as f64 / n), x(v), y((k + 1) as f64 / n));
        }
        let _ = write!(out, r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>"#);
        // Bottom right, where the curves of a CDF rarely are.
        let ly = H - BOTTOM - 14.0 - (series.len() - 1 - i) as f64 * 18.0;
        let _ = write!(
            out,
            r#"<line x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="{colour}" stroke-width="3"/><text x="{3:.1}" y="{4:.1}">{5} (n = {6})</text>"#,
            W - RIGHT - 230.0,
            ly,
            W - RIGHT - 205.0,
            W - RIGHT - 198.0,
            ly + 4.0,
            escape(name),
            samples.len()
        );
    }
    out.push_str("</svg>\n");
    out
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_nice() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(34.0), 50.0);
        assert_eq!(nice_step(120.0), 200.0);
    }

    #[test]
    fn one_polyline_per_series_ending_at_one() {
        let a: Vec<Duration> = (1..=4).map(Duration::from_millis).collect();
        let b = [Duration::from_millis(2)];
        let svg = cdf_svg("t <x>", &[("a", &a), ("b", &b)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("t &lt;x&gt;"));
        assert!(svg.contains("(n = 4)") && svg.contains("(n = 1)"));
        // The axis ends at 4 ms (a whole 1 ms step), so the first series ends at the right edge,
        // at fraction 1 (the top of the plot).
        let last = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap().rsplit(' ').next().unwrap();
        let (px, py) = last.split_once(',').unwrap();
        assert_eq!(px.parse::<f64>().unwrap(), W - RIGHT);
        assert_eq!(py.parse::<f64>().unwrap(), TOP);
    }
}
