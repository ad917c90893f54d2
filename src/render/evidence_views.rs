//! The statistical charts of a report as pages show them: an XmR chart per series with the
//! Making Data Count icons in words, a comparison of areas with their intervals, a funnel
//! plot, and SPC summary tables; each with a data table and the CSV behind it. The numbers
//! come from `analyse::{evidence, compare}`; this module only words and draws them.

use serde::Serialize;

use crate::analyse::QueryResult;
use crate::analyse::compare::{self, Comparisons, Spec};
use crate::analyse::evidence::{RebaseKind, SeriesEvidence, evidence_csv, series_evidence};
use crate::analyse::intervals::{Comparison, FunnelSignificance};
use crate::analyse::spc::{self, Variation};
use crate::model::{Chart, ColumnFormat, Improvement, IntervalMethod, SpcTable};
use crate::snapshot::Snapshot;

use super::comparison_chart::{
    ComparisonChart, ComparisonItem, FunnelChart, FunnelPoint, describe_comparison,
    describe_funnel, render_comparison_svg, render_funnel_svg,
};
use super::datapackage::{FieldKind, FieldSpec, Resource};
use super::format::{format_number, honest_decimals, humanise};
use super::spc_chart::{
    SpcPanel, assurance_icon_svg, describe_spc, render_spc_compact_svg, render_spc_svg,
    variation_icon_svg,
};
use super::views::{CellView, TableView};

/// A Making Data Count icon with its words (the icon is never the only carrier of meaning).
#[derive(Debug, Clone, Serialize)]
pub(super) struct IconView {
    pub svg: String,
    pub label: String,
}

/// One series' XmR chart on a page.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SpcPanelView {
    pub anchor: String,
    pub title: String,
    /// `None` when the series cannot be charted (`notes` says why).
    pub svg: Option<String>,
    /// What the chart shows, in sentences: the latest signal, the limits' months, trial limits.
    pub notes: Vec<String>,
    pub variation: Option<IconView>,
    pub assurance: Option<IconView>,
    pub table: Option<TableView>,
}

/// A statistical chart: its panels (SPC) or its one drawing (comparison, funnel).
#[derive(Debug, Clone, Serialize)]
pub(super) struct StatsChartView {
    pub anchor: String,
    pub title: String,
    pub description: String,
    pub svg: Option<String>,
    pub panels: Vec<SpcPanelView>,
    /// Method and caveats under the chart.
    pub notes: Vec<String>,
    pub table: Option<TableView>,
    pub csv: String,
}

/// A chart on a report page: drawn from its rows, or a statistical chart.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum ChartBlock {
    Basic(super::views::ChartView),
    Stats(StatsChartView),
}

/// The file behind a chart: its CSV and how the data package describes it.
#[derive(Debug, Clone)]
pub(super) struct Download {
    pub resource: Resource,
    pub csv: String,
}

fn field(name: &str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        name: name.to_owned(),
        kind,
        missing: vec![String::new()],
    }
}

fn cell(text: String) -> CellView {
    CellView {
        text,
        missing: false,
    }
}

fn improvement_of(chart: &Chart) -> Improvement {
    chart.improvement.unwrap_or(Improvement::Neutral)
}

const MDC_CITATION: &str = "XmR charts follow NHS England's Making Data Count method (as NHSRplotthedots 0.2.2 computes it): limits are the mean plus and minus 2.66 times the mean moving range; a point outside the limits, a run of 7 on one side of the mean, a trend of 7 rising or falling, or 2 of 3 beyond two-thirds of the way to a limit is special cause variation.";

fn variation_words(variation: Variation) -> &'static str {
    variation.label()
}

