//! `careplans review` over repositories built with git2: each rule passes and fails where it
//! should, on branches, merges and the work tree.

mod common;

use common::Repo;
use common::git::Git;

const TEMPLATE: &str = "records/templates/urgent-care-plan.yaml";
const ANN: &str = "Ann Champion <ann@example.nhs.uk>";
const BOLA: &str = "Bola Safety <bola@example.nhs.uk>";

/// A repository with one commit on main and a feature branch checked out.
fn repo_on_branch() -> (Repo, Git) {
    let repo = Repo::valid();
    let mut git = Git::init(repo.root());
    git.commit(ANN, "Initial records");
    git.branch("feature");
    (repo, git)
}

fn add_required_field(repo: &Repo) {
    repo.edit(
        TEMPLATE,
        "  - id: preferences\n    title: Preferences\n    visible_to: [gp, ooh-gp]\n    fields:\n",
        "  - id: preferences\n    title: Preferences\n    visible_to: [gp, ooh-gp]\n    fields:\n      - id: key_safe\n        label: Key safe access\n        type: yes_no\n        required: true\n        safety_critical: false\n",
    );
}

fn make_cpr_optional(repo: &Repo) {
    repo.edit(
        TEMPLATE,
        "        required: true\n        safety_critical: true\n",
        "        required: false\n        safety_critical: true\n",
    );
}

#[test]
fn required_field_with_only_a_minor_bump_fails_asking_for_major() {
    let (repo, mut git) = repo_on_branch();
    add_required_field(&repo);
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.3.0\"");
    git.commit(ANN, "Add key safe access");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("New required field \"Key safe access\" in Preferences"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("need a major bump"), "{}", run.stdout);
    assert!(
        run.stdout.contains("set `version: \\\"2.0.0\\\"`")
            || run.stdout.contains("set `version: \"2.0.0\"`"),
        "{}",
        run.stdout
    );
    // With the major bump it passes.
    repo.edit(TEMPLATE, "version: \"1.3.0\"", "version: \"2.0.0\"");
    git.commit(ANN, "Major bump");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("✅ passed"));
}

#[test]
fn cpr_decision_made_optional_needs_a_second_persons_signoff() {
    let (repo, mut git) = repo_on_branch();
    make_cpr_optional(&repo);
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.3.0\"");
    git.commit(ANN, "Make CPR decision optional\n\nSome teams record it later.\n\nClinical-safety-approved-by: Ann Champion <ann@example.nhs.uk>\n");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("CPR decision: required -> optional"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("author of the change"),
        "{}",
        run.stdout
    );
    // A second person's sign-off on an empty commit.
    git.commit(BOLA, "Clinical safety review\n\nReviewed the hazard log entry.\n\nClinical-safety-approved-by: Bola Safety <bola@example.nhs.uk>\n");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("signed off by Bola Safety"),
        "{}",
        run.stdout
    );
}

#[test]
fn signoff_trailer_in_the_body_not_the_trailer_block_does_not_count() {
    let (repo, mut git) = repo_on_branch();
    make_cpr_optional(&repo);
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.3.0\"");
    git.commit(ANN, "Make CPR decision optional");
    git.commit(BOLA, "Note\n\nClinical-safety-approved-by: Bola Safety\nbut only once the hazard log is updated\n\nSee the log.\n");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
}

#[test]
fn version_bump_without_change_fails() {
    let (repo, mut git) = repo_on_branch();
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.2.1\"");
    git.commit(ANN, "Bump");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("nothing in the template changed"),
        "{}",
        run.stdout
    );
}

#[test]
fn nothing_changed_passes() {
    let (repo, mut git) = repo_on_branch();
    repo.edit(
        "records/programmes/nel-adoption.yaml",
        "monthly: 500",
        "monthly: 550",
    );
    git.commit(ANN, "New target");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No template changed"), "{}", run.stdout);
}

