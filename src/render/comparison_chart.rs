//! Benchmark comparisons in the style of OHID Fingertips, as inline SVG: a comparison chart
//! (one row per area: its value, 95% and 99.8% confidence intervals, and the comparator) and
//! a funnel plot (Spiegelhalter 2005: each area's rate against its population, inside 95% and
//! 99.8% control limits around the comparator).
//!
//! Both charts tell comparisons apart by marker shape and fill, never by colour alone:
//!
//! | comparison with the comparator          | marker                                       |
//! |-----------------------------------------|----------------------------------------------|
//! | similar (interval includes it)          | circle, light grey `#d8dde0`, dark outline   |
//! | higher at 95% but not 99.8%             | open triangle pointing up, dark blue outline |
//! | higher at 99.8% (so also at 95%)        | filled triangle pointing up, dark blue       |
//! | lower at 95% but not 99.8%              | open triangle pointing down, blue outline    |
//! | lower at 99.8% (so also at 95%)         | filled triangle pointing down, light blue    |
//!
//! Comparison chart: the 95% interval is a thick grey bar, the 99.8% interval a thin black
//! line with end caps, the comparator a vertical black line labelled with its name and value.
//! Funnel plot: the comparator a solid line, the 95% limits dashed, the 99.8% limits dotted.
//! The legend says all of this in words; the `<desc>` lists which areas differ.

use std::fmt::Write as _;

use crate::analyse::intervals::{Comparison, FunnelLimits, FunnelSignificance, funnel_limits_rate};

use super::chart::{
    FONT, GRID, LabelBox, LegendEntry, PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, SMALL_FONT, Shape,
    TEXT_GREY, WIDTH, axis_from_zero, draw_legend, nice_ticks_between, open_svg_element, shape_svg,
    text_width, ticks_decimals,
};
use super::format::{capitalise, escape, format_number};

/// Marker fills and outlines (NHS palette).
const HIGHER: &str = "#003087";
const LOWER: &str = "#41b6e6";
const LOWER_INK: &str = "#005eb8";
const SIMILAR: &str = "#d8dde0";
const OUTLINE: &str = "#212b32";
/// Thick bar of the 95% interval.
const CI95: &str = "#768692";
/// Alternate row shading, NHS grey 4: visible on white and on the page's grey (#f0f4f5).
const STRIPE: &str = "#e8edee";
const MARKER_RADIUS: f64 = 5.0;

/// One area of a comparison chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonItem {
    pub label: String,
    pub value: f64,
    /// 95% confidence interval (lower, upper).
    pub ci95: (f64, f64),
    /// 99.8% confidence interval (lower, upper).
    pub ci998: (f64, f64),
    /// Against the comparator at 95% (`intervals::compare` of the 95% interval).
    pub comparison: Comparison,
    /// Against the comparator at 99.8%: filled markers. Fingertips shows both levels.
    pub comparison_998: Comparison,
}

/// Areas against a comparator, one row each, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonChart {
    /// Unique within the page: used for SVG ids.
    pub id: String,
    pub title: String,
    pub description: String,
    /// What the values are, with units: the x axis title.
    pub units: String,
    pub comparator: f64,
    /// Whose value the comparator is, e.g. "London".
    pub comparator_label: String,
    pub items: Vec<ComparisonItem>,
    /// Decimals the values can honestly show (the page's precision rule); without, whole
    /// numbers from 100 and one decimal below.
    pub decimals: Option<usize>,
}

/// Significance of one area in a funnel plot, as a 95% comparison and whether it also holds
/// at 99.8%.
fn levels(significance: FunnelSignificance) -> (Comparison, bool) {
    match significance {
        FunnelSignificance::High99_8 => (Comparison::Higher, true),
        FunnelSignificance::High95 => (Comparison::Higher, false),
        FunnelSignificance::Low99_8 => (Comparison::Lower, true),
        FunnelSignificance::Low95 => (Comparison::Lower, false),
        FunnelSignificance::NotSignificant => (Comparison::Similar, false),
    }
}

/// The marker for a comparison: shape by direction, filled when it holds at 99.8%.
fn comparison_marker(comparison: Comparison, at_998: bool, x: f64, y: f64) -> String {
    let r = MARKER_RADIUS;
    match (comparison, at_998) {
        (Comparison::Similar, _) => {
            shape_svg(Shape::Circle, x, y, r * 0.9, SIMILAR, Some((OUTLINE, 1.2)))
        }
        (Comparison::Higher, true) => {
            shape_svg(Shape::TriangleUp, x, y, r, HIGHER, Some((OUTLINE, 1.0)))
        }
        (Comparison::Higher, false) => {
            shape_svg(Shape::TriangleUp, x, y, r, "#ffffff", Some((HIGHER, 1.8)))
        }
        (Comparison::Lower, true) => {
            shape_svg(Shape::TriangleDown, x, y, r, LOWER, Some((OUTLINE, 1.0)))
        }
        (Comparison::Lower, false) => shape_svg(
            Shape::TriangleDown,
            x,
            y,
            r,
            "#ffffff",
            Some((LOWER_INK, 1.8)),
        ),
    }
}

fn comparison_words(comparison: Comparison, at_998: bool, comparator: &str) -> String {
    match (comparison, at_998) {
        (Comparison::Similar, _) => format!("similar to {comparator}"),
        (Comparison::Higher, true) => format!("higher than {comparator} (99.8% level)"),
        (Comparison::Higher, false) => format!("higher than {comparator} (95% level only)"),
        (Comparison::Lower, true) => format!("lower than {comparator} (99.8% level)"),
        (Comparison::Lower, false) => format!("lower than {comparator} (95% level only)"),
    }
}

