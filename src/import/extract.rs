//! Reads a record-level extract (plans and events, CSV or Parquet) with polars (lazy, on the
//! streaming engine) and aggregates it into the unrounded counts per month, borough and
//! template that the model's own aggregation fills. The same pass counts the rows the check's
//! filters flag and the events whose plan is missing (`Anomalies`), so a Parquet extract is
//! read once; finding those rows is `check`'s job, publishing (suppression, rounding, files)
//! is `aggregate::publish`'s and `write`'s.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};
use polars::prelude::*;
use polars_core::utils::FromTrustedLenIterator as _;

use super::aggregate::Aggregator;
use super::check::{
    CodeIndex, EventKind, EventRules, KnownCodes, PlanRules, each_plan_row, map_events,
};
use super::parallel;
use super::plan_index::{self, PlanIndex};
use crate::extract::{
    ExtractFormat, PLANS_COLUMNS, REVIEW_MONTHS, Reference, Table, TableFile, VIEWING_SERVICES,
};
use crate::model::{Measure, Month};
use crate::pipeline::log;

/// Runs a query on the streaming engine, which reads the tables in morsels: memory stays flat
/// however many events there are (only the plans side of a join and small results are held).
pub fn collect_streaming(frame: LazyFrame) -> PolarsResult<DataFrame> {
    frame
        .collect_with_engine(Engine::Streaming)
        // One query gives one frame (several come only from collecting several queries at once).
        .map(|result| result.unwrap_single())
}

/// A lazy scan of one table. Every column is read as text (a CSV extract's values are never
/// inferred), which keeps the CSV and Parquet forms one code path.
pub fn scan_table(path: &Path, format: ExtractFormat) -> Result<LazyFrame> {
    let source = PlRefPath::new(path.to_string_lossy().as_ref());
    match format {
        ExtractFormat::Csv => LazyCsvReader::new(source)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish(),
        ExtractFormat::Parquet => {
            // A partition's folder name (`created=2021-04`) is read by `scan_files`, as
            // text; polars' own Hive reading would add it as a date column.
            let mut args = ScanArgsParquet::default();
            args.hive_options.enabled = Some(false);
            LazyFrame::scan_parquet(source, args)
        }
    }
    .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))
}

/// A lazy scan of a table from its files, in a flat extract's column order (every column
/// text), plus `__partition`: each row's partition month as text (null in a flat extract).
/// A plans partition's `created` comes from its folder's name. With `numbered`, each row also
/// gets `__file` (its file's index in `files`) and `__row` (its row in that file, as
/// diagnostics count rows: from 2 in CSV, whose header is row 1, from 1 in Parquet).
pub fn scan_files(
    files: &[TableFile],
    table: Table,
    format: ExtractFormat,
    numbered: bool,
) -> Result<LazyFrame> {
    let mut columns: Vec<Expr> = table.columns().iter().map(|c| col(*c)).collect();
    columns.push(col("__partition"));
    if numbered {
        columns.extend([col("__file"), col("__row")]);
    }
    let first_row = match format {
        ExtractFormat::Csv => 2,
        ExtractFormat::Parquet => 1,
    };
    let scans = files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let mut frame = scan_table(&file.path, format)?;
            if numbered {
                frame = frame
                    .with_row_index("__row", Some(first_row))
                    .with_column(lit(index as u32).alias("__file"));
            }
            let partition = match file.partition {
                Some(month) => lit(month.to_string()),
                None => lit(NULL).cast(DataType::String),
            };
            frame = frame.with_column(partition.alias("__partition"));
            if table == Table::Plans && file.partition.is_some() {
                frame = frame.with_column(col("__partition").alias("created"));
            }
            Ok(frame.select(columns.clone()))
        })
        .collect::<Result<Vec<LazyFrame>>>()?;
    match scans.len() {
        0 => {
            let mut fields: Vec<Field> = table
                .columns()
                .iter()
                .chain(["__partition"].iter())
                .map(|c| Field::new((*c).into(), DataType::String))
                .collect();
            if numbered {
                fields.push(Field::new("__file".into(), DataType::UInt32));
                fields.push(Field::new("__row".into(), DataType::UInt32));
            }
            Ok(DataFrame::empty_with_schema(&Schema::from_iter(fields)).lazy())
        }
        1 => Ok(scans.into_iter().next().unwrap_or_default()),
        _ => {
            concat(scans, UnionArgs::default()).map_err(|e| anyhow!("cannot read the extract: {e}"))
        }
    }
}

/// The month index (`Month::index`) of a cell that starts `YYYY-MM`: a month, or a timestamp's
/// month. `None` for anything else, which only an extract the check refuses has (this runs
/// beside the check, or after it for CSV). One pass over the bytes: slicing the text and
/// casting the slices cost three times as much.
fn month_of(cell: &str) -> Option<i32> {
    let bytes = cell.as_bytes();
    let digit = |i: usize| {
        let d = bytes.get(i)?.wrapping_sub(b'0');
        (d < 10).then_some(d)
    };
    if bytes.get(4) != Some(&b'-') {
        return None;
    }
    let year = (0..4).try_fold(0i32, |year, i| Some(year * 10 + i32::from(digit(i)?)))?;
    let month = u32::from(digit(5)?) * 10 + u32::from(digit(6)?);
    // A month index is a few tens of thousands (`Month::index`): it fits in 32 bits.
    Month::new(year, month).map(|month| month.index() as i32)
}

/// A group's key packed into one number (`cell << 32 | month << 3 | code`), so that every
/// group-by hashes one integer column: grouping by the cell and the month as two columns
/// went through polars' row encoding, which cost more than the sums themselves. An unknown
/// cell or month (only in an extract the check refuses) gets the all-ones value of its bits.
const NO_CELL: u64 = u32::MAX as u64;
const NO_MONTH: u64 = (1 << 29) - 1;

fn group_key(cell: Expr, month: Expr, code: Expr) -> Expr {
    (cell.cast(DataType::UInt64).fill_null(lit(NO_CELL)) * lit(1u64 << 32)
        + month.cast(DataType::UInt64).fill_null(lit(NO_MONTH)) * lit(8u64)
        + code.cast(DataType::UInt64))
    .alias("key")
}

/// `group_key` of one row's values.
fn pack_key(cell: Option<u32>, month: Option<i64>, code: u8) -> u64 {
    cell.map_or(NO_CELL, u64::from) * (1 << 32)
        + month.map_or(NO_MONTH, |month| month as u64) * 8
        + u64::from(code)
}

