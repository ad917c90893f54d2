//! Incremental rebuilds are exact: after an edit to any kind of file, the site the preview
//! serves is byte for byte the site a fresh `build` of the same files makes, whatever smaller
//! path the rebuild took. Driven through `AppState::rebuild`, the function `serve`'s watcher
//! calls with each debounced batch of changes.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use careplans::config::Paths;
use careplans::model::Month;
use careplans::pipeline::{Build, Outcome};
use careplans::serve::AppState;
use careplans::snapshot::Changes;
use common::Repo;
use common::git::Git;

const TEMPLATE: &str = "records/templates/urgent-care-plan.yaml";

/// The small valid repository with the project's reports and theme, committed once so
/// template pages have a version history.
fn site_repo() -> Repo {
    let repo = Repo::valid();
    common::copy_dir(
        &common::project_root().join("reports"),
        &repo.path("reports"),
    );
    common::copy_dir(&common::project_root().join("site"), &repo.path("site"));
    let mut git = Git::init(repo.root());
    git.commit("Ana Analyst <ana@example.nhs.uk>", "Records");
    repo
}

/// The preview of `repo` after its first build.
fn served(repo: &Repo) -> Arc<AppState> {
    let state = AppState::new(repo.root().to_path_buf());
    let done = state.build_all();
    assert!(done.ok(), "{:?}", state.preview.read().unwrap().problems);
    state
}

/// What a fresh build of the work tree makes.
fn fresh_site(repo: &Repo) -> careplans::site::Site {
    let mut build = Build::open(repo.root(), None, Month::current()).unwrap();
    let done = build.full();
    assert!(done.ok(), "a fresh build failed: {:?}", build.problems());
    build.site().clone()
}

/// Asserts the preview serves exactly what a fresh build makes.
fn assert_exact(state: &Arc<AppState>, repo: &Repo, after: &str) {
    let fresh = fresh_site(repo);
    let preview = state.preview.read().unwrap();
    let served: BTreeSet<&String> = preview.site.files.keys().collect();
    let built: BTreeSet<&String> = fresh.files.keys().collect();
    assert_eq!(
        served.symmetric_difference(&built).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "after {after}: files served but not built, or built but not served"
    );
    for (path, bytes) in &fresh.files {
        assert!(
            preview.site.files.get(path) == Some(bytes),
            "after {after}: {path} differs from a fresh build"
        );
    }
}

/// Rebuilds after `paths` changed, as the watcher would, and returns (pages rendered, total).
fn rebuild(state: &Arc<AppState>, paths: &[&str]) -> (usize, usize) {
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), paths.iter().copied()));
    match done.outcome {
        Outcome::Rendered {
            pages_rendered,
            pages_total,
            ..
        } => (pages_rendered, pages_total),
        Outcome::Failed { .. } => panic!(
            "rebuild after {paths:?} failed: {:?}",
            state.preview.read().unwrap().problems
        ),
    }
}

#[test]
fn every_kind_of_edit_gives_the_site_a_full_build_gives() {
    let repo = site_repo();
    let state = served(&repo);
    assert_exact(&state, &repo, "the first build");

    // (file, from, to, whether fewer pages than all must be rendered)
    let edits: [(&str, &str, &str, bool); 12] = [
        (
            TEMPLATE,
            "title: Urgent care plan",
            "title: Universal care plan",
            true,
        ),
        (
            TEMPLATE,
            "label: Preferred place of death",
            "label: Preferred place of death (first choice)",
            true,
        ),
        (
            "records/metrics/2021-02.csv",
            "2021-02,E12000007,all,1250",
            "2021-02,E12000007,all,1300",
            false,
        ),
        (
            "reports/overview.yaml",
            "title: Urgent care plans in London",
            "title: Urgent care plans across London",
            true,
        ),
        (
            "records/areas.yaml",
            "adults: 150000",
            "adults: 152000",
            false,
        ),
        (
            "records/programmes/nel-adoption.yaml",
            "name: North East London adoption project",
            "name: North East London CMC adoption project",
            false,
        ),
        (
            "careplans.toml",
            "title = \"London urgent care plans\"",
            "title = \"Urgent care plans in London\"",
            false,
        ),
        // Where the Questionnaires are canonical: the template families only.
        (
            "careplans.toml",
            "[site]\n",
            "[site]\ncanonical_base = \"https://plans.example.nhs.uk/fhir\"\n",
            true,
        ),
        (
            "records-schema/template.schema.json",
            "\"title\": \"Care-plan template\"",
            "\"title\": \"Care-plan template (structure only)\"",
            false,
        ),
        (
            "site/templates/template.html",
            "<h1 class=\"nhsuk-heading-xl\">{{ t.title }}</h1>",
            "<h1 class=\"nhsuk-heading-xl\">{{ t.title }} (template)</h1>",
            true,
        ),
        (
            "site/templates/template_service.html",
            "<p>{{ page.summary }}</p>",
            "<p class=\"nhsuk-body\">{{ page.summary }}</p>",
            true,
        ),
        ("site/static/careplans.css", "", "", true),
    ];
    for (path, from, to, partial) in edits {
        if path.ends_with(".css") {
            let css = repo.read(path);
            repo.write(path, format!("{css}\n.cp-note {{ margin: 0; }}\n"));
        } else {
            repo.edit(path, from, to);
        }
        let (rendered, total) = rebuild(&state, &[path]);
        if partial {
            assert!(rendered < total, "{path}: rendered {rendered} of {total}");
        }
        assert_exact(&state, &repo, path);
    }
}

