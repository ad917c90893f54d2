//! Checks a record-level extract before anything is computed from it: every column present and
//! in order, every value of the form its column needs, no identifiers, nothing dated in the
//! future. Problems name the file, the row and the column (CSV rows count the header as row 1;
//! Parquet rows count data rows from 1), so the extract can be fixed at its source.
//!
//! One set of rules decides every cell (`Rules::plans_cell`, `Rules::events_cell`). CSV is
//! streamed through them row by row. Parquet tables can be far larger and are typed, so a
//! polars pass first picks out the rows that might break a rule, and only those rows go
//! through the same rules; the polars filters are deliberately looser than the rules.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;
use polars_core::utils::arrow::array::Array as _;

use super::extract::{collect_streaming, scan_files, scan_table};
use crate::diagnostic::Diagnostic;
use crate::extract::{
    AGE_BANDS, EVENT_KINDS, EVENTS_HEADER, ExtractFormat, PLAN_STATUSES, PLANS_COLUMNS,
    PLANS_HEADER, Reference, Table, TableFile, VIEWING_SERVICES,
};
use crate::model::Month;
use crate::progress::Phase;
use crate::validate::identifiers;
use crate::yaml::Span;

/// Past this many problems the check stops: an extract that bad needs fixing at its source.
pub const MAX_PROBLEMS: usize = 50;

fn rules(reference: &Reference, today: Month) -> Arc<Rules> {
    Arc::new(Rules {
        boroughs: CodeIndex::new(reference.borough_index()),
        templates: CodeIndex::new(reference.template_index()),
        today,
    })
}

/// The files of an extract's two tables (one each when flat).
pub struct ExtractFiles<'a> {
    pub plans: &'a [TableFile],
    pub events: &'a [TableFile],
    pub format: ExtractFormat,
}

/// Checks every row of both tables. `today` bounds dates: nothing in an extract can be in the
/// future.
pub fn check_rows(
    files: &ExtractFiles<'_>,
    reference: &Reference,
    today: Month,
    progress: Option<&Phase>,
) -> Vec<Diagnostic> {
    let rules = rules(reference, today);
    let mut problems = Vec::new();
    let plans_rule = |column: &str, cell: &str| rules.plans_cell(column, cell);
    let events_rule = |column: &str, cell: &str| rules.events_cell(column, cell);
    let plans_row = |cells: &[&str]| rules.plans_row(cells);
    match files.format {
        ExtractFormat::Csv => {
            // Progress in bytes read, over both files.
            let plans_bytes: u64 = files
                .plans
                .iter()
                .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
                .sum();
            let advance = |base: u64| {
                move |at: u64| {
                    if let Some(phase) = progress {
                        phase.set(base + at);
                    }
                }
            };
            for file in files.plans {
                check_csv(
                    &file.path,
                    PLANS_HEADER,
                    &mut problems,
                    plans_rule,
                    plans_row,
                    &advance(0),
                );
            }
            for file in files.events {
                check_csv(
                    &file.path,
                    EVENTS_HEADER,
                    &mut problems,
                    events_rule,
                    events_row(file.partition),
                    &advance(plans_bytes),
                );
            }
        }
        ExtractFormat::Parquet => {
            problems.extend(check_schema(files));
            if problems.is_empty() {
                for file in files.plans {
                    check_parquet(
                        file,
                        Table::Plans,
                        plans_suspects(&rules),
                        &mut problems,
                        plans_rule,
                        plans_row,
                    );
                }
                for file in files.events {
                    check_parquet(
                        file,
                        Table::Events,
                        events_suspects(&rules),
                        &mut problems,
                        events_rule,
                        events_row(file.partition),
                    );
                }
            }
        }
    }
    problems
}

/// What an event's row must say as a whole: in a partitioned extract, its timestamp falls in
/// its partition's month (else `--month` would miss it).
fn events_row(partition: Option<Month>) -> impl Fn(&[&str]) -> Option<(usize, String)> {
    move |cells: &[&str]| {
        let partition = partition?;
        let timestamp = cells.get(1).copied().unwrap_or("");
        let month = timestamp_month(timestamp)?;
        (month != partition).then(|| {
            (
                1,
                format!(
                    "the timestamp {timestamp} is not in its partition's month, month={partition}"
                ),
            )
        })
    }
}

/// What picks out rows `check_rows` might refuse: the plans' rules and the events' rules for
/// the aggregation's own passes over them (`extract::plan_facts`, `extract::count_events`). Counted
/// during the aggregation of a Parquet extract, whose rows are then only checked one by one
/// if any turn up.
pub fn suspects(reference: &Reference, today: Month) -> (PlanRules, Arc<EventRules>) {
    let rules = rules(reference, today);
    (PlanRules::new(&rules), Arc::new(EventRules(rules)))
}

/// Every Parquet file's columns: all there, in order, as text (a partition's file lacks its
/// partition column: the plans' `created` is the folder's name). A CSV file's header is
/// checked with its rows.
pub fn check_schema(files: &ExtractFiles<'_>) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    if files.format == ExtractFormat::Csv {
        return problems;
    }
    for (table, table_files) in [(Table::Plans, files.plans), (Table::Events, files.events)] {
        for file in table_files {
            let shown = file.path.display().to_string();
            let unreadable = |error: String| Diagnostic::error("extract/unreadable", &shown, error);
            let schema = scan_table(&file.path, files.format).and_then(|mut frame| {
                frame
                    .collect_schema()
                    .map_err(|e| anyhow::anyhow!("not readable Parquet: {e}"))
            });
            let schema = match schema {
                Ok(schema) => schema,
                Err(error) => {
                    problems.push(unreadable(format!("{error:#}")));
                    continue;
                }
            };
            let header = match file.partition {
                Some(_) => table.partition_file_columns().join(","),
                None => table.columns().join(","),
            };
            let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
            if let Some(problem) = header_problem(&shown, &header, &names) {
                problems.push(problem);
                continue;
            }
            for (index, (name, dtype)) in schema.iter().enumerate() {
                if *dtype != DataType::String {
                    problems.push(
                        Diagnostic::error(
                            "extract/column-type",
                            &shown,
                            format!("column `{name}` holds {dtype}; expected text"),
                        )
                        .at(Span::point(1, index + 1))
                        .help("every column of an extract is text, as in its CSV form"),
                    );
                }
            }
            if too_many(&mut problems, &shown) {
                return problems;
            }
        }
    }
    problems
}

