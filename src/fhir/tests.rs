use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::model::{Choice, Condition, Field, FieldType, Section, Service, Snomed, Template};

const BASE: &str = "https://careplans.example/fhir";
const CODES: &str = "https://careplans.example/fhir/CodeSystem/t";

fn field(id: &str, field_type: FieldType) -> Field {
    Field {
        id: id.into(),
        label: format!("Label of {id}"),
        field_type,
        options: Vec::new(),
        value_set: None,
        unit: None,
        required: false,
        safety_critical: false,
        guidance: None,
        snomed: None,
        visible_to: None,
        required_when: None,
    }
}

fn section(id: &str, fields: Vec<Field>) -> Section {
    Section {
        id: id.into(),
        title: format!("Title of {id}"),
        guidance: None,
        visible_to: None,
        fields,
    }
}

fn template(sections: Vec<Section>) -> Template {
    Template {
        id: "t".into(),
        title: "T".into(),
        version: "1.2.3".parse().unwrap(),
        status: TemplateStatus::Active,
        available_from: None,
        retired_from: None,
        replaced_by: None,
        description: "D".into(),
        audience: None,
        snomed: None,
        visible_to: None,
        sections,
    }
}

/// A template whose one section `s` holds these fields.
fn with_fields(fields: Vec<Field>) -> Template {
    template(vec![section("s", fields)])
}

fn snomed(code: &str, term: &str) -> Snomed {
    Snomed {
        code: code.into(),
        term: term.into(),
    }
}

fn label(text: &str) -> Choice {
    Choice::Label(text.into())
}

fn coded(text: &str, code: &str, term: &str) -> Choice {
    Choice::Coded {
        label: text.into(),
        snomed: Some(snomed(code, term)),
    }
}

fn when(field: &str, answers: &[&str]) -> Option<Condition> {
    Some(Condition {
        field: field.into(),
        answers: answers.iter().map(|a| a.to_string()).collect(),
    })
}

/// The item with this linkId, anywhere in the questionnaire.
fn item<'a>(q: &'a Value, link_id: &str) -> &'a Value {
    fn find<'a>(items: &'a Value, link_id: &str) -> Option<&'a Value> {
        items.as_array()?.iter().find_map(|item| {
            if item["linkId"] == link_id {
                Some(item)
            } else {
                find(&item["item"], link_id)
            }
        })
    }
    find(&q["item"], link_id).unwrap_or_else(|| panic!("no item {link_id}"))
}

fn type_ext(code: &str) -> Value {
    json!({ "url": FIELD_TYPE_URL, "valueCode": code })
}

/// The published item of a template's only field `f`, in section `s`.
fn only_field_item(f: Field) -> Value {
    let q = questionnaire(&with_fields(vec![f]), BASE);
    item(&q, "s.f").clone()
}

fn round_trips(template: &Template) {
    let q = questionnaire(template, BASE);
    // Read what a consumer reads: the serialised text, not the in-memory value.
    let text = serde_json::to_string_pretty(&q).unwrap();
    let back = read_back(&serde_json::from_str(&text).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", template.id));
    assert_eq!(back, shape_of(template), "{}", template.id);
}

#[test]
fn extension_urls_live_under_the_base() {
    for url in [
        VISIBLE_TO_URL,
        SAFETY_CRITICAL_URL,
        FIELD_TYPE_URL,
        OPTION_LABEL_URL,
    ] {
        let name = url.strip_prefix(EXTENSION_BASE).unwrap();
        assert!(name.starts_with('/') && !name[1..].contains('/'), "{url}");
    }
}

#[test]
fn resource_header() {
    let mut t = with_fields(vec![field("f", FieldType::Text)]);
    t.id = "end-of-life".into();
    t.title = "End of life".into();
    t.snomed = Some(snomed("736373009", "End of life care plan"));
    let q = questionnaire(&t, "https://example.org/plans/");
    assert_eq!(q["resourceType"], "Questionnaire");
    assert_eq!(q["id"], "end-of-life");
    assert_eq!(
        q["url"],
        "https://example.org/plans/Questionnaire/end-of-life"
    );
    assert_eq!(q["version"], "1.2.3");
    assert_eq!(q["name"], "EndOfLife");
    assert_eq!(q["title"], "End of life");
    assert_eq!(q["description"], "D");
    assert_eq!(
        q["code"],
        json!([{ "system": "http://snomed.info/sct", "code": "736373009", "display": "End of life care plan" }])
    );
    assert_eq!(q["subjectType"], json!(["Patient"]));
    let keys: Vec<&str> = q.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "resourceType",
            "id",
            "url",
            "version",
            "name",
            "title",
            "status",
            "description",
            "code",
            "subjectType",
            "item"
        ]
    );
    t.snomed = None;
    assert!(questionnaire(&t, BASE).get("code").is_none());
}

