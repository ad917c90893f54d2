//! Charts as inline SVG, built from a small chart model (categories, series, units).
//!
//! Every chart carries a `<title>` and `<desc>`, labelled axes with units, and series that stay
//! distinguishable in greyscale (dash patterns for lines, luminance steps for bars). A missing
//! (suppressed) value is a gap in a line or an absent bar, never a zero. The page puts a data
//! table under every chart; this module only draws.

use std::fmt::Write as _;

use crate::model::ChartType;

use super::format::{escape, format_number};

/// One series of values over the chart's categories; `None` is a suppressed or missing value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    /// Decimals each value may show in the data table (see `format::honest_decimals`);
    /// empty: whole numbers as whole, others with one decimal.
    pub decimals: Vec<usize>,
}

/// A vertical marker at a category, e.g. a programme's start month.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub category: String,
    pub label: String,
}

/// What the categories along the x axis are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Months `YYYY-MM`, in order: labelled by year, written out in data tables.
    Months,
    /// Anything else (areas, templates), labelled as they are.
    Categories,
}

impl XAxis {
    /// Months when every category is a month, else categories.
    pub fn of(categories: &[String]) -> XAxis {
        if !categories.is_empty()
            && categories
                .iter()
                .all(|c| c.parse::<crate::model::Month>().is_ok())
        {
            XAxis::Months
        } else {
            XAxis::Categories
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartModel {
    /// Unique within the page: used for SVG ids.
    pub id: String,
    pub kind: ChartType,
    pub title: String,
    pub description: String,
    pub x_label: String,
    pub x_axis: XAxis,
    pub units: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
}

/// Colours from the NHS palette, ordered so neighbouring series differ in lightness as well as
/// hue; with the dash patterns below they stay apart in greyscale.
const LINE_COLOURS: [&str; 6] = [
    "#005eb8", "#212b32", "#007f3b", "#d5281b", "#330072", "#768692",
];
const DASHES: [&str; 6] = ["", "8 4", "2 3", "10 3 2 3", "14 5", "4 2"];
const BAR_FILLS: [&str; 6] = [
    "#003087", "#005eb8", "#41b6e6", "#aeb7bd", "#e8edee", "#212b32",
];

/// Logical width of every chart (the viewBox); the page scales it with `.cp-chart`
/// (`width: 100%; height: auto`). 640 gives 60 months about 9 units each, room for a point
/// marker per month, and keeps 12-unit text at 12 px or more whenever the chart is shown at
/// 640 px or wider (careplans.css should then allow `max-width: 640px` or more).
pub(crate) const WIDTH: f64 = 640.0;
pub(crate) const PLOT_LEFT: f64 = 70.0;
pub(crate) const PLOT_RIGHT: f64 = 12.0;
pub(crate) const PLOT_TOP: f64 = 14.0;
pub(crate) const FONT: f64 = 12.0;
/// Font size of marker labels ("Programme starts") and other small annotations.
pub(crate) const SMALL_FONT: f64 = 11.0;
/// Average glyph width as a share of the font size, for Arial: how wide text is estimated to
/// be when laying out legends and labels (there is no font metrics at build time).
pub(crate) const GLYPH_WIDTH: f64 = 0.55;
/// Text colour for labels, NHS dark grey (contrast 6.4:1 on white).
pub(crate) const TEXT_GREY: &str = "#4c6272";
/// Grid lines.
pub(crate) const GRID: &str = "#d8dde0";

/// Estimated width of `text` at font size `size` (see [`GLYPH_WIDTH`]).
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * GLYPH_WIDTH
}

/// "Nice" axis ticks from zero to at least `max`.
pub fn nice_ticks(max: f64) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0, 1.0];
    }
    let rough = max / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| step * 4.0 >= max)
        .unwrap_or(10.0 * magnitude);
    let count = (max / step).ceil() as usize;
    (0..=count.max(1)).map(|i| i as f64 * step).collect()
}

/// "Nice" ticks covering `low..=high` (3 to 6 of them), for an axis that need not start at 0.
pub fn nice_ticks_between(low: f64, high: f64) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite()) {
        return vec![0.0, 1.0];
    }
    let (low, high) = if low <= high {
        (low, high)
    } else {
        (high, low)
    };
    if high - low < f64::EPSILON * high.abs().max(1.0) {
        // A flat line: a band either side of it.
        let pad = if high == 0.0 { 1.0 } else { high.abs() / 10.0 };
        return nice_ticks_between(low - pad, high + pad);
    }
    let rough = (high - low) / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| ((high / step).ceil() - (low / step).floor()) <= 5.0)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step).floor() as i64;
    let last = (high / step).ceil() as i64;
    (first..=last.max(first + 1))
        .map(|i| {
            let tick = i as f64 * step;
            // Avoid -0 and float dust such as 0.30000000000000004.
            let tick = (tick / step).round() * step;
            if tick == 0.0 { 0.0 } else { tick }
        })
        .collect()
}

