//! The report's charts, as inline SVG: a line chart and a bar chart with
//! intervals. Every chart has both axes with ticks and a title each, and a
//! legend drawn in the series' own colours; the chart's title is the
//! caption above it (HTML, so a long name wraps), never inside the plot.
//! Colours are attributes only: no stylesheet rule sets a fill or stroke.

use maud::{html, Markup};

/// Pixels per character of 11 px text, generous, to size margins so that a
/// label name is never cut.
const CHAR_WIDTH: f64 = 6.6;

/// One axis: its title, the value range drawn, and the ticks (value, text).
pub struct Axis {
    /// Title, drawn beside the axis.
    pub title: String,
    /// Values at the two ends.
    pub range: (f64, f64),
    /// Tick values and their text.
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// An axis from 0 to 1 with ticks every 0.25.
    pub fn unit(title: &str) -> Axis {
        let ticks = (0..=4).map(|t| (t as f64 / 4.0, format!("{:.2}", t as f64 / 4.0))).collect();
        Axis { title: title.to_owned(), range: (0.0, 1.0), ticks }
    }

    /// Where `v` falls between `from` and `to` pixels.
    fn at(&self, v: f64, from: f64, to: f64) -> f64 {
        let (a, b) = self.range;
        let t = if b == a { 0.0 } else { ((v - a) / (b - a)).clamp(0.0, 1.0) };
        from + (to - from) * t
    }
}

/// One line of a line chart.
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// Its colour (CSS colour).
    pub color: &'static str,
    /// Points in data units.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed, without markers.
    pub dashed: bool,
}

/// A line chart.
pub struct LineChart {
    /// Accessible name (the caption says it too).
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<Series>,
    /// Outer size in pixels.
    pub size: (f64, f64),
}