/// The key of a group by cell and month alone.
fn cell_month_key(cell: Expr, month: Expr) -> Expr {
    group_key(cell, month, lit(0u64))
}

/// One collected group: the cell (borough index x templates + template index) and month index
/// (either may be missing in an unchecked extract), the event code (`event_code`; 0 for the
/// other groups), then the requested sums.
struct Group {
    cell: Option<u32>,
    month: Option<i64>,
    code: u8,
    values: Vec<u64>,
}

impl Group {
    /// The group of a `group_key`, with its sums.
    fn of_key(key: u64, values: Vec<u64>) -> Group {
        let cell = key >> 32;
        let month = (key >> 3) & NO_MONTH;
        Group {
            cell: (cell != NO_CELL).then_some(cell as u32),
            month: (month != NO_MONTH).then_some(month as i64),
            code: (key & 7) as u8,
            values,
        }
    }
}

fn groups_of(frame: &DataFrame, values: &[&str]) -> Result<Vec<Group>> {
    let key = frame.column("key")?.u64()?.clone();
    let columns: Vec<ChunkedArray<UInt64Type>> = values
        .iter()
        .map(|name| Ok(frame.column(name)?.cast(&DataType::UInt64)?.u64()?.clone()))
        .collect::<Result<_>>()?;
    Ok((0..frame.height())
        .filter_map(|row| Some((row, key.get(row)?)))
        .map(|(row, key)| {
            let values = columns.iter().map(|c| c.get(row).unwrap_or(0)).collect();
            Group::of_key(key, values)
        })
        .collect())
}

/// What an event is, as a number small enough for a group key's last three bits: a view by
/// the `i`th viewing service is `i`, a view by a service the extract should not have is
/// `UNKNOWN_VIEW`, anything else (an update) is `NOT_A_VIEW`, and a row the check would
/// refuse is `SUSPECT` (see `count_events`).
const UNKNOWN_VIEW: u8 = VIEWING_SERVICES.len() as u8;
const NOT_A_VIEW: u8 = UNKNOWN_VIEW + 1;
/// A row the check would refuse, whatever it is: the extract is then refused, so what the
/// row would count matters no more.
const SUSPECT: u8 = NOT_A_VIEW + 1;
const _: () = assert!(SUSPECT < 8, "event codes must fit in three bits");

/// A review as `review_changes` reads it: the plan's row and the month, in one number
/// (`pid << 32 | month`; months are 0..2^29, see `group_key`).
fn review(pid: u32, month: i64) -> u64 {
    (u64::from(pid) << 32) + month as u64
}

/// The reviews the events pass finds, gathered morsel by morsel. Reading them there saves a
/// second scan of the events table (a run of its own, filtered to the updates, joined to the
/// plans again). A morsel seen twice would only repeat reviews, which change nothing: a
/// repeated month is no gap and moves no stretch's ends. They are kept in `Plans::parts`
/// ranges of plans, so that each range is sorted and walked on a thread of its own.
struct Updates {
    parts: Vec<Mutex<Vec<u64>>>,
    plans: PlanRanges,
}

/// The plans' rows cut into ranges of `per` rows, one for each thread that walks reviews.
#[derive(Clone, Copy)]
struct PlanRanges {
    plans: usize,
    per: usize,
}

impl PlanRanges {
    fn new(plans: usize, parts: usize) -> PlanRanges {
        PlanRanges {
            plans,
            per: plans.div_ceil(parts.max(1)).max(1),
        }
    }

    fn count(self) -> usize {
        self.plans.div_ceil(self.per).max(1)
    }

    fn of(self, pid: u32) -> usize {
        (pid as usize / self.per).min(self.count() - 1)
    }

    fn rows(self, part: usize) -> std::ops::Range<usize> {
        part * self.per..((part + 1) * self.per).min(self.plans)
    }
}

impl Updates {
    fn new(plans: PlanRanges) -> Updates {
        Updates {
            parts: (0..plans.count()).map(|_| Mutex::default()).collect(),
            plans,
        }
    }

    fn add(&self, reviews: Vec<u64>) {
        let mut parts = vec![Vec::new(); self.parts.len()];
        for review in reviews {
            parts[self.plans.of((review >> 32) as u32)].push(review);
        }
        for (part, reviews) in self.parts.iter().zip(parts) {
            if !reviews.is_empty() {
                part.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(reviews);
            }
        }
    }

    fn take(self) -> Vec<Vec<u64>> {
        let take = |part: Mutex<Vec<u64>>| part.into_inner().unwrap_or_else(|e| e.into_inner());
        self.parts.into_iter().map(take).collect()
    }
}

/// The events counted by group key (`group_key`: the event's plan's cell in the event's month,
/// the month, and its code: a viewing service's index, `UNKNOWN_VIEW`, `NOT_A_VIEW`, or
/// `SUSPECT` for a row the check would refuse), from its `plan_id`, `timestamp`, `service`,
/// `kind` and `__partition`, in one pass: each morsel's events are counted in a table of the
/// morsel's own and added to `counts`, so polars only reads the columns. (Handing polars a key
/// for every event to group cost a column of 100M numbers at 100M events, and hashing each
/// of them again in the group-by, for at most a few hundred thousand groups.) An event whose
/// plan is not in `plans` has no cell. Each update of a known plan in a known month is also
/// put in `updates` as a review, as the events go by. `check` is `None` where the rows were
/// checked before (a CSV extract). The expression's own value is one `true` for each event
/// counted: what the query keeps of it is their sum.
fn count_events(
    plans: Arc<PlanIndex>,
    counts: Arc<EventCounts>,
    updates: Arc<Updates>,
    check: Option<Arc<EventRules>>,
) -> Expr {
    map_events("counted", DataType::Boolean, move |events| {
        let mut reviews = Vec::new();
        let mut cursor = plan_index::Cursor::default();
        let mut morsel = hashbrown::HashMap::<u64, u64>::new();
        for row in 0..events.rows {
            let event = events.read(row, check.as_deref());
            let month = event.month.map(Month::index);
            let found = event
                .plan_id
                .and_then(|id| plans.find_from(id, &mut cursor));
            let plan = found.map(|found| found.in_month(month));
            let code = match event.kind {
                _ if event.refused => SUSPECT,
                EventKind::View(service) => service.map_or(UNKNOWN_VIEW, |i| i as u8),
                EventKind::Update => {
                    if let (Some(plan), Some(month)) = (plan, month) {
                        reviews.push(review(plan.pid, month));
                    }
                    NOT_A_VIEW
                }
                EventKind::Other => NOT_A_VIEW,
            };
            *morsel
                .entry(pack_key(plan.and_then(|plan| plan.cell), month, code))
                .or_default() += 1;
        }
        updates.add(reviews);
        counts.add(morsel);
        Ok(BooleanChunked::full("counted".into(), true, events.rows).into_column())
    })
}

