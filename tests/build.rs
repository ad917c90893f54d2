//! `careplans build`: the site from the bundled records and from small fixtures. Every internal
//! link resolves, every page meets the accessibility rules, a failed build leaves the previous
//! site untouched, and suppressed figures show as "suppressed".

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{Repo, html, project_root};

/// A fixture repository with the project's own reports and site theme.
fn site_repo() -> Repo {
    let repo = Repo::valid();
    common::copy_dir(&project_root().join("reports"), &repo.path("reports"));
    common::copy_dir(&project_root().join("site"), &repo.path("site"));
    repo
}

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn bundled_records_build_a_linked_accessible_site() {
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("public");
    let run = common::run_in(&project_root(), &["build", "--out", site.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("built "), "{}", run.stderr);
    let pages = html::pages(&site);
    // Overview, 5 STP areas, 33 boroughs, programmes, templates index and 7 templates,
    // quality and method.
    assert!(pages.len() >= 50, "only {} pages", pages.len());
    let mut problems = Vec::new();
    for page in &pages {
        let name = page.strip_prefix(&site).unwrap().display().to_string();
        for problem in html::link_problems(&site, page) {
            problems.push(format!("{name}: {problem}"));
        }
        let text = fs::read_to_string(page).unwrap();
        for problem in html::accessibility_problems(&text) {
            problems.push(format!("{name}: {problem}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for expected in [
        "index.html",
        "areas/nwl/index.html",
        "areas/nwl/brent.html",
        "areas/nel/city-of-london.html",
        "templates/urgent-care-plan/index.html",
        "programmes.html",
        "quality.html",
        "method.html",
        "data/index.json",
    ] {
        assert!(site.join(expected).is_file(), "missing {expected}");
    }
    // Invented figures say so where they are used: populations beside each rate, programmes'
    // records and targets on their page.
    for (page, words) in [
        ("index.html", "illustrative populations for 2020"),
        ("areas/nwl/index.html", "illustrative populations for 2020"),
        ("areas/nwl/brent.html", "illustrative populations for 2020"),
        ("programmes.html", "Monthly target (illustrative)"),
        ("method.html", "llustrative"),
    ] {
        let text = fs::read_to_string(site.join(page)).unwrap();
        assert!(text.contains(words), "{page} does not say `{words}`");
    }
}

#[test]
fn css_makes_no_request_off_the_machine() {
    let css = fs::read_to_string(project_root().join("site/static/nhsuk/nhsuk-frontend.min.css"))
        .unwrap();
    assert!(
        !css.contains("http://") && !css.contains("https://"),
        "remote URL in vendored CSS"
    );
    assert!(
        !css.contains("url(/"),
        "absolute URL in vendored CSS fails from file://"
    );
    for icon in regex::Regex::new(r"url\(([^)]*)\)")
        .unwrap()
        .captures_iter(&css)
    {
        let path = project_root().join("site/static/nhsuk").join(&icon[1]);
        assert!(path.is_file(), "CSS refers to missing {}", &icon[1]);
    }
}

#[test]
fn failed_build_leaves_the_previous_site_byte_identical() {
    let repo = site_repo();
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let before = read_tree(&repo.path("public"));
    assert!(before.contains_key("index.html"));
    repo.edit(
        "records/metrics/2021-02.csv",
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,3",
    );
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("disclosure/small-count"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("not built"), "{}", run.stderr);
    assert_eq!(read_tree(&repo.path("public")), before);
    let leftovers: Vec<_> = fs::read_dir(repo.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".public"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
}

#[test]
fn broken_report_query_fails_check_and_build_at_its_line() {
    let repo = site_repo();
    repo.edit(
        "reports/overview.yaml",
        "SELECT month, active_plans, new_plans FROM metrics",
        "SELECT month, active_planz, new_plans FROM metrics",
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("report/query", "reports/overview.yaml:");
    assert!(run.stdout.contains("active_planz"), "{}", run.stdout);
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 1);
    assert!(!repo.path("public").exists());
}

#[test]
fn unknown_column_in_a_chart_is_reported_at_its_line() {
    let repo = site_repo();
    repo.edit(
        "reports/overview.yaml",
        "    y: active_plans\n    units: active plans",
        "    y: active_plan\n    units: active plans",
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("report/unknown-column", "reports/overview.yaml:");
    assert!(
        run.stdout.contains("no column `active_plan`"),
        "{}",
        run.stdout
    );
}

#[test]
fn suppressed_figures_show_as_suppressed_never_zero() {
    let repo = site_repo();
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let page = repo.read("public/areas/nel/city-of-london.html");
    // City of London's active plans are suppressed in the fixture.
    assert!(
        page.contains("cp-figure__value cp-suppressed\">suppressed"),
        "{page}"
    );
    assert!(page.contains("id=\"suppressed-note\""));
    let json: serde_json::Value =
        serde_json::from_str(&repo.read("public/data/areas-nel-city-of-london.json")).unwrap();
    assert!(
        json["queries"]["headline"]["rows"][0][1].is_null(),
        "{json}"
    );
    let csv = repo.read("public/data/areas-nel-city-of-london-chart-1.csv");
    assert!(csv.contains(",*"), "{csv}");
}

#[test]
fn text_from_records_is_escaped() {
    let repo = site_repo();
    repo.edit(
        "records/templates/urgent-care-plan.yaml",
        "label: CPR decision",
        "label: \"<script>alert(1)</script>\"",
    );
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let page = repo.read("public/templates/urgent-care-plan/index.html");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;"),
        "the label is shown as text"
    );
    assert!(!page.contains("<script>alert(1)"));
}

#[test]
fn overview_page_snapshot() {
    let repo = site_repo();
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!("overview_page", repo.read("public/index.html"));
    let svg = regex::Regex::new(r"(?s)<svg\b.*?</svg>")
        .unwrap()
        .find_iter(&repo.read("public/index.html"))
        .nth(1)
        .unwrap()
        .as_str()
        .to_owned();
    insta::assert_snapshot!("overview_trend_chart_svg", svg);
    insta::assert_snapshot!("overview_json", repo.read("public/data/index.json"));
}

#[test]
fn each_service_has_a_page_with_the_form_as_it_sees_it() {
    // The fixture's Preferences section is seen only by GP practices and out-of-hours GPs.
    let repo = site_repo();
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let folder = "public/templates/urgent-care-plan";
    let page = repo.read(&format!("{folder}/index.html"));
    let links = html::links(&page);
    for service in careplans::model::Service::ALL {
        let file = format!("for-{}.html", service.id());
        assert!(
            links
                .iter()
                .any(|l| l.ends_with(&format!("urgent-care-plan/{file}"))),
            "the template page does not link {file}"
        );
        assert!(repo.path(&format!("{folder}/{file}")).is_file(), "{file}");
    }
    assert!(page.contains(">What each service sees</h2>"), "{page}");
    // The table of which services see each section says so in words, with headers.
    let table = &page[page.find("Which services see each section").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(
        table.contains(
            "<th scope=\"col\" class=\"nhsuk-table__header\">London Ambulance Service</th>"
        )
    );
    let row = &table[table.find(">Preferences</th>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    let cells: Vec<&str> = row
        .split("<td class=\"nhsuk-table__cell\">")
        .skip(1)
        .map(|c| c.split('<').next().unwrap())
        .collect();
    // 111, LAS, OOH GP, ED, GP, community, hospice, care home.
    assert_eq!(
        cells,
        [
            "Hidden", "Hidden", "Sees", "Hidden", "Sees", "Hidden", "Hidden", "Hidden"
        ]
    );

    let las = repo.read(&format!("{folder}/for-las.html"));
    assert!(las.contains("CPR decision"), "{las}");
    assert!(!las.contains("Preferred place of death"), "{las}");
    assert!(
        las.contains("London Ambulance Service sees 1 of 2 sections and 1 of 2 fields. Hidden from it, and left out below: 1 section and 1 field."),
        "{las}"
    );
    let gp = repo.read(&format!("{folder}/for-gp.html"));
    assert!(gp.contains("Preferred place of death"), "{gp}");
    assert!(gp.contains("Nothing is hidden from GP practice"), "{gp}");
    for text in [&page, &las, &gp] {
        assert!(html::accessibility_problems(text).is_empty());
    }
}

#[test]
fn a_safety_critical_field_hidden_from_an_urgent_service_is_named_on_its_page() {
    let repo = site_repo();
    repo.edit(
        "records/templates/urgent-care-plan.yaml",
        "        safety_critical: true\n",
        "        safety_critical: true\n        visible_to: [gp, las, \"111\", ooh-gp]\n",
    );
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let ed = repo.read("public/templates/urgent-care-plan/for-ed.html");
    assert!(
        ed.contains("Safety-critical fields hidden from Emergency department, an urgent service: CPR decision."),
        "{ed}"
    );
    assert!(ed.contains("Emergency department sees no section of this template."));
    let hospice = repo.read("public/templates/urgent-care-plan/for-hospice.html");
    assert!(!hospice.contains("an urgent service"), "{hospice}");
}

#[test]
fn a_conditional_field_says_when_it_is_required_in_words() {
    let repo = site_repo();
    let template = repo.read("records/templates/urgent-care-plan.yaml");
    repo.write(
        "records/templates/urgent-care-plan.yaml",
        template.replace(
            "  - id: preferences\n",
            "      - id: cpr_decided_by
        label: Who made the decision
        type: person
        required: true
        safety_critical: true
        required_when:
          field: cpr_decision
          answers: [For CPR, Not for CPR]
      - id: cpr_form_location
        label: Where the DNACPR form is kept
        type: text
        required: false
        safety_critical: false
        required_when:
          field: cpr_decision
          answers: [Not for CPR]
  - id: preferences\n",
        ),
    );
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let page = repo.read("public/templates/urgent-care-plan/index.html");
    assert!(
        page.contains(
            "Required when CPR decision is For CPR or Not for CPR; otherwise not applicable"
        ),
        "{page}"
    );
    assert!(
        page.contains("Optional when CPR decision is Not for CPR; otherwise not applicable"),
        "{page}"
    );
    let ed = repo.read("public/templates/urgent-care-plan/for-ed.html");
    assert!(ed.contains(
        "Required when CPR decision is For CPR or Not for CPR; otherwise not applicable"
    ));
}

/// Pages render side by side on every core; what they make is put together in page order, so
/// two builds of the bundled records are the same byte for byte (the data package, which lists
/// every download in order, included).
#[test]
fn two_builds_of_the_same_records_are_byte_identical() {
    let out = tempfile::tempdir().unwrap();
    let mut sites = Vec::new();
    for name in ["first", "second"] {
        let dir = out.path().join(name);
        let run = common::run_in(&project_root(), &["build", "--out", dir.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        sites.push(read_tree(&dir));
    }
    assert!(sites[0].contains_key("data/datapackage.json"));
    assert!(sites[0] == sites[1], "two builds differ");
}

/// The README: `--verbose` (or `CAREPLANS_LOG=debug`) prints each stage's time (load, check,
/// analyse, render, write); without either, a build prints its summary and no debug lines.
#[test]
fn verbose_and_the_debug_log_print_each_stage_and_a_plain_build_prints_none() {
    let repo = site_repo();
    let stderr = |args: &[&str], log: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_careplans"));
        command
            .args(args)
            .current_dir(repo.root())
            .env("NO_COLOR", "1")
            .env_remove("CAREPLANS_LOG");
        if let Some(level) = log {
            command.env("CAREPLANS_LOG", level);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{args:?}: {stderr}");
        stderr
    };
    for (how, text) in [
        ("--verbose", stderr(&["--verbose", "build"], None)),
        ("CAREPLANS_LOG=debug", stderr(&["build"], Some("debug"))),
    ] {
        for stage in ["load", "check", "analyse", "render", "write"] {
            assert!(
                text.lines()
                    .any(|line| line.starts_with(&format!("debug: {stage}: "))),
                "{how}: no {stage} line in\n{text}"
            );
        }
        assert!(text.contains("debug: stages: load "), "{how}: {text}");
    }
    let plain = stderr(&["build"], None);
    assert!(!plain.contains("debug:"), "{plain}");
    assert!(plain.contains("built "), "{plain}");
}
