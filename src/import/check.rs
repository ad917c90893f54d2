//! Checks a record-level extract before anything is computed from it: every column present and
//! in order, every value of the form its column needs, no identifiers, nothing dated in the
//! future. Problems name the file, the row and the column (CSV rows count the header as row 1;
//! Parquet rows count data rows from 1), so the extract can be fixed at its source.
//!
//! One set of rules decides every cell (`Rules::plans_cell`, `Rules::events_cell`). CSV is
//! streamed through them row by row. Parquet tables can be far larger and are typed, so a
//! polars pass first picks out the rows that might break a rule, and only those rows go
//! through the same rules; the polars filters are deliberately looser than the rules.

use std::collections::HashSet;
use std::path::Path;

use polars::prelude::*;

use super::extract::{collect_streaming, scan_table, table_path};
use crate::diagnostic::Diagnostic;
use crate::model::{Month, Service};
use crate::synth::extract::{EVENTS_HEADER, ExtractFormat, PLANS_HEADER};
use crate::synth::model::{AGE_BANDS, ModelInputs};
use crate::validate::identifiers;
use crate::yaml::Span;

/// Past this many problems the check stops: an extract that bad needs fixing at its source.
const MAX_PROBLEMS: usize = 50;

const MONTH_PATTERN: &str = r"^\d{4}-(0[1-9]|1[0-2])$";
const TIMESTAMP_PATTERN: &str = r"^\d{4}-(0[1-9]|1[0-2])-\d{2}T\d{2}:\d{2}:\d{2}Z$";
const STATUSES: [&str; 3] = ["active", "deceased", "archived"];
const KINDS: [&str; 2] = ["view", "update"];

/// Checks both tables of an extract. `today` bounds dates: nothing in an extract can be in the
/// future.
pub fn check_extract(
    dir: &Path,
    format: ExtractFormat,
    inputs: &ModelInputs,
    today: Month,
) -> Vec<Diagnostic> {
    let rules = Rules {
        boroughs: inputs.boroughs.iter().map(|b| b.code.as_str()).collect(),
        templates: inputs.templates.iter().map(|t| t.id.as_str()).collect(),
        today,
    };
    let mut problems = Vec::new();
    let plans = table_path(dir, "plans", format);
    let events = table_path(dir, "events", format);
    let plans_rule = |column: &str, cell: &str| rules.plans_cell(column, cell);
    let events_rule = |column: &str, cell: &str| rules.events_cell(column, cell);
    match format {
        ExtractFormat::Csv => {
            check_csv(&plans, PLANS_HEADER, &mut problems, plans_rule);
            check_csv(&events, EVENTS_HEADER, &mut problems, events_rule);
        }
        ExtractFormat::Parquet => {
            let suspects = rules.plans_suspects();
            check_parquet(&plans, PLANS_HEADER, suspects, &mut problems, plans_rule);
            let suspects = rules.events_suspects();
            check_parquet(&events, EVENTS_HEADER, suspects, &mut problems, events_rule);
        }
    }
    problems
}