/// The events' counts by group key, added up morsel by morsel by `count_events`.
#[derive(Default)]
struct EventCounts(Mutex<hashbrown::HashMap<u64, u64>>);

impl EventCounts {
    fn add(&self, morsel: hashbrown::HashMap<u64, u64>) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (key, events) in morsel {
            *counts.entry(key).or_default() += events;
        }
    }

    /// The groups, in key order (so that what is made of them never depends on the order the
    /// morsels came in), and how many events they count.
    fn into_groups(self) -> (Vec<Group>, u64) {
        let counts = self.0.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut counts: Vec<(u64, u64)> = counts.into_iter().collect();
        counts.sort_unstable();
        let events = counts.iter().map(|(_, events)| events).sum();
        let groups = counts
            .into_iter()
            .map(|(key, events)| Group::of_key(key, vec![events]))
            .collect();
        (groups, events)
    }
}

/// Unions whose order nothing depends on (each is grouped, or sorted, next). The streaming
/// engine reads an ordered union's inputs one after another, so where they share a source
/// (the plans table, the episodes) the later inputs' rows were held in memory meanwhile.
fn unordered() -> UnionArgs {
    UnionArgs {
        maintain_order: false,
        ..UnionArgs::default()
    }
}

/// What the aggregation holds of each plan, as numbers, made in one pass over the plans'
/// thirteen text columns (`PLANS_COLUMNS`), which also makes the check's (`check`: none where
/// the rows were checked before). A struct column of:
/// - `created_index`, `end_index` (the month it stops being live: its person died or it was
///   archived), `changed_index` (its template changed) and `died_index`, as `Month::index`
///   (null: none, or a malformed month only a refused extract has);
/// - `cpr`, `pref`, `dipp`: its three flags;
/// - `cell_now` and `cell_first`, the cells (`borough x templates + template`; null when
///   either is unknown) of its current template and of the one it began with;
/// - `suspect`: the check refuses the row.
///
/// Reading each row once for all of these replaced a polars expression for each (five month
/// parses, two cell lookups, three comparisons, three choices), each making its own column of
/// every morsel.
fn plan_facts(reference: &Reference, check: Option<PlanRules>) -> Expr {
    let boroughs = CodeIndex::new(reference.borough_index());
    let templates = CodeIndex::new(reference.template_index());
    let template_count = reference.templates.len() as u32;
    let others: Vec<Expr> = PLANS_COLUMNS[1..].iter().map(|name| col(*name)).collect();
    col(PLANS_COLUMNS[0])
        .map_many(
            move |columns: &mut [Column]| {
                let rows = columns.first().map_or(0, Column::len);
                let mut facts = PlanFacts::with_capacity(rows);
                let mut templates = TemplateMemo::new(&templates);
                each_plan_row(columns, |cells| {
                    // Each code looked up once, for the cells and for the check.
                    let borough = boroughs.get(cells[1]);
                    let template = templates.get(cells[2]);
                    let earlier = match cells[11] {
                        "" => None,
                        id => templates.get(id),
                    };
                    let cell = |template: Option<u32>| Some(borough? * template_count + template?);
                    // An empty cell (no death, no change) has no month.
                    let died = month_of(cells[9]);
                    let changed = month_of(cells[12]);
                    let now = cell(template);
                    facts.created.push(month_of(cells[4]));
                    facts.end.push(
                        died.or_else(|| (cells[6] == "archived").then(|| month_of(cells[5]))?),
                    );
                    facts.changed.push(changed);
                    facts.died.push(died);
                    facts.cpr.push(cells[7] == "true");
                    facts.pref.push(cells[8] == "true");
                    facts.dipp.push(cells[10] == "true");
                    facts.cell_now.push(now);
                    facts.cell_first.push(match changed {
                        Some(_) => cell(earlier),
                        None => now,
                    });
                    let known = KnownCodes {
                        borough: borough.is_some(),
                        template: template.is_some(),
                        earlier: cells[11].is_empty() || earlier.is_some(),
                    };
                    facts.suspect.push(
                        check
                            .as_ref()
                            .is_some_and(|rules| rules.refuses_given(cells, known)),
                    );
                })?;
                facts.into_column(rows)
            },
            &others,
            |_, _| Ok(Field::new("facts".into(), PlanFacts::dtype())),
        )
        .alias("facts")
}

/// A `CodeIndex` of template ids that remembers, for one morsel, where each id it looked up
/// lies: Parquet's dictionary encoding makes every row of one template a view of one place
/// in one buffer, so a morsel looks each template up about once. Where a text lies says
/// what it is only while the morsel's buffers are alive: a memo lives for one morsel.
struct TemplateMemo<'a> {
    templates: &'a CodeIndex,
    /// By the text's address: (address, length, index), a direct-mapped handful.
    seen: [(usize, usize, Option<u32>); 8],
}

impl<'a> TemplateMemo<'a> {
    fn new(templates: &'a CodeIndex) -> TemplateMemo<'a> {
        // No text starts at address 0 (a reference's pointer is never null).
        TemplateMemo {
            templates,
            seen: [(0, 0, None); 8],
        }
    }

    fn get(&mut self, text: &str) -> Option<u32> {
        let key = (text.as_ptr() as usize, text.len());
        let slot = &mut self.seen[(key.0 >> 3) % 8];
        if (slot.0, slot.1) == key {
            return slot.2;
        }
        let found = self.templates.get(text);
        *slot = (key.0, key.1, found);
        found
    }
}

/// The columns of `plan_facts`, one morsel's.
struct PlanFacts {
    created: Vec<Option<i32>>,
    end: Vec<Option<i32>>,
    changed: Vec<Option<i32>>,
    died: Vec<Option<i32>>,
    cpr: Vec<bool>,
    pref: Vec<bool>,
    dipp: Vec<bool>,
    cell_now: Vec<Option<u32>>,
    cell_first: Vec<Option<u32>>,
    suspect: Vec<bool>,
}

const MONTH_FACTS: [&str; 4] = ["created_index", "end_index", "changed_index", "died_index"];
const FLAG_FACTS: [&str; 3] = ["cpr", "pref", "dipp"];
const CELL_FACTS: [&str; 2] = ["cell_now", "cell_first"];

impl PlanFacts {
    fn with_capacity(rows: usize) -> PlanFacts {
        PlanFacts {
            created: Vec::with_capacity(rows),
            end: Vec::with_capacity(rows),
            changed: Vec::with_capacity(rows),
            died: Vec::with_capacity(rows),
            cpr: Vec::with_capacity(rows),
            pref: Vec::with_capacity(rows),
            dipp: Vec::with_capacity(rows),
            cell_now: Vec::with_capacity(rows),
            cell_first: Vec::with_capacity(rows),
            suspect: Vec::with_capacity(rows),
        }
    }

