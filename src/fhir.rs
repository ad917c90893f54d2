//! Care-plan templates as FHIR R4 Questionnaires.
//!
//! A template is published next to its HTML pages as a `Questionnaire` resource so that form
//! builders and shared-record systems (SDC renderers, EPaCCS suppliers) can load the same
//! sections, fields, codes and conditions that careplans checks, instead of re-keying them.
//!
//! - [`questionnaire`] maps a [`Template`] to the resource, as in the table below.
//! - [`check_expressible`] lists what the mapping could not express faithfully; `check` reports
//!   these, so a template that passes publishes a Questionnaire that says what the YAML says.
//! - [`read_back`] reads a published Questionnaire back into a [`TemplateShape`] and
//!   [`shape_of`] takes the same shape from a template, so a test can prove the round trip.
//!
//! Pure: templates in, JSON values and problems out. It reads and writes no files and decides
//! nothing about where a Questionnaire is published (`render` does that).
//!
//! # Mapping
//!
//! Each section is a `group` item (linkId = section id), each field an item in it (linkId
//! `section.field`, `text` = label, `required`, `code` = its SNOMED CT concept), typed so:
//!
//! | careplans type | `Questionnaire.item` |
//! | --- | --- |
//! | `text` | `string` |
//! | `long_text` | `text` |
//! | `yes_no` | `boolean` |
//! | `choice` | `choice` with `answerOption` (`valueCoding`s) |
//! | `multi_choice` | `choice` with `answerOption`, `repeats: true` |
//! | `date` | `date` |
//! | `number` | `decimal`, its unit in the `questionnaire-unit` extension |
//! | `coded` | `choice` with `answerValueSet` (SNOMED CT implicit value set) |
//! | `contact` | `group`: name, relationship or role, telephone (`string`s) |
//! | `contact_list` | the contact `group` with `repeats: true` |
//! | `medicine_list` | `group` with `repeats: true`: medicine, dose, route (`string`), notes (`text`) |
//! | `person` | `group`: name, role, organisation, telephone (`string`s) |
//!
//! Guidance is a `display` child (linkId `<owner>.help`) with the `questionnaire-itemControl`
//! code `help`; `required_when` is `enableWhen` (`=`, one per answer, `enableBehavior: any` when
//! there are several).
//!
//! # Extensions
//!
//! FHIR has no element for four careplans facts, so they travel as extensions, each a URL under
//! [`EXTENSION_BASE`]:
//!
//! | URL | value | on | meaning |
//! | --- | --- | --- | --- |
//! | [`VISIBLE_TO_URL`] | `valueCode`, repeating: a service id (`111`, `las`, `ooh-gp`, `ed`, `gp`, `community`, `hospice`, `care-home`) | every section group (all the services that see the section), and a field item only when its services differ from its section's | which services see the item; on a group, no entry means no service |
//! | [`SAFETY_CRITICAL_URL`] | `valueBoolean` `true` | field items that are safety-critical (absent means not) | a clinical safety officer must sign off changes to it |
//! | [`FIELD_TYPE_URL`] | `valueCode`: the careplans field type (`text`, `long_text`, `yes_no`, `choice`, `multi_choice`, `date`, `number`, `coded`, `contact`, `contact_list`, `medicine_list`, `person`) | every field item | the careplans type, because several types share a FHIR type (contact, contact list, person and medicine list are all groups; choice and coded are both `choice`) |
//! | [`OPTION_LABEL_URL`] | `valueString` | `answerOption` of a SNOMED CT coded option whose label differs from its term | the template's label, since `valueCoding.display` must carry the SNOMED CT term |
//!
//! Uncoded options are codings in a per-template code system, [`code_system_url`], with the
//! [`slug`] of the label as code: every option of a field is then a `valueCoding`, so an
//! `enableWhen` compares `answerCoding`s in one way whether or not the option has a SNOMED CT
//! code, and a QuestionnaireResponse carries the same kind of answer for every option.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::model::{
    Choice, Condition, Field, FieldType, Section, Service, Snomed, Template, TemplateStatus,
    Version,
};

/// The canonical base of published Questionnaires when `careplans.toml` names none
/// (`[site] canonical_base`): each is `{base}/Questionnaire/{template id}`, and a template's
/// uncoded options are codes in `{base}/CodeSystem/{template id}`.
pub const DEFAULT_CANONICAL_BASE: &str = "https://careplans.example/fhir";

/// Where careplans' own FHIR extensions live. `careplans.example` is the domain the project
/// already names its identifiers under (the records schemas' `$id`); a reserved `.example` name
/// can never be registered by anyone else, so the URLs stay stable and unambiguous. Change it
/// here, once, if the project publishes its StructureDefinitions under a domain of its own.
pub const EXTENSION_BASE: &str = "https://careplans.example/fhir/StructureDefinition";
/// Services that see an item (`valueCode`, one extension per service).
pub const VISIBLE_TO_URL: &str = "https://careplans.example/fhir/StructureDefinition/visible-to";
/// A safety-critical field (`valueBoolean`).
pub const SAFETY_CRITICAL_URL: &str =
    "https://careplans.example/fhir/StructureDefinition/safety-critical";
/// The careplans field type of a field item (`valueCode`).
pub const FIELD_TYPE_URL: &str = "https://careplans.example/fhir/StructureDefinition/field-type";
/// The template's label of a SNOMED CT coded option (`valueString` on `answerOption`).
pub const OPTION_LABEL_URL: &str =
    "https://careplans.example/fhir/StructureDefinition/option-label";

/// The SNOMED CT code system.
pub const SNOMED_SYSTEM: &str = "http://snomed.info/sct";
/// SNOMED CT's implicit value set of every concept, for a coded field whose value set text names
/// no concept to draw from (`check_expressible` reports that case).
pub const SNOMED_ALL_CONCEPTS: &str = "http://snomed.info/sct?fhir_vs";
/// UCUM, for units the unit text already is the UCUM code of.
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";
/// The core (SDC) extension giving a numeric question its unit.
pub const QUESTIONNAIRE_UNIT_URL: &str =
    "http://hl7.org/fhir/StructureDefinition/questionnaire-unit";