/// Checks what ties the two tables together, once every cell is known to be well formed: each
/// plan is listed once, and every event belongs to a listed plan (an event that does not would
/// silently vanish from the figures).
pub fn check_links(dir: &Path, format: ExtractFormat) -> Vec<Diagnostic> {
    let plans_path = table_path(dir, "plans", format);
    let events_path = table_path(dir, "events", format);
    let mut problems = Vec::new();
    // Rows are numbered as the cell checks number them.
    let first_row = match format {
        ExtractFormat::Csv => 2,
        ExtractFormat::Parquet => 1,
    };
    let scan = |path: &Path| scan_table(path, format).map(|frame| frame.select([col("plan_id")]));
    let (Ok(plans), Ok(events)) = (scan(&plans_path), scan(&events_path)) else {
        return problems;
    };
    // A first pass that streams (numbering rows would not): are there any problems at all?
    let anti_join = |events: LazyFrame, plans: LazyFrame| {
        events.join(
            plans,
            [col("plan_id")],
            [col("plan_id")],
            // The plans are the smaller side: hash them, stream the events past.
            JoinArgs::new(JoinType::Anti).with_build_side(Some(JoinBuildSide::ForceRight)),
        )
    };
    let counts = collect_streaming(
        plans
            .clone()
            .select([len().alias("plans"), col("plan_id").n_unique().alias("ids")])
            .join(
                anti_join(events.clone(), plans.clone()).select([len().alias("unknown")]),
                [],
                [],
                JoinArgs::new(JoinType::Cross),
            ),
    );
    let count = |frame: &DataFrame, name: &str| {
        frame
            .column(name)
            .ok()
            .and_then(|c| c.cast(&DataType::UInt64).ok())
            .and_then(|c| c.u64().ok().and_then(|c| c.get(0)))
            .unwrap_or(0)
    };
    let (repeated, unknown_events) = match &counts {
        Ok(frame) => (
            count(frame, "plans") != count(frame, "ids"),
            count(frame, "unknown") > 0,
        ),
        Err(_) => (true, true),
    };
    if !repeated && !unknown_events {
        return problems;
    }
    let plans = plans.with_row_index("__row", Some(first_row));
    let events = events.with_row_index("__row", Some(first_row));
    let duplicates = plans
        .clone()
        .group_by([col("plan_id")])
        .agg([
            len().alias("count"),
            col("__row")
                .sort(SortOptions::default())
                .get(lit(1), true)
                .alias("__row"),
        ])
        .filter(col("count").gt(lit(1)))
        .sort(["__row"], SortMultipleOptions::default())
        .limit(10);
    let unknown = anti_join(events, plans.clone().select([col("plan_id")]))
        .sort(["__row"], SortMultipleOptions::default())
        .limit(10);
    let found = |query: LazyFrame| -> Vec<(u64, String)> {
        let Ok(frame) = collect_streaming(query) else {
            return Vec::new();
        };
        let rows = frame
            .column("__row")
            .and_then(|c| c.cast(&DataType::UInt64));
        let ids = frame.column("plan_id").and_then(|c| c.str().cloned());
        let (Ok(rows), Ok(ids)) = (rows, ids) else {
            return Vec::new();
        };
        let Ok(rows) = rows.u64().cloned() else {
            return Vec::new();
        };
        rows.iter()
            .zip(ids.iter())
            .filter_map(|(row, id)| Some((row?, id?.to_owned())))
            .collect()
    };
    let plans_shown = plans_path.display().to_string();
    for (row, id) in if repeated {
        found(duplicates)
    } else {
        Vec::new()
    } {
        problems.push(
            Diagnostic::error(
                "extract/duplicate-plan",
                &plans_shown,
                format!("plan `{id}` is listed more than once"),
            )
            .at(Span::point(row as usize, 1))
            .help("each plan must appear once; a repeated plan would be counted twice"),
        );
    }
    let events_shown = events_path.display().to_string();
    for (row, id) in if unknown_events {
        found(unknown)
    } else {
        Vec::new()
    } {
        problems.push(
            Diagnostic::error(
                "extract/unknown-plan",
                &events_shown,
                format!("plan `{id}` is not in {}", plans_path.display()),
            )
            .at(Span::point(row as usize, 1))
            .help("an event of a plan the extract does not list cannot be counted anywhere"),
        );
    }
    problems
}

/// What a cell must be, column by column.
struct Rules<'a> {
    boroughs: HashSet<&'a str>,
    templates: HashSet<&'a str>,
    today: Month,
}

fn is_flag(cell: &str) -> bool {
    matches!(cell, "true" | "false")
}

/// `2021-04-01T12:34:56Z` -> April 2021.
pub fn timestamp_month(cell: &str) -> Option<Month> {
    let bytes = cell.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let shaped = bytes.len() == 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[19] == b'Z';
    shaped.then(|| cell[..7].parse().ok()).flatten()
}

impl Rules<'_> {
    fn month(&self, cell: &str) -> Result<(), String> {
        let month: Month = cell.parse()?;
        if month > self.today {
            Err(format!("{month} is in the future"))
        } else {
            Ok(())
        }
    }

    fn plans_cell(&self, column: &str, cell: &str) -> Result<(), String> {
        match column {
            "plan_id" if cell.is_empty() => Err("empty plan id".into()),
            "borough_code" if !self.boroughs.contains(cell) => {
                Err(format!("unknown borough `{cell}`"))
            }
            "template_id" if !self.templates.contains(cell) => {
                Err(format!("unknown template `{cell}`"))
            }
            "age_band" if !AGE_BANDS.contains(&cell) => Err(format!("unknown age band `{cell}`")),
            "created" | "last_updated" => self.month(cell),
            "died_month" if !cell.is_empty() => self.month(cell),
            "status" if !STATUSES.contains(&cell) => Err(format!(
                "unknown status `{cell}`; expected one of {}",
                STATUSES.join(", ")
            )),
            "cpr_decision_recorded"
            | "preferred_place_of_death_recorded"
            | "died_in_preferred_place"
                if !is_flag(cell) =>
            {
                Err(format!("`{cell}` is not true or false"))
            }
            _ => Ok(()),
        }
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
            "service" if !Service::ALL.iter().any(|s| s.id() == cell) => {
                Err(format!("unknown service `{cell}`"))
            }
            "kind" if !KINDS.contains(&cell) => Err(format!("unknown kind `{cell}`")),
            _ => Ok(()),
        }
    }

    /// A polars filter keeping every row `plans_cell` might refuse.
    fn plans_suspects(&self) -> Expr {
        let month = |column: &str| {
            col(column)
                .str()
                .contains(lit(MONTH_PATTERN), false)
                .not()
                .or(col(column).gt(lit(self.today.to_string())))
        };
        let flag = |column: &str| not_one_of(column, &["true", "false"]);
        let boroughs: Vec<&str> = self.boroughs.iter().copied().collect();
        let templates: Vec<&str> = self.templates.iter().copied().collect();
        any_of([
            suspect_id(),
            not_one_of("borough_code", &boroughs),
            not_one_of("template_id", &templates),
            not_one_of("age_band", &AGE_BANDS),
            not_one_of("status", &STATUSES),
            month("created"),
            month("last_updated"),
            col("died_month").neq(lit("")).and(month("died_month")),
            flag("cpr_decision_recorded"),
            flag("preferred_place_of_death_recorded"),
            flag("died_in_preferred_place"),
        ])
    }

    /// A polars filter keeping every row `events_cell` might refuse.
    fn events_suspects(&self) -> Expr {
        let services: Vec<&str> = Service::ALL.iter().map(|s| s.id()).collect();
        any_of([
            suspect_id(),
            col("timestamp")
                .str()
                .contains(lit(TIMESTAMP_PATTERN), false)
                .not(),
            col("timestamp")
                .str()
                .slice(lit(0), lit(7))
                .gt(lit(self.today.to_string())),
            not_one_of("service", &services),
            not_one_of("kind", &KINDS),
        ])
    }
}