/// Whether an axis over values from `low` to `high` should start at zero: yes when the data
/// reach zero or lie in its lower 60% (so that zero does not squash the data into a band at
/// the top), no when every value is far from zero, such as a percentage between 85 and 95.
pub fn axis_from_zero(low: f64, high: f64) -> bool {
    !(low.is_finite() && high.is_finite()) || low <= 0.0 || low < 0.6 * high
}

/// Decimals that tell ticks apart: none for whole steps, else as many as the step needs.
pub(crate) fn ticks_decimals(ticks: &[f64]) -> usize {
    (0..=3)
        .find(|&d| {
            let scale = 10f64.powi(d as i32);
            ticks
                .iter()
                .all(|t| ((t * scale).round() - t * scale).abs() < 1e-6)
        })
        .unwrap_or(3)
}

/// A month label `YYYY-MM` written short ("Feb 2021") or long ("February 2021"); anything
/// else is returned as it is.
pub(crate) fn month_name(label: &str, long: bool) -> String {
    match label.parse::<crate::model::Month>() {
        Ok(month) if long => month.long_name(),
        Ok(month) => {
            let long_name = month.long_name();
            format!("{} {}", &long_name[..3], month.year)
        }
        Err(_) => label.to_owned(),
    }
}

/// The box a label occupies, for collision checks: `x0 < x1`, `y0 < y1` (SVG y grows down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LabelBox {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl LabelBox {
    /// The box of a one-line text at baseline `y`, given its anchor ("start", "middle", "end").
    pub fn of_text(x: f64, y: f64, anchor: &str, text: &str, size: f64) -> LabelBox {
        let width = text_width(text, size);
        let x0 = match anchor {
            "end" => x - width,
            "middle" => x - width / 2.0,
            _ => x,
        };
        LabelBox {
            x0,
            x1: x0 + width,
            y0: y - size * 0.8,
            y1: y + size * 0.2,
        }
    }

    pub fn intersects(&self, other: &LabelBox) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    /// This box grown by `margin` on every side.
    pub fn grown(&self, margin: f64) -> LabelBox {
        LabelBox {
            x0: self.x0 - margin,
            x1: self.x1 + margin,
            y0: self.y0 - margin,
            y1: self.y1 + margin,
        }
    }
}

/// Height of one row of marker labels above the plot.
pub(crate) const MARKER_ROW: f64 = 15.0;

/// Where one marker label goes: in `row` (0 is nearest the plot), text starting at `text_x`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlacedMarker {
    /// Position of the label in the list given to [`place_marker_labels`].
    pub index: usize,
    /// The marker's x (its month).
    pub x: f64,
    pub text_x: f64,
    pub row: usize,
    pub label: String,
}

/// Places marker labels in rows above the plot so that no two overlap and, wherever
/// possible, no leader line (from a label down to its month) runs through another label.
///
/// A label is a flag on its marker: text just right of the month, or just left of it when it
/// would run past `right`. Right-pointing flags are placed from the right, then left-pointing
/// ones from the left; each takes the lowest row where its text clears the labels already in
/// that row, no label in a lower row covers its leader, and it covers no leader of a label
/// above it. Only if no row meets all three (two long labels crowded at the right edge) is
/// the second given up. Rows are bounded by the number of labels, so this always ends.
pub(crate) fn place_marker_labels(
    markers: &[(f64, String)],
    left: f64,
    right: f64,
) -> Vec<PlacedMarker> {
    struct Candidate {
        index: usize,
        x: f64,
        text_x: f64,
        x0: f64,
        x1: f64,
        flag_right: bool,
    }
    let gap = 8.0;
    let mut candidates: Vec<Candidate> = markers
        .iter()
        .enumerate()
        .map(|(index, (x, label))| {
            let width = text_width(label, SMALL_FONT);
            let flag_right = x + 3.0 + width <= right;
            let text_x = if flag_right {
                x + 3.0
            } else {
                (x - 3.0 - width).max(left)
            };
            Candidate {
                index,
                x: *x,
                text_x,
                x0: text_x - 2.0,
                x1: text_x + width + 2.0,
                flag_right,
            }
        })
        .collect();
    candidates.sort_by(|a, b| match (a.flag_right, b.flag_right) {
        (true, true) => b.x.total_cmp(&a.x),
        (false, false) => a.x.total_cmp(&b.x),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
    });
    let covers = |a: f64, b: f64, at: f64| a <= at && at <= b;
    let mut placed: Vec<(PlacedMarker, f64, f64)> = Vec::new();
    for c in candidates {
        let fits = |row: usize, keep_leader_clear: bool| {
            placed.iter().all(|(other, a, b)| {
                if other.row == row {
                    c.x1 + gap <= *a || *b + gap <= c.x0
                } else if other.row < row {
                    !keep_leader_clear || !covers(*a, *b, c.x)
                } else {
                    !covers(c.x0, c.x1, other.x)
                }
            })
        };
        // Row `placed.len()` is above every label so far: it always fits the second test.
        let last = placed.len();
        let row = (0..=last)
            .find(|&row| fits(row, true))
            .or_else(|| (0..=last).find(|&row| fits(row, false)))
            .unwrap_or(last);
        placed.push((
            PlacedMarker {
                index: c.index,
                x: c.x,
                text_x: c.text_x,
                row,
                label: markers[c.index].1.clone(),
            },
            c.x0,
            c.x1,
        ));
    }
    placed.sort_by(|a, b| a.0.x.total_cmp(&b.0.x));
    placed.into_iter().map(|(p, _, _)| p).collect()
}