/// Plot area inside a chart: left, top, right, bottom, in pixels.
struct Frame {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// Height of one legend row.
const LEGEND_ROW: f64 = 16.0;

/// The legend: swatches in the series' own colours above the plot, from
/// `left`, wrapping onto another row before `right`; with its row count.
fn legend(entries: &[(&str, &'static str, bool)], left: f64, right: f64) -> (Markup, usize) {
    let (mut x, mut y) = (left, 14.0);
    let mut placed = Vec::new();
    for &(name, color, dashed) in entries {
        let width = 30.0 + CHAR_WIDTH * name.chars().count() as f64;
        if x > left && x + width - 8.0 > right {
            (x, y) = (left, y + LEGEND_ROW);
        }
        placed.push((x, y, name, color, dashed));
        x += width;
    }
    let rows = ((y - 14.0) / LEGEND_ROW) as usize + 1;
    let markup = html! {
        g.legend {
            @for (x, y, name, color, dashed) in placed {
                line x1=(n(x)) x2=(n(x + 18.0)) y1=(n(y)) y2=(n(y)) stroke=(color) stroke-width="3"
                    stroke-dasharray=[dashed.then_some("5 3")] {}
                text x=(n(x + 22.0)) y=(n(y + 4.0)) fill="#222" { (name) }
            }
        }
    };
    (markup, rows)
}

/// Axis lines, ticks, tick texts and the two titles.
fn axes(x: &Axis, y: &Axis, f: &Frame) -> Markup {
    html! {
        g.axes {
            line x1=(n(f.left)) x2=(n(f.right)) y1=(n(f.bottom)) y2=(n(f.bottom)) stroke="#555" {}
            line x1=(n(f.left)) x2=(n(f.left)) y1=(n(f.top)) y2=(n(f.bottom)) stroke="#555" {}
            @for (v, text) in &x.ticks {
                @let px = x.at(*v, f.left, f.right);
                line x1=(n(px)) x2=(n(px)) y1=(n(f.bottom)) y2=(n(f.bottom + 4.0)) stroke="#555" {}
                text x=(n(px)) y=(n(f.bottom + 16.0)) text-anchor="middle" fill="#333" { (text) }
            }
            @for (v, text) in &y.ticks {
                @let py = y.at(*v, f.bottom, f.top);
                line x1=(n(f.left)) x2=(n(f.right)) y1=(n(py)) y2=(n(py)) stroke="#eee" {}
                line x1=(n(f.left - 4.0)) x2=(n(f.left)) y1=(n(py)) y2=(n(py)) stroke="#555" {}
                text x=(n(f.left - 7.0)) y=(n(py + 4.0)) text-anchor="end" fill="#333" { (text) }
            }
            text.axis-title x=(n((f.left + f.right) / 2.0)) y=(n(f.bottom + 32.0)) text-anchor="middle" fill="#222" { (x.title) }
            @let (cx, cy) = (12.0, (f.top + f.bottom) / 2.0);
            text.axis-title x=(n(cx)) y=(n(cy)) text-anchor="middle" fill="#222"
                transform=(format!("rotate(-90 {} {})", n(cx), n(cy))) { (y.title) }
        }
    }
}

/// A line chart: title as the SVG's accessible name, legend above the
/// plot, axes with ticks and titles, markers on solid lines.
pub fn line_chart(c: &LineChart) -> Markup {
    let entries: Vec<(&str, &'static str, bool)> = c.series.iter().map(|s| (s.name.as_str(), s.color, s.dashed)).collect();
    let (legend, rows) = legend(&entries, 52.0, c.size.0 - 4.0);
    let extra = LEGEND_ROW * (rows - 1) as f64;
    let (w, h) = (c.size.0, c.size.1 + extra);
    let f = Frame { left: 52.0, top: 34.0 + extra, right: w - 14.0, bottom: h - 40.0 };
    let xy = |&(a, b): &(f64, f64)| (c.x.at(a, f.left, f.right), c.y.at(b, f.bottom, f.top));
    html! {
        svg.chart width=(n(w)) height=(n(h)) viewBox=(format!("0 0 {} {}", n(w), n(h)))
            role="img" aria-label=(c.title) {
            title { (c.title) }
            (legend)
            (axes(&c.x, &c.y, &f))
            @for s in &c.series {
                @let pts: Vec<String> = s.points.iter().map(xy).map(|(a, b)| format!("{},{}", n(a), n(b))).collect();
                polyline fill="none" stroke=(s.color) stroke-width="2" stroke-dasharray=[s.dashed.then_some("5 3")] points=(pts.join(" ")) {}
                @if !s.dashed {
                    @for p in &s.points {
                        @let (a, b) = xy(p);
                        circle cx=(n(a)) cy=(n(b)) r="3" fill=(s.color) { title { (s.name) ", " (p.0) ": " (format!("{:.3}", p.1)) } }
                    }
                }
            }
        }
    }
}

/// One bar: its name, value and interval (either may be undefined).
pub struct Bar {
    /// Full name, drawn whole at the left.
    pub name: String,
    /// The value; `None` draws "n/a".
    pub value: Option<f64>,
    /// The interval, when there is one.
    pub interval: Option<(f64, f64)>,
}

/// Horizontal bars on a 0–1 axis with interval whiskers; the left margin
/// grows with the longest name so no name is cut.
pub fn bar_chart(title: &str, value_title: &str, bars: &[Bar], color: &'static str) -> Markup {
    let longest = bars.iter().map(|b| b.name.chars().count()).max().unwrap_or(0) as f64;
    let (row, width) = (22.0, 420.0);
    let left = 34.0 + CHAR_WIDTH * longest;
    let entries = [(value_title, color, false), ("95% interval", "#222", false)];
    let (legend, rows) = legend(&entries, left, left + width);
    let top = 34.0 + LEGEND_ROW * (rows - 1) as f64;
    let f = Frame { left, top, right: left + width, bottom: top + row * bars.len() as f64 + 6.0 };
    let (w, h) = (f.right + 50.0, f.bottom + 42.0);
    let x = Axis::unit(value_title);
    let y = Axis { title: "label".to_owned(), range: (0.0, 1.0), ticks: Vec::new() };
    html! {
        svg.chart width=(n(w)) height=(n(h)) viewBox=(format!("0 0 {} {}", n(w), n(h)))
            role="img" aria-label=(title) {
            title { (title) }
            (legend)
            (axes(&x, &y, &f))
            @for (k, b) in bars.iter().enumerate() {
                @let top = f.top + 6.0 + row * k as f64;
                text x=(n(f.left - 6.0)) y=(n(top + 11.0)) text-anchor="end" fill="#222" { (b.name) }
                @if let Some(v) = b.value {
                    rect x=(n(f.left)) y=(n(top)) width=(n(width * v.clamp(0.0, 1.0))) height="14" fill=(color) {
                        title { (b.name) " " (format!("{v:.3}")) }
                    }
                    text x=(n(f.right + 6.0)) y=(n(top + 11.0)) fill="#222" { (format!("{v:.2}")) }
                } @else {
                    text x=(n(f.left + 4.0)) y=(n(top + 11.0)) fill="#777" { "n/a" }
                }
                @if let Some((lo, hi)) = b.interval {
                    @let (x0, x1, mid) = (x.at(lo, f.left, f.right), x.at(hi, f.left, f.right), top + 7.0);
                    path d=(format!("M{} {}H{}M{} {}V{}M{} {}V{}", n(x0), n(mid), n(x1), n(x0), n(top + 3.0), n(top + 11.0), n(x1), n(top + 3.0), n(top + 11.0)))
                        stroke="#222" fill="none" {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maps_its_range_onto_pixels_and_clamps() {
        let a = Axis::unit("F1");
        assert_eq!(a.at(0.0, 10.0, 110.0), 10.0);
        assert_eq!(a.at(0.25, 10.0, 110.0), 35.0);
        assert_eq!(a.at(2.0, 10.0, 110.0), 110.0);
        assert_eq!(a.at(0.5, 100.0, 0.0), 50.0, "a vertical axis runs upwards");
    }

    #[test]
    fn a_legend_too_wide_for_its_chart_wraps_onto_another_row() {
        let entries = [("precision", "#c0562b", false), ("recall", "#1f5fa8", false), ("threshold 0.40", "#777", true)];
        let (_, rows) = legend(&entries, 52.0, 700.0);
        assert_eq!(rows, 1);
        let (markup, rows) = legend(&entries, 52.0, 296.0);
        assert_eq!(rows, 2);
        let svg = markup.into_string();
        let last = svg.rsplit("<text ").next().unwrap();
        assert!(last.contains("y=\"34.0\""), "the third entry is on the second row: {svg}");
    }

    #[test]
    fn a_bar_chart_keeps_long_names_whole_and_its_colours_in_the_legend() {
        let name = "a_very_long_label_name_that_would_not_fit_in_150_pixels";
        let bars = [Bar { name: name.to_owned(), value: Some(0.5), interval: Some((0.25, 0.75)) }, Bar { name: "b".into(), value: None, interval: None }];
        let svg = bar_chart("F1 per label", "F1", &bars, "#5b8dd6").into_string();
        assert!(svg.contains(&format!(">{name}</text>")), "{svg}");
        assert!(svg.contains("stroke=\"#5b8dd6\""), "the legend swatch has the bars' colour: {svg}");
        assert!(svg.contains(">n/a</text>"));
        assert_eq!(svg.matches("class=\"axis-title\"").count(), 2);
        // The bar area starts right of the longest name.
        let left = 34.0 + CHAR_WIDTH * name.len() as f64;
        assert!(svg.contains(&format!("<rect x=\"{left:.1}\"")), "{svg}");
    }
}