#[test]
fn each_status_is_the_same_publication_status() {
    for (status, code) in [
        (TemplateStatus::Draft, "draft"),
        (TemplateStatus::Active, "active"),
        (TemplateStatus::Retired, "retired"),
    ] {
        let mut t = with_fields(vec![field("f", FieldType::Text)]);
        t.status = status;
        let q = questionnaire(&t, BASE);
        assert_eq!(q["status"], code);
        assert_eq!(read_back(&q).unwrap().status, status);
    }
}

#[test]
fn sections_are_groups_seen_by_every_service_unless_limited() {
    let q = questionnaire(&with_fields(vec![field("f", FieldType::Text)]), BASE);
    let group = item(&q, "s");
    assert_eq!(group["type"], "group");
    assert_eq!(group["text"], "Title of s");
    let codes: Vec<&str> = group["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["url"], VISIBLE_TO_URL);
            e["valueCode"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        codes,
        [
            "111",
            "las",
            "ooh-gp",
            "ed",
            "gp",
            "community",
            "hospice",
            "care-home"
        ]
    );
}

#[test]
fn text_is_string() {
    assert_eq!(
        only_field_item(field("f", FieldType::Text)),
        json!({ "extension": [type_ext("text")], "linkId": "s.f", "text": "Label of f", "type": "string", "required": false })
    );
}

#[test]
fn long_text_is_text() {
    let mut f = field("f", FieldType::LongText);
    f.required = true;
    assert_eq!(
        only_field_item(f),
        json!({ "extension": [type_ext("long_text")], "linkId": "s.f", "text": "Label of f", "type": "text", "required": true })
    );
}

#[test]
fn yes_no_is_boolean_with_its_code() {
    let mut f = field("f", FieldType::YesNo);
    f.snomed = Some(snomed("816301000000100", "Has ADRT"));
    assert_eq!(
        only_field_item(f),
        json!({
            "extension": [type_ext("yes_no")],
            "linkId": "s.f",
            "code": [{ "system": "http://snomed.info/sct", "code": "816301000000100", "display": "Has ADRT" }],
            "text": "Label of f",
            "type": "boolean",
            "required": false
        })
    );
}

#[test]
fn choice_options_are_codings_snomed_or_the_templates_own() {
    let mut f = field("f", FieldType::Choice);
    f.options = vec![
        coded(
            "For CPR",
            "450475007",
            "For attempted cardiopulmonary resuscitation",
        ),
        coded("Same", "450476008", "Same"),
        label("Not yet decided"),
        Choice::Coded {
            label: "Person's own choice".into(),
            snomed: None,
        },
    ];
    assert_eq!(
        only_field_item(f),
        json!({
            "extension": [type_ext("choice")],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "choice",
            "required": false,
            "answerOption": [
                {
                    "extension": [{ "url": OPTION_LABEL_URL, "valueString": "For CPR" }],
                    "valueCoding": { "system": "http://snomed.info/sct", "code": "450475007", "display": "For attempted cardiopulmonary resuscitation" }
                },
                { "valueCoding": { "system": "http://snomed.info/sct", "code": "450476008", "display": "Same" } },
                { "valueCoding": { "system": CODES, "code": "not-yet-decided", "display": "Not yet decided" } },
                { "valueCoding": { "system": CODES, "code": "persons-own-choice", "display": "Person's own choice" } }
            ]
        })
    );
}

#[test]
fn multi_choice_repeats() {
    let mut f = field("f", FieldType::MultiChoice);
    f.options = vec![label("Home oxygen"), label("Tracheostomy")];
    assert_eq!(
        only_field_item(f),
        json!({
            "extension": [type_ext("multi_choice")],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "choice",
            "required": false,
            "repeats": true,
            "answerOption": [
                { "valueCoding": { "system": CODES, "code": "home-oxygen", "display": "Home oxygen" } },
                { "valueCoding": { "system": CODES, "code": "tracheostomy", "display": "Tracheostomy" } }
            ]
        })
    );
}

#[test]
fn date_is_date() {
    assert_eq!(
        only_field_item(field("f", FieldType::Date)),
        json!({ "extension": [type_ext("date")], "linkId": "s.f", "text": "Label of f", "type": "date", "required": false })
    );
}

#[test]
fn number_is_decimal_with_its_unit() {
    let mut f = field("f", FieldType::Number);
    f.unit = Some("kg".into());
    assert_eq!(
        only_field_item(f.clone()),
        json!({
            "extension": [
                type_ext("number"),
                { "url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unit",
                  "valueCoding": { "system": "http://unitsofmeasure.org", "code": "kg", "display": "kg" } }
            ],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "decimal",
            "required": false
        })
    );
    // A unit that is not its own UCUM code is published as text only, never as a guessed code.
    f.unit = Some("points".into());
    assert_eq!(
        only_field_item(f.clone())["extension"][1]["valueCoding"],
        json!({ "display": "points" })
    );
    f.unit = None;
    assert_eq!(only_field_item(f)["extension"], json!([type_ext("number")]));
}

#[test]
fn coded_draws_from_a_snomed_implicit_value_set() {
    let mut f = field("f", FieldType::Coded);
    f.value_set = Some(
        "SNOMED CT clinical findings and disorders (descendants of 404684003 Clinical finding)"
            .into(),
    );
    assert_eq!(
        only_field_item(f.clone()),
        json!({
            "extension": [type_ext("coded")],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "choice",
            "required": false,
            "answerValueSet": "http://snomed.info/sct?fhir_vs=ecl/<<404684003"
        })
    );
    f.value_set = Some("https://fhir.example.org/ValueSet/dementia".into());
    assert_eq!(
        only_field_item(f.clone())["answerValueSet"],
        "https://fhir.example.org/ValueSet/dementia"
    );
    // Text naming no concept: every SNOMED CT concept (and check_expressible says so).
    f.value_set = Some("Dementia diagnoses".into());
    assert_eq!(
        only_field_item(f)["answerValueSet"],
        "http://snomed.info/sct?fhir_vs"
    );
}

fn child(link_id: &str, text: &str, fhir_type: &str) -> Value {
    json!({ "linkId": link_id, "text": text, "type": fhir_type, "required": false })
}

#[test]
fn contact_is_a_group_of_name_relationship_and_telephone() {
    assert_eq!(
        only_field_item(field("f", FieldType::Contact)),
        json!({
            "extension": [type_ext("contact")],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "group",
            "required": false,
            "item": [
                child("s.f.name", "Name", "string"),
                child("s.f.relationship", "Relationship or role", "string"),
                child("s.f.telephone", "Telephone", "string")
            ]
        })
    );
}

#[test]
fn contact_list_is_the_contact_group_repeating() {
    assert_eq!(
        only_field_item(field("f", FieldType::ContactList)),
        json!({
            "extension": [type_ext("contact_list")],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "group",
            "required": false,
            "repeats": true,
            "item": [
                child("s.f.name", "Name", "string"),
                child("s.f.relationship", "Relationship or role", "string"),
                child("s.f.telephone", "Telephone", "string")
            ]
        })
    );
}

#[test]
fn medicine_list_is_a_repeating_group_of_medicine_dose_route_notes() {
    assert_eq!(
        only_field_item(field("f", FieldType::MedicineList)),
        json!({
            "extension": [type_ext("medicine_list")],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "group",
            "required": false,
            "repeats": true,
            "item": [
                child("s.f.medicine", "Medicine", "string"),
                child("s.f.dose", "Dose", "string"),
                child("s.f.route", "Route", "string"),
                child("s.f.notes", "Notes", "text")
            ]
        })
    );
}

#[test]
fn person_is_a_group_of_name_role_organisation_telephone() {
    assert_eq!(
        only_field_item(field("f", FieldType::Person)),
        json!({
            "extension": [type_ext("person")],
            "linkId": "s.f",
            "text": "Label of f",
            "type": "group",
            "required": false,
            "item": [
                child("s.f.name", "Name", "string"),
                child("s.f.role", "Role", "string"),
                child("s.f.organisation", "Organisation", "string"),
                child("s.f.telephone", "Telephone", "string")
            ]
        })
    );
}

#[test]
fn every_field_type_reads_back_as_itself() {
    for field_type in FIELD_TYPES {
        let mut f = field("f", field_type);
        if matches!(field_type, FieldType::Choice | FieldType::MultiChoice) {
            f.options = vec![label("A"), coded("B", "450475007", "Bee")];
        }
        if field_type == FieldType::Coded {
            f.value_set = Some("descendants of 404684003".into());
        }
        let t = with_fields(vec![f]);
        assert!(check_expressible(&t).is_empty(), "{field_type:?}");
        let back = read_back(&questionnaire(&t, BASE)).unwrap();
        assert_eq!(back.sections[0].fields[0].field_type, field_type);
        assert_eq!(back, shape_of(&t));
    }
}

fn cpr_field() -> Field {
    let mut f = field("cpr", FieldType::Choice);
    f.options = vec![
        coded(
            "For CPR",
            "450475007",
            "For attempted cardiopulmonary resuscitation",
        ),
        coded(
            "Not for CPR",
            "450476008",
            "Not for attempted cardiopulmonary resuscitation",
        ),
        label("Not yet decided"),
    ];
    f
}

#[test]
fn required_when_one_choice_answer_is_one_enable_when() {
    let mut dependent = field("f", FieldType::Person);
    dependent.required = true;
    dependent.required_when = when("cpr", &["Not for CPR"]);
    let t = template(vec![
        section("a", vec![cpr_field()]),
        section("s", vec![dependent]),
    ]);
    assert_eq!(check_expressible(&t), []);
    let q = questionnaire(&t, BASE);
    let f = item(&q, "s.f");
    assert_eq!(
        f["enableWhen"],
        json!([{
            "question": "a.cpr",
            "operator": "=",
            "answerCoding": { "system": "http://snomed.info/sct", "code": "450476008", "display": "Not for attempted cardiopulmonary resuscitation" }
        }])
    );
    assert!(f.get("enableBehavior").is_none());
    assert_eq!(f["required"], true);
    round_trips(&t);
}

#[test]
fn required_when_several_choice_answers_enable_on_any() {
    let mut dependent = field("f", FieldType::Date);
    dependent.required = true;
    dependent.required_when = when("cpr", &["Not for CPR", "Not yet decided"]);
    let t = with_fields(vec![cpr_field(), dependent]);
    assert_eq!(check_expressible(&t), []);
    let q = questionnaire(&t, BASE);
    let f = item(&q, "s.f");
    assert_eq!(
        f["enableWhen"],
        json!([
            {
                "question": "s.cpr",
                "operator": "=",
                "answerCoding": { "system": "http://snomed.info/sct", "code": "450476008", "display": "Not for attempted cardiopulmonary resuscitation" }
            },
            {
                "question": "s.cpr",
                "operator": "=",
                "answerCoding": { "system": CODES, "code": "not-yet-decided", "display": "Not yet decided" }
            }
        ])
    );
    assert_eq!(f["enableBehavior"], "any");
    // The enableWhen coding is the very answerOption coding, so a renderer's comparison holds.
    assert_eq!(
        f["enableWhen"][1]["answerCoding"],
        item(&q, "s.cpr")["answerOption"][2]["valueCoding"]
    );
    round_trips(&t);
}

#[test]
fn required_when_on_multi_choice() {
    let mut devices = field("devices", FieldType::MultiChoice);
    devices.options = vec![label("Home oxygen"), label("Tracheostomy")];
    let mut dependent = field("f", FieldType::Text);
    dependent.required = true;
    dependent.required_when = when("devices", &["Home oxygen"]);
    let t = with_fields(vec![devices, dependent]);
    assert_eq!(check_expressible(&t), []);
    assert_eq!(
        item(&questionnaire(&t, BASE), "s.f")["enableWhen"],
        json!([{ "question": "s.devices", "operator": "=", "answerCoding": { "system": CODES, "code": "home-oxygen", "display": "Home oxygen" } }])
    );
    round_trips(&t);
}

#[test]
fn required_when_yes_no_answers_are_booleans() {
    let mut dependent = field("f", FieldType::LongText);
    dependent.required = true;
    dependent.required_when = when("adrt", &["Yes"]);
    let mut either = field("g", FieldType::Text);
    either.required = true;
    either.required_when = when("adrt", &["Yes", "No"]);
    let t = with_fields(vec![field("adrt", FieldType::YesNo), dependent, either]);
    assert_eq!(check_expressible(&t), []);
    let q = questionnaire(&t, BASE);
    assert_eq!(
        item(&q, "s.f")["enableWhen"],
        json!([{ "question": "s.adrt", "operator": "=", "answerBoolean": true }])
    );
    assert!(item(&q, "s.f").get("enableBehavior").is_none());
    assert_eq!(
        item(&q, "s.g")["enableWhen"],
        json!([
            { "question": "s.adrt", "operator": "=", "answerBoolean": true },
            { "question": "s.adrt", "operator": "=", "answerBoolean": false }
        ])
    );
    assert_eq!(item(&q, "s.g")["enableBehavior"], "any");
    round_trips(&t);
}

fn help(link_id: &str, text: &str) -> Value {
    json!({
        "extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl",
            "valueCodeableConcept": {
                "coding": [{ "system": "http://hl7.org/fhir/questionnaire-item-control", "code": "help", "display": "Help-Button" }],
                "text": "Help-Button"
            }
        }],
        "linkId": link_id,
        "text": text,
        "type": "display"
    })
}