/// Each plan must be listed once: a repeated plan would be counted twice. Counted on a
/// streaming pass first (numbering rows does not stream); rows are named only if needed.
pub fn duplicate_plans(files: &ExtractFiles<'_>) -> Vec<Diagnostic> {
    let Ok(plans) = scan_files(files.plans, Table::Plans, files.format, false) else {
        return Vec::new();
    };
    let counts = collect_streaming(
        plans.select([
            len().cast(DataType::UInt64).alias("plans"),
            col("plan_id")
                .n_unique()
                .cast(DataType::UInt64)
                .alias("ids"),
        ]),
    );
    if let Ok(counts) = &counts
        && first_u64(counts, "plans") == first_u64(counts, "ids")
    {
        return Vec::new();
    }
    let Ok(numbered) = scan_files(files.plans, Table::Plans, files.format, true) else {
        return Vec::new();
    };
    let repeated = numbered
        .select([col("plan_id"), col("__file"), col("__row")])
        .with_row_index("__order", None)
        .group_by([col("plan_id")])
        .agg([
            len().alias("count"),
            col("__order")
                .sort(SortOptions::default())
                .get(lit(1), true)
                .alias("__order"),
            col("__file")
                .sort_by([col("__order")], SortMultipleOptions::default())
                .get(lit(1), true)
                .alias("__file"),
            col("__row")
                .sort_by([col("__order")], SortMultipleOptions::default())
                .get(lit(1), true)
                .alias("__row"),
        ])
        .filter(col("count").gt(lit(1)))
        .sort(["__order"], SortMultipleOptions::default())
        .limit(10);
    numbered_rows(repeated)
        .into_iter()
        .map(|(file, row, id)| {
            let shown = shown_file(files.plans, file);
            Diagnostic::error(
                "extract/duplicate-plan",
                &shown,
                format!("plan `{id}` is listed more than once"),
            )
            .at(Span::point(row as usize, 1))
            .help("each plan must appear once; a repeated plan would be counted twice")
        })
        .collect()
}

fn shown_file(files: &[TableFile], index: u32) -> String {
    files
        .get(index as usize)
        .map(|f| f.path.display().to_string())
        .unwrap_or_default()
}

/// Events whose plan is not in the plans table (they would vanish from every figure). Only
/// run when the aggregation found some, to name their rows.
pub fn unknown_plans(files: &ExtractFiles<'_>) -> Vec<Diagnostic> {
    let (Ok(plans), Ok(events)) = (
        scan_files(files.plans, Table::Plans, files.format, false),
        scan_files(files.events, Table::Events, files.format, true),
    ) else {
        return Vec::new();
    };
    let unknown = events
        .select([col("plan_id"), col("__file"), col("__row")])
        .join(
            plans.select([col("plan_id")]),
            [col("plan_id")],
            [col("plan_id")],
            JoinArgs::new(JoinType::Anti).with_build_side(Some(JoinBuildSide::ForceRight)),
        )
        .sort(["__file", "__row"], SortMultipleOptions::default())
        .limit(10);
    let plans_shown = match files.plans {
        [one] => one.path.display().to_string(),
        _ => "the plans table".to_owned(),
    };
    numbered_rows(unknown)
        .into_iter()
        .map(|(file, row, _)| {
            // The id is not echoed: an unmatched id has not been through the identifier check.
            Diagnostic::error(
                "extract/unknown-plan",
                shown_file(files.events, file),
                format!("the event's plan is not in {plans_shown}"),
            )
            .at(Span::point(row as usize, 1))
            .help("an event of a plan the extract does not list cannot be counted anywhere")
        })
        .collect()
}

fn first_u64(frame: &DataFrame, name: &str) -> Option<u64> {
    let column = frame.column(name).ok()?.cast(&DataType::UInt64).ok()?;
    column.u64().ok()?.get(0)
}

/// (file, row, plan id) of a query with `__file`, `__row` and `plan_id` columns.
fn numbered_rows(query: LazyFrame) -> Vec<(u32, u64, String)> {
    let Ok(frame) = collect_streaming(query) else {
        return Vec::new();
    };
    let number = |name: &str| {
        frame
            .column(name)
            .and_then(|c| c.cast(&DataType::UInt64))
            .ok()
            .and_then(|c| c.u64().ok().cloned())
    };
    let ids = frame.column("plan_id").and_then(|c| c.str().cloned());
    let (Some(files), Some(rows), Ok(ids)) = (number("__file"), number("__row"), ids) else {
        return Vec::new();
    };
    files
        .iter()
        .zip(rows.iter())
        .zip(ids.iter())
        .filter_map(|((file, row), id)| Some((file? as u32, row?, id?.to_owned())))
        .collect()
}

/// A reference list's codes (boroughs, templates), each with its index: what the check asks
/// (is the code listed?) and what the aggregation asks (which cell?), one lookup for both. Where every code is
/// short enough to sit inline in a string view, codes are found by that view, a number
/// (hashbrown's map: the standard library's SipHash cost more than a search by halves of the
/// sorted codes, which cost more than a map of texts; a map of numbers hashes and compares
/// no text).
pub struct CodeIndex {
    by_text: hashbrown::HashMap<String, u32>,
    by_view: Option<hashbrown::HashMap<u128, u32>>,
}

impl CodeIndex {
    pub fn new(index: HashMap<&str, usize>) -> CodeIndex {
        let by_text: hashbrown::HashMap<String, u32> = index
            .into_iter()
            .map(|(code, i)| (code.to_owned(), i as u32))
            .collect();
        let by_view = by_text
            .iter()
            .map(|(code, &i)| Some((inline_view(code)?, i)))
            .collect();
        CodeIndex { by_text, by_view }
    }

