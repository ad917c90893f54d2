//! Reads a checked record-level extract (plans and events, CSV or Parquet) with polars (lazy)
//! and aggregates it into the unrounded counts per month, borough and template that the
//! model's own aggregation fills. Publishing (suppression, rounding, files) is
//! `aggregate::publish`'s and `write`'s job; checking rows first is `check`'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use polars::prelude::*;

use super::aggregate::Aggregator;
use super::check::timestamp_month;
use crate::model::{Measure, Month, Service};
use crate::synth::extract::ExtractFormat;
use crate::synth::model::ModelInputs;

/// Where one table of an extract is: `plans.csv`, `events.parquet`, ...
pub fn table_path(dir: &Path, table: &str, format: ExtractFormat) -> PathBuf {
    dir.join(format!("{table}.{}", format.extension()))
}

/// Runs a query on the streaming engine, which reads the tables in morsels: memory stays flat
/// however many events there are (only the plans side of a join and small results are held).
pub fn collect_streaming(frame: LazyFrame) -> PolarsResult<DataFrame> {
    frame
        .collect_with_engine(Engine::Streaming)
        // One query gives one frame (several come only from collecting several queries at once).
        .map(|result| result.unwrap_single())
}

/// A lazy scan of one table. Every column is read as text: the check has vouched for the form
/// of each value, and text keeps the CSV and Parquet forms one code path.
pub fn scan_table(path: &Path, format: ExtractFormat) -> Result<LazyFrame> {
    let source = PlRefPath::new(path.to_string_lossy().as_ref());
    match format {
        ExtractFormat::Csv => LazyCsvReader::new(source)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish(),
        ExtractFormat::Parquet => LazyFrame::scan_parquet(source, ScanArgsParquet::default()),
    }
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
    let frame = collect_streaming(frame).map_err(|e| anyhow!("aggregation failed: {e}"))?;
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
pub fn extract_months(dir: &Path, format: ExtractFormat) -> Result<(Month, Month)> {
    // ISO 8601 timestamps sort as text, so the first and last are a plain min and max.
    let query = scan_table(&table_path(dir, "events", format), format)?.select([
        col("timestamp").min().alias("first"),
        col("timestamp").max().alias("last"),
    ]);
    let frame = collect_streaming(query)
        .map_err(|e| anyhow!("cannot read the months of the extract: {e}"))?;
    let get = |name: &str| -> Result<Month> {
        let value = frame.column(name)?.str()?.get(0).map(str::to_owned);
        value
            .as_deref()
            .and_then(timestamp_month)
            .ok_or_else(|| anyhow!("the extract has no events"))
    };
    Ok((get("first")?, get("last")?))
}

/// Aggregates a checked extract into unrounded counts per month, borough and template.
pub fn aggregate_extract(
    dir: &Path,
    format: ExtractFormat,
    inputs: &ModelInputs,
) -> Result<Aggregator> {
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
    let plans = scan_table(&table_path(dir, "plans", format), format)?.with_columns([
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
    let views = scan_table(&table_path(dir, "events", format), format)?
        .filter(col("kind").eq(lit("view")))
        .join(
            plans.select([col("plan_id"), col("borough_code"), col("template_id")]),
            [col("plan_id")],
            [col("plan_id")],
            // The plans are the smaller side: hash them, stream the events past.
            JoinArgs::new(JoinType::Inner).with_build_side(Some(JoinBuildSide::ForceRight)),
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
