//! The seeded record-level model of a care-plan programme: people get plans, services view
//! them, plans are reviewed (or go stale), people die (mostly, we hope, where they wished).
//! Output is pseudonymous plan records and audit events fed to a `Sink`; nothing here
//! aggregates or rounds.
//!
//! The shape follows DOMAIN.md: about 115,000 Londoners with a plan in late 2020, uptake
//! concentrated in older age bands and growing after each area's programme starts, COVID-19
//! waves in spring 2020 and winter 2021, views concentrated in the last months of life.
//!
//! Templates follow the history. Each person has a clinical profile (general, end of life,
//! dementia, heart failure, frailty, child); a plan uses the template for that profile that is
//! available in the month it is made, else an available general template: before July 2022
//! that is Coordinate My Care's, the only template there was. When a template with a
//! replacement retires (CMC, July 2022), its plans that were created or reviewed in the 12
//! months before are migrated: the same plan moves to the template for its profile that is
//! available then (a dementia profile to the dementia template, a child to the children's
//! template, anyone else to the Universal Care Plan); the rest, stale, are not migrated and are
//! archived that month. A migrated plan is not a new plan.

use crate::extract::Reference;
use crate::model::{Month, Service, TemplateStatus};

use super::rng::Rng;

/// Share of new plans by age band (index as `extract::AGE_BANDS`).
const AGE_SHARE: [f64; 5] = [0.02, 0.13, 0.17, 0.30, 0.38];

/// Every kind of person the model makes plans for, in a fixed order (the seed's streams depend
/// on it).
const PROFILES: [TemplateProfile; 6] = [
    TemplateProfile::General,
    TemplateProfile::EndOfLife,
    TemplateProfile::Dementia,
    TemplateProfile::HeartFailure,
    TemplateProfile::Frailty,
    TemplateProfile::Children,
];

/// What kind of care a template is for; decides who gets it and how long they live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateProfile {
    General,
    EndOfLife,
    Dementia,
    HeartFailure,
    Frailty,
    Children,
}

impl TemplateProfile {
    /// Recognises the bundled templates by id; anything else is a general plan.
    pub fn from_id(id: &str) -> TemplateProfile {
        if id.contains("end-of-life") || id.contains("palliative") {
            TemplateProfile::EndOfLife
        } else if id.contains("dementia") {
            TemplateProfile::Dementia
        } else if id.contains("heart") {
            TemplateProfile::HeartFailure
        } else if id.contains("frail") {
            TemplateProfile::Frailty
        } else if id.contains("child") || id.contains("young") {
            TemplateProfile::Children
        } else {
            TemplateProfile::General
        }
    }

    /// Relative chance that a new plan for someone in `age_band` uses this kind of template.
    fn weight(self, age_band: usize) -> f64 {
        let adult = age_band >= 1;
        match self {
            TemplateProfile::Children => f64::from(u8::from(age_band == 0)),
            _ if !adult => 0.0,
            TemplateProfile::General => 0.36,
            TemplateProfile::EndOfLife => 0.26,
            TemplateProfile::Dementia => [0.0, 0.01, 0.08, 0.16, 0.20][age_band],
            TemplateProfile::HeartFailure => [0.0, 0.03, 0.10, 0.10, 0.08][age_band],
            TemplateProfile::Frailty => [0.0, 0.0, 0.04, 0.14, 0.22][age_band],
        }
    }

    /// Share of new plans of this kind with a CPR decision made (for or not for CPR).
    fn cpr_decision_share(self) -> f64 {
        match self {
            TemplateProfile::EndOfLife => 0.84,
            TemplateProfile::Frailty => 0.74,
            TemplateProfile::Dementia | TemplateProfile::HeartFailure => 0.70,
            TemplateProfile::General => 0.60,
            TemplateProfile::Children => 0.50,
        }
    }

    /// Monthly chance the plan is reviewed: plans near the end of life are revised more often.
    fn review_rate(self) -> f64 {
        match self {
            TemplateProfile::EndOfLife => 2.0 * REVIEW_RATE,
            _ => REVIEW_RATE,
        }
    }

