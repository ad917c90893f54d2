//! Statistical process control (XmR) charts and the Making Data Count icons, as inline SVG.
//!
//! The chart draws what `analyse::spc::xmr` computed, in the style of NHS England's *Making
//! Data Count* (MDC): the values as a grey line with a marker per month, each segment's mean
//! as a solid line and its process limits as dashed lines (the near, "2 sigma", limits are not
//! drawn), an optional target as a dotted line, and programme markers. Lines of different
//! segments are never joined: each stops at its segment's first and last month, and a faint
//! vertical line with a label ("Limits from Feb 2021") marks where the limits were recalculated.
//!
//! Nothing is told by colour alone. Point types have MDC colours *and* shapes:
//!
//! | point type                         | colour            | shape                              |
//! |------------------------------------|-------------------|------------------------------------|
//! | common cause                       | grey `#7b7d7d`    | small circle                       |
//! | special cause, improvement         | blue `#289de0`    | triangle pointing the better way   |
//! | special cause, concern             | orange `#fab428`  | square                             |
//! | special cause, neither (high/low)  | purple `#361475`  | diamond                            |
//!
//! Special-cause markers have a dark outline (`#212b32`) so that each shape stands out from
//! white at more than 3:1 (WCAG 1.4.11) whatever its fill; the legend in the SVG says all this
//! in words, and the `<desc>` gives segments, limits, the latest signal and assurance in words.
//! The icons ([`variation_icon_svg`], [`assurance_icon_svg`]) use the same colours (a darker
//! "ink" of each for rings and letters), the letters H, L, P, F and ?, and the same point
//! shapes, so they too read in greyscale.

use std::fmt::Write as _;

use crate::analyse::spc::{
    Assurance, Improvement, PointType, SpcChart, TRIAL_LIMITS_THRESHOLD, Variation,
    describe_latest_signal,
};

use super::chart::{
    FONT, GRID, LegendEntry, MARKER_ROW, Marker, PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PlacedMarker,
    SMALL_FONT, Shape, TEXT_GREY, WIDTH, XAxis, axis_from_zero, draw_legend, draw_marker_labels,
    label_every, marker_rows, month_name, nice_ticks_between, open_svg_element,
    place_marker_labels, shape_svg, short_category, text_width, ticks_decimals,
};
use super::format::{capitalise, escape, format_number};

/// MDC point colours: grey, blue and orange as in NHSRplotthedots' earlier default palette
/// (0.2.2 moved to #a6a6a6, #00b0f0, #e46c0a), purple as used for MDC's neutral signals
/// (0.2.2: #490092). Point fills and the icons' dots.
pub const COMMON_CAUSE: &str = "#7b7d7d";
pub const IMPROVEMENT: &str = "#289de0";
pub const CONCERN: &str = "#fab428";
pub const NEUTRAL: &str = "#361475";
/// Darker shades of the same hues for rings, letters and outlines on white (contrast 4.1:1,
/// 5.0:1, 5.0:1, 13.9:1).
pub const COMMON_CAUSE_INK: &str = "#7b7d7d";
pub const IMPROVEMENT_INK: &str = "#0072c6";
pub const CONCERN_INK: &str = "#b35400";
pub const NEUTRAL_INK: &str = "#361475";
/// Outline of special-cause markers, the mean line (NHS black).
const OUTLINE: &str = "#212b32";
/// Value line: MDC grey.
const VALUE_LINE: &str = "#7b7d7d";
/// Process limits: NHS dark grey, dashed.
const LIMIT_LINE: &str = "#4c6272";
const LIMIT_DASH: &str = "6 4";
/// Target: NHS red, dotted (MDC draws targets in red).
const TARGET_LINE: &str = "#d5281b";
const TARGET_DASH: &str = "2 3";
/// Where the limits were recalculated.
const REBASE_LINE: &str = "#aeb7bd";

/// One SPC chart on a page: an XmR chart over months.
#[derive(Debug, Clone, PartialEq)]
pub struct SpcPanel {
    /// Unique within the page: used for SVG ids.
    pub id: String,
    pub title: String,
    /// Words the page wrote about the chart; the `<desc>` adds what the chart shows.
    pub description: String,
    /// What the values are, with units ("Care plans created per month"): the y axis title.
    pub units: String,
    /// `YYYY-MM`, one per point of `chart`.
    pub labels: Vec<String>,
    pub chart: SpcChart,
    /// Drawn as a dotted line when given (the same target the chart's assurance used).
    pub target: Option<f64>,
    /// Events at a month, e.g. "NEL project starts".
    pub markers: Vec<Marker>,
}

/// Sizes of the two layouts.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    width: f64,
    plot_height: f64,
    /// Marker radius of special-cause points.
    radius: f64,
}

const FULL: Layout = Layout {
    width: WIDTH,
    plot_height: 200.0,
    radius: 4.6,
};

/// Small multiples: two across a desktop page, each shown at about its logical width.
const COMPACT: Layout = Layout {
    width: 440.0,
    plot_height: 130.0,
    radius: 4.0,
};

/// Renders the chart at full width (640 units).
pub fn render_spc_svg(panel: &SpcPanel) -> String {
    render(panel, FULL)
}

/// Renders the chart as a small multiple (440 units wide, a shorter plot), for pages that
/// show several areas (five STP areas and London) in a grid of two columns: the same marks,
/// legend and `<desc>`, so each panel still stands alone.
pub fn render_spc_compact_svg(panel: &SpcPanel) -> String {
    render(panel, COMPACT)
}

