//! Writes the model's record-level output as an extract in the form `extract` defines, the
//! shape a secure environment holds: `plans` and `events`, streamed row by row so any number
//! of plans fits in memory.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::model::{Event, ModelInputs, PlanRecord, Sink};
use crate::extract::{AGE_BANDS, EVENTS_HEADER, ExtractFormat, Layout, PLANS_HEADER, Table};
use crate::model::Month;

/// Rows this many at a time make one Parquet row group: big enough to compress well, small
/// enough that 100 million events never sit in memory at once.
const PARQUET_BATCH_ROWS: usize = 1 << 20;

/// A partitioned extract holds a file per month open at once: smaller row groups keep the
/// buffers of a hundred or so open files small.
const PARTITION_BATCH_ROWS: usize = 1 << 16;

fn builders(names: &[&'static str], batch: usize) -> Vec<polars::prelude::StringChunkedBuilder> {
    names
        .iter()
        .map(|name| polars::prelude::StringChunkedBuilder::new((*name).into(), batch))
        .collect()
}

/// One table of the extract being written, under a temporary name until `finish`.
enum TableOut {
    Csv(BufWriter<File>),
    Parquet {
        // Boxed: the Parquet writer is large beside a CSV writer.
        writer: Box<polars::io::parquet::write::BatchedWriter<File>>,
        names: Vec<&'static str>,
        /// The row group being filled, column by column (appending copies the text into one
        /// buffer per column: no allocation per cell).
        columns: Vec<polars::prelude::StringChunkedBuilder>,
        rows: usize,
        /// Rows per row group.
        batch: usize,
    },
}

impl TableOut {
    fn create(path: &Path, header: &'static str, format: ExtractFormat) -> Result<TableOut> {
        let names: Vec<&'static str> = header.split(',').collect();
        TableOut::create_with(path, names, format, PARQUET_BATCH_ROWS)
    }

    fn create_with(
        path: &Path,
        names: Vec<&'static str>,
        format: ExtractFormat,
        batch: usize,
    ) -> Result<TableOut> {
        let file =
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        let header = names.join(",");
        Ok(match format {
            ExtractFormat::Csv => {
                let mut writer = BufWriter::with_capacity(1 << 20, file);
                writeln!(writer, "{header}")?;
                TableOut::Csv(writer)
            }
            ExtractFormat::Parquet => {
                use polars::prelude::*;
                // Every column is text, as in the CSV form: the importer checks values itself.
                let schema = Schema::from_iter(
                    names
                        .iter()
                        .map(|n| Field::new((*n).into(), DataType::String)),
                );
                let writer = ParquetWriter::new(file)
                    .batched(&schema)
                    .map_err(|e| anyhow::anyhow!("cannot start a Parquet file: {e}"))?;
                TableOut::Parquet {
                    writer: Box::new(writer),
                    columns: builders(&names, batch),
                    names,
                    rows: 0,
                    batch,
                }
            }
        })
    }

    fn row(&mut self, cells: &[&str]) -> Result<()> {
        match self {
            TableOut::Csv(writer) => {
                writer.write_all(cells.join(",").as_bytes())?;
                writer.write_all(b"\n")?;
            }
            TableOut::Parquet {
                columns,
                rows,
                batch,
                ..
            } => {
                for (column, cell) in columns.iter_mut().zip(cells) {
                    column.append_value(cell);
                }
                *rows += 1;
                if *rows >= *batch {
                    self.flush_batch()?;
                }
            }
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<()> {
        if let TableOut::Parquet {
            writer,
            names,
            columns,
            rows,
            batch,
        } = self
        {
            if *rows == 0 {
                return Ok(());
            }
            let filled = std::mem::replace(columns, builders(names, *batch));
            *rows = 0;
            let frame = polars::prelude::DataFrame::new_infer_height(
                filled
                    .into_iter()
                    .map(|builder| polars::prelude::IntoColumn::into_column(builder.finish()))
                    .collect(),
            )?;
            writer
                .write_batch(&frame)
                .map_err(|e| anyhow::anyhow!("cannot write a Parquet row group: {e}"))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.flush_batch()?;
        match self {
            TableOut::Csv(mut writer) => writer.flush()?,
            TableOut::Parquet { writer, .. } => {
                writer
                    .finish()
                    .map_err(|e| anyhow::anyhow!("cannot finish a Parquet file: {e}"))?;
            }
        }
        Ok(())
    }
}

/// One table of a partitioned extract: a Parquet file per month, `<table>/<column>=YYYY-MM/
/// part-0.parquet`, written under `.<table>.tmp/` until `finish` moves the folder into place.
struct PartitionedOut {
    table: Table,
    staging: PathBuf,
    target: PathBuf,
    files: std::collections::BTreeMap<Month, TableOut>,
    /// The positions of the file's columns among the table's (a plans file lacks `created`).
    keep: Vec<usize>,
}

impl PartitionedOut {
    fn create(dir: &Path, table: Table) -> Result<PartitionedOut> {
        let staging = dir.join(format!(".{}.tmp", table.name()));
        if staging.exists() {
            fs::remove_dir_all(&staging)
                .with_context(|| format!("cannot clear {}", staging.display()))?;
        }
        fs::create_dir_all(&staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        let in_file = table.partition_file_columns();
        let keep = table
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| in_file.contains(c))
            .map(|(i, _)| i)
            .collect();
        Ok(PartitionedOut {
            table,
            target: dir.join(table.name()),
            staging,
            files: std::collections::BTreeMap::new(),
            keep,
        })
    }

    fn row(&mut self, month: Month, cells: &[&str]) -> Result<()> {
        if !self.files.contains_key(&month) {
            let folder = self
                .staging
                .join(format!("{}={month}", self.table.partition_column()));
            fs::create_dir_all(&folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
            let out = TableOut::create_with(
                &folder.join("part-0.parquet"),
                self.table.partition_file_columns(),
                ExtractFormat::Parquet,
                PARTITION_BATCH_ROWS,
            )?;
            self.files.insert(month, out);
        }
        let kept: Vec<&str> = self.keep.iter().map(|&i| cells[i]).collect();
        match self.files.get_mut(&month) {
            Some(out) => out.row(&kept),
            None => Ok(()),
        }
    }

    fn finish(self) -> Result<()> {
        for (_, out) in self.files {
            out.finish()?;
        }
        if self.target.exists() {
            fs::remove_dir_all(&self.target)
                .with_context(|| format!("cannot replace {}", self.target.display()))?;
        }
        fs::rename(&self.staging, &self.target)
            .with_context(|| format!("cannot move {} into place", self.target.display()))
    }
}

/// Where the extract's rows go: two files, or two partitioned folders.
enum Tables {
    Flat {
        plans: TableOut,
        events: TableOut,
    },
    Partitioned {
        plans: PartitionedOut,
        events: PartitionedOut,
    },
}

/// A `Sink` writing the plans and events tables into a folder. Files are written under
/// temporary names and renamed by `finish`, so a stopped run leaves no half extract.
pub struct ExtractWriter<'a> {
    inputs: &'a ModelInputs,
    dir: PathBuf,
    format: ExtractFormat,
    tables: Tables,
    current_plan: (u64, String),
    error: Option<anyhow::Error>,
    pub plan_count: u64,
    pub event_count: u64,
    /// Plans written, against the model's expected number (an estimate, so the bar may end a
    /// little short of or past its length).
    progress: crate::progress::Phase,
}

impl<'a> ExtractWriter<'a> {
    pub fn create(
        dir: &Path,
        inputs: &'a ModelInputs,
        layout: Layout,
    ) -> Result<ExtractWriter<'a>> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let format = layout.format();
        let temporary = |name: &str| dir.join(format!(".{name}.{}.tmp", format.extension()));
        let tables = match layout {
            Layout::Flat(format) => Tables::Flat {
                plans: TableOut::create(&temporary("plans"), PLANS_HEADER, format)?,
                events: TableOut::create(&temporary("events"), EVENTS_HEADER, format)?,
            },
            Layout::Partitioned => Tables::Partitioned {
                plans: PartitionedOut::create(dir, Table::Plans)?,
                events: PartitionedOut::create(dir, Table::Events)?,
            },
        };
        Ok(ExtractWriter {
            inputs,
            dir: dir.to_path_buf(),
            format,
            tables,
            current_plan: (u64::MAX, String::new()),
            error: None,
            plan_count: 0,
            event_count: 0,
            progress: crate::progress::Phase::new(
                "writing the extract",
                Some(super::model::expected_plans(inputs).round().max(1.0) as u64),
                "plans",
            ),
        })
    }

    fn keep(&mut self, result: Result<()>) {
        if let Err(error) = result {
            self.error.get_or_insert(error);
        }
    }

    /// Finishes both files and moves them into place.
    pub fn finish(mut self) -> Result<(u64, u64)> {
        if let Some(error) = self.error.take() {
            return Err(error).context("cannot write the extract");
        }
        self.progress.finish();
        match self.tables {
            Tables::Flat { plans, events } => {
                plans.finish()?;
                events.finish()?;
                let extension = self.format.extension();
                for name in ["plans", "events"] {
                    let target = self.dir.join(format!("{name}.{extension}"));
                    fs::rename(self.dir.join(format!(".{name}.{extension}.tmp")), &target)
                        .with_context(|| format!("cannot move {} into place", target.display()))?;
                }
            }
            Tables::Partitioned { plans, events } => {
                plans.finish()?;
                events.finish()?;
            }
        }
        Ok((self.plan_count, self.event_count))
    }
}

fn timestamp_text(seconds: i64) -> String {
    let date = crate::model::iso_date(seconds);
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

impl Sink for ExtractWriter<'_> {
    fn plan(&mut self, index: u64, plan: &PlanRecord) {
        self.plan_count += 1;
        if self.plan_count.is_multiple_of(4096) {
            self.progress.inc(4096);
        }
        self.current_plan = (index, plan.plan_id.clone());
        let died = plan.died.map(|m| m.to_string()).unwrap_or_default();
        let (created, updated) = (plan.created.to_string(), plan.last_updated.to_string());
        let (earlier, changed) = match plan.earlier_template {
            Some((earlier, month)) => (
                self.inputs.templates[earlier].id.as_str(),
                month.to_string(),
            ),
            None => ("", String::new()),
        };
        let cells = [
            plan.plan_id.as_str(),
            &self.inputs.boroughs[plan.borough].code,
            &self.inputs.templates[plan.template].id,
            AGE_BANDS[plan.age_band],
            &created,
            &updated,
            plan.status.id(),
            bool_text(plan.cpr_decision_made),
            bool_text(plan.preference_expressed),
            &died,
            bool_text(plan.died_in_preferred_place),
            earlier,
            &changed,
        ];
        let result = match &mut self.tables {
            Tables::Flat { plans, .. } => plans.row(&cells),
            Tables::Partitioned { plans, .. } => plans.row(plan.created, &cells),
        };
        self.keep(result);
    }

    fn event(&mut self, event: &Event) {
        self.event_count += 1;
        // Events follow their plan, so the id is the current plan's.
        let timestamp = timestamp_text(event.timestamp);
        let cells = [
            self.current_plan.1.as_str(),
            &timestamp,
            event.service.id(),
            event.kind.id(),
        ];
        let result = match &mut self.tables {
            Tables::Flat { events, .. } => events.row(&cells),
            Tables::Partitioned { events, .. } => match timestamp[..7].parse::<Month>() {
                Ok(month) => events.row(month, &cells),
                Err(error) => Err(anyhow::anyhow!("an event's timestamp {timestamp}: {error}")),
            },
        };
        self.keep(result);
    }
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// Runs the model and writes its extract; returns (plans, events).
pub fn write_extract(inputs: &ModelInputs, dir: &Path, layout: Layout) -> Result<(u64, u64)> {
    let mut writer = ExtractWriter::create(dir, inputs, layout)?;
    super::model::run(inputs, &mut writer);
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_utc() {
        assert_eq!(timestamp_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_text(1_617_280_496), "2021-04-01T12:34:56Z");
    }
}
