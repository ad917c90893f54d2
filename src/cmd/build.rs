//! `careplans build`: load, check, analyse, render, write. Nothing is written unless every
//! stage succeeds, and then atomically.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::cli::BuildArgs;
use crate::diagnostic::{Format, Tally};
use crate::history::{History, template_history};
use crate::model::Month;
use crate::render::pages::{RenderScope, SiteInputs, render_site};
use crate::site::Site;
use crate::snapshot::Snapshot;
use crate::snapshot::git::GitWorkspace;

use super::check::{CheckReport, check_snapshot, print_report};
use super::{EXIT_OK, EXIT_PROBLEMS};

/// The outcome of building a site in memory.
pub enum Built {
    /// The site, the check result, and the analysis tables it was rendered from.
    Site(Box<Site>, CheckReport, Box<crate::analyse::Tables>),
    /// The records or reports have errors; nothing was rendered.
    Refused(CheckReport),
}

/// Checks, analyses and renders a snapshot entirely in memory.
pub fn build_site(
    snapshot: &Snapshot,
    today: Month,
    revision: Option<String>,
    history: Option<&History>,
    progress: Option<&dyn Fn(usize, usize)>,
) -> Result<Built> {
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
        history,
        scope: RenderScope::All,
        progress,
    };
    match render_site(&inputs) {
        Ok(site) => Ok(Built::Site(Box::new(site), report, Box::new(tables))),
        Err(problems) => {
            report.diagnostics.extend(problems);
            report.tally = Tally::of(&report.diagnostics);
            Ok(Built::Refused(report))
        }
    }
}

/// Template history from git, when the workspace is in a repository with commits.
pub fn history_of(root: &Path, rev: Option<&str>, snapshot: &Snapshot) -> Result<Option<History>> {
    let Ok(workspace) = GitWorkspace::discover(root) else {
        return Ok(None);
    };
    let head = match rev {
        Some(rev) => workspace.resolve(rev)?,
        None => match workspace.repo.head().and_then(|h| h.peel_to_commit()) {
            Ok(commit) => commit.id(),
            Err(_) => return Ok(None), // no commits yet
        },
    };
    let mut history = template_history(&workspace, head, &snapshot.config.paths.templates())?;
    history.load_templates(&workspace);
    Ok(Some(history))
}

pub fn run(root: &Path, args: &BuildArgs) -> Result<u8> {
    let started = Instant::now();
    let snapshot = super::load_snapshot(root, args.rev.as_deref())?;
    let out: PathBuf = match &args.out {
        Some(out) => std::env::current_dir()?.join(out),
        None => root.join("public"),
    };
    // A one-line progress display, only on a terminal.
    let terminal = std::io::stderr().is_terminal();
    let show = |done: usize, total: usize| {
        if terminal && total > 1 {
            eprint!("\rrendering pages {done}/{total}");
            if done == total {
                eprint!("\r\x1b[K");
            }
        }
    };
    let history = history_of(root, args.rev.as_deref(), &snapshot)?;
    match build_site(
        &snapshot,
        Month::current(),
        args.rev.clone(),
        history.as_ref(),
        Some(&show),
    )? {
        Built::Refused(report) => {
            print_report(&report, &snapshot, Format::Human, started.elapsed())?;
            eprintln!(
                "not built: fix the errors above; {} was left as it was",
                out.display()
            );
            Ok(EXIT_PROBLEMS)
        }
        Built::Site(site, report, _) => {
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
