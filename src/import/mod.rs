//! From record-level data to published figures: check every row of the extract (its contract
//! is `crate::extract`), aggregate at every level from unrounded counts, then apply disclosure
//! control, then write `records/metrics/YYYY-MM.csv`. Nothing is written unless every row
//! passed.

pub mod aggregate;
pub mod check;
pub mod counts;
pub mod extract;
pub mod parallel;
pub mod plan_index;
pub mod write;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::diagnostic::Diagnostic;
use crate::extract::{ExtractFormat, Layout, Reference, Table, TableFile, table_files};
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
        /// Which partitions a partitioned extract's import read.
        partitions_read: Option<String>,
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
    let layout = Layout::of_extract(dir);
    let mut partitions_read = None;
    let aggregator = match layout {
        Some(layout) => {
            let files = match extract_files(dir, layout, window, today) {
                Ok(files) => files,
                Err(problems) => return Ok(Imported::Refused(problems)),
            };
            partitions_read = files.describe(layout);
            let files = check::ExtractFiles {
                plans: &files.plans,
                events: &files.events,
                format: layout.format(),
            };
            // Polars reads the extract's values; if it panics on them, the extract is refused
            // with that message rather than the import ending in a backtrace.
            let aggregated = crate::panics::catch(|| {
                aggregate_extract(&files, &reference, window, today, phases)
            })
            .unwrap_or_else(|panic| {
                Ok(Err(vec![Diagnostic::error(
                    "extract/unreadable",
                    dir.display().to_string(),
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
             events.csv, plans/created=YYYY-MM/ and events/month=YYYY-MM/ folders of Parquet \
             files, or counts.csv (unrounded counts aggregated elsewhere)",
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
        partitions_read,
    })
}

/// The files an import reads.
struct Files {
    plans: Vec<TableFile>,
    events: Vec<TableFile>,
}

impl Files {
    /// Which partitions were read, for the summary ("plans created=2019-04 to 2024-03, ...").
    fn describe(&self, layout: Layout) -> Option<String> {
        if layout != Layout::Partitioned {
            return None;
        }
        let span = |files: &[TableFile], column: &str| {
            let mut months: Vec<Month> = files.iter().filter_map(|f| f.partition).collect();
            months.dedup();
            match (months.first(), months.last()) {
                (Some(first), Some(last)) => format!(
                    "{} partition{} {column}={first} to {column}={last}",
                    months.len(),
                    if months.len() == 1 { "" } else { "s" }
                ),
                _ => "no partitions".to_owned(),
            }
        };
        Some(format!(
            "read plans: {}; events: {}",
            span(&self.plans, Table::Plans.partition_column()),
            span(&self.events, Table::Events.partition_column())
        ))
    }
}

/// The files of both tables that the months of `window` need. A flat extract is read whole.
/// A partitioned one is read only as far as the window needs: every plan created by its last
/// month, and the events of its months and of the 11 before its first (an update in those
/// keeps a plan reviewed in the window); with no window, everything.
fn extract_files(
    dir: &Path,
    layout: Layout,
    window: Option<(Month, Month)>,
    today: Month,
) -> Result<Files, Vec<Diagnostic>> {
    let listed = |table: Table| {
        table_files(dir, table, layout).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| {
                    Diagnostic::error("extract/layout", p.path.display().to_string(), p.message)
                        .help("a partitioned extract is plans/created=YYYY-MM/*.parquet and events/month=YYYY-MM/*.parquet")
                })
                .collect::<Vec<_>>()
        })
    };
    let (plans, events) = match (listed(Table::Plans), listed(Table::Events)) {
        (Ok(plans), Ok(events)) => (plans, events),
        (plans, events) => {
            let mut problems = plans.err().unwrap_or_default();
            problems.extend(events.err().unwrap_or_default());
            return Err(problems);
        }
    };
    if layout == Layout::Partitioned {
        let future: Vec<Diagnostic> = plans
            .iter()
            .chain(&events)
            .filter(|f| f.partition.is_some_and(|m| m > today))
            .map(|f| {
                let folder = f.path.parent().unwrap_or(&f.path);
                Diagnostic::error(
                    "extract/value",
                    folder.display().to_string(),
                    format!(
                        "the partition's month {} is in the future",
                        f.partition.map(|m| m.to_string()).unwrap_or_default()
                    ),
                )
            })
            .collect();
        if !future.is_empty() {
            return Err(future);
        }
    } else {
        let events_path = &events[0].path;
        if !events_path.is_file() {
            return Err(vec![Diagnostic::error(
                "extract/unreadable",
                events_path.display().to_string(),
                format!(
                    "{} has plans but no {}",
                    dir.display(),
                    events_path.display()
                ),
            )]);
        }
    }
    let Some((first, last)) = window.filter(|_| layout == Layout::Partitioned) else {
        return Ok(Files { plans, events });
    };
    let in_window =
        |f: &TableFile, from: Month| f.partition.is_some_and(|m| from <= m && m <= last);
    let reviews_from = first.plus_months(-(crate::extract::REVIEW_MONTHS - 1));
    Ok(Files {
        plans: plans
            .into_iter()
            .filter(|f| f.partition.is_some_and(|m| m <= last))
            .collect(),
        events: events
            .into_iter()
            .filter(|f| in_window(f, reviews_from))
            .collect(),
    })
}

/// Checks and aggregates a record-level extract: the unrounded counts, or the problems found.
fn aggregate_extract(
    files: &check::ExtractFiles<'_>,
    reference: &Reference,
    window: Option<(Month, Month)>,
    today: Month,
    phases: &mut Phases,
) -> Result<Result<Aggregator, Vec<Diagnostic>>> {
    // A CSV extract is checked row by row as it streams past. A Parquet extract can be far
    // larger, so its rows are checked in the aggregation's own pass (the check's filters are
    // counted there) and only looked at one by one if something turns up.
    let bytes: u64 = files
        .plans
        .iter()
        .chain(files.events)
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .sum();
    match files.format {
        ExtractFormat::Csv => phases.start("checking the extract", Some(bytes), "bytes"),
        ExtractFormat::Parquet => phases.start("checking the extract", None, ""),
    };
    // A plan listed twice is found by the aggregation (`Anomalies`), and named after it.
    let problems = match files.format {
        ExtractFormat::Csv => check::check_rows(files, reference, today, phases.current()),
        ExtractFormat::Parquet => check::check_schema(files),
    };
    phases.done();
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    phases.start("aggregating", None, "");
    let suspects = match files.format {
        ExtractFormat::Csv => (None, None),
        ExtractFormat::Parquet => {
            let (plans, events) = check::suspects(reference, today);
            (Some(plans), Some(events))
        }
    };
    let aggregated = extract::aggregate_extract(
        files.plans,
        files.events,
        files.format,
        reference,
        window,
        suspects,
    );
    phases.done();
    let aggregated = match aggregated {
        Ok(aggregated) if !aggregated.anomalies.any() => aggregated,
        outcome => {
            // Name the rows behind whatever the aggregation saw (or failed on).
            phases.start("finding the problem rows", None, "");
            let mut problems = check::check_rows(files, reference, today, None);
            if problems.is_empty() {
                problems = check::duplicate_plans(files);
            }
            if problems.is_empty() {
                problems = check::unknown_plans(files);
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
