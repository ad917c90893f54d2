//! `careplans import`: extract -> checked rows -> unrounded aggregates -> published metrics.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use polars::prelude::lit;

use crate::cli::ImportArgs;
use crate::diagnostic::{self, Diagnostic, Style};
use crate::import::aggregate::{self, Aggregator};
use crate::import::{check, counts, extract, write};
use crate::model::Month;
use crate::snapshot::Snapshot;
use crate::snapshot::source::WorkTree;
use crate::synth;
use crate::synth::extract::ExtractFormat;
use crate::synth::model::ModelInputs;

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
    let mut phases = Phases::new(std::io::stderr().is_terminal());
    let inputs = synth::inputs_from_snapshot(&snapshot, 0, today, 1, 1.0)?;
    let format = ExtractFormat::of_extract(&dir);
    let aggregator = match format {
        Some(format) => {
            let events = extract::table_path(&dir, "events", format);
            if !events.is_file() {
                bail!("{} has plans but no {}", dir.display(), events.display());
            }
            match aggregate_extract(&dir, format, &inputs, window, today, &mut phases)? {
                Ok(aggregator) => aggregator,
                Err(problems) => return Ok(refuse(&problems)),
            }
        }
        None if dir.join(counts::COUNTS_FILE).is_file() => {
            phases.start("checking the counts");
            let rows = counts::read_counts(&dir.join(counts::COUNTS_FILE), &inputs, today);
            phases.done();
            let rows = match rows {
                Ok(rows) => rows,
                Err(problems) => return Ok(refuse(&problems)),
            };
            let Some((first, last)) = window.or_else(|| counts::months_of(&rows)) else {
                bail!("{} has no rows", dir.join(counts::COUNTS_FILE).display());
            };
            let months = (last.index() - first.index() + 1) as usize;
            let mut aggregator =
                Aggregator::empty(first, months, inputs.boroughs.len(), inputs.templates.len());
            counts::fill(&mut aggregator, &rows);
            aggregator
        }
        None => bail!(
            "{} holds no extract: expected plans.parquet and events.parquet, plans.csv and \
             events.csv, or counts.csv (unrounded counts aggregated elsewhere)",
            dir.display()
        ),
    };
    let Some(areas) = &snapshot.areas else {
        bail!("the records have no valid areas file; run `careplans check`");
    };
    let (first, last) = aggregator.window();
    phases.start("disclosure control");
    let published = aggregate::publish(
        &aggregator,
        &inputs,
        &areas.value,
        &snapshot.config.disclosure,
    );
    phases.done();
    let out = match &args.out {
        Some(out) => std::env::current_dir()?.join(out),
        None => root.join(snapshot.config.paths.metrics()),
    };
    phases.start("writing");
    let written = write::write_metrics(&out, &published)?;
    phases.done();
    eprintln!(
        "published {written} month(s), {first} to {last}, into {} in {:.2?} ({})",
        out.display(),
        started.elapsed(),
        phases.summary()
    );
    Ok(EXIT_OK)
}

/// Prints why an extract was refused; nothing has been written.
fn refuse(problems: &[Diagnostic]) -> u8 {
    let style = Style {
        color: use_color(std::io::stdout().is_terminal()),
    };
    print!("{}", diagnostic::render_human(problems, |_| None, style));
    println!(
        "import refused: {} problem(s) in the extract; nothing was written",
        problems.len()
    );
    EXIT_PROBLEMS
}

/// Checks and aggregates a record-level extract: the unrounded counts, or the problems found.
fn aggregate_extract(
    dir: &Path,
    format: ExtractFormat,
    inputs: &ModelInputs,
    window: Option<(Month, Month)>,
    today: Month,
    phases: &mut Phases,
) -> Result<Result<Aggregator, Vec<Diagnostic>>> {
    // A CSV extract is checked row by row as it streams past. A Parquet extract can be far
    // larger, so its rows are checked in the aggregation's own pass (the check's filters are
    // counted there) and only looked at one by one if something turns up.
    phases.start("checking the extract");
    let mut problems = match format {
        ExtractFormat::Csv => check::check_rows(dir, format, inputs, today),
        ExtractFormat::Parquet => check::check_schema(dir, format),
    };
    if problems.is_empty() {
        problems = check::duplicate_plans(dir, format);
    }
    phases.done();
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    phases.start("aggregating");
    let suspects = match format {
        ExtractFormat::Csv => (lit(false), lit(false)),
        ExtractFormat::Parquet => check::suspects(inputs, today),
    };
    let aggregated = extract::aggregate_extract(dir, format, inputs, window, suspects);
    phases.done();
    let aggregated = match aggregated {
        Ok(aggregated) if !aggregated.anomalies.any() => aggregated,
        outcome => {
            // Name the rows behind whatever the aggregation saw (or failed on).
            phases.start("finding the problem rows");
            let mut problems = check::check_rows(dir, format, inputs, today);
            if problems.is_empty() {
                problems = check::unknown_plans(dir, format);
            }
            phases.done();
            if !problems.is_empty() {
                return Ok(Err(problems));
            }
            match outcome {
                Err(error) => return Err(error),
                Ok(_) => bail!("the extract has malformed rows that could not be located"),
            }
        }
    };
    Ok(Ok(aggregated.aggregator))
}

/// What the import is doing, shown on a terminal as it goes, and how long each step took.
struct Phases {
    terminal: bool,
    current: Option<(&'static str, Instant)>,
    took: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    fn new(terminal: bool) -> Phases {
        Phases {
            terminal,
            current: None,
            took: Vec::new(),
        }
    }

    fn start(&mut self, name: &'static str) {
        if self.terminal {
            eprint!("\r\x1b[K{name}...");
        }
        self.current = Some((name, Instant::now()));
    }

    fn done(&mut self) {
        if let Some((name, started)) = self.current.take() {
            self.took.push((name, started.elapsed()));
        }
        if self.terminal {
            eprint!("\r\x1b[K");
        }
    }

    fn summary(&self) -> String {
        let parts: Vec<String> = self
            .took
            .iter()
            .map(|(name, took)| format!("{name} {:.2?}", took))
            .collect();
        parts.join(", ")
    }
}
