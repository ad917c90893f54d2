//! The tables report queries see: `metrics`, `areas`, `templates`, `programmes`.
//!
//! `metrics` holds every published count (null where suppressed) and the rates computed from
//! them. A rate is null whenever a count it needs is suppressed: a rate must never reveal what
//! suppression hides. Counts are never added up here: every level is published separately.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use anyhow::Result;
use polars::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use super::reads::{Columns, Reads};

use crate::model::{ALL_TEMPLATES, AreaLevel, Count, Measure, Month};
use crate::snapshot::Snapshot;

/// The analysis tables of one snapshot.
pub struct Tables {
    pub metrics: DataFrame,
    pub areas: DataFrame,
    pub templates: DataFrame,
    pub programmes: DataFrame,
    /// The latest month with published metrics.
    pub latest_month: Option<Month>,
    pub first_month: Option<Month>,
    /// A fingerprint of every column, so a query's inputs can be compared between builds.
    fingerprints: Fingerprints,
}

impl Tables {
    /// Every table by its SQL name.
    pub fn named(&self) -> [(&'static str, &DataFrame); 4] {
        let [metrics, areas, templates, programmes] = Self::names();
        [
            (metrics, &self.metrics),
            (areas, &self.areas),
            (templates, &self.templates),
            (programmes, &self.programmes),
        ]
    }

    /// The names of the tables, as report SQL names them.
    pub fn names() -> [&'static str; 4] {
        ["metrics", "areas", "templates", "programmes"]
    }

    /// A number that changes whenever anything a query reading `reads` could see changes: the
    /// height and column names of each table it names and the values of each column of them
    /// it can see. The months its parameters stand for are in the SQL once they are bound.
    pub fn fingerprint_of(&self, reads: &Reads) -> u64 {
        let mut hasher = DefaultHasher::new();
        for (name, frame) in self.named() {
            if !reads.tables.contains(name) {
                continue;
            }
            name.hash(&mut hasher);
            frame.height().hash(&mut hasher);
            let table = self.fingerprints.0.get(name);
            for (column, lowercase, fingerprint) in table.into_iter().flatten() {
                column.hash(&mut hasher);
                if reads.sees(lowercase) {
                    fingerprint.hash(&mut hasher);
                }
            }
        }
        hasher.finish()
    }

    /// Each table as a query reading `reads` can see it: a table it names with only the
    /// columns it can see (in table order), any other table whole. A table none of whose
    /// columns it names stays whole too, so its height is kept.
    pub fn visible_to(&self, reads: &Reads) -> [(&'static str, DataFrame); 4] {
        self.named().map(|(name, frame)| {
            let columns = self.fingerprints.0.get(name);
            let seen: Vec<&str> = match (&reads.columns, columns) {
                (Columns::Named(_), Some(columns)) if reads.tables.contains(name) => columns
                    .iter()
                    .filter(|(_, lowercase, _)| reads.sees(lowercase))
                    .map(|(column, _, _)| column.as_str())
                    .collect(),
                _ => Vec::new(),
            };
            match frame.select(seen.iter().copied()) {
                Ok(narrowed) if !seen.is_empty() => (name, narrowed),
                _ => (name, frame.clone()),
            }
        })
    }

    /// These tables for the same counts with templates changed: a template's title, version,
    /// status or fields change the `templates` table and the `template_title` column and
    /// nothing else, so the rest (the costly part) is kept. The same as building them again.
    pub fn with_templates(&self, snapshot: &Snapshot) -> Result<Tables> {
        let templates = template_table(snapshot)?;
        let mut metrics = self.metrics.clone();
        set_template_titles(&mut metrics, snapshot)?;
        let mut fingerprints = self.fingerprints.clone();
        fingerprints.table("templates", &templates);
        fingerprints.column("metrics", &metrics, TEMPLATE_TITLE);
        Ok(Tables {
            metrics,
            areas: self.areas.clone(),
            templates,
            programmes: self.programmes.clone(),
            latest_month: self.latest_month,
            first_month: self.first_month,
            fingerprints,
        })
    }
}

/// Each table's columns in order: the name as written, lowercased (as [`Reads`] compares
/// names), and a fingerprint of the column's type and values.
#[derive(Debug, Clone, Default)]
struct Fingerprints(BTreeMap<&'static str, Vec<(String, String, u64)>>);

impl Fingerprints {
    fn of(tables: &Tables) -> Fingerprints {
        let mut out = Fingerprints::default();
        for (name, frame) in tables.named() {
            out.table(name, frame);
        }
        out
    }

    fn table(&mut self, name: &'static str, frame: &DataFrame) {
        // A column at a time on polars' pool: each is a pass over every value.
        let mut fingerprints = vec![0u64; frame.width()];
        super::pool::POOL.scope(|scope| {
            for (column, slot) in frame.columns().iter().zip(&mut fingerprints) {
                scope.spawn(move |_| *slot = column_fingerprint(column));
            }
        });
        let columns = frame
            .columns()
            .iter()
            .zip(fingerprints)
            .map(|(c, fingerprint)| {
                let name = c.name().to_string();
                let lowercase = name.to_lowercase();
                (name, lowercase, fingerprint)
            })
            .collect();
        self.0.insert(name, columns);
    }

    fn column(&mut self, table: &'static str, frame: &DataFrame, name: &str) {
        let Ok(column) = frame.column(name) else {
            return self.table(table, frame);
        };
        let fingerprint = column_fingerprint(column);
        if let Some(slot) = self
            .0
            .get_mut(table)
            .and_then(|columns| columns.iter_mut().find(|(n, _, _)| n == name))
        {
            slot.2 = fingerprint;
        } else {
            self.table(table, frame);
        }
    }
}

/// A fingerprint of a column's type and every value in order (nulls included), read through
/// its type so it costs a pass over the values and no formatting. The values are written to a buffer as bytes
/// (each with its null flag, strings with their length) and hashed a buffer at a time with
/// XXH3: a hash call per value made this most of the cost of building tables at scale.
fn column_fingerprint(column: &Column) -> u64 {
    let mut hasher = Xxh3::new();
    hasher.update(column.dtype().to_string().as_bytes());
    hasher.update(&(column.len() as u64).to_le_bytes());
    let mut buffer = ValueBuffer::new(&mut hasher);
    let series = column.as_materialized_series();
    let dtype = series.dtype();
    let typed = if dtype.is_integer() {
        series.cast(&DataType::Int64).ok().and_then(|s| {
            s.i64().ok().map(|v| {
                v.iter()
                    .for_each(|x| buffer.value(x.map(i64::to_le_bytes).as_ref().map(|b| &b[..])))
            })
        })
    } else if dtype.is_float() {
        series.cast(&DataType::Float64).ok().and_then(|s| {
            s.f64().ok().map(|v| {
                v.iter().for_each(|x| {
                    buffer.value(
                        x.map(|f| f.to_bits().to_le_bytes())
                            .as_ref()
                            .map(|b| &b[..]),
                    )
                })
            })
        })
    } else if dtype.is_bool() {
        series.bool().ok().map(|v| {
            v.iter()
                .for_each(|x| buffer.value(x.map(|b| [u8::from(b)]).as_ref().map(|b| &b[..])))
        })
    } else if dtype.is_string() {
        series
            .str()
            .ok()
            .map(|v| v.iter().for_each(|x| buffer.text(x)))
    } else {
        None
    };
    if typed.is_none() {
        for value in series.iter() {
            buffer.text(Some(&format!("{value:?}")));
        }
    }
    buffer.flush();
    hasher.digest()
}

/// Bytes on their way to a hasher, handed over in large pieces.
struct ValueBuffer<'h> {
    hasher: &'h mut Xxh3,
    bytes: Vec<u8>,
}

impl<'h> ValueBuffer<'h> {
    const SIZE: usize = 1 << 16;

    fn new(hasher: &'h mut Xxh3) -> Self {
        ValueBuffer {
            hasher,
            bytes: Vec::with_capacity(Self::SIZE + 64),
        }
    }

    /// A fixed-width value (or a null): a flag byte, then its bytes.
    fn value(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => {
                self.bytes.push(1);
                self.bytes.extend_from_slice(bytes);
            }
            None => self.bytes.push(0),
        }
        self.maybe_flush();
    }

    /// A string (or a null): a flag byte, its length, then its bytes.
    fn text(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                self.bytes.push(1);
                self.bytes
                    .extend_from_slice(&(text.len() as u64).to_le_bytes());
                self.bytes.extend_from_slice(text.as_bytes());
            }
            None => self.bytes.push(0),
        }
        self.maybe_flush();
    }

    fn maybe_flush(&mut self) {
        if self.bytes.len() >= Self::SIZE {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.hasher.update(&self.bytes);
        self.bytes.clear();
    }
}