/// The XmR charts of a `type: spc` chart, one panel per series.
pub(super) fn spc_chart_view(
    snapshot: &Snapshot,
    chart: &Chart,
    result: &QueryResult,
    anchor: &str,
    title: String,
    csv_href: String,
    csv_path: &str,
) -> (StatsChartView, Download) {
    let improvement = improvement_of(chart);
    let evidence = series_evidence(
        snapshot,
        result,
        &chart.x,
        &chart.y,
        chart.series.as_deref(),
        chart.target.as_deref(),
        improvement,
    );
    let several = evidence.len() > 1;
    let decimals = match chart.format {
        Some(ColumnFormat::Integer) | None => 0,
        Some(format) => honest_decimals(format, None),
    };
    let panels: Vec<SpcPanelView> = evidence
        .iter()
        .enumerate()
        .map(|(i, series)| {
            let panel_anchor = format!("{anchor}-{}", i + 1);
            let panel_title = if several {
                series.name.clone()
            } else {
                title.clone()
            };
            spc_panel(
                series,
                chart,
                &panel_anchor,
                &panel_title,
                &title,
                several,
                decimals,
            )
        })
        .collect();
    let mut notes = vec![MDC_CITATION.to_owned()];
    // The London-wide changes every panel is rebased at, in full once.
    let mut london_wide: Vec<&crate::analyse::evidence::Rebase> = evidence
        .iter()
        .flat_map(|e| e.rebases.iter())
        .filter(|r| r.kind == RebaseKind::LondonWide)
        .collect();
    london_wide.sort_by_key(|r| r.month);
    london_wide.dedup_by_key(|r| r.month);
    for rebase in london_wide {
        notes.push(
            format!(
                "{}: {}",
                rebase.month.long_name(),
                rebase.reason.trim_end_matches('.')
            ) + ".",
        );
    }
    if chart.target.is_some() {
        notes.push("Assurance compares the target with the process limits: a target outside the limits on the good side will consistently be met, on the bad side consistently missed, and one within them will be hit and miss.".to_owned());
    }
    let mut fields = Vec::new();
    if several {
        fields.push(field("series", FieldKind::Text));
    }
    fields.push(field("month", FieldKind::YearMonth));
    for name in ["value", "segment", "centre", "lower_limit", "upper_limit"] {
        fields.push(field(name, FieldKind::Number));
    }
    for name in ["rule", "point_type", "improvement"] {
        fields.push(field(name, FieldKind::Text));
    }
    let download = Download {
        resource: Resource {
            path: csv_path.to_owned(),
            title: format!("{title}: XmR chart"),
            description: format!(
                "Each month's value ({}), its segment, mean and process limits, the Making Data Count rule that flagged it and its point type; a series with a suppressed month is not charted and has no rows",
                chart.units
            ),
            fields: Some(fields),
        },
        csv: evidence_csv(&evidence),
    };
    (
        StatsChartView {
            anchor: anchor.to_owned(),
            title,
            description: chart
                .description
                .clone()
                .unwrap_or_else(|| chart.title.clone()),
            svg: None,
            panels,
            notes,
            table: None,
            csv: csv_href,
        },
        download,
    )
}