#[test]
fn guidance_is_a_help_display_item() {
    let mut f = field("f", FieldType::Text);
    f.guidance = Some("Say why.".into());
    let mut contact = field("c", FieldType::Contact);
    contact.guidance = Some("Who to ring.".into());
    let mut t = with_fields(vec![f, contact]);
    t.sections[0].guidance = Some("About the section.".into());
    let q = questionnaire(&t, BASE);
    assert_eq!(
        item(&q, "s")["item"][0],
        help("s.help", "About the section.")
    );
    assert_eq!(
        item(&q, "s.f")["item"],
        json!([help("s.f.help", "Say why.")])
    );
    let contact = item(&q, "s.c");
    assert_eq!(contact["item"][0], help("s.c.help", "Who to ring."));
    assert_eq!(contact["item"][1]["linkId"], "s.c.name");
    round_trips(&t);
}

fn visible_to(item: &Value) -> Vec<&str> {
    item.get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == VISIBLE_TO_URL)
        .map(|e| e["valueCode"].as_str().unwrap())
        .collect()
}

#[test]
fn visibility_is_on_groups_and_on_fields_that_differ() {
    let mut same = field("same", FieldType::Text);
    same.visible_to = Some(vec![Service::Ambulance, Service::GeneralPractice]);
    let mut narrower = field("narrower", FieldType::Text);
    narrower.visible_to = Some(vec![Service::GeneralPractice]);
    let mut new_services = field("new", FieldType::Text);
    new_services.visible_to = Some(vec![
        Service::CareHome,
        Service::Hospice,
        Service::Community,
    ]);
    let mut limited = section(
        "s",
        vec![
            field("inherits", FieldType::Text),
            same,
            narrower,
            new_services,
        ],
    );
    // Written out of order: published in Service::ALL order.
    limited.visible_to = Some(vec![Service::GeneralPractice, Service::Ambulance]);
    let mut t = template(vec![
        limited,
        section("open", vec![field("f", FieldType::Text)]),
    ]);
    t.visible_to = Some(vec![Service::GeneralPractice, Service::OutOfHoursGp]);
    let q = questionnaire(&t, BASE);
    assert_eq!(visible_to(item(&q, "s")), ["las", "gp"]);
    assert_eq!(visible_to(item(&q, "s.inherits")), Vec::<&str>::new());
    assert_eq!(visible_to(item(&q, "s.same")), Vec::<&str>::new());
    assert_eq!(visible_to(item(&q, "s.narrower")), ["gp"]);
    assert_eq!(
        visible_to(item(&q, "s.new")),
        ["community", "hospice", "care-home"]
    );
    // A section without its own list takes the template's.
    assert_eq!(visible_to(item(&q, "open")), ["ooh-gp", "gp"]);
    round_trips(&t);
}

