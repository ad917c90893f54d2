//! The bundled London records: clean under `check`, exactly what the seeded model makes, and
//! true to the programme's history and its published anchors (DOMAIN.md).

mod common;

use std::collections::BTreeMap;

use careplans::synth::model::LONDON_REGISTERED_DEATHS;
use common::project_root;

const LONDON: &str = "E12000007";
const CMC: &str = "coordinate-my-care-legacy";

#[test]
fn bundled_records_are_clean() {
    let run = common::run_in(&project_root(), &["check", "--deny", "warnings"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("7 templates"), "{}", run.stdout);
    assert!(
        run.stdout.contains("0 errors, 0 warnings"),
        "{}",
        run.stdout
    );
}

#[test]
fn bundled_metrics_are_what_the_model_makes() {
    // The published files must be reproducible from the model and its seed, byte for byte.
    let out = tempfile::tempdir().unwrap();
    let run = common::run_in(
        &project_root(),
        &["synth", "--metrics", out.path().to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bundled = project_root().join("records/metrics");
    let mut names: Vec<_> = std::fs::read_dir(&bundled)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 60, "April 2019 to March 2024");
    for name in names {
        let expected = std::fs::read(bundled.join(&name)).unwrap();
        let made = std::fs::read(out.path().join(&name)).unwrap();
        assert!(
            expected == made,
            "{} differs from the model's output",
            name.to_string_lossy()
        );
    }
}

/// Every bundled row as (month, area, template) -> column -> published count (None: `*`).
fn bundled_rows() -> BTreeMap<(String, String, String), BTreeMap<String, Option<u64>>> {
    let mut out = BTreeMap::new();
    let dir = project_root().join("records/metrics");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            let counts = header[3..]
                .iter()
                .zip(&cells[3..])
                .map(|(h, c)| ((*h).to_owned(), c.parse().ok()))
                .collect();
            out.insert(
                (
                    cells[0].to_owned(),
                    cells[1].to_owned(),
                    cells[2].to_owned(),
                ),
                counts,
            );
        }
    }
    out
}

fn london(
    rows: &BTreeMap<(String, String, String), BTreeMap<String, Option<u64>>>,
    month: &str,
    template: &str,
    column: &str,
) -> u64 {
    rows[&(month.to_owned(), LONDON.to_owned(), template.to_owned())][column].unwrap_or(0)
}

#[test]
fn london_matches_the_programmes_anchors() {
    let rows = bundled_rows();
    // Dec 2020: about 115,000 Londoners had a CMC plan.
    let late_2020 = london(&rows, "2020-12", "all", "active_plans") as f64;
    assert!(
        (late_2020 - 115_000.0).abs() <= 0.15 * 115_000.0,
        "{late_2020} active plans in December 2020"
    );
    // Jan 2024: 55,000+ living Londoners with a Universal Care Plan.
    let ucp_2024 = london(&rows, "2024-01", "all", "active_plans")
        - london(&rows, "2024-01", CMC, "active_plans");
    assert!(
        (55_000..=63_250).contains(&ucp_2024),
        "{ucp_2024} on UCP in January 2024"
    );
}

#[test]
fn plans_are_cmc_alone_before_july_2022_and_ucp_alone_after() {
    let rows = bundled_rows();
    let templates: Vec<String> = rows
        .keys()
        .map(|(_, _, t)| t.clone())
        .filter(|t| t != "all")
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for ((month, area, template), counts) in &rows {
        if area != LONDON || template == "all" {
            continue;
        }
        let holds = |c: &str| counts[c] != Some(0);
        let before = month.as_str() < "2022-07";
        if template == CMC {
            assert!(
                before || (!holds("active_plans") && !holds("new_plans")),
                "CMC has plans in {month}"
            );
        } else {
            assert!(
                !before || (!holds("active_plans") && !holds("new_plans")),
                "{template} has plans in {month}, before UCP"
            );
        }
    }
    assert!(templates.len() >= 7);
    // Migrated plans are not new plans: no July 2022 spike at any level.
    let june = london(&rows, "2022-06", "all", "new_plans");
    let july = london(&rows, "2022-07", "all", "new_plans");
    assert!(
        july < june,
        "{july} new plans in July 2022 against {june} in June"
    );
    let migrated = london(&rows, "2022-07", "all", "active_plans");
    assert!(
        migrated > 40_000,
        "{migrated} plans on UCP after the migration"
    );
}

