//! Reads a record-level extract (`plans.csv`, `events.csv`): first a streaming check of every
//! row (so a problem names its file, row and column), then the aggregation with polars (lazy),
//! whose small per-borough results fill the same unrounded counts the model's own aggregation
//! fills. Publishing (suppression, rounding, files) is `aggregate::publish`'s and `write`'s job.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use polars::prelude::*;

use super::aggregate::Aggregator;
use crate::diagnostic::Diagnostic;
use crate::model::{Measure, Month, Service};
use crate::synth::extract::{EVENTS_HEADER, PLANS_HEADER};
use crate::synth::model::ModelInputs;
use crate::validate::identifiers;
use crate::yaml::Span;

/// Past this many problems the check stops: an extract that bad needs fixing at its source.
const MAX_PROBLEMS: usize = 50;

fn bool_cell(cell: &str) -> Option<bool> {
    match cell {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// `2021-04-01T12:34:56Z` -> April 2021.
fn timestamp_month(cell: &str) -> Option<Month> {
    let ok = cell.len() == 20 && cell.as_bytes()[10] == b'T' && cell.ends_with('Z');
    ok.then(|| cell[..7].parse().ok()).flatten()
}

/// Checks both files row by row. `today` bounds dates: nothing in an extract can be in the future.
pub fn check_extract(dir: &Path, inputs: &ModelInputs, today: Month) -> Vec<Diagnostic> {
    let boroughs: std::collections::HashSet<&str> =
        inputs.boroughs.iter().map(|b| b.code.as_str()).collect();
    let templates: std::collections::HashSet<&str> =
        inputs.templates.iter().map(|t| t.id.as_str()).collect();
    let mut problems = Vec::new();
    let plans_path = dir.join("plans.csv");
    let events_path = dir.join("events.csv");
    check_file(&plans_path, PLANS_HEADER, &mut problems, |column, cell| {
        let month = |cell: &str| -> Result<Month, String> {
            let month: Month = cell.parse()?;
            if month > today {
                Err(format!("{month} is in the future"))
            } else {
                Ok(month)
            }
        };
        match column {
            "plan_id" if cell.is_empty() => Err("empty plan id".into()),
            "borough_code" if !boroughs.contains(cell) => Err(format!("unknown borough `{cell}`")),
            "template_id" if !templates.contains(cell) => Err(format!("unknown template `{cell}`")),
            "age_band" if !crate::synth::model::AGE_BANDS.contains(&cell) => {
                Err(format!("unknown age band `{cell}`"))
            }
            "created" | "last_updated" => month(cell).map(|_| ()),
            "died_month" if !cell.is_empty() => month(cell).map(|_| ()),
            "status" if !matches!(cell, "active" | "deceased" | "archived") => {
                Err(format!("unknown status `{cell}`"))
            }
            "cpr_decision_recorded"
            | "preferred_place_of_death_recorded"
            | "died_in_preferred_place"
                if bool_cell(cell).is_none() =>
            {
                Err(format!("`{cell}` is not true or false"))
            }
            _ => Ok(()),
        }
    });
    check_file(
        &events_path,
        EVENTS_HEADER,
        &mut problems,
        |column, cell| match column {
            "plan_id" if cell.is_empty() => Err("empty plan id".into()),
            "timestamp" => match timestamp_month(cell) {
                None => Err(format!(
                    "`{cell}` is not a UTC timestamp YYYY-MM-DDTHH:MM:SSZ"
                )),
                Some(month) if month > today => Err(format!("{cell} is in the future")),
                Some(_) => Ok(()),
            },
            "service" if !Service::ALL.iter().any(|s| s.id() == cell) => {
                Err(format!("unknown service `{cell}`"))
            }
            "kind" if !matches!(cell, "view" | "update") => Err(format!("unknown kind `{cell}`")),
            _ => Ok(()),
        },
    );
    problems
}

/// Streams one CSV file: exact header, then each cell through `check` and the identifier finder.
fn check_file(
    path: &Path,
    header: &str,
    problems: &mut Vec<Diagnostic>,
    mut check: impl FnMut(&str, &str) -> Result<(), String>,
) {
    if problems.len() >= MAX_PROBLEMS {
        return;
    }
    let shown = path.display().to_string();
    let mut reader = match csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
    {
        Ok(reader) => reader,
        Err(error) => {
            problems.push(Diagnostic::error(
                "extract/unreadable",
                &shown,
                format!("cannot read: {error}"),
            ));
            return;
        }
    };
    let expected: Vec<&str> = header.split(',').collect();
    let mut record = csv::StringRecord::new();
    let mut row = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                problems.push(
                    Diagnostic::error("extract/syntax", &shown, format!("invalid CSV: {error}"))
                        .at(Span::point(row + 1, 1)),
                );
                return;
            }
        }
        row += 1;
        if row == 1 {
            let found: Vec<&str> = record.iter().collect();
            if let Some(missing) = expected.iter().find(|c| !found.contains(c)) {
                problems.push(
                    Diagnostic::error(
                        "extract/missing-column",
                        &shown,
                        format!("column `{missing}` is missing"),
                    )
                    .at(Span::point(1, 1))
                    .help(format!("the header must be: {header}")),
                );
                return;
            }
            if found != expected {
                problems.push(
                    Diagnostic::error(
                        "extract/header",
                        &shown,
                        "columns are not in the expected order",
                    )
                    .at(Span::point(1, 1))
                    .help(format!("the header must be: {header}")),
                );
                return;
            }
            continue;
        }
        if record.len() != expected.len() {
            problems.push(
                Diagnostic::error(
                    "extract/field-count",
                    &shown,
                    format!(
                        "row has {} fields; expected {}",
                        record.len(),
                        expected.len()
                    ),
                )
                .at(Span::point(row, 1)),
            );
        } else {
            for (index, (column, cell)) in expected.iter().zip(record.iter()).enumerate() {
                let at = Span::point(row, index + 1);
                if let Some(found) = identifiers::find_in_text(cell).first() {
                    problems.push(
                        Diagnostic::error(
                            "extract/identifier",
                            &shown,
                            format!("`{column}` holds {}", found.kind.describe()),
                        )
                        .at(at)
                        .help("extracts must be pseudonymised before they reach careplans"),
                    );
                } else if let Err(message) = check(column, cell) {
                    problems.push(
                        Diagnostic::error(
                            "extract/value",
                            &shown,
                            format!("`{column}`: {message}"),
                        )
                        .at(at),
                    );
                }
            }
        }
        if problems.len() >= MAX_PROBLEMS {
            problems.push(Diagnostic::error(
                "extract/too-many-problems",
                &shown,
                "stopped after 50 problems",
            ));
            return;
        }
    }
}