    fn dtype() -> DataType {
        let fields = MONTH_FACTS
            .iter()
            .map(|name| Field::new((*name).into(), DataType::Int32))
            .chain(
                FLAG_FACTS
                    .iter()
                    .map(|name| Field::new((*name).into(), DataType::Boolean)),
            )
            .chain(
                CELL_FACTS
                    .iter()
                    .map(|name| Field::new((*name).into(), DataType::UInt32)),
            )
            .chain([Field::new("suspect".into(), DataType::Boolean)]);
        DataType::Struct(fields.collect())
    }

    fn into_column(self, rows: usize) -> PolarsResult<Column> {
        let months = [self.created, self.end, self.changed, self.died];
        let flags = [self.cpr, self.pref, self.dipp];
        let cells = [self.cell_now, self.cell_first];
        // Built from trusted-length iterators: polars' `from_iter_options` appended value by
        // value through a builder, 8% of the plans' pass.
        let fields: Vec<Column> = (MONTH_FACTS.iter().zip(months))
            .map(|(name, months)| {
                Int32Chunked::from_iter_trusted_length(months)
                    .with_name((*name).into())
                    .into_column()
            })
            .chain(FLAG_FACTS.iter().zip(flags).map(|(name, flags)| {
                BooleanChunked::from_slice((*name).into(), &flags).into_column()
            }))
            .chain(CELL_FACTS.iter().zip(cells).map(|(name, cells)| {
                UInt32Chunked::from_iter_trusted_length(cells)
                    .with_name((*name).into())
                    .into_column()
            }))
            .chain([BooleanChunked::from_slice("suspect".into(), &self.suspect).into_column()])
            .collect();
        Ok(StructChunked::from_columns("facts".into(), rows, &fields)?.into_column())
    }
}

/// What the review walk reads of the collected plans.
struct PlanColumns {
    created: Int32Chunked,
    changed: Int32Chunked,
    ended: Int32Chunked,
    cell_first: UInt32Chunked,
    cell_now: UInt32Chunked,
}

/// One plan's row of `PlanColumns`, months widened to the walk's `i64`.
struct PlanRow {
    created: Option<i64>,
    changed: Option<i64>,
    ended: Option<i64>,
    cell_first: Option<u32>,
    cell_now: Option<u32>,
}

impl PlanColumns {
    /// Calls `visit` with each plan of `rows` in order, read from slices of the columns
    /// (which copy nothing).
    fn each_row(&self, rows: std::ops::Range<usize>, mut visit: impl FnMut(usize, &PlanRow)) {
        let (offset, length) = (rows.start as i64, rows.len());
        let months = |column: &Int32Chunked| column.slice(offset, length);
        let cells = |column: &UInt32Chunked| column.slice(offset, length);
        let (created, changed, ended) = (
            months(&self.created),
            months(&self.changed),
            months(&self.ended),
        );
        let (cell_first, cell_now) = (cells(&self.cell_first), cells(&self.cell_now));
        let widen = |month: Option<i32>| month.map(i64::from);
        let plans = created
            .iter()
            .zip(changed.iter())
            .zip(ended.iter())
            .zip(cell_first.iter().zip(cell_now.iter()));
        for (row, (((created, changed), ended), (cell_first, cell_now))) in rows.zip(plans) {
            let plan = PlanRow {
                created: widen(created),
                changed: widen(changed),
                ended: widen(ended),
                cell_first,
                cell_now,
            };
            visit(row, &plan);
        }
    }
}

/// The first and last month index of some reviews.
type MonthSpan = (i64, i64);

/// The reviewed plans' changes per cell and month, as groups of (plans starting to count,
/// plans stopping), from every plan's creation (row `pid` of `plans`) and its updates
/// (`pid << 32 | month`, in `ranges` of plans). A run of a plan's reviews less than 12
/// months apart is one stretch, current from its first review to 12 months after its last;
/// each stretch counts in the cell of each of the plan's episodes it meets, from the later of
/// its start and the episode's to the earlier of their ends. Each range of plans is sorted and
/// walked on a thread of its own (at 10M plans, one thread took 1.5 s of an import's 12), and
/// the tallies added up: grouping the stretches and joining them to the episodes cost polars
/// two hash tables of every plan.
fn review_changes(
    updates: Vec<Vec<u64>>,
    ranges: PlanRanges,
    plans: &DataFrame,
    cells: usize,
) -> Result<Vec<Group>> {
    // The columns as they were collected (in many chunks): each range reads its own rows in
    // order (`PlanColumns::each_row`), so nothing is copied into one array first (at 10M plans, copying
    // the five columns touched 320 MB of fresh memory).
    let months_of = |name: &str| -> Result<Int32Chunked> { Ok(plans.column(name)?.i32()?.clone()) };
    let cells_of = |name: &str| -> Result<UInt32Chunked> { Ok(plans.column(name)?.u32()?.clone()) };
    let columns = PlanColumns {
        created: months_of("created_index")?,
        changed: months_of("changed_index")?,
        ended: months_of("end_index")?,
        cell_first: cells_of("cell_first")?,
        cell_now: cells_of("cell_now")?,
    };
    let month_of = |review: u64| (review & 0xFFFF_FFFF) as i64;
    let range = |months: &mut dyn Iterator<Item = i64>| {
        months.fold(None, |range: Option<MonthSpan>, month| {
            Some(range.map_or((month, month), |(low, high)| {
                (low.min(month), high.max(month))
            }))
        })
    };
    // Sorted here, each range on its thread: polars' sort of the same column, inside the
    // streaming run, held many times the column's size.
    let range = &range;
    let sorted = parallel::on_threads(updates.into_iter().map(|mut part| {
        move || {
            part.sort_unstable();
            let span = range(&mut part.iter().map(|review| month_of(*review)));
            (part, span)
        }
    }));
    let updates: Vec<(Vec<u64>, Option<MonthSpan>)> =
        sorted.ok_or_else(|| anyhow!("sorting the reviews failed"))?;
    let spans = updates.iter().filter_map(|(_, span)| *span);
    let created_span = columns
        .created
        .min()
        .zip(columns.created.max())
        .map(|(low, high)| (i64::from(low), i64::from(high)));
    let Some((low, high)) = range(
        &mut spans
            .chain(created_span)
            .flat_map(|(low, high)| [low, high]),
    ) else {
        return Ok(Vec::new());
    };
    // Every change falls in low..=high + 12: one slot per cell and month.
    let span = (high + REVIEW_MONTHS - low + 1) as usize;
    let walk = |part: usize, reviews: &[u64]| {
        let mut starting = vec![0u64; cells * span];
        let mut stopping = vec![0u64; cells * span];
        let mut count = |plan: &PlanRow, first: i64, last: i64| {
            let (covered_from, covered_until) = (first, last + REVIEW_MONTHS);
            let change = plan.changed;
            let episodes = [
                (plan.cell_first, plan.created, change.or(plan.ended)),
                (change.and(plan.cell_now), change, plan.ended),
            ];
            for (cell, start, stop) in episodes {
                let Some(cell) = cell.map(|c| c as usize).filter(|c| *c < cells) else {
                    continue;
                };
                let from = start.map_or(covered_from, |s| s.max(covered_from));
                let until = stop.map_or(covered_until, |s| s.min(covered_until));
                if from < until {
                    starting[cell * span + (from - low) as usize] += 1;
                    stopping[cell * span + (until - low) as usize] += 1;
                }
            }
        };
        let mut next = 0;
        columns.each_row(ranges.rows(part), |row, plan| {
            // The plan's updates, and its creation among them in month order.
            let mut updated = reviews[next..]
                .iter()
                .take_while(|review| (**review >> 32) as usize == row)
                .map(|review| month_of(*review))
                .peekable();
            let mut creation = plan.created;
            let mut stretch: Option<(i64, i64)> = None;
            loop {
                let month = match (creation, updated.peek()) {
                    (Some(made), Some(&month)) if made > month => {
                        next += 1;
                        updated.next();
                        month
                    }
                    (Some(made), _) => {
                        creation = None;
                        made
                    }
                    (None, Some(_)) => {
                        next += 1;
                        updated.next().unwrap_or_default()
                    }
                    (None, None) => break,
                };
                stretch = match stretch {
                    Some((first, last)) if month - last <= REVIEW_MONTHS => Some((first, month)),
                    Some((first, last)) => {
                        count(plan, first, last);
                        Some((month, month))
                    }
                    None => Some((month, month)),
                };
            }
            if let Some((first, last)) = stretch {
                count(plan, first, last);
            }
        });
        (starting, stopping)
    };
    let walk = &walk;
    let walked = parallel::on_threads(
        (updates.iter().enumerate()).map(|(part, (reviews, _))| move || walk(part, reviews)),
    );
    let tallies = walked.ok_or_else(|| anyhow!("walking the reviews failed"))?;
    let (mut starting, mut stopping) = (vec![0u64; cells * span], vec![0u64; cells * span]);
    for (part_starting, part_stopping) in tallies {
        for (total, part) in starting.iter_mut().zip(part_starting) {
            *total += part;
        }
        for (total, part) in stopping.iter_mut().zip(part_stopping) {
            *total += part;
        }
    }
    Ok((0..cells * span)
        .filter(|slot| starting[*slot] > 0 || stopping[*slot] > 0)
        .map(|slot| Group {
            cell: Some((slot / span) as u32),
            month: Some(low + (slot % span) as i64),
            code: 0,
            values: vec![starting[slot], stopping[slot]],
        })
        .collect())
}

/// What the aggregation saw that a clean extract would not have. Checking rows costs a pass
/// over the tables, so a Parquet extract is checked in the same pass as it is aggregated and
/// only looked at row by row when one of these is non-zero.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Anomalies {
    /// Rows the check's filters pick out as possibly malformed.
    pub suspect_rows: u64,
    /// Events whose plan is not in the plans table.
    pub unknown_plan_events: u64,
    /// Plans whose id an earlier row of the plans table already has (`PlanIndex`).
    pub repeated_ids: u64,
}

