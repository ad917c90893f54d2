//! The records as typed values: templates, areas, programmes, reports and metric rows.
//!
//! These types mirror the JSON Schemas in `records-schema/`; they are deserialised only after a
//! document passed its schema, so they hold no validation logic of their own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1..=12
    pub month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// Months since year 0, for arithmetic.
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    pub fn from_index(index: i64) -> Month {
        Month {
            year: index.div_euclid(12) as i32,
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    pub fn plus_months(self, months: i64) -> Month {
        Month::from_index(self.index() + months)
    }

    pub fn next(self) -> Month {
        self.plus_months(1)
    }

    /// The month this program runs in, from the system clock (UTC).
    pub fn current() -> Month {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let days = (seconds / 86_400) as i64;
        let (year, month, _) = civil_from_days(days);
        Month { year, month }
    }

    /// "April 2021"
    pub fn long_name(self) -> String {
        const NAMES: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        format!("{} {}", NAMES[(self.month - 1) as usize], self.year)
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time in seconds.
pub fn iso_date(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Converts days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = String;

    fn from_str(text: &str) -> Result<Month, String> {
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[5..].iter().all(u8::is_ascii_digit);
        if !well_formed {
            return Err(format!("`{text}` is not a month in the form YYYY-MM"));
        }
        // Read from the digits just checked (every extract's month cells come through here).
        let digit = |i: usize| u32::from(bytes[i] - b'0');
        let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
        let month = digit(5) * 10 + digit(6);
        Month::new(year as i32, month).ok_or_else(|| format!("`{text}` has a month outside 01..12"))
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A semantic version `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl FromStr for Version {
    type Err = String;

    fn from_str(text: &str) -> Result<Version, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let parse = |part: &str| {
            (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
        };
        match parts.as_slice() {
            [major, minor, patch] => match (parse(major), parse(minor), parse(patch)) {
                (Some(major), Some(minor), Some(patch)) => Ok(Version {
                    major,
                    minor,
                    patch,
                }),
                _ => Err(format!("`{text}` is not a version MAJOR.MINOR.PATCH")),
            },
            _ => Err(format!("`{text}` is not a version MAJOR.MINOR.PATCH")),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Version, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The services that read urgent care plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Service {
    #[serde(rename = "111")]
    Nhs111,
    #[serde(rename = "las")]
    Ambulance,
    #[serde(rename = "ooh-gp")]
    OutOfHoursGp,
    #[serde(rename = "ed")]
    EmergencyDepartment,
    #[serde(rename = "gp")]
    GeneralPractice,
    #[serde(rename = "community")]
    Community,
    #[serde(rename = "hospice")]
    Hospice,
    #[serde(rename = "care-home")]
    CareHome,
}

impl Service {
    /// Every service a template can show a section to (CMC's audit log named these team
    /// types; only the first five are counted as views in the metrics).
    pub const ALL: [Service; 8] = [
        Service::Nhs111,
        Service::Ambulance,
        Service::OutOfHoursGp,
        Service::EmergencyDepartment,
        Service::GeneralPractice,
        Service::Community,
        Service::Hospice,
        Service::CareHome,
    ];

    /// The services that respond in an emergency, for whom safety-critical fields exist.
    pub const URGENT: [Service; 4] = [
        Service::Nhs111,
        Service::Ambulance,
        Service::OutOfHoursGp,
        Service::EmergencyDepartment,
    ];

    /// The id used in records and extracts.
    pub fn id(self) -> &'static str {
        match self {
            Service::Nhs111 => "111",
            Service::Ambulance => "las",
            Service::OutOfHoursGp => "ooh-gp",
            Service::EmergencyDepartment => "ed",
            Service::GeneralPractice => "gp",
            Service::Community => "community",
            Service::Hospice => "hospice",
            Service::CareHome => "care-home",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Nhs111 => "NHS 111",
            Service::Ambulance => "London Ambulance Service",
            Service::OutOfHoursGp => "Out-of-hours GP",
            Service::EmergencyDepartment => "Emergency department",
            Service::GeneralPractice => "GP practice",
            Service::Community => "Community health services",
            Service::Hospice => "Hospice",
            Service::CareHome => "Care home",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateStatus {
    Draft,
    Active,
    Retired,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snomed {
    pub code: String,
    pub term: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub id: String,
    pub title: String,
    pub version: Version,
    pub status: TemplateStatus,
    /// First month in which new plans may use the template; always, when absent.
    pub available_from: Option<Month>,
    pub retired_from: Option<Month>,
    pub replaced_by: Option<String>,
    pub description: String,
    pub audience: Option<String>,
    pub snomed: Option<Snomed>,
    pub visible_to: Option<Vec<Service>>,
    pub sections: Vec<Section>,
}

impl Template {
    /// Every field with its section, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&Section, &Field)> {
        self.sections
            .iter()
            .flat_map(|section| section.fields.iter().map(move |field| (section, field)))
    }

    /// The services that see a field: the field's own list, else its section's, else the
    /// template's, else every service.
    pub fn services_for(&self, section: &Section, field: &Field) -> Vec<Service> {
        field
            .visible_to
            .as_ref()
            .or(section.visible_to.as_ref())
            .or(self.visible_to.as_ref())
            .cloned()
            .unwrap_or_else(|| Service::ALL.to_vec())
    }

    pub fn section_services(&self, section: &Section) -> Vec<Service> {
        section
            .visible_to
            .as_ref()
            .or(self.visible_to.as_ref())
            .cloned()
            .unwrap_or_else(|| Service::ALL.to_vec())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub guidance: Option<String>,
    pub visible_to: Option<Vec<Service>>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    YesNo,
    Choice,
    MultiChoice,
    Date,
    Number,
    Coded,
    Contact,
    ContactList,
    MedicineList,
    Person,
}

impl FieldType {
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Text => "Short text",
            FieldType::LongText => "Free text",
            FieldType::YesNo => "Yes or no",
            FieldType::Choice => "One of a list",
            FieldType::MultiChoice => "Any of a list",
            FieldType::Date => "Date",
            FieldType::Number => "Number",
            FieldType::Coded => "Coded (SNOMED CT)",
            FieldType::Contact => "A contact",
            FieldType::ContactList => "List of contacts",
            FieldType::MedicineList => "List of medicines",
            FieldType::Person => "A professional",
        }
    }
}

/// One option of a choice field: a label, optionally coded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Choice {
    Label(String),
    Coded {
        label: String,
        snomed: Option<Snomed>,
    },
}

impl Choice {
    pub fn label(&self) -> &str {
        match self {
            Choice::Label(label) | Choice::Coded { label, .. } => label,
        }
    }

    pub fn snomed(&self) -> Option<&Snomed> {
        match self {
            Choice::Label(_) => None,
            Choice::Coded { snomed, .. } => snomed.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub options: Vec<Choice>,
    pub value_set: Option<String>,
    pub unit: Option<String>,
    pub required: bool,
    pub safety_critical: bool,
    pub guidance: Option<String>,
    pub snomed: Option<Snomed>,
    pub visible_to: Option<Vec<Service>>,
    /// The field applies (and is then required, when `required`) only when another field has
    /// one of the given answers; otherwise it is not applicable.
    #[serde(default)]
    pub required_when: Option<Condition>,
}

/// When a field applies: another field of the same template (field ids are unique across a
/// template) has one of these answers (option labels; "Yes" or "No" for a yes/no field).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub answers: Vec<String>,
}

impl Condition {
    /// The condition in words, given the deciding field's label: "CPR decision is For CPR or
    /// Not for CPR"; for a field that holds several answers (`multi_choice`), "Devices
    /// includes Home oxygen".
    pub fn describe(&self, label: &str, several_answers: bool) -> String {
        let verb = if several_answers { "includes" } else { "is" };
        let answers = match self.answers.as_slice() {
            [] => "nothing".to_owned(),
            [only] => only.clone(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        };
        format!("{label} {verb} {answers}")
    }
}

impl Template {
    /// A field by id, with its section.
    pub fn field(&self, id: &str) -> Option<(&Section, &Field)> {
        self.fields().find(|(_, field)| field.id == id)
    }

    /// A field's `required_when` in words, naming the deciding field by its label (its id when
    /// no field has it): "CPR decision is Not for CPR".
    pub fn condition_text(&self, condition: &Condition) -> String {
        match self.field(&condition.field) {
            Some((_, deciding)) => condition.describe(
                &deciding.label,
                deciding.field_type == FieldType::MultiChoice,
            ),
            None => condition.describe(&condition.field, false),
        }
    }

    /// When a field must be answered, in words: "Required", "Optional", or with a
    /// `required_when`, "Required when CPR decision is Not for CPR; otherwise not applicable"
    /// ("Optional when ..." for a field that is not required).
    pub fn requirement_text(&self, field: &Field) -> String {
        match (&field.required_when, field.required) {
            (None, true) => "Required".into(),
            (None, false) => "Optional".into(),
            (Some(condition), true) => format!(
                "Required when {}; otherwise not applicable",
                self.condition_text(condition)
            ),
            (Some(condition), false) => format!(
                "Optional when {}; otherwise not applicable",
                self.condition_text(condition)
            ),
        }
    }
}

/// Which level of geography an area is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaLevel {
    London,
    Stp,
    Borough,
}

impl AreaLevel {
    pub fn name(self) -> &'static str {
        match self {
            AreaLevel::London => "London",
            AreaLevel::Stp => "STP area",
            AreaLevel::Borough => "borough",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Areas {
    pub london: Region,
    pub stp_areas: Vec<StpArea>,
    pub boroughs: Vec<Borough>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StpArea {
    pub code: String,
    pub short: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Borough {
    pub code: String,
    pub name: String,
    /// The label on the tile map; the first letters of the name when absent.
    pub short: Option<String>,
    /// The E54 code of the STP area the borough belongs to.
    pub stp: String,
    /// London Squared tile position: column (west to east), row (north to south).
    pub tile: [u32; 2],
    /// Residents aged 18 and over.
    pub adults: u64,
    pub aged_75_plus: u64,
}

/// One area at any level, with populations summed from its boroughs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaSummary {
    pub code: String,
    pub name: String,
    pub short: String,
    pub level: AreaLevel,
    /// The STP area code for a borough, London's code for an STP area, none for London.
    pub parent: Option<String>,
    pub adults: u64,
    pub aged_75_plus: u64,
}

impl Areas {
    /// London, then each STP area, then each borough, with populations added up from boroughs.
    pub fn summaries(&self) -> Vec<AreaSummary> {
        let sum = |filter: &dyn Fn(&Borough) -> bool| {
            self.boroughs
                .iter()
                .filter(|b| filter(b))
                .fold((0, 0), |(a, o), b| (a + b.adults, o + b.aged_75_plus))
        };
        let (adults, aged_75_plus) = sum(&|_| true);
        let mut out = vec![AreaSummary {
            code: self.london.code.clone(),
            name: self.london.name.clone(),
            short: self.london.name.clone(),
            level: AreaLevel::London,
            parent: None,
            adults,
            aged_75_plus,
        }];
        for stp in &self.stp_areas {
            let (adults, aged_75_plus) = sum(&|b| b.stp == stp.code);
            out.push(AreaSummary {
                code: stp.code.clone(),
                name: stp.name.clone(),
                short: stp.short.clone(),
                level: AreaLevel::Stp,
                parent: Some(self.london.code.clone()),
                adults,
                aged_75_plus,
            });
        }
        for borough in &self.boroughs {
            out.push(AreaSummary {
                code: borough.code.clone(),
                name: borough.name.clone(),
                short: borough.short.clone().unwrap_or_else(|| {
                    borough
                        .name
                        .chars()
                        .filter(|c| c.is_alphabetic())
                        .take(3)
                        .collect::<String>()
                        .to_uppercase()
                }),
                level: AreaLevel::Borough,
                parent: Some(borough.stp.clone()),
                adults: borough.adults,
                aged_75_plus: borough.aged_75_plus,
            });
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Programme {
    pub id: String,
    /// The E54 code of the STP area the programme serves.
    pub area: String,
    pub name: String,
    pub project: String,
    /// A role, never a person's name.
    pub lead_role: Option<String>,
    pub clinical_champions: Option<u32>,
    pub start: Month,
    pub end: Option<Month>,
    pub target: ProgrammeTarget,
    /// Further months its area's SPC limits are recalculated from, each with its reason.
    #[serde(default)]
    pub rebase: Vec<ChangePoint>,
}

/// A known change a series' SPC limits are recalculated from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePoint {
    pub month: Month,
    pub reason: String,
    /// A short name beside each chart's limits (the reason is shown in full under the chart).
    pub label: Option<String>,
}

/// London-wide changes that every series is rebased at (records/change-points.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePoints {
    pub change_points: Vec<ChangePoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeTarget {
    /// The metric the target counts; new plans per month.
    pub metric: TargetMetric,
    /// The monthly figure the area aims for, across all templates.
    pub monthly: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMetric {
    NewPlans,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Repeat the page for every STP area or borough; queries see `$area`.
    pub expand: Option<Expand>,
    /// Position in the site's navigation (lower first).
    pub order: Option<i64>,
    pub queries: Vec<Query>,
    #[serde(default)]
    pub charts: Vec<Chart>,
    #[serde(default)]
    pub tables: Vec<Table>,
    #[serde(default)]
    pub figures: Vec<Figure>,
    pub map: Option<TileMap>,
    /// Tables of SPC summaries: each series' latest value, variation and assurance.
    #[serde(default)]
    pub spc_tables: Vec<SpcTable>,
}

/// A table of SPC summaries: a row per series (area), for each measure its latest value, the
/// variation and assurance icons in words, and its target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpcTable {
    pub query: String,
    pub caption: String,
    /// The month column.
    pub x: String,
    /// The column naming each row's series (one row of the table each).
    pub series: String,
    pub measures: Vec<SpcMeasure>,
}

/// One measure of an SPC summary table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpcMeasure {
    pub y: String,
    pub label: String,
    pub improvement: Improvement,
    pub target: Option<String>,
    pub format: Option<ColumnFormat>,
}

/// A headline figure: one value from the first row of a query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub query: String,
    pub column: String,
    pub label: String,
    pub format: Option<ColumnFormat>,
    /// The column holding the figure's denominator, which decides how many decimals it can
    /// honestly show (see `render::format::honest_decimals`).
    pub denominator: Option<String>,
    /// A line under the figure; `{column}` is replaced with that column's value.
    pub note: Option<String>,
}

/// A tile map of boroughs coloured by a value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TileMap {
    pub query: String,
    pub value: String,
    pub title: String,
    pub description: Option<String>,
    pub units: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expand {
    Stp,
    Borough,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub id: String,
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    pub query: String,
    #[serde(rename = "type")]
    pub chart_type: ChartType,
    pub title: String,
    pub description: Option<String>,
    pub x: String,
    pub y: String,
    pub series: Option<String>,
    pub units: String,
    /// How the values are written in the chart's data table (percent and rate follow the
    /// honest-precision rule with `denominator`).
    pub format: Option<ColumnFormat>,
    /// The column holding each value's denominator (a comparison's or funnel's too).
    pub denominator: Option<String>,
    /// spc: which direction is better (also decides improvement or concern).
    pub improvement: Option<Improvement>,
    /// spc: the column holding a target to judge assurance against.
    pub target: Option<String>,
    /// comparison and funnel: the column holding the count the rate is made of.
    pub numerator: Option<String>,
    /// comparison and funnel: what the rate is per (1,000 for a rate, 100 for a percentage).
    pub per: Option<u32>,
    /// comparison and funnel: how the intervals are computed.
    pub method: Option<IntervalMethod>,
    /// comparison and funnel: the `x` value of the row everything is compared with (London).
    pub comparator: Option<String>,
}

/// Which direction of a measure is better, for SPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Improvement {
    Increase,
    Decrease,
    Neutral,
}

/// How a comparison's or funnel's intervals are computed (OHID Fingertips' methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// A rate of a count over a population: Byar's method, exact Poisson below 10.
    Rate,
    /// A proportion of a count: Wilson score.
    Proportion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartType {
    Line,
    Bar,
    StackedBar,
    /// An XmR chart with the Making Data Count rules, one panel per series.
    Spc,
    /// Each row's rate with 95% and 99.8% intervals against a comparator row.
    Comparison,
    /// Rates against their denominators with 95% and 99.8% funnel limits.
    Funnel,
}

impl ChartType {
    /// Drawn from what `analyse` makes of the rows (XmR limits, intervals), not the rows alone.
    pub fn is_statistical(self) -> bool {
        matches!(
            self,
            ChartType::Spc | ChartType::Comparison | ChartType::Funnel
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub query: String,
    pub caption: String,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub column: String,
    pub label: String,
    pub format: Option<ColumnFormat>,
    /// The column holding each value's denominator (for percent and rate columns).
    pub denominator: Option<String>,
    /// What an empty value means in this column; "suppressed" unless said otherwise.
    pub missing: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnFormat {
    Text,
    Integer,
    Decimal,
    /// A percentage of a published (rounded) count.
    Percent,
    /// A rate per 1,000 of a population (exact).
    Rate,
    Month,
}

/// A published count: a number, or suppressed (`*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    Value(u64),
    Suppressed,
}

impl Count {
    pub fn value(self) -> Option<u64> {
        match self {
            Count::Value(v) => Some(v),
            Count::Suppressed => None,
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Value(v) => write!(f, "{v}"),
            Count::Suppressed => f.write_str(SUPPRESSED),
        }
    }
}

/// How a suppressed count is written in the metrics CSV.
pub const SUPPRESSED: &str = "*";

/// The template column value for figures across all templates.
pub const ALL_TEMPLATES: &str = "all";

/// The counts in every metrics row, in column order. The table schema
/// (`records-schema/metrics.table.json`) must list the same columns; a test checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    ActivePlans,
    NewPlans,
    ViewsLas,
    Views111,
    ViewsOohGp,
    ViewsEd,
    ViewsGp,
    Deaths,
    /// Deaths of people whose plan recorded a preferred place of death: the denominator of
    /// "died in the preferred place", as CMC and EPaCCS report it.
    DeathsWithPreferenceRecorded,
    DeathsInPreferredPlace,
    /// Active plans with a CPR decision made: for CPR or not for CPR (not "not yet decided").
    CprDecisionMade,
    /// Active plans in which the person's preferred place of death is recorded.
    PreferenceExpressed,
    /// Active plans created or reviewed in the 12 months up to the end of the month.
    PlansReviewedLast12Months,
}

impl Measure {
    pub const ALL: [Measure; 13] = [
        Measure::ActivePlans,
        Measure::NewPlans,
        Measure::ViewsLas,
        Measure::Views111,
        Measure::ViewsOohGp,
        Measure::ViewsEd,
        Measure::ViewsGp,
        Measure::Deaths,
        Measure::DeathsWithPreferenceRecorded,
        Measure::DeathsInPreferredPlace,
        Measure::CprDecisionMade,
        Measure::PreferenceExpressed,
        Measure::PlansReviewedLast12Months,
    ];

    /// Counts that are part of another count of the same row: (part, whole). A part can never
    /// exceed its whole, and a hidden whole hides its parts (a published part would bound it).
    /// Wholes come before their parts.
    pub const PARTS: [(Measure, Measure); 5] = [
        (Measure::DeathsWithPreferenceRecorded, Measure::Deaths),
        (
            Measure::DeathsInPreferredPlace,
            Measure::DeathsWithPreferenceRecorded,
        ),
        (Measure::CprDecisionMade, Measure::ActivePlans),
        (Measure::PreferenceExpressed, Measure::ActivePlans),
        (Measure::PlansReviewedLast12Months, Measure::ActivePlans),
    ];

    pub fn column(self) -> &'static str {
        match self {
            Measure::ActivePlans => "active_plans",
            Measure::NewPlans => "new_plans",
            Measure::ViewsLas => "views_las",
            Measure::Views111 => "views_111",
            Measure::ViewsOohGp => "views_ooh_gp",
            Measure::ViewsEd => "views_ed",
            Measure::ViewsGp => "views_gp",
            Measure::Deaths => "deaths",
            Measure::DeathsWithPreferenceRecorded => "deaths_with_preference_recorded",
            Measure::DeathsInPreferredPlace => "deaths_in_preferred_place",
            Measure::CprDecisionMade => "cpr_decision_made",
            Measure::PreferenceExpressed => "preference_expressed",
            Measure::PlansReviewedLast12Months => "plans_reviewed_last_12_months",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The whole this count is part of, if it is one.
    pub fn whole(self) -> Option<Measure> {
        Measure::PARTS
            .iter()
            .find(|(part, _)| *part == self)
            .map(|(_, whole)| *whole)
    }

    /// The views measure for a service, for the services whose views the metrics count.
    pub fn views_of(service: Service) -> Option<Measure> {
        match service {
            Service::Ambulance => Some(Measure::ViewsLas),
            Service::Nhs111 => Some(Measure::Views111),
            Service::OutOfHoursGp => Some(Measure::ViewsOohGp),
            Service::EmergencyDepartment => Some(Measure::ViewsEd),
            Service::GeneralPractice => Some(Measure::ViewsGp),
            Service::Community | Service::Hospice | Service::CareHome => None,
        }
    }
}

/// The key columns of every metrics row, before the counts.
pub const KEY_COLUMNS: [&str; 3] = ["month", "area_code", "template"];

/// One row of a metrics file: the published counts for a month, an area and a template (or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRow {
    pub month: Month,
    pub area_code: String,
    pub template: String,
    pub counts: [Count; Measure::ALL.len()],
    /// 1-based line in its file, for diagnostics.
    pub line: usize,
}

impl MetricRow {
    pub fn get(&self, measure: Measure) -> Count {
        self.counts[measure.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_parses_formats_and_steps() {
        let month: Month = "2021-12".parse().unwrap();
        assert_eq!(month.next().to_string(), "2022-01");
        assert_eq!(month.plus_months(-12).to_string(), "2020-12");
        assert_eq!(month.long_name(), "December 2021");
        assert!("2021-13".parse::<Month>().is_err());
        assert!("2021-1".parse::<Month>().is_err());
        assert!("２０２１-01".parse::<Month>().is_err());
    }

    #[test]
    fn conditions_in_words() {
        let condition = Condition {
            field: "cpr".into(),
            answers: vec!["For CPR".into(), "Not for CPR".into()],
        };
        assert_eq!(
            condition.describe("CPR decision", false),
            "CPR decision is For CPR or Not for CPR"
        );
        let three = Condition {
            field: "devices".into(),
            answers: vec!["Oxygen".into(), "Hoist".into(), "PEG".into()],
        };
        assert_eq!(
            three.describe("Devices", true),
            "Devices includes Oxygen, Hoist or PEG"
        );
    }

    #[test]
    fn civil_dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn version_parses_and_orders() {
        let a: Version = "1.10.0".parse().unwrap();
        let b: Version = "1.9.3".parse().unwrap();
        assert!(a > b);
        assert!("1.0".parse::<Version>().is_err());
        assert!("1.0.x".parse::<Version>().is_err());
    }

    #[test]
    fn area_populations_add_up_from_boroughs() {
        let areas = Areas {
            london: Region {
                code: "E12000007".into(),
                name: "London".into(),
            },
            stp_areas: vec![StpArea {
                code: "E54000027".into(),
                short: "NWL".into(),
                name: "North West London".into(),
            }],
            boroughs: vec![
                Borough {
                    code: "E09000005".into(),
                    name: "Brent".into(),
                    stp: "E54000027".into(),
                    short: None,
                    tile: [2, 2],
                    adults: 100,
                    aged_75_plus: 10,
                },
                Borough {
                    code: "E09000009".into(),
                    name: "Ealing".into(),
                    stp: "E54000027".into(),
                    short: None,
                    tile: [1, 2],
                    adults: 50,
                    aged_75_plus: 5,
                },
            ],
        };
        let summaries = areas.summaries();
        assert_eq!(summaries[0].adults, 150);
        assert_eq!(summaries[1].aged_75_plus, 15);
        assert_eq!(summaries[2].parent.as_deref(), Some("E54000027"));
    }
}
