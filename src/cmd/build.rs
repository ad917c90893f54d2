//! `careplans build`: load, check, analyse, render, write. Nothing is written unless every
//! stage succeeds, and then atomically.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::cli::BuildArgs;
use crate::diagnostic::Format;
use crate::model::Month;
use crate::pipeline::{Build, Outcome};

use super::check::print_report;
use super::{EXIT_OK, EXIT_PROBLEMS};

pub fn run(root: &Path, args: &BuildArgs) -> Result<u8> {
    let started = Instant::now();
    let out: PathBuf = match &args.out {
        Some(out) => std::env::current_dir()?.join(out),
        None => root.join("public"),
    };
    let mut build = Build::open(root, args.rev.as_deref(), Month::current())?;
    // A one-line progress display, only on a terminal.
    if std::io::stderr().is_terminal() {
        build = build.with_progress(|done, total| {
            if total > 1 {
                eprint!("\rrendering {done}/{total}");
                if done == total {
                    eprint!("\r\x1b[K");
                }
            }
        });
    }
    let built = build.full();
    match built.outcome {
        Outcome::Failed { .. } => {
            print_report(
                build.report(),
                build.snapshot(),
                Format::Human,
                started.elapsed(),
            )?;
            eprintln!(
                "not built: fix the errors above; {} was left as it was",
                out.display()
            );
            Ok(EXIT_PROBLEMS)
        }
        Outcome::Rendered { .. } => {
            build.write(&out)?;
            if build.report().tally.warnings > 0 {
                print_report(
                    build.report(),
                    build.snapshot(),
                    Format::Human,
                    started.elapsed(),
                )?;
            }
            eprintln!(
                "built {} pages ({} files) into {} in {:.2?}",
                build.site().page_count(),
                build.site().files.len(),
                out.display(),
                started.elapsed()
            );
            eprintln!("open {}", out.join("index.html").display());
            Ok(EXIT_OK)
        }
    }
}