impl PlacedMarker {
    /// The baseline of this label's text above a plot whose top is `plot_top`.
    pub fn baseline(&self, plot_top: f64) -> f64 {
        plot_top - 5.0 - MARKER_ROW * self.row as f64
    }

    /// Where the leader starts: beside the text (a flag's pole) when the month is outside the
    /// text, else just under it.
    pub fn leader_top(&self, plot_top: f64) -> f64 {
        let baseline = self.baseline(plot_top);
        let text_end = self.text_x + text_width(&self.label, SMALL_FONT);
        if self.x < self.text_x - 1.0 || self.x > text_end + 1.0 {
            baseline - SMALL_FONT * 0.8
        } else {
            baseline + 3.0
        }
    }
}

/// How many rows `placed` needs (0 without markers).
pub(crate) fn marker_rows(placed: &[PlacedMarker]) -> usize {
    placed.iter().map(|p| p.row + 1).max().unwrap_or(0)
}

/// Draws placed marker labels above a plot whose top is `plot_top`, each with a leader line
/// down to the plot and a dashed line through it to `bottom`.
pub(crate) fn draw_marker_labels(
    out: &mut String,
    placed: &[PlacedMarker],
    plot_top: f64,
    bottom: f64,
) {
    for marker in placed {
        let baseline = marker.baseline(plot_top);
        let leader_top = marker.leader_top(plot_top);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{plot_top:.1}" stroke="{TEXT_GREY}"/><line x1="{x:.1}" x2="{x:.1}" y1="{plot_top:.1}" y2="{bottom:.1}" stroke="{TEXT_GREY}" stroke-dasharray="3 3"/><text class="cp-chart__marker" x="{:.1}" y="{baseline:.1}" font-size="{SMALL_FONT}">{}</text>"##,
            leader_top,
            marker.text_x,
            escape(&marker.label),
            x = marker.x,
        );
    }
}

/// Marker shapes: every category a chart tells apart by colour is told apart by shape too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    TriangleUp,
    TriangleDown,
    Square,
    Diamond,
}

/// A marker of `shape` centred on (`x`, `y`), about `2 × r` across, with an optional outline.
pub(crate) fn shape_svg(
    shape: Shape,
    x: f64,
    y: f64,
    r: f64,
    fill: &str,
    stroke: Option<(&str, f64)>,
) -> String {
    let stroke_attr = match stroke {
        Some((colour, width)) => format!(r#" stroke="{colour}" stroke-width="{width}""#),
        None => String::new(),
    };
    match shape {
        Shape::Circle => {
            format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{fill}"{stroke_attr}/>"#)
        }
        Shape::Square => {
            let side = r * 1.8;
            format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{side:.1}" height="{side:.1}" fill="{fill}"{stroke_attr}/>"#,
                x - side / 2.0,
                y - side / 2.0
            )
        }
        Shape::Diamond => {
            let d = r * 1.35;
            format!(
                r#"<path d="M{x:.1},{:.1} L{:.1},{y:.1} L{x:.1},{:.1} L{:.1},{y:.1} Z" fill="{fill}"{stroke_attr}/>"#,
                y - d,
                x + d,
                y + d,
                x - d
            )
        }
        Shape::TriangleUp | Shape::TriangleDown => {
            // An equilateral triangle whose centroid is on the point.
            let h = r * 2.1;
            let half = h / 3f64.sqrt();
            let (tip, base) = if shape == Shape::TriangleUp {
                (y - h * 2.0 / 3.0, y + h / 3.0)
            } else {
                (y + h * 2.0 / 3.0, y - h / 3.0)
            };
            format!(
                r#"<path d="M{x:.1},{tip:.1} L{:.1},{base:.1} L{:.1},{base:.1} Z" fill="{fill}"{stroke_attr}/>"#,
                x + half,
                x - half
            )
        }
    }
}

/// One legend entry: a swatch drawn around the origin (it should fit within x 0..18,
/// y -6..6) and its words.
pub(crate) struct LegendEntry {
    pub swatch: String,
    pub label: String,
}

