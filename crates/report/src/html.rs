//! Self-contained, offline HTML pages: inline CSS, no scripts, charts as inline SVG generated
//! here.
//!
//! ```
//! use tokenfab_report::html::{LineChart, Page, Series};
//! let mut page = Page::new("Capacity");
//! page.heading("Goodput vs load").line_chart(&LineChart {
//!     title: "goodput".into(),
//!     x_label: "offered load, req/s".into(),
//!     y_label: "goodput, req/s".into(),
//!     series: vec![Series { name: "h100".into(), points: vec![(1.0, 1.0), (2.0, 1.9)] }],
//! });
//! let html = page.render();
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
//! ```
//!
//! Numbers in the SVG are written with fixed precision, so the same data gives the same bytes.

use crate::Table;
use std::fmt::Write;

/// A named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points, drawn in the given order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart with several series.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// X axis label (with unit).
    pub x_label: String,
    /// Y axis label (with unit).
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// One labelled point of a scatter plot.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledPoint {
    /// X value.
    pub x: f64,
    /// Y value.
    pub y: f64,
    /// Text drawn next to the point (may be empty).
    pub label: String,
    /// Colour group (index into the palette).
    pub group: usize,
}

/// A scatter plot with labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The points.
    pub points: Vec<LabeledPoint>,
}

/// Stacked vertical bars: one bar per category, one segment per stack.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBars {
    /// Title above the plot.
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// Bar names (x axis).
    pub categories: Vec<String>,
    /// (segment name, value per category); values below zero are drawn as zero.
    pub stacks: Vec<(String, Vec<f64>)>,
}

const PALETTE: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const W: f64 = 640.0;
const H: f64 = 360.0;
const ML: f64 = 64.0;
const MR: f64 = 150.0;
const MT: f64 = 32.0;
const MB: f64 = 48.0;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}\
td.s{text-align:left}svg{display:block;margin:1em 0}svg text{font-size:11px;fill:#333}\
svg .t{font-size:13px;font-weight:bold}";

/// An HTML page under construction.
#[derive(Debug, Clone)]
pub struct Page {
    title: String,
    body: String,
}

impl Page {
    /// A page with a `<title>` and an `<h1>`.
    pub fn new(title: &str) -> Page {
        Page { title: title.to_string(), body: format!("<h1>{}</h1>\n", esc(title)) }
    }

    /// An `<h2>` section heading.
    pub fn heading(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<h2>{}</h2>", esc(text));
        self
    }

    /// A paragraph of plain text (escaped).
    pub fn paragraph(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<p>{}</p>", esc(text));
        self
    }

    /// A table: strings left-aligned, numbers right-aligned with at most 4 significant decimals.
    pub fn table(&mut self, t: &Table) -> &mut Page {
        self.body.push_str(&table_html(t));
        self
    }

    /// A line chart.
    pub fn line_chart(&mut self, c: &LineChart) -> &mut Page {
        self.body.push_str(&line_chart_svg(c));
        self
    }

    /// A scatter plot.
    pub fn scatter(&mut self, c: &Scatter) -> &mut Page {
        self.body.push_str(&scatter_svg(c));
        self
    }

    /// Stacked bars.
    pub fn stacked_bars(&mut self, c: &StackedBars) -> &mut Page {
        self.body.push_str(&stacked_bars_svg(c));
        self
    }

    /// The whole document.
    pub fn render(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
            esc(&self.title),
            self.body
        )
    }
}