    pub fn get(&self, text: &str) -> Option<u32> {
        match &self.by_view {
            // Every code fits a view: a text that does not is none of them.
            Some(by_view) => by_view.get(&inline_view(text)?).copied(),
            None => self.by_text.get(text).copied(),
        }
    }
}

/// What a cell must be, column by column.
struct Rules {
    boroughs: CodeIndex,
    templates: CodeIndex,
    today: Month,
}

fn is_flag(cell: &str) -> bool {
    matches!(cell, "true" | "false")
}

/// `2021-04-01T12:34:56Z` -> April 2021. Every cell of every event goes through this: the
/// shape is checked on the text read as two numbers (its first 16 bytes and its last 4),
/// every separator and every digit at once (`TimestampShape`), and the month read from its
/// digits. Checking the fourteen digits one by one was 7% of an import's events pass.
pub fn timestamp_month(cell: &str) -> Option<Month> {
    let bytes: &[u8; 20] = cell.as_bytes().try_into().ok()?;
    let (head, tail) = bytes.split_at(16);
    let head = u128::from_le_bytes(head.try_into().ok()?);
    let tail = u32::from_le_bytes(tail.try_into().ok()?);
    if !TIMESTAMP_HEAD.fits(head) || !TIMESTAMP_TAIL.fits(u128::from(tail)) {
        return None;
    }
    let digit = |i: usize| u32::from(bytes[i] - b'0');
    let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
    Month::new(year as i32, digit(5) * 10 + digit(6))
}

/// What a timestamp's bytes must be, as masks over up to 16 of them (little-endian): `0` in
/// the pattern is any digit, anything else is itself.
struct TimestampShape {
    /// The separators' bytes, and 0xFF where each is.
    separators: u128,
    separator_mask: u128,
    /// 0xFF at each digit; 0x30 (`0`), which XOR takes a digit's byte to 0..=9 with (and
    /// every other byte to something else); 0x76, which carries into a byte's top bit exactly
    /// when it is 10 or more; then the digits' top bits.
    digit_mask: u128,
    zeros: u128,
    carry: u128,
    tops: u128,
}

const fn timestamp_shape(pattern: &[u8]) -> TimestampShape {
    let (mut separators, mut separator_mask) = (0, 0);
    let (mut digit_mask, mut zeros, mut carry, mut tops) = (0, 0, 0, 0);
    let mut i = 0;
    while i < pattern.len() {
        let at = 8 * i as u32;
        if pattern[i] == b'0' {
            digit_mask |= 0xFFu128 << at;
            zeros |= 0x30u128 << at;
            carry |= 0x76u128 << at;
            tops |= 0x80u128 << at;
        } else {
            separators |= (pattern[i] as u128) << at;
            separator_mask |= 0xFFu128 << at;
        }
        i += 1;
    }
    TimestampShape {
        separators,
        separator_mask,
        digit_mask,
        zeros,
        carry,
        tops,
    }
}

const TIMESTAMP_HEAD: TimestampShape = timestamp_shape(b"0000-00-00T00:00");
const TIMESTAMP_TAIL: TimestampShape = timestamp_shape(b":00Z");

impl TimestampShape {
    fn fits(&self, bytes: u128) -> bool {
        // Each digit's byte less 0x30 is below 10 exactly when adding 0x76 leaves its top bit
        // clear and it had none: a byte of 0x80 or more fails on its own top bit, whatever
        // its carry does to the next byte.
        let digits = (bytes ^ self.zeros) & self.digit_mask;
        (bytes & self.separator_mask) == self.separators
            && ((digits.wrapping_add(self.carry) | digits) & self.tops) == 0
    }
}

/// A column of the plans table (`PLANS_HEADER`), as its rule knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanColumn {
    PlanId,
    BoroughCode,
    TemplateId,
    AgeBand,
    Created,
    LastUpdated,
    Status,
    CprDecisionMade,
    PreferenceExpressed,
    DiedMonth,
    DiedInPreferredPlace,
    EarlierTemplateId,
    TemplateChanged,
}

impl PlanColumn {
    fn of(name: &str) -> Option<PlanColumn> {
        use PlanColumn::*;
        Some(match name {
            "plan_id" => PlanId,
            "borough_code" => BoroughCode,
            "template_id" => TemplateId,
            "age_band" => AgeBand,
            "created" => Created,
            "last_updated" => LastUpdated,
            "status" => Status,
            "cpr_decision_made" => CprDecisionMade,
            "preference_expressed" => PreferenceExpressed,
            "died_month" => DiedMonth,
            "died_in_preferred_place" => DiedInPreferredPlace,
            "earlier_template_id" => EarlierTemplateId,
            "template_changed" => TemplateChanged,
            _ => return None,
        })
    }
}

impl Rules {
    fn month(&self, cell: &str) -> Result<(), String> {
        let month: Month = cell.parse()?;
        if month > self.today {
            Err(format!("{month} is in the future"))
        } else {
            Ok(())
        }
    }

    fn plans_cell(&self, column: &str, cell: &str) -> Result<(), String> {
        PlanColumn::of(column).map_or(Ok(()), |column| self.plans_cell_in(column, cell))
    }

    /// `plans_cell` with the column known: matching the column's name for every cell cost
    /// more than most rules.
    fn plans_cell_in(&self, column: PlanColumn, cell: &str) -> Result<(), String> {
        use PlanColumn::*;
        match column {
            PlanId if cell.is_empty() => Err("empty plan id".into()),
            BoroughCode if self.boroughs.get(cell).is_none() => {
                Err(format!("unknown borough `{cell}`"))
            }
            TemplateId if self.templates.get(cell).is_none() => {
                Err(format!("unknown template `{cell}`"))
            }
            EarlierTemplateId if !cell.is_empty() && self.templates.get(cell).is_none() => {
                Err(format!("unknown template `{cell}`"))
            }
            TemplateChanged if !cell.is_empty() => self.month(cell),
            AgeBand if !AGE_BANDS.contains(&cell) => Err(format!("unknown age band `{cell}`")),
            Created | LastUpdated => self.month(cell),
            DiedMonth if !cell.is_empty() => self.month(cell),
            Status if !PLAN_STATUSES.contains(&cell) => Err(format!(
                "unknown status `{cell}`; expected one of {}",
                PLAN_STATUSES.join(", ")
            )),
            CprDecisionMade | PreferenceExpressed | DiedInPreferredPlace if !is_flag(cell) => {
                Err(format!("`{cell}` is not true or false"))
            }
            _ => Ok(()),
        }
    }

