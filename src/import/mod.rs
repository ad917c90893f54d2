//! From record-level data to published figures: check every row of the extract (its contract
//! is `crate::extract`), aggregate at every level from unrounded counts, then apply disclosure
//! control, then write `records/metrics/YYYY-MM.csv`. Nothing is written unless every row
//! passed.

pub mod aggregate;
pub mod check;
pub mod counts;
pub mod extract;
pub mod write;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use polars::prelude::lit;

use crate::diagnostic::Diagnostic;
use crate::extract::{ExtractFormat, Reference, Table, table_path};
use crate::model::Month;
use crate::progress::Phases;
use crate::snapshot::Snapshot;
use aggregate::Aggregator;

/// What an import did.
#[derive(Debug)]
pub enum Imported {
    /// Metrics were written: `months` files, `first` to `last`, into `out`.
    Published {
        months: usize,
        first: Month,
        last: Month,
        out: PathBuf,
    },
    /// The extract has problems (file, row, column each); nothing was written.
    Refused(Vec<Diagnostic>),
}

/// Imports the extract (or `counts.csv`) in `dir` into `out`, for the months of `window` or
/// every month the extract covers, checked against the records of `snapshot`.
pub fn import(
    snapshot: &Snapshot,
    dir: &Path,
    window: Option<(Month, Month)>,
    out: &Path,
    today: Month,
    phases: &mut Phases,
) -> Result<Imported> {
    let reference = Reference::from_snapshot(snapshot)?;
    let Some(areas) = &snapshot.areas else {
        bail!("the records have no valid areas file; run `careplans check`");
    };
    let format = ExtractFormat::of_extract(dir);
    let aggregator = match format {
        Some(format) => {
            let events = table_path(dir, Table::Events, format);
            if !events.is_file() {
                bail!("{} has plans but no {}", dir.display(), events.display());
            }
            // Polars reads the extract's values; if it panics on them, the extract is refused
            // with that message rather than the import ending in a backtrace.
            let aggregated = crate::panics::catch(|| {
                aggregate_extract(dir, format, &reference, window, today, phases)
            })
            .unwrap_or_else(|panic| {
                Ok(Err(vec![Diagnostic::error(
                    "extract/unreadable",
                    table_path(dir, Table::Plans, format).display().to_string(),
                    format!("polars stopped reading the extract: {panic}"),
                )]))
            })?;
            match aggregated {
                Ok(aggregator) => aggregator,
                Err(problems) => return Ok(Imported::Refused(problems)),
            }
        }
        None if dir.join(counts::COUNTS_FILE).is_file() => {
            phases.start("checking the counts", None, "");
            let rows = counts::read_counts(&dir.join(counts::COUNTS_FILE), &reference, today);
            phases.done();
            let rows = match rows {
                Ok(rows) => rows,
                Err(problems) => return Ok(Imported::Refused(problems)),
            };
            let Some((first, last)) = window.or_else(|| counts::months_of(&rows)) else {
                bail!("{} has no rows", dir.join(counts::COUNTS_FILE).display());
            };
            let months = (last.index() - first.index() + 1) as usize;
            let mut aggregator = Aggregator::empty(
                first,
                months,
                reference.boroughs.len(),
                reference.templates.len(),
            );
            counts::fill(&mut aggregator, &rows);
            aggregator
        }
        None => bail!(
            "{} holds no extract: expected plans.parquet and events.parquet, plans.csv and \
             events.csv, or counts.csv (unrounded counts aggregated elsewhere)",
            dir.display()
        ),
    };
    let (first, last) = aggregator.window();
    phases.start("disclosure control", None, "");
    let published = aggregate::publish(
        &aggregator,
        &reference,
        &areas.value,
        &snapshot.config.disclosure,
    );
    phases.done();
    phases.start("writing", Some(published.len() as u64), "months");
    let months = write::write_metrics(out, &published, phases.current())?;
    phases.done();
    Ok(Imported::Published {
        months,
        first,
        last,
        out: out.to_path_buf(),
    })
}

/// Checks and aggregates a record-level extract: the unrounded counts, or the problems found.
fn aggregate_extract(
    dir: &Path,
    format: ExtractFormat,
    reference: &Reference,
    window: Option<(Month, Month)>,
    today: Month,
    phases: &mut Phases,
) -> Result<Result<Aggregator, Vec<Diagnostic>>> {
    // A CSV extract is checked row by row as it streams past. A Parquet extract can be far
    // larger, so its rows are checked in the aggregation's own pass (the check's filters are
    // counted there) and only looked at one by one if something turns up.
    let bytes: u64 = [Table::Plans, Table::Events]
        .iter()
        .map(|t| std::fs::metadata(table_path(dir, *t, format)).map_or(0, |m| m.len()))
        .sum();
    match format {
        ExtractFormat::Csv => phases.start("checking the extract", Some(bytes), "bytes"),
        ExtractFormat::Parquet => phases.start("checking the extract", None, ""),
    };
    let mut problems = match format {
        ExtractFormat::Csv => check::check_rows(dir, format, reference, today, phases.current()),
        ExtractFormat::Parquet => check::check_schema(dir, format),
    };
    if problems.is_empty() {
        problems = check::duplicate_plans(dir, format);
    }
    phases.done();
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    phases.start("aggregating", None, "");
    let suspects = match format {
        ExtractFormat::Csv => (lit(false), lit(false)),
        ExtractFormat::Parquet => check::suspects(reference, today),
    };
    let aggregated = extract::aggregate_extract(dir, format, reference, window, suspects);
    phases.done();
    let aggregated = match aggregated {
        Ok(aggregated) if !aggregated.anomalies.any() => aggregated,
        outcome => {
            // Name the rows behind whatever the aggregation saw (or failed on).
            phases.start("finding the problem rows", None, "");
            let mut problems = check::check_rows(dir, format, reference, today, None);
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
