//! The check stage: every rule over a snapshot, with what each rule depends on written down so
//! a rebuild runs again only the rules whose inputs changed. Per-file rules (the loader's
//! syntax and schema problems, the identifier scan) are kept by file version; the metrics rules
//! by the versions of the files they read; the cross-file record rules are cheap and always
//! run. The result is always what checking the whole snapshot afresh would give.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::DisclosureRule;
use crate::diagnostic::{self, Diagnostic, Tally};
use crate::model::{Month, TemplateStatus};
use crate::snapshot::Snapshot;
use crate::validate;

/// What one check found, with the counts the summary line reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub origin: String,
    pub files: usize,
    pub templates: usize,
    pub rows: usize,
    pub tally: Tally,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckReport {
    /// The report of a snapshot's diagnostics.
    pub fn new(snapshot: &Snapshot, diagnostics: Vec<Diagnostic>) -> CheckReport {
        CheckReport {
            origin: snapshot.origin.clone(),
            files: snapshot.file_count(),
            templates: snapshot.templates.len(),
            rows: snapshot.row_count(),
            tally: Tally::of(&diagnostics),
            diagnostics,
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "checked {} files, {} templates, {} metrics rows: {} errors, {} warnings",
            self.files, self.templates, self.rows, self.tally.errors, self.tally.warnings
        )
    }

    /// Whether the check fails: any error, or any warning when warnings are denied.
    pub fn fails(&self, deny_warnings: bool) -> bool {
        self.tally.errors > 0 || (deny_warnings && self.tally.warnings > 0)
    }

    /// Adds problems found by a later stage (report queries, rendering).
    pub fn extend(&mut self, problems: impl IntoIterator<Item = Diagnostic>) {
        self.diagnostics.extend(problems);
        diagnostic::sort(&mut self.diagnostics);
        self.tally = Tally::of(&self.diagnostics);
    }

    /// Only the errors, for the preview's overlay.
    pub fn errors(&self) -> Vec<Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == diagnostic::Severity::Error)
            .cloned()
            .collect()
    }
}

/// Everything the metrics rules read: if none of it changed, neither did their result.
#[derive(Debug, Clone, PartialEq)]
struct MetricsInputs {
    metrics: Vec<(String, u64)>,
    areas: u64,
    templates: Vec<(String, TemplateStatus, Option<Month>, Option<Month>)>,
    failed: Vec<String>,
    rule: DisclosureRule,
    today: Month,
}

impl MetricsInputs {
    fn of(snapshot: &Snapshot, today: Month) -> MetricsInputs {
        MetricsInputs {
            metrics: snapshot
                .metrics
                .iter()
                .map(|m| (m.path.clone(), snapshot.version(&m.path)))
                .collect(),
            areas: snapshot.version(&snapshot.config.paths.areas()),
            templates: snapshot
                .templates
                .iter()
                .map(|t| {
                    (
                        t.value.id.clone(),
                        t.value.status,
                        t.value.retired_from,
                        t.value.available_from,
                    )
                })
                .collect(),
            failed: snapshot.failed.iter().cloned().collect(),
            rule: snapshot.config.disclosure,
            today,
        }
    }
}

/// The results of the rules, kept between checks of a changing snapshot.
#[derive(Default)]
pub struct RuleCache {
    /// Identifier scan of each file, by path, with the file version it was made from.
    scans: BTreeMap<String, (u64, Vec<Diagnostic>)>,
    metrics: Option<(MetricsInputs, Vec<Diagnostic>)>,
    /// How many rules ran again in the last check, for the debug log.
    pub last_rescanned: usize,
    pub last_metrics_rerun: bool,
}

impl RuleCache {
    /// Every rule's diagnostics for `snapshot`, sorted, each once: the same as
    /// `validate::validate`, reusing what did not change.
    pub fn validate(&mut self, snapshot: &Snapshot, today: Month) -> Vec<Diagnostic> {
        let mut out = snapshot.diagnostics.clone();
        out.extend(validate::records::check(snapshot));

        let inputs = MetricsInputs::of(snapshot, today);
        self.last_metrics_rerun = !matches!(&self.metrics, Some((kept, _)) if *kept == inputs);
        if self.last_metrics_rerun {
            self.metrics = Some((inputs, validate::metrics::check(snapshot, today)));
        }
        if let Some((_, found)) = &self.metrics {
            out.extend(found.iter().cloned());
        }

        self.scans
            .retain(|path, _| snapshot.texts.contains_key(path));
        self.last_rescanned = 0;
        for path in snapshot.texts.keys() {
            let version = snapshot.version(path);
            let fresh = self
                .scans
                .get(path)
                .is_some_and(|(kept, _)| *kept == version);
            if !fresh {
                self.last_rescanned += 1;
                self.scans.insert(
                    path.clone(),
                    (version, validate::scan::check_file(snapshot, path)),
                );
            }
            if let Some((_, found)) = self.scans.get(path) {
                out.extend(found.iter().cloned());
            }
        }
        diagnostic::sort(&mut out);
        out.dedup();
        out
    }
}