/// How a point type is drawn: shape, fill, outline and a radius factor.
fn point_style(point_type: PointType, improvement: Improvement) -> (Shape, &'static str, bool) {
    match point_type {
        PointType::CommonCause => (Shape::Circle, COMMON_CAUSE, false),
        PointType::SpecialCauseImprovement => (
            if improvement == Improvement::Decrease {
                Shape::TriangleDown
            } else {
                Shape::TriangleUp
            },
            IMPROVEMENT,
            true,
        ),
        PointType::SpecialCauseConcern => (Shape::Square, CONCERN, true),
        PointType::SpecialCauseNeutralHigh | PointType::SpecialCauseNeutralLow => {
            (Shape::Diamond, NEUTRAL, true)
        }
    }
}

fn point_marker(
    point_type: PointType,
    improvement: Improvement,
    x: f64,
    y: f64,
    radius: f64,
) -> String {
    let (shape, fill, outlined) = point_style(point_type, improvement);
    if outlined {
        shape_svg(shape, x, y, radius, fill, Some((OUTLINE, 1.0)))
    } else {
        shape_svg(shape, x, y, radius * 0.55, fill, None)
    }
}

/// Words for a point type, as in the legend.
fn point_words(point_type: PointType) -> &'static str {
    match point_type {
        PointType::CommonCause => "common cause",
        PointType::SpecialCauseImprovement => "special cause, improvement",
        PointType::SpecialCauseConcern => "special cause, concern",
        PointType::SpecialCauseNeutralHigh => "special cause, higher (neither good nor bad)",
        PointType::SpecialCauseNeutralLow => "special cause, lower (neither good nor bad)",
    }
}

/// Decimals for the chart's numbers: whole numbers for large values, one decimal otherwise.
fn decimals_for(chart: &SpcChart) -> usize {
    let values: Vec<f64> = chart
        .points
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    let max = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if max >= 100.0 { 0 } else { 1 }
}

/// The y axis: ticks covering the values, the limits drawn and the target. A lower limit
/// below zero for values that are never negative is not drawn and does not stretch the axis.
fn y_ticks(panel: &SpcPanel) -> Vec<f64> {
    let values: Vec<f64> = panel
        .chart
        .points
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    let never_negative = values.iter().all(|v| *v >= 0.0);
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    let mut include = |v: f64| {
        if v.is_finite() {
            low = low.min(v);
            high = high.max(v);
        }
    };
    values.iter().for_each(|v| include(*v));
    for segment in &panel.chart.segments {
        include(segment.upper_limit);
        if !(never_negative && segment.lower_limit < 0.0) {
            include(segment.lower_limit);
        }
    }
    if let Some(target) = panel.target {
        include(target);
    }
    if !(low.is_finite() && high.is_finite()) {
        return vec![0.0, 1.0];
    }
    if axis_from_zero(low, high) && low >= 0.0 {
        nice_ticks_between(0.0, high)
    } else {
        nice_ticks_between(low, high)
    }
}