const TEMPLATE_TITLE: &str = "template_title";

/// Sets `metrics.template_title` from each row's template: its title, "All templates" for the
/// all-templates rows, null for a template the records do not hold (as a left join gives).
fn set_template_titles(metrics: &mut DataFrame, snapshot: &Snapshot) -> Result<()> {
    let titles: HashMap<&str, &str> = snapshot
        .templates
        .iter()
        .map(|t| (t.value.id.as_str(), t.value.title.as_str()))
        .collect();
    let column: Vec<Option<&str>> = metrics
        .column("template")?
        .str()?
        .iter()
        .map(|template| match template {
            Some(ALL_TEMPLATES) => Some("All templates"),
            Some(id) => titles.get(id).copied(),
            None => None,
        })
        .collect();
    metrics.with_column(Column::new(TEMPLATE_TITLE.into(), column))?;
    Ok(())
}

fn level_id(level: AreaLevel) -> &'static str {
    match level {
        AreaLevel::London => "london",
        AreaLevel::Stp => "stp",
        AreaLevel::Borough => "borough",
    }
}

fn text_column(name: &str, values: Vec<String>) -> Column {
    Column::new(name.into(), values)
}

fn optional_text_column(name: &str, values: Vec<Option<String>>) -> Column {
    Column::new(name.into(), values)
}