/// The core (SDC) extension saying how to render an item; `help` makes a display item the help
/// text of its parent.
pub const ITEM_CONTROL_URL: &str =
    "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl";
/// The code system of [`ITEM_CONTROL_URL`] codes.
pub const ITEM_CONTROL_SYSTEM: &str = "http://hl7.org/fhir/questionnaire-item-control";

/// Every careplans field type, in the model's order.
pub const FIELD_TYPES: [FieldType; 12] = [
    FieldType::Text,
    FieldType::LongText,
    FieldType::YesNo,
    FieldType::Choice,
    FieldType::MultiChoice,
    FieldType::Date,
    FieldType::Number,
    FieldType::Coded,
    FieldType::Contact,
    FieldType::ContactList,
    FieldType::MedicineList,
    FieldType::Person,
];

/// The code of a field type in [`FIELD_TYPE_URL`]: its name in the template YAML.
pub fn field_type_code(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::Text => "text",
        FieldType::LongText => "long_text",
        FieldType::YesNo => "yes_no",
        FieldType::Choice => "choice",
        FieldType::MultiChoice => "multi_choice",
        FieldType::Date => "date",
        FieldType::Number => "number",
        FieldType::Coded => "coded",
        FieldType::Contact => "contact",
        FieldType::ContactList => "contact_list",
        FieldType::MedicineList => "medicine_list",
        FieldType::Person => "person",
    }
}

fn field_type_from_code(code: &str) -> Option<FieldType> {
    FIELD_TYPES
        .into_iter()
        .find(|&t| field_type_code(t) == code)
}

/// The FHIR `Questionnaire.item.type` of a field type, and whether the item repeats.
///
/// `number` is `decimal`, not `integer`: careplans does not say whether a number is whole, and
/// the numbers templates hold (a child's weight in kg, a target weight) need fractions; an
/// ejection fraction in % is a decimal too. `integer` would reject 12.5 kg.
pub fn fhir_type(field_type: FieldType) -> (&'static str, bool) {
    match field_type {
        FieldType::Text => ("string", false),
        FieldType::LongText => ("text", false),
        FieldType::YesNo => ("boolean", false),
        FieldType::Choice | FieldType::Coded => ("choice", false),
        FieldType::MultiChoice => ("choice", true),
        FieldType::Date => ("date", false),
        FieldType::Number => ("decimal", false),
        FieldType::Contact | FieldType::Person => ("group", false),
        FieldType::ContactList | FieldType::MedicineList => ("group", true),
    }
}

/// The child questions of a field published as a group: linkId suffix, text, FHIR type.
///
/// A `person` is a group of plain questions rather than a `reference` item to a Practitioner:
/// a plan names clinicians from many organisations that share no FHIR server to point at, a
/// `reference` item only renders where a renderer can search such a server, and a group of
/// strings renders and validates everywhere. Medicines are free text for the same reason:
/// templates do not say how a medicine is coded, and a dm+d value set needs the UK edition of
/// SNOMED CT on whichever terminology server a renderer uses.
pub fn group_children(
    field_type: FieldType,
) -> &'static [(&'static str, &'static str, &'static str)] {
    match field_type {
        FieldType::Contact | FieldType::ContactList => &[
            ("name", "Name", "string"),
            ("relationship", "Relationship or role", "string"),
            ("telephone", "Telephone", "string"),
        ],
        FieldType::Person => &[
            ("name", "Name", "string"),
            ("role", "Role", "string"),
            ("organisation", "Organisation", "string"),
            ("telephone", "Telephone", "string"),
        ],
        FieldType::MedicineList => &[
            ("medicine", "Medicine", "string"),
            ("dose", "Dose", "string"),
            ("route", "Route", "string"),
            ("notes", "Notes", "text"),
        ],
        _ => &[],
    }
}

/// Whether a field type has answers a `required_when` can name.
fn has_answers(field_type: FieldType) -> bool {
    matches!(
        field_type,
        FieldType::YesNo | FieldType::Choice | FieldType::MultiChoice
    )
}

/// The code of an uncoded option: the label in lower case, each run of other characters than
/// ASCII letters and digits one `-`, apostrophes dropped ("Person's wish" -> `persons-wish`).
/// Codes stay valid FHIR `code`s and survive edits of case and punctuation.
pub fn slug(label: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else if c != '\'' && c != '\u{2019}' {
            gap = true;
        }
    }
    out
}

/// The code system of a template's uncoded options.
pub fn code_system_url(template: &Template, canonical_base: &str) -> String {
    format!(
        "{}/CodeSystem/{}",
        canonical_base.trim_end_matches('/'),
        template.id
    )
}

