//! The record-level extract's contract: the tables a secure environment hands to `import` (and
//! `synth` writes), their columns in order, the values each column may hold, and the reference
//! data (borough codes, template ids) those values are checked against. `import` reads by it,
//! `synth` writes by it; neither defines it. It reads nothing but the records' own areas and
//! templates.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::model::Service;
use crate::snapshot::Snapshot;

/// The plans table, one row per care plan, in this column order:
///
/// * `plan_id`: pseudonymous; `borough_code` (E09), `template_id` (the template the plan uses
///   now), `age_band`;
/// * `created`: the month the plan was first published (`YYYY-MM`); `last_updated`: the
///   month it was last revised (for an archived plan, the month it was archived);
/// * `status`: `active`, `deceased` or `archived`;
/// * `cpr_decision_made` (`true` for CPR or not for CPR, `false` not yet decided) and
///   `preference_expressed` (a preferred place of death recorded);
/// * `died_month` and `died_in_preferred_place` (`true`/`false`);
/// * `earlier_template_id` and `template_changed`: when a plan moved from one template to
///   another (CMC plans migrated to the Universal Care Plan in July 2022), the template it used
///   before and the month from which `template_id` applies; both empty otherwise. A plan that
///   moved is the same plan: it is not a new plan in that month.
pub const PLANS_COLUMNS: [&str; 13] = [
    "plan_id",
    "borough_code",
    "template_id",
    "age_band",
    "created",
    "last_updated",
    "status",
    "cpr_decision_made",
    "preference_expressed",
    "died_month",
    "died_in_preferred_place",
    "earlier_template_id",
    "template_changed",
];

/// The events table, one row per audit event, in this column order. A `view` is a service
/// opening the plan; an `update` is the plan revised and published again (a review).
pub const EVENTS_COLUMNS: [&str; 4] = ["plan_id", "timestamp", "service", "kind"];

/// The plans table's header line.
pub const PLANS_HEADER: &str = "plan_id,borough_code,template_id,age_band,created,last_updated,status,cpr_decision_made,preference_expressed,died_month,died_in_preferred_place,earlier_template_id,template_changed";

/// The events table's header line.
pub const EVENTS_HEADER: &str = "plan_id,timestamp,service,kind";

/// Age bands, youngest first.
pub const AGE_BANDS: [&str; 5] = ["0-17", "18-64", "65-74", "75-84", "85+"];

/// A plan's status at the end of the extract.
pub const PLAN_STATUSES: [&str; 3] = ["active", "deceased", "archived"];

/// How many months back a review keeps a plan current (`plans_reviewed_last_12_months`): a plan
/// counts at the end of a month when it was created or updated in that month or the 11 before.
pub const REVIEW_MONTHS: i64 = 12;

/// What an audit event records.
pub const EVENT_KINDS: [&str; 2] = ["view", "update"];

/// The services whose views the audit log records (and the metrics count). Other services
/// may see a plan (community trusts, hospices, care homes) without their views being counted.
pub const VIEWING_SERVICES: [Service; 5] = [
    Service::Nhs111,
    Service::Ambulance,
    Service::OutOfHoursGp,
    Service::EmergencyDepartment,
    Service::GeneralPractice,
];

/// A table's header line, as a CSV extract starts.
pub fn header(columns: &[&str]) -> String {
    columns.join(",")
}

/// The two tables of an extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Plans,
    Events,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Plans => "plans",
            Table::Events => "events",
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Plans => &PLANS_COLUMNS,
            Table::Events => &EVENTS_COLUMNS,
        }
    }
}

/// The file format of an extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtractFormat {
    Csv,
    Parquet,
}

impl ExtractFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExtractFormat::Csv => "csv",
            ExtractFormat::Parquet => "parquet",
        }
    }

    /// The format of the extract in `dir`: Parquet if its plans are there as Parquet.
    pub fn of_extract(dir: &Path) -> Option<ExtractFormat> {
        [ExtractFormat::Parquet, ExtractFormat::Csv]
            .into_iter()
            .find(|f| table_path(dir, Table::Plans, *f).is_file())
    }
}

/// Where a table of a flat extract in `dir` lives.
pub fn table_path(dir: &Path, table: Table, format: ExtractFormat) -> PathBuf {
    dir.join(format!("{}.{}", table.name(), format.extension()))
}

impl Table {
    /// The column a partitioned extract splits this table by, Hive style (`created=YYYY-MM`,
    /// `month=YYYY-MM`): the plans' `created` lives only in the path; the events keep their
    /// `timestamp`, and the partition is its month.
    pub fn partition_column(self) -> &'static str {
        match self {
            Table::Plans => "created",
            Table::Events => "month",
        }
    }

    /// The columns of one file of a partitioned extract, in order.
    pub fn partition_file_columns(self) -> Vec<&'static str> {
        match self {
            Table::Plans => PLANS_COLUMNS
                .iter()
                .copied()
                .filter(|c| *c != "created")
                .collect(),
            Table::Events => EVENTS_COLUMNS.to_vec(),
        }
    }
}

/// How an extract's tables lie on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `plans.<ext>` and `events.<ext>` in one folder.
    Flat(ExtractFormat),
    /// `plans/created=YYYY-MM/*.parquet` and `events/month=YYYY-MM/*.parquet`, as a cluster
    /// holds an extract too large for one file (see the README's "Beyond one machine").
    Partitioned,
}

