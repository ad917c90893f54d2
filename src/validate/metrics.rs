//! Rules over the monthly metrics: file names, references to areas and templates, logic across
//! rows and months, and disclosure control of every published count.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::DisclosureRule;
use crate::diagnostic::Diagnostic;
use crate::disclosure::secondary::{CellStatus, LinkedTable};
use crate::model::{
    ALL_TEMPLATES, AreaSummary, Count, KEY_COLUMNS, Measure, MetricRow, Month, TemplateStatus,
};
use crate::snapshot::Snapshot;
use crate::snapshot::metrics::field_columns;
use crate::yaml::Span;

/// Why a published count breaks the disclosure rule, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisclosureBreach {
    /// A count of 1..=threshold shown instead of suppressed.
    SmallCount,
    /// A count that is not a multiple of the rounding base.
    Unrounded,
}

/// Checks one published count against the rule. Zero is not disclosive and is published as 0.
pub fn disclosure_breach(count: Count, rule: &DisclosureRule) -> Option<DisclosureBreach> {
    match count {
        Count::Suppressed | Count::Value(0) => None,
        Count::Value(v) if v <= rule.threshold => Some(DisclosureBreach::SmallCount),
        Count::Value(v) if v % rule.rounding_base != 0 => Some(DisclosureBreach::Unrounded),
        Count::Value(_) => None,
    }
}

pub fn check(snapshot: &Snapshot, today: Month) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let checker = Checker::new(snapshot);
    for file in &snapshot.metrics {
        match file.month {
            None => out.push(
                Diagnostic::error(
                    "metrics/file-name",
                    &file.path,
                    "metrics files must be named YYYY-MM.csv",
                )
                .help("name the file after the month its rows describe, e.g. 2021-04.csv"),
            ),
            Some(month) if month > today => out.push(
                Diagnostic::error(
                    "metrics/future-month",
                    &file.path,
                    format!("{month} is in the future"),
                )
                .help("figures can only be published for months that have happened"),
            ),
            Some(_) => {}
        }
        for row in &file.rows {
            checker.check_row(&file.path, file.month, row, &mut out);
        }
        checker.check_duplicates(&file.path, &file.rows, &mut out);
        checker.check_completeness(&file.path, &file.rows, &mut out);
        if checker.rule.secondary_suppression {
            checker.check_recoverable(&file.path, &file.rows, &mut out);
        }
    }
    check_month_gaps(snapshot, &mut out);
    out
}

struct Checker<'a> {
    snapshot: &'a Snapshot,
    /// Every area by code, populations summed from boroughs.
    areas: HashMap<String, AreaSummary>,
    /// Area codes in areas.yaml order, for completeness messages.
    area_order: Vec<String>,
    /// Each template's status, retirement month and first month available.
    templates: BTreeMap<&'a str, (TemplateStatus, Option<Month>, Option<Month>)>,
    rule: DisclosureRule,
}