/// The `Questionnaire.name`: the id in PascalCase (`end-of-life` -> `EndOfLife`), which meets
/// FHIR's que-0 (`[A-Z]([A-Za-z0-9_]){0,254}`) for every careplans id.
pub fn computable_name(id: &str) -> String {
    id.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The value set a coded field's `value_set` text names: a canonical URL as written, or
/// "descendants of N" (or "descendants or self of N") as SNOMED CT's implicit ECL value set
/// `<<N`. The root is included because the templates' wording names a hierarchy ("descendants of
/// 404684003 Clinical finding") and the root concept is a harmless answer. None when the text
/// names neither.
pub fn value_set_url(text: &str) -> Option<String> {
    let text = text.trim();
    if (text.starts_with("https://") || text.starts_with("http://"))
        && !text.contains(char::is_whitespace)
    {
        return Some(text.to_owned());
    }
    let lower = text.to_ascii_lowercase();
    for phrase in ["descendants or self of ", "descendants of "] {
        if let Some(at) = lower.find(phrase) {
            let code: String = text[at + phrase.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if is_sctid(&code) {
                return Some(format!("{SNOMED_SYSTEM}?fhir_vs=ecl/<<{code}"));
            }
        }
    }
    None
}

fn is_sctid(code: &str) -> bool {
    (6..=18).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_digit())
        && !code.starts_with('0')
}

/// Units whose careplans text is already their UCUM code (case-sensitive), so the unit coding
/// can name UCUM, to which `questionnaire-unit` is bound; any other unit is a display alone.
const UCUM_UNITS: [&str; 20] = [
    "%", "kg", "g", "mg", "ug", "cm", "mm", "m", "mL", "L", "mmol/L", "mg/dL", "mm[Hg]", "/min",
    "Cel", "h", "min", "d", "wk", "kg/m2",
];

fn unit_coding(unit: &str) -> Value {
    if UCUM_UNITS.contains(&unit) {
        json!({ "system": UCUM_SYSTEM, "code": unit, "display": unit })
    } else {
        json!({ "display": unit })
    }
}

fn snomed_coding(snomed: &Snomed) -> Value {
    json!({ "system": SNOMED_SYSTEM, "code": snomed.code, "display": snomed.term })
}

fn status_code(status: TemplateStatus) -> &'static str {
    // careplans' statuses are FHIR's PublicationStatus codes, one for one.
    match status {
        TemplateStatus::Draft => "draft",
        TemplateStatus::Active => "active",
        TemplateStatus::Retired => "retired",
    }
}

fn field_link_id(section: &Section, field: &Field) -> String {
    format!("{}.{}", section.id, field.id)
}

fn help_link_id(owner: &str) -> String {
    format!("{owner}.help")
}

/// The services in `Service::ALL` order, once each, so that comparing and publishing them does
/// not depend on how a template happened to order its list.
fn normalised(mut services: Vec<Service>) -> Vec<Service> {
    services.sort();
    services.dedup();
    services
}

fn visible_to_extensions(services: &[Service]) -> impl Iterator<Item = Value> + '_ {
    services
        .iter()
        .map(|s| json!({ "url": VISIBLE_TO_URL, "valueCode": s.id() }))
}

/// A display item that SDC renderers show as the help of its parent item.
fn help_item(owner: &str, text: &str) -> Value {
    json!({
        "extension": [{
            "url": ITEM_CONTROL_URL,
            "valueCodeableConcept": {
                "coding": [{ "system": ITEM_CONTROL_SYSTEM, "code": "help", "display": "Help-Button" }],
                "text": "Help-Button"
            }
        }],
        "linkId": help_link_id(owner),
        "text": text,
        "type": "display"
    })
}

/// The template's FHIR R4 Questionnaire, canonical at `{canonical_base}/Questionnaire/{id}`.
///
/// Publish only templates for which [`check_expressible`] finds nothing: where it reports a
/// problem this still returns a resource, leaving out what it could not express (an
/// unresolvable `required_when` answer, say).
pub fn questionnaire(template: &Template, canonical_base: &str) -> Value {
    let base = canonical_base.trim_end_matches('/');
    let mapping = Mapping::new(template, base);
    let mut q = Map::new();
    q.insert("resourceType".into(), "Questionnaire".into());
    q.insert("id".into(), template.id.clone().into());
    q.insert(
        "url".into(),
        format!("{base}/Questionnaire/{}", template.id).into(),
    );
    q.insert("version".into(), template.version.to_string().into());
    q.insert("name".into(), computable_name(&template.id).into());
    q.insert("title".into(), template.title.clone().into());
    q.insert("status".into(), status_code(template.status).into());
    q.insert("description".into(), template.description.clone().into());
    if let Some(snomed) = &template.snomed {
        q.insert("code".into(), json!([snomed_coding(snomed)]));
    }
    q.insert("subjectType".into(), json!(["Patient"]));
    let items: Vec<Value> = template
        .sections
        .iter()
        .map(|section| mapping.section_item(section))
        .collect();
    q.insert("item".into(), Value::Array(items));
    Value::Object(q)
}

/// What the item builders share: the template, its option code system, and each field by id.
struct Mapping<'a> {
    template: &'a Template,
    code_system: String,
    /// Field id -> (section, field), for `required_when`; the first if an id repeats.
    fields: HashMap<&'a str, (&'a Section, &'a Field)>,
}

