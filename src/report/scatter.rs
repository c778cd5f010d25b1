//! Geometry of the small inline-SVG scatter plot (quality vs LUT per mode): every coordinate
//! and tick label is computed here as a string; the template only draws.

use crate::estimate::verdict::fmt_int;

/// Canvas size and plot area in SVG user units.
const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 52.0;

/// One axis tick: position along the axis and its label.
pub struct Tick {
    pub pos: String,
    pub label: String,
}

/// One point with its label.
pub struct Point {
    pub cx: String,
    pub cy: String,
    pub label: String,
    pub lx: String,
    pub ly: String,
    /// "start" or "end" (SVG text-anchor).
    pub anchor: &'static str,
    /// CSS class of the point (per mode, plus "selected").
    pub class: String,
}

/// The plot, ready for the template.
pub struct Scatter {
    pub width: String,
    pub height: String,
    /// Plot area: left, right, top, bottom.
    pub x0: String,
    pub x1: String,
    pub y0: String,
    pub y1: String,
    /// Where axis titles go.
    pub x_title_x: String,
    pub x_title_y: String,
    pub y_title_x: String,
    pub y_title_y: String,
    pub x_title: String,
    pub y_title: String,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    /// Tick label baselines.
    pub x_tick_label_y: String,
    pub y_tick_label_x: String,
    pub points: Vec<Point>,
}

/// One datum: x, y, label, CSS class.
pub struct Datum {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub class: String,
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// A step of 1, 2 or 5 × 10^k giving about `target` intervals over `range` (> 0).
fn nice_step(range: f64, target: f64) -> f64 {
    let raw = range / target;
    let mag = 10f64.powf(raw.log10().floor());
    let n = raw / mag;
    let m = if n <= 1.0 {
        1.0
    } else if n <= 2.0 {
        2.0
    } else if n <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Padded domain and ticks of one axis over `lo..=hi`. `integer` forces steps ≥ 1;
/// `nonneg` keeps the domain ≥ 0 when the data are.
fn axis(lo: f64, hi: f64, integer: bool, nonneg: bool) -> (f64, f64, f64) {
    let (mut lo, mut hi) = (lo, hi);
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = (lo.abs() * 0.05).max(if integer { 1.0 } else { 0.01 });
        lo -= pad;
        hi += pad;
    }
    let margin = 0.1 * (hi - lo);
    let was_nonneg = lo >= 0.0;
    lo -= margin;
    hi += margin;
    if nonneg && was_nonneg {
        lo = lo.max(0.0);
    }
    let mut step = nice_step(hi - lo, 4.0);
    if integer {
        step = step.max(1.0);
    }
    (lo, hi, step)
}

/// Tick values: multiples of `step` within `lo..=hi` (at most 12).
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step).ceil();
    (0..12)
        .map(|k| (first + k as f64) * step)
        .take_while(|&t| t <= hi + 1e-9 * step)
        .collect()
}

/// Decimals to print multiples of `step` exactly (0 for steps ≥ 1).
fn decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

/// Ticks of a logarithmic axis over `lo..=hi` (> 0): 1, 2 and 5 times the powers of ten.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi && out.len() < 12 {
        for m in [1.0, 2.0, 5.0] {
            let t = m * decade;
            if t >= lo && t <= hi {
                out.push(t);
            }
        }
        decade *= 10.0;
    }
    out
}

/// Builds the plot. `x` is a LUT count (integer axis); `y` a percentage. Needs at least one
/// datum with finite coordinates (others are dropped); returns None otherwise.
pub fn scatter(data: &[Datum], x_title: &str, y_title: &str) -> Option<Scatter> {
    scatter_scaled(data, x_title, y_title, false)
}

/// [`scatter`] with a logarithmic `x` axis (LUT counts spanning decades); data with `x ≤ 0`
/// are dropped.
pub fn scatter_log_x(data: &[Datum], x_title: &str, y_title: &str) -> Option<Scatter> {
    scatter_scaled(data, x_title, y_title, true)
}