impl Anomalies {
    /// Whether anything was seen that the check must refuse.
    pub fn any(&self) -> bool {
        self.suspect_rows > 0 || self.unknown_plan_events > 0 || self.repeated_ids > 0
    }
}

/// The unrounded counts of an extract and what it covers.
pub struct Aggregated {
    /// Its window is the extract's (or the one asked for): `Aggregator::window`.
    pub aggregator: Aggregator,
    pub anomalies: Anomalies,
}

/// Aggregates an extract into unrounded counts per month, borough and template, for `window`
/// or, without one, every month from the first to the last month any service viewed a plan
/// (updates before that still count as reviews). `suspects` are the check's rules for the
/// plans and for the events (counted, not applied; no rules where the rows were checked
/// before).
///
/// A plan is counted in the cell of the template it uses in each month: a plan whose template
/// changed (`template_changed`) is two episodes, the earlier template's up to the change and
/// the current one's from it, and is a new plan only in the month it was created.
pub fn aggregate_extract(
    plans_files: &[TableFile],
    events_files: &[TableFile],
    format: ExtractFormat,
    reference: &Reference,
    window: Option<(Month, Month)>,
    suspects: (Option<PlanRules>, Option<Arc<EventRules>>),
) -> Result<Aggregated> {
    // Flags are booleans, whose sums polars gives as 32-bit counts: every count is 64-bit here.
    let sum = |name: &str| col(name).sum().cast(DataType::UInt64).alias(name);
    // Each plan's row number is its key from here on: joins, sorts and groups on a number
    // instead of the plan id's text.
    let plans = scan_files(plans_files, Table::Plans, format, false)?
        .select([col("plan_id"), plan_facts(reference, suspects.0)])
        .unnest(cols(["facts"]), None);
    // The plans are read, checked and reduced to numbers once, and held (about 40 bytes a
    // plan): every query below reads them. Left lazy, each query scanned and checked the
    // plans table again (the common-subplan elimination does not reach across queries here),
    // which cost a quarter of the time and 1.5 GB at 10M plans.
    let started = std::time::Instant::now();
    let mut plans_frame =
        collect_streaming(plans).map_err(|e| anyhow!("aggregation failed: {e}"))?;
    let lap = |what: &str, since: &mut std::time::Instant| {
        let now = std::time::Instant::now();
        log::debug(|| format!("import: {what} in {:.2?}", now - *since));
        *since = now;
    };
    let mut since = started;
    lap("plans read, checked and held", &mut since);
    // All events, views and updates, find their plan in one index of the plans' ids: that
    // both counts views and finds events whose plan is missing (no cell). Each event is reduced
    // to its group's key in one pass over its four columns, so the group-by only counts.
    let plan_index =
        PlanIndex::new(&plans_frame).map_err(|e| anyhow!("aggregation failed: {e}"))?;
    // The index holds the ids in one array of its own; the frame's chunks of them can go
    // (and their memory be used again by the events pass).
    plans_frame
        .drop_in_place("plan_id")
        .map_err(|e| anyhow!("aggregation failed: {e}"))?;
    lap("plan index built", &mut since);
    let plans = plans_frame.clone().lazy();
    let keys = |cell: Expr, month: Expr| [cell_month_key(cell, month)];

    // Episodes: (plan, cell, the month it starts, the month it stops being live or null).
    let first_episode = plans.clone().select([
        col("cell_first").alias("cell"),
        col("created_index").alias("start"),
        when(col("changed_index").is_not_null())
            .then(col("changed_index"))
            .otherwise(col("end_index"))
            .alias("stop"),
        lit(1u64).cast(DataType::UInt64).alias("new"),
        col("cpr"),
        col("pref"),
    ]);
    let later_episode = plans
        .clone()
        .filter(col("changed_index").is_not_null())
        .select([
            col("cell_now").alias("cell"),
            col("changed_index").alias("start"),
            col("end_index").alias("stop"),
            lit(0u64).cast(DataType::UInt64).alias("new"),
            col("cpr"),
            col("pref"),
        ]);
    let episodes = concat([first_episode.clone(), later_episode], unordered())?;
    // Every plan's first episode starts when it is made; the suspect rows are counted here,
    // over the whole table.
    let starts = plans
        .clone()
        .group_by(keys(col("cell_first"), col("created_index")))
        .agg([
            len().cast(DataType::UInt64).alias("plans"),
            sum("cpr"),
            sum("pref"),
            sum("suspect"),
        ]);
    let moves = concat(
        [
            // A later episode starts where the first stops: moving between cells.
            episodes
                .clone()
                .filter(col("new").eq(lit(0u64)))
                .group_by(keys(col("cell"), col("start")))
                .agg([
                    len().cast(DataType::UInt64).alias("in"),
                    sum("cpr").alias("cpr_in"),
                    sum("pref").alias("pref_in"),
                    lit(0u64).cast(DataType::UInt64).alias("out"),
                    lit(0u64).cast(DataType::UInt64).alias("cpr_out"),
                    lit(0u64).cast(DataType::UInt64).alias("pref_out"),
                ]),
            episodes
                .clone()
                .filter(col("stop").is_not_null())
                .group_by(keys(col("cell"), col("stop")))
                .agg([
                    lit(0u64).cast(DataType::UInt64).alias("in"),
                    lit(0u64).cast(DataType::UInt64).alias("cpr_in"),
                    lit(0u64).cast(DataType::UInt64).alias("pref_in"),
                    len().cast(DataType::UInt64).alias("out"),
                    sum("cpr").alias("cpr_out"),
                    sum("pref").alias("pref_out"),
                ]),
        ],
        unordered(),
    )?;
    let died_cell = when(
        col("changed_index")
            .is_not_null()
            .and(col("died_index").gt_eq(col("changed_index"))),
    )
    .then(col("cell_now"))
    .otherwise(col("cell_first"));
    let deaths = plans
        .clone()
        .filter(col("died_index").is_not_null())
        .group_by(keys(died_cell, col("died_index")))
        .agg([
            len().cast(DataType::UInt64).alias("deaths"),
            sum("pref"),
            sum("dipp"),
        ]);
    let ranges = PlanRanges::new(plans_frame.height(), parallel::threads());
    let updates = Arc::new(Updates::new(ranges));
    let counts = Arc::new(EventCounts::default());
    let events = scan_files(events_files, Table::Events, format, false)?
        .select([count_events(
            plan_index.clone(),
            counts.clone(),
            updates.clone(),
            suspects.1,
        )])
        .select([col("counted").sum().cast(DataType::UInt64).alias("events")]);

    // One streaming run for the four queries that count: they share the plans held in
    // memory, and the events query reads the events table (and gathers the updates).
    let opt_state = starts.get_current_optimizations();
    let frames = LazyFrame::collect_all_with_engine(
        [starts, moves, deaths, events]
            .into_iter()
            .map(|frame| frame.logical_plan)
            .collect(),
        Engine::Streaming,
        opt_state,
    )
    .map_err(|e| anyhow!("aggregation failed: {e}"))?;
    let [starts, moves, deaths, events_read]: [DataFrame; 4] = frames.try_into().map_err(|_| {
        anyhow!("aggregation failed: four queries gave a different number of results")
    })?;
    lap("events and episodes counted", &mut since);
    // Reviews: a plan is current while a creation or an update lies in the last 12 months.
    // Polars only counts; `review_changes` sorts the updates and walks them.
    let updates = Arc::into_inner(updates)
        .ok_or_else(|| anyhow!("aggregation failed: the events pass still holds its updates"))?;
    let starts = groups_of(&starts, &["plans", "cpr", "pref", "suspect"])?;
    let moves = groups_of(
        &moves,
        &["in", "cpr_in", "pref_in", "out", "cpr_out", "pref_out"],
    )?;
    let reviewed = review_changes(
        updates.take(),
        ranges,
        &plans_frame,
        reference.boroughs.len() * reference.templates.len(),
    )?;
    lap("reviews walked", &mut since);
    let deaths = groups_of(&deaths, &["deaths", "pref", "dipp"])?;
    let counts = Arc::into_inner(counts)
        .ok_or_else(|| anyhow!("aggregation failed: the events pass still holds its counts"))?;
    let (events, counted) = counts.into_groups();
    // Every event is counted once: a morsel that the engine evaluated twice (keeping one of
    // the results) or whose result it dropped would make the two differ.
    let read = events_read.column("events")?.u64()?.get(0).unwrap_or(0);
    if read != counted {
        return Err(anyhow!(
            "aggregation failed: {read} events read but {counted} counted"
        ));
    }

    let mut anomalies = Anomalies::default();
    anomalies.suspect_rows += starts.iter().map(|g| g.values[3]).sum::<u64>();
    anomalies.suspect_rows += events
        .iter()
        .filter(|g| g.code == SUSPECT)
        .map(|g| g.values[0])
        .sum::<u64>();
    anomalies.repeated_ids = plan_index.repeated_ids();
    anomalies.unknown_plan_events = events
        .iter()
        .filter(|g| g.cell.is_none())
        .map(|g| g.values[0])
        .sum();
    let (first, last) = match window {
        Some(window) => window,
        None => {
            let months = events
                .iter()
                .filter(|g| g.code <= UNKNOWN_VIEW && g.values[0] > 0)
                .filter_map(|g| g.month);
            match (months.clone().min(), months.max()) {
                (Some(first), Some(last)) => (Month::from_index(first), Month::from_index(last)),
                _ => return Err(anyhow!("the extract has no views to date it by")),
            }
        }
    };
    let months = usize::try_from(last.index() - first.index() + 1)
        .map_err(|_| anyhow!("the extract's months are out of order"))?;
    let mut aggregator = Aggregator::empty(
        first,
        months,
        reference.boroughs.len(),
        reference.templates.len(),
    );

    let templates = reference.templates.len();
    let cell = |group: &Group| {
        let cell = group.cell? as usize;
        Some((cell / templates, cell % templates, group.month?))
    };
    // Active plans (and those with a CPR decision, a preference, a recent review): running
    // totals of what starts minus what stops, up to each month.
    let mut running: HashMap<(usize, usize), BTreeDelta> = HashMap::new();
    let mut change = |group: &Group, delta: [i64; 4]| {
        if let Some((b, t, month)) = cell(group) {
            running.entry((b, t)).or_default().add(month, delta);
        }
    };
    let signed = |v: &[u64], plus: usize, minus: usize| v[plus] as i64 - v[minus] as i64;
    for group in &starts {
        let v = &group.values;
        change(group, [v[0] as i64, v[1] as i64, v[2] as i64, 0]);
        if let Some((b, t, month)) = cell(group) {
            aggregator.add(Month::from_index(month), b, t, Measure::NewPlans, v[0]);
        }
    }
    for group in &moves {
        let v = &group.values;
        change(
            group,
            [signed(v, 0, 3), signed(v, 1, 4), signed(v, 2, 5), 0],
        );
    }
    for group in &reviewed {
        change(
            group,
            [0, 0, 0, group.values[0] as i64 - group.values[1] as i64],
        );
    }
    let measures = [
        Measure::ActivePlans,
        Measure::CprDecisionMade,
        Measure::PreferenceExpressed,
        Measure::PlansReviewedLast12Months,
    ];
    for ((b, t), deltas) in running {
        let mut totals = [0i64; 4];
        let mut changes = deltas.0.into_iter().peekable();
        for month in first.index()..=last.index() {
            while let Some((_, delta)) = changes.next_if(|(m, _)| *m <= month) {
                for (total, d) in totals.iter_mut().zip(delta) {
                    *total += d;
                }
            }
            for (measure, total) in measures.into_iter().zip(totals) {
                aggregator.add(Month::from_index(month), b, t, measure, total.max(0) as u64);
            }
        }
    }
    for group in &deaths {
        if let Some((b, t, month)) = cell(group) {
            let month = Month::from_index(month);
            aggregator.add(month, b, t, Measure::Deaths, group.values[0]);
            aggregator.add(
                month,
                b,
                t,
                Measure::DeathsWithPreferenceRecorded,
                group.values[1],
            );
            aggregator.add(
                month,
                b,
                t,
                Measure::DeathsInPreferredPlace,
                group.values[2],
            );
        }
    }
    for group in &events {
        if let Some((b, t, month)) = cell(group) {
            let service = VIEWING_SERVICES.get(usize::from(group.code));
            if let Some(measure) = service.and_then(|s| Measure::views_of(*s)) {
                aggregator.add(Month::from_index(month), b, t, measure, group.values[0]);
            }
        }
    }
    Ok(Aggregated {
        aggregator,
        anomalies,
    })
}

