//! The seeded record-level model of a care-plan programme: people get plans, services view
//! them, people die (mostly, we hope, where they wished). Output is pseudonymous plan records
//! and audit events fed to a `Sink`; nothing here aggregates or rounds.
//!
//! The shape follows DOMAIN.md: about 115,000 Londoners with a plan in 2020, uptake
//! concentrated in older age bands and growing after each area's programme starts, COVID-19
//! waves in spring 2020 and winter 2021, views concentrated in the last months of life.

use crate::extract::Reference;
use crate::model::{Month, Service, TemplateStatus};

use super::rng::Rng;

/// Share of new plans by age band (index as `extract::AGE_BANDS`).
const AGE_SHARE: [f64; 5] = [0.02, 0.13, 0.17, 0.30, 0.38];

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

    /// Monthly chance of dying for someone with this kind of plan, before seasonal effects.
    fn death_hazard(self) -> f64 {
        match self {
            TemplateProfile::EndOfLife => 0.065,
            TemplateProfile::HeartFailure => 0.028,
            TemplateProfile::Dementia => 0.024,
            TemplateProfile::Frailty => 0.027,
            TemplateProfile::General => 0.016,
            TemplateProfile::Children => 0.004,
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
    pub retired_from: Option<Month>,
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
    /// Programme start month per STP area code.
    pub programme_starts: Vec<(String, Month)>,
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
    pub cpr_recorded: bool,
    pub preferred_place_recorded: bool,
    /// The month the person died, if within the model's window.
    pub died: Option<Month>,
    pub died_in_preferred_place: bool,
    /// The month the plan was archived, if it was.
    pub archived: Option<Month>,
}

impl PlanRecord {
    /// Whether the plan belongs to someone alive with a live plan at the end of `month`.
    pub fn active_at_end_of(&self, month: Month) -> bool {
        self.created <= month
            && self.died.is_none_or(|died| died > month)
            && self.archived.is_none_or(|archived| archived > month)
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

/// Plans alive at the start of the window, London-wide, at scale 1.
const STOCK_AT_START: f64 = 109_000.0;
/// New plans a month, London-wide, at the start of the window, at scale 1.
const NEW_PLANS_AT_START: f64 = 2_350.0;
/// Growth of new plans a month, per month.
const MONTHLY_GROWTH: f64 = 0.004;
/// Extra new plans once an area's programme has ramped up.
const PROGRAMME_EFFECT: f64 = 0.35;
/// Months an area's programme takes to reach its full effect.
const PROGRAMME_RAMP_MONTHS: f64 = 4.0;
/// Monthly chance a plan is archived (moved away, withdrawn).
const ARCHIVE_HAZARD: f64 = 0.003;

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
            profiles: inputs
                .templates
                .iter()
                .map(|t| TemplateProfile::from_id(&t.id))
                .collect(),
            borough_share: weights.iter().map(|w| w / total).collect(),
        }
    }

    /// How far an area's programme has ramped up by `month` (0 before it starts, up to 1).
    fn programme_progress(&self, borough: usize, month: Month) -> f64 {
        let stp = &self.inputs.boroughs[borough].stp;
        self.inputs
            .programme_starts
            .iter()
            .filter(|(area, _)| area == stp)
            .map(|(_, start)| {
                let months_in = (month.index() - start.index() + 1) as f64;
                (months_in / PROGRAMME_RAMP_MONTHS).clamp(0.0, 1.0)
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
    }

    /// Picks a template a plan created in `month` for someone in `age_band` could use.
    fn pick_template(&self, rng: &mut Rng, age_band: usize, month: Month) -> Option<usize> {
        let legacy_share = |template: &TemplateInput| {
            // A template on its way out takes a shrinking share until it is retired.
            match template.retired_from {
                Some(retired) if month >= retired => 0.0,
                Some(retired) => {
                    let left = (retired.index() - month.index()) as f64;
                    (0.08 + 0.6 * (left / 48.0).min(1.0)).min(0.7)
                }
                None => 0.0,
            }
        };
        let weights: Vec<f64> = self
            .inputs
            .templates
            .iter()
            .zip(&self.profiles)
            .map(|(template, profile)| match template.status {
                TemplateStatus::Draft => 0.0,
                TemplateStatus::Retired => {
                    if age_band == 0 {
                        0.0
                    } else {
                        legacy_share(template)
                    }
                }
                TemplateStatus::Active => profile.weight(age_band),
            })
            .collect();
        (weights.iter().sum::<f64>() > 0.0).then(|| rng.weighted(&weights))
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
        let Some(template) = self
            .pick_template(&mut rng, age_band, created)
            .or_else(|| self.pick_template(&mut rng, 4, created))
        else {
            return;
        };
        let profile = self.profiles[template];
        let programme_at_creation = self.programme_progress(borough, created);
        let mut plan = PlanRecord {
            plan_id: pseudonym(Rng::for_item(inputs.seed, 4, index).next_u64()),
            borough,
            template,
            age_band,
            created,
            last_updated: created,
            status: PlanStatus::Active,
            cpr_recorded: rng.chance(0.86 + 0.08 * programme_at_creation),
            preferred_place_recorded: rng.chance(0.82 + 0.10 * programme_at_creation),
            died: None,
            died_in_preferred_place: false,
            archived: None,
        };
        // Survivors of earlier years are, on average, less frail than new referrals.
        let frailty = if stock { 0.55 } else { 1.0 } * (0.6 + 0.8 * rng.unit());
        let last = inputs.last_month();
        let mut month = created.max(inputs.first_month);
        while month <= last {
            let hazard = profile.death_hazard() * frailty * seasonal_mortality(month);
            if rng.chance(hazard) {
                plan.died = Some(month);
                plan.status = PlanStatus::Deceased;
                // About three quarters of people with a plan die where they wished (HIN).
                let wish_met = if profile == TemplateProfile::EndOfLife {
                    0.9
                } else {
                    0.86
                };
                plan.died_in_preferred_place =
                    plan.preferred_place_recorded && rng.chance(wish_met);
                break;
            }
            if rng.chance(ARCHIVE_HAZARD) {
                plan.archived = Some(month);
                plan.status = PlanStatus::Archived;
                break;
            }
            month = month.next();
        }
        // Audit events: drawn after the plan's course is known, so views can rise towards death.
        let mut events = Vec::new();
        let end = plan.died.or(plan.archived).unwrap_or(last);
        let mut month = created.max(inputs.first_month);
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
            if rng.chance(0.04) {
                plan.last_updated = month;
                events.push(Event {
                    plan: index,
                    month,
                    timestamp: random_time_in(&mut rng, month),
                    service: Service::GeneralPractice,
                    kind: EventKind::Update,
                });
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
                    retired_from: None,
                },
                TemplateInput {
                    id: "legacy".into(),
                    status: TemplateStatus::Retired,
                    retired_from: Some(Month::new(2020, 7).unwrap()),
                },
            ],
            programme_starts: vec![("E54000029".into(), Month::new(2020, 3).unwrap())],
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