fn spc_panel(
    series: &SeriesEvidence,
    chart: &Chart,
    anchor: &str,
    title: &str,
    chart_title: &str,
    compact: bool,
    decimals: usize,
) -> SpcPanelView {
    let Some(spc_chart) = &series.chart else {
        return SpcPanelView {
            anchor: anchor.to_owned(),
            title: title.to_owned(),
            svg: None,
            notes: vec![{
                let why = series.excluded.as_deref().unwrap_or("not charted");
                let why = why.strip_prefix("not charted: ").unwrap_or(why);
                format!("{title} is not charted: {why}.")
            }],
            variation: None,
            assurance: None,
            table: None,
        };
    };
    let labels: Vec<String> = series.months.iter().map(|m| m.to_string()).collect();
    let panel = SpcPanel {
        id: anchor.to_owned(),
        title: if compact {
            format!("{chart_title}: {title}")
        } else {
            title.to_owned()
        },
        description: chart
            .description
            .clone()
            .unwrap_or_else(|| chart.title.clone()),
        units: chart.units.clone(),
        labels,
        chart: spc_chart.clone(),
        target: series.target,
        markers: Vec::new(),
    };
    let svg = if compact {
        render_spc_compact_svg(&panel)
    } else {
        render_spc_svg(&panel)
    };
    let mut notes = Vec::new();
    // The page already shows the chart's description above the panels: the caption is what
    // this chart shows.
    notes.push(after_description(&describe_spc(&panel), &panel.description));
    if !series.rebases.is_empty() {
        let made: Vec<String> = series
            .rebases
            .iter()
            .map(|r| format!("{} ({})", r.month.long_name(), r.label))
            .collect();
        notes.push(format!("Limits recalculated from {}.", made.join(", ")));
    }
    for (rebase, why) in &series.not_rebased {
        notes.push(format!(
            "Limits not recalculated at {} ({}): {why}, too few for limits worth reading.",
            rebase.month.long_name(),
            rebase.label
        ));
    }
    if let Some(programme) = &series.programme {
        let period = match programme.end {
            Some(end) => format!("{} to {}", programme.start.long_name(), end.long_name()),
            None => format!("from {}", programme.start.long_name()),
        };
        notes.push(match &series.signal {
            Some(signal) => format!("During {} ({period}): {signal}.", programme.name),
            None => format!(
                "During {} ({period}): common cause variation only, no signal.",
                programme.name
            ),
        });
    }
    if spc_chart.has_trial_limits() {
        notes.push("Some limits are trial limits, from fewer than 13 months: they will become more reliable as more months are added.".to_owned());
    }
    let improvement = spc::Improvement::from(series.improvement);
    let variation = IconView {
        svg: variation_icon_svg(spc_chart.variation, improvement),
        label: variation_words(spc_chart.variation).to_owned(),
    };
    let assurance = series.target.map(|_| IconView {
        svg: assurance_icon_svg(series.assurance),
        label: series
            .assurance
            .map_or(
                "No assurance: the direction is neither better nor worse",
                |a| a.label(),
            )
            .to_owned(),
    });
    SpcPanelView {
        anchor: anchor.to_owned(),
        title: title.to_owned(),
        svg: Some(svg),
        notes,
        variation: Some(variation),
        assurance,
        table: Some(spc_table(series, spc_chart, &panel.title, decimals)),
    }
}

/// The data table of one XmR chart: each month's value, mean, limits and what it shows.
fn spc_table(
    series: &SeriesEvidence,
    chart: &spc::SpcChart,
    title: &str,
    decimals: usize,
) -> TableView {
    let rows = series
        .months
        .iter()
        .zip(&chart.points)
        .map(|(month, point)| {
            let limit = |v: f64| {
                if v.is_finite() {
                    format_number(v, 1)
                } else {
                    "none".to_owned()
                }
            };
            let shows = match point.rule {
                Some(_) => format!(
                    "{} ({})",
                    point_type_words(point.point_type),
                    point.special_cause_type()
                ),
                None => "Common cause".to_owned(),
            };
            vec![
                cell(month.long_name()),
                cell(format_number(point.value, decimals)),
                cell(format_number(point.centre, 1)),
                cell(limit(point.lower_limit)),
                cell(limit(point.upper_limit)),
                cell(shows),
            ]
        })
        .collect();
    TableView {
        caption: format!("{title}: each month with its mean and process limits"),
        headers: [
            "Month",
            "Value",
            "Mean",
            "Lower process limit",
            "Upper process limit",
            "What the point shows",
        ]
        .map(str::to_owned)
        .to_vec(),
        numeric: vec![false, true, true, true, true, false],
        rows,
    }
}

fn point_type_words(point_type: spc::PointType) -> &'static str {
    match point_type {
        spc::PointType::CommonCause => "Common cause",
        spc::PointType::SpecialCauseImprovement => "Special cause: improvement",
        spc::PointType::SpecialCauseConcern => "Special cause: concern",
        spc::PointType::SpecialCauseNeutralHigh => "Special cause: higher, neither good nor bad",
        spc::PointType::SpecialCauseNeutralLow => "Special cause: lower, neither good nor bad",
    }
}

/// The page's precision rule for a rate or percentage of `denominator` (see
/// `format::honest_decimals`).
fn honest(spec: &Spec<'_>, denominator: f64) -> usize {
    let format = if spec.per == 100.0 {
        ColumnFormat::Percent
    } else {
        ColumnFormat::Rate
    };
    honest_decimals(format, Some(denominator))
}

/// Decimals for a whole chart: those its smallest denominator earns.
fn chart_decimals(spec: &Spec<'_>, comparisons: &Comparisons) -> usize {
    comparisons
        .rows
        .iter()
        .chain(comparisons.comparator.iter())
        .map(|r| honest(spec, r.denominator))
        .min()
        .unwrap_or(0)
}