#[test]
fn safety_critical_fields_say_so() {
    let mut f = field("f", FieldType::YesNo);
    f.safety_critical = true;
    let t = with_fields(vec![f, field("g", FieldType::YesNo)]);
    let q = questionnaire(&t, BASE);
    assert_eq!(
        item(&q, "s.f")["extension"],
        json!([type_ext("yes_no"), { "url": SAFETY_CRITICAL_URL, "valueBoolean": true }])
    );
    assert_eq!(item(&q, "s.g")["extension"], json!([type_ext("yes_no")]));
    round_trips(&t);
}

#[test]
fn slugs_names_and_value_sets() {
    assert_eq!(slug("0 - Fully active"), "0-fully-active");
    assert_eq!(
        slug("Created in the person's best interests (Mental Capacity Act 2005)"),
        "created-in-the-persons-best-interests-mental-capacity-act-2005"
    );
    assert_eq!(slug("  Not  known! "), "not-known");
    assert_eq!(slug("—"), "");
    assert_eq!(computable_name("end-of-life"), "EndOfLife");
    assert_eq!(computable_name("plan_2b-x"), "Plan2bX");
    assert_eq!(
        value_set_url("SNOMED CT dementia disorders (descendants of 52448006 Dementia)").as_deref(),
        Some("http://snomed.info/sct?fhir_vs=ecl/<<52448006")
    );
    assert_eq!(
        value_set_url("Descendants or self of 84114007").as_deref(),
        Some("http://snomed.info/sct?fhir_vs=ecl/<<84114007")
    );
    assert_eq!(value_set_url("descendants of 0123"), None);
    assert_eq!(value_set_url("Heart failure codes"), None);
}

