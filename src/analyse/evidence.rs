//! A report's series read as Making Data Count evidence: each series of a query's rows (one
//! per area) becomes an XmR chart, rebased where the records say its figures changed for a
//! known reason — every London-wide change point, and the start and end (and any further
//! rebase month) of the programme of the series' area — with its assurance judged against the
//! programme's target over the programme's own months. Pure: query rows in, values out.

use std::collections::BTreeMap;

use crate::model::{AreaLevel, Improvement, Month};
use crate::snapshot::Snapshot;

use super::query::QueryResult;
use super::spc::{self, Assurance, SpcChart};

impl From<Improvement> for spc::Improvement {
    fn from(improvement: Improvement) -> spc::Improvement {
        match improvement {
            Improvement::Increase => spc::Improvement::Increase,
            Improvement::Decrease => spc::Improvement::Decrease,
            Improvement::Neutral => spc::Improvement::Neutral,
        }
    }
}

/// A month a series is rebased at, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebase {
    pub month: Month,
    /// Why, in full.
    pub reason: String,
    /// Why, in a few words, beside the chart.
    pub label: String,
    pub kind: RebaseKind,
}

/// Where a rebase comes from: a London-wide change point is always made (a change of system
/// must never be read as a change in practice); a programme's own months give way when they
/// would leave a segment too short to have limits worth reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebaseKind {
    LondonWide,
    Programme,
}

/// The fewest months a series (and a segment opened by a programme's own rebase) may have:
/// fewer, and its limits would be trial limits from a handful of points, so the series is not
/// charted or the rebase is not made (and the page says so). NHSRplotthedots calls limits from
/// fewer than 13 points trial limits; from fewer than 6 they say little.
pub const MIN_REBASE_MONTHS: usize = 6;

/// The programme whose months a series' assurance is judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammePeriod {
    pub name: String,
    pub start: Month,
    pub end: Option<Month>,
}

/// One series' evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEvidence {
    /// The series' name (its `series` value, or the measure's column).
    pub name: String,
    pub area_code: Option<String>,
    /// The months, in order.
    pub months: Vec<Month>,
    /// The chart, or `None` when it cannot be charted (see `excluded`).
    pub chart: Option<SpcChart>,
    /// Why the series is not charted.
    pub excluded: Option<String>,
    /// Where its limits are recalculated, in month order.
    pub rebases: Vec<Rebase>,
    /// Rebases not made, each with why (a segment would be too short).
    pub not_rebased: Vec<(Rebase, String)>,
    pub programme: Option<ProgrammePeriod>,
    pub target: Option<f64>,
    /// Assurance against the target over the programme's months (the latest segment's when
    /// there is no programme); `None` without a target or with a neutral direction.
    pub assurance: Option<Assurance>,
    /// The latest signal in words, within the programme's months when there is one.
    pub signal: Option<String>,
    pub improvement: Improvement,
}

impl SeriesEvidence {
    /// The 1-based segment that starts at `month`, if one does.
    pub fn segment_from(&self, month: Month) -> Option<usize> {
        let chart = self.chart.as_ref()?;
        let index = self.months.iter().position(|m| *m == month)?;
        chart
            .segments
            .iter()
            .position(|s| s.start == index)
            .map(|i| i + 1)
    }

    /// The 1-based segment holding `month`.
    pub fn segment_at(&self, month: Month) -> Option<usize> {
        let chart = self.chart.as_ref()?;
        let index = self.months.iter().position(|m| *m == month)?;
        chart
            .segments
            .iter()
            .position(|s| s.start <= index && index < s.end)
            .map(|i| i + 1)
    }

    /// The centre (mean) of the 1-based segment.
    pub fn centre(&self, segment: usize) -> Option<f64> {
        self.chart
            .as_ref()?
            .segments
            .get(segment.checked_sub(1)?)
            .map(|s| s.centre)
    }
}

/// The programme of an area: its own (an STP area's), or its STP area's (a borough's).
fn programme_of<'a>(
    snapshot: &'a Snapshot,
    area_code: &str,
) -> Option<&'a crate::model::Programme> {
    let summaries = snapshot
        .areas
        .as_ref()
        .map(|a| a.value.summaries())
        .unwrap_or_default();
    let area = summaries.iter().find(|a| a.code == area_code)?;
    let stp = match area.level {
        AreaLevel::London => return None,
        AreaLevel::Stp => area.code.clone(),
        AreaLevel::Borough => area.parent.clone()?,
    };
    snapshot
        .programmes
        .iter()
        .map(|p| &p.value)
        .find(|p| p.area == stp)
}