    /// Monthly chance of dying for someone with this kind of plan, before seasonal effects.
    fn death_hazard(self) -> f64 {
        match self {
            TemplateProfile::EndOfLife => 0.045,
            TemplateProfile::HeartFailure => 0.017,
            TemplateProfile::Dementia => 0.015,
            TemplateProfile::Frailty => 0.016,
            TemplateProfile::General => 0.0095,
            TemplateProfile::Children => 0.003,
        }
    }
}

/// A borough as the model needs it.
#[derive(Debug, Clone)]
pub struct BoroughInput {
    pub code: String,
    pub stp: String,
    pub aged_75_plus: u64,
}

/// A template as the model needs it.
#[derive(Debug, Clone)]
pub struct TemplateInput {
    pub id: String,
    pub status: TemplateStatus,
    /// First month new plans may use it (always, when absent).
    pub available_from: Option<Month>,
    /// First month no new plan may use it.
    pub retired_from: Option<Month>,
    /// Whether it was replaced: its current plans then migrate when it retires.
    pub replaced: bool,
}

impl TemplateInput {
    /// Whether a new plan may use the template in `month`.
    fn available_in(&self, month: Month) -> bool {
        self.status != TemplateStatus::Draft
            && self.available_from.is_none_or(|from| from <= month)
            && self.retired_from.is_none_or(|retired| month < retired)
    }
}

/// Everything the model is run with.
#[derive(Debug, Clone)]
pub struct ModelInputs {
    /// The codes plans may use; `boroughs` and `templates` follow its order.
    pub reference: Reference,
    pub seed: u64,
    pub first_month: Month,
    pub months: u32,
    /// Multiplies the number of people (1.0 is London's scale).
    pub scale: f64,
    /// Multiplies how often services view plans (1.0 is the model's rates); lets benchmarks ask
    /// for a given number of events without changing the people.
    pub view_scale: f64,
    pub boroughs: Vec<BoroughInput>,
    pub templates: Vec<TemplateInput>,
    /// Each programme's STP area code, start month and end month (if it ended).
    pub programmes: Vec<(String, Month, Option<Month>)>,
}

impl ModelInputs {
    pub fn last_month(&self) -> Month {
        self.first_month.plus_months(i64::from(self.months) - 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStatus {
    Active,
    Deceased,
    /// Withdrawn or archived (moved away, no longer wanted).
    Archived,
}

impl PlanStatus {
    pub fn id(self) -> &'static str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Deceased => "deceased",
            PlanStatus::Archived => "archived",
        }
    }
}

/// One pseudonymous plan, as a record-level extract holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRecord {
    /// Pseudonymous id: never derived from anything about the person.
    pub plan_id: String,
    /// Index into `ModelInputs::boroughs`.
    pub borough: usize,
    /// Index into `ModelInputs::templates`.
    pub template: usize,
    /// Index into `extract::AGE_BANDS`.
    pub age_band: usize,
    pub created: Month,
    /// The last month the plan was revised; for an archived plan, the month it was archived.
    pub last_updated: Month,
    pub status: PlanStatus,
    /// A CPR decision made (for CPR or not for CPR), not "not yet decided".
    pub cpr_decision_made: bool,
    /// A preferred place of death recorded.
    pub preference_expressed: bool,
    /// The month the person died, if within the model's window.
    pub died: Option<Month>,
    pub died_in_preferred_place: bool,
    /// The month the plan was archived, if it was.
    pub archived: Option<Month>,
    /// The template the plan used before it moved to `template`, and the month it moved.
    pub earlier_template: Option<(usize, Month)>,
    /// The months the plan was updated (reviewed), in order: each is an update event.
    pub updates: Vec<Month>,
}

impl PlanRecord {
    /// Whether the plan belongs to someone alive with a live plan at the end of `month`.
    pub fn active_at_end_of(&self, month: Month) -> bool {
        self.created <= month
            && self.died.is_none_or(|died| died > month)
            && self.archived.is_none_or(|archived| archived > month)
    }