#[test]
fn plan_holders_deaths_stay_well_under_londons_registered_deaths() {
    let rows = bundled_rows();
    let mut by_year: BTreeMap<i32, (u64, u32)> = BTreeMap::new();
    for ((month, area, template), counts) in &rows {
        if area == LONDON && template == "all" {
            let year: i32 = month[..4].parse().unwrap();
            let entry = by_year.entry(year).or_default();
            entry.0 += counts["deaths"].unwrap_or(0);
            entry.1 += 1;
        }
    }
    for (year, (deaths, months)) in by_year {
        let registered = LONDON_REGISTERED_DEATHS
            .iter()
            .find(|(y, _)| *y == year)
            .map(|(_, d)| *d)
            .unwrap();
        // A part year is judged on its share of the year.
        let allowed = 0.45 * registered as f64 * f64::from(months) / 12.0;
        assert!(
            (deaths as f64) <= allowed,
            "{deaths} deaths of plan holders in {months} months of {year}: more than 45% of {registered}"
        );
    }
}

#[test]
fn bundled_figures_follow_nhs_englands_method_and_hide_nothing_more() {
    // HES: no secondary suppression, so Tower Hamlets' new plans are published every month.
    let rows = bundled_rows();
    let tower_hamlets = rows
        .iter()
        .filter(|((_, area, template), _)| area == "E09000030" && template == "all")
        .collect::<Vec<_>>();
    assert_eq!(tower_hamlets.len(), 60);
    for ((month, _, _), counts) in tower_hamlets {
        assert!(
            counts["new_plans"].is_some(),
            "Tower Hamlets' new plans hidden in {month}"
        );
    }
    let config = std::fs::read_to_string(project_root().join("careplans.toml")).unwrap();
    assert!(config.contains("secondary_suppression = false"));
}

#[test]
fn every_required_clinical_decision_has_an_honest_answer_or_a_condition() {
    // A form must never force an answer nobody gave: each required decision offers "not yet
    // discussed" (or decided, or applicable), or applies only under another answer. The
    // retired CMC template is kept as CMC had it: no new plan is made with it.
    const DECISIONS: [&str; 6] = [
        "cpr_decision",
        "treatment_ceiling",
        "respect_care_priority",
        "preferred_place_of_care",
        "preferred_place_of_death",
        "icd_deactivation_decision",
    ];
    const HONEST: [&str; 3] = ["Not yet discussed", "Not yet decided", "Not applicable"];
    let mut decisions = 0;
    for entry in std::fs::read_dir(project_root().join("records/templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = careplans::yaml::parse(&text).unwrap();
        let template: careplans::model::Template = serde_json::from_value(doc.value).unwrap();
        if template.status == careplans::model::TemplateStatus::Retired {
            continue;
        }
        for (_, field) in template.fields() {
            if !field.required || !DECISIONS.contains(&field.id.as_str()) {
                continue;
            }
            decisions += 1;
            let honest = field
                .options
                .iter()
                .any(|o| HONEST.iter().any(|h| o.label().starts_with(h)));
            assert!(
                honest || field.required_when.is_some(),
                "{}: {} forces an answer",
                template.id,
                field.id
            );
        }
    }
    assert!(decisions >= 18, "only {decisions} required decisions found");
}

#[test]
fn templates_record_the_outcome_and_ask_no_question_coded_as_an_artefact() {
    // SNOMED CT 735324008 (a treatment escalation plan, a record artefact) and 72506001 (an
    // implantable defibrillator, a physical object) are not questions.
    const NOT_QUESTIONS: [&str; 2] = ["735324008", "72506001"];
    for entry in std::fs::read_dir(project_root().join("records/templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = careplans::yaml::parse(&text).unwrap();
        let template: careplans::model::Template = serde_json::from_value(doc.value).unwrap();
        let ids: Vec<&str> = template.fields().map(|(_, f)| f.id.as_str()).collect();
        for (_, field) in template.fields() {
            let code = serde_json::to_string(&field.snomed).unwrap();
            for not_question in NOT_QUESTIONS {
                assert!(
                    !code.contains(not_question),
                    "{}: {} is coded {not_question}",
                    template.id,
                    field.id
                );
            }
        }
        // Whoever records a preferred place of death can record the actual place and date,
        // on which "died in the preferred place" depends (EPaCCS, SCCI1580).
        // (The retired CMC template is kept as CMC had it.)
        let retired = template.status == careplans::model::TemplateStatus::Retired;
        if ids.contains(&"preferred_place_of_death") && !retired {
            assert!(
                ids.contains(&"actual_place_of_death") && ids.contains(&"date_of_death"),
                "{} has a preferred place of death but not the actual place and date",
                template.id
            );
        }
        if template.id == "frailty" {
            let audience = template.audience.clone().unwrap_or_default();
            assert!(audience.contains("from mild frailty upwards (Clinical Frailty Scale 5"));
        }
    }
}
