//! `careplans check`: load and validate, print diagnostics and a summary.

use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::analyse::{self, Tables, reports};
use crate::cli::CheckArgs;
use crate::diagnostic::{self, Diagnostic, Format, Style, Tally};
use crate::model::Month;
use crate::snapshot::Snapshot;
use crate::validate;

use super::{EXIT_OK, EXIT_PROBLEMS, use_color};

/// What one check found, with the counts the summary line reports.
#[derive(Debug, Serialize)]
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
}

/// Validates a snapshot, then (when the records themselves are sound) builds the analysis
/// tables and runs every report query: the pure core of `check`, shared with `build`, which
/// reuses the tables.
pub fn check_snapshot(snapshot: &Snapshot, today: Month) -> (CheckReport, Option<Tables>) {
    let mut diagnostics = validate::validate(snapshot, today);
    let mut tables = None;
    if Tally::of(&diagnostics).errors == 0 {
        match analyse::build_tables(snapshot) {
            Ok(built) => {
                diagnostics.extend(reports::check_reports(snapshot, &built));
                tables = Some(built);
            }
            Err(error) => diagnostics.push(Diagnostic::error(
                "analysis",
                snapshot.config.paths.metrics(),
                format!("cannot analyse the metrics: {error}"),
            )),
        }
        diagnostic::sort(&mut diagnostics);
    }
    (CheckReport::new(snapshot, diagnostics), tables)
}

/// Prints a check's diagnostics and summary in the chosen format.
pub fn print_report(
    report: &CheckReport,
    snapshot: &Snapshot,
    format: Format,
    elapsed: std::time::Duration,
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Human => {
            let style = Style {
                color: use_color(std::io::stdout().is_terminal()),
            };
            let text = diagnostic::render_human(
                &report.diagnostics,
                |path| snapshot.texts.get(path).map(String::as_str),
                style,
            );
            write!(stdout, "{text}")?;
            writeln!(stdout, "{} in {:.2?}", report.summary(), elapsed)?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, report)?;
            writeln!(stdout)?;
        }
        Format::Github => {
            write!(stdout, "{}", diagnostic::render_github(&report.diagnostics))?;
            writeln!(stdout, "{}", report.summary())?;
        }
    }
    Ok(())
}

pub fn run(root: &Path, args: &CheckArgs) -> Result<u8> {
    let started = Instant::now();
    let snapshot = super::load_snapshot(root, args.rev.as_deref())?;
    let (report, _) = check_snapshot(&snapshot, Month::current());
    print_report(&report, &snapshot, args.format, started.elapsed())?;
    Ok(if report.fails(args.deny.is_some()) {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    })
}
