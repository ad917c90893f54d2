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

const WIDTH: f64 = 440.0;
const PLOT_LEFT: f64 = 70.0;
const PLOT_RIGHT: f64 = 12.0;
const PLOT_TOP: f64 = 14.0;
const FONT: f64 = 12.0;

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

/// Which category labels to print so they do not overlap: every year's January for months,
/// otherwise evenly spaced.
fn label_every(categories: &[String], axis: XAxis, room: f64) -> Vec<bool> {
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

fn short_category(category: &str, months: bool) -> String {
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
    let id = escape(&chart.id);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="cp-chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-title {id}-desc" font-family="Arial, sans-serif" font-size="{FONT}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(&chart.title),
        escape(&chart.description)
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
    let bottom = PLOT_TOP + plot_height;
    let stacked = chart.kind == ChartType::StackedBar;
    let ticks = nice_ticks(max_value(chart, stacked));
    let top_value = *ticks.last().unwrap_or(&1.0);
    let plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT;
    let n = chart.categories.len().max(1);
    let band = plot_width / n as f64;
    let x_of = |i: usize| PLOT_LEFT + band * (i as f64 + 0.5);
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
    for marker in &chart.markers {
        if let Some(i) = chart.categories.iter().position(|c| c == &marker.category) {
            let x = x_of(i);
            let _ = write!(
                body,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{PLOT_TOP}" y2="{bottom:.1}" stroke="#4c6272" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"##,
                x + 3.0,
                PLOT_TOP + 10.0,
                escape(&marker.label)
            );
        }
    }
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
        PLOT_TOP + plot_height / 2.0,
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
mod tests {
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
}