/// Changes to running totals by month index, in month order.
#[derive(Default)]
struct BTreeDelta(std::collections::BTreeMap<i64, [i64; 4]>);

impl BTreeDelta {
    fn add(&mut self, month: i64, delta: [i64; 4]) {
        let entry = self.0.entry(month).or_insert([0; 4]);
        for (slot, d) in entry.iter_mut().zip(delta) {
            *slot += d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_from_the_start_of_a_cell() {
        let april_2021 = Month::new(2021, 4).map(|month| month.index() as i32);
        assert_eq!(month_of("2021-04"), april_2021);
        assert_eq!(month_of("2021-04-30T23:59:59Z"), april_2021);
        for malformed in [
            "", "2021", "2021-4", "2021-13", "2021-00", "20x1-04", "2021/04", "-001-04",
        ] {
            assert_eq!(month_of(malformed), None, "{malformed}");
        }
    }

    /// The one pass over a plan's cells gives what the aggregation counts and the check's
    /// verdict: an archived plan ends when last updated, a death ends it, a template change
    /// gives it a first cell of the earlier template, and an unknown borough gives no cell
    /// and a refused row.
    #[test]
    fn plan_facts_read_each_plan_once_for_the_figures_and_the_check() {
        let reference = Reference {
            boroughs: vec!["E09000001".into(), "E09000002".into()],
            templates: vec!["t-a".into(), "t-b".into()],
        };
        let today = Month::new(2024, 3).unwrap();
        let (rules, _) = super::super::check::suspects(&reference, today);
        let rows: [[&str; 13]; 3] = [
            [
                "P1",
                "E09000002",
                "t-b",
                "75-84",
                "2021-04",
                "2022-01",
                "archived",
                "true",
                "false",
                "",
                "false",
                "",
                "",
            ],
            [
                "P2",
                "E09000002",
                "t-b",
                "85+",
                "2021-05",
                "2023-02",
                "deceased",
                "false",
                "true",
                "2023-02",
                "true",
                "t-a",
                "2022-06",
            ],
            [
                "P3", "X", "t-a", "65-74", "2021-06", "2021-06", "active", "false", "false", "",
                "false", "", "",
            ],
        ];
        let columns: Vec<Column> = PLANS_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let values: Vec<&str> = rows.iter().map(|row| row[i]).collect();
                Column::new((*name).into(), values)
            })
            .collect();
        let facts = DataFrame::new(3, columns)
            .unwrap()
            .lazy()
            .select([plan_facts(&reference, Some(rules))])
            .unnest(cols(["facts"]), None)
            .collect()
            .unwrap();
        let month = |m: u32, y: i32| Some(Month::new(y, m).unwrap().index() as i32);
        let months = |name: &str| facts.column(name).unwrap().i32().unwrap().to_vec();
        let cells = |name: &str| facts.column(name).unwrap().u32().unwrap().to_vec();
        let flags = |name: &str| {
            let column = facts.column(name).unwrap().bool().unwrap().clone();
            column
                .iter()
                .map(Option::unwrap_or_default)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            months("created_index"),
            [month(4, 2021), month(5, 2021), month(6, 2021)]
        );
        assert_eq!(months("end_index"), [month(1, 2022), month(2, 2023), None]);
        assert_eq!(months("changed_index"), [None, month(6, 2022), None]);
        assert_eq!(months("died_index"), [None, month(2, 2023), None]);
        assert_eq!(flags("cpr"), [true, false, false]);
        assert_eq!(flags("pref"), [false, true, false]);
        assert_eq!(flags("dipp"), [false, true, false]);
        // Borough 1 of 2, template 1 of 2 is cell 3; its earlier template (0) is cell 2.
        assert_eq!(cells("cell_now"), [Some(3), Some(3), None]);
        assert_eq!(cells("cell_first"), [Some(3), Some(2), None]);
        assert_eq!(flags("suspect"), [false, false, true]);
    }

