//! The FHIR R4 Questionnaires `build` publishes: one per template beside its page and one per
//! version beside each version page, each reading back (`fhir::read_back`) as exactly the shape
//! of the YAML it came from (`fhir::shape_of`), canonical under `[site] canonical_base`.

mod common;

use std::path::Path;

use careplans::fhir::{self, DEFAULT_CANONICAL_BASE};
use careplans::model::Template;
use common::{Repo, html, project_root};

/// A template file read as careplans reads records: its YAML loader, then serde.
fn template_at(path: &Path) -> Template {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = careplans::yaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    serde_json::from_value(doc.value).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_at(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not published: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_bundled_template_is_published_as_a_questionnaire_that_reads_back_as_its_yaml() {
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("public");
    let run = common::run_in(&project_root(), &["build", "--out", site.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let mut templates: Vec<_> = std::fs::read_dir(project_root().join("records/templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    templates.sort();
    assert!(templates.len() >= 7, "{templates:?}");
    let mut versions = 0;
    for path in &templates {
        let template = template_at(path);
        let folder = site.join("templates").join(&template.id);
        let published = json_at(&folder.join("questionnaire.json"));
        assert_eq!(
            fhir::read_back(&published).unwrap_or_else(|e| panic!("{}: {e}", template.id)),
            fhir::shape_of(&template),
            "{}",
            template.id
        );
        assert_eq!(
            published["url"],
            format!("{DEFAULT_CANONICAL_BASE}/Questionnaire/{}", template.id)
        );
        let page = std::fs::read_to_string(folder.join("index.html")).unwrap();
        assert!(
            html::links(&page)
                .iter()
                .any(|l| l.ends_with(&format!("{}/questionnaire.json", template.id))),
            "{} does not link its Questionnaire",
            template.id
        );
        // Each version beside its page, reading back as that version.
        for entry in std::fs::read_dir(&folder).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let Some(version) = name
                .strip_prefix('v')
                .and_then(|n| n.strip_suffix(".questionnaire.json"))
            else {
                continue;
            };
            let back = fhir::read_back(&json_at(&folder.join(&name)))
                .unwrap_or_else(|e| panic!("{}/{name}: {e}", template.id));
            assert_eq!(back.version.to_string(), version);
            assert_eq!(back.id, template.id);
            let version_page =
                std::fs::read_to_string(folder.join(format!("v{version}.html"))).unwrap();
            assert!(
                html::links(&version_page)
                    .iter()
                    .any(|l| l.ends_with(&name)),
                "v{version}.html does not link {name}"
            );
            versions += 1;
        }
    }
    assert!(versions >= templates.len(), "only {versions} version files");
}

#[test]
fn questionnaires_are_canonical_under_the_configured_base() {
    let repo = Repo::valid();
    common::copy_dir(&project_root().join("reports"), &repo.path("reports"));
    common::copy_dir(&project_root().join("site"), &repo.path("site"));
    repo.edit(
        "careplans.toml",
        "[site]\n",
        "[site]\ncanonical_base = \"https://plans.example.nhs.uk/fhir/\"\n",
    );
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let q = json_at(&repo.path("public/templates/urgent-care-plan/questionnaire.json"));
    assert_eq!(
        q["url"],
        "https://plans.example.nhs.uk/fhir/Questionnaire/urgent-care-plan"
    );
    // Options without a SNOMED CT code are codes of the template's own code system there.
    assert_eq!(
        q["item"][0]["item"][0]["answerOption"][0]["valueCoding"]["system"],
        "https://plans.example.nhs.uk/fhir/CodeSystem/urgent-care-plan"
    );
    // A conditional field's enableWhen answers with the very coding of the option.
    let template = repo.read("records/templates/urgent-care-plan.yaml");
    repo.write(
        "records/templates/urgent-care-plan.yaml",
        format!(
            "{template}      - id: place_details
        label: Where exactly
        type: text
        required: true
        safety_critical: false
        required_when:
          field: preferred_place_of_death
          answers: [Other]
"
        ),
    );
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let q = json_at(&repo.path("public/templates/urgent-care-plan/questionnaire.json"));
    let details = &q["item"][1]["item"][1];
    assert_eq!(details["linkId"], "preferences.place_details");
    assert_eq!(
        details["enableWhen"][0],
        serde_json::json!({
            "question": "preferences.preferred_place_of_death",
            "operator": "=",
            "answerCoding": q["item"][1]["item"][0]["answerOption"][4]["valueCoding"].clone()
        })
    );
    let template = template_at(&repo.path("records/templates/urgent-care-plan.yaml"));
    assert_eq!(fhir::read_back(&q).unwrap(), fhir::shape_of(&template));
}