    /// What a row's cells must say together (columns as in `PLANS_HEADER`; months as text
    /// compare in time order): a plan cannot end before it began (it would count as live for
    /// a negative stretch), a template change needs both its columns and falls within the
    /// plan's life, and only a recorded preference can be met.
    fn plans_row(&self, cells: &[&str]) -> Option<(usize, String)> {
        let cell = |i: usize| cells.get(i).copied().unwrap_or("");
        let (template, created, updated) = (cell(2), cell(4), cell(5));
        let (died, earlier, changed) = (cell(9), cell(11), cell(12));
        if !died.is_empty() && died < created {
            return Some((
                9,
                format!("died in {died}, before the plan was made in {created}"),
            ));
        }
        if updated < created {
            return Some((
                5,
                format!("last updated in {updated}, before the plan was made in {created}"),
            ));
        }
        match (earlier.is_empty(), changed.is_empty()) {
            (true, true) => {}
            (false, true) => {
                return Some((12, "earlier_template_id is given but template_changed is empty; a template change needs both".into()));
            }
            (true, false) => {
                return Some((11, "template_changed is given but earlier_template_id is empty; a template change needs both".into()));
            }
            (false, false) => {
                if earlier == template {
                    return Some((
                        11,
                        format!("the plan moved from `{earlier}` to the same template"),
                    ));
                }
                if changed <= created {
                    return Some((
                        12,
                        format!(
                            "the template changed in {changed}, not after the plan was made in {created}"
                        ),
                    ));
                }
                if !died.is_empty() && changed > died {
                    return Some((
                        12,
                        format!(
                            "the template changed in {changed}, after the person died in {died}"
                        ),
                    ));
                }
            }
        }
        if cell(10) == "true" && (cell(8) != "true" || died.is_empty()) {
            return Some((
                10,
                "died in the preferred place, but the plan has no preferred place recorded or no death".into(),
            ));
        }
        None
    }

    fn events_cell(&self, column: &str, cell: &str) -> Result<(), String> {
        match column {
            "plan_id" if cell.is_empty() => Err("empty plan id".into()),
            "timestamp" => match timestamp_month(cell) {
                None => Err(format!(
                    "`{cell}` is not a UTC timestamp YYYY-MM-DDTHH:MM:SSZ"
                )),
                Some(month) if month > self.today => Err(format!("{cell} is in the future")),
                Some(_) => Ok(()),
            },
            "service" if !VIEWING_SERVICES.iter().any(|s| s.id() == cell) => {
                Err(format!("unknown service `{cell}`"))
            }
            "kind" if !EVENT_KINDS.contains(&cell) => Err(format!("unknown kind `{cell}`")),
            _ => Ok(()),
        }
    }
}

/// Whether the reference lists have a plan row's `borough_code`, its `template_id` and its
/// `earlier_template_id` (an empty one is allowed: no change).
#[derive(Debug, Clone, Copy)]
pub struct KnownCodes {
    pub borough: bool,
    pub template: bool,
    pub earlier: bool,
}

/// The check of one plan's row, as the row-by-row pass makes it, for the aggregation's own
/// pass over a Parquet extract (`extract::plan_facts`), which reads each row's thirteen
/// cells once for the check and for the figures.
#[derive(Clone)]

pub struct PlanRules {
    rules: Arc<Rules>,
    /// Each of `PLANS_COLUMNS` as its rule knows it.
    columns: [Option<PlanColumn>; PLANS_COLUMNS.len()],
}

impl PlanRules {
    fn new(rules: &Arc<Rules>) -> PlanRules {
        PlanRules {
            rules: Arc::clone(rules),
            columns: PLANS_COLUMNS.map(PlanColumn::of),
        }
    }

    /// Whether the check refuses the row (cells in `PLANS_COLUMNS` order, a missing value as
    /// an empty cell): a cell its column's rule refuses, an identifier in the plan id, or
    /// cells that contradict each other (`Rules::plans_row`).
    pub fn refuses(&self, cells: &[&str; PLANS_COLUMNS.len()]) -> bool {
        let rules = &self.rules;
        let known = KnownCodes {
            borough: rules.boroughs.get(cells[1]).is_some(),
            template: rules.templates.get(cells[2]).is_some(),
            earlier: cells[11].is_empty() || rules.templates.get(cells[11]).is_some(),
        };
        self.refuses_given(cells, known)
    }

    /// `refuses`, with the row's borough and templates looked up by the caller (the
    /// aggregation finds them anyway, for the plan's cells: a second lookup of each in the
    /// rules' own sets was a third of the check's time).
    pub fn refuses_given(&self, cells: &[&str; PLANS_COLUMNS.len()], known: KnownCodes) -> bool {
        let rules = &self.rules;
        let cell_refused = self
            .columns
            .iter()
            .zip(cells)
            .any(|(column, cell)| match column {
                Some(PlanColumn::BoroughCode) => !known.borough,
                Some(PlanColumn::TemplateId) => !known.template,
                Some(PlanColumn::EarlierTemplateId) => !known.earlier,
                Some(column) => rules.plans_cell_in(*column, cell).is_err(),
                None => false,
            });
        cell_refused
            || !identifiers::find_in_text(cells[0]).is_empty()
            || rules.plans_row(cells).is_some()
    }
}