impl Layout {
    /// The layout of the extract in `dir`: a flat one (Parquet before CSV) or a partitioned
    /// one (`plans/` and `events/` folders); `None` when it holds neither.
    pub fn of_extract(dir: &Path) -> Option<Layout> {
        if let Some(format) = ExtractFormat::of_extract(dir) {
            return Some(Layout::Flat(format));
        }
        dir.join(Table::Plans.name())
            .is_dir()
            .then_some(Layout::Partitioned)
    }

    pub fn format(self) -> ExtractFormat {
        match self {
            Layout::Flat(format) => format,
            Layout::Partitioned => ExtractFormat::Parquet,
        }
    }
}

/// One file of an extract's table, and the month of its partition (none in a flat extract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFile {
    pub path: PathBuf,
    pub partition: Option<crate::model::Month>,
}

/// A malformed partitioned extract: what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutProblem {
    pub path: PathBuf,
    pub message: String,
}

/// The files of `table` in an extract laid out as `layout` in `dir`, in partition order (then
/// by name). In a partitioned extract every entry of the table's folder must be a
/// `<column>=YYYY-MM` folder, each holding at least one `.parquet` file; names starting with
/// `_` or `.` (`_SUCCESS`, checksums) are a writer's bookkeeping and are skipped.
pub fn table_files(
    dir: &Path,
    table: Table,
    layout: Layout,
) -> Result<Vec<TableFile>, Vec<LayoutProblem>> {
    let format = match layout {
        Layout::Flat(format) => {
            return Ok(vec![TableFile {
                path: table_path(dir, table, format),
                partition: None,
            }]);
        }
        Layout::Partitioned => ExtractFormat::Parquet,
    };
    let folder = dir.join(table.name());
    let problem = |path: &Path, message: String| LayoutProblem {
        path: path.to_path_buf(),
        message,
    };
    let listed = |folder: &Path| -> Result<Vec<PathBuf>, LayoutProblem> {
        let entries = std::fs::read_dir(folder)
            .map_err(|e| problem(folder, format!("cannot read the folder: {e}")))?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| problem(folder, format!("cannot read the folder: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with('_') || name.starts_with('.')) {
                paths.push(entry.path());
            }
        }
        paths.sort();
        Ok(paths)
    };
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let partitions = listed(&folder).map_err(|p| vec![p])?;
    let prefix = format!("{}=", table.partition_column());
    for partition in partitions {
        let name = partition
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let month = name
            .strip_prefix(&prefix)
            .and_then(|m| m.parse::<crate::model::Month>().ok());
        let Some(month) = month.filter(|_| partition.is_dir()) else {
            problems.push(problem(
                &partition,
                format!(
                    "expected only partition folders named {prefix}YYYY-MM in {}",
                    folder.display()
                ),
            ));
            continue;
        };
        let inside = match listed(&partition) {
            Ok(inside) => inside,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let before = files.len();
        for path in inside {
            if path.extension().is_some_and(|e| e == format.extension()) && path.is_file() {
                files.push(TableFile {
                    path,
                    partition: Some(month),
                });
            } else {
                problems.push(problem(
                    &path,
                    format!("expected only .{} files in a partition", format.extension()),
                ));
            }
        }
        if files.len() == before && problems.is_empty() {
            problems.push(problem(&partition, "the partition holds no files".into()));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

/// The codes an extract's rows may use, from the records: every borough of `areas.yaml` (in
/// its order) and every template (by id). Published figures are indexed the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Borough codes (E09), as `areas.yaml` lists them.
    pub boroughs: Vec<String>,
    /// Template ids, sorted.
    pub templates: Vec<String>,
}

impl Reference {
    /// The reference data of a snapshot's records.
    pub fn from_snapshot(snapshot: &Snapshot) -> Result<Reference> {
        let Some(areas) = &snapshot.areas else {
            bail!("the records have no valid areas file; run `careplans check`");
        };
        if snapshot.templates.is_empty() {
            bail!("the records have no valid templates; run `careplans check`");
        }
        let mut templates: Vec<String> = snapshot
            .templates
            .iter()
            .map(|t| t.value.id.clone())
            .collect();
        templates.sort();
        Ok(Reference {
            boroughs: areas
                .value
                .boroughs
                .iter()
                .map(|b| b.code.clone())
                .collect(),
            templates,
        })
    }

    /// Each borough's index by its code.
    pub fn borough_index(&self) -> HashMap<&str, usize> {
        let codes = self.boroughs.iter().map(String::as_str);
        codes.enumerate().map(|(i, code)| (code, i)).collect()
    }

    /// Each template's index by its id.
    pub fn template_index(&self) -> HashMap<&str, usize> {
        let ids = self.templates.iter().map(String::as_str);
        ids.enumerate().map(|(i, id)| (id, i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_list_the_columns_in_order() {
        assert_eq!(header(&PLANS_COLUMNS), PLANS_HEADER);
        assert_eq!(header(&EVENTS_COLUMNS), EVENTS_HEADER);
    }

    #[test]
    fn the_viewing_services_are_those_with_a_views_measure() {
        for service in VIEWING_SERVICES {
            assert!(crate::model::Measure::views_of(service).is_some());
        }
    }
}