fn render(panel: &SpcPanel, layout: Layout) -> String {
    let chart = &panel.chart;
    let improvement = chart.improvement;
    let n = chart.points.len().max(1);
    let decimals = decimals_for(chart);
    let number = |v: f64| format_number(v, decimals);
    let width = layout.width;

    // Room on the right for the target's label.
    let target_text = panel.target.filter(|t| t.is_finite()).map(number);
    let plot_right = match &target_text {
        Some(text) => {
            PLOT_RIGHT.max(text_width("Target", SMALL_FONT).max(text_width(text, SMALL_FONT)) + 8.0)
        }
        None => PLOT_RIGHT,
    };
    let right = width - plot_right;
    let plot_width = right - PLOT_LEFT;
    let band = plot_width / n as f64;
    let x_of = |i: usize| PLOT_LEFT + band * (i as f64 + 0.5);

    // Labels above the plot: programme markers and, where limits were recalculated or are
    // trial limits, the segments.
    let label_segments = chart.segments.len() > 1 || chart.has_trial_limits();
    let mut flags: Vec<(f64, String)> = Vec::new();
    let mut marker_count = 0;
    for marker in &panel.markers {
        if let Some(i) = panel.labels.iter().position(|l| l == &marker.category) {
            flags.push((x_of(i), marker.label.clone()));
            marker_count += 1;
        }
    }
    if label_segments {
        for segment in &chart.segments {
            let from = panel
                .labels
                .get(segment.start)
                .map(|l| month_name(l, false))
                .unwrap_or_default();
            let text = if segment.trial_limits {
                format!("Trial limits from {from}")
            } else {
                format!("Limits from {from}")
            };
            flags.push((x_of(segment.start) - band / 2.0, text));
        }
    }
    let placed = place_marker_labels(&flags, PLOT_LEFT, right);
    let plot_top = PLOT_TOP + MARKER_ROW * marker_rows(&placed) as f64;
    let bottom = plot_top + layout.plot_height;

    let ticks = y_ticks(panel);
    let y_min = ticks[0];
    let y_max = *ticks.last().unwrap_or(&1.0);
    let y_of = |v: f64| bottom - (v - y_min) / (y_max - y_min) * layout.plot_height;

    let id = escape(&panel.id);
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<defs><clipPath id="{id}-plot"><rect x="{PLOT_LEFT}" y="{plot_top:.1}" width="{plot_width:.1}" height="{:.1}"/></clipPath></defs>"#,
        layout.plot_height
    );
    // Grid and y axis.
    let tick_decimals = ticks_decimals(&ticks);
    for tick in &ticks {
        let y = y_of(*tick);
        let _ = write!(
            body,
            r##"<line x1="{PLOT_LEFT}" x2="{right:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{GRID}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            PLOT_LEFT - 6.0,
            y + 4.0,
            format_number(*tick, tick_decimals)
        );
    }
    let _ = write!(
        body,
        r##"<line x1="{PLOT_LEFT}" x2="{right:.1}" y1="{bottom:.1}" y2="{bottom:.1}" stroke="{TEXT_GREY}"/>"##
    );
    // Month labels, by year as in the other charts.
    let many = panel.labels.len() > 12;
    let shown = if many {
        label_every(&panel.labels, XAxis::Months, plot_width)
    } else {
        let fits = (plot_width / 60.0).max(1.0) as usize;
        let step = panel.labels.len().div_ceil(fits).max(1);
        (0..panel.labels.len()).map(|i| i % step == 0).collect()
    };
    for (i, (label, show)) in panel.labels.iter().zip(shown).enumerate() {
        if show && i < n {
            let text = if many {
                short_category(label, true)
            } else {
                month_name(label, false)
            };
            let _ = write!(
                body,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{bottom:.1}" y2="{:.1}" stroke="{TEXT_GREY}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                bottom + 4.0,
                bottom + FONT + 6.0,
                escape(&text),
                x = x_of(i)
            );
        }
    }
    // Where the limits were recalculated: a faint line between the two months.
    for segment in chart.segments.iter().skip(1) {
        let x = x_of(segment.start) - band / 2.0;
        let _ = write!(
            body,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{plot_top:.1}" y2="{bottom:.1}" stroke="{REBASE_LINE}"/>"#
        );
    }
    // Segment lines, clipped to the plot; never joined across segments.
    let _ = write!(body, r#"<g clip-path="url(#{id}-plot)" fill="none">"#);
    for segment in &chart.segments {
        if segment.is_empty() {
            continue;
        }
        let (x0, x1) = if segment.len() == 1 {
            (
                x_of(segment.start) - band * 0.4,
                x_of(segment.start) + band * 0.4,
            )
        } else {
            (x_of(segment.start), x_of(segment.end - 1))
        };
        let mut line = |value: f64, colour: &str, dash: &str, width: f64| {
            if value.is_finite() {
                let y = y_of(value);
                let dash = if dash.is_empty() {
                    String::new()
                } else {
                    format!(r#" stroke-dasharray="{dash}""#)
                };
                let _ = write!(
                    body,
                    r#"<line x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="{width}"{dash}/>"#
                );
            }
        };
        line(segment.upper_limit, LIMIT_LINE, LIMIT_DASH, 1.5);
        line(segment.lower_limit, LIMIT_LINE, LIMIT_DASH, 1.5);
        line(segment.centre, OUTLINE, "", 1.5);
    }
    if let Some(target) = panel.target.filter(|t| t.is_finite()) {
        let y = y_of(target);
        let _ = write!(
            body,
            r#"<line x1="{PLOT_LEFT}" x2="{right:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{TARGET_LINE}" stroke-width="2" stroke-dasharray="{TARGET_DASH}"/>"#
        );
    }
    body.push_str("</g>");
    // The values: one line (a missing value breaks it), then a marker per point.
    let mut path = String::new();
    let mut pen_down = false;
    for (i, point) in chart.points.iter().enumerate() {
        if point.value.is_finite() {
            let _ = write!(
                path,
                "{}{:.1},{:.1} ",
                if pen_down { "L" } else { "M" },
                x_of(i),
                y_of(point.value)
            );
            pen_down = true;
        } else {
            pen_down = false;
        }
    }
    if !path.is_empty() {
        let _ = write!(
            body,
            r#"<path d="{}" fill="none" stroke="{VALUE_LINE}" stroke-width="1.5"/>"#,
            path.trim_end()
        );
    }
    for (i, point) in chart.points.iter().enumerate() {
        if !point.value.is_finite() {
            continue;
        }
        let when = panel
            .labels
            .get(i)
            .map(|l| month_name(l, true))
            .unwrap_or_else(|| format!("Point {}", i + 1));
        let _ = write!(
            body,
            r#"<g class="cp-spc__point" data-type="{}"><title>{}: {}, {}</title>{}</g>"#,
            point.point_type.id(),
            escape(&when),
            number(point.value),
            point_words(point.point_type),
            point_marker(
                point.point_type,
                improvement,
                x_of(i),
                y_of(point.value),
                layout.radius
            )
        );
    }
    // Target label in the right margin.
    if let (Some(target), Some(text)) = (panel.target.filter(|t| t.is_finite()), &target_text) {
        let y = y_of(target).clamp(plot_top + SMALL_FONT, bottom);
        let _ = write!(
            body,
            r##"<text x="{:.1}" y="{:.1}" font-size="{SMALL_FONT}" fill="{TARGET_LINE}">Target</text><text x="{:.1}" y="{:.1}" font-size="{SMALL_FONT}" fill="{TARGET_LINE}">{}</text>"##,
            right + 4.0,
            y - 2.0,
            right + 4.0,
            y + SMALL_FONT - 1.0,
            escape(text)
        );
    }
    // Labels above the plot: markers with dashed lines through it, segments with a leader.
    let (markers, segments): (Vec<PlacedMarker>, Vec<PlacedMarker>) =
        placed.into_iter().partition(|p| p.index < marker_count);
    draw_marker_labels(&mut body, &markers, plot_top, bottom);
    for label in &segments {
        let baseline = label.baseline(plot_top);
        let leader_top = label.leader_top(plot_top);
        let _ = write!(
            body,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{leader_top:.1}" y2="{plot_top:.1}" stroke="{REBASE_LINE}" stroke-width="1.5"/><text class="cp-chart__marker" x="{:.1}" y="{baseline:.1}" font-size="{SMALL_FONT}" fill="{TEXT_GREY}">{}</text>"##,
            label.text_x,
            escape(&label.label),
            x = label.x
        );
    }
    // Axis titles.
    let _ = write!(
        body,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">Month</text>"#,
        PLOT_LEFT + plot_width / 2.0,
        bottom + 2.0 * FONT + 10.0,
    );
    let _ = write!(
        body,
        r#"<text transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        plot_top + layout.plot_height / 2.0,
        escape(&panel.units)
    );
    let legend_top = bottom + 3.0 * FONT + 18.0;
    let end = draw_legend(
        &mut body,
        &legend_entries(
            improvement,
            panel.target.is_some_and(f64::is_finite),
            layout,
        ),
        PLOT_LEFT,
        width - PLOT_RIGHT,
        legend_top,
    );
    let mut out = String::new();
    open_svg_element(
        &mut out,
        &panel.id,
        width,
        end + 4.0,
        &panel.title,
        &describe_spc(panel),
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// The legend: the point types this direction of improvement can give, then the lines; in
/// fewer words for small multiples.
fn legend_entries(improvement: Improvement, target: bool, layout: Layout) -> Vec<LegendEntry> {
    let compact = layout == COMPACT;
    let point = |point_type: PointType, label: &str| LegendEntry {
        swatch: point_marker(point_type, improvement, 9.0, 0.0, layout.radius),
        label: label.to_owned(),
    };
    let line = |colour: &str, dash: &str, width: f64, label: &str| LegendEntry {
        swatch: format!(
            r#"<line x1="0" x2="18" y1="0" y2="0" stroke="{colour}" stroke-width="{width}"{}/>"#,
            if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            }
        ),
        label: label.to_owned(),
    };
    let mut entries = vec![point(PointType::CommonCause, "Common cause")];
    let better = if improvement == Improvement::Decrease {
        "lower is better"
    } else {
        "higher is better"
    };
    match (improvement, compact) {
        (Improvement::Neutral, true) => {
            entries.push(point(PointType::SpecialCauseNeutralHigh, "Special cause"));
        }
        (Improvement::Neutral, false) => {
            entries.push(point(
                PointType::SpecialCauseNeutralHigh,
                "Special cause (neither good nor bad)",
            ));
        }
        (_, true) => {
            entries.push(point(
                PointType::SpecialCauseImprovement,
                &format!("Improvement ({better})"),
            ));
            entries.push(point(PointType::SpecialCauseConcern, "Concern"));
        }
        (_, false) => {
            entries.push(point(
                PointType::SpecialCauseImprovement,
                &format!("Special cause: improvement ({better})"),
            ));
            entries.push(point(
                PointType::SpecialCauseConcern,
                "Special cause: concern",
            ));
        }
    }
    entries.push(line(OUTLINE, "", 1.5, "Mean"));
    entries.push(line(
        LIMIT_LINE,
        LIMIT_DASH,
        1.5,
        if compact { "Limits" } else { "Process limits" },
    ));
    if target {
        entries.push(line(TARGET_LINE, TARGET_DASH, 2.0, "Target"));
    }
    entries
}

/// The `<desc>`: the page's words, then what the chart shows, in words.
pub fn describe_spc(panel: &SpcPanel) -> String {
    let chart = &panel.chart;
    let decimals = decimals_for(chart);
    let number = |v: f64| format_number(v, decimals);
    let long = |i: usize| {
        panel
            .labels
            .get(i)
            .map(|l| month_name(l, true))
            .unwrap_or_else(|| format!("point {}", i + 1))
    };
    let mut parts: Vec<String> = Vec::new();
    if !panel.description.trim().is_empty() {
        parts.push(panel.description.trim().to_owned());
    }
    if chart.points.is_empty() {
        parts.push("No data to chart.".to_owned());
        return parts.join(" ");
    }
    let never_negative = !chart.points.iter().any(|p| p.value < 0.0);
    parts.push(format!(
        "XmR chart of {} months, {} to {}.",
        chart.points.len(),
        long(0),
        long(chart.points.len() - 1)
    ));
    for (s, segment) in chart.segments.iter().enumerate() {
        if segment.is_empty() {
            continue;
        }
        let which = if chart.segments.len() > 1 {
            format!("Limits {} of {}", s + 1, chart.segments.len())
        } else {
            "Limits".to_owned()
        };
        let trial = if segment.trial_limits {
            format!(
                " are trial limits (from fewer than {TRIAL_LIMITS_THRESHOLD} months, so they may change as months are added) and"
            )
        } else {
            String::new()
        };
        let limits = if segment.upper_limit.is_finite() && segment.lower_limit.is_finite() {
            let below_zero = if never_negative && segment.lower_limit < 0.0 {
                " (the lower limit is below zero and is not drawn)"
            } else {
                ""
            };
            format!(
                ", process limits {} to {}{below_zero}",
                number(segment.lower_limit),
                number(segment.upper_limit)
            )
        } else {
            ", no process limits (one month only)".to_owned()
        };
        let summary = if segment.centre.is_finite() {
            format!("mean {}{limits}", number(segment.centre))
        } else {
            "no mean or limits, as a value is missing".to_owned()
        };
        parts.push(format!(
            "{which}{trial} cover {} to {} ({} months): {summary}.",
            long(segment.start),
            long(segment.end - 1),
            segment.len(),
        ));
    }
    let count = |t: PointType| chart.points.iter().filter(|p| p.point_type == t).count();
    let specials: Vec<String> = [
        PointType::SpecialCauseImprovement,
        PointType::SpecialCauseConcern,
        PointType::SpecialCauseNeutralHigh,
        PointType::SpecialCauseNeutralLow,
    ]
    .into_iter()
    .filter(|t| count(*t) > 0)
    .map(|t| format!("{} {}", count(t), point_words(t)))
    .collect();
    if specials.is_empty() {
        parts.push("Every month is common cause variation.".to_owned());
    } else {
        parts.push(format!(
            "Months by type: {} common cause; {}.",
            count(PointType::CommonCause),
            specials.join("; ")
        ));
    }
    let long_labels: Vec<String> = (0..chart.points.len()).map(long).collect();
    if let Some(signal) = describe_latest_signal(chart, &long_labels) {
        let signal = capitalise(&signal);
        parts.push(format!("Latest signal: {signal}."));
    }
    parts.push(format!(
        "Latest month: {}.",
        lower_first(chart.variation.label())
    ));
    if let Some(target) = panel.target.filter(|t| t.is_finite()) {
        let assurance = match chart.assurance {
            Some(a) => format!(" {}.", a.label()),
            None => String::new(),
        };
        parts.push(format!("Target {}.{assurance}", number(target)));
    }
    let markers: Vec<String> = panel
        .markers
        .iter()
        .filter(|m| panel.labels.contains(&m.category))
        .map(|m| format!("{} ({})", m.label, month_name(&m.category, true)))
        .collect();
    if !markers.is_empty() {
        parts.push(format!("Marked: {}.", markers.join("; ")));
    }
    parts.join(" ")
}

/// Lower-cases the first letter only (MDC labels start with a capital).
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Icons
// ---------------------------------------------------------------------------

/// Opening of a 40 x 40 icon with its accessible name.
/// An icon always sits beside its words on a page, so it is hidden from assistive technology
/// (which reads the words once); the title is a tooltip for a pointer.
fn open_icon(out: &mut String, label: &str) {
    let label = escape(label);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="cp-icon" width="40" height="40" viewBox="0 0 40 40" aria-hidden="true" focusable="false" font-family="Arial, sans-serif"><title>{label}</title>"#
    );
}

fn ring(out: &mut String, colour: &str, dashed: bool) {
    let dash = if dashed {
        r#" stroke-dasharray="5 3.5""#
    } else {
        ""
    };
    let _ = write!(
        out,
        r##"<circle cx="20" cy="20" r="17.5" fill="#ffffff" stroke="{colour}" stroke-width="3"{dash}/>"##
    );
}

fn letter(out: &mut String, text: &str, x: f64, y: f64, colour: &str) {
    let _ = write!(
        out,
        r#"<text x="{x}" y="{y}" font-size="13" font-weight="700" text-anchor="middle" fill="{colour}">{text}</text>"#
    );
}

/// The MDC variation icon: a ring in the colour of the variation, seven points whose last
/// three rise (H, higher) or fall (L, lower) in that colour and shape, and the letter. Common
/// cause is a grey ring with grey points going nowhere. `improvement` words the label.
pub fn variation_icon_svg(v: Variation, improvement: Improvement) -> String {
    let direction = match improvement {
        Improvement::Increase => "higher is better",
        Improvement::Decrease => "lower is better",
        Improvement::Neutral => "neither higher nor lower is better",
    };
    let mut out = String::new();
    open_icon(&mut out, &format!("{} ({direction})", v.label()));
    let (ink, fill, point_type, high) = match v {
        Variation::CommonCause => (COMMON_CAUSE_INK, COMMON_CAUSE, PointType::CommonCause, None),
        Variation::ImprovementHigh => (
            IMPROVEMENT_INK,
            IMPROVEMENT,
            PointType::SpecialCauseImprovement,
            Some(true),
        ),
        Variation::ImprovementLow => (
            IMPROVEMENT_INK,
            IMPROVEMENT,
            PointType::SpecialCauseImprovement,
            Some(false),
        ),
        Variation::ConcernHigh => (
            CONCERN_INK,
            CONCERN,
            PointType::SpecialCauseConcern,
            Some(true),
        ),
        Variation::ConcernLow => (
            CONCERN_INK,
            CONCERN,
            PointType::SpecialCauseConcern,
            Some(false),
        ),
        Variation::NeutralHigh => (
            NEUTRAL_INK,
            NEUTRAL,
            PointType::SpecialCauseNeutralHigh,
            Some(true),
        ),
        Variation::NeutralLow => (
            NEUTRAL_INK,
            NEUTRAL,
            PointType::SpecialCauseNeutralLow,
            Some(false),
        ),
    };
    ring(&mut out, ink, false);
    // Six points; for a signal the last two are the chart's marker for it.
    let xs = [8.0, 12.5, 17.0, 21.5, 26.5, 31.5];
    let ys: [f64; 6] = match high {
        None => [21.5, 18.0, 22.5, 18.5, 22.0, 19.0],
        Some(true) => [28.0, 25.5, 28.5, 26.0, 22.0, 17.5],
        Some(false) => [12.0, 14.5, 11.5, 14.0, 18.0, 22.5],
    };
    let path: Vec<String> = xs
        .iter()
        .zip(ys)
        .enumerate()
        .map(|(i, (x, y))| format!("{}{x},{y}", if i == 0 { "M" } else { "L" }))
        .collect();
    let _ = write!(
        out,
        r#"<path d="{}" fill="none" stroke="{COMMON_CAUSE}" stroke-width="1.5"/>"#,
        path.join(" ")
    );
    let shape = match (point_type, high) {
        (PointType::SpecialCauseImprovement, Some(true)) => Shape::TriangleUp,
        (PointType::SpecialCauseImprovement, _) => Shape::TriangleDown,
        (PointType::SpecialCauseConcern, _) => Shape::Square,
        _ => Shape::Diamond,
    };
    for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
        if high.is_some() && i >= 4 {
            out.push_str(&shape_svg(shape, *x, y, 2.5, fill, Some((ink, 0.8))));
        } else {
            out.push_str(&shape_svg(Shape::Circle, *x, y, 1.7, COMMON_CAUSE, None));
        }
    }
    match high {
        Some(true) => letter(&mut out, "H", 13.0, 18.0, ink),
        Some(false) => letter(&mut out, "L", 13.0, 31.0, ink),
        None => {}
    }
    out.push_str("</svg>");
    out
}

