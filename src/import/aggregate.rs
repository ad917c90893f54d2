//! Counts record-level plans and events into unrounded monthly figures per borough and
//! template, then adds them up to STP areas, London and all templates. Published figures are
//! made only from these unrounded totals, never by adding rounded ones.

use std::collections::HashMap;

use crate::config::DisclosureRule;
use crate::disclosure;
use crate::disclosure::secondary::{CellStatus, LinkedTable};
use crate::extract::Reference;
use crate::model::{ALL_TEMPLATES, Areas, Count, Measure, MetricRow, Month};
use crate::synth::model::{Event, EventKind, PlanRecord, Sink};

const MEASURES: usize = Measure::ALL.len();

/// Unrounded counts per month, borough and template.
pub struct Aggregator {
    first_month: Month,
    months: usize,
    boroughs: usize,
    templates: usize,
    counts: Vec<[u64; MEASURES]>,
    /// Where each plan lives, by plan index, so events can be attributed: its borough, the
    /// template it was made with, the template it uses now, and the month it changed.
    plan_cells: HashMap<u64, (usize, usize, usize, Option<Month>)>,
}

impl Aggregator {
    /// An empty aggregator for the codes of `reference` over `months` months from `first_month`.
    pub fn new(reference: &Reference, first_month: Month, months: u32) -> Aggregator {
        let months = months as usize;
        let boroughs = reference.boroughs.len();
        let templates = reference.templates.len();
        Aggregator {
            first_month,
            months,
            boroughs,
            templates,
            counts: vec![[0; MEASURES]; months * boroughs * templates],
            plan_cells: HashMap::new(),
        }
    }

    /// An empty aggregator for `months` months from `first_month`.
    pub fn empty(
        first_month: Month,
        months: usize,
        boroughs: usize,
        templates: usize,
    ) -> Aggregator {
        Aggregator {
            first_month,
            months,
            boroughs,
            templates,
            counts: vec![[0; MEASURES]; months * boroughs * templates],
            plan_cells: HashMap::new(),
        }
    }

    /// Adds `value` to one unrounded count (months outside the window are ignored).
    pub fn add(
        &mut self,
        month: Month,
        borough: usize,
        template: usize,
        measure: Measure,
        value: u64,
    ) {
        if let Some(offset) = self.month_offset(month)
            && borough < self.boroughs
            && template < self.templates
        {
            self.cell(offset, borough, template)[measure.index()] += value;
        }
    }

    /// The first and last month counted.
    pub fn window(&self) -> (Month, Month) {
        let last = self.first_month.plus_months(self.months as i64 - 1);
        (self.first_month, last)
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
        let borough = plan.borough;
        let changed = plan.earlier_template.map(|(_, month)| month);
        self.plan_cells.insert(
            index,
            (borough, plan.first_template(), plan.template, changed),
        );
        if let Some(month) = self.month_offset(plan.created) {
            self.cell(month, borough, plan.first_template())[Measure::NewPlans.index()] += 1;
        }
        if let Some(died) = plan.died
            && let Some(offset) = self.month_offset(died)
        {
            let cell = self.cell(offset, borough, plan.template_in(died));
            cell[Measure::Deaths.index()] += 1;
            if plan.preference_expressed {
                cell[Measure::DeathsWithPreferenceRecorded.index()] += 1;
            }
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
                let cell = self.cell(offset, borough, plan.template_in(month));
                cell[Measure::ActivePlans.index()] += 1;
                if plan.cpr_decision_made {
                    cell[Measure::CprDecisionMade.index()] += 1;
                }
                if plan.preference_expressed {
                    cell[Measure::PreferenceExpressed.index()] += 1;
                }
                if plan.reviewed_by(month) {
                    cell[Measure::PlansReviewedLast12Months.index()] += 1;
                }
            }
        }
    }

    fn event(&mut self, event: &Event) {
        if event.kind != EventKind::View {
            return;
        }
        let (Some(&(borough, before, after, changed)), Some(month)) = (
            self.plan_cells.get(&event.plan),
            self.month_offset(event.month),
        ) else {
            return;
        };
        let template = match changed {
            Some(changed) if event.month < changed => before,
            _ => after,
        };
        if let Some(measure) = Measure::views_of(event.service) {
            self.cell(month, borough, template)[measure.index()] += 1;
        }
    }
}