/// Reads a morsel of the plans table's thirteen text columns (`PLANS_COLUMNS` order) row by
/// row, through their chunks (rechunking would copy them): `visit` gets each row's cells, a
/// missing value as an empty cell, as in the row-by-row check.
pub fn each_plan_row(
    columns: &[Column],
    mut visit: impl FnMut(&[&str; PLANS_COLUMNS.len()]),
) -> PolarsResult<()> {
    let texts = columns
        .iter()
        .map(|column| column.str())
        .collect::<PolarsResult<Vec<_>>>()?;
    if texts.len() != PLANS_COLUMNS.len() {
        polars_bail!(ComputeError: "the plans have {} columns", PLANS_COLUMNS.len());
    }
    let rows = texts.first().map_or(0, |text| text.len());
    if texts.iter().any(|text| text.len() != rows) {
        polars_bail!(ComputeError: "the plans' columns differ in length");
    }
    let mut cells = [""; PLANS_COLUMNS.len()];
    // A morsel's columns are each one array, as a rule: their cells are read by row number,
    // where polars' iterator over chunks cost several times the reading (a third of the
    // plans' pass, at 13 cells a row).
    let arrays: Vec<_> = texts
        .iter()
        .filter_map(|text| match text.downcast_iter().collect::<Vec<_>>()[..] {
            [array] => Some(array),
            _ => None,
        })
        .collect();
    if arrays.len() == texts.len() {
        for row in 0..rows {
            for (cell, array) in cells.iter_mut().zip(&arrays) {
                *cell = array.get(row).unwrap_or("");
            }
            visit(&cells);
        }
        return Ok(());
    }
    let mut values: Vec<_> = texts.iter().map(|text| text.iter()).collect();
    for _ in 0..rows {
        for (cell, values) in cells.iter_mut().zip(&mut values) {
            *cell = values.next().flatten().unwrap_or("");
        }
        visit(&cells);
    }
    Ok(())
}

/// True where the check of the row-by-row pass refuses a plan's row (`PlanRules::refuses`),
/// run inside polars so that the rows to look at one by one are found in one pass.
fn plans_suspects(rules: &Arc<Rules>) -> Expr {
    let rules = PlanRules::new(rules);
    let others: Vec<Expr> = PLANS_COLUMNS[1..].iter().map(|name| col(*name)).collect();
    col(PLANS_COLUMNS[0])
        .map_many(
            move |columns: &mut [Column]| {
                let mut refused = Vec::new();
                each_plan_row(columns, |cells| refused.push(rules.refuses(cells)))?;
                Ok(BooleanChunked::from_slice("suspect".into(), &refused).into_column())
            },
            &others,
            |_, _| Ok(Field::new("suspect".into(), DataType::Boolean)),
        )
        .alias("suspect")
}

/// True where a cell is none of `allowed` (or missing): polars compares text columns with
/// literals natively, many times faster than a function called for each cell.
fn events_suspects(rules: &Arc<Rules>) -> Expr {
    let rules = EventRules(Arc::clone(rules));
    map_events("suspect", DataType::Boolean, move |events| {
        let refused = (0..events.rows).map(|row| events.read(row, Some(&rules)).refused);
        Ok(BooleanChunked::from_iter_values("suspect".into(), refused).into_column())
    })
}

/// A column `name` of type `dtype` made from each morsel of the events table's columns
/// (`EventColumns`) by `make`: one elementwise pass over the events, in Rust.
pub fn map_events(
    name: &'static str,
    dtype: DataType,
    make: impl Fn(&EventColumns) -> PolarsResult<Column> + Send + Sync + 'static,
) -> Expr {
    col("plan_id")
        .map_many(
            move |columns: &mut [Column]| {
                let [ids, timestamps, services, kinds, partitions] = columns else {
                    polars_bail!(ComputeError: "{name} takes the events' five columns");
                };
                make(&EventColumns::of([
                    ids, timestamps, services, kinds, partitions,
                ])?)
            },
            &[
                col("timestamp"),
                col("service"),
                col("kind"),
                col("__partition"),
            ],
            move |_, _| Ok(Field::new(name.into(), dtype.clone())),
        )
        .alias(name)
}

/// The events table's columns in one morsel (`plan_id`, `timestamp`, `service`, `kind`,
/// `__partition`), as polars' arrays, for reading row by row.
pub struct EventColumns {
    pub rows: usize,
    /// `plan_id`, `timestamp`, `service`, `kind`.
    columns: [TextArray; 4],
    partition: Partition,
    known: &'static KnownViews,
}

/// The partition of a morsel's events.
enum Partition {
    /// None: a flat extract's.
    Flat,
    /// One month for every row (`YYYY-MM`): the morsel comes from one partition's file, and
    /// `scan_files` gives the month as one value, which is kept as one.
    Month(String),
    /// A month, or none, for each row.
    Rows(TextArray),
}

/// Polars' array of string views, as a rechunked text column holds it.
type TextArray = <StringType as PolarsDataType>::Array;

const PLAN_ID: usize = 0;
const TIMESTAMP: usize = 1;
const SERVICE: usize = 2;
const KIND: usize = 3;

/// What an event is, as the aggregation counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A view by the `i`th of `VIEWING_SERVICES`, or by a service not among them (`None`).
    View(Option<usize>),
    Update,
    /// Neither: only in an extract the check refuses.
    Other,
}

/// One event, read: its plan's id, the month of its timestamp (`None` where the timestamp is
/// not a UTC instant), what it is, and whether the check refuses the row.
pub struct Event<'a> {
    pub plan_id: Option<&'a str>,
    pub month: Option<Month>,
    pub kind: EventKind,
    pub refused: bool,
}