    /// The template the plan uses in `month`.
    pub fn template_in(&self, month: Month) -> usize {
        match self.earlier_template {
            Some((earlier, changed)) if month < changed => earlier,
            _ => self.template,
        }
    }

    /// The template the plan was created with.
    pub fn first_template(&self) -> usize {
        self.earlier_template
            .map_or(self.template, |(earlier, _)| earlier)
    }

    /// Whether the plan was created or reviewed in the `REVIEW_MONTHS` months up to the end of
    /// `month`.
    pub fn reviewed_by(&self, month: Month) -> bool {
        let since = month.plus_months(1 - crate::extract::REVIEW_MONTHS);
        let recent = |m: Month| since <= m && m <= month;
        recent(self.created) || self.updates.iter().any(|&m| recent(m))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    View,
    Update,
}

impl EventKind {
    pub fn id(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::Update => "update",
        }
    }
}

/// One audit event on a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Index of the plan in generation order.
    pub plan: u64,
    pub month: Month,
    /// Seconds since 1970-01-01 UTC, within `month`.
    pub timestamp: i64,
    pub service: Service,
    pub kind: EventKind,
}

/// Receives the model's output as it is generated, so nothing needs to fit in memory at once.
pub trait Sink {
    /// Called once per plan, before its events.
    fn plan(&mut self, index: u64, plan: &PlanRecord);
    fn event(&mut self, event: &Event);
}

/// Deaths registered in London a year, in round figures (ONS death registrations by area of
/// usual residence: about 900 a week, some 50,000 a year, more in 2020's COVID-19 waves). The
/// model's plan holders are calibrated to die at well under 45% of these; they are a
/// calibration target, not published figures.
pub const LONDON_REGISTERED_DEATHS: [(i32, u64); 6] = [
    (2019, 50_000),
    (2020, 60_000),
    (2021, 52_000),
    (2022, 50_000),
    (2023, 50_000),
    (2024, 50_000),
];

/// Plans alive at the start of the window, London-wide, at scale 1.
const STOCK_AT_START: f64 = 118_000.0;
/// New plans a month, London-wide, at the start of the window, at scale 1.
const NEW_PLANS_AT_START: f64 = 1_500.0;
/// Growth of new plans a month, per month.
const MONTHLY_GROWTH: f64 = 0.001;
/// Extra new plans once an area's programme has ramped up.
const PROGRAMME_EFFECT: f64 = 0.35;
/// Months an area's programme takes to reach its full effect.
const PROGRAMME_RAMP_MONTHS: f64 = 4.0;
/// New plans in the first month after a template switch, against the month before.
const SWITCH_DIP: f64 = 0.4;
/// Monthly chance a plan is archived (moved away, withdrawn).
const ARCHIVE_HAZARD: f64 = 0.003;
/// Monthly chance a plan is reviewed (revised and published again), outside the last months
/// of life; a plan is meant to be reviewed at least yearly, and many are not.
const REVIEW_RATE: f64 = 0.027;
/// Months of review history a plan made before the window carries into it: reviews older
/// than this change no published figure.
const STOCK_HISTORY: i64 = crate::extract::REVIEW_MONTHS;

/// Views per active plan a month, by service, outside the last months of life.
const VIEW_RATES: [(Service, f64); 5] = [
    (Service::Ambulance, 0.022),
    (Service::Nhs111, 0.028),
    (Service::OutOfHoursGp, 0.018),
    (Service::EmergencyDepartment, 0.016),
    (Service::GeneralPractice, 0.055),
];

/// Extra mortality of the COVID-19 waves (and a winter), by month.
fn seasonal_mortality(month: Month) -> f64 {
    match (month.year, month.month) {
        (2020, 4) => 2.6,
        (2020, 5) => 1.5,
        (2021, 1) => 1.9,
        (2021, 2) => 1.3,
        (_, 12 | 1 | 2) => 1.15,
        _ => 1.0,
    }
}