/// Builds every table from a snapshot whose records passed validation.
pub fn build_tables(snapshot: &Snapshot) -> Result<Tables> {
    let areas = snapshot
        .areas
        .as_ref()
        .map(|a| a.value.summaries())
        .unwrap_or_default();
    let tiles: std::collections::HashMap<&str, [u32; 2]> = snapshot
        .areas
        .iter()
        .flat_map(|a| a.value.boroughs.iter().map(|b| (b.code.as_str(), b.tile)))
        .collect();
    let area_table = DataFrame::new_infer_height(vec![
        text_column("code", areas.iter().map(|a| a.code.clone()).collect()),
        text_column("name", areas.iter().map(|a| a.name.clone()).collect()),
        text_column("short", areas.iter().map(|a| a.short.clone()).collect()),
        text_column(
            "level",
            areas.iter().map(|a| level_id(a.level).to_owned()).collect(),
        ),
        optional_text_column("parent", areas.iter().map(|a| a.parent.clone()).collect()),
        Column::new(
            "adults".into(),
            areas.iter().map(|a| a.adults as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "aged_75_plus".into(),
            areas
                .iter()
                .map(|a| a.aged_75_plus as i64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tile_column".into(),
            areas
                .iter()
                .map(|a| tiles.get(a.code.as_str()).map(|t| i64::from(t[0])))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tile_row".into(),
            areas
                .iter()
                .map(|a| tiles.get(a.code.as_str()).map(|t| i64::from(t[1])))
                .collect::<Vec<_>>(),
        ),
    ])?;

    let template_table = template_table(snapshot)?;

    let programmes = &snapshot.programmes;
    let programme_table = DataFrame::new_infer_height(vec![
        text_column(
            "id",
            programmes.iter().map(|p| p.value.id.clone()).collect(),
        ),
        text_column(
            "area_code",
            programmes.iter().map(|p| p.value.area.clone()).collect(),
        ),
        text_column(
            "name",
            programmes.iter().map(|p| p.value.name.clone()).collect(),
        ),
        text_column(
            "start",
            programmes
                .iter()
                .map(|p| p.value.start.to_string())
                .collect(),
        ),
        optional_text_column(
            "end",
            programmes
                .iter()
                .map(|p| p.value.end.map(|m| m.to_string()))
                .collect(),
        ),
        Column::new(
            "target_monthly".into(),
            programmes
                .iter()
                .map(|p| p.value.target.monthly as i64)
                .collect::<Vec<_>>(),
        ),
    ])?;

    let (mut metrics, first_month, latest_month) =
        metrics_table(snapshot, &area_table, &programme_table)?;
    set_template_titles(&mut metrics, snapshot)?;
    let programme_table = programme_results(programme_table, &metrics, snapshot)?;
    let mut tables = Tables {
        metrics,
        areas: area_table,
        templates: template_table,
        programmes: programme_table,
        latest_month,
        first_month,
        fingerprints: Fingerprints::default(),
    };
    tables.fingerprints = Fingerprints::of(&tables);
    Ok(tables)
}

/// One row per template: what it is, not what it asks.
fn template_table(snapshot: &Snapshot) -> Result<DataFrame> {
    let templates = &snapshot.templates;
    Ok(DataFrame::new_infer_height(vec![
        text_column("id", templates.iter().map(|t| t.value.id.clone()).collect()),
        text_column(
            "title",
            templates.iter().map(|t| t.value.title.clone()).collect(),
        ),
        text_column(
            "version",
            templates
                .iter()
                .map(|t| t.value.version.to_string())
                .collect(),
        ),
        text_column(
            "status",
            templates
                .iter()
                .map(|t| format!("{:?}", t.value.status).to_lowercase())
                .collect(),
        ),
        Column::new(
            "sections".into(),
            templates
                .iter()
                .map(|t| t.value.sections.len() as i64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "fields".into(),
            templates
                .iter()
                .map(|t| t.value.fields().count() as i64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "safety_critical_fields".into(),
            templates
                .iter()
                .map(|t| t.value.fields().filter(|(_, f)| f.safety_critical).count() as i64)
                .collect::<Vec<_>>(),
        ),
    ])?)
}

/// Published counts as nullable integers, one column per measure.
fn metrics_table(
    snapshot: &Snapshot,
    areas: &DataFrame,
    programmes: &DataFrame,
) -> Result<(DataFrame, Option<Month>, Option<Month>)> {
    let rows: Vec<_> = snapshot
        .metrics
        .iter()
        .flat_map(|f| f.rows.iter())
        .collect();
    let months: Vec<Month> = rows.iter().map(|r| r.month).collect();
    let first = months.iter().min().copied();
    let latest = months.iter().max().copied();
    // Borrowed, not cloned, and each month written once: at scale these columns are most
    // of the cost of building the table.
    let month_names: HashMap<Month, String> = (months.iter().copied())
        .collect::<std::collections::HashSet<Month>>()
        .into_iter()
        .map(|m| (m, m.to_string()))
        .collect();
    let borrowed = |name: &str, values: Vec<&str>| Column::new(name.into(), values);
    let mut columns = vec![
        borrowed(
            "month",
            rows.iter()
                .map(|r| month_names[&r.month].as_str())
                .collect(),
        ),
        Column::new(
            "month_index".into(),
            rows.iter().map(|r| r.month.index()).collect::<Vec<_>>(),
        ),
        borrowed(
            "area_code",
            rows.iter().map(|r| r.area_code.as_str()).collect(),
        ),
        borrowed(
            "template",
            rows.iter().map(|r| r.template.as_str()).collect(),
        ),
    ];
    for measure in Measure::ALL {
        let values: Vec<Option<i64>> = rows
            .iter()
            .map(|r| match r.get(measure) {
                Count::Value(v) => Some(v as i64),
                Count::Suppressed => None,
            })
            .collect();
        columns.push(Column::new(measure.column().into(), values));
    }
    let base = DataFrame::new_infer_height(columns)?.lazy();

    let area_info = areas.clone().lazy().select([
        col("code").alias("area_code"),
        col("name").alias("area_name"),
        col("short").alias("area_short"),
        col("level").alias("area_level"),
        col("parent").alias("parent_code"),
        col("adults"),
        col("aged_75_plus"),
    ]);
    let programme_info = programmes
        .clone()
        .lazy()
        .select([col("area_code"), col("start").alias("programme_start")]);

    let rate = |numerator: &str, denominator: Expr, per: f64| {
        (col(numerator).cast(DataType::Float64) / denominator.cast(DataType::Float64) * lit(per))
            .round(2, RoundMode::HalfAwayFromZero)
    };
    let mut derived = vec![
        rate("active_plans", col("adults"), 1000.0).alias("plans_per_1000_adults"),
        rate("active_plans", col("aged_75_plus"), 1000.0).alias("plans_per_1000_aged_75_plus"),
        // Among deaths with a preference recorded, as CMC and EPaCCS report it: a death with
        // no preference recorded can be neither in nor out of the preferred place.
        rate(
            "deaths_in_preferred_place",
            col("deaths_with_preference_recorded"),
            100.0,
        )
        .alias("pct_died_in_preferred_place"),
        rate("cpr_decision_made", col("active_plans"), 100.0).alias("pct_cpr_decision_made"),
        rate("preference_expressed", col("active_plans"), 100.0).alias("pct_preference_expressed"),
        rate("plans_reviewed_last_12_months", col("active_plans"), 100.0)
            .alias("pct_reviewed_last_12_months"),
    ];
    for (measure, name) in [
        (Measure::ViewsLas, "las"),
        (Measure::Views111, "111"),
        (Measure::ViewsOohGp, "ooh_gp"),
        (Measure::ViewsEd, "ed"),
        (Measure::ViewsGp, "gp"),
    ] {
        derived.push(
            rate(measure.column(), col("active_plans"), 100.0)
                .alias(format!("views_{name}_per_100_plans")),
        );
    }

    let year_ago = base.clone().select([
        col("area_code"),
        col("template"),
        (col("month_index") + lit(12i64)).alias("month_index"),
        col("active_plans").alias("active_plans_year_ago"),
        col("new_plans").alias("new_plans_year_ago"),
    ]);
    let keys = [col("area_code"), col("template"), col("month_index")];
    let metrics = base
        .join(year_ago, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .join(
            area_info,
            [col("area_code")],
            [col("area_code")],
            JoinArgs::new(JoinType::Left),
        )
        // Set by `set_template_titles`, here so the column keeps its place.
        .with_column(lit(NULL).cast(DataType::String).alias(TEMPLATE_TITLE))
        .join(
            programme_info,
            [col("parent_code")],
            [col("area_code")],
            JoinArgs::new(JoinType::Left).with_suffix(Some("_parent".into())),
        )
        .with_columns(derived)
        .with_columns([(((col("active_plans").cast(DataType::Float64)
            / col("active_plans_year_ago").cast(DataType::Float64))
            - lit(1.0))
            * lit(100.0))
        .round(1, RoundMode::HalfAwayFromZero)
        .alias("pct_change_active_vs_year_ago")])
        .sort_by_exprs(
            [col("month_index"), col("area_code"), col("template")],
            SortMultipleOptions::default(),
        )
        .collect()
        .map_err(|e| anyhow::anyhow!("cannot build the metrics table: {e}"))?;
    Ok((metrics, first, latest))
}

/// Adds to each programme its area's name and the Making Data Count evidence of its area's new
/// plans (all templates), rebased at the programme's start and end and at London-wide change
/// points: the mean (centre line) of the segment before the start and of the programme's own
/// segment, their change, the latest signal in the programme's months in words, the variation
/// of the latest month and the assurance against the monthly target over the programme's months.
fn programme_results(
    programmes: DataFrame,
    metrics: &DataFrame,
    snapshot: &Snapshot,
) -> Result<DataFrame> {
    use super::evidence::evidence_of;
    use crate::model::Improvement;
    let mut before = Vec::new();
    let mut during = Vec::new();
    let mut change = Vec::new();
    let mut signal = Vec::new();
    let mut variation = Vec::new();
    let mut assurance = Vec::new();
    let mut months_during = Vec::new();
    for loaded in &snapshot.programmes {
        let programme = &loaded.value;
        let mut series: Vec<(Month, Option<f64>)> = snapshot
            .metrics
            .iter()
            .flat_map(|f| f.rows.iter())
            .filter(|r| r.area_code == programme.area && r.template == ALL_TEMPLATES)
            .map(|r| (r.month, r.get(Measure::NewPlans).value().map(|v| v as f64)))
            .collect();
        series.sort_by_key(|(m, _)| *m);
        let months: Vec<Month> = series.iter().map(|(m, _)| *m).collect();
        let values: Vec<Option<f64>> = series.iter().map(|(_, v)| *v).collect();
        let evidence = evidence_of(
            snapshot,
            programme.area.clone(),
            Some(programme.area.clone()),
            months,
            &values,
            Some(programme.target.monthly as f64),
            Improvement::Increase,
        );
        let centre_before = evidence
            .segment_at(programme.start.plus_months(-1))
            .and_then(|s| evidence.centre(s));
        let own = evidence.segment_from(programme.start);
        let centre_during = own.and_then(|s| evidence.centre(s));
        before.push(centre_before.map(|c| (c * 10.0).round() / 10.0));
        during.push(centre_during.map(|c| (c * 10.0).round() / 10.0));
        change.push(match (centre_before, centre_during) {
            (Some(b), Some(d)) if b > 0.0 => Some(((d / b - 1.0) * 1000.0).round() / 10.0),
            _ => None,
        });
        signal.push(
            evidence
                .excluded
                .clone()
                .or_else(|| evidence.signal.clone())
                .or_else(|| {
                    evidence.chart.as_ref().map(|_| {
                        "common cause only: no signal in the programme's months".to_owned()
                    })
                }),
        );
        variation.push(
            evidence
                .chart
                .as_ref()
                .map(|c| c.variation.label().to_owned()),
        );
        assurance.push(evidence.assurance.map(|a| a.label().to_owned()));
        months_during.push(own.and_then(|s| {
            evidence
                .chart
                .as_ref()
                .and_then(|c| c.segments.get(s - 1))
                .map(|seg| seg.len() as i64)
        }));
    }
    let area_names = metrics
        .clone()
        .lazy()
        .select([col("area_code"), col("area_name")])
        .unique(None, UniqueKeepStrategy::First);
    let evidence = DataFrame::new_infer_height(vec![
        Column::new("mean_new_plans_before_start".into(), before),
        Column::new("mean_new_plans_during".into(), during),
        Column::new("pct_change_in_mean".into(), change),
        Column::new("signal".into(), signal),
        Column::new("variation".into(), variation),
        Column::new("assurance".into(), assurance),
        Column::new("months_of_programme_segment".into(), months_during),
    ])?;
    let with_evidence = programmes.hstack(evidence.columns())?;
    let result = with_evidence
        .lazy()
        .join(
            area_names,
            [col("area_code")],
            [col("area_code")],
            JoinArgs::new(JoinType::Left),
        )
        .sort(["start"], SortMultipleOptions::default())
        .collect()
        .map_err(|e| anyhow::anyhow!("cannot build the programmes table: {e}"))?;
    Ok(result)
}