fn read_csv(path: &Path) -> Result<LazyFrame> {
    // Every column as text: the check above has already vouched for each value's form.
    LazyCsvReader::new(PlRefPath::new(path.to_string_lossy().as_ref()))
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .finish()
        .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))
}

fn month_index(column: &str) -> Expr {
    col(column)
        .str()
        .slice(lit(0), lit(4))
        .cast(DataType::Int64)
        * lit(12i64)
        + col(column)
            .str()
            .slice(lit(5), lit(2))
            .cast(DataType::Int64)
        - lit(1i64)
}

fn flag(column: &str) -> Expr {
    col(column).eq(lit("true")).cast(DataType::UInt64)
}

/// Collected rows of (borough, template, month index, values...).
fn collect_rows(frame: LazyFrame, values: &[&str]) -> Result<Vec<(String, String, i64, Vec<u64>)>> {
    let frame = frame
        .collect()
        .map_err(|e| anyhow!("aggregation failed: {e}"))?;
    let borough = frame.column("borough_code")?.str()?.clone();
    let template = frame.column("template_id")?.str()?.clone();
    let month = frame
        .column("month")?
        .cast(&DataType::Int64)?
        .i64()?
        .clone();
    let columns: Vec<ChunkedArray<UInt64Type>> = values
        .iter()
        .map(|name| Ok(frame.column(name)?.cast(&DataType::UInt64)?.u64()?.clone()))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(frame.height());
    for row in 0..frame.height() {
        let (Some(b), Some(t), Some(m)) = (borough.get(row), template.get(row), month.get(row))
        else {
            continue;
        };
        out.push((
            b.to_owned(),
            t.to_owned(),
            m,
            columns.iter().map(|c| c.get(row).unwrap_or(0)).collect(),
        ));
    }
    Ok(out)
}

/// The months an extract covers: from the first to the last month with an event.
pub fn extract_months(dir: &Path) -> Result<(Month, Month)> {
    let frame = read_csv(&dir.join("events.csv"))?
        .select([
            month_index("timestamp").min().alias("first"),
            month_index("timestamp").max().alias("last"),
        ])
        .collect()
        .map_err(|e| anyhow!("cannot read the months of the extract: {e}"))?;
    let get = |name: &str| -> Result<Month> {
        let value = frame
            .column(name)?
            .i64()?
            .get(0)
            .ok_or_else(|| anyhow!("the extract has no events"))?;
        Ok(Month::from_index(value))
    };
    Ok((get("first")?, get("last")?))
}

