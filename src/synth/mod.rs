//! Realistic synthetic data from a seeded model: record-level plans and events, and through
//! `import` the published monthly metrics bundled in `records/metrics/`.

pub mod model;
pub mod rng;
pub mod writer;

use std::path::Path;

use anyhow::{Result, bail};

use crate::extract::Reference;
use crate::model::{Month, TemplateStatus};
use crate::snapshot::Snapshot;
use model::{BoroughInput, ModelInputs, TemplateInput};

/// The seed the bundled London records were made with.
pub const DEFAULT_SEED: u64 = 2020;

/// Model inputs from the areas, templates and programmes of a snapshot.
pub fn inputs_from_snapshot(
    snapshot: &Snapshot,
    seed: u64,
    first_month: Month,
    months: u32,
    scale: f64,
) -> Result<ModelInputs> {
    let reference = Reference::from_snapshot(snapshot)?;
    let Some(areas) = &snapshot.areas else {
        bail!("the records have no valid areas file; run `careplans check`");
    };
    if !(scale.is_finite() && scale > 0.0) {
        bail!("scale must be a positive number");
    }
    let mut templates: Vec<TemplateInput> = snapshot
        .templates
        .iter()
        .map(|t| TemplateInput {
            id: t.value.id.clone(),
            status: t.value.status,
            available_from: t.value.available_from,
            retired_from: t.value.retired_from,
            replaced: t.value.replaced_by.is_some(),
        })
        .collect();
    templates.sort_by(|a, b| a.id.cmp(&b.id));
    if !templates.iter().any(|t| t.status == TemplateStatus::Active) {
        bail!("no active template to create plans with");
    }
    debug_assert!(
        templates
            .iter()
            .map(|t| &t.id)
            .eq(reference.templates.iter())
    );
    Ok(ModelInputs {
        reference,
        seed,
        first_month,
        months,
        scale,
        view_scale: 1.0,
        boroughs: areas
            .value
            .boroughs
            .iter()
            .map(|b| BoroughInput {
                code: b.code.clone(),
                stp: b.stp.clone(),
                aged_75_plus: b.aged_75_plus,
            })
            .collect(),
        templates,
        programmes: snapshot
            .programmes
            .iter()
            .map(|p| (p.value.area.clone(), p.value.start, p.value.end))
            .collect(),
    })
}

/// Counts what the model makes, without keeping it.
#[derive(Default)]
struct Counter {
    plans: u64,
    views: u64,
    updates: u64,
}

impl model::Sink for Counter {
    fn plan(&mut self, _index: u64, _plan: &model::PlanRecord) {
        self.plans += 1;
    }
    fn event(&mut self, event: &model::Event) {
        match event.kind {
            model::EventKind::View => self.views += 1,
            model::EventKind::Update => self.updates += 1,
        }
    }
}

/// The view-rate multiplier that makes the model create about `events` events: measured on a
/// pilot run of some 20,000 plans, since views depend on how long each plan lives.
pub fn view_scale_for(inputs: &ModelInputs, events: u64) -> f64 {
    let plans = model::expected_plans(inputs).max(1.0);
    let mut pilot = inputs.clone();
    pilot.scale = inputs.scale * (20_000.0 / plans).min(1.0);
    pilot.view_scale = 1.0;
    let mut counter = Counter::default();
    model::run(&pilot, &mut counter);
    let per_plan = |count: u64| count as f64 / counter.plans.max(1) as f64;
    let wanted_views = events as f64 / plans - per_plan(counter.updates);
    (wanted_views / per_plan(counter.views).max(f64::MIN_POSITIVE)).max(0.0)
}

/// Runs the model over the snapshot's areas, templates and programmes and writes its published
/// monthly metrics into `dir`. Returns the number of files written.
pub fn write_model_metrics(
    snapshot: &Snapshot,
    seed: u64,
    first: Month,
    months: u32,
    scale: f64,
    dir: &Path,
) -> Result<usize> {
    let Some(areas) = &snapshot.areas else {
        return Err(anyhow::anyhow!(
            "the records have no valid areas file; run `careplans check`"
        ));
    };
    let inputs = inputs_from_snapshot(snapshot, seed, first, months, scale)?;
    let mut aggregator = crate::import::aggregate::Aggregator::new(
        &inputs.reference,
        inputs.first_month,
        inputs.months,
    );
    model::run(&inputs, &mut aggregator);
    let published = crate::import::aggregate::publish(
        &aggregator,
        &inputs.reference,
        &areas.value,
        &snapshot.config.disclosure,
    );
    crate::import::write::write_metrics(dir, &published, None)
}