impl<'a> Mapping<'a> {
    fn new(template: &'a Template, base: &str) -> Mapping<'a> {
        let mut fields = HashMap::new();
        for (section, field) in template.fields() {
            fields.entry(field.id.as_str()).or_insert((section, field));
        }
        Mapping {
            template,
            code_system: code_system_url(template, base),
            fields,
        }
    }

    fn option_coding(&self, choice: &Choice) -> Value {
        match choice.snomed() {
            Some(snomed) => snomed_coding(snomed),
            None => json!({
                "system": self.code_system,
                "code": slug(choice.label()),
                "display": choice.label()
            }),
        }
    }

    fn answer_option(&self, choice: &Choice) -> Value {
        let mut option = Map::new();
        if let Some(snomed) = choice.snomed()
            && snomed.term != choice.label()
        {
            option.insert(
                "extension".into(),
                json!([{ "url": OPTION_LABEL_URL, "valueString": choice.label() }]),
            );
        }
        option.insert("valueCoding".into(), self.option_coding(choice));
        Value::Object(option)
    }

    fn section_item(&self, section: &Section) -> Value {
        let mut item = Map::new();
        let services = normalised(self.template.section_services(section));
        let extensions: Vec<Value> = visible_to_extensions(&services).collect();
        if !extensions.is_empty() {
            item.insert("extension".into(), Value::Array(extensions));
        }
        item.insert("linkId".into(), section.id.clone().into());
        item.insert("text".into(), section.title.clone().into());
        item.insert("type".into(), "group".into());
        let mut children = Vec::new();
        if let Some(guidance) = &section.guidance {
            children.push(help_item(&section.id, guidance));
        }
        children.extend(
            section
                .fields
                .iter()
                .map(|field| self.field_item(section, field)),
        );
        item.insert("item".into(), Value::Array(children));
        Value::Object(item)
    }

    fn field_item(&self, section: &Section, field: &Field) -> Value {
        let link_id = field_link_id(section, field);
        let (fhir_type, repeats) = fhir_type(field.field_type);
        let mut item = Map::new();

        let mut extensions =
            vec![json!({ "url": FIELD_TYPE_URL, "valueCode": field_type_code(field.field_type) })];
        let services = normalised(self.template.services_for(section, field));
        if services != normalised(self.template.section_services(section)) {
            extensions.extend(visible_to_extensions(&services));
        }
        if field.safety_critical {
            extensions.push(json!({ "url": SAFETY_CRITICAL_URL, "valueBoolean": true }));
        }
        if field.field_type == FieldType::Number
            && let Some(unit) = &field.unit
        {
            extensions
                .push(json!({ "url": QUESTIONNAIRE_UNIT_URL, "valueCoding": unit_coding(unit) }));
        }
        item.insert("extension".into(), Value::Array(extensions));
        item.insert("linkId".into(), link_id.clone().into());
        if let Some(snomed) = &field.snomed {
            item.insert("code".into(), json!([snomed_coding(snomed)]));
        }
        item.insert("text".into(), field.label.clone().into());
        item.insert("type".into(), fhir_type.into());
        if let Some(condition) = &field.required_when {
            let enable_when = self.enable_when(condition, &field.id);
            if enable_when.len() > 1 {
                // FHIR's que-12: more than one enableWhen needs enableBehavior; "any" because
                // the field applies when the other field has any of the listed answers.
                item.insert("enableWhen".into(), Value::Array(enable_when));
                item.insert("enableBehavior".into(), "any".into());
            } else if !enable_when.is_empty() {
                item.insert("enableWhen".into(), Value::Array(enable_when));
            }
        }
        // FHIR's `required` applies only while the item is enabled, which is exactly what
        // required_when means: required (or optional) when it applies, not applicable otherwise.
        item.insert("required".into(), field.required.into());
        if repeats {
            item.insert("repeats".into(), true.into());
        }
        match field.field_type {
            FieldType::Coded => {
                let url = field
                    .value_set
                    .as_deref()
                    .and_then(value_set_url)
                    .unwrap_or_else(|| SNOMED_ALL_CONCEPTS.to_owned());
                item.insert("answerValueSet".into(), url.into());
            }
            FieldType::Choice | FieldType::MultiChoice => {
                let options = field
                    .options
                    .iter()
                    .map(|choice| self.answer_option(choice))
                    .collect();
                item.insert("answerOption".into(), Value::Array(options));
            }
            _ => {}
        }
        let mut children = Vec::new();
        if let Some(guidance) = &field.guidance {
            children.push(help_item(&link_id, guidance));
        }
        for (suffix, text, child_type) in group_children(field.field_type) {
            children.push(json!({
                "linkId": format!("{link_id}.{suffix}"),
                "text": text,
                "type": child_type,
                "required": false
            }));
        }
        if !children.is_empty() {
            item.insert("item".into(), Value::Array(children));
        }
        Value::Object(item)
    }

    /// One `=` condition per answer that names something the other field can answer;
    /// `check_expressible` reports the rest.
    fn enable_when(&self, condition: &Condition, own_id: &str) -> Vec<Value> {
        let Some(&(section, target)) = self.fields.get(condition.field.as_str()) else {
            return Vec::new();
        };
        if target.id == own_id {
            return Vec::new();
        }
        let question = field_link_id(section, target);
        let mut seen = HashSet::new();
        condition
            .answers
            .iter()
            .filter(|answer| seen.insert(answer.as_str()))
            .filter_map(|answer| {
                let value = match target.field_type {
                    FieldType::YesNo => match answer.as_str() {
                        "Yes" => json!({ "answerBoolean": true }),
                        "No" => json!({ "answerBoolean": false }),
                        _ => return None,
                    },
                    FieldType::Choice | FieldType::MultiChoice => {
                        let choice = target.options.iter().find(|c| c.label() == answer)?;
                        json!({ "answerCoding": self.option_coding(choice) })
                    }
                    _ => return None,
                };
                let mut when = Map::new();
                when.insert("question".into(), question.clone().into());
                when.insert("operator".into(), "=".into());
                if let Value::Object(value) = value {
                    when.extend(value);
                }
                Some(Value::Object(when))
            })
            .collect()
    }
}

/// Something in a template that the Questionnaire mapping cannot express.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A JSON pointer into the template YAML, e.g. `/sections/2/fields/0/required_when/answers/1`.
    pub pointer: String,
    pub message: String,
}

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// Whether a text is a FHIR `id`: `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Everything in the template that [`questionnaire`] cannot express faithfully, each at a JSON
/// pointer into the template YAML. Empty when the published Questionnaire says what the template
/// says.
pub fn check_expressible(template: &Template) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !is_fhir_id(&template.id) {
        problems.push(problem(
            "/id",
            format!(
                "template id `{}` is not a FHIR resource id (letters, digits, `-` and `.` only, at most 64)",
                template.id
            ),
        ));
    }
    if template.visible_to.as_ref().is_some_and(Vec::is_empty) {
        problems.push(problem(
            "/visible_to",
            "an empty visible_to list hides the whole template from every service",
        ));
    }
    check_link_ids(template, &mut problems);
    check_option_codes_across_fields(template, &mut problems);

    // Field id -> every (section index, field index) it occurs at.
    let mut by_id: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (s, section) in template.sections.iter().enumerate() {
        for (f, field) in section.fields.iter().enumerate() {
            by_id.entry(field.id.as_str()).or_default().push((s, f));
        }
    }

    for (s, section) in template.sections.iter().enumerate() {
        let at = format!("/sections/{s}");
        if section.fields.is_empty() {
            problems.push(problem(
                format!("{at}/fields"),
                "a section with no fields would be an empty FHIR group (que-1)",
            ));
        }
        if section.visible_to.as_ref().is_some_and(Vec::is_empty) {
            problems.push(problem(
                format!("{at}/visible_to"),
                "an empty visible_to list hides the section from every service",
            ));
        }
        for (f, field) in section.fields.iter().enumerate() {
            let at = format!("{at}/fields/{f}");
            check_field(field, &at, &mut problems);
            if let Some(condition) = &field.required_when {
                check_condition(template, &by_id, (s, f), condition, &at, &mut problems);
            }
        }
    }
    check_condition_cycles(template, &by_id, &mut problems);
    problems
}