fn scatter_scaled(data: &[Datum], x_title: &str, y_title: &str, log_x: bool) -> Option<Scatter> {
    let data: Vec<&Datum> = data
        .iter()
        .filter(|d| d.x.is_finite() && d.y.is_finite() && (!log_x || d.x > 0.0))
        .collect();
    if data.is_empty() {
        return None;
    }
    let min = |g: fn(&Datum) -> f64| data.iter().map(|d| g(d)).fold(f64::INFINITY, f64::min);
    let max = |g: fn(&Datum) -> f64| data.iter().map(|d| g(d)).fold(f64::NEG_INFINITY, f64::max);
    // The x axis in its plotted coordinate (log10 of the value on a log axis).
    let tx = |x: f64| if log_x { x.log10() } else { x };
    let (xlo, xhi, xstep) = if log_x {
        let (lo, hi) = (tx(min(|d| d.x)), tx(max(|d| d.x)));
        let pad = ((hi - lo) * 0.08).max(0.15);
        (lo - pad, hi + pad, 0.0)
    } else {
        axis(min(|d| d.x), max(|d| d.x), true, true)
    };
    let (ylo, yhi, ystep) = axis(min(|d| d.y), max(|d| d.y), false, true);
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
    let px = |x: f64| x0 + (tx(x) - xlo) / (xhi - xlo) * (x1 - x0);
    let py = |y: f64| y1 - (y - ylo) / (yhi - ylo) * (y1 - y0);
    let yd = decimals(ystep);
    let x_values = if log_x {
        log_ticks(10f64.powf(xlo), 10f64.powf(xhi))
    } else {
        ticks(xlo, xhi, xstep)
    };
    let x_ticks = x_values
        .into_iter()
        .map(|t| Tick {
            pos: f(px(t)),
            label: fmt_int(t.round().max(0.0) as u64),
        })
        .collect();
    let y_ticks = ticks(ylo, yhi, ystep)
        .into_iter()
        .map(|t| Tick {
            pos: f(py(t)),
            label: format!("{t:.yd$}"),
        })
        .collect();
    // Labels right of the point (left of it near the right edge), pushed down when they would
    // overlap an earlier label.
    let mut placed: Vec<(f64, f64, &'static str)> = Vec::new();
    let mut points = Vec::new();
    for d in &data {
        let (cx, cy) = (px(d.x), py(d.y));
        let right = cx > x1 - 110.0;
        let (lx, anchor) = if right {
            (cx - 9.0, "end")
        } else {
            (cx + 9.0, "start")
        };
        let mut ly = cy + 4.0;
        let span = |lx: f64, a: &str| {
            if a == "end" {
                (lx - 100.0, lx)
            } else {
                (lx, lx + 100.0)
            }
        };
        loop {
            let (a0, a1) = span(lx, anchor);
            let clash = placed.iter().any(|&(ox, oy, oa)| {
                let (b0, b1) = span(ox, oa);
                a0 < b1 && b0 < a1 && (ly - oy).abs() < 14.0
            });
            if !clash || ly > HEIGHT {
                break;
            }
            ly += 14.0;
        }
        placed.push((lx, ly, anchor));
        points.push(Point {
            cx: f(cx),
            cy: f(cy),
            label: d.label.clone(),
            lx: f(lx),
            ly: f(ly),
            anchor,
            class: d.class.clone(),
        });
    }
    Some(Scatter {
        width: f(WIDTH),
        height: f(HEIGHT),
        x0: f(x0),
        x1: f(x1),
        y0: f(y0),
        y1: f(y1),
        x_title_x: f((x0 + x1) / 2.0),
        x_title_y: f(HEIGHT - 12.0),
        y_title_x: f(16.0),
        y_title_y: f((y0 + y1) / 2.0),
        x_title: x_title.to_string(),
        y_title: y_title.to_string(),
        x_ticks,
        y_ticks,
        x_tick_label_y: f(y1 + 18.0),
        y_tick_label_x: f(x0 - 8.0),
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: f64, y: f64, label: &str) -> Datum {
        Datum {
            x,
            y,
            label: label.into(),
            class: String::new(),
        }
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 4.0), 50.0);
        assert_eq!(nice_step(1000.0, 4.0), 500.0);
        assert_eq!(nice_step(0.8, 4.0), 0.2);
        assert_eq!(nice_step(30.0, 4.0), 10.0);
    }

    #[test]
    fn points_inside_the_plot_area_and_ordered() {
        let s = scatter(
            &[
                d(1000.0, 99.95, "a"),
                d(3000.0, 99.19, "b"),
                d(2000.0, 99.66, "c"),
            ],
            "LUT",
            "%",
        )
        .unwrap();
        let num = |s: &str| s.parse::<f64>().unwrap();
        let (x0, x1, y0, y1) = (num(&s.x0), num(&s.x1), num(&s.y0), num(&s.y1));
        for p in &s.points {
            let (cx, cy) = (num(&p.cx), num(&p.cy));
            assert!(x0 < cx && cx < x1 && y0 < cy && cy < y1, "{cx} {cy}");
        }
        // More LUTs → further right; higher agreement → higher up (smaller y).
        assert!(
            num(&s.points[0].cx) < num(&s.points[2].cx)
                && num(&s.points[2].cx) < num(&s.points[1].cx)
        );
        assert!(
            num(&s.points[0].cy) < num(&s.points[2].cy)
                && num(&s.points[2].cy) < num(&s.points[1].cy)
        );
        assert!(s.x_ticks.len() >= 2 && s.y_ticks.len() >= 2);
        assert!(s.x_ticks.iter().all(|t| (x0..=x1).contains(&num(&t.pos))));
        assert!(s.y_ticks.iter().all(|t| (y0..=y1).contains(&num(&t.pos))));
    }

    /// A log axis: decades of LUTs spread evenly, ticks at 1, 2, 5 × 10^k inside the plot.
    #[test]
    fn log_axis_spreads_decades() {
        let s = scatter_log_x(
            &[
                d(350.0, 85.9, "a"),
                d(3500.0, 86.5, "b"),
                d(35000.0, 87.2, "c"),
                d(0.0, 1.0, "z"),
            ],
            "LUT",
            "AUC",
        )
        .unwrap();
        let num = |s: &str| s.parse::<f64>().unwrap();
        assert_eq!(s.points.len(), 3, "x = 0 has no place on a log axis");
        let (a, b, c) = (
            num(&s.points[0].cx),
            num(&s.points[1].cx),
            num(&s.points[2].cx),
        );
        assert!(((b - a) - (c - b)).abs() < 0.2, "{a} {b} {c}");
        let labels: Vec<&str> = s.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert!(
            labels.contains(&"1,000") && labels.contains(&"10,000"),
            "{labels:?}"
        );
        let (x0, x1) = (num(&s.x0), num(&s.x1));
        assert!(s.x_ticks.iter().all(|t| (x0..=x1).contains(&num(&t.pos))));
    }

    #[test]
    fn degenerate_data() {
        // All points equal: the domain is widened, nothing is NaN.
        let s = scatter(&[d(0.0, 100.0, "a"), d(0.0, 100.0, "b")], "LUT", "%").unwrap();
        for p in &s.points {
            assert!(!p.cx.contains("NaN") && !p.cy.contains("NaN") && !p.ly.contains("NaN"));
        }
        // The second label is pushed below the first.
        assert_ne!(s.points[0].ly, s.points[1].ly);
        assert!(scatter(&[d(f64::NAN, 1.0, "a")], "LUT", "%").is_none());
        assert!(scatter(&[], "LUT", "%").is_none());
    }
}
