//! `careplans import`: extract -> checked rows -> unrounded aggregates -> published metrics.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};

use crate::cli::ImportArgs;
use crate::diagnostic::{self, Style};
use crate::import::{Imported, import};
use crate::model::Month;
use crate::progress::Phases;
use crate::snapshot::Snapshot;
use crate::snapshot::source::WorkTree;

use super::{EXIT_OK, EXIT_PROBLEMS, use_color};

pub fn run(root: &Path, args: &ImportArgs) -> Result<u8> {
    let started = Instant::now();
    let snapshot = Snapshot::load(&WorkTree::new(root))?;
    let dir = std::env::current_dir()?.join(&args.extract);
    let today = Month::current();
    let window = match &args.month {
        Some(month) => {
            let month: Month = month.parse().map_err(|e: String| anyhow!("--month: {e}"))?;
            if month > today {
                bail!("--month {month} is in the future");
            }
            Some((month, month))
        }
        None => None,
    };
    let out = match &args.out {
        Some(out) => std::env::current_dir()?.join(out),
        None => root.join(snapshot.config.paths.metrics()),
    };
    let mut phases = Phases::new();
    let imported = import(&snapshot, &dir, window, &out, today, &mut phases)?;
    phases.done();
    match imported {
        Imported::Published {
            months,
            first,
            last,
            out,
            partitions_read,
        } => {
            if let Some(read) = partitions_read {
                eprintln!("{read}");
            }
            eprintln!(
                "published {months} month(s), {first} to {last}, into {} in {:.2?} ({})",
                out.display(),
                started.elapsed(),
                phases.summary()
            );
            Ok(EXIT_OK)
        }
        Imported::Refused(problems) => {
            let style = Style {
                color: use_color(std::io::stdout().is_terminal()),
            };
            print!("{}", diagnostic::render_human(&problems, |_| None, style));
            println!(
                "import refused: {} problem(s) in the extract; nothing was written",
                problems.len()
            );
            Ok(EXIT_PROBLEMS)
        }
    }
}