impl<'a> Checker<'a> {
    fn new(snapshot: &'a Snapshot) -> Checker<'a> {
        let templates = snapshot
            .templates
            .iter()
            .map(|t| {
                (
                    t.value.id.as_str(),
                    (t.value.status, t.value.retired_from, t.value.available_from),
                )
            })
            .collect();
        let summaries = snapshot
            .areas
            .as_ref()
            .map(|a| a.value.summaries())
            .unwrap_or_default();
        Checker {
            snapshot,
            area_order: summaries.iter().map(|a| a.code.clone()).collect(),
            areas: summaries.into_iter().map(|a| (a.code.clone(), a)).collect(),
            templates,
            rule: snapshot.config.disclosure,
        }
    }

    /// The span of a cell: its row, and the column where the field starts.
    fn cell(&self, path: &str, line: usize, column_index: usize) -> Span {
        let column = self
            .snapshot
            .texts
            .get(path)
            .and_then(|text| text.lines().nth(line - 1))
            .and_then(|l| field_columns(l).get(column_index).copied())
            .unwrap_or(1);
        Span::point(line, column)
    }

    fn measure_cell(&self, path: &str, row: &MetricRow, measure: Measure) -> Span {
        self.cell(path, row.line, KEY_COLUMNS.len() + measure.index())
    }

    fn check_row(
        &self,
        path: &str,
        file_month: Option<Month>,
        row: &MetricRow,
        out: &mut Vec<Diagnostic>,
    ) {
        if let Some(month) = file_month
            && row.month != month
        {
            out.push(
                Diagnostic::error(
                    "metrics/month-mismatch",
                    path,
                    format!("row is for {}, but the file is for {month}", row.month),
                )
                .at(self.cell(path, row.line, 0))
                .help("each monthly file holds only its own month's rows"),
            );
        }
        let area = self.areas.get(row.area_code.as_str());
        if area.is_none() && self.snapshot.areas.is_some() {
            out.push(
                Diagnostic::error(
                    "ref/unknown-area",
                    path,
                    format!("area `{}` is not in areas.yaml", row.area_code),
                )
                .at(self.cell(path, row.line, 1)),
            );
        }
        let template = self.templates.get(row.template.as_str()).copied();
        if row.template != ALL_TEMPLATES
            && template.is_none()
            && !self.snapshot.template_failed(&row.template)
        {
            out.push(
                Diagnostic::error(
                    "ref/unknown-template",
                    path,
                    format!("template `{}` is not in records/templates", row.template),
                )
                .at(self.cell(path, row.line, 2))
                .help("use a template id, or `all` for figures across every template"),
            );
        }
        for measure in Measure::ALL {
            match disclosure_breach(row.get(measure), &self.rule) {
                Some(DisclosureBreach::SmallCount) => out.push(
                    Diagnostic::error(
                        "disclosure/small-count",
                        path,
                        format!("`{}` is {}: counts of 1 to {} must be suppressed", measure.column(), row.get(measure), self.rule.threshold),
                    )
                    .at(self.measure_cell(path, row, measure))
                    .help("write `*` instead; counts are published by `careplans import`, which applies the rule"),
                ),
                Some(DisclosureBreach::Unrounded) => out.push(
                    Diagnostic::error(
                        "disclosure/unrounded",
                        path,
                        format!("`{}` is {}: published counts are rounded to the nearest {}", measure.column(), row.get(measure), self.rule.rounding_base),
                    )
                    .at(self.measure_cell(path, row, measure))
                    .help("round the unrounded figure to the nearest multiple; never round an already rounded sum"),
                ),
                None => {}
            }
        }
        for (part, whole) in Measure::PARTS {
            self.check_not_more_than(path, row, part, whole, out);
        }
        if let (Some(area), Count::Value(active)) = (area, row.get(Measure::ActivePlans))
            && active > area.adults
        {
            out.push(
                Diagnostic::error(
                    "logic/active-over-population",
                    path,
                    format!(
                        "{active} active plans in {}, more than its {} adult residents",
                        area.name, area.adults
                    ),
                )
                .at(self.measure_cell(path, row, Measure::ActivePlans)),
            );
        }
        if let Some((_, _, Some(available_from))) = template
            && row.month < available_from
            && [Measure::ActivePlans, Measure::NewPlans]
                .iter()
                .any(|m| row.get(*m) != Count::Value(0))
        {
            out.push(
                Diagnostic::error(
                    "logic/template-not-yet-available",
                    path,
                    format!(
                        "template `{}` is available from {available_from} but has plans in {}",
                        row.template, row.month
                    ),
                )
                .at(self.measure_cell(path, row, Measure::ActivePlans))
                .help("no plan can use a template before it went live; check the template id or its available_from month"),
            );
        }
        if let Some((TemplateStatus::Retired, Some(retired_from), _)) = template
            && row.month >= retired_from
            && row.get(Measure::NewPlans) != Count::Value(0)
        {
            out.push(
                    Diagnostic::error(
                        "logic/retired-template-new-plans",
                        path,
                        format!("template `{}` was retired from {retired_from} but has new plans in {}", row.template, row.month),
                    )
                    .at(self.measure_cell(path, row, Measure::NewPlans))
                    .help("a retired template takes no new plans; check the template id or its retired_from month"),
                );
        }
    }

    /// `part` counts a subset of `whole`, so it can never be larger. Rounding to the nearest base
    /// keeps that order; a suppressed `whole` (1..threshold) cannot sit beside a published,
    /// non-zero `part`, which would have to be larger than the threshold.
    fn check_not_more_than(
        &self,
        path: &str,
        row: &MetricRow,
        part: Measure,
        whole: Measure,
        out: &mut Vec<Diagnostic>,
    ) {
        let broken = match (row.get(part), row.get(whole)) {
            (Count::Value(p), Count::Value(w)) => p > w,
            (Count::Value(p), Count::Suppressed) => p > 0,
            _ => false,
        };
        if broken {
            out.push(
                Diagnostic::error(
                    "logic/part-exceeds-whole",
                    path,
                    format!(
                        "`{}` ({}) is more than `{}` ({})",
                        part.column(),
                        row.get(part),
                        whole.column(),
                        row.get(whole)
                    ),
                )
                .at(self.measure_cell(path, row, part)),
            );
        }
    }

    fn check_duplicates(&self, path: &str, rows: &[MetricRow], out: &mut Vec<Diagnostic>) {
        let mut seen: HashMap<(Month, &str, &str), usize> = HashMap::new();
        for row in rows {
            let key = (row.month, row.area_code.as_str(), row.template.as_str());
            if let Some(first) = seen.insert(key, row.line) {
                seen.insert(key, first);
                out.push(
                    Diagnostic::error(
                        "id/duplicate",
                        path,
                        format!(
                            "a second row for {} / {} / {}",
                            row.month, row.area_code, row.template
                        ),
                    )
                    .at(Span::point(row.line, 1))
                    .help(format!("the first is on line {first}")),
                );
            }
        }
    }

    /// Every area needs an `all` row every month, or trends silently drop to nothing.
    fn check_completeness(&self, path: &str, rows: &[MetricRow], out: &mut Vec<Diagnostic>) {
        if rows.is_empty() || self.area_order.is_empty() {
            return;
        }
        let present: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.template == ALL_TEMPLATES)
            .map(|r| r.area_code.as_str())
            .collect();
        let missing: Vec<&str> = self
            .area_order
            .iter()
            .filter(|code| !present.contains(code.as_str()))
            .map(|code| self.areas[code].name.as_str())
            .collect();
        if !missing.is_empty() {
            let shown = if missing.len() > 5 {
                format!("{} and {} more", missing[..5].join(", "), missing.len() - 5)
            } else {
                missing.join(", ")
            };
            out.push(
                Diagnostic::error(
                    "metrics/missing-area",
                    path,
                    format!("no `all` row for {shown}"),
                )
                .help("every area in areas.yaml needs a row across all templates each month"),
            );
        }
    }
}