fn pointers(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.pointer.as_str()).collect()
}

#[test]
fn a_clean_template_has_no_problems() {
    let t = parse_file(&fixture());
    assert_eq!(check_expressible(&t), []);
}

#[test]
fn problems_in_required_when() {
    let mut missing = field("missing", FieldType::Text);
    missing.required = true;
    missing.required_when = when("nowhere", &["Yes"]);
    let mut itself = field("itself", FieldType::YesNo);
    itself.required = true;
    itself.required_when = when("itself", &["Yes"]);
    let mut on_text = field("on_text", FieldType::Text);
    on_text.required = true;
    on_text.required_when = when("missing", &["anything"]);
    let mut on_date = field("on_date", FieldType::Text);
    on_date.required = true;
    on_date.required_when = when("when", &["2024-01-01"]);
    let mut bad_answers = field("bad_answers", FieldType::Text);
    bad_answers.required = true;
    bad_answers.required_when = when(
        "cpr",
        &["Not for CPR", "not yet decided", "Maybe", "Not for CPR"],
    );
    let mut bad_yes = field("bad_yes", FieldType::Text);
    bad_yes.required = true;
    bad_yes.required_when = when("adrt", &["Yes", "true"]);
    let mut empty = field("empty", FieldType::Text);
    empty.required = true;
    empty.required_when = when("adrt", &[]);
    // An optional field may apply only when another answer is given: that is no problem.
    let mut optional = field("optional", FieldType::Text);
    optional.required_when = when("adrt", &["No"]);
    let t = with_fields(vec![
        missing,
        itself,
        on_text,
        field("when", FieldType::Date),
        on_date,
        cpr_field(),
        bad_answers,
        field("adrt", FieldType::YesNo),
        bad_yes,
        empty,
        optional,
    ]);
    let problems = check_expressible(&t);
    assert_eq!(
        pointers(&problems),
        [
            "/sections/0/fields/0/required_when/field",
            "/sections/0/fields/1/required_when/field",
            "/sections/0/fields/2/required_when/field",
            "/sections/0/fields/4/required_when/field",
            "/sections/0/fields/6/required_when/answers/1",
            "/sections/0/fields/6/required_when/answers/2",
            "/sections/0/fields/6/required_when/answers/3",
            "/sections/0/fields/8/required_when/answers/1",
            "/sections/0/fields/9/required_when/answers",
        ],
        "{problems:#?}"
    );
    assert!(problems[0].message.contains("no field of this template"));
    assert!(problems[1].message.contains("the field itself"));
    assert!(problems[2].message.contains("a text field"));
    assert!(problems[3].message.contains("a date field"));
    assert!(
        problems[4]
            .message
            .contains("did you mean `Not yet decided`")
    );
    assert!(
        problems[5]
            .message
            .contains("`Maybe` is not an answer of `cpr`")
    );
    assert!(problems[6].message.contains("listed twice"));
    assert!(problems[7].message.contains("its answers are `Yes`, `No`"));
    assert!(problems[8].message.contains("no answers"));
    // What could be expressed still is: the valid answer of bad_answers is published.
    let q = questionnaire(&t, BASE);
    assert_eq!(
        item(&q, "s.bad_answers")["enableWhen"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(item(&q, "s.missing").get("enableWhen").is_none());
    assert_eq!(
        item(&q, "s.optional")["enableWhen"],
        json!([{ "question": "s.adrt", "operator": "=", "answerBoolean": false }])
    );
    assert_eq!(item(&q, "s.optional")["required"], false);
}

#[test]
fn problems_with_ambiguous_or_circular_conditions() {
    let mut a = field("a", FieldType::YesNo);
    a.required = true;
    a.required_when = when("b", &["Yes"]);
    let mut b = field("b", FieldType::YesNo);
    b.required = true;
    b.required_when = when("a", &["No"]);
    let mut c = field("c", FieldType::Text);
    c.required = true;
    c.required_when = when("twice", &["Yes"]);
    let t = template(vec![
        section("s", vec![a, b, c, field("twice", FieldType::YesNo)]),
        section("other", vec![field("twice", FieldType::YesNo)]),
    ]);
    let problems = check_expressible(&t);
    assert_eq!(
        pointers(&problems),
        [
            "/sections/0/fields/2/required_when/field",
            "/sections/0/fields/0/required_when/field",
            "/sections/0/fields/1/required_when/field",
        ],
        "{problems:#?}"
    );
    assert!(problems[0].message.contains("more than one section"));
    assert!(problems[1].message.contains("a -> b -> a"));
    assert!(problems[2].message.contains("b -> a -> b"));
}

#[test]
fn problems_with_options() {
    let mut no_options = field("no_options", FieldType::Choice);
    no_options.options = Vec::new();
    let mut same_slug = field("same_slug", FieldType::MultiChoice);
    same_slug.options = vec![
        label("Not known"),
        label("Not-known"),
        Choice::Coded {
            label: "not known!".into(),
            snomed: None,
        },
        label("…"),
    ];
    let mut same_code = field("same_code", FieldType::Choice);
    same_code.options = vec![
        coded("A", "450475007", "Term"),
        coded("B", "450475007", "Term"),
    ];
    let mut options_on_text = field("options_on_text", FieldType::Text);
    options_on_text.options = vec![label("x"), label("y")];
    let mut across = field("across", FieldType::Choice);
    across.options = vec![label("NOT KNOWN"), label("Other")];
    let t = with_fields(vec![
        no_options,
        same_slug,
        same_code,
        options_on_text,
        across,
    ]);
    let problems = check_expressible(&t);
    assert_eq!(
        pointers(&problems),
        [
            // Across fields first: one code, two displays in the template's code system.
            "/sections/0/fields/1/options/1",
            "/sections/0/fields/1/options/2/label",
            "/sections/0/fields/4/options/0",
            "/sections/0/fields/0",
            "/sections/0/fields/1/options/1",
            "/sections/0/fields/1/options/2/label",
            "/sections/0/fields/1/options/3",
            "/sections/0/fields/2/options/1/snomed/code",
            "/sections/0/fields/3/options",
        ],
        "{problems:#?}"
    );
    assert!(problems[3].message.contains("no options"));
    assert!(
        problems[4]
            .message
            .contains("same code `not-known` as option 0")
    );
    assert!(problems[6].message.contains("no ASCII letters or digits"));
    assert!(problems[7].message.contains("same SNOMED CT code"));
}

#[test]
fn problems_with_ids_types_and_link_ids() {
    let mut coded_without = field("coded_without", FieldType::Coded);
    coded_without.value_set = None;
    let mut coded_vague = field("coded_vague", FieldType::Coded);
    coded_vague.value_set = Some("Heart failure codes".into());
    let mut unit_on_text = field("unit_on_text", FieldType::Text);
    unit_on_text.unit = Some("kg".into());
    let mut value_set_on_text = field("value_set_on_text", FieldType::Text);
    value_set_on_text.value_set = Some("descendants of 404684003".into());
    let mut help_field = field("help", FieldType::Text);
    help_field.visible_to = Some(Vec::new());
    let mut s = section(
        "s",
        vec![
            coded_without,
            coded_vague,
            unit_on_text,
            value_set_on_text,
            help_field,
        ],
    );
    s.guidance = Some("Section help".into());
    let mut t = template(vec![
        s,
        section("s", vec![field("again", FieldType::Text)]),
        section("empty", vec![]),
    ]);
    t.id = "bad_id".into();
    let problems = check_expressible(&t);
    assert_eq!(
        pointers(&problems),
        [
            "/id",
            "/sections/0/fields/4/id",
            "/sections/1/id",
            "/sections/0/fields/0",
            "/sections/0/fields/1/value_set",
            "/sections/0/fields/2/unit",
            "/sections/0/fields/3/value_set",
            "/sections/0/fields/4/visible_to",
            "/sections/2/fields",
        ],
        "{problems:#?}"
    );
    assert!(problems[0].message.contains("not a FHIR resource id"));
    assert!(
        problems[1]
            .message
            .contains("`s.help`, which /sections/0/guidance already has")
    );
    assert!(
        problems[2]
            .message
            .contains("`s`, which /sections/0/id already has")
    );
}

#[test]
fn read_back_refuses_what_the_mapping_never_writes() {
    let t = parse_file(&fixture());
    let q = questionnaire(&t, BASE);
    assert!(read_back(&q).is_ok());

    let mut no_type = q.clone();
    no_type["item"][0]["item"][1]["extension"] = json!([]);
    assert!(
        read_back(&no_type)
            .unwrap_err()
            .contains("no field-type extension")
    );

    let mut wrong_type = q.clone();
    wrong_type["item"][0]["item"][1]["extension"][0]["valueCode"] = json!("person");
    assert!(
        read_back(&wrong_type)
            .unwrap_err()
            .contains("a person field should be type group")
    );

    let mut stray_answer = q.clone();
    let cpr_review = stray_answer["item"][1]["item"][2].as_object_mut().unwrap();
    cpr_review["enableWhen"][0]["answerCoding"]["code"] = json!("123456");
    assert!(
        read_back(&stray_answer)
            .unwrap_err()
            .contains("names no option")
    );

    let mut no_behaviour = q.clone();
    no_behaviour["item"][1]["item"][2]
        .as_object_mut()
        .unwrap()
        .remove("enableBehavior");
    assert!(
        read_back(&no_behaviour)
            .unwrap_err()
            .contains("enableBehavior")
    );

    assert!(read_back(&json!({ "resourceType": "Patient" })).is_err());
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One template with every field type, every extension and both kinds of `required_when`.
fn fixture() -> PathBuf {
    manifest().join("tests/fixtures/fhir/all-field-types.yaml")
}

/// Where the fixture's Questionnaire is kept for `tests/python/check_questionnaires.py`.
fn fixture_questionnaire() -> PathBuf {
    manifest().join("tests/fixtures/fhir/all-field-types.questionnaire.json")
}

/// A template file read as careplans reads records: its own YAML loader, then serde.
fn parse_file(path: &Path) -> Template {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = crate::yaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    serde_json::from_value(doc.value).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bundled templates, `records/templates/*.yaml`.
fn bundled_templates() -> Vec<Template> {
    let dir = manifest().join("records/templates");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths.iter().map(|path| parse_file(path)).collect()
}

#[test]
fn every_bundled_template_is_expressible_and_round_trips() {
    let templates = bundled_templates();
    assert!(templates.len() >= 7, "found {} templates", templates.len());
    for t in &templates {
        assert_eq!(check_expressible(t), [], "{}", t.id);
        round_trips(t);
    }
    round_trips(&parse_file(&fixture()));
}

/// The fixture's Questionnaire is kept in the repository so that the Python check validates
/// every field type and `required_when` with fhir.resources, which the bundled templates alone
/// do not cover. Set `UPDATE_FHIR_FIXTURES=1` to write it again after changing the mapping.
#[test]
fn the_fixture_questionnaire_is_what_the_mapping_publishes() {
    let q = questionnaire(&parse_file(&fixture()), DEFAULT_CANONICAL_BASE);
    let text = serde_json::to_string_pretty(&q).unwrap() + "\n";
    let path = fixture_questionnaire();
    if std::env::var_os("UPDATE_FHIR_FIXTURES").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == text,
        "{} is not what the mapping publishes; run with UPDATE_FHIR_FIXTURES=1 and review the diff",
        path.display()
    );
}