#[test]
fn work_tree_is_reviewed_with_uncommitted_edits() {
    let (repo, _git) = repo_on_branch();
    repo.edit(
        TEMPLATE,
        "label: Preferred place of death",
        "label: Preferred place of death (first choice)",
    );
    let run = repo.run(&["review", "main"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("`main` with `work tree`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("need a patch bump"), "{}", run.stdout);
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.2.1\"");
    let run = repo.run(&["review", "main"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn template_removed_without_retirement_fails_and_after_retirement_passes() {
    let (repo, mut git) = repo_on_branch();
    // Another template to remove (metrics must not refer to it).
    let other = repo
        .read(TEMPLATE)
        .replace("id: urgent-care-plan", "id: old-plan");
    repo.write("records/templates/old-plan.yaml", &other);
    git.checkout("main");
    repo.write("records/templates/old-plan.yaml", &other);
    git.commit(ANN, "Add old plan");
    git.branch("remove");
    repo.remove("records/templates/old-plan.yaml");
    git.commit(ANN, "Remove old plan");
    let run = repo.run(&["review", "main", "remove"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("was not retired at the base revision"),
        "{}",
        run.stdout
    );
    // Retire on main first, then remove.
    git.checkout("main");
    repo.write(
        "records/templates/old-plan.yaml",
        other
            .replace(
                "status: active",
                "status: retired\nretired_from: \"2021-02\"",
            )
            .replace("version: \"1.2.0\"", "version: \"1.3.0\""),
    );
    git.commit(ANN, "Retire old plan");
    git.branch("remove-later");
    repo.remove("records/templates/old-plan.yaml");
    git.commit(BOLA, "Remove retired old plan\n\nClinical-safety-approved-by: Cai Officer <cai@example.nhs.uk>\n");
    let run = repo.run(&["review", "main", "remove-later"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn merged_branches_are_reviewed_from_every_commit() {
    let (repo, mut git) = repo_on_branch();
    make_cpr_optional(&repo);
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.3.0\"");
    git.commit(ANN, "Make CPR decision optional");
    git.checkout("main");
    git.branch("signoff");
    repo.write("records/programmes/README.md", "Programmes.\n");
    git.commit(
        BOLA,
        "Sign off\n\nClinical-safety-approved-by: Bola Safety <bola@example.nhs.uk>\n",
    );
    git.checkout("feature");
    git.merge("signoff", ANN);
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn formats_json_and_github() {
    let (repo, mut git) = repo_on_branch();
    add_required_field(&repo);
    git.commit(ANN, "Add key safe access");
    let run = repo.run(&["review", "main", "feature", "--format", "json"]);
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["passed"], false);
    assert_eq!(json["templates"][0]["required_bump"], "major");
    assert_eq!(json["rules"][0]["rule"], "version-bump");
    let run = repo.run(&["review", "main", "feature", "--format", "github"]);
    assert!(
        run.stdout.starts_with(
            "::error file=records/templates/urgent-care-plan.yaml,title=review/version-bump::"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn markdown_summary_snapshot() {
    let (repo, mut git) = repo_on_branch();
    add_required_field(&repo);
    make_cpr_optional(&repo);
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.3.0\"");
    git.commit(ANN, "Key safe access; CPR decision optional");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("review_markdown", run.stdout);
}

#[test]
fn missing_revision_is_named_and_exits_2() {
    let (repo, _git) = repo_on_branch();
    let run = repo.run(&["review", "origin/main", "feature"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("revision `origin/main` not found"),
        "{}",
        run.stderr
    );
    let run = repo.run(&["review", "--", "--upload-pack=x"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("looks like an option"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_and_build_read_a_revision_without_checking_it_out() {
    let (repo, mut git) = repo_on_branch();
    repo.edit(
        "records/metrics/2021-02.csv",
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,3",
    );
    git.commit(ANN, "Bad figure");
    let run = repo.run(&["check", "--rev", "feature"]);
    assert_eq!(run.code, 1);
    run.assert_reports("disclosure/small-count", "records/metrics/2021-02.csv:8:23");
    let run = repo.run(&["check", "--rev", "main"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    common::copy_dir(
        &common::project_root().join("reports"),
        &repo.path("reports"),
    );
    common::copy_dir(&common::project_root().join("site"), &repo.path("site"));
    git.checkout("main");
    git.commit(ANN, "Add reports and site");
    let out = repo.path("site-at-main");
    let run = repo.run(&["build", "--rev", "main", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(out.join("index.html").is_file());
}

#[test]
fn template_pages_list_versions_from_history_newest_first_with_diffs() {
    let repo = Repo::valid();
    common::copy_dir(
        &common::project_root().join("reports"),
        &repo.path("reports"),
    );
    common::copy_dir(&common::project_root().join("site"), &repo.path("site"));
    let mut git = Git::init(repo.root());
    git.commit(ANN, "Initial records");
    repo.edit(
        TEMPLATE,
        "label: Preferred place of death",
        "label: Preferred place of death (first choice)",
    );
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.2.1\"");
    git.commit(ANN, "Clarify preferred place label");
    repo.edit(
        "records/programmes/nel-adoption.yaml",
        "monthly: 500",
        "monthly: 520",
    );
    git.commit(ANN, "Programme target (no template change)");
    add_required_field(&repo);
    git.commit(ANN, "Add key safe access");
    repo.edit(TEMPLATE, "version: \"1.2.1\"", "version: \"2.0.0\"");
    git.commit(BOLA, "Release 2.0.0\n\nReviewed-by: Cai Officer <cai@example.nhs.uk>\nClinical-safety-approved-by: Bola Safety <bola@example.nhs.uk>\n");
    let run = repo.run(&["build"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let page = repo.read("public/templates/urgent-care-plan/index.html");
    let positions: Vec<usize> = ["v2.0.0.html", "v1.2.1.html", "v1.2.0.html"]
        .iter()
        .map(|v| page.find(v).unwrap_or_else(|| panic!("{v} not listed")))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "versions must be newest first"
    );
    assert!(page.contains("Clinical-safety-approved-by: Bola Safety"));
    assert!(page.contains("Release 2.0.0"));
    let version = repo.read("public/templates/urgent-care-plan/v2.0.0.html");
    assert!(
        version.contains("New required field &quot;Key safe access&quot; in Preferences"),
        "{version}"
    );
    let first = repo.read("public/templates/urgent-care-plan/v1.2.0.html");
    assert!(first.contains("first version"));
}

#[test]
fn shallow_clone_names_the_missing_revision_and_still_builds_history() {
    let (repo, mut git) = repo_on_branch();
    make_cpr_optional(&repo);
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.3.0\"");
    git.commit(ANN, "Make CPR decision optional");
    let clones = tempfile::tempdir().unwrap();
    let shallow = clones.path().join("shallow");
    let url = format!("file://{}", repo.root().display());
    let status = std::process::Command::new("git")
        .args([
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--branch",
            "feature",
            &url,
            shallow.to_str().unwrap(),
        ])
        .status();
    let Ok(status) = status else { return }; // git is not installed: nothing to compare with
    assert!(status.success());
    let run = common::run_in(&shallow, &["review", "main"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("revision `main` not found"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("shallow clone"), "{}", run.stderr);
    let run = common::run_in(&shallow, &["check"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// Shows the CPR decision (a safety-critical field) to every service but `hidden`.
fn hide_cpr_decision_from(repo: &Repo, hidden: &str) {
    let services: Vec<String> = careplans::model::Service::ALL
        .iter()
        .map(|s| s.id())
        .filter(|id| *id != hidden)
        .map(|id| format!("\"{id}\""))
        .collect();
    repo.edit(
        TEMPLATE,
        "        safety_critical: true\n",
        &format!(
            "        safety_critical: true\n        visible_to: [{}]\n",
            services.join(", ")
        ),
    );
}

/// The markdown lines under a service's entry in "What changes for each service".
fn service_entry<'a>(markdown: &'a str, service: &str) -> Vec<&'a str> {
    let section = &markdown[markdown
        .find("**What changes for each service**")
        .unwrap_or_else(|| panic!("no per-service section in\n{markdown}"))..];
    let mut lines = section
        .lines()
        .skip_while(|l| !l.starts_with(&format!("- **{service}**")));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("{service} is not listed in\n{section}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| l.starts_with("  - ")))
        .collect()
}

#[test]
fn a_field_hidden_from_las_shows_under_london_ambulance_service() {
    let (repo, mut git) = repo_on_branch();
    hide_cpr_decision_from(&repo, "las");
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"2.0.0\"");
    git.commit(ANN, "CPR decision not shown to crews");
    let run = repo.run(&["review", "main", "feature"]);
    assert_eq!(
        service_entry(&run.stdout, "London Ambulance Service"),
        [
            "- **London Ambulance Service**",
            "  - no longer sees \"CPR decision\" in Cardiopulmonary resuscitation (now hidden from it; safety-critical) ⚠️",
        ],
        "{}",
        run.stdout
    );
    for other in ["NHS 111", "Emergency department", "Care home"] {
        assert_eq!(
            service_entry(&run.stdout, other),
            [format!("- **{other}**: unchanged")],
            "{}",
            run.stdout
        );
    }
    // JSON says the same, per service.
    let run = repo.run(&["review", "main", "feature", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let las = &json["templates"][0]["services"][1];
    assert_eq!(las["service"], "las");
    assert_eq!(las["no_longer_sees"][0]["field"], "cpr_decision");
    assert_eq!(las["no_longer_sees"][0]["because"], "now_hidden");
    assert_eq!(json["templates"][0]["services"][0]["unchanged"], true);
}

#[test]
fn a_new_field_shows_as_newly_seen_by_the_services_it_is_shown_to() {
    let (repo, mut git) = repo_on_branch();
    add_required_field(&repo);
    repo.edit(
        TEMPLATE,
        "label: CPR decision",
        "label: CPR decision (DNACPR)",
    );
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"2.0.0\"");
    git.commit(ANN, "Add key safe access");
    let run = repo.run(&["review", "main", "feature"]);
    // Preferences is seen by GP practices and out-of-hours GPs only.
    assert_eq!(
        service_entry(&run.stdout, "GP practice"),
        [
            "- **GP practice**",
            "  - newly sees \"Key safe access\" in Preferences (new field)",
            "  - Label \"CPR decision\" -> \"CPR decision (DNACPR)\"",
        ],
        "{}",
        run.stdout
    );
    assert_eq!(
        service_entry(&run.stdout, "NHS 111"),
        [
            "- **NHS 111**",
            "  - Label \"CPR decision\" -> \"CPR decision (DNACPR)\"",
        ],
        "{}",
        run.stdout
    );
}

#[test]
fn a_safety_critical_field_hidden_from_ed_is_an_annotation_that_says_so() {
    let (repo, mut git) = repo_on_branch();
    hide_cpr_decision_from(&repo, "ed");
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"2.0.0\"");
    git.commit(ANN, "CPR decision not shown in ED");
    let run = repo.run(&["review", "main", "feature", "--format", "github"]);
    let warning = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no warning in\n{}", run.stdout));
    assert_eq!(
        warning,
        "::warning file=records/templates/urgent-care-plan.yaml,title=safety-critical field hidden from an urgent service::Safety-critical field \"CPR decision\" (Cardiopulmonary resuscitation) is hidden from Emergency department, an urgent service, by this change: it will no longer see it in an emergency"
    );
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("::warning "))
            .count(),
        1,
        "{}",
        run.stdout
    );
    // Hidden from a service that is not urgent: no such annotation.
    let (repo, mut git) = repo_on_branch();
    hide_cpr_decision_from(&repo, "care-home");
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"2.0.0\"");
    git.commit(ANN, "CPR decision not shown in care homes");
    let run = repo.run(&["review", "main", "feature", "--format", "github"]);
    assert!(!run.stdout.contains("::warning "), "{}", run.stdout);
}