/// Extra new plans in the COVID-19 waves, when clinicians raced to record wishes.
fn seasonal_uptake(month: Month) -> f64 {
    match (month.year, month.month) {
        (2020, 4) => 2.3,
        (2020, 5) => 1.6,
        (2020, 6) => 1.2,
        (2021, 1) => 1.5,
        _ => 1.0,
    }
}

/// The number of plans the model expects to create at the inputs' scale (stock plus new).
pub fn expected_plans(inputs: &ModelInputs) -> f64 {
    let model = Model::new(inputs);
    let mut total = STOCK_AT_START * inputs.scale;
    for offset in 0..inputs.months {
        let month = inputs.first_month.plus_months(i64::from(offset));
        total += (0..inputs.boroughs.len())
            .map(|b| model.expected_new_plans(b, month))
            .sum::<f64>();
    }
    total
}

/// Runs the model, sending every plan and event to `sink` in a fixed order.
pub fn run(inputs: &ModelInputs, sink: &mut dyn Sink) {
    let model = Model::new(inputs);
    let mut index = 0u64;
    // People who already had a plan when the window opens.
    for borough in 0..inputs.boroughs.len() {
        let mut rng = Rng::for_item(inputs.seed, 1, borough as u64);
        let count = rng.poisson(STOCK_AT_START * inputs.scale * model.borough_share[borough]);
        for _ in 0..count {
            let created = inputs.first_month.plus_months(-1 - rng.below(72) as i64);
            model.simulate(index, borough, created, true, sink);
            index += 1;
        }
    }
    // New plans, month by month.
    for offset in 0..inputs.months {
        let month = inputs.first_month.plus_months(i64::from(offset));
        for borough in 0..inputs.boroughs.len() {
            let mut rng = Rng::for_item(inputs.seed, 2, u64::from(offset) << 16 | borough as u64);
            let count = rng.poisson(model.expected_new_plans(borough, month));
            for _ in 0..count {
                model.simulate(index, borough, month, false, sink);
                index += 1;
            }
        }
    }
}

struct Model<'a> {
    inputs: &'a ModelInputs,
    /// When plans first moved to a successor template (CMC to UCP), if they did.
    switch: Option<Month>,
    profiles: Vec<TemplateProfile>,
    /// Share of London's new plans each borough would get without programmes.
    borough_share: Vec<f64>,
}