/// `text` without the description it starts with (shown above the chart already).
fn after_description(text: &str, description: &str) -> String {
    text.strip_prefix(description)
        .unwrap_or(text)
        .trim()
        .to_owned()
}

fn spec_of(chart: &Chart) -> Option<Spec<'_>> {
    Some(Spec {
        label: &chart.x,
        numerator: chart.numerator.as_deref()?,
        denominator: chart.denominator.as_deref()?,
        per: f64::from(chart.per.unwrap_or(1000)),
        method: chart.method.unwrap_or(IntervalMethod::Rate),
        comparator: chart.comparator.as_deref()?,
    })
}

fn method_note(method: IntervalMethod) -> &'static str {
    match method {
        IntervalMethod::Rate => {
            "95% and 99.8% confidence intervals by Byar's method (exact Poisson below 10 events), as OHID Fingertips computes them."
        }
        IntervalMethod::Proportion => {
            "95% and 99.8% confidence intervals by Wilson's score method, as OHID Fingertips computes them."
        }
    }
}

fn comparison_words(comparison: Comparison, comparator: &str) -> String {
    match comparison {
        Comparison::Similar => format!("Similar to {comparator}"),
        Comparison::Higher => format!("Higher than {comparator}"),
        Comparison::Lower => format!("Lower than {comparator}"),
    }
}

fn left_out_note(comparisons: &Comparisons) -> Option<String> {
    (!comparisons.left_out.is_empty()).then(|| {
        format!(
            "Not compared, because a count is suppressed or the denominator is 0: {}.",
            comparisons.left_out.join(", ")
        )
    })
}

const ROUNDED_NOTE: &str = "Intervals are computed from the published counts, which are rounded to the nearest 5, so they are a little wider in truth than shown; an area's figure on this chart can differ in its last digit from a figure computed before rounding.";