impl Checker<'_> {
    /// With secondary suppression asked for, no suppressed count may be recoverable from the
    /// published figures of its month: each must lie on a cycle of suppressed cells of the
    /// linked area x template table (see `disclosure::secondary`). Published counts are taken
    /// as exact, which gives a reader more than rounding leaves them.
    fn check_recoverable(&self, path: &str, rows: &[MetricRow], out: &mut Vec<Diagnostic>) {
        let mut templates: Vec<&str> = rows
            .iter()
            .map(|r| r.template.as_str())
            .filter(|t| *t != ALL_TEMPLATES)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        templates.push(ALL_TEMPLATES);
        let parents: Vec<Option<usize>> = self
            .area_order
            .iter()
            .map(|code| {
                let parent = self.areas[code].parent.as_deref()?;
                self.area_order.iter().position(|c| c == parent)
            })
            .collect();
        let mut at: HashMap<(&str, &str), &MetricRow> = HashMap::new();
        for row in rows {
            at.insert((row.area_code.as_str(), row.template.as_str()), row);
        }
        for measure in Measure::ALL {
            let mut values = Vec::new();
            let mut status = Vec::new();
            for code in &self.area_order {
                for template in &templates {
                    let count = at
                        .get(&(code.as_str(), *template))
                        .map_or(Count::Value(0), |row| row.get(measure));
                    // A suppressed count could be anything to a reader: any value above zero
                    // lets it move either way, so only the shape of the table decides.
                    let (value, cell) = match count {
                        Count::Value(v) => (v, CellStatus::Published),
                        Count::Suppressed => (1, CellStatus::Secondary),
                    };
                    values.push(value);
                    status.push(cell);
                }
            }
            let table = LinkedTable {
                parents: parents.clone(),
                columns: templates.len() - 1,
                values,
                status,
            };
            for cell in table.recoverable() {
                let (area, template) = (cell / templates.len(), cell % templates.len());
                let Some(row) = at.get(&(self.area_order[area].as_str(), templates[template]))
                else {
                    continue;
                };
                out.push(
                    Diagnostic::error(
                        "disclosure/recoverable",
                        path,
                        format!(
                            "the suppressed `{}` of {} ({}) can be worked out from the published totals",
                            measure.column(),
                            self.areas[&self.area_order[area]].name,
                            templates[template]
                        ),
                    )
                    .at(self.measure_cell(path, row, measure))
                    .help("publish with `careplans import`, which hides the further counts needed (secondary suppression)"),
                );
            }
        }
    }
}

fn check_month_gaps(snapshot: &Snapshot, out: &mut Vec<Diagnostic>) {
    let months: BTreeMap<Month, &str> = snapshot
        .metrics
        .iter()
        .filter_map(|f| f.month.map(|m| (m, f.path.as_str())))
        .collect();
    let mut previous: Option<Month> = None;
    for (&month, &path) in &months {
        if let Some(before) = previous
            && before.next() != month
        {
            let missing = month.index() - before.index() - 1;
            out.push(
                Diagnostic::error(
                    "metrics/gap",
                    path,
                    format!("{missing} month(s) missing between {before} and {month}"),
                )
                .help(format!("add records/metrics/{}.csv", before.next())),
            );
        }
        previous = Some(month);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disclosure_rule_suppresses_small_counts_and_rounds_the_rest() {
        let rule = DisclosureRule::default();
        assert_eq!(disclosure_breach(Count::Value(0), &rule), None);
        assert_eq!(
            disclosure_breach(Count::Value(3), &rule),
            Some(DisclosureBreach::SmallCount)
        );
        assert_eq!(
            disclosure_breach(Count::Value(7), &rule),
            Some(DisclosureBreach::SmallCount)
        );
        assert_eq!(disclosure_breach(Count::Value(10), &rule), None);
        assert_eq!(
            disclosure_breach(Count::Value(12), &rule),
            Some(DisclosureBreach::Unrounded)
        );
        assert_eq!(disclosure_breach(Count::Suppressed, &rule), None);
    }
}
