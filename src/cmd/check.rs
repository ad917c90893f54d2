//! `careplans check`: load and check, print diagnostics and a summary.

use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::cli::CheckArgs;
use crate::diagnostic::{self, Format, Style};
use crate::model::Month;
use crate::pipeline::Build;
use crate::pipeline::check::CheckReport;
use crate::snapshot::Snapshot;

use super::{EXIT_OK, EXIT_PROBLEMS, use_color};

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
    let mut build = Build::open(root, args.rev.as_deref(), Month::current())?;
    let (report, _) = build.check();
    let fails = report.fails(args.deny.is_some());
    print_report(
        build.report(),
        build.snapshot(),
        args.format,
        started.elapsed(),
    )?;
    Ok(if fails { EXIT_PROBLEMS } else { EXIT_OK })
}