fn check_field(field: &Field, at: &str, problems: &mut Vec<Problem>) {
    let type_name = field_type_code(field.field_type);
    if field.visible_to.as_ref().is_some_and(Vec::is_empty) {
        problems.push(problem(
            format!("{at}/visible_to"),
            "an empty visible_to list hides the field from every service",
        ));
    }
    match field.field_type {
        FieldType::Choice | FieldType::MultiChoice => {
            if field.options.is_empty() {
                problems.push(problem(
                    at,
                    format!("a {type_name} field with no options cannot be answered"),
                ));
            }
            let mut slugs: HashMap<String, usize> = HashMap::new();
            let mut codes: HashMap<&str, usize> = HashMap::new();
            for (o, choice) in field.options.iter().enumerate() {
                let label_at = match choice {
                    Choice::Label(_) => format!("{at}/options/{o}"),
                    Choice::Coded { .. } => format!("{at}/options/{o}/label"),
                };
                if let Some(snomed) = choice.snomed() {
                    if let Some(first) = codes.insert(snomed.code.as_str(), o) {
                        problems.push(problem(
                            format!("{at}/options/{o}/snomed/code"),
                            format!(
                                "option `{}` has the same SNOMED CT code {} as option {first}; answers to the two could not be told apart",
                                choice.label(),
                                snomed.code
                            ),
                        ));
                    }
                    continue;
                }
                let code = slug(choice.label());
                if code.is_empty() {
                    problems.push(problem(
                        label_at,
                        format!(
                            "option `{}` has no ASCII letters or digits to make its code from",
                            choice.label()
                        ),
                    ));
                } else if let Some(first) = slugs.get(&code) {
                    problems.push(problem(
                        label_at,
                        format!(
                            "option `{}` has the same code `{code}` as option {first} (`{}`); give them labels that differ in letters or digits",
                            choice.label(),
                            field.options[*first].label()
                        ),
                    ));
                } else {
                    slugs.insert(code, o);
                }
            }
        }
        _ if !field.options.is_empty() => problems.push(problem(
            format!("{at}/options"),
            format!(
                "options are published only for choice and multi_choice fields, not {type_name}"
            ),
        )),
        _ => {}
    }
    if field.field_type == FieldType::Coded {
        match &field.value_set {
            None => problems.push(problem(
                at,
                "a coded field without a value_set would offer every SNOMED CT concept",
            )),
            Some(text) if value_set_url(text).is_none() => problems.push(problem(
                format!("{at}/value_set"),
                "the value_set names no SNOMED CT concept to draw from (write `descendants of <concept id>`) nor a value set URL; the Questionnaire would offer every SNOMED CT concept",
            )),
            Some(_) => {}
        }
    } else if field.value_set.is_some() {
        problems.push(problem(
            format!("{at}/value_set"),
            format!("a value_set is published only for coded fields, not {type_name}"),
        ));
    }
    if field.unit.is_some() && field.field_type != FieldType::Number {
        problems.push(problem(
            format!("{at}/unit"),
            format!("a unit is published only for number fields, not {type_name}"),
        ));
    }
}

