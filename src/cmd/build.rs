//! `careplans build`: load, check, analyse, render, write. Nothing is written unless every
//! stage succeeds, and then atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::cli::BuildArgs;
use crate::diagnostic::{Format, Tally};
use crate::model::Month;
use crate::render::pages::{SiteInputs, render_site};
use crate::site::Site;
use crate::snapshot::Snapshot;
use crate::snapshot::source::WorkTree;

use super::check::{CheckReport, check_snapshot, print_report};
use super::{EXIT_OK, EXIT_PROBLEMS};

/// The outcome of building a site in memory.
pub enum Built {
    Site(Box<Site>, CheckReport),
    /// The records or reports have errors; nothing was rendered.
    Refused(CheckReport),
}

/// Checks, analyses and renders a snapshot entirely in memory.
pub fn build_site(snapshot: &Snapshot, today: Month, revision: Option<String>) -> Result<Built> {
    let (mut report, tables) = check_snapshot(snapshot, today);
    let tables = match tables {
        Some(tables) if report.tally.errors == 0 => tables,
        _ => return Ok(Built::Refused(report)),
    };
    let inputs = SiteInputs {
        snapshot,
        tables: &tables,
        check: &report,
        revision,
    };
    match render_site(&inputs) {
        Ok(site) => Ok(Built::Site(Box::new(site), report)),
        Err(problems) => {
            report.diagnostics.extend(problems);
            report.tally = Tally::of(&report.diagnostics);
            Ok(Built::Refused(report))
        }
    }
}

pub fn run(root: &Path, args: &BuildArgs) -> Result<u8> {
    let started = Instant::now();
    let snapshot = Snapshot::load(&WorkTree::new(root))?;
    let out: PathBuf = match &args.out {
        Some(out) => std::env::current_dir()?.join(out),
        None => root.join("public"),
    };
    match build_site(&snapshot, Month::current(), None)? {
        Built::Refused(report) => {
            print_report(&report, &snapshot, Format::Human, started.elapsed())?;
            eprintln!(
                "not built: fix the errors above; {} was left as it was",
                out.display()
            );
            Ok(EXIT_PROBLEMS)
        }
        Built::Site(site, report) => {
            site.write_atomically(&out)?;
            if report.tally.warnings > 0 {
                print_report(&report, &snapshot, Format::Human, started.elapsed())?;
            }
            eprintln!(
                "built {} pages ({} files) into {} in {:.2?}",
                site.page_count(),
                site.files.len(),
                out.display(),
                started.elapsed()
            );
            eprintln!("open {}", out.join("index.html").display());
            Ok(EXIT_OK)
        }
    }
}