fn not_one_of(column: &str, values: &[&str]) -> Expr {
    let values = Series::new("".into(), values);
    col(column).is_in(lit(values).implode(false), false).not()
}

/// True where any condition holds; a missing value (null) counts as suspect.
fn any_of(conditions: impl IntoIterator<Item = Expr>) -> Expr {
    conditions
        .into_iter()
        .map(|c| c.fill_null(lit(true)))
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false))
}

/// A plan id that is empty, or could hold an e-mail address or a long number (an NHS or phone
/// number): the identifier finder then decides.
fn suspect_id() -> Expr {
    col("plan_id")
        .str()
        .contains(lit(r"^$|@|(?:\D*\d){9}"), false)
}

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

/// CSV: streams the file, header first, then each cell through `check_cell`.
fn check_csv(
    path: &Path,
    header: &str,
    problems: &mut Vec<Diagnostic>,
    rule: impl Fn(&str, &str) -> Result<(), String>,
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
            for (index, (column, cell)) in columns.iter().zip(record.iter()).enumerate() {
                let at = Span::point(row, index + 1);
                problems.extend(check_cell(&shown, column, cell, at, &rule));
            }
        }
        if too_many(problems, &shown) {
            return;
        }
    }
}

/// Parquet: the schema (every column present, in order, as text), then a polars pass that
/// picks out suspect rows, then the exact check of those rows.
fn check_parquet(
    path: &Path,
    header: &str,
    suspects: Expr,
    problems: &mut Vec<Diagnostic>,
    rule: impl Fn(&str, &str) -> Result<(), String>,
) {
    if problems.len() >= MAX_PROBLEMS {
        return;
    }
    let shown = path.display().to_string();
    let unreadable = |error: String| Diagnostic::error("extract/unreadable", &shown, error);
    let mut frame = match scan_table(path, ExtractFormat::Parquet) {
        Ok(frame) => frame,
        Err(error) => return problems.push(unreadable(format!("{error:#}"))),
    };
    let schema = match frame.collect_schema() {
        Ok(schema) => schema,
        Err(error) => return problems.push(unreadable(format!("not readable Parquet: {error}"))),
    };
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    if let Some(problem) = header_problem(&shown, header, &names) {
        return problems.push(problem);
    }
    let mut wrong_type = false;
    for (index, (name, dtype)) in schema.iter().enumerate() {
        if *dtype != DataType::String {
            wrong_type = true;
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
    if wrong_type {
        return;
    }
    // Counting suspects streams; numbering rows does not, so rows are numbered only when
    // there is something to point at.
    let count = collect_streaming(frame.clone().filter(suspects.clone()).select([len()]));
    match count
        .as_ref()
        .map(|c| c.column("len").and_then(|c| c.get(0)))
    {
        Ok(Ok(AnyValue::UInt32(0) | AnyValue::UInt64(0))) => return,
        Err(error) => return problems.push(unreadable(format!("cannot read: {error}"))),
        _ => {}
    }
    let rows = frame
        .with_row_index("__row", Some(1))
        .filter(suspects)
        .limit((MAX_PROBLEMS * 4) as u32);
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
    let columns: Vec<(&str, Option<StringChunked>)> =
        header.split(',').map(|name| (name, text(name))).collect();
    for index in 0..rows.height() {
        let row = numbers.u64().ok().and_then(|c| c.get(index)).unwrap_or(0) as usize;
        for (position, (column, values)) in columns.iter().enumerate() {
            let cell = values.as_ref().and_then(|v| v.get(index)).unwrap_or("");
            let at = Span::point(row, position + 1);
            problems.extend(check_cell(&shown, column, cell, at, &rule));
        }
        if too_many(problems, &shown) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