/// A short text as polars holds it inline in a string view: the length, then the bytes,
/// zeros after them. Two views of texts of at most 12 bytes are equal exactly when the texts
/// are (polars' own comparisons rely on it), so a service, a kind or a plan id is told by
/// comparing one number instead of text. `None` for a text too long to sit inline.
pub fn inline_view(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() > 12 {
        return None;
    }
    let mut view = [0u8; 16];
    view[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    view[4..4 + bytes.len()].copy_from_slice(bytes);
    Some(u128::from_le_bytes(view))
}

/// The views of the viewing services' ids and of the two event kinds.
struct KnownViews {
    services: [u128; VIEWING_SERVICES.len()],
    view: u128,
    update: u128,
}

static KNOWN: std::sync::LazyLock<KnownViews> = std::sync::LazyLock::new(|| {
    let view = |text: &str| inline_view(text).expect("services and kinds are at most 12 bytes");
    KnownViews {
        services: VIEWING_SERVICES.map(|service| view(service.id())),
        view: view(EVENT_KINDS[0]),
        update: view(EVENT_KINDS[1]),
    }
});

impl EventColumns {
    /// The five columns, which must be text of one length.
    pub fn of(columns: [&Column; 5]) -> PolarsResult<EventColumns> {
        let text = |column: &Column| -> PolarsResult<TextArray> {
            Ok(column.str()?.rechunk().downcast_as_array().clone())
        };
        let [ids, timestamps, services, kinds, months] = columns;
        let columns = [text(ids)?, text(timestamps)?, text(services)?, text(kinds)?];
        let rows = columns[PLAN_ID].len();
        // The partition's one value is read as one: made into a column (as `str()` would), a
        // flat extract's null was 16 bytes for every event, written and read again.
        let partition = match months.as_scalar_column().map(|one| one.scalar()) {
            Some(one) if one.is_null() => Partition::Flat,
            Some(one) => match one.value() {
                AnyValue::String(month) => Partition::Month((*month).to_owned()),
                AnyValue::StringOwned(month) => Partition::Month(month.to_string()),
                _ => polars_bail!(ComputeError: "an events partition is not text"),
            },
            None => Partition::Rows(text(months)?),
        };
        if columns.iter().any(|c| c.len() != rows) || months.len() != rows {
            polars_bail!(ComputeError: "the events' columns differ in length");
        }
        Ok(EventColumns {
            rows,
            columns,
            partition,
            known: &KNOWN,
        })
    }

    /// The view of a row's text, if it has one: a short text is all in it.
    fn view(&self, column: usize, row: usize) -> Option<u128> {
        let array = &self.columns[column];
        let view = array.views().get(row)?;
        array.is_valid(row).then(|| view.as_u128())
    }

    /// The event in `row`, and whether `rules` refuse it (never, without rules: where the
    /// rows were checked before). The check is the events check of the row-by-row pass
    /// (`Rules::events_cell` and the partition's month) made on polars' arrays.
    pub fn read(&self, row: usize, rules: Option<&EventRules>) -> Event<'_> {
        let known = self.known;
        let timestamp = self.columns[TIMESTAMP].get(row);
        let month = timestamp.and_then(timestamp_month);
        let service = self.view(SERVICE, row);
        let service = service.and_then(|view| known.services.iter().position(|s| *s == view));
        let kind = match self.view(KIND, row) {
            Some(view) if view == known.view => EventKind::View(service),
            Some(view) if view == known.update => EventKind::Update,
            _ => EventKind::Other,
        };
        let plan_id = self.columns[PLAN_ID].get(row);
        let refused = rules.is_some_and(|rules| {
            // Event plan ids are not scanned for identifiers: each must match a plan, whose
            // id is, or the event is refused as belonging to no plan. A missing value is an
            // empty cell, as in the row-by-row check.
            month.is_none_or(|month| month > rules.0.today)
                || service.is_none()
                || kind == EventKind::Other
                || plan_id.is_none_or(str::is_empty)
                // In a partitioned extract, an event outside its partition's month.
                // (A partition's month is `YYYY-MM`: the timestamp must start with it.)
                || match (&self.partition, timestamp) {
                    (Partition::Flat, _) | (_, None) => false,
                    (Partition::Month(month), Some(timestamp)) => !timestamp.starts_with(month),
                    (Partition::Rows(months), Some(timestamp)) => months
                        .get(row)
                        .is_some_and(|month| !timestamp.starts_with(month)),
                }
        });
        Event {
            plan_id,
            month,
            kind,
            refused,
        }
    }
}

/// The check of one event's row, as the row-by-row pass makes it, for the aggregation's own
/// pass over a Parquet extract (`EventColumns::read`).
pub struct EventRules(Arc<Rules>);

/// The identifier finder, then the column's own rule: the one check of a cell, whatever the
/// file format.
fn check_cell(
    shown: &str,
    column: &str,
    cell: &str,
    at: Span,
    rule: &impl Fn(&str, &str) -> Result<(), String>,
) -> Option<Diagnostic> {
    if let Some(found) = identifiers::find_in_text(cell).first() {
        return Some(
            Diagnostic::error(
                "extract/identifier",
                shown,
                format!("`{column}` holds {}", found.kind.describe()),
            )
            .at(at)
            .help("extracts must be pseudonymised before they reach careplans"),
        );
    }
    rule(column, cell).err().map(|message| {
        Diagnostic::error("extract/value", shown, format!("`{column}`: {message}")).at(at)
    })
}

/// Each cell of a well-formed row, then the row as a whole (only if its cells are sound).
/// Where a row is: its file as shown, its row, and `position`, a column's 1-based position in
/// the file.
#[derive(Clone, Copy)]
struct RowAt<'a> {
    shown: &'a str,
    row: usize,
    position: &'a dyn Fn(usize) -> Option<usize>,
}

/// `position` gives a column's 1-based position in the file (a partition's file lacks the
/// partition column, whose value the folder's name gives and the listing has checked).
fn check_row(
    at: RowAt<'_>,
    columns: &[&str],
    cells: &[&str],
    problems: &mut Vec<Diagnostic>,
    rule: &impl Fn(&str, &str) -> Result<(), String>,
    row_rule: &impl Fn(&[&str]) -> Option<(usize, String)>,
) {
    let RowAt {
        shown,
        row,
        position,
    } = at;
    let before = problems.len();
    for (index, (column, cell)) in columns.iter().zip(cells).enumerate() {
        let Some(at) = position(index) else {
            continue;
        };
        problems.extend(check_cell(shown, column, cell, Span::point(row, at), rule));
    }
    if problems.len() == before
        && let Some((index, message)) = row_rule(cells)
    {
        problems.push(
            Diagnostic::error("extract/inconsistent", shown, message)
                .at(Span::point(row, position(index).unwrap_or(1))),
        );
    }
}