    #[test]
    fn the_template_memo_gives_what_the_index_gives() {
        let templates = CodeIndex::new(
            [("coordinate-my-care-legacy", 0), ("ucp", 1)]
                .into_iter()
                .collect(),
        );
        // The memo gives what the index gives, for one text seen again, for equal texts in
        // other places and for texts that share an address's slot.
        let texts: Vec<String> = ["ucp", "coordinate-my-care-legacy", "nope", "ucp", ""]
            .iter()
            .cycle()
            .take(40)
            .map(|t| (*t).to_owned())
            .collect();
        let mut memo = TemplateMemo::new(&templates);
        for _ in 0..2 {
            for text in &texts {
                assert_eq!(memo.get(text), templates.get(text), "{text}");
                assert_eq!(
                    memo.get(&text[..text.len() / 2]),
                    templates.get(&text[..text.len() / 2])
                );
            }
        }
    }

    #[test]
    fn reviews_count_in_each_episode_they_meet_while_current() {
        // One plan (row 0): made in month 0 in cell 1, moved to cell 2 in month 20, still
        // live. Reviewed in months 0, 5 (twice) and 30: two stretches, 0 to 17 and 30 to 42.
        let plans = df!(
            "created_index" => [Some(0i32)],
            "changed_index" => [Some(20i32)],
            "end_index" => [None::<i32>],
            "cell_first" => [Some(1u32)],
            "cell_now" => [Some(2u32)],
        )
        .unwrap();
        let ranges = PlanRanges::new(1, 2);
        let groups = review_changes(vec![vec![30, 5, 5]], ranges, &plans, 4).unwrap();
        let seen: Vec<_> = groups
            .iter()
            .map(|g| (g.cell, g.month, g.values.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                // The first stretch in the first template, until it ran out in month 17.
                (Some(1), Some(0), vec![1, 0]),
                (Some(1), Some(17), vec![0, 1]),
                // The second, after the move, in the second template.
                (Some(2), Some(30), vec![1, 0]),
                (Some(2), Some(42), vec![0, 1]),
            ]
        );
    }