/// Legend entries for the five markers.
fn marker_legend(comparator: &str) -> Vec<LegendEntry> {
    [
        (
            Comparison::Similar,
            false,
            format!("Similar to {comparator}"),
        ),
        (Comparison::Higher, false, "Higher (95%)".to_owned()),
        (Comparison::Higher, true, "Higher (99.8%)".to_owned()),
        (Comparison::Lower, false, "Lower (95%)".to_owned()),
        (Comparison::Lower, true, "Lower (99.8%)".to_owned()),
    ]
    .into_iter()
    .map(|(comparison, at_998, label)| LegendEntry {
        swatch: comparison_marker(comparison, at_998, 9.0, 0.0),
        label,
    })
    .collect()
}

/// Decimals for values: whole numbers from 100, one decimal below.
fn decimals_for(values: impl Iterator<Item = f64>) -> usize {
    let max = values
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    if max >= 100.0 { 0 } else { 1 }
}

/// Ticks over `low..=high`, from zero unless every value is far from it.
fn axis_ticks(low: f64, high: f64) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite()) {
        return vec![0.0, 1.0];
    }
    if axis_from_zero(low, high) && low >= 0.0 {
        nice_ticks_between(0.0, high)
    } else {
        nice_ticks_between(low, high)
    }
}