/// A header that lacks a column or has them out of order.
fn header_problem(shown: &str, header: &str, found: &[&str]) -> Option<Diagnostic> {
    let expected: Vec<&str> = header.split(',').collect();
    let problem = if let Some(missing) = expected.iter().find(|c| !found.contains(c)) {
        Diagnostic::error(
            "extract/missing-column",
            shown,
            format!("column `{missing}` is missing"),
        )
    } else if found != expected {
        Diagnostic::error(
            "extract/header",
            shown,
            "columns are not in the expected order",
        )
    } else {
        return None;
    };
    Some(
        problem
            .at(Span::point(1, 1))
            .help(format!("the columns must be: {header}")),
    )
}

fn too_many(problems: &mut Vec<Diagnostic>, shown: &str) -> bool {
    if problems.len() < MAX_PROBLEMS {
        return false;
    }
    problems.push(Diagnostic::error(
        "extract/too-many-problems",
        shown,
        format!("stopped after {MAX_PROBLEMS} problems"),
    ));
    true
}

/// A CSV reader (or the problem opening it) that leaves the header to the caller and lets rows of the wrong length
/// through, so that each can be reported with its row.
pub fn open_csv(path: &Path) -> Result<csv::Reader<std::fs::File>, Vec<Diagnostic>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|error| {
            let shown = path.display().to_string();
            vec![Diagnostic::error(
                "extract/unreadable",
                shown,
                format!("cannot read: {error}"),
            )]
        })
}

/// CSV: streams the file, header first, then each cell through `check_cell`.
fn check_csv(
    path: &Path,
    header: &str,
    problems: &mut Vec<Diagnostic>,
    rule: impl Fn(&str, &str) -> Result<(), String>,
    row_rule: impl Fn(&[&str]) -> Option<(usize, String)>,
    progress: &dyn Fn(u64),
) {
    if problems.len() >= MAX_PROBLEMS {
        return;
    }
    let shown = path.display().to_string();
    let mut reader = match open_csv(path) {
        Ok(reader) => reader,
        Err(problem) => return problems.extend(problem),
    };
    let columns: Vec<&str> = header.split(',').collect();
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
        if row.is_multiple_of(65_536) {
            progress(record.position().map_or(0, |p| p.byte()));
        }
        if row == 1 {
            let found: Vec<&str> = record.iter().collect();
            if let Some(problem) = header_problem(&shown, header, &found) {
                problems.push(problem);
                return;
            }
            continue;
        }
        if record.len() != columns.len() {
            problems.push(
                Diagnostic::error(
                    "extract/field-count",
                    &shown,
                    format!(
                        "row has {} fields; expected {}",
                        record.len(),
                        columns.len()
                    ),
                )
                .at(Span::point(row, 1)),
            );
        } else {
            let cells: Vec<&str> = record.iter().collect();
            let position = |index: usize| Some(index + 1);
            let at = RowAt {
                shown: &shown,
                row,
                position: &position,
            };
            check_row(at, &columns, &cells, problems, &rule, &row_rule);
        }
        if too_many(problems, &shown) {
            return;
        }
    }
}