/// Where a series of `area_code` (none: London or no area) is rebased: every London-wide change
/// point, and its programme's start, the month after its end, and its own rebase months.
pub fn rebases_for(snapshot: &Snapshot, area_code: Option<&str>) -> Vec<Rebase> {
    let mut out: Vec<Rebase> = snapshot
        .change_points
        .iter()
        .flat_map(|c| c.value.change_points.iter())
        .map(|c| Rebase {
            month: c.month,
            reason: c.reason.clone(),
            label: c.label.clone().unwrap_or_else(|| c.reason.clone()),
            kind: RebaseKind::LondonWide,
        })
        .collect();
    if let Some(programme) = area_code.and_then(|code| programme_of(snapshot, code)) {
        out.push(Rebase {
            month: programme.start,
            reason: format!("{} starts", programme.name),
            label: "the project starts".into(),
            kind: RebaseKind::Programme,
        });
        if let Some(end) = programme.end {
            out.push(Rebase {
                month: end.next(),
                reason: format!("{} has ended", programme.name),
                label: "the project has ended".into(),
                kind: RebaseKind::Programme,
            });
        }
        out.extend(programme.rebase.iter().map(|r| Rebase {
            month: r.month,
            reason: r.reason.clone(),
            label: r.label.clone().unwrap_or_else(|| r.reason.clone()),
            kind: RebaseKind::Programme,
        }));
    }
    // A London-wide change point sorts first within its month, so it is the one kept.
    out.sort_by_key(|r| (r.month, r.kind != RebaseKind::LondonWide));
    out.dedup_by_key(|r| r.month);
    out
}

/// The rebases made at `months` (indexes into them), and those not made with why: a
/// programme's rebase is dropped when the segment it would open, or the one it would close,
/// has fewer than `MIN_REBASE_MONTHS` months.
fn rebases_made(rebases: &[Rebase], months: &[Month]) -> (Vec<usize>, Vec<(Rebase, String)>) {
    let mut candidates: Vec<(usize, &Rebase)> = rebases
        .iter()
        .filter_map(|r| Some((months.iter().position(|m| *m == r.month)?, r)))
        .filter(|(at, _)| *at > 0)
        .collect();
    let mut dropped = Vec::new();
    loop {
        let boundaries: Vec<usize> = std::iter::once(0)
            .chain(candidates.iter().map(|(at, _)| *at))
            .chain(std::iter::once(months.len()))
            .collect();
        // The first programme rebase next to a short segment goes; then look again.
        let short = candidates.iter().enumerate().find_map(|(i, (at, rebase))| {
            let before = at - boundaries[i];
            let after = boundaries[i + 2] - at;
            let fewest = before.min(after);
            (rebase.kind == RebaseKind::Programme && fewest < MIN_REBASE_MONTHS)
                .then_some((i, before, after))
        });
        let Some((i, before, after)) = short else {
            break;
        };
        let (_, rebase) = candidates.remove(i);
        let why = if after < MIN_REBASE_MONTHS {
            format!(
                "only {after} month{} before the next recalculation or the latest month",
                if after == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "only {before} month{} since the limits were last calculated",
                if before == 1 { "" } else { "s" }
            )
        };
        dropped.push((rebase.clone(), why));
    }
    (candidates.into_iter().map(|(at, _)| at).collect(), dropped)
}

/// The evidence for every series of `result`: `x` the month column, `y` the value, `series`
/// the column naming each series (else one series), `target` a column of targets.
pub fn series_evidence(
    snapshot: &Snapshot,
    result: &QueryResult,
    x: &str,
    y: &str,
    series: Option<&str>,
    target: Option<&str>,
    improvement: Improvement,
) -> Vec<SeriesEvidence> {
    let (Some(xi), Some(yi)) = (result.column_index(x), result.column_index(y)) else {
        return Vec::new();
    };
    let si = series.and_then(|s| result.column_index(s));
    let ai = result.column_index("area_code");
    let ti = target.and_then(|t| result.column_index(t));
    // Series in order of first appearance; rows within each by month.
    let mut order: Vec<String> = Vec::new();
    let mut rows: BTreeMap<String, Vec<&Vec<super::Cell>>> = BTreeMap::new();
    for row in &result.rows {
        let name = si.map_or_else(|| y.to_owned(), |s| row[s].as_text());
        if !rows.contains_key(&name) {
            order.push(name.clone());
        }
        rows.entry(name).or_default().push(row);
    }
    order
        .into_iter()
        .map(|name| {
            let mut series_rows: Vec<(Month, &Vec<super::Cell>)> = rows[&name]
                .iter()
                .filter_map(|row| row[xi].as_text().parse::<Month>().ok().map(|m| (m, *row)))
                .collect();
            series_rows.sort_by_key(|(m, _)| *m);
            let months: Vec<Month> = series_rows.iter().map(|(m, _)| *m).collect();
            let values: Vec<Option<f64>> = series_rows
                .iter()
                .map(|(_, row)| row[yi].as_f64())
                .collect();
            let area_code = ai.and_then(|a| series_rows.first().map(|(_, row)| row[a].as_text()));
            let target = ti.and_then(|t| {
                series_rows
                    .iter()
                    .rev()
                    .find_map(|(_, row)| row[t].as_f64())
            });
            evidence_of(
                snapshot,
                name,
                area_code,
                months,
                &values,
                target,
                improvement,
            )
        })
        .collect()
}