/// The MDC assurance icon: P (the target is met every month: blue, the target's dashed line
/// below the process), F (missed every month: orange, the line above it), ? (hit and miss:
/// grey, the line through it), and an empty dashed ring when there is nothing to assure
/// (no target, or no direction of improvement).
pub fn assurance_icon_svg(a: Option<Assurance>) -> String {
    let mut out = String::new();
    let label = match a {
        Some(a) => format!("Assurance: {}", lower_first(a.label())),
        None => "Assurance: not assessed (no target, or no better direction)".to_owned(),
    };
    open_icon(&mut out, &label);
    let Some(a) = a else {
        ring(&mut out, "#768692", true);
        out.push_str("</svg>");
        return out;
    };
    // The target's line is in the icon's ink; for hit and miss it crosses a lighter process.
    let (ink, text, process_y, target_y, process) = match a {
        Assurance::ConsistentlyPassing => (IMPROVEMENT_INK, "P", 23.5, 30.0, COMMON_CAUSE),
        Assurance::ConsistentlyFailing => (CONCERN_INK, "F", 28.5, 22.0, COMMON_CAUSE),
        Assurance::HitAndMiss => (COMMON_CAUSE_INK, "?", 26.0, 26.0, "#aeb7bd"),
    };
    ring(&mut out, ink, false);
    letter(&mut out, text, 20.0, 18.0, ink);
    let wiggle = [
        (8.0, 0.0),
        (12.0, -2.5),
        (16.0, 1.5),
        (20.0, -1.5),
        (24.0, 2.0),
        (28.0, -2.0),
        (32.0, 0.5),
    ];
    let path: Vec<String> = wiggle
        .iter()
        .enumerate()
        .map(|(i, (x, dy))| format!("{}{x},{}", if i == 0 { "M" } else { "L" }, process_y + dy))
        .collect();
    let _ = write!(
        out,
        r#"<path d="{}" fill="none" stroke="{process}" stroke-width="1.8"/><line x1="7" x2="33" y1="{target_y}" y2="{target_y}" stroke="{}" stroke-width="2" stroke-dasharray="3 2"/>"#,
        path.join(" "),
        if a == Assurance::HitAndMiss {
            TEXT_GREY
        } else {
            ink
        }
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::spc::xmr;

    fn months(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("{}-{:02}", 2020 + i / 12, i % 12 + 1))
            .collect()
    }

    /// 24 months around 100 with an outlier high (improvement) and a run low (concern),
    /// then 8 months (trial limits) around 150.
    fn two_segment_panel() -> SpcPanel {
        let mut values: Vec<f64> = (0..32)
            .map(|i| {
                let wobble = [3.0, -2.0, 4.0, -4.0, 1.0, -1.0, 2.0, -3.0][i % 8];
                if i < 24 {
                    100.0 + wobble
                } else {
                    150.0 + wobble
                }
            })
            .collect();
        values[3] = 140.0;
        for v in &mut values[10..18] {
            *v -= 6.0;
        }
        let chart = xmr(&values, &[24], Improvement::Increase, Some(120.0));
        SpcPanel {
            id: "spc".into(),
            title: "Plans <created>".into(),
            description: "Plans created & kept.".into(),
            units: "Plans created".into(),
            labels: months(32),
            chart,
            target: Some(120.0),
            markers: vec![Marker {
                category: "2022-01".into(),
                label: "NEL project starts".into(),
            }],
        }
    }

    fn attr(element: &str, name: &str) -> f64 {
        let key = format!(r#" {name}=""#);
        let start = element.find(&key).unwrap() + key.len();
        let end = start + element[start..].find('"').unwrap();
        element[start..end].parse().unwrap()
    }

    /// The horizontal lines drawn inside the plot's clip group (means, limits, target).
    fn clipped_lines(svg: &str) -> Vec<(f64, f64, String)> {
        let start = svg.find(r#"clip-path="url(#spc-plot)""#).unwrap();
        let end = start + svg[start..].find("</g>").unwrap();
        svg[start..end]
            .split("<line")
            .skip(1)
            .map(|line| {
                let stroke_start = line.find(r#"stroke=""#).unwrap() + 8;
                let stroke = line[stroke_start..stroke_start + 7].to_owned();
                (attr(line, "x1"), attr(line, "x2"), stroke)
            })
            .collect()
    }

    #[test]
    fn svg_is_labelled_and_escaped() {
        let svg = render_spc_svg(&two_segment_panel());
        assert!(svg.starts_with("<svg "));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img" aria-labelledby="spc-title spc-desc""#));
        assert!(svg.contains(r#"<title id="spc-title">Plans &lt;created&gt;</title>"#));
        assert!(svg.contains("Plans created &amp; kept."));
        assert!(svg.contains(r#"class="cp-chart" viewBox="0 0 640 "#));
        assert!(svg.contains(">Month</text>"));
        assert!(svg.contains("rotate(-90)\" text-anchor=\"middle\">Plans created</text>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn point_types_have_their_own_shapes_and_colours() {
        let panel = two_segment_panel();
        let svg = render_spc_svg(&panel);
        let types: Vec<PointType> = panel.chart.points.iter().map(|p| p.point_type).collect();
        assert!(types.contains(&PointType::SpecialCauseImprovement));
        assert!(types.contains(&PointType::SpecialCauseConcern));
        assert!(types.contains(&PointType::CommonCause));
        let first_of = |id: &str| {
            let key = format!(r#"data-type="{id}">"#);
            let start = svg.find(&key).unwrap_or_else(|| panic!("no {id}"));
            let end = start + svg[start..].find("</g>").unwrap();
            svg[start..end].to_owned()
        };
        let common = first_of("common_cause");
        let improvement = first_of("special_cause_improvement");
        let concern = first_of("special_cause_concern");
        assert!(common.contains("<circle") && common.contains(COMMON_CAUSE));
        assert!(improvement.contains("<path") && improvement.contains(IMPROVEMENT));
        assert!(concern.contains("<rect") && concern.contains(CONCERN));
        // Special causes are outlined so that the light fills stand out from white.
        assert!(improvement.contains(r##"stroke="#212b32""##));
        assert!(concern.contains(r##"stroke="#212b32""##));
        // Each point says what it is in words too (hover).
        assert!(improvement.contains("<title>April 2020: 140, special cause, improvement</title>"));
    }

    #[test]
    fn improvement_triangles_point_the_better_way() {
        let up = point_marker(
            PointType::SpecialCauseImprovement,
            Improvement::Increase,
            50.0,
            50.0,
            4.0,
        );
        let down = point_marker(
            PointType::SpecialCauseImprovement,
            Improvement::Decrease,
            50.0,
            50.0,
            4.0,
        );
        // The first vertex is the tip.
        let tip_y = |svg: &str| -> f64 {
            let start = svg.find("M50.0,").unwrap() + 6;
            let end = start + svg[start..].find(' ').unwrap();
            svg[start..end].parse().unwrap()
        };
        assert!(tip_y(&up) < 50.0);
        assert!(tip_y(&down) > 50.0);
        let neutral = point_marker(
            PointType::SpecialCauseNeutralLow,
            Improvement::Neutral,
            50.0,
            50.0,
            4.0,
        );
        assert!(neutral.contains(NEUTRAL) && neutral.contains("<path"));
    }

    #[test]
    fn segments_are_never_joined() {
        let panel = two_segment_panel();
        let svg = render_spc_svg(&panel);
        let lines = clipped_lines(&svg);
        // Two segments: mean and two limits each, plus the target across the whole plot.
        let target: Vec<_> = lines.iter().filter(|l| l.2 == TARGET_LINE).collect();
        assert_eq!(target.len(), 1);
        let segment_lines: Vec<_> = lines.iter().filter(|l| l.2 != TARGET_LINE).collect();
        assert_eq!(segment_lines.len(), 6);
        // Where the first segment ends and the second begins (the rebase line).
        let rebase_start = svg.find(&format!(r#"stroke="{REBASE_LINE}"/>"#)).unwrap();
        let rebase = &svg[svg[..rebase_start].rfind("<line").unwrap()..rebase_start];
        let boundary = attr(rebase, "x1");
        for (x1, x2, _) in segment_lines {
            assert!(
                *x2 < boundary - 2.0 || *x1 > boundary + 2.0,
                "a line from {x1} to {x2} crosses the rebase at {boundary}"
            );
        }
    }

    #[test]
    fn trial_limits_are_said_in_words_and_marked() {
        let panel = two_segment_panel();
        assert!(panel.chart.segments[1].trial_limits);
        let svg = render_spc_svg(&panel);
        assert!(svg.contains(">Trial limits from Jan 2022</text>"));
        assert!(svg.contains(">Limits from Jan 2020</text>"));
        let desc = describe_spc(&panel);
        assert!(desc.contains("Limits 2 of 2 are trial limits"), "{desc}");
        assert!(desc.contains("fewer than 13 months"), "{desc}");
    }

    #[test]
    fn description_gives_limits_signal_assurance_and_markers() {
        let panel = two_segment_panel();
        let desc = describe_spc(&panel);
        assert!(desc.starts_with(
            "Plans created & kept. XmR chart of 32 months, January 2020 to August 2022."
        ));
        assert!(
            desc.contains("Limits 1 of 2 cover January 2020 to December 2021 (24 months): mean")
        );
        assert!(desc.contains("Latest signal:"), "{desc}");
        assert!(desc.contains("Latest month:"), "{desc}");
        assert!(
            desc.contains("Target 120. Consistently passing the target."),
            "{desc}"
        );
        assert!(
            desc.contains("mean 100, process limits 87 to 113."),
            "{desc}"
        );
        assert!(desc.contains("Months by type: 22 common cause; 1 special cause, improvement; 9 special cause, concern."), "{desc}");
        assert!(
            desc.contains("Marked: NEL project starts (January 2022)."),
            "{desc}"
        );
        assert!(desc.contains("special cause, improvement"), "{desc}");
    }

    #[test]
    fn target_is_a_labelled_dotted_line() {
        let svg = render_spc_svg(&two_segment_panel());
        assert!(svg.contains(&format!(
            r#"stroke="{TARGET_LINE}" stroke-width="2" stroke-dasharray="{TARGET_DASH}""#
        )));
        assert!(svg.contains(">Target</text>"));
        assert!(svg.contains(">120</text>"));
        let mut panel = two_segment_panel();
        panel.target = None;
        let svg = render_spc_svg(&panel);
        assert!(!svg.contains("Target"));
    }

    #[test]
    fn legend_names_every_shape_in_words() {
        let svg = render_spc_svg(&two_segment_panel());
        for words in [
            ">Common cause</text>",
            ">Special cause: improvement (higher is better)</text>",
            ">Special cause: concern</text>",
            ">Mean</text>",
            ">Process limits</text>",
            ">Target</text>",
        ] {
            assert!(svg.contains(words), "{words}");
        }
        let compact = render_spc_compact_svg(&two_segment_panel());
        assert!(compact.contains(r#"viewBox="0 0 440 "#));
        assert!(compact.contains(">Improvement (higher is better)</text>"));
    }

    #[test]
    fn counts_start_at_zero_and_percentages_near_full_do_not() {
        let svg = render_spc_svg(&two_segment_panel());
        assert!(svg.contains(r#"text-anchor="end">0</text>"#));
        let values: Vec<f64> = (0..20).map(|i| 90.0 + (i % 5) as f64).collect();
        let panel = SpcPanel {
            labels: months(20),
            chart: xmr(&values, &[], Improvement::Neutral, None),
            target: None,
            markers: Vec::new(),
            ..two_segment_panel()
        };
        let svg = render_spc_svg(&panel);
        assert!(!svg.contains(r#"text-anchor="end">0</text>"#));
        assert!(svg.contains(">Special cause (neither good nor bad)</text>"));
        // No segment labels for one segment of full limits.
        assert!(!svg.contains("Limits from"));
    }

    #[test]
    fn labels_sit_above_the_plot_without_overlapping() {
        let mut panel = two_segment_panel();
        panel.markers = ["2021-11", "2021-12", "2022-01", "2022-02"]
            .iter()
            .map(|m| Marker {
                category: (*m).into(),
                label: format!("Programme {m} starts"),
            })
            .collect();
        let svg = render_spc_svg(&panel);
        let boxes = super::super::chart::tests::marker_label_boxes(&svg);
        assert_eq!(boxes.len(), 6, "four markers and two segment labels");
        for (i, (a, box_a)) in boxes.iter().enumerate() {
            for (b, box_b) in &boxes[i + 1..] {
                assert!(!box_a.intersects(box_b), "{a} overlaps {b}");
            }
        }
        let clip = svg.find(r#"<clipPath id="spc-plot"><rect"#).unwrap();
        let plot_top = attr(&svg[clip..], "y");
        assert!(boxes.iter().all(|(_, b)| b.y1 <= plot_top));
    }

    #[test]
    fn odd_inputs_do_not_break_the_chart() {
        let empty = SpcPanel {
            labels: Vec::new(),
            chart: xmr(&[], &[], Improvement::Increase, None),
            markers: Vec::new(),
            ..two_segment_panel()
        };
        let svg = render_spc_svg(&empty);
        assert!(svg.contains("No data to chart."));
        let single = SpcPanel {
            labels: months(1),
            chart: xmr(&[5.0], &[], Improvement::Increase, None),
            markers: Vec::new(),
            target: None,
            ..two_segment_panel()
        };
        let svg = render_spc_svg(&single);
        assert!(!svg.contains("NaN"));
        assert!(describe_spc(&single).contains("no process limits (one month only)"));
        let gap = SpcPanel {
            labels: months(15),
            chart: xmr(
                &[
                    1.0,
                    2.0,
                    f64::NAN,
                    3.0,
                    2.0,
                    1.0,
                    2.0,
                    3.0,
                    2.0,
                    1.0,
                    2.0,
                    3.0,
                    2.0,
                    1.0,
                    2.0,
                ],
                &[],
                Improvement::Decrease,
                None,
            ),
            markers: vec![Marker {
                category: "1999-01".into(),
                label: "Not on this chart".into(),
            }],
            target: None,
            ..two_segment_panel()
        };
        let svg = render_spc_svg(&gap);
        assert!(!svg.contains("Not on this chart"));
        assert!(!svg.contains("NaN"), "{svg}");
        assert!(describe_spc(&gap).contains("no mean or limits, as a value is missing"));
    }

    #[test]
    fn variation_icons_carry_their_meaning_in_words_letters_and_shapes() {
        let all = [
            (Variation::CommonCause, Improvement::Increase),
            (Variation::ImprovementHigh, Improvement::Increase),
            (Variation::ImprovementLow, Improvement::Decrease),
            (Variation::ConcernHigh, Improvement::Decrease),
            (Variation::ConcernLow, Improvement::Increase),
            (Variation::NeutralHigh, Improvement::Neutral),
            (Variation::NeutralLow, Improvement::Neutral),
        ];
        let icons: Vec<String> = all
            .iter()
            .map(|(v, i)| variation_icon_svg(*v, *i))
            .collect();
        for ((v, _), icon) in all.iter().zip(&icons) {
            // Beside its words on the page: hidden from assistive technology, a tooltip title.
            assert!(icon.contains(r#"aria-hidden="true""#) && !icon.contains("role="));
            assert!(icon.contains(r#"width="40" height="40" viewBox="0 0 40 40""#));
            assert!(
                icon.contains(&format!("<title>{}", escape(v.label()))),
                "{icon}"
            );
        }
        for (i, a) in icons.iter().enumerate() {
            for b in &icons[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(icons[0].contains(COMMON_CAUSE_INK) && !icons[0].contains(">H<"));
        assert!(icons[1].contains(">H</text>") && icons[1].contains(IMPROVEMENT_INK));
        assert!(icons[2].contains(">L</text>"));
        assert!(icons[3].contains(">H</text>") && icons[3].contains(CONCERN_INK));
        assert!(icons[3].contains("<rect"), "concern points are squares");
        assert!(icons[5].contains(NEUTRAL_INK) && icons[5].contains(">H</text>"));
        assert!(icons[0].contains("(higher is better)"));
        assert!(icons[5].contains("(neither higher nor lower is better)"));
    }

    #[test]
    fn assurance_icons_have_letters_and_names() {
        let pass = assurance_icon_svg(Some(Assurance::ConsistentlyPassing));
        let fail = assurance_icon_svg(Some(Assurance::ConsistentlyFailing));
        let hit_and_miss = assurance_icon_svg(Some(Assurance::HitAndMiss));
        let none = assurance_icon_svg(None);
        assert!(pass.contains(">P</text>") && pass.contains(IMPROVEMENT_INK));
        assert!(pass.contains("<title>Assurance: consistently passing the target"));
        assert!(fail.contains(">F</text>") && fail.contains(CONCERN_INK));
        assert!(hit_and_miss.contains(">?</text>"));
        assert!(hit_and_miss.contains("hit and miss"));
        assert!(none.contains("stroke-dasharray") && none.contains("not assessed"));
        assert!(!none.contains("</text>"));
        for icon in [&pass, &fail, &hit_and_miss, &none] {
            assert!(icon.contains(r#"aria-hidden="true""#));
        }
    }
}
