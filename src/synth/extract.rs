//! Writes the model's record-level output as an extract, the shape a secure environment holds:
//! `plans.csv` and `events.csv`, streamed row by row so any number of plans fits in memory.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::model::{AGE_BANDS, Event, ModelInputs, PlanRecord, Sink};

pub const PLANS_HEADER: &str = "plan_id,borough_code,template_id,age_band,created,last_updated,status,cpr_decision_recorded,preferred_place_of_death_recorded,died_month,died_in_preferred_place";
pub const EVENTS_HEADER: &str = "plan_id,timestamp,service,kind";

/// A `Sink` writing `plans.csv` and `events.csv` into a folder. Files are written under
/// temporary names and renamed by `finish`, so a stopped run leaves no half extract.
pub struct ExtractWriter<'a> {
    inputs: &'a ModelInputs,
    dir: PathBuf,
    plans: BufWriter<File>,
    events: BufWriter<File>,
    current_plan: (u64, String),
    error: Option<std::io::Error>,
    pub plan_count: u64,
    pub event_count: u64,
}

impl<'a> ExtractWriter<'a> {
    pub fn create(dir: &Path, inputs: &'a ModelInputs) -> Result<ExtractWriter<'a>> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let open = |name: &str, header: &str| -> Result<BufWriter<File>> {
            let path = dir.join(format!(".{name}.tmp"));
            let mut writer = BufWriter::with_capacity(
                1 << 20,
                File::create(&path).with_context(|| format!("cannot write {}", path.display()))?,
            );
            writeln!(writer, "{header}")?;
            Ok(writer)
        };
        Ok(ExtractWriter {
            inputs,
            dir: dir.to_path_buf(),
            plans: open("plans.csv", PLANS_HEADER)?,
            events: open("events.csv", EVENTS_HEADER)?,
            current_plan: (u64::MAX, String::new()),
            error: None,
            plan_count: 0,
            event_count: 0,
        })
    }

    fn keep(&mut self, result: std::io::Result<()>) {
        if let Err(error) = result {
            self.error.get_or_insert(error);
        }
    }

    /// Flushes both files and moves them into place.
    pub fn finish(mut self) -> Result<(u64, u64)> {
        if let Some(error) = self.error.take() {
            return Err(error).context("cannot write the extract");
        }
        self.plans.flush()?;
        self.events.flush()?;
        for name in ["plans.csv", "events.csv"] {
            fs::rename(self.dir.join(format!(".{name}.tmp")), self.dir.join(name))
                .with_context(|| format!("cannot move {name} into place"))?;
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
        self.current_plan = (index, plan.plan_id.clone());
        let died = plan.died.map(|m| m.to_string()).unwrap_or_default();
        let result = writeln!(
            self.plans,
            "{},{},{},{},{},{},{},{},{},{},{}",
            plan.plan_id,
            self.inputs.boroughs[plan.borough].code,
            self.inputs.templates[plan.template].id,
            AGE_BANDS[plan.age_band],
            plan.created,
            plan.last_updated,
            plan.status.id(),
            plan.cpr_recorded,
            plan.preferred_place_recorded,
            died,
            plan.died_in_preferred_place
        );
        self.keep(result);
    }

    fn event(&mut self, event: &Event) {
        self.event_count += 1;
        // Events follow their plan, so the id is the current plan's.
        let result = writeln!(
            self.events,
            "{},{},{},{}",
            self.current_plan.1,
            timestamp_text(event.timestamp),
            event.service.id(),
            event.kind.id()
        );
        self.keep(result);
    }
}

/// Runs the model and writes its extract; returns (plans, events).
pub fn write_extract(inputs: &ModelInputs, dir: &Path) -> Result<(u64, u64)> {
    let mut writer = ExtractWriter::create(dir, inputs)?;
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