/// Draws legend entries in rows from (`left`, `top`), wrapping before `right`, as
/// `legend` does for series; returns the y below the last row.
pub(crate) fn draw_legend(
    out: &mut String,
    entries: &[LegendEntry],
    left: f64,
    right: f64,
    top: f64,
) -> f64 {
    let mut x = left;
    let mut y = top;
    for entry in entries {
        let width = 24.0 + text_width(&entry.label, FONT);
        if x + width > right && x > left {
            x = left;
            y += FONT + 8.0;
        }
        let _ = write!(
            out,
            r#"<g transform="translate({x:.1} {y:.1})">{}</g><text x="{:.1}" y="{:.1}">{}</text>"#,
            entry.swatch,
            x + 24.0,
            y + 4.0,
            escape(&entry.label)
        );
        x += width + 14.0;
    }
    if entries.is_empty() {
        top
    } else {
        y + FONT + 6.0
    }
}

/// The opening `<svg>` tag with its `<title>` and `<desc>`, in the style of every chart.
pub(crate) fn open_svg_element(
    out: &mut String,
    id: &str,
    width: f64,
    height: f64,
    title: &str,
    description: &str,
) {
    let id = escape(id);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="cp-chart" viewBox="0 0 {width} {height:.0}" role="img" aria-labelledby="{id}-title {id}-desc" font-family="Arial, sans-serif" font-size="{FONT}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(description)
    );
}

/// Which category labels to print so they do not overlap: every year's January for months,
/// otherwise evenly spaced.
pub(crate) fn label_every(categories: &[String], axis: XAxis, room: f64) -> Vec<bool> {
    let n = categories.len();
    if axis == XAxis::Months && n > 12 {
        let step_years = if n > 84 { 2 } else { 1 };
        return categories
            .iter()
            .map(|c| {
                c.ends_with("-01")
                    && c[..4]
                        .parse::<i32>()
                        .map(|y| y % step_years == 0)
                        .unwrap_or(false)
            })
            .collect();
    }
    let fits = (room / 48.0).max(1.0) as usize;
    let step = n.div_ceil(fits).max(1);
    (0..n).map(|i| i % step == 0).collect()
}

/// Whole numbers without decimals, others with one.
fn value_text(value: f64) -> String {
    format_number(value, if value.fract() == 0.0 { 0 } else { 1 })
}

pub(crate) fn short_category(category: &str, months: bool) -> String {
    if months && category.len() == 7 {
        if category.ends_with("-01") {
            category[..4].to_owned()
        } else {
            category.to_owned()
        }
    } else {
        category.to_owned()
    }
}

/// Renders the chart as a standalone `<svg>` element.
pub fn render_svg(chart: &ChartModel) -> String {
    let months = chart.x_axis == XAxis::Months;
    match chart.kind {
        // Bars over time are drawn as columns; bars across areas as horizontal bars.
        ChartType::Bar if chart.series.len() <= 1 && !months => render_bars(chart),
        _ => render_columns_or_lines(chart),
    }
}

fn open_svg(out: &mut String, chart: &ChartModel, height: f64) {
    open_svg_element(
        out,
        &chart.id,
        WIDTH,
        height,
        &chart.title,
        &chart.description,
    );
}

fn legend(
    out: &mut String,
    chart: &ChartModel,
    top: f64,
    swatch: &dyn Fn(usize, f64, f64) -> String,
) -> f64 {
    if chart.series.len() <= 1 {
        return top;
    }
    let mut x = PLOT_LEFT;
    let mut y = top;
    for (index, series) in chart.series.iter().enumerate() {
        let width = 30.0 + series.name.chars().count() as f64 * FONT * 0.55;
        if x + width > WIDTH - PLOT_RIGHT && x > PLOT_LEFT {
            x = PLOT_LEFT;
            y += FONT + 8.0;
        }
        out.push_str(&swatch(index, x, y));
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 24.0,
            y + 4.0,
            escape(&series.name)
        );
        x += width + 10.0;
    }
    y + FONT + 6.0
}

