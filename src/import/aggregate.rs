//! Counts record-level plans and events into unrounded monthly figures per borough and
//! template, then adds them up to STP areas, London and all templates. Published figures are
//! made only from these unrounded totals, never by adding rounded ones.

use std::collections::HashMap;

use crate::config::DisclosureRule;
use crate::disclosure;
use crate::model::{ALL_TEMPLATES, Areas, Count, Measure, MetricRow, Month};
use crate::synth::model::{Event, EventKind, ModelInputs, PlanRecord, Sink};

const MEASURES: usize = Measure::ALL.len();

/// Unrounded counts per month, borough and template.
pub struct Aggregator {
    first_month: Month,
    months: usize,
    boroughs: usize,
    templates: usize,
    counts: Vec<[u64; MEASURES]>,
    /// Where each plan lives, by plan index, so events can be attributed.
    plan_cells: HashMap<u64, (usize, usize)>,
}

impl Aggregator {
    pub fn new(inputs: &ModelInputs) -> Aggregator {
        let months = inputs.months as usize;
        let boroughs = inputs.boroughs.len();
        let templates = inputs.templates.len();
        Aggregator {
            first_month: inputs.first_month,
            months,
            boroughs,
            templates,
            counts: vec![[0; MEASURES]; months * boroughs * templates],
            plan_cells: HashMap::new(),
        }
    }

    fn month_offset(&self, month: Month) -> Option<usize> {
        let offset = month.index() - self.first_month.index();
        (0..self.months as i64)
            .contains(&offset)
            .then_some(offset as usize)
    }

    fn cell(&mut self, month: usize, borough: usize, template: usize) -> &mut [u64; MEASURES] {
        let index = (month * self.boroughs + borough) * self.templates + template;
        &mut self.counts[index]
    }

    /// The unrounded count for a month, borough and template.
    pub fn unrounded(&self, month: usize, borough: usize, template: usize) -> &[u64; MEASURES] {
        &self.counts[(month * self.boroughs + borough) * self.templates + template]
    }
}

impl Sink for Aggregator {
    fn plan(&mut self, index: u64, plan: &PlanRecord) {
        let (borough, template) = (plan.borough, plan.template);
        self.plan_cells.insert(index, (borough, template));
        if let Some(month) = self.month_offset(plan.created) {
            self.cell(month, borough, template)[Measure::NewPlans.index()] += 1;
        }
        if let Some(died) = plan.died.and_then(|m| self.month_offset(m)) {
            let cell = self.cell(died, borough, template);
            cell[Measure::Deaths.index()] += 1;
            if plan.died_in_preferred_place {
                cell[Measure::DeathsInPreferredPlace.index()] += 1;
            }
        }
        // Only the months the plan was live can count it as active.
        let start = (plan.created.index() - self.first_month.index()).max(0) as usize;
        for offset in start..self.months {
            let month = self.first_month.plus_months(offset as i64);
            if plan.died.is_some_and(|m| m <= month) || plan.archived.is_some_and(|m| m <= month) {
                break;
            }
            if plan.active_at_end_of(month) {
                let cell = self.cell(offset, borough, template);
                cell[Measure::ActivePlans.index()] += 1;
                if plan.cpr_recorded {
                    cell[Measure::CprRecorded.index()] += 1;
                }
                if plan.preferred_place_recorded {
                    cell[Measure::PreferredPlaceRecorded.index()] += 1;
                }
            }
        }
    }

    fn event(&mut self, event: &Event) {
        if event.kind != EventKind::View {
            return;
        }
        let (Some(&(borough, template)), Some(month)) = (
            self.plan_cells.get(&event.plan),
            self.month_offset(event.month),
        ) else {
            return;
        };
        self.cell(month, borough, template)[Measure::views_of(event.service).index()] += 1;
    }
}

/// The published rows for every month: each area (London, STP areas, boroughs in areas.yaml
/// order) for all templates and then each template, counts disclosure-controlled.
pub fn publish(
    aggregator: &Aggregator,
    inputs: &ModelInputs,
    areas: &Areas,
    rule: &DisclosureRule,
) -> Vec<(Month, Vec<MetricRow>)> {
    // Which boroughs (by index in the inputs) make up each published area.
    let borough_index: HashMap<&str, usize> = inputs
        .boroughs
        .iter()
        .enumerate()
        .map(|(i, b)| (b.code.as_str(), i))
        .collect();
    let members = |code: &str| -> Vec<usize> {
        areas
            .summaries()
            .into_iter()
            .find(|a| a.code == code)
            .map(|area| match area.level {
                crate::model::AreaLevel::London => (0..inputs.boroughs.len()).collect(),
                crate::model::AreaLevel::Stp => inputs
                    .boroughs
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.stp == code)
                    .map(|(i, _)| i)
                    .collect(),
                crate::model::AreaLevel::Borough => {
                    borough_index.get(code).copied().into_iter().collect()
                }
            })
            .unwrap_or_default()
    };
    let area_members: Vec<(String, Vec<usize>)> = areas
        .summaries()
        .iter()
        .map(|a| (a.code.clone(), members(&a.code)))
        .collect();
    let mut template_order: Vec<usize> = (0..inputs.templates.len()).collect();
    template_order.sort_by(|&a, &b| inputs.templates[a].id.cmp(&inputs.templates[b].id));

    let mut out = Vec::with_capacity(aggregator.months);
    for month in 0..aggregator.months {
        let month_value = aggregator.first_month.plus_months(month as i64);
        let mut rows = Vec::new();
        for (code, boroughs) in &area_members {
            let sum = |templates: &[usize]| {
                let mut total = [0u64; MEASURES];
                for &b in boroughs {
                    for &t in templates {
                        for (slot, value) in total.iter_mut().zip(aggregator.unrounded(month, b, t))
                        {
                            *slot += value;
                        }
                    }
                }
                total
            };
            let mut push = |template: &str, total: [u64; MEASURES]| {
                rows.push(MetricRow {
                    month: month_value,
                    area_code: code.clone(),
                    template: template.to_owned(),
                    counts: total.map(|count| disclosure::publish(count, rule)),
                    line: 0,
                });
            };
            push(ALL_TEMPLATES, sum(&template_order));
            for &t in &template_order {
                push(&inputs.templates[t].id, sum(&[t]));
            }
        }
        out.push((month_value, rows));
    }
    out
}

/// Published count for tests and summaries.
pub fn published_value(row: &MetricRow, measure: Measure) -> Option<u64> {
    match row.get(measure) {
        Count::Value(v) => Some(v),
        Count::Suppressed => None,
    }
}