/// The published rows for every month: each area (London, STP areas, boroughs in areas.yaml
/// order) for all templates and then each template, counts disclosure-controlled.
pub fn publish(
    aggregator: &Aggregator,
    reference: &Reference,
    areas: &Areas,
    rule: &DisclosureRule,
) -> Vec<(Month, Vec<MetricRow>)> {
    // Which boroughs (by index in the inputs) make up each published area.
    let borough_index = reference.borough_index();
    let members = |code: &str| -> Vec<usize> {
        areas
            .summaries()
            .into_iter()
            .find(|a| a.code == code)
            .map(|area| match area.level {
                crate::model::AreaLevel::London => (0..reference.boroughs.len()).collect(),
                crate::model::AreaLevel::Stp => areas
                    .boroughs
                    .iter()
                    .filter(|b| b.stp == code)
                    .filter_map(|b| borough_index.get(b.code.as_str()).copied())
                    .collect(),
                crate::model::AreaLevel::Borough => {
                    borough_index.get(code).copied().into_iter().collect()
                }
            })
            .unwrap_or_default()
    };
    let summaries = areas.summaries();
    let area_members: Vec<(String, Vec<usize>)> = summaries
        .iter()
        .map(|a| (a.code.clone(), members(&a.code)))
        .collect();
    // Each area's parent row, for the linked tables of secondary suppression.
    let parents: Vec<Option<usize>> = summaries
        .iter()
        .map(|a| {
            let parent = a.parent.as_deref()?;
            summaries.iter().position(|p| p.code == parent)
        })
        .collect();
    let mut template_order: Vec<usize> = (0..reference.templates.len()).collect();
    template_order.sort_by(|&a, &b| reference.templates[a].cmp(&reference.templates[b]));

    let mut out = Vec::with_capacity(aggregator.months);
    for month in 0..aggregator.months {
        let month_value = aggregator.first_month.plus_months(month as i64);
        // Unrounded totals per area, template by template and then all templates.
        let width = template_order.len() + 1;
        let mut unrounded: Vec<[u64; MEASURES]> = Vec::with_capacity(area_members.len() * width);
        for (_, boroughs) in &area_members {
            let mut all = [0u64; MEASURES];
            for &t in &template_order {
                let mut total = [0u64; MEASURES];
                for &b in boroughs {
                    for (slot, value) in total.iter_mut().zip(aggregator.unrounded(month, b, t)) {
                        *slot += value;
                    }
                }
                for (slot, value) in all.iter_mut().zip(total) {
                    *slot += value;
                }
                unrounded.push(total);
            }
            unrounded.push(all);
        }
        let mut counts: Vec<[Count; MEASURES]> = unrounded
            .iter()
            .map(|cell| cell.map(|count| disclosure::publish(count, rule)))
            .collect();
        if rule.secondary_suppression {
            protect_month(
                &unrounded,
                &mut counts,
                &parents,
                template_order.len(),
                rule,
            );
        }
        let mut rows = Vec::with_capacity(counts.len());
        for (area, (code, _)) in area_members.iter().enumerate() {
            let row = |template: &str, counts: [Count; MEASURES]| MetricRow {
                month: month_value,
                area_code: code.clone(),
                template: template.to_owned(),
                counts,
                line: 0,
            };
            rows.push(row(ALL_TEMPLATES, counts[area * width + width - 1]));
            for (column, &t) in template_order.iter().enumerate() {
                rows.push(row(&reference.templates[t], counts[area * width + column]));
            }
        }
        out.push((month_value, rows));
    }
    out
}

/// Secondary suppression of one month, measure by measure over the linked area x template
/// table. Wholes go first: where one is hidden as secondary, its parts are hidden with it, and
/// then each part's own table is protected with those cells already hidden.
fn protect_month(
    unrounded: &[[u64; MEASURES]],
    counts: &mut [[Count; MEASURES]],
    parents: &[Option<usize>],
    columns: usize,
    rule: &DisclosureRule,
) {
    // A reader who saw a part published beside its hidden whole would learn the whole is at
    // least that large, so wholes go first and hide their parts.
    let is_part = |m: &Measure| m.whole().is_some();
    let order = Measure::ALL
        .iter()
        .filter(|m| !is_part(m))
        .chain(Measure::ALL.iter().filter(|m| is_part(m)));
    for &measure in order {
        let index = measure.index();
        let values = unrounded.iter().map(|cell| cell[index]).collect();
        let mut table = LinkedTable::new(parents.to_vec(), columns, values, rule.threshold);
        if let Some(whole) = measure.whole() {
            for (cell, status) in table.status.iter_mut().enumerate() {
                let whole_hidden = counts[cell][whole.index()] == Count::Suppressed;
                if whole_hidden && *status == CellStatus::Published {
                    *status = CellStatus::Secondary;
                }
            }
        }
        table.protect();
        for (cell, status) in table.status.iter().enumerate() {
            if *status == CellStatus::Secondary {
                counts[cell][index] = Count::Suppressed;
            }
        }
    }
}

/// Published count for tests and summaries.
pub fn published_value(row: &MetricRow, measure: Measure) -> Option<u64> {
    match row.get(measure) {
        Count::Value(v) => Some(v),
        Count::Suppressed => None,
    }
}