/// Escapes `&`, `<`, `>`, `"` for HTML text and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// A table as HTML.
pub fn table_html(t: &Table) -> String {
    use crate::Column;
    let mut s = String::from("<table>\n<tr>");
    for n in t.names() {
        let _ = write!(s, "<th>{}</th>", esc(n));
    }
    s.push_str("</tr>\n");
    for i in 0..t.rows() {
        s.push_str("<tr>");
        for c in t.columns() {
            match c {
                Column::Str(v) => {
                    let _ = write!(s, "<td class=\"s\">{}</td>", esc(&v[i]));
                }
                Column::F64(v) => {
                    let _ = write!(s, "<td>{}</td>", num(v[i]));
                }
                Column::I64(v) => {
                    let _ = write!(s, "<td>{}</td>", v[i]);
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

/// A number for display: up to 4 decimals, trailing zeros removed.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Axis range with a "nice" step: (lo, hi, step).
fn nice_range(mut lo: f64, mut hi: f64) -> (f64, f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, 0.25);
    }
    if hi - lo < 1e-12 {
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

struct Frame {
    x: (f64, f64, f64),
    y: (f64, f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        ML + (x - self.x.0) / (self.x.1 - self.x.0) * (W - ML - MR)
    }
    fn py(&self, y: f64) -> f64 {
        H - MB - (y - self.y.0) / (self.y.1 - self.y.0) * (H - MT - MB)
    }
}

fn svg_open(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">\n<text class=\"t\" x=\"{ML}\" y=\"20\">{}</text>\n",
        esc(title)
    )
}

/// Axes, grid, ticks and labels; `x_ticks` false for category axes.
fn axes(s: &mut String, f: &Frame, x_label: &str, y_label: &str, x_ticks: bool) {
    let (x0, x1, y0, y1) = (ML, W - MR, MT, H - MB);
    let mut v = f.y.0;
    while v <= f.y.1 + f.y.2 * 1e-9 {
        let y = f.py(v);
        let _ = writeln!(
            s,
            "<line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 4.0,
            y + 4.0,
            num(v)
        );
        v += f.y.2;
    }
    if x_ticks {
        let mut v = f.x.0;
        while v <= f.x.1 + f.x.2 * 1e-9 {
            let x = f.px(v);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                y1 + 4.0,
                y1 + 16.0,
                num(v)
            );
            v += f.x.2;
        }
    }
    let _ = writeln!(
        s,
        "<path d=\"M{x0:.1},{y0:.1}V{y1:.1}H{x1:.1}\" fill=\"none\" stroke=\"#333\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2.0,
        H - 10.0,
        esc(x_label),
        (y0 + y1) / 2.0,
        esc(y_label)
    );
}

fn legend(s: &mut String, names: &[&str]) {
    for (i, n) in names.iter().enumerate() {
        let y = MT + 14.0 * i as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            W - MR + 10.0,
            y,
            PALETTE[i % PALETTE.len()],
            W - MR + 24.0,
            y + 9.0,
            esc(n)
        );
    }
}

fn extent(it: impl Iterator<Item = f64>) -> (f64, f64) {
    it.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
}

/// A line chart as an SVG element.
pub fn line_chart_svg(c: &LineChart) -> String {
    let pts = || c.series.iter().flat_map(|s| s.points.iter());
    let (xl, xh) = extent(pts().map(|p| p.0));
    let (yl, yh) = extent(pts().map(|p| p.1));
    let f = Frame { x: nice_range(xl, xh), y: nice_range(yl.min(0.0), yh) };
    let mut s = svg_open(&c.title);
    axes(&mut s, &f, &c.x_label, &c.y_label, true);
    for (i, ser) in c.series.iter().enumerate() {
        let mut d = String::new();
        for (j, (x, y)) in ser.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if j == 0 { "M" } else { "L" }, f.px(*x), f.py(*y));
        }
        let _ =
            writeln!(s, "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>", PALETTE[i % PALETTE.len()]);
    }
    legend(&mut s, &c.series.iter().map(|x| x.name.as_str()).collect::<Vec<_>>());
    s.push_str("</svg>\n");
    s
}

/// A scatter plot as an SVG element.
pub fn scatter_svg(c: &Scatter) -> String {
    let (xl, xh) = extent(c.points.iter().map(|p| p.x));
    let (yl, yh) = extent(c.points.iter().map(|p| p.y));
    let f = Frame { x: nice_range(xl, xh), y: nice_range(yl, yh) };
    let mut s = svg_open(&c.title);
    axes(&mut s, &f, &c.x_label, &c.y_label, true);
    for p in c.points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()) {
        let (x, y) = (f.px(p.x), f.py(p.y));
        let _ =
            writeln!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{}\"/>", PALETTE[p.group % PALETTE.len()]);
        if !p.label.is_empty() {
            let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>", x + 6.0, y - 4.0, esc(&p.label));
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Stacked bars as an SVG element.
pub fn stacked_bars_svg(c: &StackedBars) -> String {
    let n = c.categories.len();
    let totals: Vec<f64> =
        (0..n).map(|i| c.stacks.iter().map(|(_, v)| v.get(i).copied().unwrap_or(0.0).max(0.0)).sum()).collect();
    let (_, th) = extent(totals.iter().copied());
    let f = Frame { x: (0.0, n.max(1) as f64, 1.0), y: nice_range(0.0, if th.is_finite() { th } else { 1.0 }) };
    let mut s = svg_open(&c.title);
    axes(&mut s, &f, "", &c.y_label, false);
    let slot = (W - ML - MR) / n.max(1) as f64;
    for (i, cat) in c.categories.iter().enumerate() {
        let x = ML + slot * (i as f64 + 0.15);
        let mut base = 0.0;
        for (k, (_, vals)) in c.stacks.iter().enumerate() {
            let v = vals.get(i).copied().unwrap_or(0.0);
            let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
            let (top, bot) = (f.py(base + v), f.py(base));
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                slot * 0.7,
                bot - top,
                PALETTE[k % PALETTE.len()]
            );
            base += v;
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x + slot * 0.35,
            H - MB + 16.0,
            esc(cat)
        );
    }
    legend(&mut s, &c.stacks.iter().map(|x| x.0.as_str()).collect::<Vec<_>>());
    s.push_str("</svg>\n");
    s
}