fn max_value(chart: &ChartModel, stacked: bool) -> f64 {
    if stacked {
        (0..chart.categories.len())
            .map(|i| {
                chart
                    .series
                    .iter()
                    .filter_map(|s| s.values.get(i).copied().flatten())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    } else {
        chart
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .copied()
            .fold(0.0, f64::max)
    }
}

/// Lines over time, or vertical (optionally stacked) columns.
fn render_columns_or_lines(chart: &ChartModel) -> String {
    let plot_height = 190.0;
    let stacked = chart.kind == ChartType::StackedBar;
    let ticks = nice_ticks(max_value(chart, stacked));
    let top_value = *ticks.last().unwrap_or(&1.0);
    let plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT;
    let n = chart.categories.len().max(1);
    let band = plot_width / n as f64;
    let x_of = |i: usize| PLOT_LEFT + band * (i as f64 + 0.5);
    // Marker labels sit in rows above the plot, never over the data.
    let marker_positions: Vec<(f64, String)> = chart
        .markers
        .iter()
        .filter_map(|marker| {
            let i = chart
                .categories
                .iter()
                .position(|c| c == &marker.category)?;
            Some((x_of(i), marker.label.clone()))
        })
        .collect();
    let placed = place_marker_labels(&marker_positions, PLOT_LEFT, WIDTH - PLOT_RIGHT);
    let plot_top = PLOT_TOP + MARKER_ROW * marker_rows(&placed) as f64;
    let bottom = plot_top + plot_height;
    let y_of = |v: f64| bottom - v / top_value * plot_height;

    let mut body = String::new();
    // Grid and y axis.
    for tick in &ticks {
        let y = y_of(*tick);
        let _ = write!(
            body,
            r##"<line x1="{PLOT_LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#d8dde0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - PLOT_RIGHT,
            PLOT_LEFT - 6.0,
            y + 4.0,
            format_number(*tick, tick_decimals(&ticks))
        );
    }
    let _ = write!(
        body,
        r##"<line x1="{PLOT_LEFT}" x2="{:.1}" y1="{bottom:.1}" y2="{bottom:.1}" stroke="#4c6272"/>"##,
        WIDTH - PLOT_RIGHT
    );
    // Category labels.
    let months = chart.x_axis == XAxis::Months;
    for (i, (category, show)) in chart
        .categories
        .iter()
        .zip(label_every(&chart.categories, chart.x_axis, plot_width))
        .enumerate()
    {
        if show {
            let _ = write!(
                body,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{bottom:.1}" y2="{:.1}" stroke="#4c6272"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                bottom + 4.0,
                bottom + FONT + 6.0,
                escape(&short_category(category, months)),
                x = x_of(i)
            );
        }
    }
    // Data.
    if stacked || chart.kind == ChartType::Bar {
        let groups = if stacked {
            1
        } else {
            chart.series.len().max(1)
        };
        let bar_width = (band * 0.8 / groups as f64).max(1.0);
        for i in 0..chart.categories.len() {
            let mut base = 0.0;
            for (s, series) in chart.series.iter().enumerate() {
                let Some(value) = series.values.get(i).copied().flatten() else {
                    continue;
                };
                let (x, y0, y1) = if stacked {
                    let start = base;
                    base += value;
                    (x_of(i) - bar_width / 2.0, y_of(start), y_of(base))
                } else {
                    (
                        x_of(i) - band * 0.4 + bar_width * s as f64,
                        bottom,
                        y_of(value),
                    )
                };
                let _ = write!(
                    body,
                    r##"<rect x="{x:.1}" y="{y1:.1}" width="{bar_width:.1}" height="{:.1}" fill="{}" stroke="#ffffff" stroke-width="0.5"><title>{}, {}: {}</title></rect>"##,
                    (y0 - y1).max(0.0),
                    BAR_FILLS[s % BAR_FILLS.len()],
                    escape(&series.name),
                    escape(&chart.categories[i]),
                    value_text(value)
                );
            }
        }
    } else {
        for (s, series) in chart.series.iter().enumerate() {
            // A suppressed value breaks the line rather than dropping it to zero.
            let mut path = String::new();
            let mut pen_down = false;
            for (i, value) in series.values.iter().enumerate() {
                match value {
                    Some(v) => {
                        let _ = write!(
                            path,
                            "{}{:.1},{:.1} ",
                            if pen_down { "L" } else { "M" },
                            x_of(i),
                            y_of(*v)
                        );
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let dash = DASHES[s % DASHES.len()];
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            };
            let _ = write!(
                body,
                r#"<path d="{}" fill="none" stroke="{}" stroke-width="2.5"{dash_attr}/>"#,
                path.trim_end(),
                LINE_COLOURS[s % LINE_COLOURS.len()]
            );
            // Isolated points would be invisible as a path; mark them.
            for (i, value) in series.values.iter().enumerate() {
                let before = i.checked_sub(1).and_then(|j| series.values[j]);
                let after = series.values.get(i + 1).copied().flatten();
                if let (Some(v), None, None) = (value, before, after) {
                    let _ = write!(
                        body,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                        x_of(i),
                        y_of(*v),
                        LINE_COLOURS[s % LINE_COLOURS.len()]
                    );
                }
            }
        }
    }
    draw_marker_labels(&mut body, &placed, plot_top, bottom);
    // Axis titles.
    let _ = write!(
        body,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        PLOT_LEFT + plot_width / 2.0,
        bottom + 2.0 * FONT + 10.0,
        escape(&chart.x_label)
    );
    let _ = write!(
        body,
        r#"<text transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        plot_top + plot_height / 2.0,
        escape(&chart.units)
    );
    let legend_top = bottom + 3.0 * FONT + 18.0;
    let mut legend_svg = String::new();
    let end = legend(&mut legend_svg, chart, legend_top, &|s, x, y| {
        if stacked || chart.kind == ChartType::Bar {
            format!(
                r##"<rect x="{x:.1}" y="{:.1}" width="18" height="10" fill="{}" stroke="#4c6272" stroke-width="0.5"/>"##,
                y - 5.0,
                BAR_FILLS[s % BAR_FILLS.len()]
            )
        } else {
            let dash = DASHES[s % DASHES.len()];
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            };
            format!(
                r#"<line x1="{x:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{}" stroke-width="2.5"{dash_attr}/>"#,
                x + 18.0,
                LINE_COLOURS[s % LINE_COLOURS.len()]
            )
        }
    });
    let mut out = String::new();
    open_svg(&mut out, chart, end + 4.0);
    out.push_str(&body);
    out.push_str(&legend_svg);
    out.push_str("</svg>");
    out
}

fn tick_decimals(ticks: &[f64]) -> usize {
    if ticks.iter().all(|t| t.fract() == 0.0) {
        0
    } else {
        1
    }
}

/// Horizontal bars, one per category: best for comparing areas.
fn render_bars(chart: &ChartModel) -> String {
    let values: Vec<Option<f64>> = chart
        .series
        .first()
        .map(|s| s.values.clone())
        .unwrap_or_default();
    let label_width = chart
        .categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(4)
        .min(24) as f64
        * FONT
        * 0.55
        + 10.0;
    let left = label_width.max(PLOT_LEFT);
    let right = WIDTH - 60.0;
    let row = 22.0;
    let top = PLOT_TOP;
    let ticks = nice_ticks(values.iter().flatten().copied().fold(0.0, f64::max));
    let top_value = *ticks.last().unwrap_or(&1.0);
    let x_of = |v: f64| left + v / top_value * (right - left);
    let bottom = top + row * chart.categories.len() as f64;
    let mut body = String::new();
    for tick in &ticks {
        let x = x_of(*tick);
        let _ = write!(
            body,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top:.1}" y2="{bottom:.1}" stroke="#d8dde0"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + FONT + 4.0,
            format_number(*tick, tick_decimals(&ticks))
        );
    }
    for (i, category) in chart.categories.iter().enumerate() {
        let y = top + row * i as f64;
        let label: String = category.chars().take(24).collect();
        let _ = write!(
            body,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + row / 2.0 + 4.0,
            escape(&label)
        );
        match values.get(i).copied().flatten() {
            Some(value) => {
                let _ = write!(
                    body,
                    r#"<rect x="{left:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}">{}</text>"#,
                    y + 3.0,
                    (x_of(value) - left).max(0.0),
                    row - 6.0,
                    BAR_FILLS[1],
                    escape(category),
                    value_text(value),
                    x_of(value) + 4.0,
                    y + row / 2.0 + 4.0,
                    value_text(value)
                );
            }
            None => {
                let _ = write!(
                    body,
                    r##"<text x="{:.1}" y="{:.1}" fill="#4c6272">suppressed</text>"##,
                    left + 4.0,
                    y + row / 2.0 + 4.0
                );
            }
        }
    }
    let _ = write!(
        body,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        bottom + 2.0 * FONT + 8.0,
        escape(&chart.units)
    );
    let mut out = String::new();
    open_svg(&mut out, chart, bottom + 2.0 * FONT + 16.0);
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn line_chart() -> ChartModel {
        ChartModel {
            id: "trend".into(),
            kind: ChartType::Line,
            title: "Active plans <London>".into(),
            description: "Monthly".into(),
            x_label: "Month".into(),
            x_axis: XAxis::Months,
            units: "plans".into(),
            categories: vec!["2021-01".into(), "2021-02".into(), "2021-03".into()],
            series: vec![
                Series {
                    name: "London".into(),
                    values: vec![Some(100.0), None, Some(120.0)],
                    decimals: Vec::new(),
                },
                Series {
                    name: "NWL".into(),
                    values: vec![Some(20.0), Some(25.0), Some(30.0)],
                    decimals: Vec::new(),
                },
            ],
            markers: vec![Marker {
                category: "2021-02".into(),
                label: "Programme starts".into(),
            }],
        }
    }

    #[test]
    fn nice_ticks_cover_the_maximum() {
        assert_eq!(
            nice_ticks(115_000.0),
            vec![0.0, 50_000.0, 100_000.0, 150_000.0]
        );
        assert_eq!(nice_ticks(9.0), vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        assert_eq!(nice_ticks(0.0), vec![0.0, 1.0]);
    }

    #[test]
    fn svg_has_escaped_title_and_description() {
        let svg = render_svg(&line_chart());
        assert!(svg.contains(r#"<title id="trend-title">Active plans &lt;London&gt;</title>"#));
        assert!(svg.contains(r#"<desc id="trend-desc">Monthly</desc>"#));
        assert!(svg.contains("Programme starts"));
    }

    #[test]
    fn suppressed_value_breaks_the_line() {
        let svg = render_svg(&line_chart());
        // London's first and third points are separate moves, so two isolated points, no zero.
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(
            !svg.contains("L63.3"),
            "the line must not be drawn through the gap"
        );
    }

    #[test]
    fn series_differ_by_dash_pattern_for_greyscale() {
        let svg = render_svg(&line_chart());
        assert!(svg.contains(r#"stroke-dasharray="8 4""#));
    }

    #[test]
    fn bar_chart_marks_suppressed_values() {
        let chart = ChartModel {
            kind: ChartType::Bar,
            categories: vec!["NWL".into(), "City of London".into()],
            x_axis: XAxis::Categories,
            series: vec![Series {
                name: "rate".into(),
                values: vec![Some(3.5), None],
                decimals: Vec::new(),
            }],
            ..line_chart()
        };
        let svg = render_svg(&chart);
        assert!(svg.contains(">suppressed</text>"));
    }
    /// The marker labels of a rendered chart, as boxes (estimated glyph widths).
    pub(crate) fn marker_label_boxes(svg: &str) -> Vec<(String, LabelBox)> {
        svg.split(r#"<text class="cp-chart__marker" "#)
            .skip(1)
            .map(|rest| {
                let attr = |name: &str| -> f64 {
                    let start = rest.find(&format!(r#"{name}=""#)).unwrap() + name.len() + 2;
                    let end = start + rest[start..].find('"').unwrap();
                    rest[start..end].parse().unwrap()
                };
                let text_start = rest.find('>').unwrap() + 1;
                let text_end = text_start + rest[text_start..].find("</text>").unwrap();
                let text = rest[text_start..text_end].to_owned();
                let b = LabelBox::of_text(attr("x"), attr("y"), "start", &text, SMALL_FONT);
                (text, b)
            })
            .collect()
    }

    /// The y of the plot's top grid line (the highest tick).
    fn plot_top_of(svg: &str) -> f64 {
        svg.split(r##"stroke="#d8dde0""##)
            .filter_map(|before| {
                let start = before.rfind(r#"y1=""#)? + 4;
                let end = start + before[start..].find('"')?;
                before[start..end].parse::<f64>().ok()
            })
            .fold(f64::INFINITY, f64::min)
    }

    fn five_marker_chart() -> ChartModel {
        let categories: Vec<String> = (0..60)
            .map(|i| format!("{}-{:02}", 2019 + i / 12, i % 12 + 1))
            .collect();
        ChartModel {
            categories: categories.clone(),
            series: vec![Series {
                name: "London".into(),
                values: (0..60).map(|i| Some(100.0 + i as f64)).collect(),
                decimals: Vec::new(),
            }],
            markers: ["2021-01", "2021-02", "2021-03", "2021-05", "2021-06"]
                .iter()
                .zip(["NCL", "NEL", "SEL", "SWL", "NWL"])
                .map(|(month, area)| Marker {
                    category: (*month).into(),
                    label: format!("{area} programme starts"),
                })
                .collect(),
            ..line_chart()
        }
    }

    #[test]
    fn five_close_markers_have_labels_that_do_not_overlap() {
        let svg = render_svg(&five_marker_chart());
        let boxes = marker_label_boxes(&svg);
        assert_eq!(boxes.len(), 5);
        for (i, (a, box_a)) in boxes.iter().enumerate() {
            for (b, box_b) in &boxes[i + 1..] {
                assert!(!box_a.intersects(box_b), "{a} overlaps {b}");
            }
        }
        // Above the plot, so never over the data lines, and inside the chart.
        let top = plot_top_of(&svg);
        for (label, b) in &boxes {
            assert!(b.y1 <= top, "{label} reaches into the plot");
            assert!(
                b.y0 >= 0.0 && b.x0 >= 0.0 && b.x1 <= WIDTH,
                "{label} is clipped"
            );
        }
    }

    #[test]
    fn leader_lines_do_not_cross_other_labels() {
        let xs = [300.0, 309.0, 318.0, 336.0, 345.0, 620.0, 630.0];
        let markers: Vec<(f64, String)> =
            xs.iter().map(|x| (*x, format!("Marker at {x}"))).collect();
        let placed = place_marker_labels(&markers, PLOT_LEFT, WIDTH - PLOT_RIGHT);
        let plot_top = 100.0;
        let boxes: Vec<LabelBox> = placed
            .iter()
            .map(|p| {
                let baseline = plot_top - 5.0 - MARKER_ROW * p.row as f64;
                LabelBox::of_text(p.text_x, baseline, "start", &p.label, SMALL_FONT)
            })
            .collect();
        for (i, p) in placed.iter().enumerate() {
            assert!(
                boxes[i].x1 <= WIDTH - PLOT_RIGHT + 0.01,
                "{} runs off the chart",
                p.label
            );
            for (j, q) in placed.iter().enumerate() {
                if i == j {
                    continue;
                }
                assert!(
                    !boxes[i].intersects(&boxes[j]),
                    "{} overlaps {}",
                    p.label,
                    q.label
                );
                // q's leader runs from its row down to the plot: no label below q covers it.
                if p.row < q.row {
                    assert!(
                        !(boxes[i].x0 - 2.0 <= q.x && q.x <= boxes[i].x1 + 2.0),
                        "{}'s leader crosses {}",
                        q.label,
                        p.label
                    );
                }
            }
        }
    }

    #[test]
    fn spread_markers_share_one_row() {
        let markers = vec![
            (100.0, "A starts".to_owned()),
            (400.0, "B starts".to_owned()),
        ];
        let placed = place_marker_labels(&markers, PLOT_LEFT, WIDTH - PLOT_RIGHT);
        assert_eq!(marker_rows(&placed), 1);
        assert_eq!(marker_rows(&[]), 0);
    }

    #[test]
    fn charts_are_wide_enough_for_sixty_months() {
        let svg = render_svg(&five_marker_chart());
        assert!(svg.contains(r#"viewBox="0 0 640 "#));
        assert!(svg.contains(r#"class="cp-chart""#));
        // Years are labelled once each, at January.
        for year in ["2019", "2020", "2021", "2022", "2023"] {
            assert!(svg.contains(&format!(">{year}</text>")), "{year}");
        }
    }

    #[test]
    fn ticks_between_cover_the_range_with_nice_steps() {
        assert_eq!(
            nice_ticks_between(85.0, 95.0),
            vec![85.0, 87.5, 90.0, 92.5, 95.0]
        );
        assert_eq!(
            nice_ticks_between(0.0, 210.0),
            vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]
        );
        let ticks = nice_ticks_between(-3.2, 17.9);
        assert!(ticks[0] <= -3.2 && *ticks.last().unwrap() >= 17.9);
        assert!((3..=7).contains(&ticks.len()), "{ticks:?}");
        // A flat series still gets an axis.
        let flat = nice_ticks_between(50.0, 50.0);
        assert!(flat[0] < 50.0 && *flat.last().unwrap() > 50.0);
        assert_eq!(nice_ticks_between(f64::NAN, 1.0), vec![0.0, 1.0]);
    }

    #[test]
    fn axes_start_at_zero_unless_the_data_are_far_from_it() {
        assert!(axis_from_zero(0.0, 40.0));
        assert!(axis_from_zero(90.0, 210.0));
        assert!(!axis_from_zero(85.0, 95.0));
        assert!(axis_from_zero(-5.0, 10.0));
        assert_eq!(ticks_decimals(&[0.0, 2.5, 5.0]), 1);
        assert_eq!(ticks_decimals(&[0.0, 0.25, 0.5]), 2);
        assert_eq!(ticks_decimals(&[0.0, 50.0]), 0);
    }

    #[test]
    fn months_are_named() {
        assert_eq!(month_name("2021-02", false), "Feb 2021");
        assert_eq!(month_name("2021-02", true), "February 2021");
        assert_eq!(month_name("Barnet", true), "Barnet");
    }

    #[test]
    fn shapes_differ() {
        let shapes = [
            Shape::Circle,
            Shape::TriangleUp,
            Shape::TriangleDown,
            Shape::Square,
            Shape::Diamond,
        ]
        .map(|shape| shape_svg(shape, 10.0, 10.0, 4.0, "#000000", None));
        for (i, a) in shapes.iter().enumerate() {
            for b in &shapes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Up points up: its tip is above the centre.
        assert!(
            shapes[1].starts_with(r#"<path d="M10.0,4.4"#),
            "{}",
            shapes[1]
        );
        assert!(
            shapes[2].starts_with(r#"<path d="M10.0,15.6"#),
            "{}",
            shapes[2]
        );
    }
    #[test]
    fn crowded_markers_never_overlap_and_placement_ends() {
        // Twelve markers, some with long labels crowded at either edge.
        let mut seed = 17u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..50 {
            let markers: Vec<(f64, String)> = (0..12)
                .map(|i| {
                    let x = PLOT_LEFT + next() * (WIDTH - PLOT_LEFT - PLOT_RIGHT);
                    (x, "Long programme name ".repeat(1 + i % 3))
                })
                .collect();
            let placed = place_marker_labels(&markers, PLOT_LEFT, WIDTH - PLOT_RIGHT);
            assert_eq!(placed.len(), markers.len());
            assert!(marker_rows(&placed) <= markers.len());
            let boxes: Vec<LabelBox> = placed
                .iter()
                .map(|p| {
                    LabelBox::of_text(p.text_x, p.baseline(200.0), "start", &p.label, SMALL_FONT)
                })
                .collect();
            for i in 0..boxes.len() {
                for j in i + 1..boxes.len() {
                    assert!(!boxes[i].intersects(&boxes[j]));
                }
            }
        }
    }
}