/// Aggregates a checked extract into unrounded counts per month, borough and template.
pub fn aggregate_extract(dir: &Path, inputs: &ModelInputs) -> Result<Aggregator> {
    let borough_index: HashMap<&str, usize> = inputs
        .boroughs
        .iter()
        .enumerate()
        .map(|(i, b)| (b.code.as_str(), i))
        .collect();
    let template_index: HashMap<&str, usize> = inputs
        .templates
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut aggregator = Aggregator::empty(
        inputs.first_month,
        inputs.months as usize,
        inputs.boroughs.len(),
        inputs.templates.len(),
    );
    let plans = read_csv(&dir.join("plans.csv"))?.with_columns([
        month_index("created").alias("created_index"),
        // A plan stops being live in the month its person died or it was archived.
        when(
            col("died_month")
                .is_not_null()
                .and(col("died_month").neq(lit(""))),
        )
        .then(month_index("died_month"))
        .when(col("status").eq(lit("archived")))
        .then(month_index("last_updated"))
        .otherwise(lit(NULL).cast(DataType::Int64))
        .alias("end_index"),
        flag("cpr_decision_recorded").alias("cpr"),
        flag("preferred_place_of_death_recorded").alias("ppd"),
        flag("died_in_preferred_place").alias("dipp"),
    ]);
    let starts = plans
        .clone()
        .group_by([
            col("borough_code"),
            col("template_id"),
            col("created_index").alias("month"),
        ])
        .agg([
            len().cast(DataType::UInt64).alias("plans"),
            col("cpr").sum(),
            col("ppd").sum(),
        ]);
    let ends = plans
        .clone()
        .filter(col("end_index").is_not_null())
        .group_by([
            col("borough_code"),
            col("template_id"),
            col("end_index").alias("month"),
        ])
        .agg([
            len().cast(DataType::UInt64).alias("plans"),
            col("cpr").sum(),
            col("ppd").sum(),
        ]);
    let deaths = plans
        .clone()
        .filter(
            col("died_month")
                .is_not_null()
                .and(col("died_month").neq(lit(""))),
        )
        .group_by([
            col("borough_code"),
            col("template_id"),
            month_index("died_month").alias("month"),
        ])
        .agg([
            len().cast(DataType::UInt64).alias("deaths"),
            col("dipp").sum(),
        ]);
    let views = read_csv(&dir.join("events.csv"))?
        .filter(col("kind").eq(lit("view")))
        .join(
            plans.select([col("plan_id"), col("borough_code"), col("template_id")]),
            [col("plan_id")],
            [col("plan_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([
            col("borough_code"),
            col("template_id"),
            month_index("timestamp").alias("month"),
        ])
        .agg(
            Service::ALL
                .iter()
                .map(|s| {
                    col("service")
                        .eq(lit(s.id()))
                        .cast(DataType::UInt64)
                        .sum()
                        .alias(s.id())
                })
                .collect::<Vec<_>>(),
        );

    let cell = |b: &str, t: &str| Some((*borough_index.get(b)?, *template_index.get(t)?));
    // Active plans: the running total of starts minus ends up to each month.
    let mut running: HashMap<(usize, usize), BTreeDelta> = HashMap::new();
    for (b, t, month, values) in collect_rows(starts, &["plans", "cpr", "ppd"])? {
        if let Some(key) = cell(&b, &t) {
            running.entry(key).or_default().add(
                month,
                [values[0] as i64, values[1] as i64, values[2] as i64],
            );
            aggregator.add(
                Month::from_index(month),
                key.0,
                key.1,
                Measure::NewPlans,
                values[0],
            );
        }
    }
    for (b, t, month, values) in collect_rows(ends, &["plans", "cpr", "ppd"])? {
        if let Some(key) = cell(&b, &t) {
            running.entry(key).or_default().add(
                month,
                [
                    -(values[0] as i64),
                    -(values[1] as i64),
                    -(values[2] as i64),
                ],
            );
        }
    }
    let first = inputs.first_month.index();
    let last = inputs.last_month().index();
    for ((b, t), deltas) in running {
        let mut totals = [0i64; 3];
        let mut changes = deltas.0.into_iter().peekable();
        for month in first..=last {
            while let Some((_, delta)) = changes.next_if(|(m, _)| *m <= month) {
                for (total, d) in totals.iter_mut().zip(delta) {
                    *total += d;
                }
            }
            let month_value = Month::from_index(month);
            for (measure, total) in [
                Measure::ActivePlans,
                Measure::CprRecorded,
                Measure::PreferredPlaceRecorded,
            ]
            .into_iter()
            .zip(totals)
            {
                aggregator.add(month_value, b, t, measure, total.max(0) as u64);
            }
        }
    }
    for (b, t, month, values) in collect_rows(deaths, &["deaths", "dipp"])? {
        if let Some((bi, ti)) = cell(&b, &t) {
            aggregator.add(Month::from_index(month), bi, ti, Measure::Deaths, values[0]);
            aggregator.add(
                Month::from_index(month),
                bi,
                ti,
                Measure::DeathsInPreferredPlace,
                values[1],
            );
        }
    }
    let services: Vec<&str> = Service::ALL.iter().map(|s| s.id()).collect();
    for (b, t, month, values) in collect_rows(views, &services)? {
        if let Some((bi, ti)) = cell(&b, &t) {
            for (service, value) in Service::ALL.iter().zip(values) {
                aggregator.add(
                    Month::from_index(month),
                    bi,
                    ti,
                    Measure::views_of(*service),
                    value,
                );
            }
        }
    }
    Ok(aggregator)
}

/// Changes to running totals by month index, in month order.
#[derive(Default)]
struct BTreeDelta(std::collections::BTreeMap<i64, [i64; 3]>);

impl BTreeDelta {
    fn add(&mut self, month: i64, delta: [i64; 3]) {
        let entry = self.0.entry(month).or_insert([0; 3]);
        for (slot, d) in entry.iter_mut().zip(delta) {
            *slot += d;
        }
    }
}