/// The evidence of one series of monthly values.
pub fn evidence_of(
    snapshot: &Snapshot,
    name: String,
    area_code: Option<String>,
    months: Vec<Month>,
    values: &[Option<f64>],
    target: Option<f64>,
    improvement: Improvement,
) -> SeriesEvidence {
    let rebases = rebases_for(snapshot, area_code.as_deref());
    let programme = area_code
        .as_deref()
        .and_then(|code| programme_of(snapshot, code))
        .map(|p| ProgrammePeriod {
            name: p.name.clone(),
            start: p.start,
            end: p.end,
        });
    let mut evidence = SeriesEvidence {
        name,
        area_code,
        months,
        chart: None,
        excluded: None,
        rebases,
        not_rebased: Vec::new(),
        programme,
        target,
        assurance: None,
        signal: None,
        improvement,
    };
    let missing: Vec<String> = evidence
        .months
        .iter()
        .zip(values)
        .filter(|(_, v)| v.is_none())
        .map(|(m, _)| m.long_name())
        .collect();
    if evidence.months.is_empty() {
        evidence.excluded = Some("there are no published months to chart".into());
        return evidence;
    }
    if evidence.months.len() < MIN_REBASE_MONTHS {
        evidence.excluded = Some(format!(
            "not charted: {} published month{}, too few for limits worth reading (an XmR chart here needs at least {MIN_REBASE_MONTHS})",
            evidence.months.len(),
            if evidence.months.len() == 1 { "" } else { "s" }
        ));
        return evidence;
    }
    if !missing.is_empty() {
        // Limits over a segment with a hidden month would be computed from the rest as if it
        // did not exist, and a run could not be judged across it.
        evidence.excluded = Some(format!(
            "not charted: suppressed in {}, and an XmR chart needs every month of a segment",
            list_in_words(&missing)
        ));
        return evidence;
    }
    let values: Vec<f64> = values.iter().map(|v| v.unwrap_or(0.0)).collect();
    let (rebase_at, not_rebased) = rebases_made(&evidence.rebases, &evidence.months);
    let made: Vec<Month> = rebase_at.iter().map(|&i| evidence.months[i]).collect();
    evidence.rebases.retain(|r| made.contains(&r.month));
    evidence.not_rebased = not_rebased;
    let chart = spc::xmr(&values, &rebase_at, improvement.into(), target);
    let labels: Vec<String> = evidence.months.iter().map(|m| m.long_name()).collect();
    // Judged over the programme's months: never on months after it ended.
    let judged = evidence
        .programme
        .as_ref()
        .and_then(|p| {
            let index = evidence.months.iter().position(|m| *m == p.start)?;
            chart
                .segments
                .iter()
                .position(|s| s.start <= index && index < s.end)
        })
        .or_else(|| chart.segments.len().checked_sub(1));
    if let Some(segment_index) = judged {
        let segment = &chart.segments[segment_index];
        evidence.assurance = target.and_then(|t| {
            spc::assurance(
                t,
                segment.lower_limit,
                segment.upper_limit,
                improvement.into(),
            )
        });
        evidence.signal =
            spc::describe_segment_signal(&chart, segment_index + 1, &labels, "month", "months");
    }
    evidence.chart = Some(chart);
    evidence
}

fn list_in_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [first @ .., last] if items.len() <= 4 => format!("{} and {last}", first.join(", ")),
        many => format!(
            "{} and {} other months",
            many[..3].join(", "),
            many.len() - 3
        ),
    }
}

/// The CSV of an SPC chart, in the shape an analyst can check with any tool:
/// `[series,]month,value,segment,centre,lower_limit,upper_limit,rule,point_type,improvement`.
pub fn evidence_csv(all: &[SeriesEvidence]) -> String {
    let several = all.len() > 1;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "month",
        "value",
        "segment",
        "centre",
        "lower_limit",
        "upper_limit",
        "rule",
        "point_type",
        "improvement",
    ];
    if several {
        header.insert(0, "series");
    }
    let _ = writer.write_record(&header);
    let number = |v: f64| {
        if v.is_finite() {
            format!("{v:.6}")
        } else {
            String::new()
        }
    };
    for evidence in all {
        let Some(chart) = &evidence.chart else {
            continue;
        };
        let improvement = spc::Improvement::from(evidence.improvement).id();
        for (month, point) in evidence.months.iter().zip(&chart.points) {
            let mut record = vec![
                month.to_string(),
                number(point.value),
                point.segment.to_string(),
                number(point.centre),
                number(point.lower_limit),
                number(point.upper_limit),
                point.rule.map(|r| r.id().to_owned()).unwrap_or_default(),
                point.point_type.id().to_owned(),
                improvement.to_owned(),
            ];
            if several {
                record.insert(0, evidence.name.clone());
            }
            let _ = writer.write_record(&record);
        }
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}