impl<'a> Model<'a> {
    fn new(inputs: &'a ModelInputs) -> Model<'a> {
        // Uptake follows the older population, with a local factor for how engaged each
        // borough's practices and hospices are.
        let weights: Vec<f64> = inputs
            .boroughs
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut rng = Rng::for_item(inputs.seed, 0, i as u64);
                b.aged_75_plus as f64 * (0.7 + 0.6 * rng.unit())
            })
            .collect();
        let total: f64 = weights.iter().sum::<f64>().max(1.0);
        Model {
            inputs,
            switch: inputs
                .templates
                .iter()
                .filter(|t| t.replaced)
                .filter_map(|t| t.retired_from)
                .min(),
            profiles: inputs
                .templates
                .iter()
                .map(|t| TemplateProfile::from_id(&t.id))
                .collect(),
            borough_share: weights.iter().map(|w| w / total).collect(),
        }
    }

    /// How far an area's programme has ramped up by `month` (0 before it starts, up to 1);
    /// after it ends, half its effect fades over a year (champions move on, training stays).
    fn programme_progress(&self, borough: usize, month: Month) -> f64 {
        let stp = &self.inputs.boroughs[borough].stp;
        self.inputs
            .programmes
            .iter()
            .filter(|(area, _, _)| area == stp)
            .map(|(_, start, end)| {
                let months_in = (month.index() - start.index() + 1) as f64;
                let ramp = (months_in / PROGRAMME_RAMP_MONTHS).clamp(0.0, 1.0);
                let fade = end.map_or(1.0, |end| {
                    let months_after = (month.index() - end.index()) as f64;
                    (1.0 - 0.5 * months_after / 12.0).clamp(0.5, 1.0)
                });
                ramp * fade
            })
            .fold(0.0, f64::max)
    }

    fn expected_new_plans(&self, borough: usize, month: Month) -> f64 {
        let months_in = (month.index() - self.inputs.first_month.index()) as f64;
        NEW_PLANS_AT_START
            * self.inputs.scale
            * self.borough_share[borough]
            * (1.0 + MONTHLY_GROWTH).powf(months_in)
            * seasonal_uptake(month)
            * (1.0 + PROGRAMME_EFFECT * self.programme_progress(borough, month))
            * self.switch_recovery(month)
    }

    /// New plans dip when a replaced template retires and the services move to its successor
    /// (new system, new training), then recover over a year: half as many in the first month.
    fn switch_recovery(&self, month: Month) -> f64 {
        match self.switch {
            Some(switch) if month >= switch => {
                let months_since = (month.index() - switch.index()) as f64;
                (SWITCH_DIP + (1.0 - SWITCH_DIP) * months_since / 12.0).min(1.0)
            }
            _ => 1.0,
        }
    }

    /// The template a new plan for someone with `profile` uses in `month`: one available then
    /// made for that profile, else an available general template (CMC's, before July 2022).
    fn template_for(&self, rng: &mut Rng, profile: TemplateProfile, month: Month) -> Option<usize> {
        let available = |wanted: Option<TemplateProfile>| -> Vec<usize> {
            (0..self.inputs.templates.len())
                .filter(|&t| self.inputs.templates[t].available_in(month))
                .filter(|&t| wanted.is_none_or(|p| self.profiles[t] == p))
                .collect()
        };
        [Some(profile), Some(TemplateProfile::General), None]
            .into_iter()
            .map(available)
            .find(|choices| !choices.is_empty())
            .map(|choices| choices[rng.below(choices.len() as u64) as usize])
    }

    /// Lives one person's plan from `created` to the end of the window.
    fn simulate(
        &self,
        index: u64,
        borough: usize,
        created: Month,
        stock: bool,
        sink: &mut dyn Sink,
    ) {
        let inputs = self.inputs;
        let mut rng = Rng::for_item(inputs.seed, 3, index);
        let age_band = rng.weighted(&AGE_SHARE);
        let weights: Vec<f64> = PROFILES.iter().map(|p| p.weight(age_band)).collect();
        let profile = PROFILES[rng.weighted(&weights)];
        let Some(template) = self.template_for(&mut rng, profile, created) else {
            return;
        };
        let programme_at_creation = self.programme_progress(borough, created);
        let mut plan = PlanRecord {
            plan_id: pseudonym(Rng::for_item(inputs.seed, 4, index).next_u64()),
            borough,
            template,
            age_band,
            created,
            last_updated: created,
            status: PlanStatus::Active,
            cpr_decision_made: rng
                .chance(profile.cpr_decision_share() + 0.08 * programme_at_creation),
            preference_expressed: rng.chance(0.70 + 0.10 * programme_at_creation),
            died: None,
            died_in_preferred_place: false,
            archived: None,
            earlier_template: None,
            updates: Vec::new(),
        };
        let first = inputs.first_month;
        // A plan made before the window brings the reviews of its last year with it.
        if created < first {
            let mut month = created.next().max(first.plus_months(-STOCK_HISTORY));
            while month < first {
                if rng.chance(profile.review_rate()) {
                    plan.updates.push(month);
                    plan.last_updated = month;
                }
                month = month.next();
            }
        }
        // Survivors of earlier years are, on average, less frail than new referrals.
        let frailty = if stock { 0.55 } else { 1.0 } * (0.6 + 0.8 * rng.unit());
        let last = inputs.last_month();
        let mut month = created.max(first);
        while month <= last {
            let current = &inputs.templates[plan.template];
            if current.replaced
                && current.retired_from == Some(month)
                && plan.earlier_template.is_none()
            {
                // Its template retires with a replacement: migrated if current, else stale.
                let moved_to = if plan.reviewed_by(month.plus_months(-1)) {
                    self.template_for(&mut rng, profile, month)
                } else {
                    None
                };
                match moved_to {
                    Some(next) => {
                        plan.earlier_template = Some((plan.template, month));
                        plan.template = next;
                    }
                    None => {
                        plan.archived = Some(month);
                        plan.status = PlanStatus::Archived;
                        break;
                    }
                }
            }
            let hazard = profile.death_hazard() * frailty * seasonal_mortality(month);
            if rng.chance(hazard) {
                plan.died = Some(month);
                plan.status = PlanStatus::Deceased;
                // About three quarters of people with a preference recorded die where they
                // wished (HIN); only a recorded preference can be met or missed.
                let wish_met = if profile == TemplateProfile::EndOfLife {
                    0.82
                } else {
                    0.74
                };
                plan.died_in_preferred_place = plan.preference_expressed && rng.chance(wish_met);
                break;
            }
            if rng.chance(ARCHIVE_HAZARD) {
                plan.archived = Some(month);
                plan.status = PlanStatus::Archived;
                break;
            }
            if month > created && rng.chance(profile.review_rate()) {
                plan.updates.push(month);
                plan.last_updated = month;
            }
            month = month.next();
        }
        // Audit events: drawn after the plan's course is known, so views can rise towards death.
        let mut events: Vec<Event> = plan
            .updates
            .iter()
            .map(|&month| Event {
                plan: index,
                month,
                timestamp: random_time_in(&mut rng, month),
                service: Service::GeneralPractice,
                kind: EventKind::Update,
            })
            .collect();
        let end = plan.died.or(plan.archived).unwrap_or(last);
        let mut month = created.max(first);
        while month <= end {
            let months_to_death = plan.died.map(|died| died.index() - month.index());
            for (service, rate) in VIEW_RATES {
                let boost = match (months_to_death, service) {
                    (Some(0 | 1), Service::GeneralPractice) => 3.0,
                    (Some(0 | 1), _) => 7.0,
                    (Some(2 | 3), _) => 2.0,
                    _ => 1.0,
                };
                for _ in 0..rng.poisson(rate * boost * inputs.view_scale) {
                    events.push(Event {
                        plan: index,
                        month,
                        timestamp: random_time_in(&mut rng, month),
                        service,
                        kind: EventKind::View,
                    });
                }
            }
            month = month.next();
        }
        // Archiving is the plan's last revision, so an extract can tell when it stopped being live.
        if let Some(archived) = plan.archived {
            plan.last_updated = archived;
        }
        events.sort_by_key(|e| e.timestamp);
        sink.plan(index, &plan);
        for event in &events {
            sink.event(event);
        }
    }
}