fn truncate(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let mut short: String = label.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

/// Renders the comparison chart: rows of areas with their intervals and the comparator line.
/// The height grows with the rows (20 units each), so 33 boroughs fit.
pub fn render_comparison_svg(c: &ComparisonChart) -> String {
    let row = 20.0;
    let max_label = 26;
    let decimals = c.decimals.unwrap_or_else(|| {
        decimals_for(
            c.items
                .iter()
                .map(|i| i.value)
                .chain(std::iter::once(c.comparator)),
        )
    });
    let number = |v: f64| format_number(v, decimals);
    let label_width = c
        .items
        .iter()
        .map(|i| text_width(&truncate(&i.label, max_label), FONT))
        .fold(0.0, f64::max);
    let left = (label_width + 16.0).max(PLOT_LEFT);
    let value_width = c
        .items
        .iter()
        .map(|i| text_width(&number(i.value), FONT))
        .fold(text_width("Value", FONT), f64::max);
    let right = WIDTH - PLOT_RIGHT - value_width - 10.0;

    // Legend at the top: a reader meets it before 33 rows.
    let mut legend_entries = marker_legend(&c.comparator_label);
    legend_entries.push(LegendEntry {
        swatch: format!(r#"<line x1="0" x2="18" y1="0" y2="0" stroke="{CI95}" stroke-width="6"/>"#),
        label: "95% confidence interval".to_owned(),
    });
    legend_entries.push(LegendEntry {
        swatch: format!(
            r#"<path d="M1,-4 V4 M1,0 H17 M17,-4 V4" fill="none" stroke="{OUTLINE}" stroke-width="1"/>"#
        ),
        label: "99.8% confidence interval".to_owned(),
    });
    legend_entries.push(LegendEntry {
        swatch: format!(
            r#"<line x1="9" x2="9" y1="-7" y2="7" stroke="{OUTLINE}" stroke-width="1.5"/>"#
        ),
        label: c.comparator_label.clone(),
    });
    let mut body = String::new();
    let legend_end = draw_legend(
        &mut body,
        &legend_entries,
        12.0,
        WIDTH - PLOT_RIGHT,
        PLOT_TOP,
    );

    // Scale over values, intervals and the comparator.
    let mut low = c.comparator;
    let mut high = c.comparator;
    for item in &c.items {
        for v in [
            item.value,
            item.ci95.0,
            item.ci95.1,
            item.ci998.0,
            item.ci998.1,
        ] {
            if v.is_finite() {
                low = low.min(v);
                high = high.max(v);
            }
        }
    }
    let ticks = axis_ticks(low, high);
    let (x_min, x_max) = (ticks[0], *ticks.last().unwrap_or(&1.0));
    let x_of = |v: f64| left + (v - x_min) / (x_max - x_min) * (right - left);
    let comparator_row = legend_end + 6.0;
    let top_ticks = comparator_row + FONT + 8.0;
    let rows_top = top_ticks + 6.0;
    let rows_bottom = rows_top + row * c.items.len() as f64;
    let tick_decimals = ticks_decimals(&ticks);

    // Row shading, then grid, then rows, then the comparator on top.
    for i in (1..c.items.len()).step_by(2) {
        let _ = write!(
            body,
            r#"<rect x="12" y="{:.1}" width="{:.1}" height="{row}" fill="{STRIPE}"/>"#,
            rows_top + row * i as f64,
            WIDTH - PLOT_RIGHT - 12.0
        );
    }
    for tick in &ticks {
        let x = x_of(*tick);
        let text = format_number(*tick, tick_decimals);
        let _ = write!(
            body,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{rows_top:.1}" y2="{rows_bottom:.1}" stroke="{GRID}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{text}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle">{text}</text>"##,
            top_ticks,
            rows_bottom + FONT + 4.0,
        );
    }
    let _ = write!(
        body,
        r#"<text x="{:.1}" y="{top_ticks:.1}" text-anchor="end" font-weight="700">Value</text>"#,
        WIDTH - PLOT_RIGHT
    );
    // The comparator under the rows' marks, so that no marker is hidden.
    if c.comparator.is_finite() {
        let x = x_of(c.comparator);
        let text = format!("{}: {}", c.comparator_label, number(c.comparator));
        // Keep the label inside the chart.
        let w = text_width(&text, FONT);
        let text_x = x.clamp(left + w / 2.0, right - w / 2.0);
        let _ = write!(
            body,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{rows_bottom:.1}" stroke="{OUTLINE}" stroke-width="1.5"/><text x="{text_x:.1}" y="{comparator_row:.1}" text-anchor="middle" font-weight="700">{}</text>"#,
            comparator_row + 3.0,
            escape(&text)
        );
    }
    for (i, item) in c.items.iter().enumerate() {
        let y = rows_top + row * i as f64 + row / 2.0;
        let label = truncate(&item.label, max_label);
        let at_998 =
            item.comparison != Comparison::Similar && item.comparison_998 == item.comparison;
        let _ = write!(
            body,
            r#"<g class="cp-comparison__row" data-comparison="{}"><title>{}: {} (95% interval {} to {}; 99.8% interval {} to {}), {}</title><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            item.comparison.id(),
            escape(&item.label),
            number(item.value),
            number(item.ci95.0),
            number(item.ci95.1),
            number(item.ci998.0),
            number(item.ci998.1),
            comparison_words(item.comparison, at_998, &c.comparator_label),
            left - 8.0,
            y + 4.0,
            escape(&label)
        );
        let (l998, u998) = item.ci998;
        if l998.is_finite() && u998.is_finite() {
            let (a, b) = (x_of(l998), x_of(u998));
            let _ = write!(
                body,
                r#"<path d="M{a:.1},{:.1} V{:.1} M{a:.1},{y:.1} H{b:.1} M{b:.1},{:.1} V{:.1}" fill="none" stroke="{OUTLINE}" stroke-width="1"/>"#,
                y - 4.0,
                y + 4.0,
                y - 4.0,
                y + 4.0
            );
        }
        let (l95, u95) = item.ci95;
        if l95.is_finite() && u95.is_finite() {
            let _ = write!(
                body,
                r#"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{CI95}" stroke-width="6"/>"#,
                x_of(l95),
                x_of(u95)
            );
        }
        if item.value.is_finite() {
            body.push_str(&comparison_marker(
                item.comparison,
                at_998,
                x_of(item.value),
                y,
            ));
            let _ = write!(
                body,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                WIDTH - PLOT_RIGHT,
                y + 4.0,
                number(item.value)
            );
        }
        body.push_str("</g>");
    }
    let _ = write!(
        body,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        rows_bottom + 2.0 * FONT + 10.0,
        escape(&c.units)
    );
    let mut out = String::new();
    open_svg_element(
        &mut out,
        &c.id,
        WIDTH,
        rows_bottom + 2.0 * FONT + 18.0,
        &c.title,
        &describe_comparison(c),
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// The comparison chart's `<desc>`: the page's words, the comparator and which areas differ.
pub fn describe_comparison(c: &ComparisonChart) -> String {
    let decimals = c.decimals.unwrap_or_else(|| {
        decimals_for(
            c.items
                .iter()
                .map(|i| i.value)
                .chain(std::iter::once(c.comparator)),
        )
    });
    let mut parts = Vec::new();
    if !c.description.trim().is_empty() {
        parts.push(c.description.trim().to_owned());
    }
    parts.push(format!(
        "{} areas compared with {} ({}), using 95% and 99.8% confidence intervals.",
        c.items.len(),
        c.comparator_label,
        format_number(c.comparator, decimals)
    ));
    let names = |comparison: Comparison, at_998: bool| -> Vec<String> {
        c.items
            .iter()
            .filter(|i| i.comparison == comparison && (i.comparison_998 == i.comparison) == at_998)
            .map(|i| i.label.clone())
            .collect()
    };
    let groups = [
        (Comparison::Higher, true, "Higher at the 99.8% level"),
        (Comparison::Higher, false, "Higher at the 95% level only"),
        (Comparison::Lower, true, "Lower at the 99.8% level"),
        (Comparison::Lower, false, "Lower at the 95% level only"),
    ];
    for (comparison, at_998, words) in groups {
        let list = names(comparison, at_998);
        if !list.is_empty() {
            parts.push(format!("{words}: {}.", list.join(", ")));
        }
    }
    let similar = c
        .items
        .iter()
        .filter(|i| i.comparison == Comparison::Similar)
        .count();
    parts.push(format!(
        "{similar} {} similar to {}.",
        if similar == 1 { "area is" } else { "areas are" },
        c.comparator_label
    ));
    parts.join(" ")
}

// ---------------------------------------------------------------------------
// Funnel plot
// ---------------------------------------------------------------------------

/// One area of a funnel plot.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelPoint {
    pub label: String,
    /// Population (the x axis).
    pub denominator: f64,
    /// Rate per the chart's multiplier (the y axis).
    pub rate: f64,
    /// From `intervals::funnel_significance_rate` (or `FunnelLimits::classify`).
    pub significance: FunnelSignificance,
}

/// A funnel plot: areas' rates against their populations, with control limits.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelChart {
    /// Unique within the page: used for SVG ids.
    pub id: String,
    pub title: String,
    pub description: String,
    /// What the rate is, with units ("Plans per 1,000 people"): the y axis title.
    pub units: String,
    /// The x axis title ("Population (registered patients)").
    pub x_label: String,
    pub comparator: f64,
    /// Whose rate the comparator is, e.g. "London": labels its line.
    pub comparator_label: String,
    pub points: Vec<FunnelPoint>,
    /// Limits at increasing denominators, drawn as lines through them: see
    /// [`funnel_limit_curve`].
    pub limits: Vec<(f64, FunnelLimits)>,
    /// As [`ComparisonChart::decimals`].
    pub decimals: Option<usize>,
}

/// Funnel limits at `steps` denominators spaced evenly on a log scale from `from` to `to`
/// (both > 0), from `intervals::funnel_limits_rate`: smooth enough to draw as lines.
pub fn funnel_limit_curve(
    comparator_rate: f64,
    multiplier: f64,
    from: f64,
    to: f64,
    steps: usize,
) -> Vec<(f64, FunnelLimits)> {
    if !(from > 0.0 && to > from && steps >= 2) {
        return Vec::new();
    }
    let (a, b) = (from.ln(), to.ln());
    (0..steps)
        .filter_map(|i| {
            let denominator = (a + (b - a) * i as f64 / (steps - 1) as f64).exp();
            funnel_limits_rate(comparator_rate, denominator, multiplier).map(|l| (denominator, l))
        })
        .collect()
}

/// Renders the funnel plot. Areas outside the 95% limits are labelled where the label fits
/// without covering another label or marker; the `<desc>` names them all.
pub fn render_funnel_svg(f: &FunnelChart) -> String {
    let plot_height = 300.0;
    let plot_top = PLOT_TOP + 6.0;
    let bottom = plot_top + plot_height;
    let decimals = f.decimals.unwrap_or_else(|| {
        decimals_for(
            f.points
                .iter()
                .map(|p| p.rate)
                .chain(std::iter::once(f.comparator)),
        )
    });

    // x from 0 to the largest population; y over the rates, the comparator and the limits
    // within the populations plotted (the funnel's mouth at tiny populations would squash
    // the data, so it is clipped).
    let max_x = f
        .points
        .iter()
        .map(|p| p.denominator)
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max);
    let x_ticks = nice_ticks_between(0.0, max_x.max(1.0));
    let x_max = *x_ticks.last().unwrap_or(&1.0);
    let xd = ticks_decimals(&x_ticks);
    // The last tick's label is centred on the plot's right edge: leave it room.
    let last_label = text_width(&format_number(x_max, xd), FONT);
    let (left, right) = (PLOT_LEFT, WIDTH - PLOT_RIGHT.max(last_label / 2.0 + 4.0));
    let min_x = f
        .points
        .iter()
        .map(|p| p.denominator)
        .filter(|d| d.is_finite() && *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let mut low = f.comparator;
    let mut high = f.comparator;
    for p in &f.points {
        if p.rate.is_finite() {
            low = low.min(p.rate);
            high = high.max(p.rate);
        }
    }
    for (d, l) in &f.limits {
        if *d >= min_x && *d <= x_max {
            for v in [l.lower_99_8, l.upper_99_8] {
                if v.is_finite() {
                    low = low.min(v);
                    high = high.max(v);
                }
            }
        }
    }
    let y_ticks = axis_ticks(low, high);
    let (y_min, y_max) = (y_ticks[0], *y_ticks.last().unwrap_or(&1.0));
    let x_of = |v: f64| left + v / x_max * (right - left);
    let y_of = |v: f64| bottom - (v - y_min) / (y_max - y_min) * plot_height;

    let id = escape(&f.id);
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<defs><clipPath id="{id}-plot"><rect x="{left}" y="{plot_top:.1}" width="{:.1}" height="{plot_height}"/></clipPath></defs>"#,
        right - left
    );
    let yd = ticks_decimals(&y_ticks);
    for tick in &y_ticks {
        let y = y_of(*tick);
        let _ = write!(
            body,
            r##"<line x1="{left}" x2="{right:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{GRID}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left - 6.0,
            y + 4.0,
            format_number(*tick, yd)
        );
    }
    for tick in &x_ticks {
        let x = x_of(*tick);
        let _ = write!(
            body,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{bottom:.1}" y2="{:.1}" stroke="{TEXT_GREY}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 4.0,
            bottom + FONT + 6.0,
            format_number(*tick, xd)
        );
    }
    let _ = write!(
        body,
        r##"<line x1="{left}" x2="{right:.1}" y1="{bottom:.1}" y2="{bottom:.1}" stroke="{TEXT_GREY}"/><line x1="{left}" x2="{left}" y1="{plot_top:.1}" y2="{bottom:.1}" stroke="{TEXT_GREY}"/>"##
    );
    // Limits, clipped to the plot.
    let mut sorted: Vec<&(f64, FunnelLimits)> = f
        .limits
        .iter()
        .filter(|(d, _)| d.is_finite() && *d > 0.0)
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let curve = |pick: &dyn Fn(&FunnelLimits) -> f64| -> String {
        let mut path = String::new();
        let mut pen_down = false;
        for (d, l) in &sorted {
            let v = pick(l);
            if v.is_finite() {
                // Keep far-off values finite for the renderer; the clip hides them.
                let y = y_of(v).clamp(-10_000.0, 10_000.0);
                let _ = write!(
                    path,
                    "{}{:.1},{y:.1} ",
                    if pen_down { "L" } else { "M" },
                    x_of(*d)
                );
                pen_down = true;
            } else {
                pen_down = false;
            }
        }
        path.trim_end().to_owned()
    };
    let _ = write!(body, r#"<g clip-path="url(#{id}-plot)" fill="none">"#);
    for (pick, dash, colour) in [
        (
            &(|l: &FunnelLimits| l.lower_95) as &dyn Fn(&FunnelLimits) -> f64,
            "6 4",
            TEXT_GREY,
        ),
        (&|l: &FunnelLimits| l.upper_95, "6 4", TEXT_GREY),
        (&|l: &FunnelLimits| l.lower_99_8, "2 3", OUTLINE),
        (&|l: &FunnelLimits| l.upper_99_8, "2 3", OUTLINE),
    ] {
        let d = curve(pick);
        if !d.is_empty() {
            let _ = write!(
                body,
                r#"<path d="{d}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="{dash}"/>"#
            );
        }
    }
    if f.comparator.is_finite() {
        let y = y_of(f.comparator);
        let _ = write!(
            body,
            r#"<line x1="{left}" x2="{right:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{OUTLINE}" stroke-width="1.5"/>"#
        );
    }
    body.push_str("</g>");

    // Markers, then labels for the areas outside the 95% limits where they fit.
    let mut taken: Vec<LabelBox> = Vec::new();
    let positions: Vec<Option<(f64, f64)>> = f
        .points
        .iter()
        .map(|p| {
            (p.denominator.is_finite() && p.rate.is_finite())
                .then(|| (x_of(p.denominator), y_of(p.rate)))
        })
        .collect();
    for (p, position) in f.points.iter().zip(&positions) {
        let Some((x, y)) = *position else { continue };
        let (comparison, at_998) = levels(p.significance);
        let _ = write!(
            body,
            r#"<g class="cp-funnel__point" data-significance="{}"><title>{}: {} per population of {}, {}</title>{}</g>"#,
            comparison.id(),
            escape(&p.label),
            format_number(p.rate, decimals),
            format_number(p.denominator, 0),
            comparison_words(comparison, at_998, &f.comparator_label),
            comparison_marker(comparison, at_998, x, y)
        );
        // The marker's extent: a triangle's tip is 1.4 radii from its centre.
        taken.push(LabelBox {
            x0: x - MARKER_RADIUS * 1.25,
            x1: x + MARKER_RADIUS * 1.25,
            y0: y - MARKER_RADIUS * 1.45,
            y1: y + MARKER_RADIUS * 1.45,
        });
    }
    // The comparator's label just above or below its line, at the right or the left end,
    // wherever it covers no marker (the legend names the line too).
    if f.comparator.is_finite() {
        let y = y_of(f.comparator);
        let text = format!(
            "{}: {}",
            f.comparator_label,
            format_number(f.comparator, decimals)
        );
        let candidates = [
            (right - 4.0, y - 5.0, "end"),
            (right - 4.0, y + SMALL_FONT + 3.0, "end"),
            (left + 4.0, y - 5.0, "start"),
            (left + 4.0, y + SMALL_FONT + 3.0, "start"),
        ];
        let fits = candidates.iter().find_map(|&(tx, ty, anchor)| {
            let b = LabelBox::of_text(tx, ty, anchor, &text, SMALL_FONT);
            let inside = b.y0 >= plot_top && b.y1 <= bottom;
            (inside && !taken.iter().any(|t| t.intersects(&b.grown(1.0))))
                .then_some((tx, ty, anchor, b))
        });
        if let Some((tx, ty, anchor, b)) = fits {
            taken.push(b);
            let _ = write!(
                body,
                r##"<text x="{tx:.1}" y="{ty:.1}" text-anchor="{anchor}" font-size="{SMALL_FONT}" font-weight="700" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                escape(&text)
            );
        }
    }
    let plot_box = LabelBox {
        x0: left + 1.0,
        x1: right - 1.0,
        y0: plot_top + 1.0,
        y1: bottom - 1.0,
    };
    let mut order: Vec<usize> = (0..f.points.len())
        .filter(|&i| f.points[i].significance != FunnelSignificance::NotSignificant)
        .collect();
    // Most significant first: they get the first pick of places.
    order.sort_by_key(|&i| {
        matches!(
            f.points[i].significance,
            FunnelSignificance::High95 | FunnelSignificance::Low95
        )
    });
    for i in order {
        let Some((x, y)) = positions[i] else { continue };
        let text = &f.points[i].label;
        let gap = MARKER_RADIUS + 3.0;
        let candidates = [
            (x + gap, y + 4.0, "start"),
            (x - gap, y + 4.0, "end"),
            (x, y - gap - 1.0, "middle"),
            (x, y + gap + SMALL_FONT - 1.0, "middle"),
        ];
        let fits = candidates.iter().find_map(|&(tx, ty, anchor)| {
            let b = LabelBox::of_text(tx, ty, anchor, text, SMALL_FONT);
            let inside = b.x0 >= plot_box.x0
                && b.x1 <= plot_box.x1
                && b.y0 >= plot_box.y0
                && b.y1 <= plot_box.y1;
            (inside && !taken.iter().any(|t| t.intersects(&b.grown(1.0))))
                .then_some((tx, ty, anchor, b))
        });
        if let Some((tx, ty, anchor, b)) = fits {
            taken.push(b);
            let _ = write!(
                body,
                r##"<text class="cp-funnel__label" x="{tx:.1}" y="{ty:.1}" text-anchor="{anchor}" font-size="{SMALL_FONT}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                escape(text)
            );
        }
    }
    // Axis titles and legend.
    let _ = write!(
        body,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        bottom + 2.0 * FONT + 10.0,
        escape(&f.x_label),
        plot_top + plot_height / 2.0,
        escape(&f.units)
    );
    let mut entries = marker_legend(&f.comparator_label);
    let line = |colour: &str, dash: &str, label: String| LegendEntry {
        swatch: format!(
            r#"<line x1="0" x2="18" y1="0" y2="0" stroke="{colour}" stroke-width="1.5"{}/>"#,
            if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            }
        ),
        label,
    };
    entries.push(line(OUTLINE, "", f.comparator_label.clone()));
    entries.push(line(TEXT_GREY, "6 4", "95% limits".to_owned()));
    entries.push(line(OUTLINE, "2 3", "99.8% limits".to_owned()));
    let end = draw_legend(
        &mut body,
        &entries,
        left,
        WIDTH - PLOT_RIGHT,
        bottom + 3.0 * FONT + 18.0,
    );
    let mut out = String::new();
    open_svg_element(
        &mut out,
        &f.id,
        WIDTH,
        end + 4.0,
        &f.title,
        &describe_funnel(f),
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// The funnel plot's `<desc>`: the page's words, how many areas lie outside each limit, and
/// which.
pub fn describe_funnel(f: &FunnelChart) -> String {
    let decimals = f.decimals.unwrap_or_else(|| {
        decimals_for(
            f.points
                .iter()
                .map(|p| p.rate)
                .chain(std::iter::once(f.comparator)),
        )
    });
    let count = |s: FunnelSignificance| f.points.iter().filter(|p| p.significance == s).count();
    let names = |s: FunnelSignificance| -> Vec<String> {
        f.points
            .iter()
            .filter(|p| p.significance == s)
            .map(|p| p.label.clone())
            .collect()
    };
    let (h998, h95) = (
        count(FunnelSignificance::High99_8),
        count(FunnelSignificance::High95),
    );
    let (l998, l95) = (
        count(FunnelSignificance::Low99_8),
        count(FunnelSignificance::Low95),
    );
    let within = count(FunnelSignificance::NotSignificant);
    let areas = |n: usize| {
        if n == 1 {
            "1 area".to_owned()
        } else {
            format!("{n} areas")
        }
    };
    let mut parts = Vec::new();
    if !f.description.trim().is_empty() {
        parts.push(f.description.trim().to_owned());
    }
    parts.push(format!(
        "Funnel plot of {}: each area's rate against its population, with 95% and 99.8% control limits around the rate for {} ({}).",
        areas(f.points.len()),
        f.comparator_label,
        format_number(f.comparator, decimals)
    ));
    parts.push(format!(
        "{} outside the 95% limits ({} above, {} below); {} of them also outside the 99.8% limits ({} above, {} below); {} within the 95% limits.",
        capitalise(&areas(h998 + h95 + l998 + l95)),
        h998 + h95,
        l998 + l95,
        h998 + l998,
        h998,
        l998,
        within
    ));
    for (s, words) in [
        (FunnelSignificance::High99_8, "Above the upper 99.8% limit"),
        (FunnelSignificance::High95, "Above the upper 95% limit only"),
        (FunnelSignificance::Low99_8, "Below the lower 99.8% limit"),
        (FunnelSignificance::Low95, "Below the lower 95% limit only"),
    ] {
        let list = names(s);
        if !list.is_empty() {
            parts.push(format!("{words}: {}.", list.join(", ")));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::intervals::{funnel_significance_rate, pooled_rate, rate_interval};

    /// 33 areas: populations from 8,000 to 400,000, rates around 4 per 1,000 with some far off.
    fn areas() -> Vec<(String, f64, f64)> {
        (0..33)
            .map(|i| {
                let population = 8_000.0 + 12_000.0 * i as f64;
                let mut rate = 4.0 + [0.1, -0.2, 0.15, -0.05, 0.0][i % 5];
                if i % 8 == 3 {
                    rate *= 1.4;
                }
                if i % 10 == 7 {
                    rate *= 0.7;
                }
                let name = if i == 0 {
                    "A borough with a very long name indeed, & more".to_owned()
                } else {
                    format!("Area {i}")
                };
                (name, population, (rate * population / 1_000.0).round())
            })
            .collect()
    }

    fn comparison_chart() -> ComparisonChart {
        let areas = areas();
        let events: Vec<f64> = areas.iter().map(|a| a.2).collect();
        let people: Vec<f64> = areas.iter().map(|a| a.1).collect();
        let london = pooled_rate(&events, &people, 1_000.0);
        ComparisonChart {
            id: "cmp".into(),
            title: "Rates <by area>".into(),
            description: "Plans per 1,000.".into(),
            units: "Plans per 1,000 people".into(),
            comparator: london,
            comparator_label: "London".into(),
            items: areas
                .iter()
                .map(|(name, n, x)| {
                    let r95 = rate_interval(*x, *n, 0.95, 1_000.0).unwrap();
                    let r998 = rate_interval(*x, *n, 0.998, 1_000.0).unwrap();
                    ComparisonItem {
                        label: name.clone(),
                        value: r95.value,
                        ci95: (r95.lower, r95.upper),
                        ci998: (r998.lower, r998.upper),
                        comparison: r95.compare(london),
                        comparison_998: r998.compare(london),
                    }
                })
                .collect(),
            decimals: None,
        }
    }

    fn funnel_chart() -> FunnelChart {
        let areas = areas();
        let events: Vec<f64> = areas.iter().map(|a| a.2).collect();
        let people: Vec<f64> = areas.iter().map(|a| a.1).collect();
        let london = pooled_rate(&events, &people, 1_000.0);
        FunnelChart {
            id: "funnel".into(),
            title: "Funnel".into(),
            description: "Plans per 1,000 against population.".into(),
            units: "Plans per 1,000 people".into(),
            x_label: "Population".into(),
            comparator: london,
            comparator_label: "London".into(),
            points: areas
                .iter()
                .map(|(name, n, x)| FunnelPoint {
                    label: name.clone(),
                    denominator: *n,
                    rate: x / n * 1_000.0,
                    significance: funnel_significance_rate(*x, *n, london, 1_000.0).unwrap(),
                })
                .collect(),
            limits: funnel_limit_curve(london, 1_000.0, 1_000.0, 400_000.0, 100),
            decimals: None,
        }
    }

    fn attr(element: &str, name: &str) -> f64 {
        let element = format!(" {element}");
        let key = format!(r#" {name}=""#);
        let start = element.find(&key).unwrap() + key.len();
        let end = start + element[start..].find('"').unwrap();
        element[start..end].parse().unwrap()
    }

    fn view_height(svg: &str) -> f64 {
        let start = svg.find(r#"viewBox="0 0 640 "#).unwrap() + 17;
        let end = start + svg[start..].find('"').unwrap();
        svg[start..end].parse().unwrap()
    }

    #[test]
    fn comparison_has_a_row_per_area_and_grows_with_them() {
        let chart = comparison_chart();
        let svg = render_comparison_svg(&chart);
        assert_eq!(svg.matches(r#"class="cp-comparison__row""#).count(), 33);
        assert!(svg.contains(r#"<title id="cmp-title">Rates &lt;by area&gt;</title>"#));
        assert!(svg.contains(r#"role="img" aria-labelledby="cmp-title cmp-desc""#));
        // Rows in the order given.
        let first = svg.find(">Area 1</text>").unwrap();
        let last = svg.find(">Area 32</text>").unwrap();
        assert!(first < last);
        let short = ComparisonChart {
            items: chart.items[..3].to_vec(),
            ..chart.clone()
        };
        let short_svg = render_comparison_svg(&short);
        assert!((view_height(&svg) - view_height(&short_svg) - 30.0 * 20.0).abs() < 0.5);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn long_labels_are_shortened_and_kept_whole_in_the_tooltip() {
        let svg = render_comparison_svg(&comparison_chart());
        assert!(svg.contains(">A borough with a very lon…</text>"));
        assert!(svg.contains("<title>A borough with a very long name indeed, &amp; more: "));
    }

    #[test]
    fn markers_are_shaped_by_comparison_and_filled_at_99_8() {
        let chart = comparison_chart();
        let svg = render_comparison_svg(&chart);
        let kinds: Vec<(Comparison, Comparison)> = chart
            .items
            .iter()
            .map(|i| (i.comparison, i.comparison_998))
            .collect();
        assert!(kinds.contains(&(Comparison::Similar, Comparison::Similar)));
        assert!(kinds.iter().any(|k| k.0 == Comparison::Higher));
        assert!(kinds.iter().any(|k| k.0 == Comparison::Lower));
        for (item, row) in chart
            .items
            .iter()
            .zip(svg.split(r#"class="cp-comparison__row""#).skip(1))
        {
            let marker = comparison_marker(
                item.comparison,
                item.comparison_998 == item.comparison && item.comparison != Comparison::Similar,
                0.0,
                0.0,
            );
            let tag = &marker[..5];
            assert!(row.contains(tag), "{}: {row}", item.label);
            match item.comparison {
                Comparison::Similar => assert!(row.contains("<circle")),
                Comparison::Higher | Comparison::Lower => assert!(row.contains("<path d=\"M")),
            }
        }
        let up_filled = comparison_marker(Comparison::Higher, true, 10.0, 10.0);
        let up_open = comparison_marker(Comparison::Higher, false, 10.0, 10.0);
        let down = comparison_marker(Comparison::Lower, true, 10.0, 10.0);
        assert!(up_filled.contains(&format!(r#"fill="{HIGHER}""#)));
        assert!(up_open.contains(r##"fill="#ffffff""##));
        assert!(
            up_filled.starts_with(r#"<path d="M10.0,3.0"#),
            "tip above: {up_filled}"
        );
        assert!(
            down.starts_with(r#"<path d="M10.0,17.0"#),
            "tip below: {down}"
        );
    }

    #[test]
    fn comparison_shows_both_intervals_the_comparator_and_a_legend() {
        let chart = comparison_chart();
        let svg = render_comparison_svg(&chart);
        assert!(svg.contains(&format!(r#"stroke="{CI95}" stroke-width="6""#)));
        assert!(svg.contains(&format!(r#"stroke="{OUTLINE}" stroke-width="1"/>"#)));
        assert!(svg.contains(&format!(
            ">London: {}</text>",
            format_number(chart.comparator, 1)
        )));
        for words in [
            ">Similar to London</text>",
            ">Higher (95%)</text>",
            ">Higher (99.8%)</text>",
            ">Lower (95%)</text>",
            ">Lower (99.8%)</text>",
            ">95% confidence interval</text>",
            ">99.8% confidence interval</text>",
        ] {
            assert!(svg.contains(words), "{words}");
        }
        // Every legend and row label starts inside the chart.
        for text in svg.split("<text ").skip(1) {
            if text.contains(r#"text-anchor="end""#) {
                continue;
            }
            assert!(attr(text, "x") >= 0.0);
        }
    }

    #[test]
    fn comparison_description_names_the_areas_that_differ() {
        let chart = comparison_chart();
        let desc = describe_comparison(&chart);
        assert!(desc.starts_with("Plans per 1,000. 33 areas compared with London ("));
        let higher: Vec<&str> = chart
            .items
            .iter()
            .filter(|i| i.comparison == Comparison::Higher)
            .map(|i| i.label.as_str())
            .collect();
        for name in higher {
            assert!(desc.contains(name), "{name}: {desc}");
        }
        assert!(desc.contains("areas are similar to London."));
    }

    #[test]
    fn odd_comparison_values_are_skipped_not_drawn_as_nan() {
        let mut chart = comparison_chart();
        chart.items[1].ci998 = (f64::NAN, f64::INFINITY);
        chart.items[2].value = f64::NAN;
        let svg = render_comparison_svg(&chart);
        assert!(!svg.contains("NaN\"") && !svg.contains("inf\""));
        let empty = ComparisonChart {
            items: Vec::new(),
            ..chart
        };
        assert!(render_comparison_svg(&empty).contains("0 areas compared"));
    }

    #[test]
    fn funnel_limits_narrow_as_populations_grow() {
        let curve = funnel_limit_curve(4.0, 1_000.0, 1_000.0, 400_000.0, 50);
        assert_eq!(curve.len(), 50);
        assert!((curve[0].0 - 1_000.0).abs() < 1e-6);
        assert!((curve[49].0 - 400_000.0).abs() < 1e-3);
        for pair in curve.windows(2) {
            assert!(pair[1].0 > pair[0].0);
            assert!(pair[1].1.upper_99_8 <= pair[0].1.upper_99_8 + 1e-9);
            assert!(pair[1].1.upper_95 <= pair[1].1.upper_99_8);
            assert!(pair[1].1.lower_95 >= pair[1].1.lower_99_8);
        }
        assert!(funnel_limit_curve(4.0, 1_000.0, 0.0, 10.0, 5).is_empty());
    }

    #[test]
    fn funnel_draws_limits_comparator_and_shaped_points() {
        let chart = funnel_chart();
        let svg = render_funnel_svg(&chart);
        assert_eq!(
            svg.matches(r#"stroke-dasharray="6 4"/>"#).count(),
            2 + 1,
            "95% limits and legend"
        );
        assert_eq!(
            svg.matches(r#"stroke-dasharray="2 3"/>"#).count(),
            2 + 1,
            "99.8% limits and legend"
        );
        assert!(svg.contains(r#"clip-path="url(#funnel-plot)""#));
        assert_eq!(svg.matches(r#"class="cp-funnel__point""#).count(), 33);
        assert!(svg.contains(">Population</text>"));
        assert!(svg.contains(">95% limits</text>") && svg.contains(">99.8% limits</text>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let significant: Vec<&FunnelPoint> = chart
            .points
            .iter()
            .filter(|p| p.significance != FunnelSignificance::NotSignificant)
            .collect();
        assert!(!significant.is_empty());
        // Only areas outside the limits are labelled.
        for label in svg.split(r#"class="cp-funnel__label""#).skip(1) {
            let start = label.find('>').unwrap() + 1;
            let end = start + label[start..].find("</text>").unwrap();
            let name = &label[start..end];
            assert!(
                significant.iter().any(|p| escape(&p.label) == name),
                "{name} is labelled but within the limits"
            );
        }
    }

    #[test]
    fn funnel_labels_cover_no_other_label_or_marker() {
        let chart = funnel_chart();
        let svg = render_funnel_svg(&chart);
        let mut labels = Vec::new();
        for label in svg.split(r#"<text class="cp-funnel__label" "#).skip(1) {
            let anchor_start = label.find(r#"text-anchor=""#).unwrap() + 13;
            let anchor =
                &label[anchor_start..anchor_start + label[anchor_start..].find('"').unwrap()];
            let start = label.find('>').unwrap() + 1;
            let end = start + label[start..].find("</text>").unwrap();
            labels.push(LabelBox::of_text(
                attr(label, "x"),
                attr(label, "y"),
                anchor,
                &label[start..end],
                SMALL_FONT,
            ));
        }
        assert!(!labels.is_empty());
        let markers: Vec<LabelBox> = svg
            .split(r#"class="cp-funnel__point""#)
            .skip(1)
            .map(|point| {
                let start = point
                    .find("<path d=\"M")
                    .or_else(|| point.find("<circle"))
                    .unwrap();
                let shape = &point[start..];
                if shape.starts_with("<circle") {
                    let (x, y, r) = (attr(shape, "cx"), attr(shape, "cy"), attr(shape, "r"));
                    return LabelBox {
                        x0: x - r,
                        x1: x + r,
                        y0: y - r,
                        y1: y + r,
                    };
                }
                // A triangle: the bounding box of its three vertices.
                let d = &shape[9..9 + shape[9..].find('"').unwrap()];
                let vertices: Vec<(f64, f64)> = d
                    .split_whitespace()
                    .filter(|part| *part != "Z")
                    .map(|part| {
                        let (x, y) = part[1..].split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                let xs = vertices.iter().map(|v| v.0);
                let ys = vertices.iter().map(|v| v.1);
                LabelBox {
                    x0: xs.clone().fold(f64::INFINITY, f64::min),
                    x1: xs.fold(f64::NEG_INFINITY, f64::max),
                    y0: ys.clone().fold(f64::INFINITY, f64::min),
                    y1: ys.fold(f64::NEG_INFINITY, f64::max),
                }
            })
            .collect();
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert!(!a.intersects(b));
            }
            for m in &markers {
                assert!(!a.intersects(m), "{a:?} covers a marker at {m:?}");
            }
        }
    }

    #[test]
    fn funnel_description_counts_areas_outside_each_limit() {
        let chart = funnel_chart();
        let desc = describe_funnel(&chart);
        let count =
            |s: FunnelSignificance| chart.points.iter().filter(|p| p.significance == s).count();
        let outside_95 = 33 - count(FunnelSignificance::NotSignificant);
        let outside_998 = count(FunnelSignificance::High99_8) + count(FunnelSignificance::Low99_8);
        assert!(desc.starts_with("Plans per 1,000 against population. Funnel plot of 33 areas"));
        assert!(
            desc.contains(&format!("{outside_95} areas outside the 95% limits")),
            "{desc}"
        );
        assert!(
            desc.contains(&format!(
                "{outside_998} of them also outside the 99.8% limits"
            )),
            "{desc}"
        );
        for p in chart
            .points
            .iter()
            .filter(|p| p.significance != FunnelSignificance::NotSignificant)
        {
            assert!(desc.contains(&p.label), "{}", p.label);
        }
    }
}