#[test]
fn a_static_file_is_copied_and_nothing_is_rendered() {
    let repo = site_repo();
    let state = served(&repo);
    let css = repo.read("site/static/careplans.css");
    repo.write(
        "site/static/careplans.css",
        format!("{css}\n.cp-x {{ color: #000; }}\n"),
    );
    let done = state.rebuild(&Changes::of_paths(
        &Paths::default(),
        ["site/static/careplans.css"],
    ));
    assert!(
        done.log_line().contains("copied") && done.log_line().contains("rendered 0 of"),
        "{}",
        done.log_line()
    );
    assert_exact(&state, &repo, "a CSS edit");
}

#[test]
fn a_report_edit_renders_that_reports_pages_only() {
    let repo = site_repo();
    let state = served(&repo);
    let before = state.preview.read().unwrap().site.clone();
    repo.edit("reports/stp.yaml", "title:", "title: (edited)");
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), ["reports/stp.yaml"]));
    let Outcome::Rendered { families, site, .. } = &done.outcome else {
        panic!("{:?}", state.preview.read().unwrap().problems);
    };
    assert_eq!(
        families.iter().map(|f| f.describe()).collect::<Vec<_>>(),
        ["report stp"]
    );
    assert!(
        site.replaced
            .iter()
            .all(|p| p.starts_with("areas/") || p.starts_with("data/"))
    );
    assert_eq!(
        before.get("index.html"),
        state.preview.read().unwrap().site.get("index.html")
    );
    assert_exact(&state, &repo, "a report edit");
}

#[test]
fn templates_added_removed_and_broken_then_fixed_stay_exact() {
    let repo = site_repo();
    let state = served(&repo);

    // A new template: its pages appear.
    let copy = repo
        .read(TEMPLATE)
        .replace("id: urgent-care-plan", "id: second-plan")
        .replace("title: Urgent care plan", "title: Second plan");
    repo.write("records/templates/second-plan.yaml", &copy);
    rebuild(&state, &["records/templates/second-plan.yaml"]);
    assert!(
        state
            .preview
            .read()
            .unwrap()
            .site
            .get("templates/second-plan/index.html")
            .is_some()
    );
    assert_exact(&state, &repo, "adding a template");

    // A broken edit fails and keeps the last good site; an edit elsewhere while it is broken
    // is not lost once it is fixed.
    repo.edit(TEMPLATE, "required: true", "required: sometimes");
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), [TEMPLATE]));
    assert!(!done.ok());
    assert!(
        done.log_line().contains("serving the last good site"),
        "{}",
        done.log_line()
    );
    repo.edit(
        "records/templates/second-plan.yaml",
        "label: Preferred place of death",
        "label: Preferred place to die",
    );
    let done = state.rebuild(&Changes::of_paths(
        &Paths::default(),
        ["records/templates/second-plan.yaml"],
    ));
    assert!(!done.ok(), "the first template is still broken");
    repo.edit(TEMPLATE, "required: sometimes", "required: true");
    rebuild(&state, &[TEMPLATE]);
    assert_exact(&state, &repo, "fixing a broken template");

    // A template removed: its pages go.
    repo.remove("records/templates/second-plan.yaml");
    rebuild(&state, &["records/templates/second-plan.yaml"]);
    assert!(
        state
            .preview
            .read()
            .unwrap()
            .site
            .get("templates/second-plan/index.html")
            .is_none()
    );
    assert_exact(&state, &repo, "removing a template");
}

#[test]
fn a_broken_config_is_read_again_with_the_next_change() {
    let repo = site_repo();
    let state = served(&repo);
    repo.edit("careplans.toml", "[site]", "[site\n");
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), ["careplans.toml"]));
    assert!(!done.ok());
    // A template edit alone must not slip past the broken config.
    repo.edit(
        TEMPLATE,
        "label: Preferred place of death",
        "label: Preferred place of death (first choice)",
    );
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), [TEMPLATE]));
    assert!(!done.ok(), "the config is still broken");
    repo.edit("careplans.toml", "[site\n", "[site]");
    rebuild(&state, &["careplans.toml"]);
    assert_exact(&state, &repo, "fixing the config");
}