/// A pseudonymous plan id: 14 letters from 64 random bits. Letters only, so no run of digits can
/// ever look like an NHS number to the identifier checks.
pub fn pseudonym(mut bits: u64) -> String {
    let mut id = String::with_capacity(16);
    id.push_str("P-");
    for _ in 0..14 {
        id.push(char::from(b'A' + (bits % 26) as u8));
        bits /= 26;
    }
    id
}

/// Days from 1970-01-01 to the first day of `month`.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn random_time_in(rng: &mut Rng, month: Month) -> i64 {
    let start = days_from_civil(month.year, month.month, 1) * 86_400;
    let next = month.next();
    let end = days_from_civil(next.year, next.month, 1) * 86_400;
    start + rng.below((end - start) as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn small_inputs(seed: u64) -> ModelInputs {
        ModelInputs {
            reference: Reference {
                boroughs: vec!["E09000001".into(), "E09000002".into()],
                templates: vec!["urgent-care-plan".into(), "legacy".into()],
            },
            seed,
            first_month: Month::new(2020, 1).unwrap(),
            months: 12,
            scale: 0.01,
            view_scale: 1.0,
            boroughs: vec![
                BoroughInput {
                    code: "E09000001".into(),
                    stp: "E54000029".into(),
                    aged_75_plus: 600,
                },
                BoroughInput {
                    code: "E09000002".into(),
                    stp: "E54000029".into(),
                    aged_75_plus: 12_000,
                },
            ],
            templates: vec![
                TemplateInput {
                    id: "urgent-care-plan".into(),
                    status: TemplateStatus::Active,
                    available_from: Some(Month::new(2020, 7).unwrap()),
                    retired_from: None,
                    replaced: false,
                },
                TemplateInput {
                    id: "legacy".into(),
                    status: TemplateStatus::Retired,
                    available_from: None,
                    retired_from: Some(Month::new(2020, 7).unwrap()),
                    replaced: true,
                },
            ],
            programmes: vec![("E54000029".into(), Month::new(2020, 3).unwrap(), None)],
        }
    }

    #[derive(Default)]
    struct Collect {
        plans: Vec<PlanRecord>,
        events: Vec<Event>,
    }

    impl Sink for Collect {
        fn plan(&mut self, _: u64, plan: &PlanRecord) {
            self.plans.push(plan.clone());
        }
        fn event(&mut self, event: &Event) {
            self.events.push(*event);
        }
    }

    #[test]
    fn same_seed_gives_the_same_population() {
        let (mut a, mut b) = (Collect::default(), Collect::default());
        run(&small_inputs(9), &mut a);
        run(&small_inputs(9), &mut b);
        assert_eq!(a.plans, b.plans);
        assert_eq!(a.events, b.events);
        let mut c = Collect::default();
        run(&small_inputs(10), &mut c);
        assert_ne!(a.plans, c.plans);
    }

    #[test]
    fn retired_template_gets_no_new_plans_after_retirement() {
        let mut out = Collect::default();
        run(&small_inputs(1), &mut out);
        let retired_from = Month::new(2020, 7).unwrap();
        assert!(out.plans.iter().any(|p| p.template == 1));
        assert!(
            !out.plans
                .iter()
                .any(|p| p.template == 1 && p.created >= retired_from)
        );
    }

    #[test]
    fn a_replaced_templates_current_plans_migrate_and_stale_ones_are_archived() {
        let mut out = Collect::default();
        run(&small_inputs(3), &mut out);
        let switch = Month::new(2020, 7).unwrap();
        // Before the switch every plan is made on the legacy template, after it none is.
        assert!(
            out.plans
                .iter()
                .all(|p| (p.created < switch) == (p.first_template() == 1))
        );
        // Nothing is on the legacy template at the end of the switch month.
        assert!(
            !out.plans
                .iter()
                .any(|p| p.active_at_end_of(switch) && p.template_in(switch) == 1)
        );
        let live_before: Vec<&PlanRecord> = out
            .plans
            .iter()
            .filter(|p| p.active_at_end_of(switch.plus_months(-1)))
            .collect();
        let migrated = live_before
            .iter()
            .filter(|p| p.earlier_template == Some((1, switch)))
            .count();
        let archived = live_before
            .iter()
            .filter(|p| p.archived == Some(switch))
            .count();
        assert!(
            migrated > 0 && archived > 0,
            "{migrated} migrated, {archived} archived"
        );
        // Only plans made or reviewed in the year before moved.
        for plan in &live_before {
            let current = plan.reviewed_by(switch.plus_months(-1));
            if plan.earlier_template.is_some() {
                assert!(current);
            }
        }
    }

    #[test]
    fn events_fall_within_their_month_and_the_plans_life() {
        let mut out = Collect::default();
        run(&small_inputs(2), &mut out);
        assert!(!out.events.is_empty());
        for event in &out.events {
            let start = days_from_civil(event.month.year, event.month.month, 1) * 86_400;
            assert!(event.timestamp >= start && event.timestamp < start + 31 * 86_400);
        }
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 1, 1), 19_723);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