/// The comparison chart of a `type: comparison` chart.
pub(super) fn comparison_view(
    chart: &Chart,
    result: &QueryResult,
    anchor: &str,
    csv_href: String,
    csv_path: &str,
) -> Option<(StatsChartView, Download)> {
    let spec = spec_of(chart)?;
    let comparisons = compare::compare(result, &spec);
    let comparator = comparisons.comparator.as_ref()?;
    let decimals = chart_decimals(&spec, &comparisons);
    let items: Vec<ComparisonItem> = comparisons
        .rows
        .iter()
        .map(|row| ComparisonItem {
            label: row.label.clone(),
            value: row.value,
            ci95: (row.ci95.lower, row.ci95.upper),
            ci998: (row.ci998.lower, row.ci998.upper),
            comparison: row.at_95,
            comparison_998: row.at_998,
        })
        .collect();
    let model = ComparisonChart {
        id: anchor.to_owned(),
        title: chart.title.clone(),
        description: chart
            .description
            .clone()
            .unwrap_or_else(|| chart.title.clone()),
        units: chart.units.clone(),
        comparator: comparator.value,
        comparator_label: comparator.label.clone(),
        items,
        decimals: Some(decimals),
    };
    let svg = render_comparison_svg(&model);
    let mut notes = vec![
        after_description(&describe_comparison(&model), &model.description),
        method_note(spec.method).to_owned(),
        format!(
            "An area is higher or lower than {} when {}'s value lies outside its interval; at 99.8% that is very unlikely to be chance.",
            comparator.label, comparator.label
        ),
        ROUNDED_NOTE.to_owned(),
    ];
    notes.extend(left_out_note(&comparisons));
    let headers: Vec<String> = [
        "Area",
        chart.units.as_str(),
        "95% interval",
        "99.8% interval",
        "At 95%",
        "At 99.8%",
        "Count",
        "Denominator",
    ]
    .map(str::to_owned)
    .to_vec();
    let interval_text = |lower: f64, upper: f64, decimals: usize| {
        format!(
            "{} to {}",
            format_number(lower, decimals),
            format_number(upper, decimals)
        )
    };
    let all_rows: Vec<&compare::Compared> = std::iter::once(comparator)
        .chain(comparisons.rows.iter())
        .collect();
    let rows = all_rows
        .iter()
        .map(|row| {
            let is_comparator = row.label == comparator.label;
            let decimals = honest(&spec, row.denominator);
            vec![
                cell(row.label.clone()),
                cell(format_number(row.value, decimals)),
                cell(interval_text(row.ci95.lower, row.ci95.upper, decimals)),
                cell(interval_text(row.ci998.lower, row.ci998.upper, decimals)),
                cell(if is_comparator {
                    "Comparator".to_owned()
                } else {
                    comparison_words(row.at_95, &comparator.label)
                }),
                cell(if is_comparator {
                    "Comparator".to_owned()
                } else {
                    comparison_words(row.at_998, &comparator.label)
                }),
                cell(format_number(row.numerator, 0)),
                cell(format_number(row.denominator, 0)),
            ]
        })
        .collect();
    let table = TableView {
        caption: format!("{}: each area with its intervals", chart.title),
        headers,
        numeric: vec![false, true, false, false, false, false, true, true],
        rows,
    };
    let csv = comparison_csv(&all_rows, &comparator.label);
    let fields = vec![
        field("area", FieldKind::Text),
        field("value", FieldKind::Number),
        field("lower_95", FieldKind::Number),
        field("upper_95", FieldKind::Number),
        field("lower_99_8", FieldKind::Number),
        field("upper_99_8", FieldKind::Number),
        field("compared_95", FieldKind::Text),
        field("compared_99_8", FieldKind::Text),
        field("numerator", FieldKind::Number),
        field("denominator", FieldKind::Number),
    ];
    Some((
        StatsChartView {
            anchor: anchor.to_owned(),
            title: chart.title.clone(),
            description: model.description.clone(),
            svg: Some(svg),
            panels: Vec::new(),
            notes,
            table: Some(table),
            csv: csv_href,
        },
        Download {
            resource: Resource {
                path: csv_path.to_owned(),
                title: chart.title.clone(),
                description: format!(
                    "Each area's {} with its 95% and 99.8% confidence intervals and how it compares with {} ({})",
                    chart.units,
                    comparator.label,
                    method_note(spec.method)
                ),
                fields: Some(fields),
            },
            csv,
        },
    ))
}

