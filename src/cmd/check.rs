//! `careplans check`: load and validate, print diagnostics and a summary.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::cli::CheckArgs;
use crate::diagnostic::{self, Diagnostic, Format, Style, Tally};
use crate::model::Month;
use crate::snapshot::Snapshot;
use crate::snapshot::source::WorkTree;
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

/// Loads and validates; the pure core of `check`, shared with `build`.
pub fn check_snapshot(snapshot: &Snapshot, today: Month) -> CheckReport {
    let diagnostics = validate::validate(snapshot, today);
    CheckReport {
        origin: snapshot.origin.clone(),
        files: snapshot.file_count(),
        templates: snapshot.templates.len(),
        rows: snapshot.row_count(),
        tally: Tally::of(&diagnostics),
        diagnostics,
    }
}

pub fn run(root: &Path, args: &CheckArgs) -> Result<u8> {
    let started = Instant::now();
    let snapshot = Snapshot::load(&WorkTree::new(root))?;
    let report = check_snapshot(&snapshot, Month::current());
    let deny_warnings = args.deny.is_some();
    let mut stdout = std::io::stdout().lock();
    match args.format {
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
            writeln!(stdout, "{} in {:.2?}", report.summary(), started.elapsed())?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        Format::Github => {
            write!(stdout, "{}", diagnostic::render_github(&report.diagnostics))?;
            writeln!(stdout, "{}", report.summary())?;
        }
    }
    Ok(if report.fails(deny_warnings) {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    })
}