    /// The walk cut into ranges of plans, each sorted and walked on its thread, gives what
    /// one walk of all the plans gives, whatever order the updates arrive in.
    #[test]
    fn reviews_walked_in_ranges_of_plans_add_up_to_one_walk() {
        let n = 97usize;
        let rows = 0..n as i32;
        let plans = df!(
            "created_index" => rows.clone().map(|i| (i % 11 != 3).then_some(i % 40)).collect::<Vec<_>>(),
            "changed_index" => rows.clone().map(|i| (i % 4 == 0).then_some(i % 40 + 9)).collect::<Vec<_>>(),
            "end_index" => rows.clone().map(|i| (i % 5 == 0).then_some(i % 40 + 30)).collect::<Vec<_>>(),
            "cell_first" => rows.clone().map(|i| Some((i % 3) as u32)).collect::<Vec<_>>(),
            "cell_now" => rows.clone().map(|i| (i % 7 != 0).then_some((i % 3 + 1) as u32)).collect::<Vec<_>>(),
        )
        .unwrap();
        // Updates in an order no sort made: several per plan, some before the plan's creation,
        // some repeated.
        let updates: Vec<u64> = (0..600u64)
            .map(|i| review(((i * 37) % n as u64) as u32, ((i * 13) % 70) as i64))
            .collect();
        let walked = |parts: usize| {
            let ranges = PlanRanges::new(n, parts);
            let gathered = Updates::new(ranges);
            for morsel in updates.chunks(50) {
                gathered.add(morsel.to_vec());
            }
            let groups = review_changes(gathered.take(), ranges, &plans, 4).unwrap();
            groups
                .into_iter()
                .map(|g| (g.cell, g.month, g.values))
                .collect::<Vec<_>>()
        };
        let whole = walked(1);
        assert!(
            whole.len() > 20,
            "the fixture reviews plans in many cells and months"
        );
        for parts in [2, 3, 8, 200] {
            assert_eq!(walked(parts), whole, "{parts} ranges");
        }
    }

    #[test]
    fn group_keys_give_back_their_cell_month_and_code() {
        let frame = df!(
            "cell" => [Some(0u32), Some(41), None, Some(7)],
            "month" => [Some(0i64), Some(Month::new(2024, 3).unwrap().index()), Some(5), None],
            "code" => [0u32, u32::from(NOT_A_VIEW), 3, 1],
            "n" => [1u64, 2, 3, 4],
        )
        .unwrap();
        let keyed = frame
            .lazy()
            .select([group_key(col("cell"), col("month"), col("code")), col("n")])
            .collect()
            .unwrap();
        let groups = groups_of(&keyed, &["n"]).unwrap();
        let seen: Vec<_> = groups
            .iter()
            .map(|g| (g.cell, g.month, g.code, g.values[0]))
            .collect();
        assert_eq!(
            seen,
            [
                (Some(0), Some(0), 0, 1),
                (Some(41), Some(2024 * 12 + 2), NOT_A_VIEW, 2),
                (None, Some(5), 3, 3),
                (Some(7), None, 1, 4),
            ]
        );
    }
}