/// Parquet, one file: a polars pass that picks out suspect rows, then the exact check of
/// those rows (the schema has been checked).
fn check_parquet(
    file: &TableFile,
    table: Table,
    suspects: Expr,
    problems: &mut Vec<Diagnostic>,
    rule: impl Fn(&str, &str) -> Result<(), String>,
    row_rule: impl Fn(&[&str]) -> Option<(usize, String)>,
) {
    if problems.len() >= MAX_PROBLEMS {
        return;
    }
    let shown = file.path.display().to_string();
    let unreadable = |error: String| Diagnostic::error("extract/unreadable", &shown, error);
    let frame = match scan_files(
        std::slice::from_ref(file),
        table,
        ExtractFormat::Parquet,
        true,
    ) {
        Ok(frame) => frame,
        Err(error) => return problems.push(unreadable(format!("{error:#}"))),
    };
    let rows = frame.filter(suspects).limit((MAX_PROBLEMS * 4) as u32);
    let rows = collect_streaming(rows);
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => return problems.push(unreadable(format!("cannot read: {error}"))),
    };
    let text = |name: &str| rows.column(name).ok().and_then(|c| c.str().ok().cloned());
    let Some(numbers) = rows
        .column("__row")
        .ok()
        .and_then(|c| c.cast(&DataType::UInt64).ok())
    else {
        return;
    };
    let names = table.columns();
    let columns: Vec<(&str, Option<StringChunked>)> =
        names.iter().map(|name| (*name, text(name))).collect();
    // Where each column sits in this file: a partition's file lacks its partition column.
    let in_file: Vec<&str> = match file.partition {
        Some(_) => table.partition_file_columns(),
        None => names.to_vec(),
    };
    let position = |index: usize| {
        let name = names.get(index)?;
        in_file.iter().position(|c| c == name).map(|p| p + 1)
    };
    for index in 0..rows.height() {
        let row = numbers.u64().ok().and_then(|c| c.get(index)).unwrap_or(0) as usize;
        let cells: Vec<&str> = columns
            .iter()
            .map(|(_, values)| values.as_ref().and_then(|v| v.get(index)).unwrap_or(""))
            .collect();
        let at = RowAt {
            shown: &shown,
            row,
            position: &position,
        };
        check_row(at, names, &cells, problems, &rule, &row_rule);
        if too_many(problems, &shown) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_texts_are_told_by_their_views_as_polars_holds_them() {
        let texts = [
            "las",
            "ooh-gp",
            "view",
            "update",
            "",
            "twelve-bytes",
            "thirteen-byte",
        ];
        let column = Column::new("service".into(), texts);
        let array = column.str().unwrap().rechunk().downcast_as_array().clone();
        for (row, text) in texts.iter().enumerate() {
            let view = array.views()[row].as_u128();
            if text.len() <= 12 {
                assert_eq!(Some(view), inline_view(text), "{text}");
            } else {
                assert!(!array.views()[row].is_inline());
            }
        }
        let columns = [&column, &column, &column, &column, &column];
        let events = EventColumns::of(columns).unwrap();
        assert_eq!(events.read(2, None).kind, EventKind::View(None));
        assert_eq!(events.read(3, None).kind, EventKind::Update);
        assert_eq!(events.read(0, None).kind, EventKind::Other);
    }

    #[test]
    fn timestamps_must_be_whole_utc_instants() {
        assert_eq!(
            timestamp_month("2021-04-01T12:34:56Z"),
            Some("2021-04".parse().unwrap())
        );
        for bad in [
            "2021-04-01 12:34:56",
            "2021-04-01T12:34:56+01:00",
            "2021-13-01T12:34:56Z",
            "2021-4-01T12:34:56ZZ",
            "",
        ] {
            assert_eq!(timestamp_month(bad), None, "{bad}");
        }
    }

    #[test]
    fn plan_rows_are_the_same_read_from_one_array_or_from_many() {
        let cell = |row: usize, column: usize| match (row + column) % 4 {
            0 => None,
            _ => Some(format!("r{row}c{column}")),
        };
        let column = |column: usize, rows: std::ops::Range<usize>| {
            let values: Vec<Option<String>> = rows.map(|row| cell(row, column)).collect();
            StringChunked::from_iter_options("c".into(), values.into_iter())
        };
        let whole: Vec<Column> = (0..PLANS_COLUMNS.len())
            .map(|c| column(c, 0..10).into_column())
            .collect();
        let pieces: Vec<Column> = (0..PLANS_COLUMNS.len())
            .map(|c| {
                let mut chunks = column(c, 0..3);
                chunks.append(&column(c, 3..10)).unwrap();
                assert_eq!(chunks.chunks().len(), 2);
                chunks.into_column()
            })
            .collect();
        let rows = |columns: &[Column]| {
            let mut rows = Vec::new();
            each_plan_row(columns, |cells| rows.push(cells.map(str::to_owned))).unwrap();
            rows
        };
        let expected: Vec<[String; PLANS_COLUMNS.len()]> = (0..10)
            .map(|row| std::array::from_fn(|c| cell(row, c).unwrap_or_default()))
            .collect();
        assert_eq!(rows(&whole), expected);
        assert_eq!(rows(&pieces), expected);
    }

    #[test]
    fn codes_are_found_exactly_by_view_or_by_text() {
        let index = |codes: &[&str]| {
            CodeIndex::new(codes.iter().enumerate().map(|(i, c)| (*c, i)).collect())
        };
        // Short codes: found by their view; a longer text, a prefix, a case change are none.
        let boroughs = index(&["E09000001", "E09000002", ""]);
        assert!(boroughs.by_view.is_some());
        assert_eq!(boroughs.get("E09000002"), Some(1));
        assert_eq!(boroughs.get(""), Some(2));
        for other in [
            "E0900000",
            "E090000021",
            "e09000001",
            "E09000001 ",
            "E09000001E09000001",
        ] {
            assert_eq!(boroughs.get(other), None, "{other}");
        }
        // A code too long for a view: every code is found by its text.
        let templates = index(&["coordinate-my-care-legacy", "ucp"]);
        assert!(templates.by_view.is_none());
        assert_eq!(templates.get("coordinate-my-care-legacy"), Some(0));
        assert_eq!(templates.get("ucp"), Some(1));
        assert_eq!(templates.get("coordinate-my-care-legacY"), None);
    }

    /// The check one byte at a time, as it was before the masks.
    fn timestamp_month_bytewise(cell: &str) -> Option<Month> {
        let bytes: &[u8; 20] = cell.as_bytes().try_into().ok()?;
        let pattern = b"0000-00-00T00:00:00Z";
        let fits = bytes.iter().zip(pattern).all(|(byte, want)| match want {
            b'0' => byte.is_ascii_digit(),
            _ => byte == want,
        });
        if !fits {
            return None;
        }
        let digit = |i: usize| u32::from(bytes[i] - b'0');
        let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
        Month::new(year as i32, digit(5) * 10 + digit(6))
    }

    #[test]
    fn the_masks_check_every_byte_of_a_timestamp_as_the_bytes_do() {
        // Every byte of a timestamp replaced by every other value (as text where it still is
        // UTF-8), one and two at a time.
        let good = *b"2021-04-01T12:34:56Z";
        let mut checked = 0;
        for at in 0..20 {
            for value in 0..=255u8 {
                for (second, other) in [(at, value), ((at + 7) % 20, 0x39), ((at + 3) % 20, 0x2F)] {
                    let mut bytes = good;
                    bytes[at] = value;
                    bytes[second] = other;
                    if let Ok(text) = std::str::from_utf8(&bytes) {
                        assert_eq!(
                            timestamp_month(text),
                            timestamp_month_bytewise(text),
                            "{text:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 20 * 128 * 3, "every ASCII value at every byte");
        // Bytes of 0x80 and more: letters of two, three and four bytes at every place.
        for letter in ["é", "€", "𝟘"] {
            for at in 0..=20 - letter.len() {
                let mut bytes = good;
                bytes[at..at + letter.len()].copy_from_slice(letter.as_bytes());
                let text = std::str::from_utf8(&bytes).unwrap();
                assert_eq!(timestamp_month(text), None, "{text}");
                assert_eq!(timestamp_month_bytewise(text), None, "{text}");
            }
        }
        for month in ["2021-00", "2021-12", "2021-13", "0000-01", "9999-09"] {
            let text = format!("{month}-01T00:00:00Z");
            assert_eq!(
                timestamp_month(&text),
                timestamp_month_bytewise(&text),
                "{text}"
            );
        }
    }
}
