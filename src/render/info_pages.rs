//! The built-in pages about the figures themselves: the data quality page (what `check` found
//! in these records) and the method page (sources, disclosure control, definitions).

use minijinja::{Value, context};

use crate::diagnostic::Severity;

use super::site::{PagePlace, Renderer};

impl Renderer<'_> {
    pub(super) fn quality_page(&mut self) {
        let check = self.inputs.check;
        let snapshot = self.inputs.snapshot;
        let tables = self.inputs.tables;
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
                services => crate::extract::VIEWING_SERVICES.iter().map(|s| context! { id => s.id(), name => s.name() }).collect::<Vec<_>>(),
            },
        );
    }
}
