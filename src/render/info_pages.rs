//! The built-in pages about the figures themselves: the data quality page (what `check` found
//! in these records) and the method page (sources, disclosure control, definitions).

use minijinja::{Value, context};

use crate::diagnostic::Severity;

use super::site::{PagePlace, Renderer};

impl Renderer<'_> {
    pub(super) fn quality_page(&mut self) {
        let check = self.inputs.check;
        let snapshot = self.inputs.snapshot;
        let tables = self.inputs.queries.tables;
        let diagnostics: Vec<Value> = check
            .diagnostics
            .iter()
            .map(|d| {
                context! {
                    severity => match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                    code => d.code.clone(),
                    location => d.location(),
                    message => d.message.clone(),
                    help => d.help.clone(),
                }
            })
            .collect();
        let months = snapshot
            .metrics
            .iter()
            .filter(|f| f.month.is_some())
            .count();
        let place = PagePlace {
            path: "quality.html".into(),
            title: "Data quality".into(),
            breadcrumbs: vec![("London".into(), "index.html".into())],
        };
        self.render(
            "quality.html",
            &place,
            context! {
                summary => check.summary(),
                errors => check.tally.errors,
                warnings => check.tally.warnings,
                files => check.files,
                templates => check.templates,
                rows => check.rows,
                diagnostics => diagnostics,
                first_month => tables.first_month.map(|m| m.long_name()),
                latest_month_long => tables.latest_month.map(|m| m.long_name()),
                months => months,
                origin => snapshot.origin.clone(),
            },
        );
    }

    pub(super) fn method_page(&mut self) {
        let snapshot = self.inputs.snapshot;
        let measures: Vec<Value> = snapshot
            .table_schema
            .fields
            .iter()
            .map(|f| context! { name => f.name.clone(), description => f.description.clone() })
            .collect();
        let rule = snapshot.config.disclosure;
        let suppression: Vec<Value> = suppression_by_level(snapshot)
            .into_iter()
            .map(|(level, templates, suppressed, cells)| {
                context! {
                    level => level,
                    templates => templates,
                    suppressed => crate::render::format::format_number(suppressed as f64, 0),
                    cells => crate::render::format::format_number(cells as f64, 0),
                    share => crate::render::format::format_number(
                        100.0 * suppressed as f64 / (cells.max(1)) as f64,
                        1,
                    ),
                }
            })
            .collect();
        let place = PagePlace {
            path: "method.html".into(),
            title: "Method and definitions".into(),
            breadcrumbs: vec![("London".into(), "index.html".into())],
        };
        self.render(
            "method.html",
            &place,
            context! {
                measures => measures,
                threshold => rule.threshold,
                rounding_base => rule.rounding_base,
                secondary_suppression => rule.secondary_suppression,
                suppression => suppression,
                first_month => self.inputs.queries.tables.first_month.map(|m| m.long_name()),
                latest_month_long => self.inputs.queries.tables.latest_month.map(|m| m.long_name()),
                services => crate::extract::VIEWING_SERVICES.iter().map(|s| context! { id => s.id(), name => s.name() }).collect::<Vec<_>>(),
            },
        );
    }
}

/// How many published counts are suppressed at each level (London, STP areas, boroughs; all
/// templates and single templates), with how many counts there are: (level, templates,
/// suppressed, counts).
fn suppression_by_level(
    snapshot: &crate::snapshot::Snapshot,
) -> Vec<(&'static str, &'static str, u64, u64)> {
    use crate::model::{ALL_TEMPLATES, AreaLevel, Count};
    let levels: std::collections::HashMap<String, AreaLevel> = snapshot
        .areas
        .iter()
        .flat_map(|a| a.value.summaries())
        .map(|a| (a.code, a.level))
        .collect();
    let mut totals = [[(0u64, 0u64); 2]; 3];
    for row in snapshot.metrics.iter().flat_map(|f| f.rows.iter()) {
        let Some(level) = levels.get(&row.area_code) else {
            continue;
        };
        let slot = &mut totals[*level as usize][usize::from(row.template != ALL_TEMPLATES)];
        slot.0 += row
            .counts
            .iter()
            .filter(|c| **c == Count::Suppressed)
            .count() as u64;
        slot.1 += row.counts.len() as u64;
    }
    let mut out = Vec::new();
    for (level, name) in [
        (AreaLevel::London, "London"),
        (AreaLevel::Stp, "STP areas"),
        (AreaLevel::Borough, "Boroughs"),
    ] {
        for (kind, templates) in [(0, "all templates"), (1, "each template")] {
            let (suppressed, cells) = totals[level as usize][kind];
            out.push((name, templates, suppressed, cells));
        }
    }
    out
}