fn check_condition(
    template: &Template,
    by_id: &HashMap<&str, Vec<(usize, usize)>>,
    own: (usize, usize),
    condition: &Condition,
    at: &str,
    problems: &mut Vec<Problem>,
) {
    // A field that is not required may have a condition too: it then applies (and may be
    // answered) only when the condition holds, which is enableWhen with `required: false`.
    let at = format!("{at}/required_when");
    if condition.answers.is_empty() {
        problems.push(problem(
            format!("{at}/answers"),
            "required_when lists no answers, so the field would never apply",
        ));
    }
    let target = match by_id.get(condition.field.as_str()).map(Vec::as_slice) {
        None | Some([]) => {
            problems.push(problem(
                format!("{at}/field"),
                format!(
                    "required_when names `{}`, which is no field of this template",
                    condition.field
                ),
            ));
            return;
        }
        Some([only]) => *only,
        Some(_) => {
            problems.push(problem(
                format!("{at}/field"),
                format!(
                    "required_when names `{}`, a field id used in more than one section",
                    condition.field
                ),
            ));
            return;
        }
    };
    if target == own {
        problems.push(problem(
            format!("{at}/field"),
            "required_when names the field itself",
        ));
        return;
    }
    let target = &template.sections[target.0].fields[target.1];
    if !has_answers(target.field_type) {
        problems.push(problem(
            format!("{at}/field"),
            format!(
                "required_when names `{}`, a {} field: only yes_no, choice and multi_choice fields have answers to compare",
                target.id,
                field_type_code(target.field_type)
            ),
        ));
        return;
    }
    let labels: Vec<&str> = if target.field_type == FieldType::YesNo {
        vec!["Yes", "No"]
    } else {
        target.options.iter().map(Choice::label).collect()
    };
    let mut seen = HashSet::new();
    for (a, answer) in condition.answers.iter().enumerate() {
        let answer_at = format!("{at}/answers/{a}");
        if !seen.insert(answer.as_str()) {
            problems.push(problem(
                answer_at,
                format!("answer `{answer}` is listed twice"),
            ));
        } else if !labels.contains(&answer.as_str()) {
            let near = labels
                .iter()
                .find(|label| label.eq_ignore_ascii_case(answer))
                .map(|label| format!(" (did you mean `{label}`?)"))
                .unwrap_or_default();
            problems.push(problem(
                answer_at,
                format!(
                    "`{answer}` is not an answer of `{}`{near}; its answers are {}",
                    target.id,
                    labels
                        .iter()
                        .map(|l| format!("`{l}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
}

/// A field whose `required_when` chain leads back to itself would never be enabled.
fn check_condition_cycles(
    template: &Template,
    by_id: &HashMap<&str, Vec<(usize, usize)>>,
    problems: &mut Vec<Problem>,
) {
    let next = |(s, f): (usize, usize)| -> Option<(usize, usize)> {
        let condition = template.sections[s].fields[f].required_when.as_ref()?;
        match by_id.get(condition.field.as_str())?.as_slice() {
            [only] if *only != (s, f) => Some(*only),
            _ => None,
        }
    };
    for (s, section) in template.sections.iter().enumerate() {
        for f in 0..section.fields.len() {
            let start = (s, f);
            let mut at = start;
            let mut chain = vec![section.fields[f].id.as_str()];
            let mut steps = 0;
            while let Some(step) = next(at) {
                at = step;
                steps += 1;
                if at == start {
                    problems.push(problem(
                        format!("/sections/{s}/fields/{f}/required_when/field"),
                        format!(
                            "required_when goes round in a circle ({} -> {}), so none of these fields would ever apply",
                            chain.join(" -> "),
                            section.fields[f].id
                        ),
                    ));
                    break;
                }
                // A chain that enters a circle not through `start` is reported at its members.
                if steps > by_id.len() {
                    break;
                }
                chain.push(template.sections[at.0].fields[at.1].id.as_str());
            }
        }
    }
}

/// Every linkId the mapping gives out must be unique across the questionnaire (FHIR's que-2).
fn check_link_ids(template: &Template, problems: &mut Vec<Problem>) {
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut claim = |link_id: String, pointer: String, problems: &mut Vec<Problem>| {
        if let Some(first) = owners.get(&link_id) {
            problems.push(problem(
                pointer.clone(),
                format!("gives the FHIR linkId `{link_id}`, which {first} already has"),
            ));
        } else {
            owners.insert(link_id, pointer);
        }
    };
    for (s, section) in template.sections.iter().enumerate() {
        let at = format!("/sections/{s}");
        claim(section.id.clone(), format!("{at}/id"), problems);
        if section.guidance.is_some() {
            claim(
                help_link_id(&section.id),
                format!("{at}/guidance"),
                problems,
            );
        }
        for (f, field) in section.fields.iter().enumerate() {
            let at = format!("{at}/fields/{f}");
            let link_id = field_link_id(section, field);
            if field.guidance.is_some() {
                claim(help_link_id(&link_id), format!("{at}/guidance"), problems);
            }
            for (suffix, _, _) in group_children(field.field_type) {
                claim(
                    format!("{link_id}.{suffix}"),
                    format!("{at}/type"),
                    problems,
                );
            }
            claim(link_id, format!("{at}/id"), problems);
        }
    }
}

/// An uncoded option's code lives in one code system for the whole template, so one code must
/// keep one display across fields ("Not known" in one field and "Not Known" in another would
/// be one code with two displays).
fn check_option_codes_across_fields(template: &Template, problems: &mut Vec<Problem>) {
    let mut displays: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (s, section) in template.sections.iter().enumerate() {
        for (f, field) in section.fields.iter().enumerate() {
            if !matches!(field.field_type, FieldType::Choice | FieldType::MultiChoice) {
                continue;
            }
            for (o, choice) in field.options.iter().enumerate() {
                if choice.snomed().is_some() {
                    continue;
                }
                let code = slug(choice.label());
                if code.is_empty() {
                    continue;
                }
                let pointer = match choice {
                    Choice::Label(_) => format!("/sections/{s}/fields/{f}/options/{o}"),
                    Choice::Coded { .. } => format!("/sections/{s}/fields/{f}/options/{o}/label"),
                };
                match displays.get(&code) {
                    Some((label, first)) if label != choice.label() => problems.push(problem(
                        pointer,
                        format!(
                            "option `{}` has the code `{code}`, which is `{label}` at {first}; write the label the same way in both fields",
                            choice.label()
                        ),
                    )),
                    Some(_) => {}
                    None => {
                        displays.insert(code, (choice.label().to_owned(), pointer));
                    }
                }
            }
        }
    }
}

/// What a template and its published Questionnaire must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateShape {
    pub id: String,
    pub title: String,
    pub version: Version,
    pub status: TemplateStatus,
    /// The template's SNOMED CT concept id.
    pub snomed: Option<String>,
    pub sections: Vec<SectionShape>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionShape {
    pub id: String,
    pub title: String,
    pub guidance: Option<String>,
    /// The services that see the section, in `Service::ALL` order.
    pub visible_to: Vec<Service>,
    pub fields: Vec<FieldShape>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldShape {
    pub id: String,
    pub label: String,
    pub field_type: FieldType,
    pub options: Vec<OptionShape>,
    /// The field's SNOMED CT concept id.
    pub snomed: Option<String>,
    pub unit: Option<String>,
    pub required: bool,
    pub safety_critical: bool,
    pub guidance: Option<String>,
    /// The services that see the field, in `Service::ALL` order.
    pub visible_to: Vec<Service>,
    pub required_when: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionShape {
    pub label: String,
    /// The option's SNOMED CT concept id.
    pub snomed: Option<String>,
}

/// The shape of a template, as [`read_back`] should find it in the template's Questionnaire.
pub fn shape_of(template: &Template) -> TemplateShape {
    TemplateShape {
        id: template.id.clone(),
        title: template.title.clone(),
        version: template.version,
        status: template.status,
        snomed: template.snomed.as_ref().map(|s| s.code.clone()),
        sections: template
            .sections
            .iter()
            .map(|section| SectionShape {
                id: section.id.clone(),
                title: section.title.clone(),
                guidance: section.guidance.clone(),
                visible_to: normalised(template.section_services(section)),
                fields: section
                    .fields
                    .iter()
                    .map(|field| FieldShape {
                        id: field.id.clone(),
                        label: field.label.clone(),
                        field_type: field.field_type,
                        options: field
                            .options
                            .iter()
                            .map(|choice| OptionShape {
                                label: choice.label().to_owned(),
                                snomed: choice.snomed().map(|s| s.code.clone()),
                            })
                            .collect(),
                        snomed: field.snomed.as_ref().map(|s| s.code.clone()),
                        unit: field
                            .unit
                            .clone()
                            .filter(|_| field.field_type == FieldType::Number),
                        required: field.required,
                        safety_critical: field.safety_critical,
                        guidance: field.guidance.clone(),
                        visible_to: normalised(template.services_for(section, field)),
                        required_when: field.required_when.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn text_of<'v>(value: &'v Value, key: &str, whose: &str) -> Result<&'v str, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{whose} has no `{key}` text"))
}

fn extensions<'v>(item: &'v Value, url: &'v str) -> impl Iterator<Item = &'v Value> + 'v {
    item.get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |e| e.get("url").and_then(Value::as_str) == Some(url))
}

fn is_help(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("display")
        && extensions(item, ITEM_CONTROL_URL).any(|e| {
            e.pointer("/valueCodeableConcept/coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| {
                    c.get("system").and_then(Value::as_str) == Some(ITEM_CONTROL_SYSTEM)
                        && c.get("code").and_then(Value::as_str) == Some("help")
                })
        })
}

fn children(item: &Value) -> &[Value] {
    item.get("item")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn help_text(item: &Value) -> Result<Option<String>, String> {
    let helps: Vec<&Value> = children(item).iter().filter(|c| is_help(c)).collect();
    match helps.as_slice() {
        [] => Ok(None),
        [help] => Ok(Some(text_of(help, "text", "a help item")?.to_owned())),
        _ => Err(format!(
            "item `{}` has more than one help item",
            item.get("linkId").and_then(Value::as_str).unwrap_or("?")
        )),
    }
}

fn services_of(item: &Value, link_id: &str) -> Result<Option<Vec<Service>>, String> {
    let mut services = Vec::new();
    for extension in extensions(item, VISIBLE_TO_URL) {
        let code = extension
            .get("valueCode")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("item `{link_id}`: visible-to without a valueCode"))?;
        let service = Service::ALL
            .into_iter()
            .find(|s| s.id() == code)
            .ok_or_else(|| format!("item `{link_id}`: unknown service `{code}` in visible-to"))?;
        services.push(service);
    }
    Ok((!services.is_empty()).then(|| normalised(services)))
}

fn snomed_code_of(item: &Value) -> Option<String> {
    item.get("code")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(SNOMED_SYSTEM))
        .and_then(|c| c.get("code").and_then(Value::as_str))
        .map(str::to_owned)
}

/// An option read back, with its coding, to resolve `enableWhen` answers to labels.
struct ReadOption {
    label: String,
    system: String,
    code: String,
}

/// Reads a published Questionnaire back into the shape of the template it came from.
///
/// Fails on anything [`questionnaire`] would not have written: a missing or wrong element, an
/// item without its `field-type`, a FHIR type that does not fit the `field-type`, or an
/// `enableWhen` that names no option of its question.
pub fn read_back(json: &Value) -> Result<TemplateShape, String> {
    if json.get("resourceType").and_then(Value::as_str) != Some("Questionnaire") {
        return Err("not a Questionnaire (resourceType)".into());
    }
    let id = text_of(json, "id", "the Questionnaire")?.to_owned();
    let title = text_of(json, "title", "the Questionnaire")?.to_owned();
    let version: Version = text_of(json, "version", "the Questionnaire")?.parse()?;
    let status = match text_of(json, "status", "the Questionnaire")? {
        "draft" => TemplateStatus::Draft,
        "active" => TemplateStatus::Active,
        "retired" => TemplateStatus::Retired,
        other => {
            return Err(format!(
                "status `{other}` is not a careplans template status"
            ));
        }
    };
    let snomed = snomed_code_of(json);

    let mut sections = Vec::new();
    // linkId -> (field id, type, options) of every field read, to resolve enableWhen after.
    let mut questions: HashMap<String, (String, FieldType, Vec<ReadOption>)> = HashMap::new();
    // (section index, field index, enableWhen) still to resolve.
    let mut pending: Vec<(usize, usize, Vec<Value>)> = Vec::new();
    for group in json
        .get("item")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let section_id = text_of(group, "linkId", "a section item")?.to_owned();
        if group.get("type").and_then(Value::as_str) != Some("group") {
            return Err(format!("section item `{section_id}` is not a group"));
        }
        let section_services = services_of(group, &section_id)?.unwrap_or_default();
        let mut fields = Vec::new();
        for item in children(group).iter().filter(|c| !is_help(c)) {
            let link_id = text_of(item, "linkId", "a field item")?;
            let field_id = link_id
                .strip_prefix(&format!("{section_id}."))
                .ok_or_else(|| {
                    format!("field item `{link_id}` is not under section `{section_id}`")
                })?
                .to_owned();
            let (field, options) = read_field(item, link_id, field_id, &section_services)?;
            if let Some(enable_when) = item.get("enableWhen").and_then(Value::as_array) {
                let behaviour = item.get("enableBehavior").and_then(Value::as_str);
                if enable_when.len() > 1 && behaviour != Some("any") {
                    return Err(format!(
                        "item `{link_id}` has several enableWhen but enableBehavior is not `any`"
                    ));
                }
                pending.push((sections.len(), fields.len(), enable_when.clone()));
            }
            questions.insert(
                link_id.to_owned(),
                (field.id.clone(), field.field_type, options),
            );
            fields.push(field);
        }
        sections.push(SectionShape {
            id: section_id,
            title: text_of(group, "text", "a section item")?.to_owned(),
            guidance: help_text(group)?,
            visible_to: section_services,
            fields,
        });
    }
    for (s, f, enable_when) in pending {
        let field = &mut sections[s].fields[f];
        field.required_when = Some(read_condition(&enable_when, &questions, &field.id)?);
    }
    Ok(TemplateShape {
        id,
        title,
        version,
        status,
        snomed,
        sections,
    })
}

fn read_field(
    item: &Value,
    link_id: &str,
    id: String,
    section_services: &[Service],
) -> Result<(FieldShape, Vec<ReadOption>), String> {
    let code = extensions(item, FIELD_TYPE_URL)
        .next()
        .and_then(|e| e.get("valueCode"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("item `{link_id}` has no field-type extension"))?;
    let field_type = field_type_from_code(code)
        .ok_or_else(|| format!("item `{link_id}`: unknown field-type `{code}`"))?;
    let (expected_type, expected_repeats) = fhir_type(field_type);
    let fhir = text_of(item, "type", &format!("item `{link_id}`"))?;
    let repeats = item
        .get("repeats")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if fhir != expected_type || repeats != expected_repeats {
        return Err(format!(
            "item `{link_id}`: a {code} field should be type {expected_type}{}, not {fhir}{}",
            if expected_repeats { " repeating" } else { "" },
            if repeats { " repeating" } else { "" },
        ));
    }
    let required = item
        .get("required")
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("item `{link_id}` has no `required`"))?;
    let safety_critical = extensions(item, SAFETY_CRITICAL_URL)
        .any(|e| e.get("valueBoolean").and_then(Value::as_bool) == Some(true));
    let unit = extensions(item, QUESTIONNAIRE_UNIT_URL)
        .next()
        .and_then(|e| e.pointer("/valueCoding/display"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut options = Vec::new();
    for option in item
        .get("answerOption")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let coding = option
            .get("valueCoding")
            .ok_or_else(|| format!("item `{link_id}`: an answerOption without a valueCoding"))?;
        let system = text_of(coding, "system", &format!("an option of `{link_id}`"))?;
        let code = text_of(coding, "code", &format!("an option of `{link_id}`"))?;
        let label = match extensions(option, OPTION_LABEL_URL).next() {
            Some(e) => e.get("valueString").and_then(Value::as_str),
            None => coding.get("display").and_then(Value::as_str),
        }
        .ok_or_else(|| format!("item `{link_id}`: an option without a label"))?;
        options.push(ReadOption {
            label: label.to_owned(),
            system: system.to_owned(),
            code: code.to_owned(),
        });
    }
    let field = FieldShape {
        id,
        label: text_of(item, "text", &format!("item `{link_id}`"))?.to_owned(),
        field_type,
        options: options
            .iter()
            .map(|o| OptionShape {
                label: o.label.clone(),
                snomed: (o.system == SNOMED_SYSTEM).then(|| o.code.clone()),
            })
            .collect(),
        snomed: snomed_code_of(item),
        unit,
        required,
        safety_critical,
        guidance: help_text(item)?,
        visible_to: services_of(item, link_id)?.unwrap_or_else(|| section_services.to_vec()),
        required_when: None,
    };
    Ok((field, options))
}

fn read_condition(
    enable_when: &[Value],
    questions: &HashMap<String, (String, FieldType, Vec<ReadOption>)>,
    own_id: &str,
) -> Result<Condition, String> {
    let mut field = None;
    let mut answers = Vec::new();
    for when in enable_when {
        let question = text_of(when, "question", &format!("an enableWhen of `{own_id}`"))?;
        if when.get("operator").and_then(Value::as_str) != Some("=") {
            return Err(format!("an enableWhen of `{own_id}` does not use `=`"));
        }
        let (target_id, target_type, options) = questions.get(question).ok_or_else(|| {
            format!("enableWhen of `{own_id}` names unknown question `{question}`")
        })?;
        if field.get_or_insert(target_id) != &target_id {
            return Err(format!(
                "enableWhen of `{own_id}` names more than one question"
            ));
        }
        let answer = match (
            target_type,
            when.get("answerBoolean"),
            when.get("answerCoding"),
        ) {
            (FieldType::YesNo, Some(Value::Bool(yes)), None) => {
                if *yes { "Yes" } else { "No" }.to_owned()
            }
            (FieldType::Choice | FieldType::MultiChoice, None, Some(coding)) => {
                let system = coding.get("system").and_then(Value::as_str);
                let code = coding.get("code").and_then(Value::as_str);
                options
                    .iter()
                    .find(|o| Some(o.system.as_str()) == system && Some(o.code.as_str()) == code)
                    .map(|o| o.label.clone())
                    .ok_or_else(|| {
                        format!("enableWhen of `{own_id}` names no option of `{question}`")
                    })?
            }
            _ => {
                return Err(format!(
                    "enableWhen of `{own_id}` does not fit the type of `{question}`"
                ));
            }
        };
        answers.push(answer);
    }
    let field = field
        .ok_or_else(|| format!("`{own_id}` has an empty enableWhen"))?
        .clone();
    Ok(Condition { field, answers })
}

#[cfg(test)]
mod tests;