#[test]
fn a_title_edit_renders_the_pages_that_show_titles_and_no_others() {
    let repo = site_repo();
    // A report that reaches the title without naming it: `SELECT *` reads every column.
    repo.write(
        "reports/catalogue.yaml",
        "id: catalogue\ntitle: Template catalogue\ndescription: Every template.\nqueries:\n  - id: all\n    sql: SELECT * FROM templates ORDER BY id\ntables:\n  - query: all\n    caption: Templates\n    columns:\n      - column: title\n        label: Title\n",
    );
    let state = AppState::new(repo.root().to_path_buf());
    assert!(
        state.build_all().ok(),
        "{:?}",
        state.preview.read().unwrap().problems
    );
    let before = state.preview.read().unwrap().site.clone();
    repo.edit(
        TEMPLATE,
        "title: Urgent care plan",
        "title: Universal care plan",
    );
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), [TEMPLATE]));
    let Outcome::Rendered {
        families,
        queries,
        blocks,
        ..
    } = &done.outcome
    else {
        panic!("{:?}", state.preview.read().unwrap().problems);
    };
    // Only the queries that can see a title run again; the rest give their kept results.
    assert!(
        queries.run > 0 && queries.kept > 2 * queries.run,
        "{queries:?}"
    );
    // The borough pages are rendered again for their table of templates; their charts, whose
    // results did not change, are kept as they were rendered.
    assert!(blocks.kept > blocks.made, "{blocks:?}");
    // Exactly the families that show the title; the STP and programme pages read none.
    let families: Vec<String> = families.iter().map(|f| f.describe()).collect();
    assert_eq!(
        families,
        [
            "report borough",
            "report catalogue",
            "report overview",
            "template urgent-care-plan",
            "templates index",
        ],
    );
    let after = state.preview.read().unwrap().site.clone();
    let catalogue = String::from_utf8_lossy(after.get("catalogue.html").unwrap()).into_owned();
    assert!(
        catalogue.contains("Universal care plan"),
        "the wildcard query saw the edit"
    );
    assert_eq!(
        before.get("programmes.html"),
        after.get("programmes.html"),
        "a page that reads no title is kept"
    );
    assert_exact(&state, &repo, "a title edit");
}

#[test]
fn a_file_that_came_and_went_within_the_batch_is_not_named() {
    let repo = site_repo();
    let state = served(&repo);
    // `sed -i` writes a temporary copy beside the file and renames it over the original.
    repo.edit(
        TEMPLATE,
        "title: Urgent care plan",
        "title: Universal care plan",
    );
    let done = state.rebuild(&Changes::of_paths(
        &Paths::default(),
        [TEMPLATE, "records/templates/sedAb12Cd"],
    ));
    assert!(
        done.log_line()
            .starts_with(&format!("{TEMPLATE} changed: rendered ")),
        "{}",
        done.log_line()
    );
    // A removed record is still named: it was read before.
    let removed = "records/programmes/nel-adoption.yaml";
    std::fs::remove_file(repo.path(removed)).unwrap();
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), [removed]));
    assert!(done.log_line().starts_with(removed), "{}", done.log_line());
}

/// The README's figures for a title edit on the bundled records: which pages it renders and
/// how many queries run again.
#[test]
fn a_title_edit_on_the_bundled_records_renders_45_of_113_pages() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(
        common::project_root().join("careplans.toml"),
        root.join("careplans.toml"),
    )
    .unwrap();
    for folder in ["records", "records-schema", "reports", "site"] {
        common::copy_dir(&common::project_root().join(folder), &root.join(folder));
    }
    // Committed, so each template has its version page.
    Git::init(root).commit("Ana Analyst <ana@example.nhs.uk>", "Records");
    let state = AppState::new(root.to_path_buf());
    assert!(state.build_all().ok());
    let path = "records/templates/frailty.yaml";
    let text = std::fs::read_to_string(root.join(path)).unwrap();
    let edited = text.replacen(
        "title: Frailty urgent care plan",
        "title: Frailty care plan",
        1,
    );
    assert_ne!(
        text, edited,
        "the bundled frailty template has the expected title"
    );
    std::fs::write(root.join(path), edited).unwrap();
    let done = state.rebuild(&Changes::of_paths(&Paths::default(), [path]));
    let Outcome::Rendered {
        pages_rendered,
        pages_total,
        queries,
        ..
    } = done.outcome
    else {
        panic!("{:?}", state.preview.read().unwrap().problems);
    };
    assert_eq!((pages_rendered, pages_total), (45, 113));
    // One query per borough page and the overview's read the title; the rest are kept.
    assert_eq!((queries.run, queries.run + queries.kept), (34, 174));
}