fn comparison_csv(rows: &[&compare::Compared], comparator: &str) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "area",
        "value",
        "lower_95",
        "upper_95",
        "lower_99_8",
        "upper_99_8",
        "compared_95",
        "compared_99_8",
        "numerator",
        "denominator",
    ]);
    let number = |v: f64| format!("{v:.6}");
    for row in rows {
        let is_comparator = row.label == comparator;
        let compared = |c: Comparison| {
            if is_comparator {
                "comparator".to_owned()
            } else {
                c.id().to_owned()
            }
        };
        let _ = writer.write_record([
            row.label.clone(),
            number(row.value),
            number(row.ci95.lower),
            number(row.ci95.upper),
            number(row.ci998.lower),
            number(row.ci998.upper),
            compared(row.at_95),
            compared(row.at_998),
            number(row.numerator),
            number(row.denominator),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn funnel_words(significance: FunnelSignificance) -> &'static str {
    match significance {
        FunnelSignificance::High99_8 => "Above the 99.8% limit",
        FunnelSignificance::High95 => "Above the 95% limit",
        FunnelSignificance::Low99_8 => "Below the 99.8% limit",
        FunnelSignificance::Low95 => "Below the 95% limit",
        FunnelSignificance::NotSignificant => "Within the limits",
    }
}

/// The funnel plot of a `type: funnel` chart (rates against their populations).
pub(super) fn funnel_view(
    chart: &Chart,
    result: &QueryResult,
    anchor: &str,
    csv_href: String,
    csv_path: &str,
) -> Option<(StatsChartView, Download)> {
    let spec = spec_of(chart)?;
    let comparisons = compare::compare(result, &spec);
    let comparator = comparisons.comparator.as_ref()?;
    let limits = compare::funnel(&comparisons, spec.per);
    let positions: Vec<(&compare::Compared, FunnelSignificance)> = comparisons
        .rows
        .iter()
        .map(|row| {
            let position = compare::funnel_position(comparator.value, row, spec.per)
                .unwrap_or(FunnelSignificance::NotSignificant);
            (row, position)
        })
        .collect();
    let decimals = chart_decimals(&spec, &comparisons);
    let model = FunnelChart {
        id: anchor.to_owned(),
        title: chart.title.clone(),
        description: chart
            .description
            .clone()
            .unwrap_or_else(|| chart.title.clone()),
        units: chart.units.clone(),
        x_label: humanise(spec.denominator),
        comparator: comparator.value,
        comparator_label: comparator.label.clone(),
        points: positions
            .iter()
            .map(|(row, significance)| FunnelPoint {
                label: row.label.clone(),
                denominator: row.denominator,
                rate: row.value,
                significance: *significance,
            })
            .collect(),
        limits,
        decimals: Some(decimals),
    };
    let svg = render_funnel_svg(&model);
    let mut notes = vec![
        after_description(&describe_funnel(&model), &model.description),
        format!(
            "Funnel limits (Spiegelhalter's method, exact Poisson, as OHID Fingertips and PHEindicatormethods compute them) show how far from {}'s rate an area of each size could fall by chance alone: 95% limits dashed, 99.8% dotted.",
            comparator.label
        ),
        ROUNDED_NOTE.to_owned(),
    ];
    let outside = positions
        .iter()
        .filter(|(_, s)| *s != FunnelSignificance::NotSignificant)
        .count();
    if outside * 2 > positions.len() {
        notes.push(format!(
            "{outside} of {} areas lie outside the 95% limits: the areas differ by more than chance alone would make them (overdispersion), so the limits are not a test of any one area. The limits are not widened for overdispersion here.",
            positions.len()
        ));
    }
    notes.extend(left_out_note(&comparisons));
    let rows = positions
        .iter()
        .map(|(row, significance)| {
            vec![
                cell(row.label.clone()),
                cell(format_number(row.value, honest(&spec, row.denominator))),
                cell(format_number(row.denominator, 0)),
                cell(funnel_words(*significance).to_owned()),
            ]
        })
        .collect();
    let table = TableView {
        caption: format!("{}: each area against the funnel limits", chart.title),
        headers: vec![
            "Area".into(),
            chart.units.clone(),
            humanise(spec.denominator),
            "Against the limits".into(),
        ],
        numeric: vec![false, true, true, false],
        rows,
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(["area", "value", "denominator", "significance"]);
    for (row, significance) in &positions {
        let _ = writer.write_record([
            row.label.clone(),
            format!("{:.6}", row.value),
            format!("{}", row.denominator),
            significance.id().to_owned(),
        ]);
    }
    let csv = String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default();
    Some((
        StatsChartView {
            anchor: anchor.to_owned(),
            title: chart.title.clone(),
            description: model.description.clone(),
            svg: Some(svg),
            panels: Vec::new(),
            notes,
            table: Some(table),
            csv: csv_href,
        },
        Download {
            resource: Resource {
                path: csv_path.to_owned(),
                title: chart.title.clone(),
                description: format!(
                    "Each area's {} and denominator, and where it lies against the 95% and 99.8% funnel limits around {}",
                    chart.units, comparator.label
                ),
                fields: Some(vec![
                    field("area", FieldKind::Text),
                    field("value", FieldKind::Number),
                    field("denominator", FieldKind::Number),
                    field("significance", FieldKind::Text),
                ]),
            },
            csv,
        },
    ))
}

/// One cell of an SPC summary table: text, maybe with its icon.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SpcCellView {
    pub text: String,
    pub icon: Option<String>,
}

/// An SPC summary table: a row per series; per measure its latest month and value, its
/// variation and assurance (icon and words) and its target.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SpcTableView {
    pub anchor: String,
    pub caption: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<SpcCellView>>,
    pub csv: String,
}

pub(super) fn spc_table_view(
    snapshot: &Snapshot,
    table: &SpcTable,
    result: &QueryResult,
    anchor: &str,
    csv_href: String,
    csv_path: &str,
) -> (SpcTableView, Download) {
    let mut headers = vec!["Area".to_owned()];
    let mut csv_header = vec!["series".to_owned()];
    let evidence: Vec<Vec<SeriesEvidence>> = table
        .measures
        .iter()
        .map(|measure| {
            headers.extend([
                format!("{}: latest month", measure.label),
                format!("{}: variation", measure.label),
                format!("{}: assurance", measure.label),
                format!("{}: target", measure.label),
            ]);
            csv_header.extend(
                [
                    "latest_month",
                    "latest_value",
                    "variation",
                    "assurance",
                    "target",
                ]
                .map(|c| format!("{}_{c}", measure.y)),
            );
            series_evidence(
                snapshot,
                result,
                &table.x,
                &measure.y,
                Some(&table.series),
                measure.target.as_deref(),
                measure.improvement,
            )
        })
        .collect();
    let names: Vec<String> = evidence
        .first()
        .map(|e| e.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&csv_header);
    for name in &names {
        let mut row = vec![SpcCellView {
            text: name.clone(),
            icon: None,
        }];
        let mut record = vec![name.clone()];
        for (measure, all) in table.measures.iter().zip(&evidence) {
            let series = all.iter().find(|s| &s.name == name);
            let decimals = match measure.format {
                Some(ColumnFormat::Integer) | None => 0,
                Some(format) => honest_decimals(format, None),
            };
            let Some((series, chart)) = series.and_then(|s| Some((s, s.chart.as_ref()?))) else {
                let why = series
                    .and_then(|s| s.excluded.clone())
                    .unwrap_or_else(|| "not charted".into());
                row.push(SpcCellView {
                    text: why,
                    icon: None,
                });
                row.extend((0..3).map(|_| SpcCellView {
                    text: String::new(),
                    icon: None,
                }));
                record.extend((0..5).map(|_| String::new()));
                continue;
            };
            let (month, value) = (
                series.months.last().copied(),
                chart.points.last().map(|p| p.value),
            );
            let latest = match (month, value) {
                (Some(m), Some(v)) => format!("{}: {}", m.long_name(), format_number(v, decimals)),
                _ => String::new(),
            };
            let improvement = spc::Improvement::from(series.improvement);
            row.push(SpcCellView {
                text: latest,
                icon: None,
            });
            row.push(SpcCellView {
                text: chart.variation.label().to_owned(),
                icon: Some(variation_icon_svg(chart.variation, improvement)),
            });
            let assurance_text = match (series.target, series.assurance) {
                (None, _) => "No target".to_owned(),
                (Some(_), Some(a)) => a.label().to_owned(),
                (Some(_), None) => "No assurance (neither direction is better)".to_owned(),
            };
            row.push(SpcCellView {
                text: assurance_text,
                icon: series.target.map(|_| assurance_icon_svg(series.assurance)),
            });
            row.push(SpcCellView {
                text: series
                    .target
                    .map_or_else(|| "none".to_owned(), |t| format_number(t, decimals)),
                icon: None,
            });
            record.extend([
                month.map(|m| m.to_string()).unwrap_or_default(),
                value.map(|v| v.to_string()).unwrap_or_default(),
                chart.variation.id().to_owned(),
                series
                    .assurance
                    .map(|a| a.id().to_owned())
                    .unwrap_or_default(),
                series.target.map(|t| t.to_string()).unwrap_or_default(),
            ]);
        }
        rows.push(row);
        let _ = writer.write_record(&record);
    }
    let fields = csv_header
        .iter()
        .map(|name| {
            let kind =
                if name == "series" || name.ends_with("_variation") || name.ends_with("_assurance")
                {
                    FieldKind::Text
                } else if name.ends_with("_latest_month") {
                    FieldKind::YearMonth
                } else {
                    FieldKind::Number
                };
            field(name, kind)
        })
        .collect();
    (
        SpcTableView {
            anchor: anchor.to_owned(),
            caption: table.caption.clone(),
            headers,
            rows,
            csv: csv_href,
        },
        Download {
            resource: Resource {
                path: csv_path.to_owned(),
                title: table.caption.clone(),
                description: format!(
                    "{}: per series, each measure's latest month and value, its Making Data Count variation and assurance, and its target",
                    table.caption
                ),
                fields: Some(fields),
            },
            csv: String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default(),
        },
    )
}
